"""EnterpriseIdentityService as core operations (SPEC §3.7 (1), items 151-154, C-41).

Every operation is checked for its effect, its permission, its tenant scope and its audit
events, on the in-memory fakes (tests/unit/admin/conftest.py).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from aesp.core.admin import (
    NOT_FOUND_CODE,
    AuditTrailQuery,
    IdentityAdmin,
    NewServiceAccount,
    RoleChange,
)
from aesp.core.errors import AespError
from aesp.core.ports.identity import PrincipalType
from aesp.core.principal import Principal
from aesp.core.security import SecurityContext
from aesp.server.gateway.verifiers import ApiKeyVerifier
from tests.unit.admin.conftest import PEPPER, Admin

NEVER = 0


def account_principal(admin: Admin, account_id: str, tenant: str = "acme") -> Principal:
    """The principal the gateway builds from the account's key."""
    return Principal(
        principal_id=admin.identity.principal_id(account_id),
        tenant_id=tenant,
        kind="client",
        name=account_id,
        source="api_key",
    )


def verifier(admin: Admin, clock: Callable[[], int] | None = None) -> ApiKeyVerifier:
    """The gateway's API-key check, over the same store and pepper."""
    kwargs: dict[str, Any] = {} if clock is None else {"clock_ms": clock}
    return ApiKeyVerifier(admin.plane.identity, pepper=PEPPER, prefix="aesp", **kwargs)


async def refused(call: Awaitable[object], code: str) -> AespError:
    with pytest.raises(AespError) as info:
        await call
    assert info.value.code == code, info.value
    return info.value


# ---------------------------------------------------------------- CreateServiceAccount


async def test_item_151_create_returns_the_key_once_and_stores_only_its_hash(
    admin: Admin,
) -> None:
    alice = await admin.ctx("alice", "acme", "admins")
    issued = await admin.identity.create_service_account(
        alice,
        NewServiceAccount(name="etl", description="nightly", permissions=("tool:lookup:invoke",)),
        correlation_id="cid-1",
    )
    account = issued.account
    assert account.service_account_id and account.tenant_id == "acme"
    assert account.created_at_ms == admin.clock.now
    assert account.expires_at_ms == NEVER  # 0 = never expires
    assert issued.api_key.startswith("aesp_")
    assert issued.api_key not in repr(issued)
    stored = admin.accounts.service_accounts()[account.service_account_id]
    assert issued.api_key not in repr(stored) and stored.key.stored_hash.startswith("hmac-sha256:")
    identity, _ = await verifier(admin).verify(issued.api_key)
    assert identity.principal_id == f"api_key|aesp|{account.service_account_id}"
    (event,) = admin.events("IDENTITY_CREATE_SERVICE_ACCOUNT")
    assert (event.outcome, event.tenant_id, event.principal_id) == (
        "SUCCESS",
        "acme",
        alice.principal_id,
    )
    assert event.correlation_id == "cid-1"
    assert stored.key.key_id == event.metadata["key_id"]
    dump = json.dumps([e.to_json() for e in admin.audit.events()])
    assert issued.api_key not in dump and issued.api_key.rsplit("_", 1)[1] not in dump


async def test_item_151_the_account_can_act_at_once_with_exactly_its_grants(admin: Admin) -> None:
    alice = await admin.ctx("alice", "acme", "admins")
    issued = await admin.identity.create_service_account(
        alice, NewServiceAccount(name="bot", permissions=("tool:lookup:invoke",))
    )
    sa = await admin.plane.context(account_principal(admin, issued.account.service_account_id))
    assert sa.principal_type is PrincipalType.SERVICE_ACCOUNT
    assert sa.permissions == ("tool:lookup:invoke",)
    assert sa.roles == (f"sa-{issued.account.service_account_id}",)
    assert issued.account.permissions == ("tool:lookup:invoke",) and issued.account.roles == ()


async def test_item_151_an_expiry_in_the_past_is_refused(admin: Admin) -> None:
    alice = await admin.ctx("alice", "acme", "admins")
    request = NewServiceAccount(name="late", expires_at_ms=admin.clock.now - 1)
    err = await refused(admin.identity.create_service_account(alice, request), "MALFORMED_REQUEST")
    assert err.details["field"] == "expires_at"
    assert admin.events("IDENTITY_CREATE_SERVICE_ACCOUNT")[-1].outcome == "FAILURE"


