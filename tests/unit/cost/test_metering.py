"""Admission against budgets and settlement of usage (SPEC §3.13, §3.19 step 7, C-37, §4.18)."""

from __future__ import annotations

import asyncio

import pytest

from aesp.core.config import CostConfig
from aesp.core.cost import Budget, BudgetScope
from aesp.core.errors import AuthorizationError, ConfigurationError, ExecutionError
from aesp.core.metering import Usage
from tests.unit.cost.conftest import (
    DEC_1,
    NOV_14,
    Clock,
    CountingLedger,
    FailingLedger,
    Meter,
    build,
)

# lookup, 10 s timeout, 100 argument bytes: 0.01 per call + 10 s x 0.001 + (100 + 65536) bytes
# x 0.0001 per KiB = 10_000 + 10_000 + 6_410 micros.
MAXIMUM = 26_410
# 2 s and 924 result bytes: 10_000 + 2_000 + 100 (1 KiB) micros.
ACTUAL = 12_100


async def test_the_reservation_is_the_largest_possible_cost(meter: Meter) -> None:
    await meter.budget("b-tenant", 10_000_000)
    admission = await meter.admit()
    assert admission.maximum_micros == MAXIMUM
    status = await meter.ledger.status("b-tenant", now_ms=NOV_14)
    assert status is not None and status.reserved_micros == MAXIMUM
    assert (await meter.admit(tool="transfer")).maximum_micros == MAXIMUM - 10_000 + 1_000_000


async def test_a_call_under_no_budget_writes_nothing_on_its_path_but_is_metered(
    meter: Meter,
) -> None:
    admission = await meter.admit()
    meter.metering.settle(admission, Usage(2_000, 924, "inv-1", "SUCCESS"))
    assert meter.ledger.calls == {}  # neither reserve nor settle: the usage waits for a batch
    await meter.metering.drain()
    assert meter.ledger.calls == {"record_usage": 1}
    records = (await meter.ledger.usage(tenant_id="acme")).items
    assert [r.resource_type for r in records] == ["API_CALL", "CPU", "NETWORK"]


async def test_item_195_196_settlement_records_attributed_usage_and_charges_the_actual_cost(
    meter: Meter,
) -> None:
    await meter.budget("b-tenant", 1_000_000)
    ctx = meter.ctx(cost_center="cc-7")
    admission = await meter.admit(ctx)
    meter.metering.settle(admission, Usage(2_000, 924, "inv-1", "SUCCESS"))
    await meter.metering.drain()
    status = await meter.ledger.status("b-tenant", now_ms=NOV_14)
    assert status is not None and (status.spent_micros, status.reserved_micros) == (ACTUAL, 0)
    records = {r.resource_type: r for r in (await meter.ledger.usage(tenant_id="acme")).items}
    assert {k: (r.quantity, r.unit) for k, r in records.items()} == {
        "API_CALL": (1.0, "calls"),
        "CPU": (2.0, "seconds"),
        "NETWORK": (1024.0, "bytes"),
    }
    for r in records.values():
        assert (r.tenant_id, r.principal_id, r.session_id) == ("acme", "ann@acme", "sess-ann@acme")
        assert (r.cost_center, r.tool, r.metadata["business_unit"]) == (
            "cc-7",
            "lookup",
            "treasury",
        )
        assert r.metadata["invocation_id"] == "inv-1"
        assert r.total_cost_micros == pytest.approx(r.quantity * r.unit_cost * 1e6, abs=0.5)
    assert sum(r.total_cost_micros for r in records.values()) == ACTUAL


async def test_item_185_199_a_hard_budget_refuses_with_quota_exceeded_naming_what_is_left(
    meter: Meter,
) -> None:
    await meter.budget("b-small", MAXIMUM + 5_000, name="Team budget", hard_limit=True)
    await meter.admit()
    with pytest.raises(
        AuthorizationError, match=r"Team budget.*0\.005 USD left.*0\.02641 USD"
    ) as info:
        await meter.admit()
    error = info.value
    assert error.code == "QUOTA_EXCEEDED"
    assert error.retry_after_ms == DEC_1 - NOV_14  # the next period starts on 1 December
    assert error.details["budget_id"] == "b-small"
    assert error.remediation_steps


async def test_a_soft_budget_never_refuses_and_alerts_once_it_is_spent(meter: Meter) -> None:
    await meter.budget("b-soft", ACTUAL, hard_limit=False)
    for number in range(3):
        admission = await meter.admit()
        meter.metering.settle(admission, Usage(2_000, 924, f"inv-{number}"))
    await meter.metering.drain()
    status = await meter.ledger.status("b-soft", now_ms=NOV_14)
    assert status is not None and status.spent_micros == 3 * ACTUAL
    alerts = meter.events("BUDGET_THRESHOLD_ALERT")
    assert [e.metadata["threshold"] for e in alerts] == ["100%"]
    assert not meter.events("BUDGET_EXCEEDED")


