"""EnterpriseCostManagementService: the gRPC edge of :class:`aesp.core.admin.cost.CostAdmin`.

Thin (STYLE convention 8): each RPC asks the gateway for the verified caller (through
:func:`aesp.server.servicers.identity.serve`), calls the core operation and converts between the
wire and core values. Permissions (``aesp:cost:<Rpc>``), tenant scope and audit are the core's;
every refusal travels in-band as the ``EnterpriseError`` of the response's ``oneof``. Money is
integer micros in the core and doubles of currency units on the wire (SPEC §3.6); only this
module converts.
"""

from __future__ import annotations

from collections.abc import Mapping

import grpc

from aesp.core.admin._budget_approvals import BudgetApprovals
from aesp.core.admin._cost_reports import Forecast
from aesp.core.admin._cost_support import BudgetDraft, BudgetView, UsageDraft
from aesp.core.admin._cost_views import Invoice, TenantCosts, UsageReport
from aesp.core.admin.cost import CostAdmin
from aesp.core.cost import from_micros
from aesp.core.host import Host
from aesp.core.security import SecurityContext
from aesp.proto.altar.aesp.v1 import cost_pb2 as _cost_pb2
from aesp.proto.altar.aesp.v1 import cost_pb2_grpc as _cost_pb2_grpc
from aesp.server.servicers.identity import serve

__all__ = ["CostServicer", "budget_details"]


def _money(values: Mapping[str, int]) -> dict[str, float]:
    return {key: from_micros(micros) for key, micros in values.items()}


def budget_draft(message: _cost_pb2.BudgetDefinition) -> BudgetDraft:
    """A wire ``BudgetDefinition`` as the core's request."""
    return BudgetDraft(
        budget_id=message.budget_id,
        name=message.name,
        tenant_id=message.tenant_id,
        cost_center=message.cost_center,
        amount=message.amount,
        currency=message.currency,
        period=message.period,
        alert_thresholds=tuple(message.alert_thresholds),
        auto_shutdown=message.auto_shutdown,
        start_date_ms=message.start_date,
        end_date_ms=message.end_date,
        scope=message.scope,
        scope_value=message.scope_value,
    )


def usage_draft(e: _cost_pb2.AccountingEvent) -> UsageDraft:
    """A wire ``AccountingEvent`` as the core's request (``total_cost`` is recomputed)."""
    names = ("event_id", "timestamp_ms", "tenant_id", "principal_id", "session_id")
    names += ("resource_type", "quantity", "unit", "unit_cost", "cost_center", "project_id")
    return UsageDraft(**{n: getattr(e, n) for n in names}, metadata=dict(e.metadata))


def budget_status(item: BudgetView) -> _cost_pb2.BudgetStatus:
    """A budget's position in its current period (zeros while it is not in force)."""
    budget, status = item.budget, item.status
    out = _cost_pb2.BudgetStatus(
        budget_id=budget.budget_id,
        amount=from_micros(budget.amount_micros),
        currency=budget.currency,
        thresholds_crossed=item.thresholds_crossed,
    )
    if status is not None and status.in_force:
        out.spent = from_micros(status.spent_micros)
        out.reserved = from_micros(status.reserved_micros)
        out.period_start = status.period_start_ms
        out.period_end = status.period_end_ms
        out.exceeded = status.spent_micros >= budget.amount_micros
    return out


def budget_details(item: BudgetView) -> _cost_pb2.BudgetDetails:
    """A budget with its state; ``approval_request_id`` is set while the change waits for
    governance approval (``[governance] budget_changes = "approval"``)."""
    budget = item.budget
    definition = _cost_pb2.BudgetDefinition(
        budget_id=budget.budget_id,
        name=budget.name,
        tenant_id=budget.tenant_id,
        cost_center=budget.cost_center,
        amount=from_micros(budget.amount_micros),
        currency=budget.currency,
        period=budget.period.value,
        alert_thresholds=budget.alert_thresholds,
        auto_shutdown=budget.hard_limit,
        start_date=budget.start_date_ms,
        end_date=budget.end_date_ms,
        scope=budget.scope.value,
        scope_value=budget.scope_value,
    )
    out = _cost_pb2.BudgetDetails(
        budget=definition, active=item.active, approval_request_id=item.approval_request_id
    )
    if item.active:
        out.status.CopyFrom(budget_status(item))
    return out


def forecast_message(forecast: Forecast, currency: str) -> _cost_pb2.CostForecast:
    """A forecast; the method is always ``linear`` (see ``_cost_reports``)."""
    return _cost_pb2.CostForecast(
        tenant_id=forecast.tenant_id,
        start_time=forecast.window.start_ms,
        end_time=forecast.window.end_ms,
        forecast_cost=from_micros(forecast.cost_micros),
        lower_bound=from_micros(forecast.lower_micros),
        upper_bound=from_micros(forecast.upper_micros),
        currency=currency,
        method=forecast.method,
        points=[
            _cost_pb2.ForecastPoint(period_start=s, period_end=e, cost=from_micros(c))
            for s, e, c in forecast.points
        ],
        budgets_at_risk=forecast.budgets_at_risk,
    )


