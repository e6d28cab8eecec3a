"""The engine's reads: one request, pending requests an approver can decide, history (item 178).

Paging: the store pages in creation order with an opaque cursor. Filters the store cannot apply
(the approver, the artifact id, a time window) are applied here, asking the store for at most as
many items as are still wanted, so a page never overshoots and the store's cursor after it is
exactly where the next page starts. A page may come back short with a cursor (at most
:data:`MAX_SCAN_PAGES` store pages are read per call): that is not the end; an empty cursor is.

A PENDING request past its deadline is expired when a read meets it, so no listing offers a
request that can no longer be decided (item 174).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Final

from aesp.core.errors import ValidationError
from aesp.core.governance.model import CALL_USE_KEY, WORKFLOW_KEY, ApprovalView, Approver
from aesp.core.governance.routing import eligible_entries, tally
from aesp.core.ports._paging import Page, page_limit
from aesp.core.ports.governance import (
    ApprovalRequest,
    ApprovalStatus,
    ApprovalStore,
    ArtifactType,
)

__all__ = ["MAX_SCAN_PAGES", "ViewsMixin"]

MAX_SCAN_PAGES: Final = 20  # store pages read for one listing page; bounds one request's work
_MAX_ID = 128


def not_found(approval_request_id: str, scope: str | None) -> ValidationError:
    """``NOT_FOUND``, the same whether the request is another tenant's or nobody's."""
    where = (
        "" if scope is None else (f" in tenant '{scope}'" if scope else " in the platform scope")
    )
    return ValidationError(
        "NOT_FOUND",
        f"There is no approval request '{approval_request_id[:_MAX_ID]}'{where}.",
        details={"reason": "NOT_FOUND", "field": "approval_request_id"},
    )


def _completed_at(view_status: ApprovalStatus, request: ApprovalRequest, last: int) -> int:
    if view_status is ApprovalStatus.PENDING:
        return 0
    if view_status is ApprovalStatus.EXPIRED:
        return request.expires_at_ms
    return last


class ViewsMixin:
    """Reads of :class:`~aesp.core.governance.engine.ApprovalEngine` (see the module doc)."""

    store: ApprovalStore
    _clock_ms: Callable[[], int]
    expire: Callable[[ApprovalRequest, int], Awaitable[ApprovalRequest | None]]

    async def find(self, approval_request_id: str, scope: str | None) -> ApprovalRequest:
        """The request, if it is in ``scope`` (None: any tenant; ``""``: the platform's).

        Raises:
            ValidationError: ``NOT_FOUND`` otherwise (item 184: another tenant's request is
                indistinguishable from a missing one).
        """
        found = None
        if approval_request_id and len(approval_request_id) <= _MAX_ID:
            found = await self.store.get(approval_request_id)
        if found is None or (scope is not None and found.tenant_id != scope):
            raise not_found(approval_request_id, scope)
        return found

    async def view(self, request: ApprovalRequest) -> ApprovalView:
        """``request`` with its decisions, pending approvers, workflow and completion time."""
        decisions = tuple(await self.store.decisions(request.approval_request_id))
        pending = (
            tally(request, decisions).remaining if request.status is ApprovalStatus.PENDING else ()
        )
        last = max((d.decided_at_ms for d in decisions), default=0)
        return ApprovalView(
            request,
            decisions,
            pending,
            request.metadata.get(WORKFLOW_KEY, ""),
            _completed_at(request.status, request, last),
        )

    async def _current(self, request: ApprovalRequest) -> ApprovalRequest | None:
        """``request``, expired first if it is PENDING past its deadline (re-read if another
        writer moved it first; None only if it vanished)."""
        now = self._clock_ms()
        if (
            request.status is ApprovalStatus.PENDING
            and request.expires_at_ms
            and (now >= request.expires_at_ms)
        ):
            expired = await self.expire(request, now)
            return expired or await self.store.get(request.approval_request_id)
        return request

    async def _scan(
        self,
        *,
        scope: str | None,
        status: ApprovalStatus | None,
        kind: ArtifactType | None,
        limit: int,
        cursor: str,
        keep: Callable[[ApprovalRequest], Awaitable[bool]],
    ) -> Page[ApprovalView]:
        size = page_limit(limit)
        kept: list[ApprovalView] = []
        for _ in range(MAX_SCAN_PAGES):
            try:
                page = await self.store.list(
                    tenant_id=scope,
                    status=status,
                    artifact_type=kind,
                    limit=size - len(kept),
                    cursor=cursor,
                )
            except ValueError:
                raise ValidationError(
                    "MALFORMED_REQUEST",
                    "The cursor was not returned by this listing; start again without one.",
                    details={"field": "cursor"},
                ) from None
            for item in page.items:
                if CALL_USE_KEY in item.metadata:
                    continue  # the Host's record that a per-call approval was used, not a request
                current = await self._current(item)
                wanted = current is not None and (status is None or current.status is status)
                if current is not None and wanted and await keep(current):
                    kept.append(await self.view(current))
            cursor = page.next_cursor
            if not cursor or len(kept) >= size:
                break
        return Page(kept, cursor)

    async def list_pending(
        self,
        *,
        scope: str | None,
        approver: Approver | None = None,
        artifact_type: ArtifactType | None = None,
        limit: int = 0,
        cursor: str = "",
    ) -> Page[ApprovalView]:
        """``ListPendingApprovals``: PENDING requests in ``scope``, oldest first; with
        ``approver``, only those it can decide now (listed or holding a listed role, not its
        own request, not yet decided by it)."""

        async def keep(request: ApprovalRequest) -> bool:
            if approver is None:
                return True
            if approver.principal_id == request.requester_id:
                return False
            roles = approver.roles_in(request.tenant_id)
            if not eligible_entries(request, approver.principal_id, roles):
                return False
            decided = await self.store.decisions(request.approval_request_id)
            return all(d.approver_id != approver.principal_id for d in decided)

        return await self._scan(
            scope=scope,
            status=ApprovalStatus.PENDING,
            kind=artifact_type,
            limit=limit,
            cursor=cursor,
            keep=keep,
        )

    async def history(
        self,
        *,
        scope: str | None,
        artifact_type: ArtifactType | None = None,
        artifact_id: str = "",
        approval_request_id: str = "",
        start_ms: int = 0,
        end_ms: int = 0,
        limit: int = 0,
        cursor: str = "",
    ) -> Page[ApprovalView]:
        """``GetApprovalHistory``: requests in any state, oldest first, with their decisions;
        ``approval_request_id`` selects one (``NOT_FOUND`` outside ``scope``).

        Raises:
            ValidationError: ``NOT_FOUND``; ``MALFORMED_REQUEST`` for a foreign cursor.
        """
        if approval_request_id:
            found = await self.find(approval_request_id, scope)
            return Page([await self.view(await self._current(found) or found)])

        async def keep(request: ApprovalRequest) -> bool:
            return (
                (not artifact_id or request.artifact_id == artifact_id)
                and request.created_at_ms >= start_ms
                and (not end_ms or request.created_at_ms < end_ms)
            )

        return await self._scan(
            scope=scope, status=None, kind=artifact_type, limit=limit, cursor=cursor, keep=keep
        )
