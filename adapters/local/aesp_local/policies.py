"""The Policy port on SQLite (``data_dir/policies.sqlite3``): immutable policy versions.

Two tables: ``policy_versions`` holds every version ever stored (never updated, SPEC item 164),
``policies`` holds one row per ``(tenant_id, policy_id)`` with the latest version and the
soft-delete flag, so "latest of each" is a join rather than a ``MAX(revision)`` per group.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aesp.core.policy.model import Effect, PolicyDefinition
from aesp.core.ports._cursors import decode_pair_cursor, encode_pair_cursor
from aesp.core.ports._paging import Page, page_limit
from aesp.core.ports.policy import StoredPolicy, VersionExistsError, normalised
from aesp_local import _revision
from aesp_local._db import Database

MIGRATIONS = (
    """CREATE TABLE policy_versions (
         tenant_id TEXT NOT NULL,
         policy_id TEXT NOT NULL,
         version TEXT NOT NULL,
         revision INTEGER NOT NULL UNIQUE,
         created_at_ms INTEGER NOT NULL,
         created_by TEXT NOT NULL,
         name TEXT NOT NULL,
         applies_to TEXT NOT NULL,
         actions TEXT NOT NULL,
         effect TEXT NOT NULL,
         condition TEXT NOT NULL,
         enabled INTEGER NOT NULL,
         description TEXT NOT NULL,
         PRIMARY KEY (tenant_id, policy_id, version)
       );
       CREATE TABLE policies (
         tenant_id TEXT NOT NULL,
         policy_id TEXT NOT NULL,
         latest_version TEXT NOT NULL,
         deleted INTEGER NOT NULL,
         deleted_at_ms INTEGER NOT NULL,
         PRIMARY KEY (tenant_id, policy_id)
       );
       """
    + _revision.REVISION_TABLE,
    # 2: PolicyRule.parameters (REQUIRE_APPROVAL's approvers), JSON object of strings.
    "ALTER TABLE policy_versions ADD COLUMN parameters TEXT NOT NULL DEFAULT '{}'",
)

_SELECT = (
    "SELECT v.tenant_id, v.policy_id, v.version, v.name, v.applies_to, v.actions, v.effect, "
    "v.condition, v.enabled, v.description, v.revision, v.created_at_ms, v.created_by, p.deleted, "
    "v.parameters "
    "FROM policy_versions v JOIN policies p "
    "ON p.tenant_id = v.tenant_id AND p.policy_id = v.policy_id"
)
_LATEST = _SELECT + " AND v.version = p.latest_version"


class SqlitePolicyStore:
    """Policy versions in one SQLite file, with a revision bumped by every write."""

    def __init__(self, path: Path) -> None:
        self._db = Database(path, MIGRATIONS)

    async def add_version(
        self, definition: PolicyDefinition, *, created_by: str, at_ms: int
    ) -> StoredPolicy:
        """Store a new version, make it the latest and undelete the policy, in one transaction.

        Raises:
            VersionExistsError: That version is already stored (nothing changes).
            ValueError: ``definition.effect`` is not ALLOW, DENY, AUDIT or REQUIRE_APPROVAL.
        """
        d = normalised(definition)

        def work(conn: sqlite3.Connection) -> StoredPolicy:
            exists = conn.execute(
                "SELECT 1 FROM policy_versions WHERE tenant_id = ? AND policy_id = ? "
                "AND version = ?",
                (d.tenant_id, d.policy_id, d.version),
            ).fetchone()
            if exists:
                raise VersionExistsError(
                    f"policy {d.policy_id!r} of tenant {d.tenant_id!r} already has version "
                    f"{d.version!r}; versions are immutable, store a new version instead"
                )
            revision = _revision.bump(conn)
            conn.execute(
                "INSERT INTO policy_versions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    *(d.tenant_id, d.policy_id, d.version, revision, at_ms, created_by, d.name),
                    *(json.dumps(list(d.applies_to)), json.dumps(list(d.actions))),
                    *(str(d.effect), d.condition, int(d.enabled), d.description),
                    json.dumps(dict(d.parameters), sort_keys=True),
                ),
            )
            conn.execute(
                "INSERT INTO policies VALUES (?, ?, ?, 0, 0) "
                "ON CONFLICT(tenant_id, policy_id) DO UPDATE SET "
                "latest_version = excluded.latest_version, deleted = 0, deleted_at_ms = 0",
                (d.tenant_id, d.policy_id, d.version),
            )
            return StoredPolicy(d, revision, at_ms, created_by)

        return await _revision.write(self._db, work)

    async def get(self, tenant_id: str, policy_id: str, version: str = "") -> StoredPolicy | None:
        """One version (``""`` = latest), or None; only the owning tenant finds it."""
        where = " WHERE v.tenant_id = ? AND v.policy_id = ?"
        if version:
            rows = await self._db.execute(
                _SELECT + where + " AND v.version = ?", (tenant_id, policy_id, version)
            )
        else:
            rows = await self._db.execute(_LATEST + where, (tenant_id, policy_id))
        return _stored(rows[0]) if rows else None

    async def versions(self, tenant_id: str, policy_id: str) -> Sequence[StoredPolicy]:
        """Every version, oldest (lowest revision) first."""
        rows = await self._db.execute(
            _SELECT + " WHERE v.tenant_id = ? AND v.policy_id = ? ORDER BY v.revision",
            (tenant_id, policy_id),
        )
        return [_stored(r) for r in rows]

    async def list_latest(
        self,
        *,
        tenant_id: str | None,
        include_deleted: bool = False,
        limit: int = 0,
        cursor: str = "",
    ) -> Page[StoredPolicy]:
        """Latest versions ordered by ``(tenant_id, policy_id)``; the cursor is that pair as JSON.

        Raises:
            ValueError: ``cursor`` was not returned by this store.
        """
        size = page_limit(limit)
        clauses: list[str] = []
        params: list[Any] = []
        if tenant_id is not None:
            clauses.append("p.tenant_id = ?")
            params.append(tenant_id)
        if not include_deleted:
            clauses.append("p.deleted = 0")
        after = decode_pair_cursor(cursor, "list_latest")
        if after is not None:
            clauses.append("(p.tenant_id > ? OR (p.tenant_id = ? AND p.policy_id > ?))")
            params += [after[0], after[0], after[1]]
        where = " WHERE " + " AND ".join(clauses) if clauses else ""
        rows = await self._db.execute(
            _LATEST + where + " ORDER BY p.tenant_id, p.policy_id LIMIT ?", (*params, size + 1)
        )
        items = [_stored(r) for r in rows[:size]]
        last = items[-1].definition if len(rows) > size else None
        return Page(items, encode_pair_cursor(last.tenant_id, last.policy_id) if last else "")

    async def delete(self, tenant_id: str, policy_id: str, *, at_ms: int) -> bool:
        """Mark the policy deleted; False if unknown or already deleted (no revision bump)."""

        def work(conn: sqlite3.Connection) -> bool:
            changed = conn.execute(
                "UPDATE policies SET deleted = 1, deleted_at_ms = ? "
                "WHERE tenant_id = ? AND policy_id = ? AND deleted = 0",
                (at_ms, tenant_id, policy_id),
            ).rowcount
            if changed:
                _revision.bump(conn)
            return bool(changed)

        return await _revision.write(self._db, work)

    async def active(self) -> Sequence[PolicyDefinition]:
        """Latest version of each live, enabled policy, ordered by ``(tenant_id, policy_id)``."""
        rows = await self._db.execute(
            _LATEST + " WHERE p.deleted = 0 AND v.enabled = 1 ORDER BY p.tenant_id, p.policy_id"
        )
        return [_stored(r).definition for r in rows]

    async def revision(self) -> int:
        """Bumped in the same transaction as every write."""
        return await self._db.run(_revision.current)

    async def close(self) -> None:
        """Close the file."""
        await self._db.close()


def _stored(row: Sequence[Any]) -> StoredPolicy:
    (tenant, policy, version, name, applies_to, actions, effect, condition, enabled) = row[:9]
    description, revision, created_at_ms, created_by, deleted, parameters = row[9:]
    definition = PolicyDefinition(
        policy_id=str(policy),
        name=str(name),
        version=str(version),
        tenant_id=str(tenant),
        applies_to=tuple(json.loads(str(applies_to))),
        effect=Effect(str(effect)),
        condition=str(condition),
        actions=tuple(json.loads(str(actions))),
        enabled=bool(enabled),
        description=str(description),
        parameters={str(k): str(v) for k, v in json.loads(str(parameters)).items()},
    )
    return StoredPolicy(
        definition, int(revision), int(created_at_ms), str(created_by), bool(deleted)
    )
