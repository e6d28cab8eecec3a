"""Conformance kit for the Tenant port (SPEC §3.14, checklist 180-186)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from aesp.core.ports.tenancy import Tenant, TenantRegistry, TenantStatus


class AbstractTenantRegistryConformance:
    """Behaviour every TenantRegistry must show. Subclasses provide the ``port`` fixture."""

    @pytest.fixture
    def port(self) -> Any:  # pragma: no cover - overridden
        """Yield a fresh, empty TenantRegistry."""
        raise AssertionError("the adapter's test class must override the 'port' fixture")

    async def test_is_a_tenant_registry(self, port: TenantRegistry) -> None:
        assert isinstance(port, TenantRegistry)

    async def test_unknown_tenant_is_none(self, port: TenantRegistry) -> None:
        assert await port.get("nobody") is None

    async def test_put_then_get_round_trips(self, port: TenantRegistry) -> None:
        tenant = Tenant("acme", "Acme Corp", TenantStatus.ACTIVE, 1, 1, {"tier": "gold"})
        await port.put(tenant)
        assert await port.get("acme") == tenant

    async def test_put_is_idempotent_and_updates_keep_creation_time(
        self, port: TenantRegistry
    ) -> None:
        await port.put(Tenant("acme", "Acme", TenantStatus.ACTIVE, 10, 10))
        await port.put(Tenant("acme", "Acme", TenantStatus.ACTIVE, 10, 10))
        await port.put(Tenant("acme", "Acme", TenantStatus.SUSPENDED, 99, 20))
        got = await port.get("acme")
        assert got is not None
        assert got.status is TenantStatus.SUSPENDED
        assert (got.created_at_ms, got.updated_at_ms) == (10, 20)

    async def test_tenants_never_mix(self, port: TenantRegistry) -> None:
        await port.put(Tenant("a", "A"))
        await port.put(Tenant("b", "B", TenantStatus.SUSPENDED))
        a, b = await port.get("a"), await port.get("b")
        assert a is not None and b is not None
        assert (a.display_name, a.status) == ("A", TenantStatus.ACTIVE)
        assert (b.display_name, b.status) == ("B", TenantStatus.SUSPENDED)

    async def test_list_pages_in_id_order_without_gaps_or_repeats(
        self, port: TenantRegistry
    ) -> None:
        ids = [f"t{i:03d}" for i in range(25)]
        await asyncio.gather(*(port.put(Tenant(i)) for i in reversed(ids)))
        seen: list[str] = []
        cursor = ""
        while True:
            page = await port.list(limit=10, cursor=cursor)
            seen += [t.tenant_id for t in page.items]
            assert len(page.items) <= 10
            if not page.next_cursor:
                break
            cursor = page.next_cursor
        assert seen == ids

    async def test_invalid_tenant_ids_cannot_be_built(self) -> None:
        for bad in ("", "Acme", "a/b", "../x", "x" * 64, "a b"):
            with pytest.raises(ValueError, match="tenant id"):
                Tenant(bad)
