"""Per-call approval (aesp.core.call_approvals) on the in-memory approval store and the real
approval engine: held, approved by someone else, used exactly once, bound to the call."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from typing import Any

import pytest

from aesp.adm import canonical_json
from aesp.core.audit import MemoryAuditLog
from aesp.core.call_approvals import (
    APPROVAL_ID_KEY,
    CALL_USE_KEY,
    CallApprovals,
    approval_rule,
)
from aesp.core.contracts import ContractStatus, ToolContract
from aesp.core.errors import AespError
from aesp.core.governance import Adjudication, ApprovalEngine, Approver, EnactorRegistry
from aesp.core.governance.contracts import restore_contracts
from aesp.core.manifest import ManifestStore, parse_manifest
from aesp.core.ports.governance import ApprovalStatus
from aesp.core.principal import Principal
from aesp.testing.inmemory import InMemoryApprovalStore

START_MS = 1_700_000_000_000
TTL_MS = 60_000


class Clock:
    """A settable Unix-millisecond clock."""

    def __init__(self) -> None:
        self.now = START_MS

    def __call__(self) -> int:
        return self.now


def who(name: str, tenant: str = "acme") -> Principal:
    """A verified client principal."""
    return Principal(principal_id=f"p|{name}@{tenant}", tenant_id=tenant, kind="client", name=name)


def tool(**governance: str) -> ToolContract:
    """The ``pay`` contract with ``governance`` as its governance_metadata."""
    return ToolContract.from_json(
        {
            "name": "pay",
            "description": "Pay someone.",
            "contract_version": "1.0.0",
            "parameters": {"type": "OBJECT", "properties": {"amount": {"type": "INTEGER"}}},
            "security_classification": "PUBLIC",
            "governance_metadata": governance,
        },
        default_status=ContractStatus.ACTIVE,
    )


PAY = tool(approval="per_call", approvers="p|bob@acme,role:finance", min_approvals="1")


def digest(args: Any) -> str:
    """The pipeline's argument digest."""
    return "sha256:" + hashlib.sha256(canonical_json(args)).hexdigest()


class World:
    """The gate, the engine deciding on its requests, and what was audited."""

    def __init__(self) -> None:
        self.clock = Clock()
        self.store = InMemoryApprovalStore()
        self.audit = MemoryAuditLog()
        self.gate = CallApprovals(store=self.store, audit=self.audit, clock_ms=self.clock)
        # No enactor at all: a per-call approval must complete without enacting anything.
        self.engine = ApprovalEngine(
            store=self.store, enactors=EnactorRegistry(), audit=self.audit, clock_ms=self.clock
        )

    async def call(
        self,
        principal: Principal,
        args: Any,
        approval_id: str = "",
        contract: ToolContract = PAY,
    ) -> dict[str, str]:
        """Run the approval step for one call."""
        return await self.gate.check(
            principal,
            contract,
            args=args,
            args_sha256=digest(args),
            metadata={APPROVAL_ID_KEY: approval_id} if approval_id else {},
            correlation_id="cid",
            session_id="s1",
        )

    async def held(self, principal: Principal, args: Any) -> str:
        """Call without an approval; the id of the request that holds it."""
        with pytest.raises(AespError, match="needs approval of this exact call") as info:
            await self.call(principal, args)
        assert info.value.code == "EMERGENCY_OVERRIDE_REQUIRED"
        assert info.value.details["reason"] == "APPROVAL_REQUIRED"
        return info.value.details[APPROVAL_ID_KEY]

    async def approve(self, rid: str, approver: str = "bob", *roles: str) -> ApprovalStatus:
        """``approver`` (of tenant acme) approves ``rid``; the status after."""
        result = await self.engine.adjudicate(
            Approver.with_roles(f"p|{approver}@acme", roles), "acme", Adjudication(rid, "APPROVE")
        )
        return result.final_status


@pytest.fixture
def world() -> World:
    return World()


ALICE = who("alice")


