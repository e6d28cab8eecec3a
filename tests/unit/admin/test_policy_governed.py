"""Governed policy writes (SPEC §3.11, §3.12, items 163, 165, 171) on the in-memory fakes,
and the principal audit trail read from the AuditQuery port.

``PolicyAdmin`` built with :class:`PolicyApprovals` (``[governance] policy_changes =
"approval"``): CreatePolicy, UpdatePolicy and DeletePolicy validate, then open a ``POLICY_V1``
request and change nothing until a second administrator approves; the approval enforces the
change at once. ``root`` and ``ruth`` (group ``ops``, role ``platform``) may adjudicate;
``alice`` (group ``admins``) may only administer policies.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass

import pytest

from aesp.core.admin import IdentityAdmin, PolicyAdmin
from aesp.core.admin.governance import GovernanceAdmin
from aesp.core.admin.identity_types import AuditTrailQuery
from aesp.core.admin.policy import PendingDeletion, PendingPolicy, PolicyApprovals
from aesp.core.audit import AuditEvent
from aesp.core.config import GovernanceConfig, HostConfig
from aesp.core.control import CallFacts
from aesp.core.errors import AespError, ConfigurationError
from aesp.core.governance.model import Adjudication, ApprovalStatus
from aesp.core.governance.service import Governance
from aesp.core.governance.store_enactors import encode_deletion, parse_deletion
from aesp.core.policy import PolicyDefinition
from aesp.core.security import SecurityContext
from aesp.testing.inmemory import InMemoryApprovalStore
from aesp.testing.inmemory.audit import InMemoryAuditIndex
from tests.unit.admin.conftest import PEPPER, Admin

BIG = "request.args.amount > 1000"


def rule(version: str = "1.0.0", condition: str = BIG) -> PolicyDefinition:
    """A DENY rule on ``transfer`` as a client sends it."""
    return PolicyDefinition(
        policy_id="no-big",
        name="no big transfers",
        version=version,
        tenant_id="",
        applies_to=("tool:transfer",),
        effect="DENY",
        condition=condition,
    )


@dataclass
class Governed:
    """The admin fixture plus governance and a governed PolicyAdmin."""

    admin: Admin
    governance: Governance
    decisions: GovernanceAdmin
    policy: PolicyAdmin

    async def enforced(self, ctx: SecurityContext, amount: int) -> str:
        """The code the Host's policy set gives a transfer of ``amount`` (``""``: allowed)."""
        contract = self.admin.plane._manifest.current.get("transfer")  # noqa: SLF001
        assert contract is not None
        facts = CallFacts(args={"amount": amount, "to": "x"})
        return self.admin.plane.evaluate_policies(ctx, contract, facts).code

    async def approve(self, ctx: SecurityContext, request_id: str) -> ApprovalStatus:
        """``ctx`` approves ``request_id``; the request's state after it."""
        result = await self.decisions.adjudicate_approval(ctx, Adjudication(request_id, "APPROVE"))
        return result.final_status


@pytest.fixture
async def gov(admin: Admin) -> AsyncIterator[Governed]:
    governance = Governance(
        control=admin.plane,
        manifest=admin.plane._manifest,  # noqa: SLF001 - the fixture's manifest store
        approvals=InMemoryApprovalStore(),
        clock_ms=admin.clock,
    )
    decisions = GovernanceAdmin(admin.plane, governance, clock_ms=admin.clock)
    policy = PolicyAdmin(
        admin.plane,
        admin.plane._manifest,  # noqa: SLF001
        clock_ms=admin.clock,
        approvals=PolicyApprovals(governance),
    )
    yield Governed(admin, governance, decisions, policy)
    await governance.stop()


async def refused(call: Awaitable[object], code: str) -> AespError:
    with pytest.raises(AespError) as info:
        await call
    assert info.value.code == code, info.value
    return info.value


