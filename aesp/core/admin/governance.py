"""``EnterpriseGovernanceService`` as core operations (SPEC §3.7 (4), §3.11, C-41).

Each operation runs in the frame of :class:`~aesp.core.admin._guard.AdminGuard`: permission
``aesp:governance:<Rpc>``, tenant resolution (decision 37: ``""`` = the caller's tenant, ``"*"``
= the platform scope, needing ``aesp:platform:cross-tenant``), audit of success and refusal.
The workflow itself (who may decide, m of n, enactment) is the engine's
(:class:`~aesp.core.governance.ApprovalEngine`). Decisions made here:

* The requester and the approver are the verified caller; a ``requester_id`` or
  ``approver_id`` naming anyone else is ``PERMISSION_DENIED``.
* A new request, or workflow, is stored in the resolved tenant; ``"*"`` stores it in the
  platform scope. Tool contracts change the manifest every tenant shares, so their requests
  must be made in the platform scope.
* A request named by id is found only in the resolved tenant (``"*"``: any tenant); anything
  else is ``NOT_FOUND``, exactly as if it did not exist (item 184).
* Audit: ``GOVERNANCE_APPROVAL_REQUEST`` and ``GOVERNANCE_APPROVAL_DECISION`` (items 170, 175)
  and ``GOVERNANCE_WORKFLOW_CREATE``/``_UPDATE`` durably; reads as ``ADMIN_QUERY``; refusals of
  permission and separation of duties as ``AUTHORIZATION_DENIED``. The engine adds the
  enactment (``CONTRACT_STATE_CHANGE``, ``POLICY_CREATE``/``_UPDATE``,
  ``ROLE_DEFINITION_CHANGE``) and expiries (``GOVERNANCE_APPROVAL_EXPIRE``).
"""

from __future__ import annotations

import dataclasses

from aesp.core.admin import _governance_support as support
from aesp.core.admin._governance_workflows import GovernanceWorkflows
from aesp.core.admin._guard import ADMIN_QUERY, Done
from aesp.core.governance import (
    Adjudication,
    ApprovalView,
    DecisionResult,
    NewRequest,
)
from aesp.core.governance.enactors import artifact_type
from aesp.core.ports._paging import Page
from aesp.core.security import SecurityContext

__all__ = ["GovernanceAdmin", "HistoryQuery"]


@dataclasses.dataclass(frozen=True, slots=True)
class HistoryQuery:
    """``GetApprovalHistoryRequest`` as core values (``""``/0 = no filter)."""

    tenant_id: str = ""
    artifact_type: str = ""
    artifact_id: str = ""
    approval_request_id: str = ""
    start_ms: int = 0
    end_ms: int = 0
    limit: int = 0
    cursor: str = ""


