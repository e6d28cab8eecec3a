"""The Config port on SQLite (``data_dir/config.sqlite3``): every version of every key.

One table holds the whole history; its primary key is the store-wide ``revision``, taken from the
one-row counter (:mod:`aesp_local._revision`) inside the ``BEGIN IMMEDIATE`` transaction that
checks the key's latest version and appends the next one. Writers on one file serialise on that
lock, so revisions commit in order and :meth:`SqliteConfigStore.changes_since` never skips a
change that commits late. Triggers refuse any UPDATE or DELETE: history is append-only.

Sensitive values are stored as given (the file's permissions protect them, as they protect the
other ports' files); masking them for readers is the core's job.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from aesp.core.ports._config_rules import check_expected_version, describe
from aesp.core.ports._cursors import decode_number, encode_number
from aesp.core.ports._errors import ConcurrentChangeError
from aesp.core.ports._paging import Page, page_limit
from aesp.core.ports.config import ConfigDataType, ConfigEntry
from aesp_local import _revision
from aesp_local._db import Database

MIGRATIONS = (
    """CREATE TABLE config_versions (
         revision INTEGER PRIMARY KEY,
         tenant_id TEXT NOT NULL,
         key TEXT NOT NULL,
         version INTEGER NOT NULL CHECK (version > 0),
         value TEXT NOT NULL,
         data_type TEXT NOT NULL,
         sensitive INTEGER NOT NULL,
         changed_by TEXT NOT NULL,
         change_reason TEXT NOT NULL,
         changed_at_ms INTEGER NOT NULL,
         approval_request_id TEXT NOT NULL,
         UNIQUE (tenant_id, key, version)
       );
       CREATE TRIGGER config_versions_no_update BEFORE UPDATE ON config_versions
         BEGIN SELECT RAISE(ABORT, 'configuration history is append-only'); END;
       CREATE TRIGGER config_versions_no_delete BEFORE DELETE ON config_versions
         BEGIN SELECT RAISE(ABORT, 'configuration history is append-only'); END;
       """
    + _revision.REVISION_TABLE,
)

_FIELDS = (
    *("tenant_id", "key", "value", "data_type", "sensitive", "version", "changed_by"),
    *("change_reason", "changed_at_ms", "approval_request_id", "revision"),
)  # = ConfigEntry's fields, in order
_COLUMNS = ", ".join(_FIELDS)
_SELECT = f"SELECT {_COLUMNS} FROM config_versions"
_INSERT = f"INSERT INTO config_versions ({_COLUMNS}) VALUES ({', '.join('?' * len(_FIELDS))})"


class SqliteConfigStore:
    """Configuration history in one SQLite file, shared safely by several Hosts."""

    def __init__(self, path: Path) -> None:
        self._db = Database(path, MIGRATIONS)

    async def set(self, entry: ConfigEntry, *, expected_version: int) -> ConfigEntry:
        """Append the key's next version in one transaction, if its latest is
        ``expected_version``.

        Raises:
            ConcurrentChangeError: The latest version differs; nothing is written.
            ValueError: ``expected_version`` is negative.
        """
        check_expected_version(expected_version)

        def work(conn: sqlite3.Connection) -> ConfigEntry:
            (latest,) = conn.execute(
                "SELECT COALESCE(MAX(version), 0) FROM config_versions "
                "WHERE tenant_id = ? AND key = ?",
                (entry.tenant_id, entry.key),
            ).fetchone()
            if latest != expected_version:
                raise ConcurrentChangeError(
                    describe(entry.tenant_id, entry.key),
                    expected=expected_version,
                    actual=int(latest),
                )
            stored = replace(entry, version=expected_version + 1, revision=_revision.bump(conn))
            conn.execute(_INSERT, _row(stored))
            return stored

        return await _revision.write(self._db, work)

    async def get(self, tenant_id: str, key: str, version: int = 0) -> ConfigEntry | None:
        """One version (0 = latest), or None."""
        if version == 0:
            rows = await self._db.execute(
                _SELECT + " WHERE tenant_id = ? AND key = ? ORDER BY version DESC LIMIT 1",
                (tenant_id, key),
            )
        else:
            rows = await self._db.execute(
                _SELECT + " WHERE tenant_id = ? AND key = ? AND version = ?",
                (tenant_id, key, version),
            )
        return _entry(rows[0]) if rows else None

    async def history(
        self, tenant_id: str, key: str, *, limit: int = 0, cursor: str = ""
    ) -> Page[ConfigEntry]:
        """Versions newest first; the cursor is the last version handed out.

        Raises:
            ValueError: ``cursor`` was not returned by ``history``.
        """
        size = page_limit(limit)
        before = decode_number(cursor, "history") or 2**63 - 1  # SQLite's largest integer
        rows = await self._db.execute(
            _SELECT + " WHERE tenant_id = ? AND key = ? AND version < ? "
            "ORDER BY version DESC LIMIT ?",
            (tenant_id, key, before, size + 1),
        )
        items = [_entry(r) for r in rows[:size]]
        return Page(items, encode_number(items[-1].version) if len(rows) > size else "")

    async def list_keys(
        self, tenant_id: str, *, limit: int = 0, cursor: str = ""
    ) -> Page[ConfigEntry]:
        """The latest version of each key of the tenant, by key; the cursor is the last key."""
        size = page_limit(limit)
        rows = await self._db.execute(
            f"SELECT {', '.join('v.' + c for c in _FIELDS)} "
            "FROM config_versions v JOIN ("
            "  SELECT key, MAX(version) AS latest FROM config_versions"
            "  WHERE tenant_id = ? AND key > ? GROUP BY key ORDER BY key LIMIT ?"
            ") l ON v.key = l.key AND v.version = l.latest "
            "WHERE v.tenant_id = ? ORDER BY v.key",
            (tenant_id, cursor, size + 1, tenant_id),
        )
        items = [_entry(r) for r in rows[:size]]
        return Page(items, items[-1].key if len(rows) > size else "")

    async def changes_since(
        self, revision: int, *, tenant_id: str | None = None, limit: int = 0
    ) -> Sequence[ConfigEntry]:
        """Writes after ``revision`` in revision order, at most one page."""
        where = " WHERE revision > ?"
        params: list[object] = [revision]
        if tenant_id is not None:
            where += " AND tenant_id = ?"
            params.append(tenant_id)
        rows = await self._db.execute(
            _SELECT + where + " ORDER BY revision LIMIT ?", (*params, page_limit(limit))
        )
        return [_entry(r) for r in rows]

    async def revision(self) -> int:
        """Bumped in the same transaction as every write: the latest entry's revision."""
        return await self._db.run(_revision.current)

    async def close(self) -> None:
        """Close the file."""
        await self._db.close()


def _row(e: ConfigEntry) -> tuple[object, ...]:
    return (
        *(e.tenant_id, e.key, e.value, e.data_type.value, int(e.sensitive), e.version),
        *(e.changed_by, e.change_reason, e.changed_at_ms, e.approval_request_id, e.revision),
    )


def _entry(row: Sequence[Any]) -> ConfigEntry:
    tenant, key, value, data_type, sensitive, version, changed_by, reason, at, approval = row[:10]
    return ConfigEntry(
        tenant_id=str(tenant),
        key=str(key),
        value=str(value),
        data_type=ConfigDataType(str(data_type)),
        sensitive=bool(sensitive),
        version=int(version),
        changed_by=str(changed_by),
        change_reason=str(reason),
        changed_at_ms=int(at),
        approval_request_id=str(approval),
        revision=int(row[10]),
    )
