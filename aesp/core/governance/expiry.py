"""Expiry of approval requests (SPEC §3.11: "once expires_at has passed and the request is still
PENDING, it becomes EXPIRED"; item 174).

Two paths lead here: the Host's periodic sweep (:meth:`ExpiryMixin.expire_due`) and any read or
decision that meets an overdue request, so a request can never be decided after its deadline
even between two sweeps. Expiry is compare-and-set like a decision; losing the race to another
writer is harmless (the request was moved by someone else) and skipped.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from aesp.core.audit import AuditEvent, AuditLog
from aesp.core.ports._errors import ConcurrentChangeError, NotFoundError
from aesp.core.ports.governance import (
    ApprovalRequest,
    ApprovalStatus,
    ApprovalStore,
    NotPendingError,
)

__all__ = ["SWEEP_PAGE", "ExpiryMixin"]

SWEEP_PAGE: Final = 500  # pending requests read per page by the sweep


class ExpiryMixin:
    """Expiry for :class:`~aesp.core.governance.engine.ApprovalEngine`."""

    store: ApprovalStore
    _audit: AuditLog
    _clock_ms: Callable[[], int]

    async def expire(self, request: ApprovalRequest, now: int) -> ApprovalRequest | None:
        """Mark a PENDING request past its deadline EXPIRED and audit it
        (``GOVERNANCE_APPROVAL_EXPIRE``); None if another writer moved it first."""
        try:
            expired = await self.store.expire(
                request.approval_request_id, expected_version=request.version, at_ms=now
            )
        except (ConcurrentChangeError, NotPendingError, NotFoundError, ValueError):
            return None
        await self._audit.append(
            AuditEvent(
                event_type="GOVERNANCE_APPROVAL_EXPIRE",
                outcome="SUCCESS",
                action="expire",
                tenant_id=request.tenant_id,
                resource=f"approval:{request.approval_request_id}",
                metadata={
                    "artifact_type": request.artifact_type.value,
                    "artifact_id": request.artifact_id[:128],
                    "expires_at": str(request.expires_at_ms),
                    "requester_id": request.requester_id,
                },
            ),
            durable=True,
        )
        return expired

    async def expire_due(self) -> int:
        """The expiry sweep: every PENDING request past its deadline becomes EXPIRED.

        Returns:
            How many requests this call expired.
        """
        count, cursor, now = 0, "", self._clock_ms()
        while True:
            page = await self.store.list(
                tenant_id=None, status=ApprovalStatus.PENDING, limit=SWEEP_PAGE, cursor=cursor
            )
            for request in page.items:
                if request.expires_at_ms and now >= request.expires_at_ms:
                    count += await self.expire(request, now) is not None
            cursor = page.next_cursor
            if not cursor:
                return count
