"""The Governance port in memory, for tests and embedded use; it passes the same kit as SQLite.

No method awaits, so each call runs to completion before another starts on the event loop: the
checks of a compare-and-set and its write are atomic under asyncio without a lock. Records are
copied in and out, so a caller mutating a metadata or conditions dict cannot change the store.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from aesp.core.ports import _approvals as rules
from aesp.core.ports._cursors import decode_number, encode_number
from aesp.core.ports._errors import ConcurrentChangeError, DuplicateError, NotFoundError
from aesp.core.ports._paging import Page, page_limit
from aesp.core.ports.governance import (
    ApprovalDecision,
    ApprovalRequest,
    ApprovalStatus,
    ArtifactType,
)


class InMemoryApprovalStore:
    """Approval requests in creation order, and their decisions in arrival order."""

    def __init__(self) -> None:
        self._requests: dict[str, ApprovalRequest] = {}  # insertion order = creation order
        self._order: dict[str, int] = {}  # request id -> creation sequence (the list cursor)
        self._decisions: dict[str, list[ApprovalDecision]] = {}
        self._revision = 0

    async def create(self, request: ApprovalRequest) -> ApprovalRequest:
        """Store a new PENDING request with version 1.

        Raises:
            DuplicateError: The id exists (nothing changes).
            ValueError: The request is not PENDING.
        """
        rules.check_created(request)
        if request.approval_request_id in self._requests:
            raise DuplicateError(rules.duplicate_request(request.approval_request_id))
        stored = _copy(replace(request, version=1))
        self._revision += 1
        self._requests[stored.approval_request_id] = stored
        self._order[stored.approval_request_id] = self._revision
        self._decisions[stored.approval_request_id] = []
        return _copy(stored)

    async def get(self, approval_request_id: str) -> ApprovalRequest | None:
        """The request, or None."""
        request = self._requests.get(approval_request_id)
        return _copy(request) if request is not None else None

    async def list(
        self,
        *,
        tenant_id: str | None,
        status: ApprovalStatus | None = None,
        artifact_type: ArtifactType | None = None,
        limit: int = 0,
        cursor: str = "",
    ) -> Page[ApprovalRequest]:
        """Matching requests in creation order; the cursor is the last one's sequence number.

        Raises:
            ValueError: ``cursor`` was not returned by this store.
        """
        size = page_limit(limit)
        after = decode_number(cursor, "list")
        matching = [
            r
            for r in self._requests.values()
            if self._order[r.approval_request_id] > after
            and (tenant_id is None or r.tenant_id == tenant_id)
            and (status is None or r.status == status)
            and (artifact_type is None or r.artifact_type == artifact_type)
        ]
        items = [_copy(r) for r in matching[:size]]
        more = len(matching) > size
        return Page(
            items, encode_number(self._order[items[-1].approval_request_id]) if more else ""
        )

    async def record_decision(
        self, decision: ApprovalDecision, *, expected_version: int, new_status: ApprovalStatus
    ) -> ApprovalRequest:
        """Append the decision and move the status, if the version still matches.

        Raises:
            NotFoundError, ConcurrentChangeError, NotPendingError, DuplicateError, ValueError:
                As :meth:`ApprovalStore.record_decision` documents; nothing is written.
        """
        status = rules.check_new_status(decision, new_status)
        request = self._current(decision.approval_request_id, expected_version)
        rules.check_decidable(request, decision)
        trail = self._decisions[decision.approval_request_id]
        if any(d.approver_id == decision.approver_id for d in trail):
            raise DuplicateError(rules.already_decided(decision))
        trail.append(_copy_decision(decision))
        return self._move(request, status)

    async def expire(
        self, approval_request_id: str, *, expected_version: int, at_ms: int
    ) -> ApprovalRequest:
        """Mark the request EXPIRED, if the version still matches and its deadline has passed.

        Raises:
            NotFoundError, ConcurrentChangeError, NotPendingError, ValueError: As
                :meth:`ApprovalStore.expire` documents; nothing is written.
        """
        request = self._current(approval_request_id, expected_version)
        rules.check_expirable(request, at_ms)
        return self._move(request, ApprovalStatus.EXPIRED)

    async def decisions(self, approval_request_id: str) -> Sequence[ApprovalDecision]:
        """Every decision, oldest first; empty for an unknown id."""
        return [_copy_decision(d) for d in self._decisions.get(approval_request_id, [])]

    async def revision(self) -> int:
        """Bumped by every write."""
        return self._revision

    async def close(self) -> None:
        """Nothing to release."""

    def requests(self) -> list[ApprovalRequest]:
        """Every request in creation order, for assertions."""
        return [_copy(r) for r in self._requests.values()]

    def _current(self, approval_request_id: str, expected_version: int) -> ApprovalRequest:
        request = self._requests.get(approval_request_id)
        if request is None:
            raise NotFoundError(f"no approval request {approval_request_id!r}")
        if request.version != expected_version:
            raise ConcurrentChangeError(
                f"approval request {approval_request_id!r}",
                expected=expected_version,
                actual=request.version,
            )
        return request

    def _move(self, request: ApprovalRequest, status: ApprovalStatus) -> ApprovalRequest:
        moved = replace(request, status=status, version=request.version + 1)
        self._requests[request.approval_request_id] = moved
        self._revision += 1
        return _copy(moved)


def _copy(request: ApprovalRequest) -> ApprovalRequest:
    return replace(request, metadata=dict(request.metadata))


def _copy_decision(decision: ApprovalDecision) -> ApprovalDecision:
    return replace(decision, conditions=dict(decision.conditions))
