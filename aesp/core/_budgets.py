"""Budgets as admission sees them: which apply to a call, and their alerts (SPEC §3.13).

Why a separate module: :class:`~aesp.core.metering.Metering` reads as the admission and
settlement rules; the bookkeeping behind them lives here.

* :class:`BudgetBook`: each tenant's budgets, kept in memory and refreshed in the background,
  so admitting a call under no budget touches no store (DESIGN §2 principle 2).
* :class:`AlertBook`: ``BUDGET_THRESHOLD_ALERT`` and ``BUDGET_EXCEEDED`` once per budget,
  threshold and period, with the "already raised" mark kept durably in the Cost port.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from decimal import Decimal

from aesp.core._metering import money
from aesp.core.audit import AuditEvent, AuditLog
from aesp.core.cost import Budget, BudgetScope
from aesp.core.ports.cost import CostLedger, ReservationConflictError

log = logging.getLogger("aesp.metering")

__all__ = ["AlertBook", "BudgetBook", "applies", "thresholds"]

MAX_MARKS = 10_000  # alert marks remembered in memory before past periods are forgotten
CHECK_INTERVAL_MS = 1_000  # longest an alert waits for spend another Host settled


def applies(budget: Budget, *, principal_id: str, cost_center: str, tool: str) -> bool:
    """Whether a call of ``tool`` by ``principal_id`` (in ``cost_center``) falls under ``budget``
    (a budget of the call's own tenant; the caller filters by tenant)."""
    if budget.scope is BudgetScope.TENANT:
        return True
    wanted = {
        BudgetScope.COST_CENTER: cost_center,
        BudgetScope.PRINCIPAL: principal_id,
        BudgetScope.TOOL: tool,
    }[budget.scope]
    return bool(wanted) and budget.scope_value == wanted


class BudgetBook:
    """Each tenant's budgets in memory: loaded on the tenant's first call, then refreshed in the
    background every ``refresh_ms`` (stale-while-revalidate), and at once after a change made
    through this Host (:meth:`invalidate`). Budgets changed on another Host apply here within
    ``refresh_ms``.
    """

    def __init__(self, ledger: CostLedger, *, refresh_ms: int, clock: Callable[[], int]) -> None:
        self._ledger = ledger
        self._refresh_ms = refresh_ms
        self._clock = clock
        self._known: dict[str, tuple[int, tuple[Budget, ...]]] = {}
        self._loading: dict[str, asyncio.Task[tuple[Budget, ...]]] = {}
        self._generation: dict[str, int] = {}  # +1 per invalidation: a late load is dropped

    async def of_tenant(self, tenant_id: str) -> tuple[Budget, ...]:
        """The tenant's budgets; awaits the store only the first time (or after a change).

        Raises:
            Exception: Whatever the Cost port raised while no list was ever loaded.
        """
        known = self._known.get(tenant_id)
        if known is not None and self._clock() - known[0] < self._refresh_ms:
            return known[1]
        task = self._loading.get(tenant_id)
        if task is None:
            task = asyncio.get_running_loop().create_task(self._load(tenant_id))
            self._loading[tenant_id] = task
            task.add_done_callback(self._loaded(tenant_id))
        if known is not None:  # serve the old list while the new one loads
            return known[1]
        return await asyncio.shield(task)

    def invalidate(self, tenant_id: str) -> None:
        """Forget the tenant's list: the next call loads it again (after a write here)."""
        self._known.pop(tenant_id, None)
        self._loading.pop(tenant_id, None)
        self._generation[tenant_id] = self._generation.get(tenant_id, 0) + 1

    async def _load(self, tenant_id: str) -> tuple[Budget, ...]:
        started, generation = self._clock(), self._generation.get(tenant_id, 0)
        budgets: list[Budget] = []
        cursor = ""
        while True:
            page = await self._ledger.list_budgets(tenant_id=tenant_id, cursor=cursor, limit=1000)
            budgets.extend(page.items)
            if not page.next_cursor:
                break
            cursor = page.next_cursor
        if generation == self._generation.get(tenant_id, 0):  # no write here since it began
            self._known[tenant_id] = (started, tuple(budgets))
        return tuple(budgets)

    def _loaded(self, tenant_id: str) -> Callable[[asyncio.Task[tuple[Budget, ...]]], None]:
        def done(task: asyncio.Task[tuple[Budget, ...]]) -> None:
            if self._loading.get(tenant_id) is task:
                del self._loading[tenant_id]
            if not task.cancelled() and task.exception() is not None:
                log.warning("loading the budgets of %r failed: %s", tenant_id, task.exception())

        return done


def thresholds(budget: Budget) -> list[tuple[str, Decimal]]:
    """The budget's alert thresholds, ascending, always with ``100%`` (SPEC 199: reaching the
    budget alerts even when it only reports)."""
    found = {Decimal(t[:-1]): t for t in budget.alert_thresholds}
    found.setdefault(Decimal(100), "100%")
    return [(found[p], p) for p in sorted(found)]


class AlertBook:
    """Raises each budget alert once per period, also across restarts and Host replicas.

    The "already raised" mark is a zero-amount reservation on no budget, named after the alert
    and settled at once: the Cost port's ``settle`` returns True to exactly one caller, atomically
    and durably, and a settled id can never be reserved again. So the port alone is the
    compare-and-set, in every adapter, without a table of its own. The mark is taken *before*
    the audit event is written: a crash between the two loses one alert rather than doubling it.
    """

    def __init__(self, ledger: CostLedger, audit: AuditLog, *, clock: Callable[[], int]) -> None:
        self._ledger = ledger
        self._audit = audit
        self._clock = clock
        self._marks: dict[str, int] = {}  # mark -> end of its period
        self._seen: dict[str, tuple[int, int, int]] = {}  # budget -> (period, spent, read at)
        self._lock = asyncio.Lock()

    async def after_charge(
        self, budgets: Iterable[Budget], *, principal_id: str, charge_micros: int
    ) -> None:
        """Alert every threshold the budgets' spend now reaches, after a charge of this Host.

        The period's spend is read from the store only when this Host's own estimate (the
        last figure read plus the charges it made since) reaches the lowest threshold still
        due, or when that figure is older than :data:`CHECK_INTERVAL_MS`: one Host alone never
        misses a crossing, and spend settled by other Hosts is seen within the interval.
        """
        now = self._clock()
        for budget in budgets:
            period = budget.period_at(now)
            if period is None:
                continue
            due = [
                (label, pct)
                for label, pct in thresholds(budget)
                if _mark(budget, period, label) not in self._marks
            ]
            if not due:
                continue
            seen = self._seen.get(budget.budget_id)
            if seen is not None and seen[0] == period[0] and now - seen[2] < CHECK_INTERVAL_MS:
                estimate = seen[1] + charge_micros
                self._seen[budget.budget_id] = (period[0], estimate, seen[2])
                if estimate * 100 < budget.amount_micros * due[0][1]:
                    continue
            status = await self._ledger.status(budget.budget_id, now_ms=now)
            if status is None or not status.in_force:
                continue
            self._seen[budget.budget_id] = (period[0], status.spent_micros, now)
            for label, pct in due:
                if status.spent_micros * 100 >= budget.amount_micros * pct:
                    meta = {
                        "threshold": label,
                        "spent": money(status.spent_micros, budget.currency),
                    }
                    await self._raise(
                        budget, period, label, "BUDGET_THRESHOLD_ALERT", principal_id, meta
                    )

    async def exceeded(self, budget: Budget, *, principal_id: str, remaining_micros: int) -> None:
        """``BUDGET_EXCEEDED``: the hard budget refused a call (once per period)."""
        period = budget.period_at(self._clock())
        if period is not None:
            meta = {"remaining": money(remaining_micros, budget.currency)}
            await self._raise(budget, period, "EXCEEDED", "BUDGET_EXCEEDED", principal_id, meta)

    async def _raise(
        self,
        budget: Budget,
        period: tuple[int, int],
        label: str,
        event_type: str,
        principal_id: str,
        meta: dict[str, str],
    ) -> None:
        mark = _mark(budget, period, label)
        async with self._lock:  # one claim at a time on this Host; the port decides across Hosts
            if mark in self._marks or not await self._claim(mark, period[1]):
                return
        await self._audit.append(
            AuditEvent(
                event_type=event_type,
                outcome="DENIED" if event_type == "BUDGET_EXCEEDED" else "SUCCESS",
                action=event_type.lower(),
                principal_id=principal_id,
                tenant_id=budget.tenant_id,
                resource=f"budget:{budget.budget_id}",
                metadata={
                    "budget_id": budget.budget_id,
                    "amount": money(budget.amount_micros, budget.currency),
                    "hard_limit": str(budget.hard_limit).lower(),
                    "period_start_ms": str(period[0]),
                    "period_end_ms": str(period[1]),
                    **meta,
                },
            ),
            durable=True,
        )

    async def _claim(self, mark: str, period_end: int) -> bool:
        """Take the durable mark; True if this call took it (and must alert)."""
        if len(self._marks) >= MAX_MARKS:
            now = self._clock()
            self._marks = {m: end for m, end in self._marks.items() if end > now}
        try:
            await self._ledger.reserve((), 0, reservation_id=mark, now_ms=self._clock(), ttl_ms=1)
        except ReservationConflictError:  # settled before: raised by an earlier run or Host
            self._marks[mark] = period_end
            return False
        won = await self._ledger.settle(mark, 0, ())
        self._marks[mark] = period_end
        return won


def _mark(budget: Budget, period: tuple[int, int], label: str) -> str:
    return f"alert|{budget.budget_id}|{period[0]}|{label}"
