"""The RBAC port on SQLite (``data_dir/roles.sqlite3``): role definitions and assignments.

Tuples (permissions, parents, held roles) are stored as JSON arrays: they are only ever read
whole, to build an :class:`~aesp.core.rbac.RbacSnapshot`, so a join table would buy nothing.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from aesp.core.rbac import RoleDefinition
from aesp_local import _revision
from aesp_local._db import Database

MIGRATIONS = (
    """CREATE TABLE roles (
         tenant_id TEXT NOT NULL,
         name TEXT NOT NULL,
         permissions TEXT NOT NULL,
         parents TEXT NOT NULL,
         PRIMARY KEY (tenant_id, name)
       );
       CREATE TABLE assignments (
         tenant_id TEXT NOT NULL,
         principal_id TEXT NOT NULL,
         roles TEXT NOT NULL,
         PRIMARY KEY (tenant_id, principal_id)
       );
       """
    + _revision.REVISION_TABLE,
)


class SqliteRoleStore:
    """Roles and assignments in one SQLite file, with a revision bumped by every write."""

    def __init__(self, path: Path) -> None:
        self._db = Database(path, MIGRATIONS)

    async def put_role(self, role: RoleDefinition) -> None:
        """Create or replace a role."""
        row = (
            role.tenant_id,
            role.name,
            json.dumps(list(role.permissions)),
            json.dumps(list(role.parents)),
        )

        def work(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO roles VALUES (?, ?, ?, ?) ON CONFLICT(tenant_id, name) DO UPDATE "
                "SET permissions = excluded.permissions, parents = excluded.parents",
                row,
            )
            _revision.bump(conn)

        await _revision.write(self._db, work)

    async def delete_role(self, tenant_id: str, name: str) -> bool:
        """Delete a role; False (and no revision bump: nothing changed) if it did not exist."""

        def work(conn: sqlite3.Connection) -> bool:
            deleted = conn.execute(
                "DELETE FROM roles WHERE tenant_id = ? AND name = ?", (tenant_id, name)
            ).rowcount
            if deleted:
                _revision.bump(conn)
            return bool(deleted)

        return await _revision.write(self._db, work)

    async def roles(self) -> Sequence[RoleDefinition]:
        """Every role, ordered by ``(tenant_id, name)``."""
        rows = await self._db.execute(
            "SELECT tenant_id, name, permissions, parents FROM roles ORDER BY tenant_id, name"
        )
        return [_role(r) for r in rows]

    async def set_assignment(
        self, principal_id: str, *, tenant_id: str, roles: Sequence[str]
    ) -> None:
        """Replace the principal's roles in the tenant; sorted and de-duplicated, empty removes."""
        held = sorted(set(roles))

        def work(conn: sqlite3.Connection) -> None:
            if held:
                conn.execute(
                    "INSERT INTO assignments VALUES (?, ?, ?) "
                    "ON CONFLICT(tenant_id, principal_id) DO UPDATE SET roles = excluded.roles",
                    (tenant_id, principal_id, json.dumps(held)),
                )
            else:
                conn.execute(
                    "DELETE FROM assignments WHERE tenant_id = ? AND principal_id = ?",
                    (tenant_id, principal_id),
                )
            _revision.bump(conn)

        await _revision.write(self._db, work)

    async def assignments(self) -> Mapping[tuple[str, str], tuple[str, ...]]:
        """``(tenant_id, principal_id)`` → sorted role names, ordered by key."""
        rows = await self._db.execute(
            "SELECT tenant_id, principal_id, roles FROM assignments "
            "ORDER BY tenant_id, principal_id"
        )
        return {(str(t), str(p)): tuple(json.loads(str(r))) for t, p, r in rows}

    async def revision(self) -> int:
        """Bumped in the same transaction as every write."""
        return await self._db.run(_revision.current)

    async def close(self) -> None:
        """Close the file."""
        await self._db.close()


def _role(row: Sequence[Any]) -> RoleDefinition:
    tenant_id, name, permissions, parents = row
    return RoleDefinition(
        name=str(name),
        permissions=tuple(json.loads(str(permissions))),
        parents=tuple(json.loads(str(parents))),
        tenant_id=str(tenant_id),
    )
