"""One port per control-plane component (DESIGN §5): the interfaces adapters realise.

Each module holds one component's Protocol(s) and the frozen dataclasses that cross it; nothing
here names a cloud or an SDK. The conformance kit of each port is in
:mod:`aesp.testing.conformance`, its in-memory fake in :mod:`aesp.testing.inmemory`.
"""

from aesp.core.ports.audit import (
    AuditArchive,
    AuditIndex,
    AuditLog,
    AuditQuery,
    AuditSegment,
    AuditSink,
    CheckpointSigner,
)
from aesp.core.ports.config import ConfigStore
from aesp.core.ports.cost import CostLedger
from aesp.core.ports.governance import ApprovalStore
from aesp.core.ports.identity import IdentityStore
from aesp.core.ports.policy import PolicyStore
from aesp.core.ports.rbac import RoleStore
from aesp.core.ports.state import RuntimeRecord, SessionRecord, StateStore
from aesp.core.ports.tenancy import TenantRegistry

__all__ = [
    "ApprovalStore",
    "AuditArchive",
    "AuditIndex",
    "AuditLog",
    "AuditQuery",
    "AuditSegment",
    "AuditSink",
    "CheckpointSigner",
    "ConfigStore",
    "CostLedger",
    "IdentityStore",
    "PolicyStore",
    "RoleStore",
    "RuntimeRecord",
    "SessionRecord",
    "StateStore",
    "TenantRegistry",
]