async def test_reservations_are_all_or_nothing_across_the_budgets_of_a_call(meter: Meter) -> None:
    await meter.budget("b-tenant", 10_000_000)
    await meter.budget("b-tool", MAXIMUM - 1, scope=BudgetScope.TOOL, scope_value="lookup")
    with pytest.raises(AuthorizationError, match="Budget 'b-tool' has 0.026409 USD left"):
        await meter.admit()
    tenant = await meter.ledger.status("b-tenant", now_ms=NOV_14)
    assert tenant is not None and tenant.reserved_micros == 0
    await meter.admit(tool="transfer")  # another tool is not under the tool budget


async def test_budgets_apply_by_scope_within_the_callers_tenant_only(meter: Meter) -> None:
    await meter.budget("b-cc", 0, scope=BudgetScope.COST_CENTER, scope_value="cc-1")
    await meter.budget("b-bob", 0, scope=BudgetScope.PRINCIPAL, scope_value="bob@acme")
    await meter.budget("b-globex", 0, tenant_id="globex")
    await meter.budget("b-platform", 0, tenant_id="")
    await meter.admit(meter.ctx("ann", cost_center="cc-2"))  # none of them applies
    for ctx, budget in (
        (meter.ctx("ann", cost_center="cc-1"), "b-cc"),
        (meter.ctx("bob"), "b-bob"),
    ):
        with pytest.raises(AuthorizationError) as info:
            await meter.admit(ctx)
        assert info.value.details["budget_id"] == budget
    with pytest.raises(AuthorizationError, match="b-globex"):
        await meter.admit(meter.ctx("gus", tenant="globex"))


async def test_exactly_the_budget_is_admitted_under_concurrency(meter: Meter) -> None:
    await meter.budget("b-hundred", 100 * MAXIMUM)
    outcomes = await asyncio.gather(*(meter.admit() for _ in range(200)), return_exceptions=True)
    refused = [o for o in outcomes if isinstance(o, AuthorizationError)]
    assert len(refused) == 100 and all(o.code == "QUOTA_EXCEEDED" for o in refused)
    status = await meter.ledger.status("b-hundred", now_ms=NOV_14)
    assert status is not None and status.reserved_micros == 100 * MAXIMUM
    await meter.metering.drain()
    assert len(meter.events("BUDGET_EXCEEDED")) == 1  # once per period, not per refusal


async def test_a_release_gives_the_capacity_back_and_the_state_moves_once(meter: Meter) -> None:
    await meter.budget("b-one", MAXIMUM)
    first = await meter.admit()
    meter.metering.release(first)
    meter.metering.settle(first, Usage(1_000, 0))  # too late: it was released
    await meter.metering.drain()
    second = await meter.admit()  # the whole budget is free again
    meter.metering.settle(second, Usage(10_000, 10**9, "inv-stream"))  # a huge stream
    meter.metering.release(second)  # too late: it was settled
    await meter.metering.drain()
    status = await meter.ledger.status("b-one", now_ms=NOV_14)
    assert status is not None and (status.spent_micros, status.reserved_micros) == (MAXIMUM, 0)
    assert (first.state, second.state) == ("RELEASED", "SETTLED")
    assert meter.ledger.calls["release"] == 1  # the second release touched no store


async def test_item_198_each_threshold_alerts_once_per_period_even_after_a_restart(
    meter: Meter,
) -> None:
    await meter.budget("b-alerts", 4 * ACTUAL, hard_limit=False, alert_thresholds=("50%", "80%"))
    for number in range(3):  # 25%, 50%, 75%
        meter.metering.settle(await meter.admit(), Usage(2_000, 924, f"inv-{number}"))
        await meter.metering.drain()
    assert [e.metadata["threshold"] for e in meter.events("BUDGET_THRESHOLD_ALERT")] == ["50%"]
    # A new Host process on the same store knows nothing in memory, and still does not repeat.
    again = build(meter.ledger, meter.clock)
    again.metering.settle(await again.admit(), Usage(2_000, 924, "inv-3"))  # 100%
    await again.metering.drain()
    assert [e.metadata["threshold"] for e in again.events("BUDGET_THRESHOLD_ALERT")] == [
        "80%",
        "100%",
    ]
    alert = again.events("BUDGET_THRESHOLD_ALERT")[0]
    assert (alert.tenant_id, alert.resource, alert.outcome) == (
        "acme",
        "budget:b-alerts",
        "SUCCESS",
    )
    # The next period starts from nothing and alerts again.
    meter.clock.now = DEC_1 + 1_000
    for number in range(2):
        again.metering.settle(await again.admit(), Usage(2_000, 924, f"dec-{number}"))
        await again.metering.drain()
    assert [e.metadata["threshold"] for e in again.events("BUDGET_THRESHOLD_ALERT")][-1] == "50%"
    await again.metering.close()