@pytest.mark.parametrize(
    ("field", "value"),
    [("name", ""), ("name", "has space"), ("name", "x" * 65), ("permissions", ("nonsense",))],
)
async def test_malformed_requests_are_refused_naming_the_field(
    admin: Admin, field: str, value: object
) -> None:
    alice = await admin.ctx("alice", "acme", "admins")
    request = dataclasses.replace(NewServiceAccount(name="ok"), **{field: value})
    err = await refused(admin.identity.create_service_account(alice, request), "MALFORMED_REQUEST")
    assert err.details["field"] == field
    assert admin.accounts.service_accounts() == {}


async def test_a_name_is_unique_in_its_tenant_only(admin: Admin) -> None:
    alice = await admin.ctx("alice", "acme", "admins")
    root = await admin.ctx("root", "acme", "ops")
    await admin.identity.create_service_account(alice, NewServiceAccount(name="etl"))
    await refused(
        admin.identity.create_service_account(alice, NewServiceAccount(name="etl")),
        "INVALID_STATE",
    )
    other = await admin.identity.create_service_account(
        root, NewServiceAccount(name="etl", tenant_id="globex")
    )
    assert other.account.tenant_id == "globex"


async def test_create_without_the_permission_is_denied_and_audited(admin: Admin) -> None:
    bob = await admin.ctx("bob", "acme", "staff")
    err = await refused(
        admin.identity.create_service_account(bob, NewServiceAccount(name="x"), correlation_id="c"),
        "PERMISSION_DENIED",
    )
    assert err.audited
    (event,) = admin.events("AUTHORIZATION_DENIED")
    assert (event.outcome, event.principal_id, event.tenant_id) == (
        "DENIED",
        bob.principal_id,
        "acme",
    )
    assert event.metadata["code"] == "PERMISSION_DENIED"
    assert event.resource == "aesp:identity:CreateServiceAccount"
    assert admin.accounts.service_accounts() == {}


async def test_creating_in_another_tenant_is_tenant_access_denied(admin: Admin) -> None:
    alice = await admin.ctx("alice", "acme", "admins")
    request = NewServiceAccount(name="mole", tenant_id="globex")
    await refused(admin.identity.create_service_account(alice, request), "TENANT_ACCESS_DENIED")
    (event,) = admin.events("AUTHORIZATION_DENIED")
    assert event.tenant_id == "acme" and event.metadata["requested_tenant"] == "globex"
    assert admin.accounts.service_accounts() == {}


@pytest.mark.parametrize(
    ("roles", "permissions", "named"),
    [
        ((), ("tool:transfer:invoke",), "tool:transfer:invoke"),
        ((), ("tool:*:invoke",), "tool:*:invoke"),
        (("treasurer",), (), "tool:transfer:invoke"),  # inherited grants count too
        (("platform",), (), "*:*:*"),
    ],
)
async def test_no_privilege_escalation_through_a_service_account(
    admin: Admin, roles: tuple[str, ...], permissions: tuple[str, ...], named: str
) -> None:
    alice = await admin.ctx("alice", "acme", "admins")  # holds aesp:identity:* and lookup only
    request = NewServiceAccount(name="esc", roles=roles, permissions=permissions)
    err = await refused(admin.identity.create_service_account(alice, request), "PERMISSION_DENIED")
    assert err.details["permission"] == named and named in err.message
    assert admin.events("AUTHORIZATION_DENIED")[-1].metadata["code"] == "PERMISSION_DENIED"
    assert admin.accounts.service_accounts() == {}


async def test_a_platform_caller_may_grant_what_it_chooses(admin: Admin) -> None:
    root = await admin.ctx("root", "acme", "ops")
    issued = await admin.identity.create_service_account(
        root, NewServiceAccount(name="t", roles=("treasurer",), tenant_id="globex")
    )
    assert issued.account.roles == ("treasurer",)
    event = admin.events("IDENTITY_CREATE_SERVICE_ACCOUNT")[-1]
    assert event.tenant_id == "globex" and event.metadata["actor_tenant"] == "acme"


async def test_roles_must_exist_in_the_tenant_and_another_tenants_role_is_unknown(
    admin: Admin,
) -> None:
    alice = await admin.ctx("alice", "acme", "admins")
    for role in ("ghost", "auditor"):  # "auditor" is a role of globex only
        err = await refused(
            admin.identity.create_service_account(
                alice, NewServiceAccount(name=f"r-{role}", roles=(role,))
            ),
            "MALFORMED_REQUEST",
        )
        assert err.message == (
            f"Role '{role}' is neither a role of tenant 'acme' nor a platform role; "
            "create it first."
        )


