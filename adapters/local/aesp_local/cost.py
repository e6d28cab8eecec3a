"""The Cost port on SQLite (``data_dir/cost.sqlite3``): budgets, reservations, usage ledger.

Atomicity across Hosts: ``reserve`` reads the budgets and their figures and writes the holds
inside one ``BEGIN IMMEDIATE`` transaction, which takes the file's write lock before the first
read. Two Hosts on one file therefore decide one reservation at a time, each on the figures
the other has committed; neither can admit a call on a stale sum. ``settle`` and ``release``
change a reservation's state and its holds in one transaction too.

``holds`` has one row per (budget, reservation), carrying the reservation's time, expiry, state
and amount (the held amount, or the charged amount once settled), so a budget's figures for a
period are one range scan of a covering index. Money columns are INTEGER micros.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aesp.core.cost import (
    admits,
    check_micros,
    check_one_currency,
    reserve_arguments,
    usage_types,
)
from aesp.core.ports._cursors import decode_number
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
from aesp_local import _revision
from aesp_local._cost_schema import (
    BUDGET_COLUMNS,
    MIGRATIONS,
    USAGE_COLUMNS,
    budget_from_row,
    budget_row,
    marks,
    usage_from_row,
    usage_row,
)
from aesp_local._db import Database

HELD, SETTLED, RELEASED = "HELD", "SETTLED", "RELEASED"

__all__ = ["MIGRATIONS", "SqliteCostLedger"]

_FIGURES = (
    "SELECT COALESCE(SUM(CASE WHEN state = 'SETTLED' THEN micros END), 0), "
    "COALESCE(SUM(CASE WHEN state = 'HELD' AND expires_at_ms > ? THEN micros END), 0) "
    "FROM holds WHERE budget_id = ? AND created_at_ms >= ? AND created_at_ms < ?"
)
_INSERT_USAGE = (
    f"INSERT INTO usage_records ({USAGE_COLUMNS}) VALUES ({marks(USAGE_COLUMNS)}) "
    "ON CONFLICT(event_id) DO NOTHING"
)


class SqliteCostLedger:
    """Budgets, reservations and usage in one SQLite file, safe for several Hosts."""

    def __init__(self, path: Path) -> None:
        self._db = Database(path, MIGRATIONS)

    async def put_budget(self, budget: Budget) -> None:
        """Create or replace.

        Raises:
            BudgetOwnershipError: The id belongs to another tenant's budget.
        """

        def work(conn: sqlite3.Connection) -> None:
            row = conn.execute(
                "SELECT tenant_id FROM budgets WHERE budget_id = ?", (budget.budget_id,)
            ).fetchone()
            if row is not None and row[0] != budget.tenant_id:
                raise BudgetOwnershipError(f"budget id {budget.budget_id!r} is another tenant's")
            conn.execute(
                f"INSERT OR REPLACE INTO budgets ({BUDGET_COLUMNS}) VALUES ({marks(BUDGET_COLUMNS)})",
                budget_row(budget),
            )

        await _revision.write(self._db, work)

    async def get_budget(self, budget_id: str, *, tenant_id: str | None) -> Budget | None:
        """The budget, or None (also for another tenant's)."""
        rows = await self._db.execute(
            f"SELECT {BUDGET_COLUMNS} FROM budgets WHERE budget_id = ?", (budget_id,)
        )
        budget = budget_from_row(rows[0]) if rows else None
        if budget is None or (tenant_id is not None and budget.tenant_id != tenant_id):
            return None
        return budget

    async def list_budgets(
        self, *, tenant_id: str | None, limit: int = 0, cursor: str = ""
    ) -> Page[Budget]:
        """Budgets by id; the cursor is the last id returned."""
        size = page_limit(limit)
        tenant = "" if tenant_id is None else " AND tenant_id = ?"
        params = (cursor,) if tenant_id is None else (cursor, tenant_id)
        rows = await self._db.execute(
            f"SELECT {BUDGET_COLUMNS} FROM budgets WHERE budget_id > ?{tenant} "
            "ORDER BY budget_id LIMIT ?",
            (*params, size + 1),
        )
        items = [budget_from_row(r) for r in rows[:size]]
        return Page(items, items[-1].budget_id if len(rows) > size else "")

    async def delete_budget(self, budget_id: str, *, tenant_id: str | None) -> bool:
        """Delete the budget row; its holds (its history) stay."""
        tenant = "" if tenant_id is None else " AND tenant_id = ?"
        params = (budget_id,) if tenant_id is None else (budget_id, tenant_id)

        def work(conn: sqlite3.Connection) -> bool:
            return (
                conn.execute(f"DELETE FROM budgets WHERE budget_id = ?{tenant}", params).rowcount
                > 0
            )

        return await _revision.write(self._db, work)

    async def reserve(
        self,
        budget_ids: Sequence[str],
        amount_micros: int,
        *,
        reservation_id: str,
        now_ms: int,
        ttl_ms: int,
    ) -> ReserveOutcome:
        """Check every hard budget and hold on all or none, in one immediate transaction."""
        ids = reserve_arguments(budget_ids, amount_micros, reservation_id, ttl_ms)

        def work(conn: sqlite3.Connection) -> ReserveOutcome:
            marks = ", ".join("?" * len(ids))
            rows = conn.execute(
                f"SELECT {BUDGET_COLUMNS} FROM budgets WHERE budget_id IN ({marks})", ids
            ).fetchall()
            found = {b.budget_id: b for b in map(budget_from_row, rows)}
            missing = [i for i in ids if i not in found]
            if missing:
                raise BudgetNotFoundError(f"no budget {missing[0]!r}; nothing was reserved")
            budgets = [found[i] for i in ids]
            check_one_currency(budgets)
            existing = _reservation(conn, reservation_id)
            if existing is not None:
                held, state = existing
                if state != HELD or (held.budget_ids, held.amount_micros) != (ids, amount_micros):
                    raise ReservationConflictError(f"reservation {reservation_id!r} already exists")
                return ReserveOutcome(held)
            for budget in budgets:
                period = budget.period_at(now_ms)
                if not budget.hard_limit or period is None:
                    continue
                used = sum(conn.execute(_FIGURES, (now_ms, budget.budget_id, *period)).fetchone())
                if not admits(budget.amount_micros, used, amount_micros):
                    return ReserveOutcome(
                        None, budget.budget_id, max(0, budget.amount_micros - used)
                    )
            held = Reservation(reservation_id, ids, amount_micros, now_ms, now_ms + ttl_ms)
            conn.execute(
                "INSERT INTO reservations VALUES (?, ?, ?, ?, ?, ?, 0)",
                (reservation_id, json.dumps(ids), amount_micros, now_ms, held.expires_at_ms, HELD),
            )
            conn.executemany(
                "INSERT INTO holds VALUES (?, ?, ?, ?, ?, ?)",
                [(i, reservation_id, now_ms, held.expires_at_ms, HELD, amount_micros) for i in ids],
            )
            return ReserveOutcome(held)

        return await _revision.write(self._db, work)

    async def settle(
        self, reservation_id: str, actual_micros: int, usage: Sequence[UsageRecord]
    ) -> bool:
        """Charge every hold and record the usage, once.

        Raises:
            ReservationNotFoundError: No such reservation was ever made.
        """
        check_micros("settle actual_micros", actual_micros)
        rows = [usage_row(r) for r in usage]

        def work(conn: sqlite3.Connection) -> bool:
            existing = _reservation(conn, reservation_id)
            if existing is None:
                raise ReservationNotFoundError(
                    f"no reservation {reservation_id!r}; nothing recorded"
                )
            if existing[1] == SETTLED:
                return False
            conn.execute(
                "UPDATE reservations SET state = ?, charged_micros = ? WHERE reservation_id = ?",
                (SETTLED, actual_micros, reservation_id),
            )
            conn.execute(
                "UPDATE holds SET state = ?, micros = ? WHERE reservation_id = ?",
                (SETTLED, actual_micros, reservation_id),
            )
            conn.executemany(_INSERT_USAGE, rows)
            return True

        return await _revision.write(self._db, work)

    async def release(self, reservation_id: str) -> bool:
        """Give a held reservation back."""

        def work(conn: sqlite3.Connection) -> bool:
            changed = conn.execute(
                "UPDATE reservations SET state = ? WHERE reservation_id = ? AND state = ?",
                (RELEASED, reservation_id, HELD),
            ).rowcount
            if changed:
                conn.execute(
                    "UPDATE holds SET state = ? WHERE reservation_id = ?",
                    (RELEASED, reservation_id),
                )
            return changed > 0

        return await _revision.write(self._db, work)

    async def spent(self, budget_id: str, start_ms: int, end_ms: int) -> int:
        """Settled against the budget by reservations created in ``[start_ms, end_ms)``."""
        rows = await self._db.execute(_FIGURES, (0, budget_id, start_ms, end_ms))
        return int(rows[0][0])

    async def status(self, budget_id: str, *, now_ms: int) -> BudgetStatus | None:
        """The budget's figures in the period containing ``now_ms`` (both from one statement, so
        a concurrent settle is seen entirely or not at all)."""
        budget = await self.get_budget(budget_id, tenant_id=None)
        if budget is None:
            return None
        period = budget.period_at(now_ms)
        if period is None:
            return BudgetStatus(budget, False, 0, 0, 0, 0)
        rows = await self._db.execute(_FIGURES, (now_ms, budget_id, *period))
        spent, reserved = rows[0]
        return BudgetStatus(budget, True, *period, int(spent), int(reserved))

    async def record_usage(self, records: Sequence[UsageRecord]) -> int:
        """Record the new ones in one transaction; the first record of an id is kept."""
        rows = [usage_row(r) for r in records]

        def work(conn: sqlite3.Connection) -> int:
            before = conn.total_changes
            conn.executemany(_INSERT_USAGE, rows)
            return conn.total_changes - before

        return await _revision.write(self._db, work) if rows else 0

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
        """Records in recorded order; the cursor is the last ``seq`` returned.

        Raises:
            ValueError: ``cursor`` was not returned by this store.
        """
        after = decode_number(cursor, "usage")
        types = usage_types(resource_types)
        size = page_limit(limit)
        where: list[str] = ["seq > ?"]
        params: list[Any] = [after]
        for clause, value in (
            ("tenant_id = ?", tenant_id),
            ("timestamp_ms >= ?", start_ms),
            ("timestamp_ms < ?", end_ms),
        ):
            if value is not None:
                where.append(clause)
                params.append(value)
        if types:
            where.append(f"resource_type IN ({', '.join('?' * len(types))})")
            params += types
        rows = await self._db.execute(
            f"SELECT seq, {USAGE_COLUMNS} FROM usage_records WHERE {' AND '.join(where)} "
            "ORDER BY seq LIMIT ?",
            (*params, size + 1),
        )
        items = [usage_from_row(r[1:]) for r in rows[:size]]
        return Page(items, str(rows[size - 1][0]) if len(rows) > size else "")

    async def close(self) -> None:
        """Close the file."""
        await self._db.close()


def _reservation(conn: sqlite3.Connection, reservation_id: str) -> tuple[Reservation, str] | None:
    """The stored reservation and its state, or None."""
    row = conn.execute(
        "SELECT budget_ids, amount_micros, created_at_ms, expires_at_ms, state "
        "FROM reservations WHERE reservation_id = ?",
        (reservation_id,),
    ).fetchone()
    if row is None:
        return None
    ids, amount, created, expires, state = row
    budget_ids = tuple(json.loads(ids))
    return Reservation(reservation_id, budget_ids, int(amount), int(created), int(expires)), state
