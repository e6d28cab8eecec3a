"""Value types of the approval workflow engine (SPEC §3.7 (4), §3.11).

The port types (:class:`~aesp.core.ports.governance.ApprovalRequest`, ``ApprovalDecision``)
are what is stored; these are what the engine takes from its callers and hands back: who is
deciding, what an enactor prepared or did, and a request with the facts an approver needs
(who still has to approve, which workflow routed it, when it ended).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from aesp.core.call_approvals import CALL_APPROVAL_KEY, CALL_USE_KEY
from aesp.core.ports.governance import (
    ApprovalDecision,
    ApprovalRequest,
    ApprovalStatus,
    Verdict,
)

__all__ = [
    "CALL_APPROVAL_KEY",
    "CALL_USE_KEY",
    "RESERVED_PREFIX",
    "SATISFIES_KEY",
    "WORKFLOW_KEY",
    "Adjudication",
    "Approval",
    "ApprovalView",
    "Approver",
    "DecisionResult",
    "Enacted",
    "NewRequest",
    "Prepared",
    "is_call_approval",
    "public_conditions",
]

RESERVED_PREFIX: Final = "aesp."  # metadata and condition keys only the Host writes
WORKFLOW_KEY: Final = "aesp.workflow_id"  # request metadata: the workflow that routed it
SATISFIES_KEY: Final = "aesp.satisfies"  # decision conditions: entries the approver could fill


def is_call_approval(request: ApprovalRequest) -> bool:
    """Whether ``request`` approves one tool call (or records the use of such an approval).

    Only the Host writes ``aesp.`` metadata keys, so a client cannot make a request look like one.
    """
    return CALL_APPROVAL_KEY in request.metadata or CALL_USE_KEY in request.metadata


def public_conditions(conditions: Mapping[str, str]) -> dict[str, str]:
    """The conditions an approver attached, without the Host's own bookkeeping keys."""
    return {k: v for k, v in conditions.items() if not k.startswith(RESERVED_PREFIX)}


@dataclass(frozen=True, slots=True)
class Approver:
    """The verified principal deciding, and how to learn its roles in a request's tenant.

    Why a function and not a role set: a role entry (``role:<name>``) is satisfied by a holder
    *in the request's tenant*, which is known only once the request is read.

    Attributes:
        principal_id: The verified caller (never a request field).
        roles_in: Tenant id → the principal's effective roles there (``""``: its own tenant).
    """

    principal_id: str
    roles_in: Callable[[str], frozenset[str]]

    @classmethod
    def with_roles(cls, principal_id: str, roles: Sequence[str] = ()) -> Approver:
        """An approver holding the same ``roles`` in every tenant (tests, embedded use)."""
        held = frozenset(roles)
        return cls(principal_id, lambda _tenant: held)


@dataclass(frozen=True, slots=True)
class NewRequest:
    """What a requester asks for (``RequestApprovalRequest`` without the requester or tenant,
    which come from the verified caller and the resolved scope).

    Attributes:
        artifact_type: One of the five ``_V1`` types (refused otherwise).
        artifact_id: Which artifact; may be empty (the enactor names it).
        artifact_data: The serialised artifact.
        justification: Why.
        required_approvers: Principal ids or ``role:<name>``; a workflow may add more.
        min_approvals: m of n; 0 means every required approver.
        expires_at_ms: Deadline; 0 means the workflow's (or the Host's) default lifetime.
        metadata: Extra context for approvers.
    """

    artifact_type: str
    artifact_id: str
    artifact_data: bytes
    justification: str = ""
    required_approvers: tuple[str, ...] = ()
    min_approvals: int = 0
    expires_at_ms: int = 0
    metadata: Mapping[str, str] = field(default_factory=dict[str, str])


@dataclass(frozen=True, slots=True)
class Adjudication:
    """One approver's decision as asked (``AdjudicateApprovalRequest``)."""

    approval_request_id: str
    decision: str
    comments: str = ""
    conditions: Mapping[str, str] = field(default_factory=dict[str, str])


@dataclass(frozen=True, slots=True)
class Prepared:
    """An artifact an enactor checked at RequestApproval, in the form that will be enacted.

    Attributes:
        artifact_id: The id the enactor derives (``name@version``, ``role:<name>``, ...).
        artifact_data: The normalised bytes approvers see and enactment applies.
        facts: Facts workflows route on (``risk_assessment``, ``security_classification``).
    """

    artifact_id: str
    artifact_data: bytes
    facts: Mapping[str, str] = field(default_factory=dict[str, str])


@dataclass(frozen=True, slots=True)
class Approval:
    """A request whose approvals are complete, as handed to an enactor.

    Attributes:
        request: The request as last read (still PENDING in the store).
        approvers: Principals that said APPROVE, in decision order.
        approved_at_ms: Time of the completing decision (server clock).
        decisions: Every decision, the completing one included.
    """

    request: ApprovalRequest
    approvers: tuple[str, ...]
    approved_at_ms: int
    decisions: tuple[ApprovalDecision, ...] = ()

    @property
    def approved_by(self) -> str:
        """``approved_by`` of an enacted artifact: every approver, comma-separated."""
        return ",".join(self.approvers)


async def _nothing() -> None:
    return None


@dataclass(frozen=True, slots=True)
class Enacted:
    """What an enactor did, to audit it and, if the approval cannot be recorded, undo it.

    Attributes:
        event_type: SPEC §3.10 event type of the change (``CONTRACT_STATE_CHANGE``, ...).
        resource: What changed (``contract:<name>@<version>``).
        metadata: Public facts for the audit event.
        rollback: Undoes exactly this change and nothing made after it.
        changed: False when the artifact was already in force (another Host enacted it).
    """

    event_type: str
    resource: str
    metadata: Mapping[str, str] = field(default_factory=dict[str, str])
    rollback: Callable[[], Awaitable[None]] = _nothing
    changed: bool = True


@dataclass(frozen=True, slots=True)
class ApprovalView:
    """A request with what readers need besides the stored record.

    Attributes:
        request: The stored request.
        decisions: Its decisions, oldest first.
        pending_approvers: Entries still unsatisfied (empty once decided).
        workflow_id: The workflow that routed it, or ``""``.
        completed_at_ms: When it reached a final state; 0 while PENDING.
    """

    request: ApprovalRequest
    decisions: tuple[ApprovalDecision, ...]
    pending_approvers: tuple[str, ...]
    workflow_id: str = ""
    completed_at_ms: int = 0


@dataclass(frozen=True, slots=True)
class DecisionResult:
    """The state after one decision (``ApprovalDecisionDetails``).

    Attributes:
        request: The request as now stored.
        final_status: Its state after the decision.
        workflow_complete: True when the decision completed the approvals (APPROVED).
        remaining_approvers: Entries still needed (empty once decided).
        enacted: The enactment the decision triggered, if any.
    """

    request: ApprovalRequest
    final_status: ApprovalStatus
    workflow_complete: bool
    remaining_approvers: tuple[str, ...]
    enacted: Enacted | None = None


def verdict(value: str) -> Verdict | None:
    """The verdict named by ``value`` (case-insensitive), or None."""
    try:
        return Verdict(value.upper())
    except ValueError:
        return None