# ---------------------------------------------------------------- List / Revoke


async def test_listing_shows_the_own_tenant_without_credentials(admin: Admin) -> None:
    alice = await admin.ctx("alice", "acme", "admins")
    root = await admin.ctx("root", "acme", "ops")
    mine = await admin.identity.create_service_account(alice, NewServiceAccount(name="a"))
    await admin.identity.create_service_account(
        root, NewServiceAccount(name="g", tenant_id="globex")
    )
    page = await admin.identity.list_service_accounts(alice)
    assert [v.service_account_id for v in page.items] == [mine.account.service_account_id]
    assert mine.api_key not in repr(page)
    await refused(
        admin.identity.list_service_accounts(alice, tenant_id="*"), "TENANT_ACCESS_DENIED"
    )
    everything = await admin.identity.list_service_accounts(root, tenant_id="*")
    assert {v.tenant_id for v in everything.items} == {"acme", "globex"}
    assert admin.events("ADMIN_QUERY")[-1].tenant_id == ""  # a platform-wide read


async def test_listing_pages_and_leaves_out_revoked_and_expired_accounts(admin: Admin) -> None:
    alice = await admin.ctx("alice", "acme", "admins")
    made = [
        await admin.identity.create_service_account(alice, NewServiceAccount(name=f"n{i}"))
        for i in range(3)
    ]
    await admin.identity.create_service_account(
        alice, NewServiceAccount(name="short", expires_at_ms=admin.clock.now + 10)
    )
    await admin.identity.revoke_service_account(alice, made[0].account.service_account_id)
    admin.clock.now += 20
    first = await admin.identity.list_service_accounts(alice, limit=1)
    assert len(first.items) <= 1 and first.next_cursor
    seen, cursor = [], ""
    while True:
        page = await admin.identity.list_service_accounts(alice, limit=1, cursor=cursor)
        seen += [v.name for v in page.items]
        if not (cursor := page.next_cursor):
            break
    assert sorted(seen) == ["n1", "n2"]
    everything = await admin.identity.list_service_accounts(alice, include_revoked=True)
    assert sorted(v.name for v in everything.items) == ["n0", "n1", "n2", "short"]


async def test_item_152_a_revoked_key_no_longer_authenticates(admin: Admin) -> None:
    alice = await admin.ctx("alice", "acme", "admins")
    issued = await admin.identity.create_service_account(alice, NewServiceAccount(name="bot"))
    account_id = issued.account.service_account_id
    await verifier(admin).verify(issued.api_key)
    await admin.plane.context(account_principal(admin, account_id))
    view = await admin.identity.revoke_service_account(alice, account_id, reason="leaked")
    assert view.revoked and view.revoked_at_ms == admin.clock.now
    err = await refused(verifier(admin).verify(issued.api_key), "INVALID_CREDENTIALS")
    assert "revoked" in err.message
    await refused(admin.plane.context(account_principal(admin, account_id)), "ACCOUNT_LOCKED")
    (event,) = admin.events("IDENTITY_REVOKE_SERVICE_ACCOUNT")
    assert event.outcome == "SUCCESS" and event.metadata["reason"] == "leaked"
    again = await admin.identity.revoke_service_account(alice, account_id)
    assert again.revoked_at_ms == view.revoked_at_ms  # idempotent, first time kept


async def test_item_152_an_expired_key_no_longer_authenticates(admin: Admin) -> None:
    alice = await admin.ctx("alice", "acme", "admins")
    issued = await admin.identity.create_service_account(
        alice, NewServiceAccount(name="temp", expires_at_ms=admin.clock.now + 1000)
    )
    await verifier(admin, admin.clock).verify(issued.api_key)
    admin.clock.now += 1000
    err = await refused(verifier(admin, admin.clock).verify(issued.api_key), "INVALID_CREDENTIALS")
    assert "expired" in err.message


async def test_revoking_another_tenants_account_looks_exactly_like_not_found(
    admin: Admin,
) -> None:
    root = await admin.ctx("root", "acme", "ops")
    alice = await admin.ctx("alice", "acme", "admins")
    theirs = await admin.identity.create_service_account(
        root, NewServiceAccount(name="g", tenant_id="globex")
    )
    their_id = theirs.account.service_account_id
    fake_id = "f" * len(their_id)
    real = await refused(admin.identity.revoke_service_account(alice, their_id), NOT_FOUND_CODE)
    fake = await refused(admin.identity.revoke_service_account(alice, fake_id), NOT_FOUND_CODE)
    assert real.message.replace(their_id, "<id>") == fake.message.replace(fake_id, "<id>")
    assert real.details == fake.details == {"reason": "NOT_FOUND", "field": "service_account_id"}
    assert not admin.accounts.service_accounts()[their_id].revoked
    await verifier(admin).verify(theirs.api_key)


