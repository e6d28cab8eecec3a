"""Row conversions of the SQLite Governance store (:mod:`aesp_local.governance`).

Kept apart so the store module holds only its transactions. Column order here is the order of
``REQUEST_COLUMNS`` and ``DECISION_COLUMNS``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from aesp.core.ports.governance import (
    ApprovalDecision,
    ApprovalRequest,
    ApprovalStatus,
    ArtifactType,
    Verdict,
)

REQUEST_COLUMNS = (
    "approval_request_id, tenant_id, artifact_type, artifact_id, artifact_data, artifact_digest, "
    "requester_id, justification, required_approvers, min_approvals, status, created_at_ms, "
    "expires_at_ms, metadata, version"
)
DECISION_COLUMNS = "approval_request_id, approver_id, decision, comments, conditions, decided_at_ms"


def request_row(r: ApprovalRequest) -> tuple[object, ...]:
    """The row of a new request: always PENDING at version 1, whatever ``r`` carries there."""
    return (
        *(r.approval_request_id, r.tenant_id, r.artifact_type.value, r.artifact_id),
        *(r.artifact_data, r.artifact_digest, r.requester_id, r.justification),
        json.dumps(list(r.required_approvers)),
        *(r.min_approvals, ApprovalStatus.PENDING.value, r.created_at_ms, r.expires_at_ms),
        json.dumps(dict(r.metadata), sort_keys=True),
        1,
    )


def request(row: Sequence[Any]) -> ApprovalRequest:
    """The request a row holds.

    Raises:
        ValueError: The stored data no longer matches its stored digest.
    """
    (request_id, tenant, artifact_type, artifact_id, data, digest, requester) = row[:7]
    justification, approvers, min_approvals, status, created, expires, metadata, version = row[7:]
    # NOTE: the stored digest is passed back in, so a row whose data was altered on disk fails
    # the dataclass's digest check instead of being handed out as approved content.
    return ApprovalRequest(
        approval_request_id=str(request_id),
        tenant_id=str(tenant),
        artifact_type=ArtifactType(str(artifact_type)),
        artifact_id=str(artifact_id),
        artifact_data=bytes(data),
        artifact_digest=str(digest),
        requester_id=str(requester),
        justification=str(justification),
        required_approvers=tuple(json.loads(str(approvers))),
        min_approvals=int(min_approvals),
        status=ApprovalStatus(str(status)),
        created_at_ms=int(created),
        expires_at_ms=int(expires),
        metadata=json.loads(str(metadata)),
        version=int(version),
    )


def decision_row(d: ApprovalDecision) -> tuple[object, ...]:
    """The row of a decision (maps as sorted JSON, so equal decisions store equal bytes)."""
    return (
        *(d.approval_request_id, d.approver_id, d.decision.value, d.comments),
        *(json.dumps(dict(d.conditions), sort_keys=True), d.decided_at_ms),
    )


def decision(row: Sequence[Any]) -> ApprovalDecision:
    """The decision a row holds."""
    request_id, approver, decision, comments, conditions, decided = row
    return ApprovalDecision(
        approval_request_id=str(request_id),
        approver_id=str(approver),
        decision=Verdict(str(decision)),
        comments=str(comments),
        conditions=json.loads(str(conditions)),
        decided_at_ms=int(decided),
    )
