"""The Governance port: the storage half of approval workflows (SPEC §3.7 (4), §3.11, 169-179).

Routing a request to approvers, resolving ``role:<name>`` entries, deciding when m of n approvals
are in, and enacting the approved artifact are the core's job. This port keeps the record those
decisions rest on, and makes the one step that must be atomic across Host replicas atomic:
appending a decision *and* moving the request's status, only if nobody else changed the request
since the caller read it (compare-and-set on ``version``). Without it, two replicas adjudicating
at once could both see "one approval missing" and both approve, or approve a request another
replica had just rejected.

Decisions are append-only: no method updates or deletes one, so the approval trail an auditor
reads is the one the workflow acted on.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from aesp.core.ports._errors import ConcurrentChangeError as ConcurrentChangeError
from aesp.core.ports._errors import DuplicateError as DuplicateError
from aesp.core.ports._errors import NotFoundError as NotFoundError
from aesp.core.ports._paging import Page

ROLE_PREFIX = "role:"  # a required approver of this form is satisfied by any holder of the role


class ArtifactType(enum.StrEnum):
    """What an approval request governs (SPEC §3.11: V3's ``_V1`` names)."""

    POLICY_V1 = "POLICY_V1"
    TOOL_CONTRACT_V1 = "TOOL_CONTRACT_V1"
    BUDGET_V1 = "BUDGET_V1"
    ROLE_DEFINITION_V1 = "ROLE_DEFINITION_V1"
    CONFIGURATION_KEY_V1 = "CONFIGURATION_KEY_V1"


class ApprovalStatus(enum.StrEnum):
    """State of a request; only PENDING accepts decisions, the other three are final."""

    PENDING = "PENDING"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"


class Verdict(enum.StrEnum):
    """What one approver said (``AdjudicateApprovalRequest.decision``)."""

    APPROVE = "APPROVE"
    REJECT = "REJECT"


def artifact_digest(data: bytes) -> str:
    """``sha256:<hex>`` of the artifact bytes, the form contract digests use (SPEC §2 principle 1).

    Why stored: the workflow enacts exactly the bytes that were approved, and an auditor can
    check that the enacted artifact is the one the approvers saw.
    """
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass(frozen=True, slots=True)
class ApprovalRequest:
    """One approval request (``RequestApprovalRequest`` plus what the store keeps).

    Attributes:
        approval_request_id: Globally unique id, assigned by the Host.
        tenant_id: Owning tenant; ``""`` for a platform artifact.
        artifact_type: What is governed.
        artifact_id: Which artifact (a contract ``name@version``, a policy id, a config key).
        artifact_data: The serialised artifact, exactly as it will be enacted.
        requester_id: Principal that asked.
        artifact_digest: ``sha256:<hex>`` of ``artifact_data``; computed when empty, and a
            value that does not match the data is refused (``ValueError``).
        justification: Why the change is wanted.
        required_approvers: Principal ids or ``role:<name>``; never empty, no repeats.
        min_approvals: How many of them must approve (m of n); 0 means all of them.
        status: Current state.
        created_at_ms: Creation time, Unix ms.
        expires_at_ms: Deadline, Unix ms; 0 means the request never expires.
        metadata: Other key/values.
        version: Optimistic-concurrency counter: 1 when created, +1 on every change.
    """

    approval_request_id: str
    tenant_id: str
    artifact_type: ArtifactType
    artifact_id: str
    artifact_data: bytes
    requester_id: str
    required_approvers: Sequence[str]
    artifact_digest: str = ""
    justification: str = ""
    min_approvals: int = 0
    status: ApprovalStatus = ApprovalStatus.PENDING
    created_at_ms: int = 0
    expires_at_ms: int = 0
    metadata: Mapping[str, str] = field(default_factory=dict[str, str])
    version: int = 1

    def __post_init__(self) -> None:
        # NOTE: normalised here (not in each store) so every realisation hands back one shape.
        approvers = tuple(self.required_approvers)
        object.__setattr__(self, "required_approvers", approvers)
        object.__setattr__(self, "artifact_type", ArtifactType(self.artifact_type))
        object.__setattr__(self, "status", ApprovalStatus(self.status))
        object.__setattr__(self, "artifact_data", bytes(self.artifact_data))
        digest = artifact_digest(self.artifact_data)
        if self.artifact_digest and self.artifact_digest != digest:
            raise ValueError(
                f"approval request {self.approval_request_id!r}: artifact_digest "
                f"{self.artifact_digest!r} does not match the artifact data ({digest})"
            )
        object.__setattr__(self, "artifact_digest", digest)
        if not self.approval_request_id or not self.artifact_id or not self.requester_id:
            raise ValueError("approval_request_id, artifact_id and requester_id must not be empty")
        _check_approvers(approvers, self.min_approvals)
        if self.version < 1 or self.created_at_ms < 0 or self.expires_at_ms < 0:
            raise ValueError("version must be at least 1 and times must not be negative")

    @property
    def approvals_needed(self) -> int:
        """How many approvals complete the request (``min_approvals``, or all when 0)."""
        return self.min_approvals or len(self.required_approvers)


def _check_approvers(approvers: tuple[str, ...], min_approvals: int) -> None:
    """Refuse a request no decision could complete correctly.

    An empty approver list is refused because "every required approver said APPROVE" is then
    true before anyone looked (fail closed, STYLE 11); a repeated entry would count one person
    twice towards m of n.
    """
    if not approvers:
        raise ValueError("an approval request needs at least one required approver")
    if any(not a or a == ROLE_PREFIX for a in approvers):
        raise ValueError(f"a required approver must be a principal id or '{ROLE_PREFIX}<name>'")
    if len(set(approvers)) != len(approvers):
        raise ValueError(f"required approvers must not repeat: {list(approvers)}")
    if not 0 <= min_approvals <= len(approvers):
        raise ValueError(
            f"min_approvals must be between 0 (all) and the {len(approvers)} required approvers"
        )


@dataclass(frozen=True, slots=True)
class ApprovalDecision:
    """One approver's adjudication (``AdjudicateApprovalRequest``); never changed once stored.

    Attributes:
        approval_request_id: The request decided on.
        approver_id: The principal that decided (never a role).
        decision: APPROVE or REJECT.
        comments: Free text.
        conditions: Conditions attached to an approval.
        decided_at_ms: When, Unix ms.
    """

    approval_request_id: str
    approver_id: str
    decision: Verdict
    comments: str = ""
    conditions: Mapping[str, str] = field(default_factory=dict[str, str])
    decided_at_ms: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "decision", Verdict(self.decision))
        if not self.approval_request_id or not self.approver_id:
            raise ValueError("approval_request_id and approver_id must not be empty")


