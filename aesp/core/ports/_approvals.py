"""The refusal rules of the Governance port, as pure code every realisation calls.

Why here and not in each adapter: a request one cloud refuses and another accepts would make
approval outcomes depend on the profile. Each realisation runs these checks inside its atomic
step, in the order :meth:`~aesp.core.ports.governance.ApprovalStore.record_decision` documents.
"""

from __future__ import annotations

from aesp.core.ports.governance import (
    ApprovalDecision,
    ApprovalRequest,
    ApprovalStatus,
    NotPendingError,
    Verdict,
)


def check_created(request: ApprovalRequest) -> None:
    """Refuse to create a request that is already decided (V3 §5.2: explicit adjudication).

    Raises:
        ValueError: The request is not PENDING.
    """
    if request.status is not ApprovalStatus.PENDING:
        raise ValueError(
            f"approval request {request.approval_request_id!r} must be created PENDING, "
            f"not {request.status.value}"
        )


def check_new_status(decision: ApprovalDecision, new_status: ApprovalStatus) -> ApprovalStatus:
    """Refuse a status a decision can never produce; returns it as an :class:`ApprovalStatus`
    (a plain string would slip past the identity checks below).

    Raises:
        ValueError: Not a status, EXPIRED (only ``expire`` sets it), or APPROVED on a REJECT.
    """
    status = ApprovalStatus(new_status)
    if status is ApprovalStatus.EXPIRED:
        raise ValueError("a decision cannot expire a request; expire() does")
    if decision.decision is Verdict.REJECT and status is ApprovalStatus.APPROVED:
        raise ValueError("a REJECT decision cannot approve a request")
    return status


def check_decidable(request: ApprovalRequest, decision: ApprovalDecision) -> None:
    """Refuse a decision on a request that is no longer open to one.

    Raises:
        NotPendingError: Not PENDING, or the decision is dated at or after the deadline.
    """
    if request.status is not ApprovalStatus.PENDING:
        raise NotPendingError(request.approval_request_id, request.status)
    if request.expires_at_ms and decision.decided_at_ms >= request.expires_at_ms:
        raise NotPendingError(
            request.approval_request_id,
            ApprovalStatus.EXPIRED,
            f"it expired at {request.expires_at_ms}; the decision is dated "
            f"{decision.decided_at_ms}",
        )


def check_expirable(request: ApprovalRequest, at_ms: int) -> None:
    """Refuse an expiry the request's own deadline does not justify.

    Raises:
        NotPendingError: Not PENDING.
        ValueError: It never expires, or ``at_ms`` is before its deadline.
    """
    if request.status is not ApprovalStatus.PENDING:
        raise NotPendingError(request.approval_request_id, request.status)
    if request.expires_at_ms == 0:
        raise ValueError(f"approval request {request.approval_request_id!r} never expires")
    if at_ms < request.expires_at_ms:
        raise ValueError(
            f"approval request {request.approval_request_id!r} expires at "
            f"{request.expires_at_ms}, not yet at {at_ms}"
        )


def already_decided(decision: ApprovalDecision) -> str:
    """The refusal sentence for a second decision by one approver."""
    return (
        f"{decision.approver_id!r} already decided on approval request "
        f"{decision.approval_request_id!r}; decisions are final"
    )


def duplicate_request(approval_request_id: str) -> str:
    """The refusal sentence for a second request with one id."""
    return f"approval request {approval_request_id!r} already exists"
