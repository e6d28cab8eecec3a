"""``EnterpriseCostManagementService`` as core operations (SPEC §3.7(5), §3.13, C-37, C-41).

Each operation runs in the frame of :class:`~aesp.core.admin._guard.AdminGuard`: permission
``aesp:cost:<Rpc>``, tenant resolution (``""`` = the caller's own tenant; another tenant needs
``aesp:platform:cross-tenant``, item 184), audit of success and refusal. A budget of another
tenant is ``NOT_FOUND``, exactly like one that does not exist. Decisions made here
(docs/protocol-decisions.md):

* **Budgets are governance artifacts** (``BUDGET_V1``, SPEC §3.13, decision 107): built with
  ``approvals`` (``[governance] budget_changes = "approval"``, the default) ``CreateBudget``
  and ``SetBudgetAlerts`` validate, then submit an approval request and store nothing
  (``BudgetDetails.approval_request_id`` names it); without (``"direct"``, not
  AESP-compliant) they store at once. ``CreateBudget`` with the id of an existing budget of
  the tenant replaces it (audited ``BUDGET_UPDATE``); a new limit applies to the next
  admission.
* **Money** is exact: amounts are converted to integer micros once, at the edge of the core;
  every budget shares the Host's ``[cost] currency`` (the ledger converts nothing).
* **RecordUsage** records usage for reports, costs, forecasts and invoices; it charges no
  budget (budgets govern what the Host admits; a reported event was not admitted here, so it
  holds no reservation to settle). ``immediate_billing`` changes nothing: there is no billing
  run, and every record is in the next report at once.
* **Alerts** are ``BUDGET_THRESHOLD_ALERT`` audit events. ``SetBudgetAlerts`` replaces the
  thresholds; notification channels are refused (``FEATURE_UNAVAILABLE``): the Host delivers
  nothing itself, so alerts reach people through the audit export.
* **GetCostForecast** is a linear projection (:mod:`aesp.core.admin._cost_reports`).
* **GenerateInvoice** is a summary of the window's usage per resource type, unit price, cost
  centre and project; it is not an integration with a billing or ERP system, and issuing it
  stores nothing (audited as a query).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from aesp.core._budgets import applies
from aesp.core._metering import money
from aesp.core.admin._cost_budgets import CostBudgets
from aesp.core.admin._cost_reports import (
    OBSERVATION_MS,
    Aggregation,
    BucketFold,
    Forecast,
    Observation,
    SumFold,
    Window,
    period_bounds,
    scan,
)
from aesp.core.admin._cost_support import (
    USAGE_ID_PREFIX,
    BudgetView,
    UsageDraft,
    aggregation,
    group_fields,
    usage_from,
    window,
)
from aesp.core.admin._cost_views import Invoice, InvoiceFold, TenantCosts, UsageReport
from aesp.core.admin._guard import Done
from aesp.core.admin._tenant_support import one_tenant
from aesp.core.cost import Budget, BudgetScope, UsageRecord
from aesp.core.security import SecurityContext

__all__ = ["CostAdmin"]


class CostAdmin(CostBudgets):
    """The Cost Manager's admin operations over the Cost port.

    Build it once per Host: ``CostAdmin(host.control, ledger=host.cost, metering=host.metering)``.
    """

    async def record_usage(
        self,
        ctx: SecurityContext,
        draft: UsageDraft,
        *,
        immediate_billing: bool = False,
        correlation_id: str = "",
    ) -> UsageRecord:
        """``RecordUsage`` in ``draft.tenant_id`` (``""``: the caller's), audited
        ``USAGE_RECORD``. Reported, never charged to a budget (module docstring)."""

        async def act(target: str) -> Done[UsageRecord]:
            record = usage_from(
                draft,
                tenant_id=one_tenant(target),
                principal_id=ctx.principal_id,
                now_ms=self._clock_ms(),
            )
            added = await self._ledger.record_usage([record])
            meta = {
                "resource_type": record.resource_type,
                "total_cost": money(record.total_cost_micros, self.currency),
                "new": str(added > 0).lower(),
                "immediate_billing": str(immediate_billing).lower(),
            }
            return Done(record, resource=f"usage:{record.event_id}", metadata=meta)

        return await self._run(ctx, "RecordUsage", draft.tenant_id, correlation_id, act)

    async def usage_report(
        self,
        ctx: SecurityContext,
        *,
        tenant_id: str = "",
        start_ms: int = 0,
        end_ms: int = 0,
        resource_types: Sequence[str] = (),
        aggregation_name: str = "",
        group_by: Sequence[str] = (),
        correlation_id: str = "",
    ) -> UsageReport:
        """``GetUsageReport``: the tenant's usage in ``[start, end)`` (``end = 0``: now) by
        ``DAILY``, ``WEEKLY`` or ``MONTHLY`` UTC period, resource type and ``group_by`` (item 197).
        """

        async def act(target: str) -> Done[UsageReport]:
            tenant = one_tenant(target)
            span = window(start_ms, end_ms, self._clock_ms())
            period = aggregation(aggregation_name)
            fold = BucketFold(period, group_fields(group_by))
            async for record in scan(self._ledger, tenant, span, tuple(resource_types)):
                fold.add(record)
            report = UsageReport(
                tenant, span, period.value, fold.buckets(), fold.total_micros, self.currency
            )
            return Done(report, metadata={"buckets": str(len(report.buckets))})

        return await self._run(ctx, "GetUsageReport", tenant_id, correlation_id, act)

    async def tenant_costs(
        self,
        ctx: SecurityContext,
        *,
        tenant_id: str = "",
        start_ms: int = 0,
        end_ms: int = 0,
        include_forecast: bool = False,
        correlation_id: str = "",
    ) -> TenantCosts:
        """``GetTenantCosts``: the window's cost by resource type, principal, cost centre and
        project, the tenant's budgets now, and optionally the forecast of the rest of the
        current calendar month."""

        async def act(target: str) -> Done[TenantCosts]:
            tenant = one_tenant(target)
            now = self._clock_ms()
            span = window(start_ms, end_ms, now)
            fold = SumFold(
                lambda r: r.resource_type,
                lambda r: r.principal_id,
                lambda r: r.cost_center,
                lambda r: r.project_id,
            )
            async for record in scan(self._ledger, tenant, span):
                fold.add(record)
            views = await self._views(tenant, now)
            forecast = None
            if include_forecast:
                month_end = period_bounds(now, Aggregation.MONTHLY)[1]
                forecast = await self._forecast(tenant, "", Window(now, month_end), now, views)
            costs = TenantCosts(
                tenant, span, fold.total_micros, self.currency, *fold.sums, views, forecast
            )
            return Done(costs, metadata={"total": money(costs.total_micros, self.currency)})

        return await self._run(ctx, "GetTenantCosts", tenant_id, correlation_id, act)

    async def cost_forecast(
        self,
        ctx: SecurityContext,
        *,
        tenant_id: str = "",
        cost_center: str = "",
        start_ms: int = 0,
        end_ms: int = 0,
        aggregation_name: str = "",
        correlation_id: str = "",
    ) -> Forecast:
        """``GetCostForecast``: a linear projection of the recent spend rate over
        ``[start, end)`` (``start = 0``: now; ``end = 0``: the end of the current month), for
        the tenant or one cost centre; budgets of that scope projected to be exceeded by the
        end of their period are named."""

        async def act(target: str) -> Done[Forecast]:
            tenant = one_tenant(target)
            now = self._clock_ms()
            start = start_ms or now
            span = window(
                start, end_ms or max(period_bounds(start, Aggregation.MONTHLY)[1], start + 1), now
            )
            period = aggregation(aggregation_name)
            views = await self._views(tenant, now)
            if cost_center:
                views = tuple(
                    v
                    for v in views
                    if v.budget.scope is BudgetScope.COST_CENTER
                    and v.budget.scope_value == cost_center
                )
            result = await self._forecast(tenant, cost_center, span, now, views, period)
            return Done(result, metadata={"forecast": money(result.cost_micros, self.currency)})

        return await self._run(ctx, "GetCostForecast", tenant_id, correlation_id, act)

    async def invoice(
        self,
        ctx: SecurityContext,
        *,
        tenant_id: str = "",
        start_ms: int = 0,
        end_ms: int = 0,
        cost_center: str = "",
        correlation_id: str = "",
    ) -> Invoice:
        """``GenerateInvoice``: a summary of the window's usage (not a billing document)."""

        async def act(target: str) -> Done[Invoice]:
            tenant = one_tenant(target)
            now = self._clock_ms()
            span = window(start_ms, end_ms, now)
            fold = InvoiceFold(cost_center)
            async for record in scan(self._ledger, tenant, span):
                fold.add(record)
            lines = fold.lines()
            key = f"{tenant}\0{span.start_ms}\0{span.end_ms}\0{cost_center}".encode()
            invoice_id = "INV-" + hashlib.sha256(key).hexdigest()[:16].upper()
            total = sum(line.amount_micros for line in lines)
            result = Invoice(
                invoice_id, tenant, span, now, self.currency, lines, total, cost_center
            )
            meta = {"invoice_id": invoice_id, "total": money(total, self.currency)}
            return Done(result, resource=f"invoice:{invoice_id}", metadata=meta)

        return await self._run(ctx, "GenerateInvoice", tenant_id, correlation_id, act)

    # ------------------------------------------------------------------ internals

    async def _forecast(
        self,
        tenant: str,
        cost_center: str,
        span: Window,
        now: int,
        views: Sequence[BudgetView],
        period: Aggregation = Aggregation.DAILY,
    ) -> Forecast:
        in_force = [
            (v.budget, v.status.spent_micros + v.status.reserved_micros, v.status.period_end_ms)
            for v in views
            if v.status is not None and v.status.in_force
        ]
        seen = Observation(now, in_force, _counts_towards)
        async for record in scan(self._ledger, tenant, Window(now - OBSERVATION_MS, now)):
            if not cost_center or record.cost_center == cost_center:
                seen.add(record)
        return seen.project(tenant, span, period)


def _counts_towards(budget: Budget, record: UsageRecord) -> bool:
    """Whether a usage record is the kind the budget is charged for: a metered call that falls
    under it (as :func:`applies` decides at admission). ``RecordUsage`` records (``use-`` ids)
    are charged to no budget, so they do not project onto one either."""
    return not record.event_id.startswith(USAGE_ID_PREFIX) and applies(
        budget, principal_id=record.principal_id, cost_center=record.cost_center, tool=record.tool
    )
