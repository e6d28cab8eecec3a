"""The control plane: security context, RBAC + policy decision, admin authorisation, snapshots.

Runs on the in-memory fakes of every port (they pass the same conformance kits as the SQLite
adapter), so each rule is checked without I/O.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from aesp.core.audit import MemoryAuditLog
from aesp.core.contracts import ToolContract
from aesp.core.control import PLATFORM_PERMISSION, AccessConfig, CallFacts, ControlPlane
from aesp.core.errors import AespError
from aesp.core.manifest import ManifestStore, parse_manifest
from aesp.core.policy import Effect, PolicyDefinition
from aesp.core.ports.identity import DIRECTORY_GROUPS, PrincipalRecord
from aesp.core.ports.tenancy import Tenant, TenantStatus
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
        "properties": {"amount": {"type": "INTEGER"}, "to": {"type": "STRING"}},
        "required": ["amount", "to"],
    },
    "security_classification": "CONFIDENTIAL",
    "required_roles": ["treasurer"],
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
    RoleDefinition("platform", ("aesp:*:*", PLATFORM_PERMISSION)),
)


def alice(tenant: str = "acme", **kw: Any) -> Principal:
    return Principal(
        principal_id=f"oidc|https://idp|alice@{tenant}",
        tenant_id=tenant,
        kind="client",
        name="alice",
        source="oidc",
        **kw,
    )


@pytest.fixture
async def plane() -> AsyncIterator[ControlPlane]:
    manifest = ManifestStore(
        parse_manifest({"manifest_version": "1.0.0", "contracts": [TRANSFER, LOOKUP]})
    )
    cp = ControlPlane(
        identity=InMemoryIdentityStore(),
        roles=InMemoryRoleStore(),
        policies=InMemoryPolicyStore(),
        tenants=InMemoryTenantRegistry(),
        audit=MemoryAuditLog(),
        manifest=manifest,
        access=AccessConfig(
            roles=ROLES,
            group_roles={"finance": ("treasurer",), "staff": ("reader",)},
            group_clearance={"finance": "CONFIDENTIAL"},
            refresh_interval_ms=50,
        ),
    )
    await cp.start()
    yield cp
    await cp.stop()


def contract(cp: ControlPlane, name: str) -> ToolContract:
    found = cp._manifest.current.get(name)  # noqa: SLF001 - the test reads its own fixture
    assert found is not None
    return found


def event_types(cp: ControlPlane) -> list[str]:
    return [e.event_type for e in cp.audit.events()]


# ---------------------------------------------------------------- the security context


async def test_first_use_provisions_tenant_and_principal_and_audits_both(
    plane: ControlPlane,
) -> None:
    ctx = await plane.context(alice(groups=("finance",)), "cid-1")
    assert (ctx.tenant_id, ctx.security_clearance) == ("acme", "CONFIDENTIAL")
    assert ctx.roles == ("reader", "treasurer")  # mapped role plus its inherited parent
    assert "tool:transfer:invoke" in ctx.permissions
    assert await plane.tenants.get("acme") is not None
    assert await plane.identity.get_principal(ctx.principal_id) is not None
    assert event_types(plane) == ["TENANT_PROVISION", "PRINCIPAL_PROVISION"]
    await plane.context(alice(groups=("finance",)))
    assert len(plane.audit.events()) == 2  # provisioned once


async def test_item_c54_roles_claimed_by_the_caller_are_ignored(plane: ControlPlane) -> None:
    ctx = await plane.context(alice(claims={"roles": "platform", "tenant": "globex"}))
    assert ctx.roles == ()
    assert ctx.tenant_id == "acme"
    assert not plane.is_platform(ctx)


async def test_suspended_tenant_is_refused(plane: ControlPlane) -> None:
    await plane.tenants.put(Tenant("acme", status=TenantStatus.SUSPENDED))
    await plane.tenants_changed()
    with pytest.raises(AespError) as info:
        await plane.context(alice())
    assert info.value.code == "TENANT_SUSPENDED"


async def test_item_150_disabled_principal_is_refused(plane: ControlPlane) -> None:
    ctx = await plane.context(alice())
    record = await plane.identity.get_principal(ctx.principal_id)
    assert record is not None
    await plane.identity.put_principal(dataclasses.replace(record, active=False))
    await plane.identity_changed()
    with pytest.raises(AespError) as info:
        await plane.context(alice())
    assert info.value.code == "ACCOUNT_LOCKED"


async def test_a_record_of_another_tenant_is_tenant_access_denied(plane: ControlPlane) -> None:
    await plane.identity.put_principal(PrincipalRecord(alice().principal_id, "globex"))
    with pytest.raises(AespError) as info:
        await plane.context(alice())
    assert info.value.code == "TENANT_ACCESS_DENIED"


async def test_certificate_principals_are_in_their_kind_group() -> None:
    manifest = ManifestStore(parse_manifest({"manifest_version": "1.0.0", "contracts": [LOOKUP]}))
    cp = ControlPlane(
        identity=InMemoryIdentityStore(),
        roles=InMemoryRoleStore(),
        policies=InMemoryPolicyStore(),
        tenants=InMemoryTenantRegistry(),
        audit=MemoryAuditLog(),
        manifest=manifest,
        access=AccessConfig(roles=ROLES, group_roles={"certificate:client": ("reader",)}),
    )
    await cp.start()
    try:
        cert = Principal("spiffe://aesp.local/tenant/acme/client/bot", "acme", "client", "bot")
        ctx = await cp.context(cert)
        assert ctx.roles == ("reader",)
        assert cp.authorize(ctx, contract(cp, "lookup")).allowed
    finally:
        await cp.stop()


# ---------------------------------------------------------------- RBAC (items 154-158)


async def test_item_155_no_grant_is_default_deny(plane: ControlPlane) -> None:
    ctx = await plane.context(alice())
    decision = plane.authorize(ctx, contract(plane, "lookup"))
    assert not decision.allowed
    assert decision.rbac.code == "PERMISSION_DENIED"
    assert decision.policy is None  # policies are not evaluated after an RBAC denial


async def test_item_158_clearance_below_classification_is_denied(plane: ControlPlane) -> None:
    ctx = await plane.context(alice(groups=("finance",)))
    low = dataclasses.replace(ctx, security_clearance="INTERNAL")
    assert plane.authorize(low, contract(plane, "transfer")).rbac.code == (
        "SECURITY_CLEARANCE_INSUFFICIENT"
    )


async def test_item_154_role_assignment_takes_effect_immediately(plane: ControlPlane) -> None:
    ctx = await plane.context(alice())
    assert not plane.authorize(ctx, contract(plane, "lookup")).allowed
    await plane.roles.set_assignment(ctx.principal_id, tenant_id="acme", roles=("reader",))
    await plane.roles_changed()
    ctx = await plane.context(alice())
    assert plane.authorize(ctx, contract(plane, "lookup")).allowed


async def test_assignments_in_one_tenant_do_not_apply_in_another(plane: ControlPlane) -> None:
    principal = alice()
    await plane.roles.set_assignment(principal.principal_id, tenant_id="acme", roles=("reader",))
    await plane.roles_changed()
    in_acme = await plane.context(principal)
    assert in_acme.roles == ("reader",)
    other = dataclasses.replace(principal, principal_id=principal.principal_id + "x")
    await plane.roles.set_assignment(other.principal_id, tenant_id="globex", roles=("reader",))
    await plane.roles_changed()
    assert (await plane.context(other)).roles == ()


async def test_changes_made_elsewhere_arrive_by_polling(plane: ControlPlane) -> None:
    ctx = await plane.context(alice())
    await plane.roles.set_assignment(ctx.principal_id, tenant_id="acme", roles=("reader",))
    for _ in range(100):  # refresh_interval_ms = 50
        await asyncio.sleep(0.02)
        if (await plane.context(alice())).roles:
            break
    assert (await plane.context(alice())).roles == ("reader",)


# ---------------------------------------------------------------- policy (items 160, 161, 186)


async def add_policy(cp: ControlPlane, condition: str, effect: Effect, **kw: Any) -> None:
    definition = PolicyDefinition(
        policy_id=kw.pop("policy_id", "p1"),
        name="p",
        version=kw.pop("version", "1.0.0"),
        tenant_id=kw.pop("tenant_id", "acme"),
        applies_to=kw.pop("applies_to", ("transfer",)),
        effect=effect,
        condition=condition,
        **kw,
    )
    await cp.policies.add_version(definition, created_by="test", at_ms=1)
    await cp.policies_changed()


async def finance_ctx(cp: ControlPlane, tenant: str = "acme") -> SecurityContext:
    return await cp.context(alice(tenant, groups=("finance",)))


async def test_item_160_deny_policy_blocks_with_policy_violation(plane: ControlPlane) -> None:
    await add_policy(plane, "request.args.amount > 1000", Effect.DENY)
    ctx = await finance_ctx(plane)
    transfer = contract(plane, "transfer")
    assert plane.authorize(ctx, transfer, CallFacts(args={"amount": 5, "to": "x"})).allowed
    denied = plane.authorize(ctx, transfer, CallFacts(args={"amount": 5000, "to": "x"}))
    assert denied.policy is not None
    assert (denied.policy.code, denied.policy.denied_by) == ("POLICY_VIOLATION", "p1")
    with pytest.raises(AespError) as info:
        denied.raise_if_denied()
    assert info.value.code == "POLICY_VIOLATION"


async def test_item_161_audit_policy_lets_the_call_through_and_reports(plane: ControlPlane) -> None:
    await add_policy(plane, "request.args.amount > 10", Effect.AUDIT)
    decision = plane.authorize(
        await finance_ctx(plane),
        contract(plane, "transfer"),
        CallFacts(args={"amount": 50, "to": "x"}),
    )
    assert decision.allowed
    assert decision.policy is not None and decision.policy.audits == ("p1",)


async def test_item_161_evaluation_error_fails_closed(plane: ControlPlane) -> None:
    await add_policy(plane, "request.args.amount / 0 > 1", Effect.DENY)
    decision = plane.authorize(
        await finance_ctx(plane),
        contract(plane, "transfer"),
        CallFacts(args={"amount": 50, "to": "x"}),
    )
    assert decision.policy is not None
    assert decision.policy.code == "POLICY_EVALUATION_FAILED"


async def test_item_186_policies_are_per_tenant(plane: ControlPlane) -> None:
    await add_policy(plane, "true", Effect.DENY, tenant_id="globex")
    args = {"amount": 1, "to": "x"}
    assert plane.authorize(
        await finance_ctx(plane), contract(plane, "transfer"), CallFacts(args=args)
    ).allowed
    globex = await finance_ctx(plane, "globex")
    assert not plane.authorize(globex, contract(plane, "transfer"), CallFacts(args=args)).allowed


async def test_listing_uses_the_same_decision_without_argument_policies(
    plane: ControlPlane,
) -> None:
    ctx = await finance_ctx(plane)
    transfer = contract(plane, "transfer")
    await add_policy(plane, "request.args.amount > 1000", Effect.DENY)
    assert plane.visible(ctx, transfer)  # decided per call, with arguments
    await add_policy(plane, "!request.user.mfa_verified", Effect.DENY, policy_id="mfa")
    assert not plane.visible(ctx, transfer)  # decided without arguments: hidden
    assert not plane.visible(await plane.context(alice()), transfer)  # RBAC: hidden


async def test_a_policy_broken_by_a_contract_change_fails_closed(plane: ControlPlane) -> None:
    await add_policy(plane, "request.args.amount > 1000", Effect.DENY)
    without_amount = {**TRANSFER, "parameters": LOOKUP["parameters"]}
    plane._manifest.swap(  # noqa: SLF001 - a governance change of the contract
        parse_manifest(
            {"manifest_version": "1.0.0", "contracts": [without_amount, LOOKUP]}
        ).contracts
    )
    for _ in range(50):
        await asyncio.sleep(0.01)
        if plane.broken_policies:
            break
    decision = plane.authorize(
        await finance_ctx(plane), contract(plane, "transfer"), CallFacts(args={"q": "x"})
    )
    assert decision.policy is not None
    assert decision.policy.code == "POLICY_EVALUATION_FAILED"
    assert "p1" in decision.policy.reason


# ---------------------------------------------------------------- admin authorisation (C-41)


async def test_admin_permission_is_required(plane: ControlPlane) -> None:
    ctx = await plane.context(alice())
    with pytest.raises(AespError) as info:
        plane.require(ctx, "aesp:identity:ListPrincipals")
    assert info.value.code == "PERMISSION_DENIED"
    await plane.roles.set_assignment(ctx.principal_id, tenant_id="acme", roles=("identity-admin",))
    await plane.roles_changed()
    ctx = await plane.context(alice())
    assert plane.require(ctx, "aesp:identity:ListPrincipals") == "acme"


async def test_naming_another_tenant_needs_the_platform_permission(plane: ControlPlane) -> None:
    ctx = await plane.context(alice())
    await plane.roles.set_assignment(ctx.principal_id, tenant_id="acme", roles=("identity-admin",))
    await plane.roles_changed()
    ctx = await plane.context(alice())
    with pytest.raises(AespError) as info:
        plane.require(ctx, "aesp:identity:ListPrincipals", tenant_id="globex")
    assert info.value.code == "TENANT_ACCESS_DENIED"
    assert "globex" not in info.value.message  # learns nothing about the other tenant
    await plane.roles.set_assignment(ctx.principal_id, tenant_id="acme", roles=("platform",))
    await plane.roles_changed()
    ctx = await plane.context(alice())
    assert plane.require(ctx, "aesp:identity:ListPrincipals", tenant_id="globex") == "globex"


async def test_directory_groups_of_the_identity_store_map_to_roles(plane: ControlPlane) -> None:
    """A directory synced by the identity store (IAM Identity Center on the aws profile) puts
    the principal in groups; ``[access] group_roles`` maps them like credential groups."""
    principal = alice()
    await plane.identity.put_principal(
        PrincipalRecord(
            principal.principal_id,
            "acme",
            metadata={DIRECTORY_GROUPS: json.dumps(["staff", 42, "unknown"])},
        )
    )
    await plane.identity_changed()
    ctx = await plane.context(principal)
    assert ctx.roles == ("reader",)  # from "staff"; the non-string and unmapped groups add none
    assert plane.authorize(ctx, contract(plane, "lookup")).allowed
    await plane.identity.put_principal(PrincipalRecord(principal.principal_id, "acme"))
    await plane.identity_changed()
    assert not plane.authorize(await plane.context(principal), contract(plane, "lookup")).allowed
