"""In-memory fakes of every port, for tests (they pass the same conformance kits as adapters)."""

from aesp.testing.inmemory.tenancy import InMemoryTenantRegistry

__all__ = ["InMemoryTenantRegistry"]
