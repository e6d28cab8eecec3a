"""BUDGET_V1: an approved budget, stored through the Cost port (SPEC §3.11, §3.13).

"Budgets are governance artifacts (``BUDGET_V1``)." The artifact is a UTF-8 JSON object with
the fields of ``BudgetDefinition`` as ``CreateBudget`` takes them: ``budget_id`` (the Host
assigns ``bud-<16 hex>`` at request time when empty), ``name``, ``amount`` (currency units),
``currency`` (must be the Host's), ``period``, ``alert_thresholds``, ``auto_shutdown``,
``scope``, ``scope_value``, ``cost_center``, ``start_date`` and ``end_date`` (Unix ms). The
tenant is the request's scope and must be one tenant: a budget belongs to the tenant it limits.

Enactment is :meth:`CostLedger.put_budget` followed by ``metering.budgets_changed`` so the next
admission on this Host sees it (other Hosts at their budget cache's expiry, as for
``CreateBudget``). With ``[governance] budget_changes = "approval"`` (the default) ``CreateBudget``
and ``SetBudgetAlerts`` submit BUDGET_V1 requests that this enactor applies once approved
(docs/protocol-decisions.md, decision 107).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final, Protocol

from aesp.adm import AdmError, canonical_json, parse_json
from aesp.core._metering import money
from aesp.core.admin._cost_support import BudgetDraft, budget_from
from aesp.core.cost import Budget
from aesp.core.errors import StateError, ValidationError
from aesp.core.governance.model import Approval, Enacted, Prepared
from aesp.core.ports.cost import BudgetOwnershipError, CostLedger
from aesp.core.ports.governance import ArtifactType

if TYPE_CHECKING:
    from aesp.core.host import Host

__all__ = [
    "BudgetEnactor",
    "BudgetsChanged",
    "budget_artifact",
    "govern_budgets",
    "parse_budget",
]

_TEXT: Final = ("budget_id", "name", "currency", "period", "scope", "scope_value", "cost_center")
_FIELDS: Final = frozenset(
    {*_TEXT, "amount", "alert_thresholds", "auto_shutdown", "start_date", "end_date"}
)
MICROS: Final = 1_000_000  # micros per currency unit (the ledger's exact unit)


class BudgetsChanged(Protocol):
    """What must hear of a budget written outside ``CreateBudget`` (the Host's metering)."""

    def budgets_changed(self, tenant_id: str) -> None:
        """The tenant's budgets changed: its next admission reads them again."""
        ...


def _bad(why: str) -> ValidationError:
    return ValidationError("MALFORMED_REQUEST", f"{why}.", details={"field": "artifact_data"})


def _draft(obj: Mapping[str, Any]) -> BudgetDraft:
    unknown = sorted(set(obj) - _FIELDS)
    if unknown:
        raise _bad(f"'{unknown[0]}' is not a field of a budget (leave tenant_id out)")
    texts = {name: obj.get(name, "") for name in _TEXT}
    if not all(isinstance(v, str) for v in texts.values()):
        raise _bad(f"{', '.join(_TEXT)} must be strings")
    amount, shutdown = obj.get("amount"), obj.get("auto_shutdown", False)
    if isinstance(amount, bool) or not isinstance(amount, int | float):
        raise _bad("'amount' must be a number")
    if not isinstance(shutdown, bool):
        raise _bad("'auto_shutdown' must be true or false")
    thresholds = obj.get("alert_thresholds", [])
    if not isinstance(thresholds, list) or not all(isinstance(t, str) for t in thresholds):
        raise _bad("'alert_thresholds' must be a list of strings such as \"80%\"")
    dates = [obj.get("start_date", 0), obj.get("end_date", 0)]
    if not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in dates):
        raise _bad("'start_date' and 'end_date' must be Unix milliseconds")
    return BudgetDraft(
        amount=float(amount),
        alert_thresholds=tuple(thresholds),
        auto_shutdown=shutdown,
        start_date_ms=dates[0],
        end_date_ms=dates[1],
        **texts,
    )


def parse_budget(data: bytes, *, tenant_id: str, currency: str) -> Budget:
    """The budget of ``tenant_id`` a BUDGET_V1 artifact describes.

    Raises:
        ValidationError: ``MALFORMED_REQUEST`` naming the first problem, also for the platform
            scope (a budget limits one tenant).
    """
    if not tenant_id:
        raise ValidationError(
            "MALFORMED_REQUEST",
            "A budget limits one tenant: request its approval in that tenant's scope, not the "
            "platform's.",
            details={"field": "tenant_id"},
        )
    try:
        obj = parse_json(data)
    except AdmError as exc:
        raise _bad(f"artifact_data is not a JSON budget: {exc.reason}") from None
    if not isinstance(obj, Mapping):
        raise _bad("artifact_data must be a JSON object describing a budget")
    return budget_from(_draft(obj), tenant_id=tenant_id, currency=currency)


