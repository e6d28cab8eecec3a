"""A control plane over in-memory ports with a real FileAuditLog, its shipper and an index.

The audit service reads the verifiable file log (exports, proofs) and an index fed by the
shipper (queries), exactly as in a Host; only the control-plane stores are in memory.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from aesp.core.admin.audit import AuditAdmin
from aesp.core.audit import AuditEvent, FileAuditLog, MemoryAuditLog
from aesp.core.audit_shipper import AuditShipper
from aesp.core.control import PLATFORM_PERMISSION, AccessConfig, ControlPlane
from aesp.core.manifest import Manifest, ManifestStore
from aesp.core.principal import Principal
from aesp.core.rbac import RoleDefinition
from aesp.core.security import SecurityContext
from aesp.testing.inmemory import (
    InMemoryAuditIndex,
    InMemoryIdentityStore,
    InMemoryPolicyStore,
    InMemoryRoleStore,
    InMemoryTenantRegistry,
)

ROLES = (
    RoleDefinition("auditor", ("aesp:audit:*",)),
    RoleDefinition("reader", ("aesp:audit:QueryEvents",)),
    RoleDefinition("platform", ("aesp:audit:*", PLATFORM_PERMISSION)),
)
GROUPS = {"auditors": ("auditor",), "readers": ("reader",), "ops": ("platform",)}


def person(name: str, tenant: str = "acme", *groups: str) -> Principal:
    """An IdP-verified person."""
    return Principal(
        principal_id=f"oidc|https://idp|{name}@{tenant}",
        tenant_id=tenant,
        kind="client",
        name=name,
        source="oidc",
        groups=tuple(groups),
    )


def plane_over(audit: FileAuditLog | MemoryAuditLog) -> ControlPlane:
    """A control plane on in-memory stores writing to ``audit``."""
    return ControlPlane(
        identity=InMemoryIdentityStore(),
        roles=InMemoryRoleStore(),
        policies=InMemoryPolicyStore(),
        tenants=InMemoryTenantRegistry(),
        audit=audit,
        manifest=ManifestStore(Manifest("1.0.0", {}, {})),
        access=AccessConfig(roles=ROLES, group_roles=GROUPS, refresh_interval_ms=60_000),
    )


@dataclass
class World:
    """The plane, the audit service and the stores behind it."""

    plane: ControlPlane
    admin: AuditAdmin
    log: FileAuditLog
    index: InMemoryAuditIndex
    shipper: AuditShipper
    path: Path

    async def ctx(self, name: str, tenant: str = "acme", *groups: str) -> SecurityContext:
        """The security context of ``name@tenant`` in ``groups``."""
        return await self.plane.context(person(name, tenant, *groups), "cid-test")

    async def settle(self) -> None:
        """Let the writer sign what is due, then ship everything written so far."""
        await self.shipper.flush()

    def events(self, event_type: str) -> list[AuditEvent]:
        """Events of one type this process appended."""
        return [e for e in self.log.events() if e.event_type == event_type]


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    path = tmp_path / "audit.jsonl"
    log = FileAuditLog(path, checkpoint_every=1, checkpoint_interval_ms=1)
    plane = plane_over(log)
    await plane.start()
    index = InMemoryAuditIndex()
    shipper = AuditShipper(path, index)
    admin = AuditAdmin(plane, log=log, query=index, log_path=path)
    yield World(plane, admin, log, index, shipper, path)
    await plane.stop()
    await log.close()
