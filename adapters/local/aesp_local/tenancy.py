"""The Tenant port on SQLite (``data_dir/tenants.sqlite3``)."""

from __future__ import annotations

import json
from pathlib import Path

from aesp.core.ports._paging import Page, page_limit
from aesp.core.ports.tenancy import Tenant, TenantStatus
from aesp_local._db import Database

MIGRATIONS = (
    """CREATE TABLE tenants (
         tenant_id TEXT PRIMARY KEY,
         display_name TEXT NOT NULL,
         status TEXT NOT NULL,
         created_at_ms INTEGER NOT NULL,
         updated_at_ms INTEGER NOT NULL,
         metadata TEXT NOT NULL
       )""",
)


class SqliteTenantRegistry:
    """Tenants in one SQLite table."""

    def __init__(self, path: Path) -> None:
        self._db = Database(path, MIGRATIONS)

    async def get(self, tenant_id: str) -> Tenant | None:
        """The tenant, or None."""
        rows = await self._db.execute(
            "SELECT tenant_id, display_name, status, created_at_ms, updated_at_ms, metadata "
            "FROM tenants WHERE tenant_id = ?",
            (tenant_id,),
        )
        return _tenant(rows[0]) if rows else None

    async def put(self, tenant: Tenant) -> None:
        """Create or replace (keeps the original creation time)."""
        await self._db.execute(
            "INSERT INTO tenants VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(tenant_id) DO UPDATE SET "
            "display_name = excluded.display_name, status = excluded.status, "
            "updated_at_ms = excluded.updated_at_ms, metadata = excluded.metadata",
            (
                tenant.tenant_id,
                tenant.display_name,
                tenant.status.value,
                tenant.created_at_ms,
                tenant.updated_at_ms,
                json.dumps(dict(tenant.metadata), sort_keys=True),
            ),
        )

    async def list(self, *, limit: int = 0, cursor: str = "") -> Page[Tenant]:
        """Tenants by id; the cursor is the last id of the previous page."""
        size = page_limit(limit)
        rows = await self._db.execute(
            "SELECT tenant_id, display_name, status, created_at_ms, updated_at_ms, metadata "
            "FROM tenants WHERE tenant_id > ? ORDER BY tenant_id LIMIT ?",
            (cursor, size + 1),
        )
        items = [_tenant(r) for r in rows[:size]]
        return Page(items, items[-1].tenant_id if len(rows) > size else "")

    async def close(self) -> None:
        """Close the file."""
        await self._db.close()


def _tenant(row: tuple[object, ...]) -> Tenant:
    tenant_id, name, status, created, updated, metadata = row
    return Tenant(
        tenant_id=str(tenant_id),
        display_name=str(name),
        status=TenantStatus(str(status)),
        created_at_ms=int(created),  # type: ignore[call-overload]
        updated_at_ms=int(updated),  # type: ignore[call-overload]
        metadata=json.loads(str(metadata)),
    )
