"""EnterprisePolicyService as core operations (SPEC §3.7 (2), §3.12, items 162-164, C-41).

Every operation is checked for its effect on the store and on the Host's enforced policy set,
its permission, its tenant scope and its audit events, on the in-memory fakes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable

import pytest

from aesp.core.admin import (
    EvaluationRequest,
    PolicyAdmin,
    PolicyTestCase,
)
from aesp.core.audit import AuditEvent
from aesp.core.control import CallFacts
from aesp.core.errors import AespError
from aesp.core.policy import PolicyDefinition
from aesp.core.security import SecurityContext
from tests.unit.admin.conftest import Admin

BIG_TRANSFER = "request.args.amount > 1000"


def rule(
    condition: str = BIG_TRANSFER,
    *,
    policy_id: str = "no-big",
    version: str = "1.0.0",
    effect: str = "DENY",
    applies_to: tuple[str, ...] = ("tool:transfer",),
    enabled: bool = True,
) -> PolicyDefinition:
    """A definition as a client sends it (its tenant is decided by the Host)."""
    return PolicyDefinition(
        policy_id=policy_id,
        name=f"rule {policy_id}",
        version=version,
        tenant_id="",
        applies_to=applies_to,
        effect=effect,
        condition=condition,
        enabled=enabled,
    )


async def refused(call: Awaitable[object], code: str) -> AespError:
    with pytest.raises(AespError) as info:
        await call
    assert info.value.code == code, info.value
    return info.value


async def enforced(admin: Admin, ctx: SecurityContext, amount: int) -> str:
    """The code the Host's policy set gives a transfer of ``amount`` now (``""`` = allowed)."""
    contract = admin.plane._manifest.current.get("transfer")  # noqa: SLF001 - the test's manifest
    assert contract is not None
    outcome = admin.plane.evaluate_policies(
        ctx, contract, CallFacts(args={"amount": amount, "to": "x"})
    )
    return outcome.code


def last(admin: Admin, event_type: str) -> AuditEvent:
    return admin.events(event_type)[-1]


# ---------------------------------------------------------------- CreatePolicy


async def test_create_policy_is_stored_enforced_at_once_and_audited(admin: Admin) -> None:
    alice = await admin.ctx("alice", "acme", "admins")
    assert await enforced(admin, alice, 5000) == ""
    created = await admin.policy.create_policy(alice, rule(), correlation_id="cid-p")
    assert created.tenant_id == "acme" and not created.dry_run
    assert created.created_by == alice.principal_id and created.created_at_ms == admin.clock.now
    assert await enforced(admin, alice, 5000) == "POLICY_VIOLATION"
    assert await enforced(admin, alice, 5) == ""
    event = last(admin, "POLICY_CREATE")
    assert (event.outcome, event.tenant_id, event.resource, event.correlation_id) == (
        "SUCCESS",
        "acme",
        "policy:no-big@1.0.0",
        "cid-p",
    )
    assert event.metadata["effect"] == "DENY"


async def test_create_assigns_an_id_and_a_first_version_when_missing(admin: Admin) -> None:
    alice = await admin.ctx("alice", "acme", "admins")
    created = await admin.policy.create_policy(alice, rule(policy_id="", version=""))
    assert created.definition.policy_id.startswith("pol-")
    assert created.definition.version == "1.0.0"


async def test_item_162_invalid_cel_is_rejected_at_compile_stage(admin: Admin) -> None:
    alice = await admin.ctx("alice", "acme", "admins")
    err = await refused(
        admin.policy.create_policy(alice, rule("request.args.amount >>> 3")),
        "POLICY_EVALUATION_FAILED",
    )
    assert err.details["stage"] == "compile"
    assert admin.policies.stored() == []
    event = last(admin, "POLICY_CREATE")
    assert (event.outcome, event.metadata["code"]) == ("FAILURE", "POLICY_EVALUATION_FAILED")


async def test_arguments_are_checked_against_the_contract_schema(admin: Admin) -> None:
    alice = await admin.ctx("alice", "acme", "admins")
    err = await refused(
        admin.policy.create_policy(alice, rule("request.args.nonexistent > 3")),
        "POLICY_EVALUATION_FAILED",
    )
    assert err.details["stage"] == "check" and err.details["tool"] == "transfer"


