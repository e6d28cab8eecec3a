"""The Cost port in memory, for tests and embedded use (it passes the same kit as SQLite).

Every method runs without awaiting anything, so on one event loop each call is atomic: that
is this fake's whole concurrency story, and why ``reserve`` needs no lock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aesp.core.cost import (
    admits,
    check_micros,
    check_one_currency,
    reserve_arguments,
    usage_types,
)
from aesp.core.ports._paging import Page, page_limit
from aesp.core.ports.cost import (
    Budget,
    BudgetNotFoundError,
    BudgetOwnershipError,
    BudgetStatus,
    Reservation,
    ReservationConflictError,
    ReservationNotFoundError,
    ReserveOutcome,
    UsageRecord,
)

HELD, SETTLED, RELEASED = "HELD", "SETTLED", "RELEASED"


@dataclass
class _Entry:
    """A reservation and its state; ``charged`` is the settled amount."""

    reservation: Reservation
    state: str = HELD
    charged: int = 0


class InMemoryCostLedger:
    """A :class:`~aesp.core.ports.cost.CostLedger` over dicts and a list."""

    def __init__(self) -> None:
        self._budgets: dict[str, Budget] = {}
        self._entries: dict[str, _Entry] = {}
        self._usage: list[UsageRecord] = []
        self._usage_ids: set[str] = set()

    async def put_budget(self, budget: Budget) -> None:
        """Create or replace.

        Raises:
            BudgetOwnershipError: The id belongs to another tenant's budget.
        """
        old = self._budgets.get(budget.budget_id)
        if old is not None and old.tenant_id != budget.tenant_id:
            raise BudgetOwnershipError(f"budget id {budget.budget_id!r} is another tenant's")
        self._budgets[budget.budget_id] = budget

    async def get_budget(self, budget_id: str, *, tenant_id: str | None) -> Budget | None:
        """The budget, or None (also for another tenant's)."""
        budget = self._budgets.get(budget_id)
        if budget is None or (tenant_id is not None and budget.tenant_id != tenant_id):
            return None
        return budget

    async def list_budgets(
        self, *, tenant_id: str | None, limit: int = 0, cursor: str = ""
    ) -> Page[Budget]:
        """Budgets by id; the cursor is the last id returned (ids are never empty)."""
        size = page_limit(limit)
        ids = sorted(
            b.budget_id
            for b in self._budgets.values()
            if (tenant_id is None or b.tenant_id == tenant_id) and b.budget_id > cursor
        )
        items = [self._budgets[i] for i in ids[:size]]
        return Page(items, items[-1].budget_id if len(ids) > size else "")

    async def delete_budget(self, budget_id: str, *, tenant_id: str | None) -> bool:
        """Delete; its reservations stay."""
        if await self.get_budget(budget_id, tenant_id=tenant_id) is None:
            return False
        del self._budgets[budget_id]
        return True

    async def reserve(
        self,
        budget_ids: Sequence[str],
        amount_micros: int,
        *,
        reservation_id: str,
        now_ms: int,
        ttl_ms: int,
    ) -> ReserveOutcome:
        """Check every hard budget, then hold on all or none (see the port)."""
        ids = reserve_arguments(budget_ids, amount_micros, reservation_id, ttl_ms)
        missing = [i for i in ids if i not in self._budgets]
        if missing:
            raise BudgetNotFoundError(f"no budget {missing[0]!r}; nothing was reserved")
        budgets = [self._budgets[i] for i in ids]
        check_one_currency(budgets)
        entry = self._entries.get(reservation_id)
        if entry is not None:
            same = (entry.reservation.budget_ids, entry.reservation.amount_micros)
            if entry.state != HELD or same != (ids, amount_micros):
                raise ReservationConflictError(f"reservation {reservation_id!r} already exists")
            return ReserveOutcome(entry.reservation)
        for budget in budgets:
            period = budget.period_at(now_ms)
            if not budget.hard_limit or period is None:
                continue
            used = sum(self._figures(budget.budget_id, period, now_ms))
            if not admits(budget.amount_micros, used, amount_micros):
                remaining = max(0, budget.amount_micros - used)
                return ReserveOutcome(None, budget.budget_id, remaining)
        reservation = Reservation(reservation_id, ids, amount_micros, now_ms, now_ms + ttl_ms)
        self._entries[reservation_id] = _Entry(reservation)
        return ReserveOutcome(reservation)

    async def settle(
        self, reservation_id: str, actual_micros: int, usage: Sequence[UsageRecord]
    ) -> bool:
        """Charge and record usage once.

        Raises:
            ReservationNotFoundError: No such reservation was ever made.
        """
        check_micros("settle actual_micros", actual_micros)
        entry = self._entries.get(reservation_id)
        if entry is None:
            raise ReservationNotFoundError(f"no reservation {reservation_id!r}; nothing recorded")
        if entry.state == SETTLED:
            return False
        entry.state, entry.charged = SETTLED, actual_micros
        self._record(usage)
        return True

    async def release(self, reservation_id: str) -> bool:
        """Give a held reservation back."""
        entry = self._entries.get(reservation_id)
        if entry is None or entry.state != HELD:
            return False
        entry.state = RELEASED
        return True

    async def spent(self, budget_id: str, start_ms: int, end_ms: int) -> int:
        """Settled against the budget by reservations created in ``[start_ms, end_ms)``."""
        return sum(
            e.charged
            for e in self._entries.values()
            if e.state == SETTLED
            and budget_id in e.reservation.budget_ids
            and start_ms <= e.reservation.created_at_ms < end_ms
        )

    async def status(self, budget_id: str, *, now_ms: int) -> BudgetStatus | None:
        """The budget's figures in the period containing ``now_ms``."""
        budget = self._budgets.get(budget_id)
        if budget is None:
            return None
        period = budget.period_at(now_ms)
        if period is None:
            return BudgetStatus(budget, False, 0, 0, 0, 0)
        spent, reserved = self._figures(budget_id, period, now_ms)
        return BudgetStatus(budget, True, *period, spent, reserved)

    async def record_usage(self, records: Sequence[UsageRecord]) -> int:
        """Record the new ones; the first record of an id is kept."""
        return self._record(records)

    async def usage(
        self,
        *,
        tenant_id: str | None,
        start_ms: int | None = None,
        end_ms: int | None = None,
        resource_types: Sequence[str] = (),
        limit: int = 0,
        cursor: str = "",
    ) -> Page[UsageRecord]:
        """Records in recorded order; the cursor is the list position after the last one.

        Raises:
            ValueError: ``cursor`` was not returned by this store.
        """
        types = usage_types(resource_types)
        size = page_limit(limit)
        if cursor and not (
            cursor.isascii() and cursor.isdigit() and int(cursor) <= len(self._usage)
        ):
            raise ValueError(f"cursor {cursor!r} was not returned by usage")
        items: list[UsageRecord] = []
        after_last = int(cursor or 0)
        for position in range(after_last, len(self._usage)):
            r = self._usage[position]
            if (
                (tenant_id is None or r.tenant_id == tenant_id)
                and (start_ms is None or r.timestamp_ms >= start_ms)
                and (end_ms is None or r.timestamp_ms < end_ms)
                and (not types or r.resource_type in types)
            ):
                if len(items) == size:
                    return Page(items, str(after_last))
                items.append(r)
                after_last = position + 1
        return Page(items, "")

    async def close(self) -> None:
        """Nothing to release."""

    def _figures(self, budget_id: str, period: tuple[int, int], now_ms: int) -> tuple[int, int]:
        """(settled, live-held) micros of reservations on ``budget_id`` created in ``period``."""
        spent = held = 0
        for e in self._entries.values():
            r = e.reservation
            if budget_id not in r.budget_ids or not period[0] <= r.created_at_ms < period[1]:
                continue
            if e.state == SETTLED:
                spent += e.charged
            elif e.state == HELD and r.expires_at_ms > now_ms:
                held += r.amount_micros
        return spent, held

    def _record(self, records: Sequence[UsageRecord]) -> int:
        added = 0
        for record in records:
            if record.event_id not in self._usage_ids:
                self._usage_ids.add(record.event_id)
                self._usage.append(record)
                added += 1
        return added
