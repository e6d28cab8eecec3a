"""The DynamoDB cost ledger passes the Cost kit against moto in server mode, with a second
ledger object on the same tables standing in for a second Host; budgets are mirrored to AWS
Budgets (refused, with nothing written, when AWS Budgets cannot be reached); Cost Explorer
spend is read by the tenant's cost allocation tag."""

from __future__ import annotations

import dataclasses
import json
import socket
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import pytest
from aesp_aws._aws import Aws
from aesp_aws.billing import (
    CloudSpend,
    budget_name,
    budget_spec,
    cost_and_usage_request,
    micros_to_amount,
    parse_cost_and_usage,
)
from aesp_aws.cost import DynamoCostLedger
from aesp_aws.settings import AwsSettings

from aesp.core.cost import BudgetScope
from aesp.core.errors import ConfigurationError, ExecutionError
from aesp.testing.conformance.cost import AbstractCostLedgerConformance, budget, usage
from tests.aws_doubles.moto_server import MotoServer

T0 = 1_700_000_000_000
TTL = 60_000
TOPIC = "arn:aws:sns:us-east-1:123456789012:aesp-budget-alerts"


def _closed_port_url() -> str:
    """A local URL nothing listens on: connecting to it fails at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def _with(settings: AwsSettings, **options: Any) -> AwsSettings:
    return dataclasses.replace(settings, options={**settings.options, **options})


@pytest.fixture
def cost_settings(aws_settings: AwsSettings) -> AwsSettings:
    return _with(aws_settings, budget_alert_topic_arn=TOPIC)


@pytest.fixture
async def ledger(cost_settings: AwsSettings) -> AsyncIterator[DynamoCostLedger]:
    clients = Aws(cost_settings)
    store = await DynamoCostLedger.open(clients)
    yield store
    await store.close()
    clients.close()


class TestDynamoCostLedger(AbstractCostLedgerConformance):
    @pytest.fixture
    async def port(self, ledger: DynamoCostLedger) -> DynamoCostLedger:
        return ledger

    @pytest.fixture
    async def peer(
        self, cost_settings: AwsSettings, port: DynamoCostLedger
    ) -> AsyncIterator[DynamoCostLedger]:
        clients = Aws(cost_settings)  # its own clients and connections: another Host
        store = await DynamoCostLedger.open(clients)
        yield store
        await store.close()
        clients.close()


# ---------------------------------------------------------------------- AWS Budgets mirror


def _mirrors(aws: Aws, prefix: str) -> dict[str, dict[str, Any]]:
    reply = aws.client("budgets").describe_budgets(AccountId="123456789012")
    return {
        b["BudgetName"]: b for b in reply.get("Budgets", []) if b["BudgetName"].startswith(prefix)
    }


def _thresholds(aws: Aws, name: str) -> list[float]:
    reply = aws.client("budgets").describe_notifications_for_budget(
        AccountId="123456789012", BudgetName=name
    )
    return sorted(float(n["Threshold"]) for n in reply["Notifications"])


async def test_budgets_are_mirrored_created_replaced_and_deleted(
    ledger: DynamoCostLedger, aws: Aws, cost_settings: AwsSettings
) -> None:
    prefix = cost_settings.table_prefix
    centre = budget(
        "eng",
        12_500_000,
        alert_thresholds=("50%", "80%", "12.5%"),
        scope=BudgetScope.COST_CENTER,
        scope_value="cc-42",
    )
    await ledger.put_budget(centre)
    mirrored = _mirrors(aws, prefix)[f"{prefix}-eng"]
    assert mirrored["BudgetLimit"] == {"Amount": "12.5", "Unit": "USD"}
    assert mirrored["TimeUnit"] == "MONTHLY"
    assert mirrored["FilterExpression"] == {
        "And": [
            {"Tags": {"Key": "aesp:tenant", "Values": ["acme"], "MatchOptions": ["EQUALS"]}},
            {"Tags": {"Key": "aesp:cost-centre", "Values": ["cc-42"], "MatchOptions": ["EQUALS"]}},
        ]
    }
    assert _thresholds(aws, f"{prefix}-eng") == [12.5, 50.0, 80.0]

    # Same limit, fewer thresholds: only the notifications change.
    fewer = dataclasses.replace(centre, alert_thresholds=("80%", "100%"))
    await ledger.put_budget(fewer)
    assert _thresholds(aws, f"{prefix}-eng") == [80.0, 100.0]
    # A new limit and scope: the mirror follows.
    await ledger.put_budget(
        dataclasses.replace(fewer, amount_micros=1, scope=BudgetScope.TENANT, scope_value="")
    )
    mirrored = _mirrors(aws, prefix)[f"{prefix}-eng"]
    assert mirrored["BudgetLimit"] == {"Amount": "0.000001", "Unit": "USD"}
    assert mirrored["FilterExpression"] == {
        "Tags": {"Key": "aesp:tenant", "Values": ["acme"], "MatchOptions": ["EQUALS"]}
    }
    assert _thresholds(aws, f"{prefix}-eng") == [80.0, 100.0]

    await ledger.put_budget(budget("platform", 5_000_000, tenant_id=""))
    assert "FilterExpression" not in _mirrors(aws, prefix)[f"{prefix}-platform"]

    assert await ledger.delete_budget("eng", tenant_id="beta") is False
    assert f"{prefix}-eng" in _mirrors(aws, prefix)  # another tenant's delete touches nothing
    assert await ledger.delete_budget("eng", tenant_id="acme") is True
    assert set(_mirrors(aws, prefix)) == {f"{prefix}-platform"}


async def test_a_refused_put_leaves_the_mirror_alone(ledger: DynamoCostLedger, aws: Aws) -> None:
    await ledger.put_budget(budget("b", 10, "acme"))
    with pytest.raises(Exception, match="another tenant"):
        await ledger.put_budget(budget("b", 999, "beta"))
    mirrored = _mirrors(aws, aws.settings.table_prefix)
    assert mirrored[f"{aws.settings.table_prefix}-b"]["BudgetLimit"]["Amount"] == "0.00001"


async def test_without_a_topic_budgets_are_mirrored_without_notifications(
    aws_settings: AwsSettings, aws: Aws
) -> None:
    store = await DynamoCostLedger.open(aws)
    await store.put_budget(budget("b", 10, alert_thresholds=("80%",)))
    name = f"{aws_settings.table_prefix}-b"
    assert name in _mirrors(aws, aws_settings.table_prefix)
    assert _thresholds(aws, name) == []


async def test_budgets_unreachable_refuses_the_put_and_writes_nothing(
    cost_settings: AwsSettings, aws: Aws
) -> None:
    broken = dataclasses.replace(cost_settings, endpoints={"budgets": _closed_port_url()})
    clients = Aws(broken)
    store = await DynamoCostLedger.open(clients)
    try:
        with pytest.raises(ExecutionError) as caught:
            await store.put_budget(budget("b", 10))
        assert caught.value.code == "SERVICE_UNAVAILABLE"
        assert "AWS Budgets" in caught.value.message
        assert await store.get_budget("b", tenant_id=None) is None
        with pytest.raises(Exception, match="no budget 'b'"):
            await store.reserve(["b"], 1, reservation_id="r", now_ms=T0, ttl_ms=TTL)
    finally:
        clients.close()


async def test_mirroring_can_be_switched_off(aws_settings: AwsSettings) -> None:
    clients = Aws(_with(aws_settings, mirror_budgets=False))
    store = await DynamoCostLedger.open(clients)
    try:
        await store.put_budget(budget("b", 10))
        assert await store.get_budget("b", tenant_id="acme") == budget("b", 10)
        assert _mirrors(clients, aws_settings.table_prefix) == {}
    finally:
        clients.close()


def test_a_bad_mirror_switch_is_named(aws_settings: AwsSettings) -> None:
    with pytest.raises(ConfigurationError, match="mirror_budgets"):
        DynamoCostLedger(Aws(_with(aws_settings, mirror_budgets="yes")))


def test_budget_names_aws_refuses_are_named_by_digest() -> None:
    assert budget_name("p", "team-ü") == "p-team-ü"
    hashed = budget_name("p", "a:b")
    assert hashed.startswith("p-h-") and ":" not in hashed and hashed == budget_name("p", "a:b")
    assert budget_name("p", "x" * 120) != budget_name("p", "x" * 121)
    assert len(budget_name("p", "x" * 120)) <= 100
    assert micros_to_amount(0) == "0" and micros_to_amount(12_345_678_901) == "12345.678901"


def test_a_budget_spec_names_periods_and_dates() -> None:
    spec = budget_spec(
        budget("b", 2_000_000, period="YEARLY", start_date_ms=T0, end_date_ms=T0 + 86_400_000),
        "p-b",
        tenant_tag="team",
        cost_centre_tag="cc",
    )
    assert spec["TimeUnit"] == "ANNUALLY" and spec["BudgetLimit"]["Amount"] == "2"
    assert int(spec["TimePeriod"]["Start"].timestamp()) == T0 // 1000
    assert spec["FilterExpression"]["Tags"]["Key"] == "team"


# ---------------------------------------------------------------------- DynamoDB failures


async def test_dynamodb_unreachable_fails_closed(aws_settings: AwsSettings) -> None:
    broken = dataclasses.replace(aws_settings, endpoints={"dynamodb": _closed_port_url()})
    clients = Aws(broken)
    store = DynamoCostLedger(clients)  # open() would fail creating the tables
    try:
        with pytest.raises(ExecutionError) as caught:
            await store.reserve(["b"], 1, reservation_id="r", now_ms=T0, ttl_ms=TTL)
        assert caught.value.code == "SERVICE_UNAVAILABLE"
        assert caught.value.retry_allowed
        with pytest.raises(ExecutionError):
            await store.status("b", now_ms=T0)
        with pytest.raises(ExecutionError):
            await store.record_usage([usage(1)])
    finally:
        clients.close()


async def test_a_settlement_too_large_for_one_transaction_writes_nothing(
    ledger: DynamoCostLedger,
) -> None:
    await ledger.put_budget(budget("b", 100))
    assert (await ledger.reserve(["b"], 5, reservation_id="r", now_ms=T0, ttl_ms=TTL)).accepted
    with pytest.raises(ValueError, match="record the rest with record_usage"):
        await ledger.settle("r", 5, [usage(n) for n in range(60)])
    status = await ledger.status("b", now_ms=T0)
    assert status is not None and (status.spent_micros, status.reserved_micros) == (0, 5)
    assert list((await ledger.usage(tenant_id=None)).items) == []
    assert await ledger.settle("r", 5, [usage(n) for n in range(40)]) is True
    assert len((await ledger.usage(tenant_id=None, limit=1000)).items) == 40


async def test_expired_holds_given_back_on_one_host_are_seen_by_the_other(
    cost_settings: AwsSettings, ledger: DynamoCostLedger
) -> None:
    clients = Aws(cost_settings)
    other = await DynamoCostLedger.open(clients)
    try:
        await ledger.put_budget(budget("b", 10))
        assert (
            await ledger.reserve(["b"], 10, reservation_id="r1", now_ms=T0, ttl_ms=1000)
        ).accepted
        status = await other.status("b", now_ms=T0 + 1000)  # expired, not yet given back
        assert status is not None and status.reserved_micros == 0
        assert (
            await other.reserve(["b"], 7, reservation_id="r2", now_ms=T0 + 1000, ttl_ms=TTL)
        ).accepted
        assert await ledger.release("r1") is True  # still HELD: a late release is allowed ...
        status = await ledger.status("b", now_ms=T0 + 1000)
        assert status is not None and status.reserved_micros == 7  # ... and gives nothing twice
        refused = await ledger.reserve(["b"], 4, reservation_id="r3", now_ms=T0 + 1000, ttl_ms=TTL)
        assert (refused.refused_budget_id, refused.remaining_micros) == ("b", 3)
    finally:
        clients.close()


# ---------------------------------------------------------------------- Cost Explorer


def test_the_request_filters_on_the_tenant_tag() -> None:
    request = cost_and_usage_request("aesp:tenant", "acme", date(2024, 1, 1), date(2024, 2, 1))
    assert request == {
        "TimePeriod": {"Start": "2024-01-01", "End": "2024-02-01"},
        "Granularity": "MONTHLY",
        "Metrics": ["UnblendedCost"],
        "Filter": {"Tags": {"Key": "aesp:tenant", "Values": ["acme"], "MatchOptions": ["EQUALS"]}},
    }
    platform = cost_and_usage_request("k", "", date(2024, 1, 1), date(2024, 1, 2), "tok")
    assert platform["Filter"] == {"Tags": {"Key": "k", "MatchOptions": ["ABSENT"]}}
    assert platform["NextPageToken"] == "tok"
    with pytest.raises(ValueError, match="end must be after start"):
        cost_and_usage_request("k", "acme", date(2024, 1, 2), date(2024, 1, 2))


def _row(start: str, amount: str, unit: str = "USD", estimated: bool = False) -> dict[str, Any]:
    return {
        "TimePeriod": {"Start": start, "End": start},
        "Total": {"UnblendedCost": {"Amount": amount, "Unit": unit}},
        "Groups": [],
        "Estimated": estimated,
    }


def test_parsing_sums_rows_exactly_and_flags_estimates() -> None:
    replies = [
        {"ResultsByTime": [_row("2024-01-01", "0.1"), _row("2024-02-01", "0.2")]},
        {"ResultsByTime": [_row("2024-03-01", "1.0000005", estimated=True)]},
    ]
    assert parse_cost_and_usage(replies) == CloudSpend(1_300_000, "USD", True)
    assert parse_cost_and_usage([{"ResultsByTime": []}]) == CloudSpend(0, "USD", False)
    with pytest.raises(ValueError, match="several currencies"):
        parse_cost_and_usage([{"ResultsByTime": [_row("a", "1"), _row("b", "1", "EUR")]}])


def _ce_requests(tenant_marker: str) -> list[dict[str, Any]]:
    """The GetCostAndUsage requests moto answered (it keys its answers by request body)."""
    from moto.ce.models import ce_backends

    backend = ce_backends["123456789012"]["global"]
    return [json.loads(body) for body in backend.cost_usage_results if tenant_marker in body]


async def test_cloud_spend_reads_cost_explorer_by_tag(
    moto_server: MotoServer, aws_settings: AwsSettings
) -> None:
    stem = aws_settings.get("name_stem")
    clients = Aws(_with(aws_settings, cost_tag_key="team-tag"))
    store = await DynamoCostLedger.open(clients)
    try:
        moto_server.seed_cost_and_usage(
            [
                {
                    "ResultsByTime": [
                        _row("2024-01-01", "123.4567891"),
                        _row("2024-02-01", "0.0000001", estimated=True),
                    ]
                }
            ]
        )
        spend = await store.cloud_spend(f"tenant-{stem}", date(2024, 1, 1), date(2024, 3, 1))
        assert spend == CloudSpend(123_456_789, "USD", True)
        (request,) = _ce_requests(f"tenant-{stem}")
        assert request["Filter"] == {
            "Tags": {"Key": "team-tag", "Values": [f"tenant-{stem}"], "MatchOptions": ["EQUALS"]}
        }
        assert request["TimePeriod"] == {"Start": "2024-01-01", "End": "2024-03-01"}
    finally:
        clients.close()


async def test_cost_explorer_unreachable_is_reported(aws_settings: AwsSettings) -> None:
    clients = Aws(dataclasses.replace(aws_settings, endpoints={"ce": _closed_port_url()}))
    store = await DynamoCostLedger.open(clients)
    try:
        with pytest.raises(ExecutionError) as caught:
            await store.cloud_spend("acme", date(2024, 1, 1), date(2024, 2, 1))
        assert (
            caught.value.code == "SERVICE_UNAVAILABLE" and "Cost Explorer" in caught.value.message
        )
    finally:
        clients.close()