async def test_item_163_dry_run_persists_nothing_and_changes_no_decision(admin: Admin) -> None:
    alice = await admin.ctx("alice", "acme", "admins")
    version = admin.plane.policy.current.version
    result = await admin.policy.create_policy(alice, rule('request.args.memo == "x"'), dry_run=True)
    assert result.dry_run and any("optional" in w for w in result.warnings)
    assert admin.policies.stored() == []
    assert admin.plane.policy.current.version == version
    assert admin.events("POLICY_CREATE") == []
    event = last(admin, "ADMIN_QUERY")
    assert (event.action, event.metadata["dry_run"]) == ("CreatePolicy", "true")
    await refused(
        admin.policy.create_policy(alice, rule("(("), dry_run=True), "POLICY_EVALUATION_FAILED"
    )


async def test_creating_an_existing_policy_is_refused(admin: Admin) -> None:
    alice = await admin.ctx("alice", "acme", "admins")
    await admin.policy.create_policy(alice, rule())
    await refused(admin.policy.create_policy(alice, rule(version="2.0.0")), "INVALID_STATE")


# ---------------------------------------------------------------- Update / Get / Delete


async def test_item_164_update_makes_a_new_version_and_keeps_the_old_one(admin: Admin) -> None:
    alice = await admin.ctx("alice", "acme", "admins")
    await admin.policy.create_policy(alice, rule())
    admin.clock.now += 1000
    updated = await admin.policy.update_policy(
        alice,
        rule("request.args.amount > 10", version="1.1.0"),
        justification="lower the limit",
        expected_version="1.0.0",
    )
    assert updated.definition.version == "1.1.0"
    assert (
        updated.created_at_ms == admin.clock.now - 1000 and updated.updated_at_ms == admin.clock.now
    )
    assert await enforced(admin, alice, 50) == "POLICY_VIOLATION"  # the new version is in force
    old = await admin.policy.get_policy(alice, "no-big", version="1.0.0")
    assert old.definition.condition == BIG_TRANSFER
    assert (await admin.policy.get_policy(alice, "no-big")).definition.version == "1.1.0"
    event = last(admin, "POLICY_UPDATE")
    assert (event.metadata["previous_version"], event.metadata["justification"]) == (
        "1.0.0",
        "lower the limit",
    )


@pytest.mark.parametrize(
    ("version", "expected", "field"),
    [("1.0.0", "", "version"), ("0.9.0", "", "version"), ("2.0.0", "0.1.0", "expected_version")],
)
async def test_item_164_versions_must_increase_and_match_what_was_read(
    admin: Admin, version: str, expected: str, field: str
) -> None:
    alice = await admin.ctx("alice", "acme", "admins")
    await admin.policy.create_policy(alice, rule())
    err = await refused(
        admin.policy.update_policy(alice, rule(version=version), expected_version=expected),
        "INVALID_STATE",
    )
    assert err.details["field"] == field
    assert len(admin.policies.stored()) == 1
    assert last(admin, "POLICY_UPDATE").outcome == "FAILURE"


async def test_item_163_update_dry_run_persists_nothing(admin: Admin) -> None:
    alice = await admin.ctx("alice", "acme", "admins")
    await admin.policy.create_policy(alice, rule())
    dry = await admin.policy.update_policy(alice, rule(version="2.0.0"), dry_run=True)
    assert dry.dry_run and len(admin.policies.stored()) == 1
    assert admin.events("POLICY_UPDATE") == []


async def test_delete_is_soft_stops_enforcement_and_is_audited(admin: Admin) -> None:
    alice = await admin.ctx("alice", "acme", "admins")
    await admin.policy.create_policy(alice, rule())
    deletion = await admin.policy.delete_policy(alice, "no-big", justification="obsolete")
    assert deletion.deleted_at_ms == admin.clock.now
    assert await enforced(admin, alice, 5000) == ""
    await refused(admin.policy.get_policy(alice, "no-big"), "POLICY_NOT_FOUND")
    await refused(admin.policy.delete_policy(alice, "no-big"), "POLICY_NOT_FOUND")
    assert [s.deleted for s in admin.policies.stored()] == [True]  # versions kept for audit
    done, again = admin.events("POLICY_DELETE")
    assert (done.outcome, done.metadata["justification"]) == ("SUCCESS", "obsolete")
    assert (again.outcome, again.metadata["code"]) == ("FAILURE", "POLICY_NOT_FOUND")
    await admin.policy.create_policy(alice, rule(version="2.0.0"))  # the id may be reused