class GovernanceAdmin(GovernanceWorkflows):
    """The Governance Manager's admin operations.

    Args:
        control: The Host's control plane (permissions, RBAC snapshot, audit).
        governance: The Host's governance component (engine and workflow store).
        clock_ms: Unix milliseconds (workflow times).
    """

    async def request_approval(
        self,
        ctx: SecurityContext,
        new: NewRequest,
        *,
        requester_id: str = "",
        tenant_id: str = "",
        correlation_id: str = "",
    ) -> ApprovalView:
        """``RequestApproval``: a PENDING request by the caller (items 169-171), audited
        ``GOVERNANCE_APPROVAL_REQUEST``.

        Raises:
            AespError: ``PERMISSION_DENIED`` (another requester), ``FEATURE_UNAVAILABLE`` (no
                enactor for the type), ``MALFORMED_REQUEST``, ``SCHEMA_VIOLATION``,
                ``INVALID_STATE``.
        """

        async def act(target: str) -> Done[ApprovalView]:
            support.require_self(ctx, requester_id, "requester_id")
            view = await self._engine.request(ctx.principal_id, support.stored_scope(target), new)
            meta = support.request_meta(view, new.justification)
            return Done(view, f"approval:{view.request.approval_request_id}", meta)

        return await self._guard.run(
            ctx,
            "RequestApproval",
            support.EVENT_TYPES["RequestApproval"],
            tenant_id=tenant_id,
            correlation_id=correlation_id,
            action=act,
        )

    async def adjudicate_approval(
        self,
        ctx: SecurityContext,
        adjudication: Adjudication,
        *,
        approver_id: str = "",
        tenant_id: str = "",
        correlation_id: str = "",
    ) -> DecisionResult:
        """``AdjudicateApproval`` by the caller (items 172-176), audited
        ``GOVERNANCE_APPROVAL_DECISION``; an approval that completes the request enacts it.

        Raises:
            AespError: ``PERMISSION_DENIED`` (the requester, or not an approver),
                ``INVALID_STATE`` (not PENDING, expired, already decided), ``NOT_FOUND``, or the
                enactor's refusal.
        """

        async def act(target: str) -> Done[DecisionResult]:
            support.require_self(ctx, approver_id, "approver_id")
            result = await self._engine.adjudicate(
                support.approver_of(self._control, ctx),
                support.by_id_scope(target),
                adjudication,
            )
            meta = support.decision_meta(result, adjudication.decision, adjudication.comments)
            meta["conditions"] = support.condition_keys(adjudication.conditions)
            return Done(result, f"approval:{adjudication.approval_request_id[:128]}", meta)

        return await self._guard.run(
            ctx,
            "AdjudicateApproval",
            support.EVENT_TYPES["AdjudicateApproval"],
            tenant_id=tenant_id,
            correlation_id=correlation_id,
            action=act,
        )

    async def list_pending_approvals(
        self,
        ctx: SecurityContext,
        *,
        approver_id: str = "",
        artifact_type_name: str = "",
        tenant_id: str = "",
        limit: int = 0,
        cursor: str = "",
        correlation_id: str = "",
    ) -> Page[ApprovalView]:
        """``ListPendingApprovals`` (item 178): PENDING requests of the resolved tenant (``"*"``:
        every tenant), oldest first; ``approver_id`` keeps those that principal can decide."""

        async def act(target: str) -> Done[Page[ApprovalView]]:
            kind = artifact_type(artifact_type_name) if artifact_type_name else None
            approver = support.approver_of(self._control, ctx, approver_id) if approver_id else None
            page = await self._engine.list_pending(
                scope=support.by_id_scope(target),
                approver=approver,
                artifact_type=kind,
                limit=limit,
                cursor=cursor,
            )
            return Done(page, metadata={"count": str(len(page.items))})

        return await self._guard.run(
            ctx,
            "ListPendingApprovals",
            ADMIN_QUERY,
            tenant_id=tenant_id,
            correlation_id=correlation_id,
            action=act,
        )

    async def get_approval_history(
        self, ctx: SecurityContext, query: HistoryQuery, *, correlation_id: str = ""
    ) -> Page[ApprovalView]:
        """``GetApprovalHistory``: requests in any state with their decisions, oldest first.

        Raises:
            AespError: ``NOT_FOUND`` for an id outside the resolved tenant.
        """

        async def act(target: str) -> Done[Page[ApprovalView]]:
            kind = artifact_type(query.artifact_type) if query.artifact_type else None
            page = await self._engine.history(
                scope=support.by_id_scope(target),
                artifact_type=kind,
                artifact_id=query.artifact_id,
                approval_request_id=query.approval_request_id,
                start_ms=query.start_ms,
                end_ms=query.end_ms,
                limit=query.limit,
                cursor=query.cursor,
            )
            resource = (
                f"approval:{query.approval_request_id[:128]}" if query.approval_request_id else ""
            )
            return Done(page, resource, {"count": str(len(page.items))})

        return await self._guard.run(
            ctx,
            "GetApprovalHistory",
            ADMIN_QUERY,
            tenant_id=query.tenant_id,
            correlation_id=correlation_id,
            action=act,
        )