def report_message(report: UsageReport) -> _cost_pb2.UsageReport:
    """A usage report."""
    return _cost_pb2.UsageReport(
        tenant_id=report.tenant_id,
        start_time=report.window.start_ms,
        end_time=report.window.end_ms,
        aggregation=report.aggregation,
        buckets=[
            _cost_pb2.UsageBucket(
                period_start=b.period_start_ms,
                period_end=b.period_end_ms,
                resource_type=b.resource_type,
                quantity=b.quantity,
                unit=b.unit,
                total_cost=from_micros(b.cost_micros),
                group=dict(b.group),
                event_count=b.count,
            )
            for b in report.buckets
        ],
        total_cost=from_micros(report.total_micros),
        currency=report.currency,
    )


def costs_message(costs: TenantCosts) -> _cost_pb2.TenantCosts:
    """A tenant's costs, budgets and (when asked for) forecast."""
    out = _cost_pb2.TenantCosts(
        tenant_id=costs.tenant_id,
        start_time=costs.window.start_ms,
        end_time=costs.window.end_ms,
        total_cost=from_micros(costs.total_micros),
        currency=costs.currency,
        cost_by_resource_type=_money(costs.by_resource_type),
        cost_by_principal=_money(costs.by_principal),
        cost_by_cost_center=_money(costs.by_cost_center),
        cost_by_project=_money(costs.by_project),
        budgets=[budget_status(v) for v in costs.budgets],
    )
    if costs.forecast is not None:
        out.forecast.CopyFrom(forecast_message(costs.forecast, costs.currency))
    return out


def invoice_message(invoice: Invoice) -> _cost_pb2.Invoice:
    """An invoice summary."""
    return _cost_pb2.Invoice(
        invoice_id=invoice.invoice_id,
        tenant_id=invoice.tenant_id,
        start_time=invoice.window.start_ms,
        end_time=invoice.window.end_ms,
        issued_at=invoice.issued_at_ms,
        currency=invoice.currency,
        lines=[
            _cost_pb2.InvoiceLine(
                resource_type=line.resource_type,
                description=line.description,
                quantity=line.quantity,
                unit=line.unit,
                unit_cost=line.unit_cost,
                amount=from_micros(line.amount_micros),
                cost_center=line.cost_center,
                project_id=line.project_id,
            )
            for line in invoice.lines
        ],
        total=from_micros(invoice.total_micros),
        cost_center=invoice.cost_center,
    )


