"""The budget operations of ``EnterpriseCostManagementService`` (:mod:`aesp.core.admin.cost`
has the decisions): create or replace, set alerts, list with the current period.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from aesp.core._metering import money
from aesp.core.admin._cost_base import CostBase
from aesp.core.admin._cost_support import BudgetDraft, BudgetView, budget_from
from aesp.core.admin._guard import ALL_TENANTS, Done, not_found
from aesp.core.admin._tenant_support import one_tenant
from aesp.core.cost import Budget
from aesp.core.errors import StateError, ValidationError
from aesp.core.ports._paging import Page
from aesp.core.ports.cost import BudgetOwnershipError
from aesp.core.security import SecurityContext

__all__ = ["CostBudgets"]

APPROVAL_REQUEST = "GOVERNANCE_APPROVAL_REQUEST"  # event type of a change submitted for approval


class CostBudgets(CostBase):
    """``CreateBudget``, ``SetBudgetAlerts`` and ``ListBudgets``.

    With approvals (``[governance] budget_changes = "approval"``, SPEC §3.13) a validated
    change is submitted as a ``BUDGET_V1`` request instead of stored: the answer is the budget
    as it would be, not in force (no status), carrying ``approval_request_id``; audited
    ``GOVERNANCE_APPROVAL_REQUEST`` with ``approval_request_id``, ``applied = false`` and
    ``operation``. ``BUDGET_CREATE``/``BUDGET_UPDATE`` are written by the enactment.
    """

    async def _submit(
        self,
        ctx: SecurityContext,
        rpc: str,
        budget: Budget,
        meta: dict[str, str],
        why: str,
        *,
        in_force: bool = False,
    ) -> Done[BudgetView]:
        """Submit ``budget`` for approval; nothing is stored (the caller validated it)."""
        assert self._approvals is not None
        other = await self._ledger.get_budget(budget.budget_id, tenant_id=None)
        if other is not None and other.tenant_id != budget.tenant_id:
            raise _taken(budget.budget_id)
        request_id = await self._approvals.submit(ctx.principal_id, budget, why)
        facts = {"approval_request_id": request_id, "applied": "false", "operation": rpc}
        # A new budget has no period yet; a changed one shows the period of the one in force.
        shown = await self._view(budget) if in_force else BudgetView(budget, None)
        return Done(
            dataclasses.replace(shown, approval_request_id=request_id),
            resource=f"budget:{budget.budget_id}",
            metadata={**meta, **facts},
            event_type=APPROVAL_REQUEST,
        )

    async def create_budget(
        self,
        ctx: SecurityContext,
        draft: BudgetDraft,
        *,
        tenant_id: str = "",
        justification: str = "",
        correlation_id: str = "",
    ) -> BudgetView:
        """``CreateBudget`` (or replace the tenant's budget of that id), in force for the next
        admission; audited ``BUDGET_CREATE`` or ``BUDGET_UPDATE``. With approvals: submitted as
        a ``BUDGET_V1`` request, nothing stored (see the class docstring).

        Raises:
            ValidationError: ``MALFORMED_REQUEST`` for a bad field, or two different tenants.
            StateError: ``INVALID_STATE`` for an id another tenant's budget uses.
        """
        if tenant_id and draft.tenant_id and tenant_id != draft.tenant_id:
            raise ValidationError(
                "MALFORMED_REQUEST",
                "tenant_id and budget.tenant_id name different tenants; set one of them.",
                details={"field": "tenant_id"},
            )

        async def act(target: str) -> Done[BudgetView]:
            tenant = one_tenant(target)
            budget = budget_from(draft, tenant_id=tenant, currency=self.currency)
            meta = {
                "amount": money(budget.amount_micros, budget.currency),
                "hard_limit": str(budget.hard_limit).lower(),
                "scope": f"{budget.scope.value}:{budget.scope_value}",
                "justification": justification[:300],
            }
            if self._approvals is not None:  # BUDGET_V1 approval (SPEC §3.13)
                return await self._submit(ctx, "CreateBudget", budget, meta, justification)
            existed = await self._ledger.get_budget(budget.budget_id, tenant_id=tenant)
            try:
                await self._ledger.put_budget(budget)
            except BudgetOwnershipError:
                raise _taken(budget.budget_id) from None
            self._metering.budgets_changed(tenant)
            return Done(
                await self._view(budget),
                resource=f"budget:{budget.budget_id}",
                metadata=meta,
                event_type="BUDGET_UPDATE" if existed is not None else "",
            )

        return await self._run(
            ctx, "CreateBudget", tenant_id or draft.tenant_id, correlation_id, act
        )

    async def set_budget_alerts(
        self,
        ctx: SecurityContext,
        budget_id: str,
        thresholds: Sequence[str],
        *,
        tenant_id: str = "",
        channels: Sequence[str] = (),
        correlation_id: str = "",
    ) -> BudgetView:
        """``SetBudgetAlerts``: replace the thresholds (audited ``BUDGET_UPDATE``).

        Raises:
            ValidationError: ``NOT_FOUND`` (also for another tenant's budget),
                ``FEATURE_UNAVAILABLE`` for notification channels, ``MALFORMED_REQUEST``.
        """

        async def act(target: str) -> Done[BudgetView]:
            tenant = one_tenant(target)
            if channels:
                raise ValidationError(
                    "FEATURE_UNAVAILABLE",
                    "The Host delivers no notifications itself: alerts are "
                    "BUDGET_THRESHOLD_ALERT audit events; route them from the audit export.",
                    details={"field": "notification_channels"},
                )
            budget = await self._ledger.get_budget(budget_id, tenant_id=tenant)
            if budget is None:
                raise not_found("budget", budget_id, tenant, field_name="budget_id")
            try:
                changed = dataclasses.replace(budget, alert_thresholds=tuple(thresholds))
            except (TypeError, ValueError) as exc:
                raise ValidationError(
                    "MALFORMED_REQUEST",
                    f"alert_thresholds are invalid: {exc}.",
                    details={"field": "alert_thresholds"},
                ) from None
            meta = {"thresholds": ",".join(changed.alert_thresholds)}
            if self._approvals is not None:  # BUDGET_V1 approval (SPEC §3.13)
                why = f"set alert thresholds of budget {budget_id}"
                return await self._submit(ctx, "SetBudgetAlerts", changed, meta, why, in_force=True)
            await self._ledger.put_budget(changed)
            self._metering.budgets_changed(tenant)
            return Done(await self._view(changed), resource=f"budget:{budget_id}", metadata=meta)

        return await self._run(ctx, "SetBudgetAlerts", tenant_id, correlation_id, act)

    async def list_budgets(
        self,
        ctx: SecurityContext,
        *,
        tenant_id: str = "",
        limit: int = 0,
        cursor: str = "",
        correlation_id: str = "",
    ) -> Page[BudgetView]:
        """``ListBudgets`` (aesp extension): budgets by id with their current period, of the
        resolved tenant, or of every tenant for ``"*"`` (platform callers).

        Raises:
            ValidationError: ``MALFORMED_REQUEST`` for a cursor this Host did not return.
        """

        async def act(target: str) -> Done[Page[BudgetView]]:
            tenant = None if target == ALL_TENANTS else target
            try:
                page = await self._ledger.list_budgets(tenant_id=tenant, limit=limit, cursor=cursor)
            except ValueError:
                raise ValidationError(
                    "MALFORMED_REQUEST",
                    "cursor was not returned by ListBudgets.",
                    details={"field": "cursor"},
                ) from None
            items = [await self._view(b) for b in page.items]
            return Done(Page(items, page.next_cursor), metadata={"count": str(len(items))})

        return await self._run(ctx, "ListBudgets", tenant_id, correlation_id, act)


def _taken(budget_id: str) -> StateError:
    return StateError(
        "INVALID_STATE",
        f"budget_id '{budget_id}' cannot be used; choose another id, or leave it empty and the "
        "Host assigns one.",
        details={"field": "budget.budget_id"},
    )
