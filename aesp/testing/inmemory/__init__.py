"""In-memory fakes of every port, for tests (they pass the same conformance kits as adapters)."""

from aesp.testing.inmemory.audit import InMemoryAuditIndex
from aesp.testing.inmemory.config import InMemoryConfigStore
from aesp.testing.inmemory.cost import InMemoryCostLedger
from aesp.testing.inmemory.governance import InMemoryApprovalStore
from aesp.testing.inmemory.identity import InMemoryIdentityStore
from aesp.testing.inmemory.policy import InMemoryPolicyStore
from aesp.testing.inmemory.rbac import InMemoryRoleStore
from aesp.testing.inmemory.tenancy import InMemoryTenantRegistry

__all__ = [
    "InMemoryApprovalStore",
    "InMemoryAuditIndex",
    "InMemoryConfigStore",
    "InMemoryCostLedger",
    "InMemoryIdentityStore",
    "InMemoryPolicyStore",
    "InMemoryRoleStore",
    "InMemoryTenantRegistry",
]
