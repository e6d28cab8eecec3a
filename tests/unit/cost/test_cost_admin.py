"""EnterpriseCostManagementService as core operations (SPEC §3.7(5), §3.13, C-41, §4.18).

Each operation is checked for its effect, its permission ``aesp:cost:<Rpc>``, its tenant scope
(item 184: another tenant's budget or usage is never visible) and its audit event, on the
in-memory fakes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from aesp.core.admin._cost_support import BudgetDraft, UsageDraft
from aesp.core.admin.cost import CostAdmin
from aesp.core.audit import AuditEvent, MemoryAuditLog
from aesp.core.config import CostConfig
from aesp.core.control import PLATFORM_PERMISSION, AccessConfig, ControlPlane
from aesp.core.errors import AespError
from aesp.core.manifest import Manifest, ManifestStore
from aesp.core.metering import Metering
from aesp.core.principal import Principal
from aesp.core.rbac import RoleDefinition
from aesp.core.security import SecurityContext
from aesp.testing.inmemory import (
    InMemoryCostLedger,
    InMemoryIdentityStore,
    InMemoryPolicyStore,
    InMemoryRoleStore,
    InMemoryTenantRegistry,
)
from tests.unit.cost.conftest import DEC_1, Clock

DAY = 86_400_000
NOV_1 = 1_698_796_800_000
ROLES = (
    RoleDefinition("cost-admin", ("aesp:cost:*",)),
    RoleDefinition("cost-reader", ("aesp:cost:GetUsageReport",)),
    RoleDefinition("platform", ("aesp:cost:*", PLATFORM_PERMISSION)),
)
GROUPS = {"finops": ("cost-admin",), "readers": ("cost-reader",), "ops": ("platform",)}


@dataclass
class World:
    """The cost operations over in-memory ports."""

    admin: CostAdmin
    plane: ControlPlane
    ledger: InMemoryCostLedger
    audit: MemoryAuditLog
    clock: Clock

    async def ctx(self, name: str, tenant: str = "acme", group: str = "finops") -> SecurityContext:
        principal = Principal(
            principal_id=f"{name}@{tenant}",
            tenant_id=tenant,
            kind="client",
            name=name,
            source="oidc",
            groups=(group,),
        )
        return await self.plane.context(principal, "cid-test")

    def events(self, event_type: str) -> list[AuditEvent]:
        return [e for e in self.audit.events() if e.event_type == event_type]


@pytest.fixture
async def world() -> AsyncIterator[World]:
    audit, ledger, clock = MemoryAuditLog(), InMemoryCostLedger(), Clock()
    plane = ControlPlane(
        identity=InMemoryIdentityStore(),
        roles=InMemoryRoleStore(),
        policies=InMemoryPolicyStore(),
        tenants=InMemoryTenantRegistry(),
        audit=audit,
        manifest=ManifestStore(Manifest("1.0.0", {}, {})),
        access=AccessConfig(roles=ROLES, group_roles=GROUPS, refresh_interval_ms=60_000),
    )
    await plane.start()
    metering = Metering(
        ledger=ledger,
        audit=audit,
        config=CostConfig(),
        max_result_bytes=1024,
        refresh_ms=60_000,
        clock=clock,
    )
    yield World(
        CostAdmin(plane, ledger=ledger, metering=metering, clock_ms=clock),
        plane,
        ledger,
        audit,
        clock,
    )
    await metering.close()
    await plane.stop()


def usage(
    kind: str = "API_CALL", quantity: float = 1, unit_cost: float = 0.25, **kw: Any
) -> UsageDraft:
    return UsageDraft(resource_type=kind, quantity=quantity, unit_cost=unit_cost, **kw)


async def test_create_budget_stores_it_in_the_callers_tenant_and_audits_it(world: World) -> None:
    ann = await world.ctx("ann")
    made = await world.admin.create_budget(
        ann,
        BudgetDraft(name="Team", amount=12.5, alert_thresholds=("80%",), auto_shutdown=True),
        justification="Q4 plan",
    )
    budget = made.budget
    assert budget.budget_id.startswith("bud-") and budget.tenant_id == "acme"
    assert (budget.amount_micros, budget.currency, budget.hard_limit) == (12_500_000, "USD", True)
    assert made.active and made.status is not None and made.status.spent_micros == 0
    [event] = world.events("BUDGET_CREATE")
    assert (event.tenant_id, event.resource) == ("acme", f"budget:{budget.budget_id}")
    assert event.metadata["justification"] == "Q4 plan"
    again = await world.admin.create_budget(ann, BudgetDraft(budget_id=budget.budget_id, amount=20))
    assert again.budget.amount_micros == 20_000_000 and len(world.events("BUDGET_UPDATE")) == 1


@pytest.mark.parametrize(
    ("draft", "field"),
    [
        (BudgetDraft(amount=-1), "budget.amount"),
        (BudgetDraft(amount=1, currency="EUR"), "budget.currency"),
        (BudgetDraft(amount=1, period="DAILY"), "budget.period"),
        (BudgetDraft(amount=1, scope="PROJECT", scope_value="x"), "budget.scope"),
        (BudgetDraft(amount=1, scope="TOOL"), "budget"),
        (BudgetDraft(amount=1, alert_thresholds=("eighty",)), "budget"),
        (BudgetDraft(amount=1, budget_id="no spaces"), "budget.budget_id"),
        (
            BudgetDraft(amount=1, cost_center="cc", scope="TOOL", scope_value="t"),
            "budget.cost_center",
        ),
    ],
)
async def test_a_malformed_budget_is_refused_naming_its_field(
    world: World, draft: BudgetDraft, field: str
) -> None:
    with pytest.raises(AespError, match="budget") as info:
        await world.admin.create_budget(await world.ctx("ann"), draft)
    assert (info.value.code, info.value.details["field"]) == ("MALFORMED_REQUEST", field)


async def test_item_184_another_tenants_budgets_and_usage_are_invisible(world: World) -> None:
    ann, gus = await world.ctx("ann"), await world.ctx("gus", "globex")
    theirs = (
        await world.admin.create_budget(gus, BudgetDraft(budget_id="b-globex", amount=5))
    ).budget
    await world.admin.record_usage(gus, usage())
    # Naming the other tenant is refused without the platform permission.
    for call in (
        world.admin.list_budgets(ann, tenant_id="globex"),
        world.admin.usage_report(ann, tenant_id="globex"),
        world.admin.tenant_costs(ann, tenant_id="globex"),
    ):
        with pytest.raises(AespError, match="may not act on another tenant") as info:
            await call
        assert info.value.code == "TENANT_ACCESS_DENIED"
    # Naming its id in one's own tenant is exactly "not found".
    with pytest.raises(AespError, match="Tenant 'acme' has no budget 'b-globex'") as info:
        await world.admin.set_budget_alerts(ann, theirs.budget_id, ("50%",))
    assert info.value.code == "NOT_FOUND"
    with pytest.raises(AespError, match="cannot be used") as info:
        await world.admin.create_budget(ann, BudgetDraft(budget_id="b-globex", amount=1))
    assert info.value.code == "INVALID_STATE"
    assert (await world.admin.list_budgets(ann)).items == []
    assert (await world.admin.tenant_costs(ann)).total_micros == 0
    # A platform operator sees every tenant's budgets with "*".
    ops = await world.ctx("olga", "ops", "ops")
    listed = await world.admin.list_budgets(ops, tenant_id="*")
    assert [v.budget.budget_id for v in listed.items] == ["b-globex"]


async def test_each_rpc_needs_its_own_permission(world: World) -> None:
    reader = await world.ctx("rita", group="readers")
    await world.admin.usage_report(reader)
    with pytest.raises(AespError, match="aesp:cost:CreateBudget") as info:
        await world.admin.create_budget(reader, BudgetDraft(amount=1))
    assert info.value.code == "PERMISSION_DENIED"
    [denied] = world.events("AUTHORIZATION_DENIED")
    assert (denied.tenant_id, denied.metadata["rpc"]) == ("acme", "CreateBudget")


async def test_set_budget_alerts_replaces_thresholds_and_refuses_channels(world: World) -> None:
    ann = await world.ctx("ann")
    made = await world.admin.create_budget(
        ann, BudgetDraft(budget_id="b1", amount=1, alert_thresholds=("50%",))
    )
    changed = await world.admin.set_budget_alerts(ann, "b1", ("25%", "90%"))
    assert changed.budget.alert_thresholds == ("25%", "90%")
    assert changed.budget.amount_micros == made.budget.amount_micros
    with pytest.raises(AespError, match="route them from the audit export") as info:
        await world.admin.set_budget_alerts(ann, "b1", ("50%",), channels=("email:a@b",))
    assert info.value.code == "FEATURE_UNAVAILABLE"
    with pytest.raises(AespError, match="alert_thresholds are invalid") as info:
        await world.admin.set_budget_alerts(ann, "b1", ("lots",))
    assert info.value.code == "MALFORMED_REQUEST"


async def test_item_196_record_usage_recomputes_the_total_and_owns_its_ids(world: World) -> None:
    ann, gus = await world.ctx("ann"), await world.ctx("gus", "globex")
    record = await world.admin.record_usage(
        ann, usage("CPU", 3, 0.1, event_id="ext-1", cost_center="cc-1"), immediate_billing=True
    )
    assert record.total_cost_micros == 300_000 and record.unit == "seconds"
    assert record.principal_id == "ann@acme" and record.event_id.startswith("use-")
    retry = await world.admin.record_usage(ann, usage("CPU", 3, 0.1, event_id="ext-1"))
    theirs = await world.admin.record_usage(gus, usage("CPU", 3, 0.1, event_id="ext-1"))
    assert retry.event_id == record.event_id != theirs.event_id  # same id: once per tenant
    assert len((await world.ledger.usage(tenant_id="acme")).items) == 1
    [event] = [e for e in world.events("USAGE_RECORD") if e.tenant_id == "acme"][:1]
    assert event.metadata["total_cost"] == "0.3 USD"
    with pytest.raises(AespError, match="usage_event.unit of CPU must be 'seconds'"):
        await world.admin.record_usage(ann, usage("CPU", unit="calls"))
    with pytest.raises(AespError, match="usage_event.resource_type"):
        await world.admin.record_usage(ann, usage("GPU"))
    with pytest.raises(AespError, match="usage_event.quantity"):
        await world.admin.record_usage(ann, usage(quantity=float("nan")))


async def test_item_197_the_usage_report_aggregates_and_filters(world: World) -> None:
    ann = await world.ctx("ann")
    for day, kind, principal in (
        (0, "API_CALL", "ann"),
        (0, "CPU", "bob"),
        (1, "API_CALL", "bob"),
        (20, "API_CALL", "ann"),
    ):
        await world.admin.record_usage(
            ann, usage(kind, timestamp_ms=NOV_1 + day * DAY, principal_id=principal)
        )
    daily = await world.admin.usage_report(ann, start_ms=NOV_1, end_ms=DEC_1)
    assert [(b.period_start_ms, b.resource_type, b.count) for b in daily.buckets] == [
        (NOV_1, "API_CALL", 1),
        (NOV_1, "CPU", 1),
        (NOV_1 + DAY, "API_CALL", 1),
        (NOV_1 + 20 * DAY, "API_CALL", 1),
    ]
    assert daily.total_micros == 1_000_000 and daily.currency == "USD"
    monthly = await world.admin.usage_report(
        ann,
        start_ms=NOV_1,
        end_ms=DEC_1,
        aggregation_name="MONTHLY",
        resource_types=("API_CALL",),
        group_by=("principal_id",),
    )
    assert [(b.group["principal_id"], b.quantity, b.period_end_ms) for b in monthly.buckets] == [
        ("ann", 2.0, DEC_1),
        ("bob", 1.0, DEC_1),
    ]
    weekly = await world.admin.usage_report(
        ann, start_ms=NOV_1 + DAY, end_ms=NOV_1 + 2 * DAY, aggregation_name="WEEKLY"
    )
    assert [(b.period_start_ms, b.count) for b in weekly.buckets] == [
        (NOV_1 - 2 * DAY, 1)
    ]  # Monday 30 Oct
    bad: dict[str, Any]
    for bad in (
        {"aggregation_name": "HOURLY"},
        {"group_by": ("secret",)},
        {"start_ms": DEC_1, "end_ms": NOV_1},
    ):
        with pytest.raises(AespError) as info:
            await world.admin.usage_report(ann, **bad)
        assert info.value.code == "MALFORMED_REQUEST"


async def test_tenant_costs_break_down_and_forecast_linearly(world: World) -> None:
    ann = await world.ctx("ann")
    world.clock.now = NOV_1 + 10 * DAY
    await world.admin.create_budget(ann, BudgetDraft(budget_id="b1", amount=1, auto_shutdown=True))
    for day in range(10):  # one dollar a day for ten days, on cost centre cc-1
        await world.admin.record_usage(
            ann,
            usage(
                unit_cost=1.0,
                timestamp_ms=NOV_1 + day * DAY + 1,
                cost_center="cc-1",
                project_id="p",
            ),
        )
    costs = await world.admin.tenant_costs(ann, start_ms=NOV_1, include_forecast=True)
    assert costs.total_micros == 10_000_000
    assert (costs.by_cost_center, costs.by_project) == ({"cc-1": 10_000_000}, {"p": 10_000_000})
    assert [v.budget.budget_id for v in costs.budgets] == ["b1"]
    forecast = costs.forecast
    assert forecast is not None and forecast.method == "linear"
    assert forecast.window.end_ms == DEC_1  # the rest of the month: 20 days at $1 a day
    assert forecast.cost_micros == pytest.approx(20_000_000, rel=0.01)
    assert forecast.budgets_at_risk == ()  # reported usage charges no budget
    weekly = await world.admin.cost_forecast(ann, cost_center="cc-2", aggregation_name="WEEKLY")
    assert weekly.cost_micros == 0


async def test_generate_invoice_summarises_by_resource_and_price(world: World) -> None:
    ann = await world.ctx("ann")
    for quantity, unit_cost, cc in ((2, 0.5, "cc-1"), (3, 0.5, "cc-1"), (1, 2.0, "cc-2")):
        await world.admin.record_usage(
            ann, usage(quantity=quantity, unit_cost=unit_cost, cost_center=cc)
        )
    invoice = await world.admin.invoice(ann)
    assert [(line.quantity, line.unit_cost, line.amount_micros) for line in invoice.lines] == [
        (5.0, 0.5, 2_500_000),
        (1.0, 2.0, 2_000_000),
    ]
    assert invoice.total_micros == 4_500_000 and invoice.invoice_id.startswith("INV-")
    only = await world.admin.invoice(ann, cost_center="cc-2", end_ms=invoice.window.end_ms)
    assert only.total_micros == 2_000_000 and only.lines[0].description == "API_CALL: 1 calls"
    assert world.events("ADMIN_QUERY")[-1].resource == f"invoice:{only.invoice_id}"


def test_a_budget_is_at_risk_when_its_metered_rate_outruns_the_rest_of_its_period() -> None:
    """The projection behind ``budgets_at_risk`` (decision 67), on metered call records."""
    from aesp.core.admin._cost_reports import Aggregation, Observation, Window
    from aesp.core.admin.cost import _counts_towards
    from aesp.core.cost import Budget, BudgetScope, UsageRecord

    tool = Budget("b-tool", "acme", 15_000_000, scope=BudgetScope.TOOL, scope_value="lookup")
    other = Budget("b-other", "acme", 15_000_000, scope=BudgetScope.TOOL, scope_value="transfer")
    now = NOV_1 + 10 * DAY
    seen = Observation(now, [(tool, 5_000_000, DEC_1), (other, 5_000_000, DEC_1)], _counts_towards)
    for day in range(10):  # a metered call of `lookup` costing 1 USD every day
        seen.add(
            UsageRecord(
                f"res-{day}/API_CALL",
                NOV_1 + day * DAY,
                "acme",
                "API_CALL",
                1,
                "calls",
                1.0,
                1_000_000,
                tool="lookup",
            )
        )
    seen.add(
        UsageRecord(
            "use-x", now - 1, "acme", "API_CALL", 9, "calls", 1.0, 9_000_000, tool="transfer"
        )
    )
    forecast = seen.project("acme", Window(now, DEC_1), Aggregation.WEEKLY)
    # 5 used + 20 more days at the observed rate: lookup's budget will not hold; `transfer` only
    # has reported usage, which no budget is charged for.
    assert forecast.budgets_at_risk == ("b-tool",)
    assert forecast.cost_micros == (10_000_000 + 9_000_000) * 20 // 10
    assert [p[0] for p in forecast.points][0] == now and forecast.points[-1][1] == DEC_1
    # Bounds: the slowest whole day (1 USD) and the fastest (10 USD, the last one) for 20 days.
    assert (forecast.lower_micros, forecast.upper_micros) == (20_000_000, 200_000_000)
