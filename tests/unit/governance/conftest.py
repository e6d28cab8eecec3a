"""A control plane and governance component on the in-memory fakes, with approvers in two tenants.

The fakes pass the same conformance kits as the SQLite adapters, so the workflow engine and the
admin operations are checked here against real port behaviour, without I/O.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

import pytest

from aesp.core.admin.governance import GovernanceAdmin
from aesp.core.audit import AuditEvent, MemoryAuditLog
from aesp.core.control import PLATFORM_PERMISSION, AccessConfig, ControlPlane
from aesp.core.governance import Governance, NewRequest
from aesp.core.manifest import ManifestStore, parse_manifest
from aesp.core.ports.governance import ApprovalStore
from aesp.core.principal import Principal
from aesp.core.rbac import RoleDefinition
from aesp.core.security import SecurityContext
from aesp.testing.inmemory import (
    InMemoryApprovalStore,
    InMemoryIdentityStore,
    InMemoryPolicyStore,
    InMemoryRoleStore,
    InMemoryTenantRegistry,
)
from aesp.testing.inmemory.workflows import InMemoryWorkflowStore

ECHO: dict[str, Any] = {
    "name": "echo",
    "description": "Echo a text.",
    "contract_version": "1.0.0",
    "parameters": {"type": "OBJECT", "properties": {"text": {"type": "STRING"}}},
    "security_classification": "PUBLIC",
}
ROLES = (
    RoleDefinition("gov-admin", ("aesp:governance:*", "tool:*:invoke")),
    RoleDefinition("security", ("aesp:governance:*",)),
    RoleDefinition("legal", ("aesp:governance:*",)),
    RoleDefinition("platform", ("*:*:*", PLATFORM_PERMISSION)),
    RoleDefinition("viewer", ("aesp:governance:ListPendingApprovals",)),
)
GROUPS = {
    "admins": ("gov-admin",),
    "security": ("security",),
    "legal": ("legal",),
    "ops": ("platform",),
    "viewers": ("viewer",),
}
START_MS = 1_700_000_000_000
HOUR_MS = 3_600_000


class Clock:
    """A settable Unix-millisecond clock."""

    def __init__(self, now: int = START_MS) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


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


def pid(name: str, tenant: str = "acme") -> str:
    """The principal id of :func:`person`."""
    return f"oidc|https://idp|{name}@{tenant}"


def contract(name: str = "greet", version: str = "1.0.0", **extra: Any) -> dict[str, Any]:
    """A valid contract JSON object."""
    return {
        "name": name,
        "description": f"The {name} tool.",
        "contract_version": version,
        "parameters": {"type": "OBJECT", "properties": {"who": {"type": "STRING"}}},
        "security_classification": "PUBLIC",
        **extra,
    }


def artifact(obj: Mapping[str, Any]) -> bytes:
    """JSON bytes of an artifact."""
    return json.dumps(obj).encode()


def contract_request(
    approvers: tuple[str, ...], *, min_approvals: int = 0, **contract_fields: Any
) -> NewRequest:
    """A TOOL_CONTRACT_V1 request for :func:`contract`."""
    return NewRequest(
        artifact_type="TOOL_CONTRACT_V1",
        artifact_id="",
        artifact_data=artifact(contract(**contract_fields)),
        justification="ship it",
        required_approvers=approvers,
        min_approvals=min_approvals,
    )


@dataclass
class World:
    """The plane, the governance component, its admin facade and what they wrote."""

    plane: ControlPlane
    manifest: ManifestStore
    governance: Governance
    admin: GovernanceAdmin
    store: ApprovalStore
    workflows: InMemoryWorkflowStore
    audit: MemoryAuditLog
    clock: Clock
    policies: InMemoryPolicyStore
    roles: InMemoryRoleStore

    async def ctx(self, name: str, tenant: str = "acme", *groups: str) -> SecurityContext:
        """The security context of ``name@tenant`` in ``groups``."""
        return await self.plane.context(person(name, tenant, *groups), "cid-test")

    def events(self, event_type: str | None = None) -> list[AuditEvent]:
        """Audit events, optionally of one type, oldest first."""
        return [e for e in self.audit.events() if event_type in (None, e.event_type)]


async def build_world(store: ApprovalStore | None = None) -> World:
    """A started plane over fresh fakes (``store``: another Approval store, e.g. SQLite)."""
    manifest = ManifestStore(parse_manifest({"manifest_version": "1.0.0", "contracts": [ECHO]}))
    audit = MemoryAuditLog()
    policies, roles = InMemoryPolicyStore(), InMemoryRoleStore()
    plane = ControlPlane(
        identity=InMemoryIdentityStore(),
        roles=roles,
        policies=policies,
        tenants=InMemoryTenantRegistry(),
        audit=audit,
        manifest=manifest,
        access=AccessConfig(roles=ROLES, group_roles=GROUPS, refresh_interval_ms=60_000),
    )
    await plane.start()
    clock = Clock()
    approvals = store or InMemoryApprovalStore()
    workflows = InMemoryWorkflowStore()
    governance = Governance(
        control=plane, manifest=manifest, approvals=approvals, workflows=workflows, clock_ms=clock
    )
    admin = GovernanceAdmin(plane, governance, clock_ms=clock)
    return World(
        plane, manifest, governance, admin, approvals, workflows, audit, clock, policies, roles
    )


@pytest.fixture
async def world() -> AsyncIterator[World]:
    built = await build_world()
    yield built
    await built.governance.stop()
    await built.plane.stop()