class CostServicer(_cost_pb2_grpc.EnterpriseCostManagementServiceServicer):
    """Serves EnterpriseCostManagementService from a :class:`~aesp.core.host.Host`.

    Args:
        host: The Host (its Cost port, metering and control plane).
    """

    def __init__(self, host: Host) -> None:
        # [governance] budget_changes: "approval" (AESP, SPEC §3.13) submits CreateBudget and
        # SetBudgetAlerts as BUDGET_V1 requests; "direct" (not AESP-compliant) stores them.
        approvals = (
            BudgetApprovals(host.governance)
            if host.config.governance.budget_changes == "approval"
            else None
        )
        self._admin = CostAdmin(
            host.control, ledger=host.cost, metering=host.metering, approvals=approvals
        )

    async def RecordUsage(
        self, request: _cost_pb2.RecordUsageRequest, context: grpc.aio.ServicerContext
    ) -> _cost_pb2.RecordUsageResponse:
        """Record one usage event (reported; it charges no budget)."""
        e = request.usage_event

        async def respond(ctx: SecurityContext, cid: str) -> _cost_pb2.RecordUsageResponse:
            record = await self._admin.record_usage(
                ctx, usage_draft(e), immediate_billing=request.immediate_billing, correlation_id=cid
            )
            details = _cost_pb2.RecordUsageDetails(
                event_id=record.event_id, total_cost=from_micros(record.total_cost_micros)
            )
            return _cost_pb2.RecordUsageResponse(success_details=details)

        return await serve("RecordUsage", self._admin, respond, _cost_pb2.RecordUsageResponse)

    async def GetUsageReport(
        self, request: _cost_pb2.GetUsageReportRequest, context: grpc.aio.ServicerContext
    ) -> _cost_pb2.GetUsageReportResponse:
        """Usage by period, resource type and group."""

        async def respond(ctx: SecurityContext, cid: str) -> _cost_pb2.GetUsageReportResponse:
            report = await self._admin.usage_report(
                ctx,
                tenant_id=request.tenant_id,
                start_ms=request.start_time,
                end_ms=request.end_time,
                resource_types=tuple(request.resource_types),
                aggregation_name=request.aggregation,
                group_by=tuple(request.group_by),
                correlation_id=cid,
            )
            return _cost_pb2.GetUsageReportResponse(success_details=report_message(report))

        return await serve("GetUsageReport", self._admin, respond, _cost_pb2.GetUsageReportResponse)

    async def GetTenantCosts(
        self, request: _cost_pb2.GetTenantCostsRequest, context: grpc.aio.ServicerContext
    ) -> _cost_pb2.GetTenantCostsResponse:
        """A tenant's costs over a window, with its budgets."""

        async def respond(ctx: SecurityContext, cid: str) -> _cost_pb2.GetTenantCostsResponse:
            costs = await self._admin.tenant_costs(
                ctx,
                tenant_id=request.tenant_id,
                start_ms=request.start_time,
                end_ms=request.end_time,
                include_forecast=request.include_forecast,
                correlation_id=cid,
            )
            return _cost_pb2.GetTenantCostsResponse(success_details=costs_message(costs))

        return await serve("GetTenantCosts", self._admin, respond, _cost_pb2.GetTenantCostsResponse)

    async def CreateBudget(
        self, request: _cost_pb2.CreateBudgetRequest, context: grpc.aio.ServicerContext
    ) -> _cost_pb2.CreateBudgetResponse:
        """Create (or replace) a budget of the tenant."""

        async def respond(ctx: SecurityContext, cid: str) -> _cost_pb2.CreateBudgetResponse:
            view = await self._admin.create_budget(
                ctx,
                budget_draft(request.budget),
                tenant_id=request.tenant_id,
                justification=request.justification,
                correlation_id=cid,
            )
            return _cost_pb2.CreateBudgetResponse(success_details=budget_details(view))

        return await serve("CreateBudget", self._admin, respond, _cost_pb2.CreateBudgetResponse)

    async def SetBudgetAlerts(
        self, request: _cost_pb2.SetBudgetAlertsRequest, context: grpc.aio.ServicerContext
    ) -> _cost_pb2.SetBudgetAlertsResponse:
        """Replace a budget's alert thresholds."""

        async def respond(ctx: SecurityContext, cid: str) -> _cost_pb2.SetBudgetAlertsResponse:
            view = await self._admin.set_budget_alerts(
                ctx,
                request.budget_id,
                tuple(request.alert_thresholds),
                tenant_id=request.tenant_id,
                channels=tuple(request.notification_channels),
                correlation_id=cid,
            )
            return _cost_pb2.SetBudgetAlertsResponse(success_details=budget_details(view))

        return await serve(
            "SetBudgetAlerts", self._admin, respond, _cost_pb2.SetBudgetAlertsResponse
        )

    async def GetCostForecast(
        self, request: _cost_pb2.GetCostForecastRequest, context: grpc.aio.ServicerContext
    ) -> _cost_pb2.GetCostForecastResponse:
        """A linear projection of the recent spend rate."""

        async def respond(ctx: SecurityContext, cid: str) -> _cost_pb2.GetCostForecastResponse:
            forecast = await self._admin.cost_forecast(
                ctx,
                tenant_id=request.tenant_id,
                cost_center=request.cost_center,
                start_ms=request.start_time,
                end_ms=request.end_time,
                aggregation_name=request.aggregation,
                correlation_id=cid,
            )
            message = forecast_message(forecast, self._admin.currency)
            return _cost_pb2.GetCostForecastResponse(success_details=message)

        return await serve(
            "GetCostForecast", self._admin, respond, _cost_pb2.GetCostForecastResponse
        )

    async def GenerateInvoice(
        self, request: _cost_pb2.GenerateInvoiceRequest, context: grpc.aio.ServicerContext
    ) -> _cost_pb2.GenerateInvoiceResponse:
        """A summary of a window's usage (not an ERP integration)."""

        async def respond(ctx: SecurityContext, cid: str) -> _cost_pb2.GenerateInvoiceResponse:
            invoice = await self._admin.invoice(
                ctx,
                tenant_id=request.tenant_id,
                start_ms=request.start_time,
                end_ms=request.end_time,
                cost_center=request.cost_center,
                correlation_id=cid,
            )
            return _cost_pb2.GenerateInvoiceResponse(success_details=invoice_message(invoice))

        return await serve(
            "GenerateInvoice", self._admin, respond, _cost_pb2.GenerateInvoiceResponse
        )

    async def ListBudgets(
        self, request: _cost_pb2.ListBudgetsRequest, context: grpc.aio.ServicerContext
    ) -> _cost_pb2.ListBudgetsResponse:
        """A page of budgets with their current period."""

        async def respond(ctx: SecurityContext, cid: str) -> _cost_pb2.ListBudgetsResponse:
            page = await self._admin.list_budgets(
                ctx,
                tenant_id=request.tenant_id,
                limit=request.limit,
                cursor=request.cursor,
                correlation_id=cid,
            )
            items = [budget_details(v) for v in page.items]
            page_message = _cost_pb2.BudgetList(items=items, next_cursor=page.next_cursor)
            return _cost_pb2.ListBudgetsResponse(success_details=page_message)

        return await serve("ListBudgets", self._admin, respond, _cost_pb2.ListBudgetsResponse)
