"""In-memory realisations of the ports, for tests and embedded use; they pass the same kits."""

from __future__ import annotations

from aesp.core.ports._paging import Page, page_limit
from aesp.core.ports.tenancy import Tenant


class InMemoryTenantRegistry:
    """Tenants in a dict."""

    def __init__(self) -> None:
        self._tenants: dict[str, Tenant] = {}

    async def get(self, tenant_id: str) -> Tenant | None:
        """The tenant, or None."""
        return self._tenants.get(tenant_id)

    async def put(self, tenant: Tenant) -> None:
        """Create or replace, keeping the first creation time."""
        old = self._tenants.get(tenant.tenant_id)
        if old is not None:
            tenant = Tenant(
                tenant.tenant_id,
                tenant.display_name,
                tenant.status,
                old.created_at_ms,
                tenant.updated_at_ms,
                tenant.metadata,
            )
        self._tenants[tenant.tenant_id] = tenant

    async def list(self, *, limit: int = 0, cursor: str = "") -> Page[Tenant]:
        """Tenants by id."""
        size = page_limit(limit)
        ordered = sorted(t for t in self._tenants if t > cursor)
        items = [self._tenants[t] for t in ordered[:size]]
        return Page(items, items[-1].tenant_id if len(ordered) > size else "")

    async def close(self) -> None:
        """Nothing to release."""

    def tenants(self) -> dict[str, Tenant]:
        """Everything stored, for assertions."""
        return dict(self._tenants)
