"""Per-call approval asked for by REQUIRE_APPROVAL policies (docs/protocol-decisions.md 102-104):
which rule governs, what the request records, and the binding to the policy version."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from aesp.adm import canonical_json
from aesp.core.audit import MemoryAuditLog
from aesp.core.call_approvals import APPROVAL_ID_KEY, CallApprovals, governing_rule
from aesp.core.contracts import ContractStatus, ToolContract
from aesp.core.errors import AespError
from aesp.core.governance import Adjudication, ApprovalEngine, Approver, EnactorRegistry
from aesp.core.policy import ApprovalRequirement
from aesp.core.principal import Principal
from aesp.testing.inmemory import InMemoryApprovalStore

START_MS = 1_700_000_000_000
ALICE = Principal(principal_id="p|alice@acme", tenant_id="acme", kind="client", name="alice")


def contract(**governance: str) -> ToolContract:
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


def rule(
    policy_id: str, approvers: str, *, tenant: str = "acme", version: str = "1.0.0"
) -> ApprovalRequirement:
    """A compiled REQUIRE_APPROVAL rule as the engine reports it."""
    return ApprovalRequirement(tuple(approvers.split(",")), 0, 60_000, policy_id, tenant, version)


class World:
    """The approval step and an engine deciding on its requests."""

    def __init__(self) -> None:
        self.store = InMemoryApprovalStore()
        audit = MemoryAuditLog()
        self.gate = CallApprovals(store=self.store, audit=audit, clock_ms=lambda: START_MS)
        self.engine = ApprovalEngine(
            store=self.store, enactors=EnactorRegistry(), audit=audit, clock_ms=lambda: START_MS
        )

    async def call(
        self,
        policies: tuple[ApprovalRequirement, ...],
        approval_id: str = "",
        tool: ToolContract | None = None,
    ) -> dict[str, str]:
        """Alice calls ``pay`` with amount 5000."""
        args: Any = {"amount": 5000}
        return await self.gate.check(
            ALICE,
            tool or contract(),
            args=args,
            args_sha256="sha256:" + hashlib.sha256(canonical_json(args)).hexdigest(),
            metadata={APPROVAL_ID_KEY: approval_id} if approval_id else {},
            correlation_id="cid",
            session_id="s1",
            policies=policies,
        )

    async def held(self, policies: tuple[ApprovalRequirement, ...], **kw: Any) -> str:
        """The id of the request that holds the call."""
        with pytest.raises(AespError) as info:
            await self.call(policies, **kw)
        assert info.value.code == "EMERGENCY_OVERRIDE_REQUIRED"
        return info.value.details[APPROVAL_ID_KEY]

    async def approve(self, rid: str, approver: str) -> None:
        """``approver`` of acme approves ``rid``."""
        await self.engine.adjudicate(
            Approver.with_roles(approver, ()), "acme", Adjudication(rid, "APPROVE")
        )


@pytest.fixture
def world() -> World:
    return World()


async def test_a_policy_rule_holds_a_call_the_contract_does_not(world: World) -> None:
    assert await world.call(()) == {}  # no rule anywhere: no store access, no hold
    big = rule("big", "p|bob@acme")
    rid = await world.held((big,))
    request = await world.store.get(rid)
    assert request is not None and request.required_approvers == ("p|bob@acme",)
    assert request.expires_at_ms == START_MS + 60_000
    assert request.metadata["aesp.approval_rule"] == "policy:acme/big@1.0.0"
    assert request.metadata["aesp.approval_policy"] == "acme/big@1.0.0"
    assert request.metadata["aesp.approval_policies"] == ""
    await world.approve(rid, "p|bob@acme")
    used = await world.call((big,), rid)
    assert used == {
        APPROVAL_ID_KEY: rid,
        "approval": "consumed",
        "approval_rule": "policy:acme/big@1.0.0",
    }


async def test_the_contract_rule_wins_and_the_policies_are_recorded(world: World) -> None:
    tool = contract(approval="per_call", approvers="p|carol@acme")
    rid = await world.held((rule("big", "p|bob@acme"),), tool=tool)
    request = await world.store.get(rid)
    assert request is not None and request.required_approvers == ("p|carol@acme",)
    assert request.metadata["aesp.approval_rule"] == "contract"
    assert request.metadata["aesp.approval_policies"] == "policy:acme/big@1.0.0"
    assert "aesp.approval_policy" not in request.metadata


def test_a_platform_policy_wins_over_a_tenant_policy() -> None:
    tenant, platform = rule("mine", "p|bob@acme"), rule("corp", "role:risk", tenant="")
    chosen, others = governing_rule(contract(), (tenant, platform))
    assert chosen is platform and others == (tenant,)
    chosen, others = governing_rule(contract(), (tenant, rule("b", "x")))
    assert chosen is tenant and [o.policy_id for o in others] == ["b"]
    assert governing_rule(contract(), ()) == (None, ())


async def test_an_approval_is_bound_to_the_policy_version(world: World) -> None:
    rid = await world.held((rule("big", "p|bob@acme"),))
    await world.approve(rid, "p|bob@acme")
    newer = rule("big", "p|mallory@acme", version="1.1.0")
    with pytest.raises(AespError) as info:
        await world.call((newer,), rid)
    assert info.value.details["reason"] == "APPROVAL_BINDING_MISMATCH"
    assert "approval_policy" in info.value.message


async def test_a_policy_naming_only_the_caller_refuses_the_call(world: World) -> None:
    with pytest.raises(AespError) as info:
        await world.call((rule("self", "p|alice@acme"),))
    assert info.value.code == "PERMISSION_DENIED"
    assert info.value.details["reason"] == "SEPARATION_OF_DUTIES"
    assert info.value.details["approval_rule"] == "policy:acme/self@1.0.0"
