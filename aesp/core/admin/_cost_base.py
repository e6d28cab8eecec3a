"""State and look-ups shared by the cost admin operations (:mod:`aesp.core.admin.cost`).

Why a base class: the operations are split over two modules (budgets, usage) to keep each
small; both need the same ports, clock, guard and budget views, defined once here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

from aesp.core.admin._cost_support import EVENT_TYPES, BudgetView, view
from aesp.core.admin._guard import ADMIN_QUERY, AdminGuard, Done
from aesp.core.control import ControlPlane
from aesp.core.cost import Budget
from aesp.core.errors import AespError
from aesp.core.ids import now_ms
from aesp.core.metering import Metering
from aesp.core.ports.cost import CostLedger
from aesp.core.principal import Principal
from aesp.core.security import SecurityContext

if TYPE_CHECKING:
    from aesp.core.admin._budget_approvals import BudgetApprovals

__all__ = ["CostBase"]

T = TypeVar("T")


class CostBase:
    """The ports, clock and guard of the cost admin operations.

    Args:
        control: The Host's control plane (permissions, tenants, audit).
        ledger: The Cost port.
        metering: The Host's metering (its rate card's currency; told when budgets change).
        clock_ms: Unix milliseconds.
        approvals: Submit budget changes for approval (``[governance] budget_changes =
            "approval"``, SPEC §3.13); None stores them at once (``"direct"``).
    """

    def __init__(
        self,
        control: ControlPlane,
        *,
        ledger: CostLedger,
        metering: Metering,
        clock_ms: Callable[[], int] = now_ms,
        approvals: BudgetApprovals | None = None,
    ) -> None:
        self._ledger = ledger
        self._approvals = approvals
        self._metering = metering
        self._guard = AdminGuard(control, service="cost")
        self._clock_ms = clock_ms
        self.currency = metering.card.currency

    async def context(
        self, principal: Principal, *, rpc: str, correlation_id: str
    ) -> SecurityContext:
        """The caller's context; a refusal is audited (see :meth:`AdminGuard.context`)."""
        return await self._guard.context(principal, rpc=rpc, correlation_id=correlation_id)

    async def record_refusal(
        self, ctx: SecurityContext, rpc: str, exc: AespError, *, correlation_id: str
    ) -> None:
        """Audit a refusal the edge raised for ``rpc`` (an unconvertible request)."""
        await self._guard.reject(ctx, rpc, EVENT_TYPES.get(rpc, ADMIN_QUERY), exc, correlation_id)

    async def _run(
        self,
        ctx: SecurityContext,
        rpc: str,
        tenant_id: str,
        correlation_id: str,
        act: Callable[[str], Awaitable[Done[T]]],
    ) -> T:
        return await self._guard.run(
            ctx,
            rpc,
            EVENT_TYPES.get(rpc, ADMIN_QUERY),
            tenant_id=tenant_id,
            correlation_id=correlation_id,
            action=act,
        )

    async def _view(self, budget: Budget) -> BudgetView:
        return view(budget, await self._ledger.status(budget.budget_id, now_ms=self._clock_ms()))

    async def _views(self, tenant: str, now: int) -> tuple[BudgetView, ...]:
        views: list[BudgetView] = []
        cursor = ""
        while True:
            page = await self._ledger.list_budgets(tenant_id=tenant, limit=1000, cursor=cursor)
            for budget in page.items:
                views.append(view(budget, await self._ledger.status(budget.budget_id, now_ms=now)))
            if not page.next_cursor:
                return tuple(views)
            cursor = page.next_cursor