def test_item_165_governance_section_defaults_to_approval_and_is_validated() -> None:
    assert HostConfig().governance.policy_changes == "approval"
    assert GovernanceConfig("direct").policy_changes == "direct"
    with pytest.raises(ConfigurationError) as info:
        GovernanceConfig("later")
    assert "governance.policy_changes" in info.value.message


async def test_item_165_create_is_pending_until_a_second_administrator_approves(
    gov: Governed,
) -> None:
    alice = await gov.admin.ctx("alice", "acme", "admins")
    root = await gov.admin.ctx("root", "acme", "ops")
    pending = await gov.policy.create_policy(alice, rule(), correlation_id="cid-g")
    assert isinstance(pending, PendingPolicy) and pending.approval_request_id.startswith("apr-")
    assert pending.warnings[-1].startswith("PENDING_APPROVAL: ")
    assert gov.admin.policies.stored() == [] and await gov.enforced(alice, 5000) == ""
    [event] = gov.admin.events("GOVERNANCE_APPROVAL_REQUEST")
    assert event.metadata["approval_request_id"] == pending.approval_request_id
    assert (event.metadata["applied"], event.metadata["operation"]) == ("false", "CreatePolicy")
    assert gov.admin.events("POLICY_CREATE") == []
    request = await gov.governance.approvals.get(pending.approval_request_id)
    assert request is not None and request.requester_id == alice.principal_id
    assert request.required_approvers == ("role:platform",) and request.min_approvals == 1
    assert await gov.approve(root, pending.approval_request_id) == ApprovalStatus.APPROVED
    assert await gov.enforced(alice, 5000) == "POLICY_VIOLATION"
    assert await gov.enforced(alice, 10) == ""


async def test_item_171_the_requester_never_approves_its_own_policy_change(
    gov: Governed,
) -> None:
    root = await gov.admin.ctx("root", "acme", "ops")
    ruth = await gov.admin.ctx("ruth", "acme", "ops")
    pending = await gov.policy.create_policy(root, rule())
    assert isinstance(pending, PendingPolicy)
    await refused(gov.approve(root, pending.approval_request_id), "PERMISSION_DENIED")
    assert await gov.enforced(root, 5000) == ""
    assert await gov.approve(ruth, pending.approval_request_id) == ApprovalStatus.APPROVED
    assert await gov.enforced(root, 5000) == "POLICY_VIOLATION"


async def test_item_165_update_and_delete_are_pending_then_applied(gov: Governed) -> None:
    alice = await gov.admin.ctx("alice", "acme", "admins")
    root = await gov.admin.ctx("root", "acme", "ops")
    created = await gov.policy.create_policy(alice, rule())
    assert isinstance(created, PendingPolicy)
    await gov.approve(root, created.approval_request_id)
    # UpdatePolicy: validated as before (a version that does not increase is refused) ...
    await refused(gov.policy.update_policy(alice, rule("1.0.0")), "INVALID_STATE")
    updated = await gov.policy.update_policy(
        alice, rule("2.0.0", "request.args.amount > 100"), justification="tighter"
    )
    assert isinstance(updated, PendingPolicy)
    assert await gov.enforced(alice, 500) == ""  # ... and not in force yet
    await gov.approve(root, updated.approval_request_id)
    assert await gov.enforced(alice, 500) == "POLICY_VIOLATION"
    # DeletePolicy: pending, the policy still in force; approved, evaluated no more.
    deletion = await gov.policy.delete_policy(alice, "no-big", justification="obsolete")
    assert isinstance(deletion, PendingDeletion) and deletion.deleted_at_ms == 0
    assert await gov.enforced(alice, 500) == "POLICY_VIOLATION"
    await gov.approve(root, deletion.approval_request_id)
    assert await gov.enforced(alice, 500) == ""
    await refused(gov.policy.get_policy(alice, "no-big"), "POLICY_NOT_FOUND")
    await refused(gov.policy.delete_policy(alice, "no-big"), "POLICY_NOT_FOUND")