def budget_artifact(budget: Budget) -> bytes:
    """The canonical BUDGET_V1 bytes of ``budget`` (what approvers see and enactment stores)."""
    body: dict[str, Any] = {
        "budget_id": budget.budget_id,
        "name": budget.name,
        "amount": budget.amount_micros / MICROS,
        "currency": budget.currency,
        "period": budget.period.value,
        "alert_thresholds": list(budget.alert_thresholds),
        "auto_shutdown": budget.hard_limit,
        "scope": budget.scope.value,
        "scope_value": budget.scope_value,
        "start_date": budget.start_date_ms,
        "end_date": budget.end_date_ms,
    }
    return canonical_json(body)


class BudgetEnactor:
    """Stores approved budgets through the Cost port.

    Args:
        ledger: The Cost port.
        metering: Told of each change so the next admission sees it.
        currency: The Host's rate-card currency (every budget shares it).
    """

    def __init__(self, *, ledger: CostLedger, metering: BudgetsChanged, currency: str) -> None:
        self._ledger = ledger
        self._metering = metering
        self._currency = currency

    async def prepare(self, tenant_id: str, artifact_id: str, data: bytes) -> Prepared:
        """Validate the budget as ``CreateBudget`` would; assign its id when it has none.

        Raises:
            ValidationError: ``MALFORMED_REQUEST`` (bad field, platform scope, an
                ``artifact_id`` that is not the budget id).
            StateError: ``INVALID_STATE`` for an id another tenant's budget uses.
        """
        budget = parse_budget(data, tenant_id=tenant_id, currency=self._currency)
        if artifact_id and artifact_id != budget.budget_id:
            raise _bad(f"artifact_id must be empty or the budget id '{budget.budget_id}'")
        other = await self._ledger.get_budget(budget.budget_id, tenant_id=None)
        if other is not None and other.tenant_id != tenant_id:
            raise _taken(budget.budget_id)
        facts = {"budget_scope": budget.scope.value, "amount": str(budget.amount_micros // MICROS)}
        return Prepared(budget.budget_id, budget_artifact(budget), facts)

    async def enact(self, approval: Approval) -> Enacted:
        """Store the approved budget; the next admission on this Host is held to it.

        Idempotent: an identical budget already stored changes nothing.

        Raises:
            StateError: ``INVALID_STATE`` when the id now belongs to another tenant's budget.
        """
        request = approval.request
        budget = parse_budget(
            request.artifact_data, tenant_id=request.tenant_id, currency=self._currency
        )
        previous = await self._ledger.get_budget(budget.budget_id, tenant_id=request.tenant_id)
        meta = {
            "amount": money(budget.amount_micros, budget.currency),
            "hard_limit": str(budget.hard_limit).lower(),
            "scope": f"{budget.scope.value}:{budget.scope_value}",
        }
        event = "BUDGET_UPDATE" if previous is not None else "BUDGET_CREATE"
        resource = f"budget:{budget.budget_id}"
        if previous == budget:
            return Enacted(event, resource, meta, changed=False)
        try:
            await self._ledger.put_budget(budget)
        except BudgetOwnershipError:
            raise _taken(budget.budget_id) from None
        self._metering.budgets_changed(budget.tenant_id)

        async def undo() -> None:
            if previous is not None:
                await self._ledger.put_budget(previous)
            else:
                await self._ledger.delete_budget(budget.budget_id, tenant_id=budget.tenant_id)
            self._metering.budgets_changed(budget.tenant_id)

        return Enacted(event, resource, meta, rollback=undo)


def _taken(budget_id: str) -> StateError:
    return StateError(
        "INVALID_STATE",
        f"budget_id '{budget_id}' cannot be used; choose another id, or leave it empty and the "
        "Host assigns one.",
        details={"field": "budget_id"},
    )


def govern_budgets(host: Host) -> None:
    """Register the ``BUDGET_V1`` enactor of ``host`` (once; a Host without governance or
    already governing budgets is left as it is)."""
    governance = host.governance
    if governance is None or governance.enactors.get(ArtifactType.BUDGET_V1) is not None:
        return
    enactor = BudgetEnactor(
        ledger=host.cost, metering=host.metering, currency=host.metering.card.currency
    )
    governance.enactors.register(ArtifactType.BUDGET_V1, enactor)
