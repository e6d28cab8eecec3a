"""In-memory fakes of every port, for tests (they pass the same conformance kits as adapters)."""

from aesp.testing.inmemory.identity import InMemoryIdentityStore
from aesp.testing.inmemory.policy import InMemoryPolicyStore
from aesp.testing.inmemory.rbac import InMemoryRoleStore
from aesp.testing.inmemory.tenancy import InMemoryTenantRegistry

__all__ = [
    "InMemoryIdentityStore",
    "InMemoryPolicyStore",
    "InMemoryRoleStore",
    "InMemoryTenantRegistry",
]
