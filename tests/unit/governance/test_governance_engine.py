"""The approval workflow engine: every state transition, m of n, role approvers, separation of
duties, expiry and rejection (SPEC §3.11, checklist 170-176), on the in-memory fakes."""

from __future__ import annotations

import pytest

from aesp.core.contracts import ContractStatus
from aesp.core.errors import AespError
from aesp.core.governance import Adjudication, Approver, NewRequest, public_conditions
from aesp.core.ports.governance import ApprovalStatus
from tests.unit.governance.conftest import HOUR_MS, World, artifact, contract_request

BOB, CAROL, DAVE, ALICE = "bob", "carol", "dave", "alice"


def approve(request_id: str, **conditions: str) -> Adjudication:
    return Adjudication(request_id, "APPROVE", comments="fine", conditions=conditions)


def reject(request_id: str) -> Adjudication:
    return Adjudication(request_id, "REJECT", comments="no")


def who(name: str, *roles: str) -> Approver:
    return Approver.with_roles(name, roles)


async def status_of(world: World, request_id: str) -> ApprovalStatus:
    stored = await world.store.get(request_id)
    assert stored is not None
    return stored.status


async def test_170_171_a_request_opens_pending_and_changes_nothing(world: World) -> None:
    view = await world.governance.engine.request(ALICE, "", contract_request((BOB,)))
    r = view.request
    assert r.status is ApprovalStatus.PENDING and r.approval_request_id.startswith("apr-")
    assert (r.artifact_id, r.requester_id, r.tenant_id) == ("greet@1.0.0", ALICE, "")
    assert r.artifact_digest.startswith("sha256:") and view.pending_approvers == (BOB,)
    assert r.expires_at_ms == world.clock.now + 7 * 24 * HOUR_MS  # the default lifetime
    assert world.manifest.current.get("greet") is None  # item 171: nothing applied yet


async def test_172_the_last_approval_completes_and_enacts(world: World) -> None:
    view = await world.governance.engine.request(ALICE, "", contract_request((BOB,)))
    world.clock.now += 1000
    result = await world.governance.engine.adjudicate(
        who(BOB), "", approve(view.request.approval_request_id)
    )
    assert (result.final_status, result.workflow_complete) == (ApprovalStatus.APPROVED, True)
    assert result.remaining_approvers == ()
    active = world.manifest.current.active("greet")
    assert active is not None and active.approval_status is ContractStatus.ACTIVE
    assert (active.approved_by, active.approved_at) == (BOB, world.clock.now)
    [event] = world.events("CONTRACT_STATE_CHANGE")
    assert event.metadata["approval_request_id"] == view.request.approval_request_id
    assert event.resource == "contract:greet@1.0.0"


async def test_173_any_reject_rejects_and_applies_nothing(world: World) -> None:
    engine = world.governance.engine
    view = await engine.request(ALICE, "", contract_request((BOB, CAROL)))
    rid = view.request.approval_request_id
    first = await engine.adjudicate(who(BOB), "", approve(rid))
    assert (first.final_status, first.remaining_approvers) == (ApprovalStatus.PENDING, (CAROL,))
    second = await engine.adjudicate(who(CAROL), "", reject(rid))
    assert (second.final_status, second.workflow_complete) == (ApprovalStatus.REJECTED, False)
    assert world.manifest.current.get("greet") is None
    assert world.events("CONTRACT_STATE_CHANGE") == []


async def test_m_of_n_needs_m_distinct_approvers(world: World) -> None:
    engine = world.governance.engine
    view = await engine.request(ALICE, "", contract_request((BOB, CAROL, DAVE), min_approvals=2))
    rid = view.request.approval_request_id
    first = await engine.adjudicate(who(BOB), "", approve(rid))
    assert first.final_status is ApprovalStatus.PENDING
    assert first.remaining_approvers == (CAROL, DAVE)
    second = await engine.adjudicate(who(DAVE), "", approve(rid))
    assert (second.final_status, second.workflow_complete) == (ApprovalStatus.APPROVED, True)
    active = world.manifest.current.active("greet")
    assert active is not None and active.approved_by == f"{BOB},{DAVE}"


async def test_one_person_holding_two_required_roles_counts_once(world: World) -> None:
    engine = world.governance.engine
    view = await engine.request(ALICE, "", contract_request(("role:security", "role:legal")))
    rid = view.request.approval_request_id
    both = await engine.adjudicate(who(BOB, "security", "legal"), "", approve(rid))
    assert both.final_status is ApprovalStatus.PENDING and len(both.remaining_approvers) == 1
    # The matching, not the order, decides: Carol (legal only) completes it although Bob's
    # approval was first counted for either role.
    done = await engine.adjudicate(who(CAROL, "legal"), "", approve(rid))
    assert done.final_status is ApprovalStatus.APPROVED


async def test_176_role_approvers_must_hold_the_role(world: World) -> None:
    engine = world.governance.engine
    view = await engine.request(ALICE, "", contract_request(("role:security",)))
    rid = view.request.approval_request_id
    with pytest.raises(AespError, match="not listed and hold none") as refused:
        await engine.adjudicate(who(CAROL, "legal"), "", approve(rid))
    assert refused.value.code == "PERMISSION_DENIED"
    assert (await engine.adjudicate(who(BOB, "security"), "", approve(rid))).workflow_complete


