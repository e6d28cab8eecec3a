"""What the cost admin operations return: reports, tenant costs and invoices, as core values.

Why a separate module: the gRPC servicer converts these to the wire and the CLI prints their
wire form; keeping them apart from the operations keeps both modules small. Money is in
integer micros of ``currency``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field

from aesp.core.admin._cost_reports import Forecast, UsageBucket, Window
from aesp.core.admin._cost_support import BudgetView
from aesp.core.cost import UsageRecord

__all__ = ["Invoice", "InvoiceFold", "InvoiceLine", "TenantCosts", "UsageReport"]


@dataclass(frozen=True, slots=True)
class UsageReport:
    """``GetUsageReport``: buckets ordered by period start (proto ``UsageReport``)."""

    tenant_id: str
    window: Window
    aggregation: str
    buckets: tuple[UsageBucket, ...]
    total_micros: int
    currency: str


@dataclass(frozen=True, slots=True)
class TenantCosts:
    """``GetTenantCosts``: the window's cost, broken down, with the tenant's budgets."""

    tenant_id: str
    window: Window
    total_micros: int
    currency: str
    by_resource_type: Mapping[str, int] = field(default_factory=dict)
    by_principal: Mapping[str, int] = field(default_factory=dict)
    by_cost_center: Mapping[str, int] = field(default_factory=dict)
    by_project: Mapping[str, int] = field(default_factory=dict)
    budgets: tuple[BudgetView, ...] = ()
    forecast: Forecast | None = None


@dataclass(frozen=True, slots=True)
class InvoiceLine:
    """Usage of one resource type at one unit price, for one cost centre and project."""

    resource_type: str
    unit: str
    unit_cost: float
    cost_center: str
    project_id: str
    quantity: float
    amount_micros: int

    @property
    def description(self) -> str:
        """A line a person reads, e.g. ``API_CALL: 1200 calls``."""
        return f"{self.resource_type}: {self.quantity:g} {self.unit}"


@dataclass(frozen=True, slots=True)
class Invoice:
    """``GenerateInvoice``: a summary of a window's usage, not an ERP or billing document."""

    invoice_id: str
    tenant_id: str
    window: Window
    issued_at_ms: int
    currency: str
    lines: tuple[InvoiceLine, ...]
    total_micros: int
    cost_center: str = ""


class InvoiceFold:
    """One line per (resource type, unit, unit price, cost centre, project); only records of
    ``cost_center`` when it is set."""

    def __init__(self, cost_center: str) -> None:
        self._cost_center = cost_center
        self._quantity: dict[tuple[str, str, float, str, str], float] = defaultdict(float)
        self._amount: dict[tuple[str, str, float, str, str], int] = defaultdict(int)

    def add(self, r: UsageRecord) -> None:
        """Count one record."""
        if self._cost_center and r.cost_center != self._cost_center:
            return
        key = (r.resource_type, r.unit, r.unit_cost, r.cost_center, r.project_id)
        self._quantity[key] += r.quantity
        self._amount[key] += r.total_cost_micros

    def lines(self) -> tuple[InvoiceLine, ...]:
        """The lines, ordered by their key."""
        return tuple(
            InvoiceLine(*key, self._quantity[key], self._amount[key])
            for key in sorted(self._quantity)
        )