def test_rule_parsing_and_fail_closed_configuration() -> None:
    assert approval_rule(tool()) is None
    rule = approval_rule(PAY)
    assert rule is not None and rule.approvers == ("p|bob@acme", "role:finance")
    assert (rule.min_approvals, rule.ttl_ms) == (1, 3_600_000)
    for broken, why in [
        ({"approval": "sometimes", "approvers": "x"}, "is not 'per_call'"),
        ({"approval": "per_call"}, "names no approvers"),
        ({"approval": "per_call", "approvers": "x", "min_approvals": "2"}, "min_approvals"),
        ({"approval": "per_call", "approvers": "x", "min_approvals": "two"}, "not an integer"),
        ({"approval": "per_call", "approvers": "x", "approval_ttl_ms": "5"}, "approval_ttl_ms"),
    ]:
        with pytest.raises(AespError, match=why) as info:
            approval_rule(tool(**broken))
        assert info.value.code == "CONFIGURATION_ERROR"


async def test_a_contract_without_the_rule_passes_untouched(world: World) -> None:
    assert await world.call(ALICE, {"amount": 1}, contract=tool()) == {}
    assert await world.store.revision() == 0


async def test_held_approved_by_another_then_used_exactly_once(world: World) -> None:
    rid = await world.held(ALICE, {"amount": 5})
    request = await world.store.get(rid)
    assert request is not None and request.status is ApprovalStatus.PENDING
    assert (request.tenant_id, request.requester_id) == ("acme", ALICE.principal_id)
    assert request.required_approvers == ("p|bob@acme", "role:finance")
    assert request.expires_at_ms == START_MS + 3_600_000
    assert b'"arguments":{"amount":5}' in request.artifact_data  # approvers see the call
    # Presented while still PENDING: held again, with the same request.
    with pytest.raises(AespError, match="is PENDING") as info:
        await world.call(ALICE, {"amount": 5}, rid)
    assert info.value.details[APPROVAL_ID_KEY] == rid
    assert await world.approve(rid) is ApprovalStatus.APPROVED
    used = await world.call(ALICE, {"amount": 5}, rid)
    assert used == {APPROVAL_ID_KEY: rid, "approval": "consumed", "approval_rule": "contract"}
    with pytest.raises(AespError, match="already used") as again:
        await world.call(ALICE, {"amount": 5}, rid)
    assert (again.value.code, again.value.details["reason"]) == (
        "PERMISSION_DENIED",
        "APPROVAL_ALREADY_USED",
    )
    [opened] = [e for e in world.audit.events() if e.event_type == "GOVERNANCE_APPROVAL_REQUEST"]
    assert opened.metadata[APPROVAL_ID_KEY] == rid
    assert opened.metadata["args_sha256"] == digest({"amount": 5})


async def test_concurrent_uses_admit_exactly_one(world: World) -> None:
    rid = await world.held(ALICE, {"amount": 5})
    await world.approve(rid)
    outcomes = await asyncio.gather(
        *(world.call(ALICE, {"amount": 5}, rid) for _ in range(8)), return_exceptions=True
    )
    assert sum(isinstance(o, dict) for o in outcomes) == 1
    refused = [o for o in outcomes if isinstance(o, AespError)]
    assert {e.details["reason"] for e in refused} == {"APPROVAL_ALREADY_USED"}


async def test_changed_arguments_need_their_own_approval(world: World) -> None:
    rid = await world.held(ALICE, {"amount": 5})
    await world.approve(rid)
    with pytest.raises(AespError, match="its args_sha256 differs") as info:
        await world.call(ALICE, {"amount": 5000}, rid)
    assert info.value.details["reason"] == "APPROVAL_BINDING_MISMATCH"
    # The refused attempt did not burn it: the approved call still runs.
    assert (await world.call(ALICE, {"amount": 5}, rid))[APPROVAL_ID_KEY] == rid


async def test_a_new_contract_version_needs_a_new_approval(world: World) -> None:
    rid = await world.held(ALICE, {"amount": 5})
    await world.approve(rid)
    newer = tool(approval="per_call", approvers="p|bob@acme", approval_ttl_ms="60000")
    with pytest.raises(AespError, match="its contract_digest differs"):
        await world.call(ALICE, {"amount": 5}, rid, contract=newer)