async def test_176_the_requester_never_decides_its_own_request(world: World) -> None:
    engine = world.governance.engine
    view = await engine.request(ALICE, "", contract_request(("role:security",)))
    rid = view.request.approval_request_id
    for decision in (approve(rid), reject(rid)):
        with pytest.raises(AespError, match="separation of duties") as refused:
            await engine.adjudicate(who(ALICE, "security"), "", decision)
        assert refused.value.code == "PERMISSION_DENIED"
    assert list(await world.store.decisions(rid)) == []
    with pytest.raises(AespError, match="cannot approve your own request"):
        await engine.request(ALICE, "", contract_request((ALICE, BOB)))


async def test_an_approver_decides_once(world: World) -> None:
    engine = world.governance.engine
    view = await engine.request(ALICE, "", contract_request((BOB, CAROL)))
    rid = view.request.approval_request_id
    await engine.adjudicate(who(BOB), "", approve(rid))
    with pytest.raises(AespError, match="already decided") as again:
        await engine.adjudicate(who(BOB), "", reject(rid))
    assert again.value.code == "INVALID_STATE"
    assert await status_of(world, rid) is ApprovalStatus.PENDING


async def test_174_a_decided_or_expired_request_takes_no_decision(world: World) -> None:
    engine = world.governance.engine
    decided = await engine.request(ALICE, "", contract_request((BOB, CAROL), min_approvals=1))
    rid = decided.request.approval_request_id
    await engine.adjudicate(who(BOB), "", approve(rid))
    with pytest.raises(AespError, match="is APPROVED, not PENDING") as closed:
        await engine.adjudicate(who(CAROL), "", approve(rid))
    assert closed.value.code == "INVALID_STATE"
    late = await engine.request(
        ALICE,
        "",
        NewRequest(
            "TOOL_CONTRACT_V1",
            "",
            artifact({"name": "late", "description": "x", "parameters": {"type": "OBJECT"}}),
            required_approvers=(BOB,),
            expires_at_ms=world.clock.now + HOUR_MS,
        ),
    )
    world.clock.now += HOUR_MS
    with pytest.raises(AespError, match="is EXPIRED") as expired:
        await engine.adjudicate(who(BOB), "", approve(late.request.approval_request_id))
    assert expired.value.details["status"] == "EXPIRED"
    stored = await world.store.get(late.request.approval_request_id)
    assert stored is not None and stored.status is ApprovalStatus.EXPIRED
    assert [e.resource for e in world.events("GOVERNANCE_APPROVAL_EXPIRE")] == [
        f"approval:{late.request.approval_request_id}"
    ]
    assert world.manifest.current.get("late") is None


async def test_174_the_sweep_expires_overdue_requests_only(world: World) -> None:
    engine = world.governance.engine
    soon = NewRequest(
        "TOOL_CONTRACT_V1",
        "",
        artifact({"name": "soon", "description": "x", "parameters": {"type": "OBJECT"}}),
        required_approvers=(BOB,),
        expires_at_ms=world.clock.now + 10,
    )
    overdue = await engine.request(ALICE, "", soon)
    fresh = await engine.request(ALICE, "", contract_request((BOB,)))
    assert await engine.expire_due() == 0
    world.clock.now += 10
    assert await engine.expire_due() == 1
    assert await status_of(world, overdue.request.approval_request_id) is ApprovalStatus.EXPIRED
    assert await status_of(world, fresh.request.approval_request_id) is ApprovalStatus.PENDING
    assert await engine.expire_due() == 0


async def test_conditions_are_stored_and_returned(world: World) -> None:
    engine = world.governance.engine
    view = await engine.request(ALICE, "", contract_request((BOB,)))
    rid = view.request.approval_request_id
    await engine.adjudicate(who(BOB), "", approve(rid, ticket="CHG-7", window="weekend"))
    [page_item] = (await engine.history(scope="", approval_request_id=rid)).items
    [decision] = page_item.decisions
    assert public_conditions(decision.conditions) == {"ticket": "CHG-7", "window": "weekend"}
    assert page_item.completed_at_ms == decision.decided_at_ms
    with pytest.raises(AespError, match="the Host's own"):
        await engine.adjudicate(
            who(CAROL), "", Adjudication(rid, "APPROVE", conditions={"aesp.satisfies": "[]"})
        )


async def test_malformed_decisions_and_types_are_refused(world: World) -> None:
    engine = world.governance.engine
    view = await engine.request(ALICE, "", contract_request((BOB,)))
    with pytest.raises(AespError, match="APPROVE or REJECT"):
        await engine.adjudicate(
            who(BOB), "", Adjudication(view.request.approval_request_id, "MAYBE")
        )
    with pytest.raises(AespError, match="is not one of") as kind:
        await engine.request(
            ALICE, "", NewRequest("TOOL_CONTRACT", "", b"{}", required_approvers=(BOB,))
        )
    assert kind.value.code == "MALFORMED_REQUEST"
    with pytest.raises(AespError, match="at least one approver"):
        await engine.request(ALICE, "", contract_request(()))
    with pytest.raises(AespError, match="There is no approval request"):
        await engine.adjudicate(who(BOB), "", approve("apr-missing"))
