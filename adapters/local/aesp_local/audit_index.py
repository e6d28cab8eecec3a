"""The audit query side on SQLite (``data_dir/audit_index.sqlite3``): an append-only index.

The shipper copies events from the local durable buffer (``FileAuditLog``) into this index at
least once, so ``index`` is insert-only and idempotent: ``event_id`` is unique and a repeated id
is skipped, never rewritten. Each event is stored whole as the JSON of
:meth:`~aesp.core.audit.AuditEvent.to_json` (the record of truth, so every field round-trips
exactly), next to copies of the fields queries filter on.

Append order is ``seq``, an ``AUTOINCREMENT`` key assigned inside the write transaction. SQLite
lets one writer in at a time and commits in order, so a reader never sees a higher ``seq``
before a lower one is committed: a cursor (the last ``seq`` returned) can never be overtaken by
a late commit, which is the no-gap promise of :class:`~aesp.core.ports.audit.AuditQuery` even
with two Hosts writing the file. Triggers refuse any UPDATE or DELETE (item 190): a bug or a
stray tool cannot rewrite history through this file's SQL either.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aesp.core.audit import AuditEvent
from aesp.core.ports._paging import Page, page_limit
from aesp.core.ports.audit import AuditFilter
from aesp_local import _revision
from aesp_local._db import Database

MIGRATIONS = (
    """CREATE TABLE events (
         seq INTEGER PRIMARY KEY AUTOINCREMENT,
         event_id TEXT NOT NULL UNIQUE,
         tenant_id TEXT NOT NULL,
         timestamp_ms INTEGER NOT NULL,
         event_type TEXT NOT NULL,
         principal_id TEXT NOT NULL,
         session_id TEXT NOT NULL,
         correlation_id TEXT NOT NULL,
         outcome TEXT NOT NULL,
         body TEXT NOT NULL
       );
       CREATE INDEX events_by_tenant_time ON events (tenant_id, timestamp_ms);
       CREATE INDEX events_by_type ON events (event_type);
       CREATE INDEX events_by_principal ON events (principal_id);
       CREATE INDEX events_by_correlation ON events (correlation_id);
       CREATE TRIGGER events_never_updated BEFORE UPDATE ON events
         BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;
       CREATE TRIGGER events_never_deleted BEFORE DELETE ON events
         BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END""",
)

_INSERT = (
    "INSERT INTO events (event_id, tenant_id, timestamp_ms, event_type, principal_id, "
    "session_id, correlation_id, outcome, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT(event_id) DO NOTHING"
)


class SqliteAuditIndex:
    """Audit events in one SQLite table, insert-only, queried in append order."""

    def __init__(self, path: Path) -> None:
        self._db = Database(path, MIGRATIONS)

    async def index(self, events: Sequence[AuditEvent]) -> int:
        """Insert the events not indexed yet, in order, in one transaction.

        Returns:
            How many were new (ids already present are skipped; the stored event is kept).
        """
        rows = [_row(event) for event in events]

        def work(conn: sqlite3.Connection) -> int:
            before = conn.total_changes
            conn.executemany(_INSERT, rows)
            return conn.total_changes - before

        return await _revision.write(self._db, work) if rows else 0

    async def query(
        self, flt: AuditFilter, *, limit: int = 0, cursor: str = ""
    ) -> Page[AuditEvent]:
        """A page of the selected events in append order; the cursor is the last ``seq``.

        Raises:
            ValueError: ``cursor`` was not returned by this index.
        """
        size = page_limit(limit)
        where, params = _where(flt)
        where.append("seq > ?")
        params.append(_decode_cursor(cursor))
        rows = await self._db.execute(
            "SELECT seq, body FROM events WHERE " + " AND ".join(where) + " ORDER BY seq LIMIT ?",
            (*params, size + 1),
        )
        items = [_event(body) for _, body in rows[:size]]
        return Page(items, str(rows[size - 1][0]) if len(rows) > size else "")

    async def count(self, flt: AuditFilter) -> int:
        """How many events ``flt`` selects."""
        where, params = _where(flt)
        clause = " WHERE " + " AND ".join(where) if where else ""
        rows = await self._db.execute("SELECT COUNT(*) FROM events" + clause, params)
        return int(rows[0][0])

    async def close(self) -> None:
        """Close the file."""
        await self._db.close()


def _where(flt: AuditFilter) -> tuple[list[str], list[Any]]:
    """SQL conditions equivalent to :meth:`AuditFilter.matches`."""
    where: list[str] = []
    params: list[Any] = []
    for column, value in (
        ("tenant_id", flt.tenant_id),
        ("principal_id", flt.principal_id),
        ("session_id", flt.session_id),
        ("correlation_id", flt.correlation_id),
        ("outcome", flt.outcome),
    ):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    if flt.start_ms is not None:
        where.append("timestamp_ms >= ?")
        params.append(flt.start_ms)
    if flt.end_ms is not None:
        where.append("timestamp_ms < ?")
        params.append(flt.end_ms)
    if flt.event_types:
        where.append(f"event_type IN ({', '.join('?' * len(flt.event_types))})")
        params += flt.event_types
    return where, params


def _row(event: AuditEvent) -> tuple[Any, ...]:
    body = json.dumps(event.to_json(), separators=(",", ":"))
    return (
        *(event.event_id, event.tenant_id, event.timestamp_ms, event.event_type),
        *(event.principal_id, event.session_id, event.correlation_id, event.outcome, body),
    )


def _event(body: str) -> AuditEvent:
    """The event back from its JSON (empty fields were left out, so defaults fill them)."""
    data = json.loads(body)
    data["metadata"] = data.get("metadata", {})
    data["policy_violations"] = tuple(data.get("policy_violations", ()))
    return AuditEvent(**data)


def _decode_cursor(cursor: str) -> int:
    """The ``seq`` a cursor encodes (0 before the first page).

    Raises:
        ValueError: Not a cursor this index returned.
    """
    if not cursor:
        return 0
    if cursor.isascii() and cursor.isdigit():
        return int(cursor)
    raise ValueError(f"cursor {cursor!r} was not returned by query")