# ---------------------------------------------------------------- principals


async def test_item_153_list_principals_filters_by_type_and_activity_and_pages(
    admin: Admin,
) -> None:
    alice = await admin.ctx("alice", "acme", "admins")
    for name in ("bob", "carol"):
        await admin.ctx(name, "acme", "staff")
    await admin.ctx("gina", "globex", "staff")
    issued = await admin.identity.create_service_account(alice, NewServiceAccount(name="svc"))
    await admin.identity.revoke_service_account(alice, issued.account.service_account_id)
    users = await admin.identity.list_principals(alice, principal_type=PrincipalType.USER)
    assert [p.display_name for p in users.items] == ["alice", "bob", "carol"]
    assert all(p.tenant_id == "acme" for p in users.items)
    active = await admin.identity.list_principals(alice)
    assert len(active.items) == 3  # the revoked account is inactive
    everyone = await admin.identity.list_principals(alice, include_inactive=True)
    revoked = [p for p in everyone.items if p.principal_type is PrincipalType.SERVICE_ACCOUNT]
    assert len(everyone.items) == 4 and [p.active for p in revoked] == [False]
    names, cursor = [], ""
    while True:
        page = await admin.identity.list_principals(alice, limit=2, cursor=cursor)
        assert len(page.items) <= 2
        names += [p.display_name for p in page.items]
        if not (cursor := page.next_cursor):
            break
    assert names == ["alice", "bob", "carol"]
    await refused(admin.identity.list_principals(alice, tenant_id="globex"), "TENANT_ACCESS_DENIED")


async def test_item_153_an_expired_account_is_inactive(admin: Admin) -> None:
    alice = await admin.ctx("alice", "acme", "admins")
    await admin.identity.create_service_account(
        alice, NewServiceAccount(name="temp", expires_at_ms=admin.clock.now + 5)
    )
    admin.clock.now += 5
    accounts = PrincipalType.SERVICE_ACCOUNT
    assert (await admin.identity.list_principals(alice, principal_type=accounts)).items == []
    listed = await admin.identity.list_principals(
        alice, principal_type=accounts, include_inactive=True
    )
    assert [p.active for p in listed.items] == [False]


async def test_principal_details_with_permissions_and_audit_summary(admin: Admin) -> None:
    alice = await admin.ctx("alice", "acme", "admins")
    bob = await admin.ctx("bob", "acme", "staff")
    await refused(admin.identity.list_principals(bob), "PERMISSION_DENIED")
    await admin.plane.roles.set_assignment(bob.principal_id, tenant_id="acme", roles=["treasurer"])
    await admin.plane.roles_changed()
    details = await admin.identity.get_principal_details(
        alice, bob.principal_id, include_permissions=True, include_audit_summary=True
    )
    assert details.principal.roles == ("treasurer",)
    assert set(details.effective_permissions) == {"tool:transfer:invoke", "tool:lookup:invoke"}
    summary = details.audit_summary
    assert summary is not None and summary.denied_events == 1
    assert summary.event_type_counts["AUTHORIZATION_DENIED"] == 1
    plain = await admin.identity.get_principal_details(alice, bob.principal_id)
    assert plain.effective_permissions == () and plain.audit_summary is None


async def test_another_tenants_principal_looks_exactly_like_not_found(admin: Admin) -> None:
    alice = await admin.ctx("alice", "acme", "admins")
    gina = await admin.ctx("gina", "globex", "staff")
    ghost = "oidc|https://idp|ghost@globex"
    for call in (
        lambda pid: admin.identity.get_principal_details(alice, pid, include_permissions=True),
        lambda pid: admin.identity.update_principal_roles(alice, RoleChange(pid, add=("reader",))),
    ):
        real = await refused(call(gina.principal_id), NOT_FOUND_CODE)
        fake = await refused(call(ghost), NOT_FOUND_CODE)
        assert real.message.replace(gina.principal_id, "X") == fake.message.replace(ghost, "X")
        assert real.details == fake.details
    assert await admin.plane.roles.assignments() == {}