async def test_item_163_dry_run_needs_no_approval_and_invalid_changes_open_no_request(
    gov: Governed,
) -> None:
    alice = await gov.admin.ctx("alice", "acme", "admins")
    dry = await gov.policy.create_policy(alice, rule(), dry_run=True)
    assert dry.dry_run and not isinstance(dry, PendingPolicy)
    await refused(gov.policy.create_policy(alice, rule(condition="((")), "POLICY_EVALUATION_FAILED")
    await refused(gov.policy.delete_policy(alice, "nothing"), "POLICY_NOT_FOUND")
    assert gov.admin.events("GOVERNANCE_APPROVAL_REQUEST") == []
    assert (await gov.governance.approvals.list(tenant_id=None)).items == []


async def test_item_165_without_governance_a_write_is_refused_not_applied(admin: Admin) -> None:
    policy = PolicyAdmin(
        admin.plane,
        admin.plane._manifest,  # noqa: SLF001
        clock_ms=admin.clock,
        approvals=PolicyApprovals(None),
    )
    alice = await admin.ctx("alice", "acme", "admins")
    await refused(policy.create_policy(alice, rule()), "FEATURE_UNAVAILABLE")
    assert admin.policies.stored() == []


def test_a_deletion_artifact_round_trips_and_a_policy_is_not_one() -> None:
    assert parse_deletion(encode_deletion("no-big"), "acme") == "no-big"
    assert parse_deletion(b'{"policy_id": "p", "version": "1.0.0"}', "acme") is None
    with pytest.raises(AespError) as info:
        parse_deletion(b'{"policy_id": "p", "delete": false}', "acme")
    assert info.value.code == "MALFORMED_REQUEST"


# ---------------------------------------------------------------- audit trail from AuditQuery


async def test_audit_trail_and_summary_read_the_audit_query_port_tenant_scoped(
    admin: Admin,
) -> None:
    """Events only the index holds (another Host's, an earlier process's) are read; another
    tenant's events of the same principal id never are; cursors are the port's own."""
    index = InMemoryAuditIndex()
    bob = "oidc|https://idp|bob@acme"

    def event(kind: str, outcome: str, tenant: str, at: int) -> AuditEvent:
        return AuditEvent(kind, outcome, "act", principal_id=bob, tenant_id=tenant, timestamp_ms=at)

    await index.index(
        [
            event("AUTHORIZATION_DENIED", "DENIED", "acme", 10),
            event("TOOL_INVOCATION", "SUCCESS", "acme", 20),
            event("TOOL_INVOCATION", "FAILURE", "acme", 30),
            event("TOOL_INVOCATION", "SUCCESS", "globex", 40),
        ]
    )
    identity = IdentityAdmin(admin.plane, pepper=PEPPER, clock_ms=admin.clock, audit_query=index)
    alice = await admin.ctx("alice", "acme", "admins")
    await admin.ctx("bob", "acme", "staff")  # provisioned, so GetPrincipalDetails finds him
    first = await identity.get_principal_audit_trail(alice, AuditTrailQuery(bob, limit=2))
    assert [e.timestamp_ms for e in first.items] == [10, 20] and first.next_cursor
    rest = await identity.get_principal_audit_trail(
        alice, AuditTrailQuery(bob, limit=2, cursor=first.next_cursor)
    )
    assert [e.timestamp_ms for e in rest.items] == [30] and not rest.next_cursor
    typed = await identity.get_principal_audit_trail(
        alice, AuditTrailQuery(bob, event_types=("TOOL_INVOCATION",), start_ms=25)
    )
    assert [e.timestamp_ms for e in typed.items] == [30]
    await refused(
        identity.get_principal_audit_trail(alice, AuditTrailQuery(bob, cursor="bogus")),
        "MALFORMED_REQUEST",
    )
    details = await identity.get_principal_details(alice, bob, include_audit_summary=True)
    summary = details.audit_summary
    assert summary is not None
    assert (summary.total_events, summary.denied_events, summary.failed_events) == (3, 1, 1)
    assert summary.last_event_at_ms == 30
    assert summary.event_type_counts == {"AUTHORIZATION_DENIED": 1, "TOOL_INVOCATION": 2}