async def test_another_tenants_policy_looks_exactly_like_a_missing_one(admin: Admin) -> None:
    alice = await admin.ctx("alice", "acme", "admins")
    gary = await admin.ctx("gary", "globex", "admins")
    await admin.policy.create_policy(alice, rule())
    for call in (
        lambda pid: admin.policy.get_policy(gary, pid),
        lambda pid: admin.policy.update_policy(gary, rule(policy_id=pid, version="9.0.0")),
        lambda pid: admin.policy.delete_policy(gary, pid),
        lambda pid: admin.policy.evaluate_policy(
            gary, EvaluationRequest(policy_id=pid, resource="transfer")
        ),
    ):
        real = await refused(call("no-big"), "POLICY_NOT_FOUND")
        fake = await refused(call("no-bug"), "POLICY_NOT_FOUND")
        assert real.message.replace("no-big", "X") == fake.message.replace("no-bug", "X")
    await refused(admin.policy.get_policy(gary, "no-big", tenant_id="acme"), "TENANT_ACCESS_DENIED")
    assert len(admin.policies.stored()) == 1 and await enforced(admin, alice, 5000)


async def test_platform_policies_need_platform_scope_and_apply_to_every_tenant(
    admin: Admin,
) -> None:
    alice = await admin.ctx("alice", "acme", "admins")
    root = await admin.ctx("root", "ops", "ops")
    await refused(admin.policy.create_policy(alice, rule(), tenant_id="*"), "TENANT_ACCESS_DENIED")
    created = await admin.policy.create_policy(root, rule(policy_id="global"), tenant_id="*")
    assert created.tenant_id == ""
    assert last(admin, "POLICY_CREATE").tenant_id == ""
    assert await enforced(admin, alice, 5000) == "POLICY_VIOLATION"
    assert (await admin.policy.get_policy(alice, "global")).tenant_id == ""
    await refused(  # a tenant administrator may read it, never change it
        admin.policy.update_policy(alice, rule(policy_id="global", version="2.0.0")),
        "POLICY_NOT_FOUND",
    )
    await refused(admin.policy.delete_policy(alice, "global"), "POLICY_NOT_FOUND")


# ---------------------------------------------------------------- ListPolicies


async def test_list_includes_platform_policies_filters_and_pages(admin: Admin) -> None:
    alice = await admin.ctx("alice", "acme", "admins")
    gary = await admin.ctx("gary", "globex", "admins")
    root = await admin.ctx("root", "ops", "ops")
    await admin.policy.create_policy(root, rule(policy_id="global"), tenant_id="*")
    await admin.policy.create_policy(alice, rule(policy_id="a1"))
    await admin.policy.create_policy(
        alice, rule(policy_id="a2", applies_to=("tool:lookup",), condition="true")
    )
    await admin.policy.create_policy(alice, rule(policy_id="a3", enabled=False))
    await admin.policy.create_policy(gary, rule(policy_id="g1"))
    listed = await admin.policy.list_policies(alice)
    assert [p.definition.policy_id for p in listed.items] == ["global", "a1", "a2"]
    for_lookup = await admin.policy.list_policies(alice, resource="tool:lookup")
    assert [p.definition.policy_id for p in for_lookup.items] == ["a2"]
    with_disabled = await admin.policy.list_policies(alice, include_disabled=True)
    assert len(with_disabled.items) == 4
    ids, cursor = [], ""
    while True:
        page = await admin.policy.list_policies(alice, limit=1, cursor=cursor)
        ids += [p.definition.policy_id for p in page.items]
        if not (cursor := page.next_cursor):
            break
    assert ids == ["global", "a1", "a2"]
    await refused(admin.policy.list_policies(alice, tenant_id="*"), "TENANT_ACCESS_DENIED")
    everything = await admin.policy.list_policies(root, tenant_id="*")
    assert {p.tenant_id for p in everything.items} == {"", "acme", "globex"}
    await refused(admin.policy.list_policies(alice, cursor="junk"), "MALFORMED_REQUEST")


# ---------------------------------------------------------------- Evaluate / Test / Validate


async def test_evaluate_a_stored_policy_for_another_principal_without_enforcing(
    admin: Admin,
) -> None:
    alice = await admin.ctx("alice", "acme", "admins")
    bob = await admin.ctx("bob", "acme", "staff")
    await admin.policy.create_policy(alice, rule(enabled=False))
    request = EvaluationRequest(
        policy_id="no-big",
        principal_id=bob.principal_id,
        resource="tool:transfer",
        context={"args.amount": "5000", "args.to": '"x"'},
    )
    found = await admin.policy.evaluate_policy(alice, request)
    assert (found.effect, found.matched, found.applied_policies) == ("DENY", True, ("no-big",))
    small = dataclasses.replace(request, context={"args.amount": "5"})
    assert (await admin.policy.evaluate_policy(alice, small)).effect == "ALLOW"
    assert await enforced(admin, bob, 5000) == ""  # disabled: evaluated on request only
    assert last(admin, "ADMIN_QUERY").action == "EvaluatePolicy"


