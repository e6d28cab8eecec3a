"""AWS's own billing services beside the cost ledger: AWS Budgets mirrors, Cost Explorer spend.

Neither is an enforcement point. AWS Budgets is not transactional and computes spend from the
bill, hours after the fact; Cost Explorer reports the same lagging figures. The DynamoDB ledger
(:mod:`aesp_aws.cost`) is what admits or refuses a call. The mirror exists so that finance sees
aesp's budgets in the AWS console, with AWS's own alerts on the *cloud* spend tagged to the
tenant, and :meth:`CostExplorerSpend.cloud_spend` lets an operator compare what aesp metered
with what AWS billed.

Keys read from ``[adapters.aws]``:

* ``cost_tag_key`` (default ``aesp:tenant``): the cost allocation tag naming the tenant.
* ``cost_centre_tag_key`` (default ``aesp:cost-centre``): the tag naming the cost centre.
* ``budget_alert_topic_arn`` (default empty): SNS topic that AWS Budgets notifies at each alert
  threshold. AWS requires a subscriber per notification, so without it budgets are mirrored
  without notifications.
* ``account_id`` (default: from ``sts:GetCallerIdentity``): the account owning the budgets.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from aesp.core.cost import MICROS_PER_UNIT, Budget, BudgetPeriod, BudgetScope
from aesp.core.errors import ExecutionError
from aesp_aws._aws import Aws, error_code, unreachable

DEFAULT_TENANT_TAG = "aesp:tenant"
DEFAULT_COST_CENTRE_TAG = "aesp:cost-centre"
_TIME_UNITS = {
    BudgetPeriod.MONTHLY: "MONTHLY",
    BudgetPeriod.QUARTERLY: "QUARTERLY",
    BudgetPeriod.YEARLY: "ANNUALLY",
}
_NAME_OK = re.compile(r"^[^:\\]{1,100}\Z")


def _unavailable(what: str, exc: BaseException) -> ExecutionError:
    return ExecutionError(
        "SERVICE_UNAVAILABLE",
        f"{what} could not be reached ({type(exc).__name__}); nothing was changed. Retry "
        "shortly, and check the Host's network path and IAM permissions if it persists.",
        retry_after_ms=1000,
    )


def _tag(key: str, value: str) -> dict[str, Any]:
    """A cost-filter expression matching resources whose tag ``key`` is ``value`` (or, for the
    platform's empty tenant, resources without that tag)."""
    if not value:
        return {"Tags": {"Key": key, "MatchOptions": ["ABSENT"]}}
    return {"Tags": {"Key": key, "Values": [value], "MatchOptions": ["EQUALS"]}}


def micros_to_amount(micros: int) -> str:
    """``micros`` as the decimal string AWS Budgets takes (``1_500_000`` -> ``"1.5"``)."""
    text = format(Decimal(micros).scaleb(-6), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def amount_to_micros(amount: str) -> int:
    """An AWS decimal amount string as micros, rounded half-to-even at the sixth decimal."""
    return int((Decimal(amount) * MICROS_PER_UNIT).to_integral_value(ROUND_HALF_EVEN))


def budget_name(prefix: str, budget_id: str) -> str:
    """The AWS budget mirroring ``budget_id``: ``<prefix>-<budget_id>``.

    AWS names allow at most 100 characters and neither ``:`` nor ``\\``; an id that does not fit
    is named by a digest instead (``<prefix>-h-<sha256 prefix>``), which stays unique and stable.
    """
    name = f"{prefix}-{budget_id}"
    if _NAME_OK.match(name) and "/action/" not in name:
        return name
    return f"{prefix}-h-{hashlib.sha256(budget_id.encode()).hexdigest()[:32]}"


def budget_spec(
    budget: Budget, name: str, *, tenant_tag: str, cost_centre_tag: str
) -> dict[str, Any]:
    """The AWS ``Budget`` structure mirroring ``budget`` (a pure function, for testing).

    The filter uses ``FilterExpression`` rather than the older ``CostFilters``: a cost-centre
    budget must match the tenant tag *and* the cost-centre tag, and ``CostFilters`` ORs the
    values of one dimension (both tags are the ``TagKeyValue`` dimension). Principal and tool
    budgets have no AWS tag to match beyond the tenant's, so they mirror the tenant's spend; a
    platform budget (tenant ``""``) mirrors the whole account.
    """
    spec: dict[str, Any] = {
        "BudgetName": name,
        "BudgetLimit": {"Amount": micros_to_amount(budget.amount_micros), "Unit": budget.currency},
        "TimeUnit": _TIME_UNITS[budget.period],
        "BudgetType": "COST",
    }
    filters = [_tag(tenant_tag, budget.tenant_id)] if budget.tenant_id else []
    if budget.scope is BudgetScope.COST_CENTER:
        filters.append(_tag(cost_centre_tag, budget.scope_value))
    if len(filters) == 1:
        spec["FilterExpression"] = filters[0]
    elif filters:
        spec["FilterExpression"] = {"And": filters}
    period: dict[str, datetime] = {}
    if budget.start_date_ms:
        period["Start"] = datetime.fromtimestamp(budget.start_date_ms // 1000, tz=UTC)
    if budget.end_date_ms:
        period["End"] = datetime.fromtimestamp(budget.end_date_ms // 1000, tz=UTC)
    if period:
        spec["TimePeriod"] = period
    return spec


def notification_specs(budget: Budget) -> list[dict[str, Any]]:
    """One ``ACTUAL > threshold %`` notification per alert threshold (``"12.5%"`` -> 12.5)."""
    return [
        {
            "NotificationType": "ACTUAL",
            "ComparisonOperator": "GREATER_THAN",
            "Threshold": float(t.rstrip("%")),
            "ThresholdType": "PERCENTAGE",
        }
        for t in dict.fromkeys(budget.alert_thresholds)
    ]


def _mirrors(current: Mapping[str, Any], spec: Mapping[str, Any]) -> bool:
    """Whether the stored AWS budget ``current`` still mirrors ``spec``. AWS adds fields, and
    fills in a period the spec leaves open, so only what the spec states is compared."""
    have, want = current.get("BudgetLimit", {}), spec["BudgetLimit"]
    if (Decimal(str(have.get("Amount", "-1"))), have.get("Unit")) != (
        Decimal(want["Amount"]),
        want["Unit"],
    ):
        return False
    if (current.get("TimeUnit"), current.get("FilterExpression")) != (
        spec["TimeUnit"],
        spec.get("FilterExpression"),
    ):
        return False
    stored = current.get("TimePeriod", {})
    return all(
        k in stored and int(stored[k].timestamp()) == int(v.timestamp())
        for k, v in spec.get("TimePeriod", {}).items()
    )


def _notification_key(n: Mapping[str, Any]) -> tuple[Any, ...]:
    return (n["NotificationType"], n["ComparisonOperator"], float(n["Threshold"]))


class BudgetMirror:
    """Keeps one AWS budget per ledger budget, named ``<table_prefix>-<budget_id>``.

    A changed limit, period or filter is written by deleting and re-creating the AWS budget
    (moto, the emulator these adapters are tested against, has no ``UpdateBudget``, and an
    untested call is not shipped); notifications are reconciled one by one. The only history
    lost that way is AWS Budgets' own performance history of that budget, which AWS recomputes
    from the bill anyway.
    """

    def __init__(self, aws: Aws) -> None:
        self._aws = aws
        settings = aws.settings
        self._prefix = settings.table_prefix
        self._tenant_tag = str(settings.get("cost_tag_key", DEFAULT_TENANT_TAG))
        self._centre_tag = str(settings.get("cost_centre_tag_key", DEFAULT_COST_CENTRE_TAG))
        self._topic = str(settings.get("budget_alert_topic_arn", ""))
        self._account = str(settings.get("account_id", ""))

    def name(self, budget_id: str) -> str:
        """The AWS budget name of ``budget_id``."""
        return budget_name(self._prefix, budget_id)

    async def put(self, budget: Budget) -> None:
        """Create the AWS budget of ``budget``, or bring it in line.

        Raises:
            ExecutionError: ``SERVICE_UNAVAILABLE``: AWS Budgets did not answer or refused.
        """
        account = await self.account_id()
        name = self.name(budget.budget_id)
        spec = budget_spec(
            budget, name, tenant_tag=self._tenant_tag, cost_centre_tag=self._centre_tag
        )
        wanted = notification_specs(budget) if self._topic else []
        current = await self._describe(account, name)
        if current is not None and not _mirrors(current, spec):
            await self._budgets("delete_budget", AccountId=account, BudgetName=name)
            current = None
        if current is None:
            await self._budgets(
                "create_budget",
                AccountId=account,
                Budget=spec,
                NotificationsWithSubscribers=[
                    {"Notification": n, "Subscribers": self._subscribers()} for n in wanted
                ],
            )
            return
        reply = await self._budgets(
            "describe_notifications_for_budget", AccountId=account, BudgetName=name
        )
        have = {_notification_key(n): n for n in reply.get("Notifications", [])}
        want = {_notification_key(n): n for n in wanted}
        for key in have.keys() - want.keys():
            await self._budgets(
                "delete_notification", AccountId=account, BudgetName=name, Notification=have[key]
            )
        for key in want.keys() - have.keys():
            await self._budgets(
                "create_notification",
                AccountId=account,
                BudgetName=name,
                Notification=want[key],
                Subscribers=self._subscribers(),
            )

    async def delete(self, budget_id: str) -> None:
        """Delete the AWS budget of ``budget_id`` (an absent one is fine).

        Raises:
            ExecutionError: ``SERVICE_UNAVAILABLE``: AWS Budgets did not answer or refused.
        """
        account = await self.account_id()
        try:
            await self._budgets(
                "delete_budget",
                AccountId=account,
                BudgetName=self.name(budget_id),
                missing_ok=True,
            )
        except _Missing:
            return

    async def account_id(self) -> str:
        """The account owning the budgets: ``account_id`` if configured, else the caller's."""
        if not self._account:
            try:
                reply = await self._aws.call("sts", "get_caller_identity")
            except Exception as exc:
                raise _unavailable("AWS STS (to learn the account id)", exc) from exc
            self._account = str(reply["Account"])
        return self._account

    def _subscribers(self) -> list[dict[str, str]]:
        return [{"SubscriptionType": "SNS", "Address": self._topic}]

    async def _describe(self, account: str, name: str) -> dict[str, Any] | None:
        try:
            reply = await self._budgets(
                "describe_budget", AccountId=account, BudgetName=name, missing_ok=True
            )
        except _Missing:
            return None
        return dict(reply["Budget"])

    async def _budgets(self, operation: str, *, missing_ok: bool = False, **kwargs: Any) -> Any:
        try:
            return await self._aws.call("budgets", operation, **kwargs)
        except Exception as exc:
            if missing_ok and error_code(exc) == "NotFoundException":
                raise _Missing from exc
            raise _unavailable("AWS Budgets", exc) from exc


class _Missing(Exception):
    """The AWS budget does not exist (internal to :class:`BudgetMirror`)."""


@dataclass(frozen=True, slots=True)
class CloudSpend:
    """What AWS billed a tenant's tagged resources over a date range.

    Attributes:
        amount_micros: Unblended cost in micros of ``currency``.
        currency: The unit Cost Explorer reports (the account's billing currency).
        estimated: True when any part of the range is not final on the bill yet.
    """

    amount_micros: int
    currency: str
    estimated: bool


def cost_and_usage_request(
    tag_key: str, tenant_id: str, start: date, end: date, token: str = ""
) -> dict[str, Any]:
    """The ``GetCostAndUsage`` arguments for one tenant's spend on ``[start, end)`` (pure).

    Raises:
        ValueError: ``end`` is not after ``start`` (Cost Explorer's range is half-open).
    """
    if end <= start:
        raise ValueError(f"the range {start}..{end} is empty: end must be after start")
    request: dict[str, Any] = {
        "TimePeriod": {"Start": start.isoformat(), "End": end.isoformat()},
        "Granularity": "MONTHLY",
        "Metrics": ["UnblendedCost"],
        "Filter": _tag(tag_key, tenant_id),
    }
    if token:
        request["NextPageToken"] = token
    return request


def parse_cost_and_usage(replies: Sequence[Mapping[str, Any]]) -> CloudSpend:
    """Sum the ``UnblendedCost`` totals of ``GetCostAndUsage`` replies (pure).

    With no rows there is no unit to read; Cost Explorer reports USD unless the account chose
    another billing currency, so the figure is 0 USD.

    Raises:
        ValueError: The rows are in more than one currency.
    """
    total = Decimal(0)
    units: set[str] = set()
    estimated = False
    for reply in replies:
        for row in reply.get("ResultsByTime", []):
            cost = row.get("Total", {}).get("UnblendedCost")
            if cost is not None:
                total += Decimal(cost["Amount"])
                units.add(cost["Unit"])
            estimated = estimated or bool(row.get("Estimated", False))
    if len(units) > 1:
        raise ValueError(f"Cost Explorer reported several currencies: {sorted(units)}")
    micros = int((total * MICROS_PER_UNIT).to_integral_value(ROUND_HALF_EVEN))
    return CloudSpend(micros, units.pop() if units else "USD", estimated)


class CostExplorerSpend:
    """A tenant's billed AWS spend, from Cost Explorer by cost allocation tag.

    The tag (``[adapters.aws] cost_tag_key``, default ``aesp:tenant``) must be activated as a
    cost allocation tag in the billing console; AWS only reports tags from activation on.
    """

    def __init__(self, aws: Aws) -> None:
        self._aws = aws
        self.tag_key = str(aws.settings.get("cost_tag_key", DEFAULT_TENANT_TAG))

    async def cloud_spend(self, tenant_id: str, start: date, end: date) -> CloudSpend:
        """What AWS billed resources tagged with ``tenant_id`` on ``[start, end)`` (UTC days).

        Raises:
            ValueError: An empty range, or rows in several currencies.
            ExecutionError: ``SERVICE_UNAVAILABLE``: Cost Explorer did not answer or refused.
        """
        replies: list[Mapping[str, Any]] = []
        token = ""
        while True:
            request = cost_and_usage_request(self.tag_key, tenant_id, start, end, token)
            try:
                reply = await self._aws.call("ce", "get_cost_and_usage", **request)
            except Exception as exc:
                if not unreachable(exc) and not error_code(exc):
                    raise
                raise _unavailable("AWS Cost Explorer", exc) from exc
            replies.append(reply)
            token = str(reply.get("NextPageToken", ""))
            if not token:
                return parse_cost_and_usage(replies)
