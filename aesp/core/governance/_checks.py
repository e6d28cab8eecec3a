"""Bounds and refusals of the approval engine's inputs (pure; see :mod:`.engine`).

Why bounds: a request and its decisions are read by every approver, listed, audited and kept
for ever, so each free-text field and map is limited like every other stored admin input.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from aesp.core.errors import AespError, StateError, ValidationError
from aesp.core.governance.model import RESERVED_PREFIX, Adjudication, NewRequest
from aesp.core.governance.workflows import MAX_LIFETIME_MS, ApprovalWorkflow
from aesp.core.ports._errors import DuplicateError, NotFoundError
from aesp.core.ports.governance import ApprovalRequest, NotPendingError, Verdict

__all__ = ["check_decision", "check_request", "deadline", "state_error"]

DEFAULT_LIFETIME_MS: Final = 7 * 24 * 3600 * 1000  # a request with no deadline: one week
MAX_ARTIFACT_BYTES: Final = 256 * 1024  # a contract, policy or role is far smaller
MAX_TEXT: Final = 4000  # characters of a justification or comment
MAX_ENTRIES: Final = 32  # metadata or condition entries
MAX_KEY: Final = 128
MAX_VALUE: Final = 1024


def _bad(field_name: str, why: str) -> ValidationError:
    return ValidationError("MALFORMED_REQUEST", f"{why}.", details={"field": field_name})


def _check_map(values: Mapping[str, str], field_name: str) -> dict[str, str]:
    if len(values) > MAX_ENTRIES or any(
        not k or len(k) > MAX_KEY or len(v) > MAX_VALUE for k, v in values.items()
    ):
        raise _bad(
            field_name,
            f"{field_name} holds at most {MAX_ENTRIES} entries, keys of 1-{MAX_KEY} and values "
            f"of at most {MAX_VALUE} characters",
        )
    reserved = sorted(k for k in values if k.startswith(RESERVED_PREFIX))
    if reserved:
        raise _bad(field_name, f"keys starting with '{RESERVED_PREFIX}' are the Host's own")
    return dict(values)


def check_request(new: NewRequest) -> None:
    """Refuse a request outside the bounds.

    Raises:
        ValidationError: ``MALFORMED_REQUEST`` naming the field.
    """
    if not new.artifact_data:
        raise _bad("artifact_data", "artifact_data holds the artifact to approve; it is empty")
    if len(new.artifact_data) > MAX_ARTIFACT_BYTES:
        raise _bad("artifact_data", f"artifact_data is larger than {MAX_ARTIFACT_BYTES} bytes")
    if len(new.justification) > MAX_TEXT:
        raise _bad("justification", f"justification is longer than {MAX_TEXT} characters")
    if len(new.artifact_id) > MAX_KEY * 2:
        raise _bad("artifact_id", f"artifact_id is longer than {MAX_KEY * 2} characters")
    if new.min_approvals < 0:
        raise _bad("min_approvals", "min_approvals must not be negative")
    _check_map(new.metadata, "metadata")


def check_decision(adjudication: Adjudication, wanted: Verdict | None) -> dict[str, str]:
    """The decision's conditions, once the decision is known and within bounds.

    Raises:
        ValidationError: ``MALFORMED_REQUEST``.
    """
    if wanted is None:
        raise _bad("decision", "decision must be APPROVE or REJECT")
    if len(adjudication.comments) > MAX_TEXT:
        raise _bad("comments", f"comments are longer than {MAX_TEXT} characters")
    if wanted is Verdict.REJECT and adjudication.conditions:
        raise _bad("conditions", "conditions are attached to an approval, not to a rejection")
    return _check_map(adjudication.conditions, "conditions")


def deadline(expires_at_ms: int, workflow: ApprovalWorkflow | None, now: int) -> int:
    """The deadline of a new request: as asked, else the workflow's lifetime, else one week.

    Why never "no deadline": a change nobody decided on for months should not become
    approvable by whoever finds it later (SPEC §3.11 deadlines).

    Raises:
        ValidationError: ``MALFORMED_REQUEST`` for a deadline in the past or beyond 90 days.
    """
    if expires_at_ms == 0:
        lifetime = workflow.expires_after_ms if workflow and workflow.expires_after_ms else 0
        return now + (lifetime or DEFAULT_LIFETIME_MS)
    if expires_at_ms <= now:
        raise _bad("expires_at", "expires_at is in the past")
    if expires_at_ms > now + MAX_LIFETIME_MS:
        raise _bad("expires_at", "expires_at is more than 90 days ahead")
    return expires_at_ms


def state_error(request: ApprovalRequest, exc: Exception) -> AespError:
    """The caller-visible refusal of a decision the store (or a closed request) refused."""
    if isinstance(exc, NotPendingError):
        return StateError(
            "INVALID_STATE",
            f"Approval request '{request.approval_request_id}' is {exc.status.value}, not "
            "PENDING; it accepts no further decision.",
            details={"status": exc.status.value, "field": "approval_request_id"},
        )
    if isinstance(exc, DuplicateError):
        return StateError(
            "INVALID_STATE",
            f"You already decided on approval request '{request.approval_request_id}'; "
            "decisions are final.",
            details={"reason": "ALREADY_DECIDED"},
        )
    if isinstance(exc, NotFoundError):
        return ValidationError(
            "NOT_FOUND",
            f"There is no approval request '{request.approval_request_id}'.",
            details={"reason": "NOT_FOUND", "field": "approval_request_id"},
        )
    return StateError("INVALID_STATE", str(exc))
