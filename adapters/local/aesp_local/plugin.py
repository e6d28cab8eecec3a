"""The ``local`` profile's plugin: registers the SQLite realisations of the ports.

Each port keeps its own file under the Host's ``data_dir``, created on first start.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aesp.core.governance.workflows import WorkflowStore
from aesp.core.ports import (
    ApprovalStore,
    AuditIndex,
    ConfigStore,
    CostLedger,
    IdentityStore,
    PolicyStore,
    RoleStore,
    StateStore,
    TenantRegistry,
)
from aesp.core.registry import AdapterRegistry
from aesp.hookspecs import hookimpl
from aesp_local.audit_index import SqliteAuditIndex
from aesp_local.config import SqliteConfigStore
from aesp_local.cost import SqliteCostLedger
from aesp_local.governance import SqliteApprovalStore
from aesp_local.identity import SqliteIdentityStore
from aesp_local.policies import SqlitePolicyStore
from aesp_local.roles import SqliteRoleStore
from aesp_local.state import MemoryStateStore
from aesp_local.tenancy import SqliteTenantRegistry
from aesp_local.workflows import SqliteWorkflowStore

DISTRIBUTION = "aesp-local"


def _file(config: Any, name: str) -> Path:
    return Path(config.data_dir) / name


@hookimpl
def aesp_register_adapters(registry: AdapterRegistry) -> None:
    """Register every port this distribution realises for the ``local`` profile."""
    factories: dict[type, Any] = {
        TenantRegistry: lambda c: SqliteTenantRegistry(_file(c, "tenants.sqlite3")),
        IdentityStore: lambda c: SqliteIdentityStore(_file(c, "identity.sqlite3")),
        RoleStore: lambda c: SqliteRoleStore(_file(c, "roles.sqlite3")),
        PolicyStore: lambda c: SqlitePolicyStore(_file(c, "policies.sqlite3")),
        # One Host process shares nothing, so its buckets live in memory (DESIGN §5, §10).
        StateStore: lambda _c: MemoryStateStore(),
        AuditIndex: lambda c: SqliteAuditIndex(_file(c, "audit_index.sqlite3")),
        ApprovalStore: lambda c: SqliteApprovalStore(_file(c, "governance.sqlite3")),
        CostLedger: lambda c: SqliteCostLedger(_file(c, "cost.sqlite3")),
        ConfigStore: lambda c: SqliteConfigStore(_file(c, "config.sqlite3")),
        WorkflowStore: lambda c: SqliteWorkflowStore(_file(c, "workflows.sqlite3")),
    }
    for port, factory in factories.items():
        registry.add(port=port, profile="local", factory=factory, distribution=DISTRIBUTION)