async def test_evaluate_every_applicable_policy_deny_overrides(admin: Admin) -> None:
    alice = await admin.ctx("alice", "acme", "admins")
    await admin.policy.create_policy(alice, rule())
    await admin.policy.create_policy(
        alice, rule("true", policy_id="watch", effect="AUDIT", applies_to=("*",))
    )
    request = EvaluationRequest(resource="transfer", context={"args.amount": "7"})
    assert (await admin.policy.evaluate_policy(alice, request)).effect == "AUDIT"
    big = dataclasses.replace(request, context={"args.amount": "7000"})
    found = await admin.policy.evaluate_policy(alice, big)
    assert (found.effect, found.code) == ("DENY", "POLICY_VIOLATION")


async def test_evaluate_user_facts_come_from_the_host_not_the_request(admin: Admin) -> None:
    alice = await admin.ctx("alice", "acme", "admins")
    await admin.policy.create_policy(
        alice, rule('"treasurer" in request.user.roles', policy_id="t", effect="DENY")
    )
    for context in ({"user.roles": "treasurer"}, {"tenant.id": "globex"}):
        await refused(
            admin.policy.evaluate_policy(
                alice, EvaluationRequest(policy_id="t", resource="transfer", context=context)
            ),
            "MALFORMED_REQUEST",
        )
    mfa = EvaluationRequest(resource="transfer", context={"user.mfa_verified": "maybe"})
    await refused(admin.policy.evaluate_policy(alice, mfa), "MALFORMED_REQUEST")


@pytest.mark.parametrize(
    ("request_", "code"),
    [
        (EvaluationRequest(resource="tool:nothing"), "UNSUPPORTED_TOOL"),
        (EvaluationRequest(resource="transfer", principal_id="oidc|x|ghost"), "NOT_FOUND"),
        (EvaluationRequest(resource="transfer", context={"time": "noon"}), "MALFORMED_REQUEST"),
    ],
)
async def test_evaluate_refuses_what_it_cannot_decide(
    admin: Admin, request_: EvaluationRequest, code: str
) -> None:
    alice = await admin.ctx("alice", "acme", "admins")
    await refused(admin.policy.evaluate_policy(alice, request_), code)


async def test_item_163_test_policy_simulates_and_enforces_nothing(admin: Admin) -> None:
    alice = await admin.ctx("alice", "acme", "admins")
    cases = [
        PolicyTestCase("big", "transfer", context={"args.amount": "5000"}, expected_effect="DENY"),
        PolicyTestCase("small", "transfer", context={"args.amount": "5"}, expected_effect="deny"),
        PolicyTestCase("report", "transfer", context={"args.amount": "5"}),
    ]
    report = await admin.policy.test_policy(alice, rule(), cases)
    assert [(r.name, r.evaluation.effect, r.passed) for r in report.results] == [
        ("big", "DENY", True),
        ("small", "ALLOW", False),
        ("report", "ALLOW", True),
    ]
    assert (report.passed, report.failed) == (2, 1)
    assert admin.policies.stored() == [] and await enforced(admin, alice, 5000) == ""
    err = await refused(
        admin.policy.test_policy(alice, rule(), [PolicyTestCase("bad", "nothing")]),
        "UNSUPPORTED_TOOL",
    )
    assert err.details["test_case"] == "bad"


async def test_item_163_test_policy_replays_past_calls(admin: Admin) -> None:
    alice = await admin.ctx("alice", "acme", "admins")
    bob = await admin.ctx("bob", "acme")
    await admin.plane.roles.set_assignment(bob.principal_id, tenant_id="acme", roles=["reader"])
    await admin.plane.roles_changed()
    for who, tenant, at in ((bob, "acme", 100), (alice, "acme", 200), (bob, "globex", 150)):
        await admin.audit.append(
            AuditEvent(
                "TOOL_INVOCATION_START",
                "SUCCESS",
                "invoke",
                principal_id=who.principal_id,
                tenant_id=tenant,
                resource="lookup",
                timestamp_ms=at,
            )
        )
    candidate = rule('"reader" in request.user.roles', policy_id="r", applies_to=("lookup",))
    report = await admin.policy.test_policy(
        alice, candidate, [], replay_start_ms=1, replay_end_ms=1000
    )
    assert (report.replayed_events, report.replayed_denials) == (2, 1)  # globex's not replayed
    window = await admin.policy.test_policy(
        alice, candidate, [], replay_start_ms=150, replay_end_ms=1000
    )
    assert (window.replayed_events, window.replayed_denials) == (1, 0)
    await refused(
        admin.policy.test_policy(alice, rule(), [], replay_start_ms=1),
        "FEATURE_UNAVAILABLE",  # arguments are not in the audit log
    )