async def test_another_principal_or_tenant_cannot_use_it(world: World) -> None:
    rid = await world.held(ALICE, {"amount": 5})
    await world.approve(rid)
    with pytest.raises(AespError, match="requested by another principal") as info:
        await world.call(who("mallory"), {"amount": 5}, rid)
    assert info.value.details["reason"] == "APPROVAL_NOT_YOURS"
    with pytest.raises(AespError, match="no per-call approval") as other:
        await world.call(who("alice", "globex"), {"amount": 5}, rid)
    assert other.value.details["reason"] == "APPROVAL_NOT_FOUND"
    assert (await world.call(ALICE, {"amount": 5}, rid))[APPROVAL_ID_KEY] == rid


async def test_expired_and_rejected_approvals_are_refused(world: World) -> None:
    rid = await world.held(ALICE, {"amount": 5})
    await world.approve(rid)
    world.clock.now += 3_600_000
    with pytest.raises(AespError, match="expired") as info:
        await world.call(ALICE, {"amount": 5}, rid)
    assert info.value.details["reason"] == "APPROVAL_EXPIRED"
    rejected = await world.held(ALICE, {"amount": 6})
    await world.engine.adjudicate(
        Approver.with_roles("p|bob@acme"), "acme", Adjudication(rejected, "REJECT")
    )
    with pytest.raises(AespError, match="was rejected"):
        await world.call(ALICE, {"amount": 6}, rejected)


async def test_separation_of_duties(world: World) -> None:
    # The caller holds the approver role, yet cannot approve its own call.
    rid = await world.held(ALICE, {"amount": 5})
    with pytest.raises(AespError, match="separation of duties") as info:
        await world.engine.adjudicate(
            Approver.with_roles(ALICE.principal_id, ("finance",)),
            "acme",
            Adjudication(rid, "APPROVE"),
        )
    assert info.value.details["reason"] == "SEPARATION_OF_DUTIES"
    # A contract naming only the caller can never be approved: refused, nothing opened.
    only_self = tool(approval="per_call", approvers=ALICE.principal_id)
    before = await world.store.revision()
    with pytest.raises(AespError, match="no approver other than you"):
        await world.call(ALICE, {"amount": 5}, contract=only_self)
    assert await world.store.revision() == before
    # The caller named among others is dropped from its own request's approvers.
    both = tool(approval="per_call", approvers=f"{ALICE.principal_id},p|bob@acme")
    with pytest.raises(AespError) as held:
        await world.call(ALICE, {"amount": 7}, contract=both)
    request = await world.store.get(held.value.details[APPROVAL_ID_KEY])
    assert request is not None and request.required_approvers == ("p|bob@acme",)


async def test_a_non_call_request_id_is_not_an_approval(world: World) -> None:
    with pytest.raises(AespError, match="no per-call approval"):
        await world.call(ALICE, {"amount": 5}, "apr-doesnotexist")
    rid = await world.held(ALICE, {"amount": 5})
    await world.approve(rid)
    await world.call(ALICE, {"amount": 5}, rid)
    with pytest.raises(AespError, match="no per-call approval"):  # the use record is no approval
        await world.call(ALICE, {"amount": 5}, f"{rid}.used")


async def test_use_records_are_hidden_and_contract_replay_skips_call_approvals(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    rid = await world.held(ALICE, {"amount": 5})
    await world.approve(rid)
    await world.call(ALICE, {"amount": 5}, rid)
    use = await world.store.get(f"{rid}.used")
    assert use is not None and use.status is ApprovalStatus.EXPIRED
    assert use.metadata[CALL_USE_KEY] == rid
    history = await world.engine.history(scope="acme")
    assert [v.request.approval_request_id for v in history.items] == [rid]
    pending = await world.engine.list_pending(scope=None)
    assert pending.items == []
    echo = {
        "name": "echo",
        "description": "Echo.",
        "contract_version": "1.0.0",
        "parameters": {"type": "OBJECT", "properties": {}},
        "security_classification": "PUBLIC",
    }
    manifest = ManifestStore(parse_manifest({"manifest_version": "1.0.0", "contracts": [echo]}))
    with caplog.at_level(logging.ERROR):
        assert await restore_contracts(world.store, manifest) == []
    assert "cannot be restored" not in caplog.text  # not read as a contract at all