class NotPendingError(ValueError):
    """The request no longer accepts decisions (SPEC §3.11: "adjudicating a request that is not
    PENDING is an error"; item 174). Nothing was written.

    Attributes:
        status: The request's state: stored, or EXPIRED when its deadline has passed.
    """

    def __init__(self, approval_request_id: str, status: ApprovalStatus, detail: str = "") -> None:
        super().__init__(
            f"approval request {approval_request_id!r} is {status.value}, not PENDING"
            + (f" ({detail})" if detail else "")
            + "; it accepts no further decision"
        )
        self.status = status


@runtime_checkable
class ApprovalStore(Protocol):
    """Stores approval requests and their decisions. Safe for concurrent use by several Hosts:
    every write is atomic, and the compare-and-set writes serialise on ``version``.

    Reads of unknown ids return None or empty, never raise; writes naming an unknown request
    raise :class:`NotFoundError`. The store does not check who may decide (roles, the requester
    approving their own request, item 176): the workflow does, before it writes.
    """

    async def create(self, request: ApprovalRequest) -> ApprovalRequest:
        """Store a new PENDING request and return it as stored (``version`` 1).

        Raises:
            DuplicateError: The id exists (nothing changes).
            ValueError: ``request.status`` is not PENDING: a request must be adjudicated
                before it can be anything else (V3 §5.2).
        """
        ...

    async def get(self, approval_request_id: str) -> ApprovalRequest | None:
        """The request, or None. Ids are global: the caller compares ``tenant_id`` with the
        caller's tenant and treats a mismatch as not found (item 184)."""
        ...

    async def list(
        self,
        *,
        tenant_id: str | None,
        status: ApprovalStatus | None = None,
        artifact_type: ArtifactType | None = None,
        limit: int = 0,
        cursor: str = "",
    ) -> Page[ApprovalRequest]:
        """Matching requests in creation order, oldest first, one page at a time.

        ``tenant_id=None`` means every tenant (platform callers), ``""`` the platform's own.
        The approver filter of ``ListPendingApprovals`` is the caller's, since matching a
        ``role:`` entry needs the approver's roles.

        Raises:
            ValueError: ``cursor`` was not returned by this store.
        """
        ...

    async def record_decision(
        self, decision: ApprovalDecision, *, expected_version: int, new_status: ApprovalStatus
    ) -> ApprovalRequest:
        """Append ``decision`` and set the status to ``new_status`` in one atomic step, only if
        the stored version is ``expected_version``; returns the request as now stored (its
        version one higher). ``new_status`` is computed by the caller (PENDING while approvals
        are missing).

        Checked in this order (the rules are :mod:`aesp.core.ports._approvals`), and nothing
        is written when any fails:

        Raises:
            ValueError: ``new_status`` is EXPIRED (use :meth:`expire`), or APPROVED on a
                REJECT (a rejection never approves, whatever the routing).
            NotFoundError: No such request.
            ConcurrentChangeError: The stored version differs: re-read, re-decide, retry. It
                comes before the state checks below, because the version is the caller's
                proof that it decided on what is stored.
            NotPendingError: The request is decided or expired, or ``decided_at_ms`` is at or
                after ``expires_at_ms`` (a decision dated after the deadline is refused even
                before the expiry is recorded).
            DuplicateError: This approver already decided on this request.
        """
        ...

    async def expire(
        self, approval_request_id: str, *, expected_version: int, at_ms: int
    ) -> ApprovalRequest:
        """Mark a PENDING request EXPIRED (compare-and-set, like :meth:`record_decision`).

        Raises (in this order; nothing is written):
            NotFoundError: No such request.
            ConcurrentChangeError: The stored version differs.
            NotPendingError: The request is already decided or expired.
            ValueError: It never expires, or ``at_ms`` is before ``expires_at_ms`` (an
                EXPIRED record must be true on its own data).
        """
        ...

    async def decisions(self, approval_request_id: str) -> Sequence[ApprovalDecision]:
        """Every decision on the request, oldest first; empty for an unknown id."""
        ...

    async def revision(self) -> int:
        """A counter: 0 for an empty store, +1 for every successful write (a create, a decision
        with its status move, an expiry), unchanged by reads and refused writes. Exactly one
        step per write is what lets a test, or an operator, see that nothing was half-written."""
        ...

    async def close(self) -> None:
        """Release connections and files."""
        ...