async def test_item_154_role_changes_take_effect_immediately_and_are_audited(
    admin: Admin,
) -> None:
    alice = await admin.ctx("alice", "acme", "admins")
    carol = await admin.ctx("carol", "acme")
    assert carol.permissions == ()
    view = await admin.identity.update_principal_roles(
        alice, RoleChange(carol.principal_id, add=("reader",), justification="onboarding")
    )
    assert view.roles == ("reader",)
    assert (await admin.ctx("carol", "acme")).permissions == ("tool:lookup:invoke",)
    (event,) = admin.events("IDENTITY_ASSIGN_ROLE")
    assert (event.outcome, event.metadata["added"], event.metadata["justification"]) == (
        "SUCCESS",
        "reader",
        "onboarding",
    )
    await admin.identity.update_principal_roles(
        alice, RoleChange(carol.principal_id, remove=("reader",))
    )
    assert (await admin.ctx("carol", "acme")).permissions == ()
    assert admin.events("IDENTITY_ASSIGN_ROLE")[-1].metadata["removed"] == "reader"


async def test_item_154_role_changes_refuse_escalation_and_demotion(admin: Admin) -> None:
    alice = await admin.ctx("alice", "acme", "admins")
    carol = await admin.ctx("carol", "acme")
    err = await refused(
        admin.identity.update_principal_roles(
            alice, RoleChange(carol.principal_id, add=("treasurer",))
        ),
        "PERMISSION_DENIED",
    )
    assert err.details["permission"] == "tool:transfer:invoke"
    await admin.plane.roles.set_assignment(
        carol.principal_id, tenant_id="acme", roles=["treasurer"]
    )
    await admin.plane.roles_changed()
    await refused(
        admin.identity.update_principal_roles(
            alice, RoleChange(carol.principal_id, remove=("treasurer",))
        ),
        "PERMISSION_DENIED",
    )
    assert (await admin.plane.roles.assignments())[("acme", carol.principal_id)] == ("treasurer",)
    assert [e.outcome for e in admin.events("AUTHORIZATION_DENIED")] == ["DENIED", "DENIED"]


async def test_role_changes_refuse_unknown_roles_and_contradictions(admin: Admin) -> None:
    alice = await admin.ctx("alice", "acme", "admins")
    carol = await admin.ctx("carol", "acme")
    for change in (
        RoleChange(carol.principal_id, add=("ghost",)),
        RoleChange(carol.principal_id, add=("reader",), remove=("reader",)),
    ):
        await refused(admin.identity.update_principal_roles(alice, change), "MALFORMED_REQUEST")
    assert [e.outcome for e in admin.events("IDENTITY_ASSIGN_ROLE")] == ["FAILURE", "FAILURE"]


# ---------------------------------------------------------------- audit trail and permissions


async def test_audit_trail_is_the_principals_events_in_the_tenant_filtered_and_paged(
    admin: Admin,
) -> None:
    alice = await admin.ctx("alice", "acme", "admins")
    bob = await admin.ctx("bob", "acme", "staff")
    for _ in range(3):
        with pytest.raises(AespError):
            await admin.identity.list_principals(bob)
    query = AuditTrailQuery(bob.principal_id, event_types=("AUTHORIZATION_DENIED",), limit=2)
    first = await admin.identity.get_principal_audit_trail(alice, query)
    assert len(first.items) == 2 and first.next_cursor
    rest = await admin.identity.get_principal_audit_trail(
        alice, dataclasses.replace(query, cursor=first.next_cursor)
    )
    assert len(rest.items) == 1 and not rest.next_cursor
    assert all(e.principal_id == bob.principal_id for e in [*first.items, *rest.items])
    late = await admin.identity.get_principal_audit_trail(
        alice, AuditTrailQuery(bob.principal_id, start_ms=2**62)
    )
    assert late.items == []
    await refused(
        admin.identity.get_principal_audit_trail(
            alice, AuditTrailQuery(bob.principal_id, cursor="bogus")
        ),
        "MALFORMED_REQUEST",
    )


async def test_audit_trail_never_shows_another_tenants_events(admin: Admin) -> None:
    gina = await admin.ctx("gina", "globex", "staff")
    alice = await admin.ctx("alice", "acme", "admins")
    with pytest.raises(AespError):
        await admin.identity.list_principals(gina)
    trail = await admin.identity.get_principal_audit_trail(
        alice, AuditTrailQuery(gina.principal_id)
    )
    assert trail.items == []
    await refused(
        admin.identity.get_principal_audit_trail(
            alice, AuditTrailQuery(gina.principal_id, tenant_id="globex")
        ),
        "TENANT_ACCESS_DENIED",
    )