async def test_validate_policy_reports_errors_and_warnings_without_storing(admin: Admin) -> None:
    alice = await admin.ctx("alice", "acme", "admins")
    good = await admin.policy.validate_policy(alice, rule('request.args.memo == "x"'))
    assert good.valid and good.errors == () and good.warnings
    bad = await admin.policy.validate_policy(alice, rule("1 +"))
    assert not bad.valid and "not valid CEL" in bad.errors[0]
    shape = await admin.policy.validate_policy(alice, rule(effect="MAYBE"))
    assert not shape.valid and "effect" in shape.errors[0]
    assert admin.policies.stored() == []
    assert last(admin, "ADMIN_QUERY").metadata["valid"] == "false"


# ---------------------------------------------------------------- permissions

Operation = Callable[[PolicyAdmin, SecurityContext], Awaitable[object]]
OPERATIONS: dict[str, Operation] = {
    "CreatePolicy": lambda a, c: a.create_policy(c, rule()),
    "UpdatePolicy": lambda a, c: a.update_policy(c, rule(version="2.0.0")),
    "DeletePolicy": lambda a, c: a.delete_policy(c, "no-big"),
    "GetPolicy": lambda a, c: a.get_policy(c, "no-big"),
    "ListPolicies": lambda a, c: a.list_policies(c),
    "EvaluatePolicy": lambda a, c: a.evaluate_policy(c, EvaluationRequest(resource="transfer")),
    "TestPolicy": lambda a, c: a.test_policy(c, rule(), []),
    "ValidatePolicy": lambda a, c: a.validate_policy(c, rule()),
}


@pytest.mark.parametrize("rpc", sorted(OPERATIONS))
async def test_every_rpc_needs_its_own_permission(admin: Admin, rpc: str) -> None:
    """C-41: aesp:policy:<Rpc>; ``viewer`` holds GetPolicy only."""
    alice = await admin.ctx("alice", "acme", "admins")
    await admin.policy.create_policy(alice, rule())
    viewer = await admin.ctx("vic", "acme", "viewers")
    call = OPERATIONS[rpc](admin.policy, viewer)
    if rpc == "GetPolicy":
        assert (await call) is not None
        return
    err = await refused(call, "PERMISSION_DENIED")
    assert f"aesp:policy:{rpc}" in err.message
    event = last(admin, "AUTHORIZATION_DENIED")
    assert (event.outcome, event.metadata["rpc"]) == ("DENIED", rpc)
    assert len(admin.policies.stored()) == 1 and not admin.policies.stored()[0].deleted


@pytest.mark.parametrize("rpc", sorted(OPERATIONS))
async def test_every_rpc_refuses_another_tenant_without_platform_scope(
    admin: Admin, rpc: str
) -> None:
    alice = await admin.ctx("alice", "acme", "admins")
    call = {
        "CreatePolicy": lambda: admin.policy.create_policy(alice, rule(), tenant_id="globex"),
        "UpdatePolicy": lambda: admin.policy.update_policy(alice, rule(), tenant_id="globex"),
        "DeletePolicy": lambda: admin.policy.delete_policy(alice, "x", tenant_id="globex"),
        "GetPolicy": lambda: admin.policy.get_policy(alice, "x", tenant_id="globex"),
        "ListPolicies": lambda: admin.policy.list_policies(alice, tenant_id="globex"),
        "EvaluatePolicy": lambda: admin.policy.evaluate_policy(
            alice, EvaluationRequest(resource="transfer", tenant_id="globex")
        ),
        "TestPolicy": lambda: admin.policy.test_policy(alice, rule(), [], tenant_id="globex"),
        "ValidatePolicy": lambda: admin.policy.validate_policy(alice, rule(), tenant_id="globex"),
    }[rpc]
    err = await refused(call(), "TENANT_ACCESS_DENIED")
    assert "globex" not in err.message
    assert last(admin, "AUTHORIZATION_DENIED").tenant_id == "acme"
