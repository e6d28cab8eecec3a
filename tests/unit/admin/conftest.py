"""A control plane on the in-memory fakes, with callers of several roles in two tenants.

The fakes pass the same conformance kits as the SQLite adapter, so the admin operations are
checked here against real port behaviour, without I/O.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from aesp.core.admin import IdentityAdmin, PolicyAdmin
from aesp.core.audit import AuditEvent, MemoryAuditLog
from aesp.core.control import PLATFORM_PERMISSION, AccessConfig, ControlPlane
from aesp.core.manifest import ManifestStore, parse_manifest
from aesp.core.principal import Principal
from aesp.core.rbac import RoleDefinition
from aesp.core.security import SecurityContext
from aesp.testing.inmemory import (
    InMemoryIdentityStore,
    InMemoryPolicyStore,
    InMemoryRoleStore,
    InMemoryTenantRegistry,
)

TRANSFER: dict[str, Any] = {
    "name": "transfer",
    "description": "Move money.",
    "parameters": {
        "type": "OBJECT",
        "properties": {
            "amount": {"type": "INTEGER"},
            "to": {"type": "STRING"},
            "memo": {"type": "STRING"},
        },
        "required": ["amount", "to"],
    },
    "security_classification": "PUBLIC",
}
LOOKUP: dict[str, Any] = {
    "name": "lookup",
    "description": "Look something up.",
    "parameters": {"type": "OBJECT", "properties": {"q": {"type": "STRING"}}, "required": ["q"]},
    "security_classification": "PUBLIC",
}
ROLES = (
    RoleDefinition("reader", ("tool:lookup:invoke",)),
    RoleDefinition("treasurer", ("tool:transfer:invoke",), ("reader",)),
    RoleDefinition("identity-admin", ("aesp:identity:*",)),
    RoleDefinition("policy-admin", ("aesp:policy:*",)),
    RoleDefinition("platform", ("*:*:*", PLATFORM_PERMISSION)),
    RoleDefinition("viewer", ("aesp:identity:ListPrincipals", "aesp:policy:GetPolicy")),
    RoleDefinition("auditor", ("aesp:identity:GetPrincipalAuditTrail",), tenant_id="globex"),
)
GROUPS = {
    "admins": ("identity-admin", "policy-admin", "reader"),
    "ops": ("platform",),
    "viewers": ("viewer",),
    "staff": ("reader",),
}
PEPPER = bytes(range(32))  # fixed: the conftest module may be imported twice


class Clock:
    """A settable Unix-millisecond clock."""

    def __init__(self, now: int = 1_700_000_000_000) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


@dataclass
class Admin:
    """The plane and both admin facades over it."""

    plane: ControlPlane
    identity: IdentityAdmin
    policy: PolicyAdmin
    audit: MemoryAuditLog
    clock: Clock
    accounts: InMemoryIdentityStore
    policies: InMemoryPolicyStore

    async def ctx(self, name: str, tenant: str = "acme", *groups: str) -> SecurityContext:
        """The security context of ``name@tenant`` in ``groups`` (provisioned on first use)."""
        return await self.plane.context(person(name, tenant, *groups), "cid-test")

    def events(self, event_type: str | None = None) -> list[AuditEvent]:
        """Audit events, optionally of one type."""
        return [e for e in self.audit.events() if event_type in (None, e.event_type)]


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


@pytest.fixture
async def admin() -> AsyncIterator[Admin]:
    manifest = ManifestStore(
        parse_manifest({"manifest_version": "1.0.0", "contracts": [TRANSFER, LOOKUP]})
    )
    audit = MemoryAuditLog()
    accounts, policies = InMemoryIdentityStore(), InMemoryPolicyStore()
    plane = ControlPlane(
        identity=accounts,
        roles=InMemoryRoleStore(),
        policies=policies,
        tenants=InMemoryTenantRegistry(),
        audit=audit,
        manifest=manifest,
        access=AccessConfig(roles=ROLES, group_roles=GROUPS, refresh_interval_ms=60_000),
    )
    await plane.start()
    clock = Clock()
    identity = IdentityAdmin(plane, pepper=PEPPER, clock_ms=clock)
    policy = PolicyAdmin(plane, manifest, clock_ms=clock, approvals=None)  # "direct"
    yield Admin(plane, identity, policy, audit, clock, accounts, policies)
    await plane.stop()