async def test_an_unreachable_store_refuses_the_call_when_a_budget_applies() -> None:
    meter = build(FailingLedger(), Clock())
    await meter.budget("b-any", 10**9)
    with pytest.raises(ExecutionError, match="budget store could not be reached") as info:
        await meter.admit()
    assert info.value.code == "SERVICE_UNAVAILABLE" and info.value.retry_after_ms > 0


async def test_a_budget_in_another_currency_fails_closed(meter: Meter) -> None:
    await meter.budget("b-eur", 10**9, currency="EUR")
    with pytest.raises(ConfigurationError, match="in EUR, but this Host prices calls in USD"):
        await meter.admit()


async def test_governed_local_dispatch_is_settled_when_logged_and_released_when_unused(
    meter: Meter,
) -> None:
    await meter.budget("b-local", 10**9)
    ann, bob = meter.ctx("ann"), meter.ctx("bob")
    logged = await meter.admit(ann, reservation_id="inv-a", mode="governed_local")
    unused = await meter.admit(bob, reservation_id="inv-b", mode="governed_local")
    expired = await meter.admit(ann, reservation_id="inv-c", mode="governed_local")
    meter.metering.hold_local("inv-a", logged, NOV_14 + 60_000)
    meter.metering.hold_local("inv-b", unused, NOV_14 + 60_000)
    meter.metering.hold_local("inv-c", expired, NOV_14 + 1_000)
    meter.metering.settle_local("inv-a", Usage(2_000, 924, "inv-a", "SUCCESS"))
    meter.metering.release_session(meter.session(bob).session_id)
    meter.clock.now = NOV_14 + 1_000
    meter.metering.sweep()
    await meter.metering.drain()
    assert (logged.state, unused.state, expired.state) == ("SETTLED", "RELEASED", "RELEASED")
    status = await meter.ledger.status("b-local", now_ms=meter.clock.now)
    assert status is not None and (status.spent_micros, status.reserved_micros) == (ACTUAL, 0)
    records = (await meter.ledger.usage(tenant_id="acme")).items
    assert {r.metadata["mode"] for r in records} == {"governed_local"}


async def test_a_budget_created_elsewhere_applies_after_the_refresh_interval() -> None:
    ledger, clock = CountingLedger(), Clock()
    meter = build(ledger, clock, CostConfig(price_per_call=1.0))
    await meter.admit()  # loads the (empty) list of acme's budgets
    await ledger.put_budget(Budget("b-late", "acme", 0))  # another Host wrote it
    await meter.admit()  # still within the refresh interval: not seen yet
    clock.now += 60_000
    await meter.admit()  # stale: served once more while the list reloads in the background
    for _ in range(3):
        await asyncio.sleep(0)
    with pytest.raises(AuthorizationError, match="b-late"):
        await meter.admit()
    await meter.metering.close()


async def test_spend_settled_by_another_host_is_seen_within_the_check_interval(
    meter: Meter,
) -> None:
    """Each Host reads the period's spend only when its own estimate reaches a threshold, or
    when its figure is older than CHECK_INTERVAL_MS: a crossing made by two Hosts together is
    alerted within that interval (and one Host alone never misses one)."""
    from aesp.core._budgets import CHECK_INTERVAL_MS

    other = build(meter.ledger, meter.clock)  # a second Host on the same store
    await meter.budget("b-shared", 4 * ACTUAL, hard_limit=False, alert_thresholds=("75%",))

    async def call(host: Meter, name: str) -> list[str]:
        host.metering.settle(await host.admit(), Usage(2_000, 924, name))
        await host.metering.drain()
        return [
            e.metadata["threshold"]
            for e in (
                *meter.events("BUDGET_THRESHOLD_ALERT"),
                *other.events("BUDGET_THRESHOLD_ALERT"),
            )
        ]

    assert await call(meter, "a1") == []  # 25%, read by the first Host
    assert await call(other, "b1") == []  # 50%, read by the second
    assert await call(meter, "a2") == []  # 75%, but the first Host only knows of 50%
    meter.clock.now += CHECK_INTERVAL_MS
    assert await call(meter, "a3") == ["75%", "100%"]  # its figure was stale: read, alerted
    await other.metering.close()
