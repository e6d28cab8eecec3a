"""EnterpriseGovernanceService as core operations: permissions, tenant scope, audit (C-41,
decision 37, items 170, 175, 176, 178, 184)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from aesp.core.admin.governance import HistoryQuery
from aesp.core.errors import AespError
from aesp.core.governance import Adjudication, NewRequest
from aesp.core.ports.governance import ApprovalStatus
from aesp.core.security import SecurityContext
from tests.unit.governance.conftest import World, artifact, contract_request, pid


def policy_request(policy_id: str, *approvers: str) -> NewRequest:
    body = {
        "policy_id": policy_id,
        "version": "1.0.0",
        "applies_to": ["echo"],
        "effect": "AUDIT",
        "condition": "true",
    }
    return NewRequest("POLICY_V1", "", artifact(body), "audit echo", approvers)


def role_request(name: str, *approvers: str) -> NewRequest:
    body = {"name": name, "permissions": ["tool:echo:invoke"]}
    return NewRequest("ROLE_DEFINITION_V1", "", artifact(body), "", approvers)


async def fails(code: str, call: Any) -> AespError:
    with pytest.raises(AespError) as info:
        await call
    assert info.value.code == code, info.value
    return info.value


async def test_170_175_requests_and_decisions_are_audited(world: World) -> None:
    alice, bob = (
        await world.ctx("alice", "acme", "admins"),
        await world.ctx("bob", "acme", "admins"),
    )
    view = await world.admin.request_approval(alice, policy_request("p1", bob.principal_id))
    rid = view.request.approval_request_id
    result = await world.admin.adjudicate_approval(
        bob, Adjudication(rid, "approve", "ok", {"ticket": "CHG-1"})
    )
    assert (result.final_status, result.workflow_complete) == (ApprovalStatus.APPROVED, True)
    [opened] = world.events("GOVERNANCE_APPROVAL_REQUEST")
    assert (opened.tenant_id, opened.outcome, opened.principal_id) == (
        "acme",
        "SUCCESS",
        alice.principal_id,
    )
    assert opened.metadata["artifact_digest"] == view.request.artifact_digest
    [decided] = world.events("GOVERNANCE_APPROVAL_DECISION")
    assert (decided.principal_id, decided.resource) == (bob.principal_id, f"approval:{rid}")
    assert decided.metadata["final_status"] == "APPROVED"
    assert decided.metadata["workflow_complete"] == "true"
    assert decided.metadata["conditions"] == "ticket"
    assert [e.resource for e in world.events("POLICY_CREATE")] == ["policy:p1@1.0.0"]


async def test_176_self_approval_is_refused_and_audited(world: World) -> None:
    alice = await world.ctx("alice", "acme", "admins", "security")
    view = await world.admin.request_approval(alice, role_request("r1", "role:security"))
    rid = view.request.approval_request_id
    refused = await fails(
        "PERMISSION_DENIED", world.admin.adjudicate_approval(alice, Adjudication(rid, "APPROVE"))
    )
    assert refused.details["reason"] == "SEPARATION_OF_DUTIES"
    [denied] = world.events("AUTHORIZATION_DENIED")
    assert (denied.action, denied.metadata["code"]) == ("AdjudicateApproval", "PERMISSION_DENIED")
    assert world.events("GOVERNANCE_APPROVAL_DECISION") == []


async def test_the_requester_and_the_approver_are_the_verified_caller(world: World) -> None:
    alice, bob = (
        await world.ctx("alice", "acme", "admins"),
        await world.ctx("bob", "acme", "admins"),
    )
    await fails(
        "PERMISSION_DENIED",
        world.admin.request_approval(alice, role_request("r1", "x"), requester_id=bob.principal_id),
    )
    view = await world.admin.request_approval(
        alice, role_request("r1", bob.principal_id), requester_id=alice.principal_id
    )
    rid = view.request.approval_request_id
    await fails(
        "PERMISSION_DENIED",
        world.admin.adjudicate_approval(
            bob, Adjudication(rid, "APPROVE"), approver_id=pid("carol")
        ),
    )
    done = await world.admin.adjudicate_approval(
        bob, Adjudication(rid, "APPROVE"), approver_id=bob.principal_id
    )
    assert done.workflow_complete


async def test_every_rpc_needs_its_permission(world: World) -> None:
    outsider = await world.ctx("eve", "acme")
    viewer = await world.ctx("vic", "acme", "viewers")
    await fails("PERMISSION_DENIED", world.admin.request_approval(outsider, role_request("r", "b")))
    await fails("PERMISSION_DENIED", world.admin.request_approval(viewer, role_request("r", "b")))
    assert (await world.admin.list_pending_approvals(viewer)).items == []
    await fails("PERMISSION_DENIED", world.admin.get_approval_history(viewer, HistoryQuery()))


async def test_184_another_tenants_request_is_not_found(world: World) -> None:
    alice = await world.ctx("alice", "acme", "admins")
    intruder = await world.ctx("gina", "globex", "admins")
    view = await world.admin.request_approval(alice, role_request("r1", intruder.principal_id))
    rid = view.request.approval_request_id
    real = await fails(
        "NOT_FOUND", world.admin.adjudicate_approval(intruder, Adjudication(rid, "APPROVE"))
    )
    ghost = await fails(
        "NOT_FOUND", world.admin.adjudicate_approval(intruder, Adjudication("apr-0000", "APPROVE"))
    )
    assert real.message.replace(rid, "ID") == ghost.message.replace("apr-0000", "ID")
    await fails(
        "NOT_FOUND",
        world.admin.get_approval_history(intruder, HistoryQuery(approval_request_id=rid)),
    )
    await fails(
        "TENANT_ACCESS_DENIED",
        world.admin.list_pending_approvals(intruder, tenant_id="acme"),
    )
    assert (await world.admin.list_pending_approvals(intruder)).items == []
    operator = await world.ctx("olga", "ops", "ops")
    everyone = await world.admin.list_pending_approvals(operator, tenant_id="*")
    assert [v.request.approval_request_id for v in everyone.items] == [rid]


async def test_contracts_need_the_platform_scope(world: World) -> None:
    alice = await world.ctx("alice", "acme", "admins")
    op1, op2 = await world.ctx("olga", "ops", "ops"), await world.ctx("otto", "ops", "ops")
    await fails("MALFORMED_REQUEST", world.admin.request_approval(alice, contract_request(("x",))))
    await fails(
        "TENANT_ACCESS_DENIED",
        world.admin.request_approval(alice, contract_request(("x",)), tenant_id="*"),
    )
    view = await world.admin.request_approval(
        op1, contract_request((op2.principal_id,)), tenant_id="*"
    )
    rid = view.request.approval_request_id
    assert view.request.tenant_id == ""
    await fails("NOT_FOUND", world.admin.adjudicate_approval(op2, Adjudication(rid, "APPROVE")))
    done = await world.admin.adjudicate_approval(op2, Adjudication(rid, "APPROVE"), tenant_id="*")
    assert done.workflow_complete and world.manifest.current.active("greet") is not None
    missed, event = world.events("GOVERNANCE_APPROVAL_DECISION")
    assert (missed.outcome, missed.metadata["code"]) == ("FAILURE", "NOT_FOUND")
    assert (event.outcome, event.tenant_id, event.metadata["actor_tenant"]) == (
        "SUCCESS",
        "",
        "ops",
    )


async def test_178_pending_listing_filters_and_pages(world: World) -> None:
    alice = await world.ctx("alice", "acme", "admins")
    bob = await world.ctx("bob", "acme", "admins")
    sec = await world.ctx("sam", "acme", "admins", "security")
    opened = [
        await world.admin.request_approval(alice, policy_request("p1", bob.principal_id)),
        await world.admin.request_approval(alice, role_request("r1", "role:security")),
        await world.admin.request_approval(
            alice, policy_request("p2", "role:security", bob.principal_id)
        ),
        await world.admin.request_approval(alice, role_request("r2", bob.principal_id)),
        await world.admin.request_approval(
            bob, role_request("r3", alice.principal_id, "role:security")
        ),
    ]
    ids = [v.request.approval_request_id for v in opened]
    await world.admin.request_approval(
        await world.ctx("gina", "globex", "admins"), role_request("g1", "role:security")
    )
    seen, cursor = [], ""
    while True:
        page = await world.admin.list_pending_approvals(alice, limit=2, cursor=cursor)
        assert len(page.items) <= 2
        seen += [v.request.approval_request_id for v in page.items]
        cursor = page.next_cursor
        if not cursor:
            break
    assert seen == ids  # every request once, oldest first, acme only
    policies = await world.admin.list_pending_approvals(alice, artifact_type_name="POLICY_V1")
    assert [v.request.approval_request_id for v in policies.items] == [ids[0], ids[2]]
    for_bob = await world.admin.list_pending_approvals(alice, approver_id=bob.principal_id)
    assert [v.request.approval_request_id for v in for_bob.items] == [ids[0], ids[2], ids[3]]
    mine = await world.admin.list_pending_approvals(sec, approver_id=sec.principal_id)
    assert [v.request.approval_request_id for v in mine.items] == [ids[1], ids[2], ids[4]]
    await world.admin.adjudicate_approval(sec, Adjudication(ids[1], "REJECT", "no"))
    remaining = await world.admin.list_pending_approvals(sec, approver_id=sec.principal_id, limit=1)
    assert [v.request.approval_request_id for v in remaining.items] == [ids[2]]
    assert remaining.next_cursor
    await fails("MALFORMED_REQUEST", world.admin.list_pending_approvals(alice, cursor="nope"))
    await fails(
        "MALFORMED_REQUEST", world.admin.list_pending_approvals(alice, artifact_type_name="X")
    )
    history = await world.admin.get_approval_history(alice, HistoryQuery(artifact_id="role:r1"))
    [rejected] = history.items
    assert rejected.request.status is ApprovalStatus.REJECTED and rejected.completed_at_ms
    assert [d.approver_id for d in rejected.decisions] == [sec.principal_id]


async def workflow_ctx(world: World) -> tuple[SecurityContext, SecurityContext]:
    return await world.ctx("alice", "acme", "admins"), await world.ctx(
        "sam", "acme", "admins", "security"
    )


async def test_workflows_route_requests_in_their_tenant(world: World) -> None:
    from aesp.core.governance import ApprovalWorkflow

    alice, sec = await workflow_ctx(world)
    draft = ApprovalWorkflow(
        "", "", "ROLE_DEFINITION_V1", ("role:security", "role:legal"), 1, 3_600_000, name="roles"
    )
    created = await world.admin.create_workflow(alice, draft, justification="SoD")
    assert created.workflow_id.startswith("wf-") and created.tenant_id == "acme"
    view = await world.admin.request_approval(alice, role_request("r1"))
    r = view.request
    assert (r.required_approvers, r.min_approvals) == (("role:security", "role:legal"), 1)
    assert view.workflow_id == created.workflow_id
    assert r.expires_at_ms == world.clock.now + 3_600_000
    # Naming another approver makes every entry required (never easier to approve).
    extra = await world.admin.request_approval(alice, role_request("r2", "bob"))
    assert (extra.request.required_approvers, extra.request.min_approvals) == (
        ("role:security", "role:legal", "bob"),
        0,
    )
    assert (
        await world.admin.adjudicate_approval(sec, Adjudication(r.approval_request_id, "APPROVE"))
    ).workflow_complete
    changed = await world.admin.update_workflow(
        alice,
        ApprovalWorkflow(created.workflow_id, "", "ROLE_DEFINITION_V1", ("role:legal",), version=1),
    )
    assert (changed.version, changed.required_approvers) == (2, ("role:legal",))
    await fails(
        "INVALID_STATE",
        world.admin.update_workflow(
            alice,
            ApprovalWorkflow(created.workflow_id, "", "ROLE_DEFINITION_V1", ("x",), version=1),
        ),
    )
    gina = await world.ctx("gina", "globex", "admins")
    await fails(
        "NOT_FOUND",
        world.admin.update_workflow(
            gina, ApprovalWorkflow(created.workflow_id, "", "ROLE_DEFINITION_V1", ("x",))
        ),
    )
    assert (await world.admin.request_approval(gina, role_request("g1", "x"))).workflow_id == ""
    assert [e.principal_id for e in world.events("GOVERNANCE_WORKFLOW_CREATE")] == [
        alice.principal_id
    ]
    updates = [e.outcome for e in world.events("GOVERNANCE_WORKFLOW_UPDATE")]
    assert updates == ["SUCCESS", "FAILURE", "FAILURE"]  # the stale version, another tenant
    await fails(
        "MALFORMED_REQUEST",
        world.admin.create_workflow(alice, ApprovalWorkflow("", "", "POLICY_V1", ())),
    )


async def test_platform_workflows_route_by_artifact_facts(world: World) -> None:
    from aesp.core.governance import ApprovalWorkflow

    op1, op2 = await world.ctx("olga", "ops", "ops"), await world.ctx("otto", "ops", "ops")
    high = ApprovalWorkflow(
        "high-risk",
        "",
        "TOOL_CONTRACT_V1",
        ("role:security",),
        conditions={"risk_assessment": "HIGH"},
    )
    await world.admin.create_workflow(op1, high, tenant_id="*")
    risky = await world.admin.request_approval(
        op1, contract_request((op2.principal_id,), risk_assessment="high"), tenant_id="*"
    )
    assert risky.request.required_approvers == ("role:security", op2.principal_id)
    calm = await world.admin.request_approval(
        op1, contract_request((op2.principal_id,), name="calm"), tenant_id="*"
    )
    assert calm.request.required_approvers == (op2.principal_id,)


async def test_workflow_rpcs_are_unavailable_without_a_store(world: World) -> None:
    from aesp.core.governance import ApprovalWorkflow

    world.governance.workflows = None
    alice = await world.ctx("alice", "acme", "admins")
    draft = ApprovalWorkflow("", "", "POLICY_V1", ("bob",))
    refused = await fails("FEATURE_UNAVAILABLE", world.admin.create_workflow(alice, draft))
    assert "name the approvers" in refused.message
    assert json.loads(json.dumps(refused.details))["field"] == "workflow"