Operation = Callable[[IdentityAdmin, SecurityContext], Awaitable[object]]
OPERATIONS: dict[str, Operation] = {
    "CreateServiceAccount": lambda a, c: a.create_service_account(c, NewServiceAccount(name="x")),
    "ListServiceAccounts": lambda a, c: a.list_service_accounts(c),
    "RevokeServiceAccount": lambda a, c: a.revoke_service_account(c, "abc"),
    "ListPrincipals": lambda a, c: a.list_principals(c),
    "GetPrincipalDetails": lambda a, c: a.get_principal_details(c, c.principal_id),
    "UpdatePrincipalRoles": lambda a, c: a.update_principal_roles(c, RoleChange(c.principal_id)),
    "GetPrincipalAuditTrail": lambda a, c: a.get_principal_audit_trail(
        c, AuditTrailQuery(c.principal_id)
    ),
}


@pytest.mark.parametrize("rpc", sorted(OPERATIONS))
async def test_every_rpc_needs_its_own_permission(admin: Admin, rpc: str) -> None:
    """C-41: aesp:identity:<Rpc>; ``viewer`` holds only ListPrincipals (and a policy read)."""
    viewer = await admin.ctx("vic", "acme", "viewers")
    call = OPERATIONS[rpc](admin.identity, viewer)
    if rpc == "ListPrincipals":
        await call
        return
    err = await refused(call, "PERMISSION_DENIED")
    assert f"aesp:identity:{rpc}" in err.message
    assert admin.events("AUTHORIZATION_DENIED")[-1].metadata["rpc"] == rpc


@pytest.mark.parametrize("rpc", sorted(OPERATIONS))
async def test_every_rpc_refuses_another_tenant_without_platform_scope(
    admin: Admin, rpc: str
) -> None:
    elsewhere = await admin.ctx("alice", "acme", "admins")
    call = {
        "CreateServiceAccount": lambda: admin.identity.create_service_account(
            elsewhere, NewServiceAccount(name="x", tenant_id="globex")
        ),
        "ListServiceAccounts": lambda: admin.identity.list_service_accounts(
            elsewhere, tenant_id="globex"
        ),
        "RevokeServiceAccount": lambda: admin.identity.revoke_service_account(
            elsewhere, "abc", tenant_id="globex"
        ),
        "ListPrincipals": lambda: admin.identity.list_principals(elsewhere, tenant_id="globex"),
        "GetPrincipalDetails": lambda: admin.identity.get_principal_details(
            elsewhere, "p", tenant_id="globex"
        ),
        "UpdatePrincipalRoles": lambda: admin.identity.update_principal_roles(
            elsewhere, RoleChange("p", tenant_id="globex")
        ),
        "GetPrincipalAuditTrail": lambda: admin.identity.get_principal_audit_trail(
            elsewhere, AuditTrailQuery("p", tenant_id="globex")
        ),
    }[rpc]
    err = await refused(call(), "TENANT_ACCESS_DENIED")
    assert "globex" not in err.message  # says nothing about the other tenant
    assert admin.events("AUTHORIZATION_DENIED")[-1].tenant_id == "acme"


async def test_a_refused_context_is_audited(admin: Admin) -> None:
    bob = await admin.ctx("bob", "acme", "staff")
    record = await admin.plane.identity.get_principal(bob.principal_id)
    assert record is not None
    await admin.plane.identity.put_principal(dataclasses.replace(record, active=False))
    await admin.plane.identity_changed()
    await refused(
        admin.identity.context(person_of(bob), rpc="ListPrincipals", correlation_id="c9"),
        "ACCOUNT_LOCKED",
    )
    event = admin.events("AUTHORIZATION_DENIED")[-1]
    assert (event.principal_id, event.correlation_id, event.metadata["code"]) == (
        bob.principal_id,
        "c9",
        "ACCOUNT_LOCKED",
    )


def person_of(ctx: SecurityContext) -> Principal:
    return Principal(ctx.principal_id, ctx.tenant_id, "client", "x", source="oidc")


async def test_a_short_pepper_is_refused_at_start_up(admin: Admin) -> None:
    with pytest.raises(ValueError, match="pepper"):
        IdentityAdmin(admin.plane, pepper=b"short")
