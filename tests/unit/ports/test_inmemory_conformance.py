"""The in-memory fakes pass the same conformance kits as the real adapters."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from aesp.testing.conformance.tenancy import AbstractTenantRegistryConformance
from aesp.testing.inmemory import InMemoryTenantRegistry


class TestInMemoryTenantRegistry(AbstractTenantRegistryConformance):
    @pytest.fixture
    async def port(self) -> AsyncIterator[InMemoryTenantRegistry]:
        registry = InMemoryTenantRegistry()
        yield registry
        await registry.close()
