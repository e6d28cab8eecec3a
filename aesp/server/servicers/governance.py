"""EnterpriseGovernanceService: the gRPC edge of :class:`aesp.core.admin.governance.GovernanceAdmin`.

Thin (STYLE convention 8): each RPC asks the gateway for the verified caller (through
:func:`aesp.server.servicers.identity.serve`), converts the request, calls the core operation
and converts the result. Permissions, tenant scope, separation of duties, enactment and audit
are the core's; every refusal travels in-band as the ``EnterpriseError`` of the response's
``oneof`` (item 147).

The governance component is the Host's (``host.governance``) once the Host builds one; until
then this servicer opens it from the configured profile on first use and replays approved
contracts then.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import grpc

from aesp.core.admin.governance import GovernanceAdmin, HistoryQuery
from aesp.core.errors import AespError
from aesp.core.governance import (
    Adjudication,
    ApprovalView,
    ApprovalWorkflow,
    Governance,
    NewRequest,
    open_governance,
    public_conditions,
)
from aesp.core.governance.enactors import artifact_type
from aesp.core.governance.model import RESERVED_PREFIX
from aesp.core.host import Host
from aesp.core.security import SecurityContext
from aesp.proto.altar.aesp.v1 import governance_pb2 as _gov_pb2
from aesp.proto.altar.aesp.v1 import governance_pb2_grpc as _gov_pb2_grpc
from aesp.server.errors import enterprise_error
from aesp.server.gateway import correlation_id
from aesp.server.servicers.identity import serve

__all__ = ["GovernanceServicer", "request_message", "workflow_message"]

R = TypeVar("R")


def request_message(view: ApprovalView) -> _gov_pb2.ApprovalRequest:
    """A stored request with its decisions (conditions without the Host's own keys)."""
    r = view.request
    return _gov_pb2.ApprovalRequest(
        approval_request_id=r.approval_request_id,
        artifact_type=r.artifact_type.value,
        artifact_id=r.artifact_id,
        artifact_data=r.artifact_data,
        artifact_digest=r.artifact_digest,
        requester_id=r.requester_id,
        tenant_id=r.tenant_id,
        justification=r.justification,
        required_approvers=list(r.required_approvers),
        status=r.status.value,
        pending_approvers=list(view.pending_approvers),
        created_at=r.created_at_ms,
        expires_at=r.expires_at_ms,
        metadata={k: v for k, v in r.metadata.items() if not k.startswith(RESERVED_PREFIX)},
        decisions=[
            _gov_pb2.ApprovalDecision(
                approver_id=d.approver_id,
                decision=d.decision.value,
                comments=d.comments,
                conditions=public_conditions(d.conditions),
                decided_at=d.decided_at_ms,
            )
            for d in view.decisions
        ],
        workflow_id=view.workflow_id,
        completed_at=view.completed_at_ms,
        min_approvals=r.min_approvals,
    )


def workflow_message(workflow: ApprovalWorkflow) -> _gov_pb2.ApprovalWorkflow:
    """A stored workflow on the wire."""
    return _gov_pb2.ApprovalWorkflow(
        workflow_id=workflow.workflow_id,
        artifact_type=workflow.artifact_type.value,
        required_approvers=list(workflow.required_approvers),
        min_approvals=workflow.min_approvals,
        expires_after_ms=workflow.expires_after_ms,
        conditions=dict(workflow.conditions),
        tenant_id=workflow.tenant_id,
        name=workflow.name,
        version=workflow.version,
        updated_at=workflow.updated_at_ms,
        updated_by=workflow.updated_by,
    )


def _workflow(message: _gov_pb2.ApprovalWorkflow) -> ApprovalWorkflow:
    """A workflow draft (tenant and times are the core's to set).

    Raises:
        ValidationError: ``MALFORMED_REQUEST`` for an unknown artifact type.
    """
    return ApprovalWorkflow(
        workflow_id=message.workflow_id,
        tenant_id="",
        artifact_type=artifact_type(message.artifact_type),
        required_approvers=tuple(message.required_approvers),
        min_approvals=message.min_approvals,
        expires_after_ms=message.expires_after_ms,
        conditions=dict(message.conditions),
        name=message.name,
        version=message.version,
    )


def _page(items: list[ApprovalView], cursor: str) -> _gov_pb2.ApprovalRequestList:
    return _gov_pb2.ApprovalRequestList(
        items=[request_message(v) for v in items], next_cursor=cursor
    )


class GovernanceServicer(_gov_pb2_grpc.EnterpriseGovernanceServiceServicer):
    """Serves EnterpriseGovernanceService from a :class:`~aesp.core.host.Host`.

    Args:
        host: The Host (control plane, manifest, configuration).
        governance: The governance component; default ``host.governance``, else one opened
            from the configured profile on first use.
    """

    def __init__(self, host: Host, *, governance: Governance | None = None) -> None:
        self._host = host
        self._governance = governance
        self._admin: GovernanceAdmin | None = None
        self._opening = asyncio.Lock()

    async def _ready(self) -> GovernanceAdmin:
        if self._admin is None:
            async with self._opening:
                if self._admin is None:
                    governance = self._governance or getattr(self._host, "governance", None)
                    if not isinstance(governance, Governance):
                        host = self._host
                        governance = await open_governance(host.config, host.control, host.manifest)
                        await governance.start(background=False)
                    self._admin = GovernanceAdmin(self._host.control, governance)
        return self._admin

    async def _serve(
        self,
        rpc: str,
        respond: Callable[[GovernanceAdmin, SecurityContext, str], Awaitable[R]],
        response: Callable[..., R],
    ) -> R:
        try:
            admin = await self._ready()
        except AespError as exc:
            return response(error=enterprise_error(exc, correlation_id=correlation_id()))
        return await serve(rpc, admin, lambda ctx, cid: respond(admin, ctx, cid), response)

    async def RequestApproval(
        self, request: _gov_pb2.RequestApprovalRequest, context: grpc.aio.ServicerContext
    ) -> _gov_pb2.RequestApprovalResponse:
        """Open an approval request in the caller's name."""

        async def respond(
            admin: GovernanceAdmin, ctx: SecurityContext, cid: str
        ) -> _gov_pb2.RequestApprovalResponse:
            new = NewRequest(
                artifact_type=request.artifact_type,
                artifact_id=request.artifact_id,
                artifact_data=request.artifact_data,
                justification=request.justification,
                required_approvers=tuple(request.required_approvers),
                min_approvals=request.min_approvals,
                expires_at_ms=request.expires_at,
                metadata=dict(request.metadata),
            )
            view = await admin.request_approval(
                ctx,
                new,
                requester_id=request.requester_id,
                tenant_id=request.tenant_id,
                correlation_id=cid,
            )
            r = view.request
            return _gov_pb2.RequestApprovalResponse(
                success_details=_gov_pb2.ApprovalRequestDetails(
                    approval_request_id=r.approval_request_id,
                    status=r.status.value,
                    pending_approvers=list(view.pending_approvers),
                    created_at=r.created_at_ms,
                    artifact_digest=r.artifact_digest,
                    artifact_id=r.artifact_id,
                    expires_at=r.expires_at_ms,
                )
            )

        return await self._serve("RequestApproval", respond, _gov_pb2.RequestApprovalResponse)

    async def AdjudicateApproval(
        self, request: _gov_pb2.AdjudicateApprovalRequest, context: grpc.aio.ServicerContext
    ) -> _gov_pb2.AdjudicateApprovalResponse:
        """Approve or reject a pending request as the caller."""

        async def respond(
            admin: GovernanceAdmin, ctx: SecurityContext, cid: str
        ) -> _gov_pb2.AdjudicateApprovalResponse:
            result = await admin.adjudicate_approval(
                ctx,
                Adjudication(
                    approval_request_id=request.approval_request_id,
                    decision=request.decision,
                    comments=request.comments,
                    conditions=dict(request.conditions),
                ),
                approver_id=request.approver_id,
                tenant_id=request.tenant_id,
                correlation_id=cid,
            )
            return _gov_pb2.AdjudicateApprovalResponse(
                success_details=_gov_pb2.ApprovalDecisionDetails(
                    final_status=result.final_status.value,
                    workflow_complete=result.workflow_complete,
                    remaining_approvers=list(result.remaining_approvers),
                )
            )

        return await self._serve("AdjudicateApproval", respond, _gov_pb2.AdjudicateApprovalResponse)

    async def ListPendingApprovals(
        self, request: _gov_pb2.ListPendingApprovalsRequest, context: grpc.aio.ServicerContext
    ) -> _gov_pb2.ListPendingApprovalsResponse:
        """A page of PENDING requests, optionally only those an approver can decide."""

        async def respond(
            admin: GovernanceAdmin, ctx: SecurityContext, cid: str
        ) -> _gov_pb2.ListPendingApprovalsResponse:
            page = await admin.list_pending_approvals(
                ctx,
                approver_id=request.approver_id,
                artifact_type_name=request.artifact_type,
                tenant_id=request.tenant_id,
                limit=request.limit,
                cursor=request.cursor,
                correlation_id=cid,
            )
            return _gov_pb2.ListPendingApprovalsResponse(
                success_details=_page(list(page.items), page.next_cursor)
            )

        return await self._serve(
            "ListPendingApprovals", respond, _gov_pb2.ListPendingApprovalsResponse
        )

    async def GetApprovalHistory(
        self, request: _gov_pb2.GetApprovalHistoryRequest, context: grpc.aio.ServicerContext
    ) -> _gov_pb2.GetApprovalHistoryResponse:
        """Requests in any state, with their decisions."""

        async def respond(
            admin: GovernanceAdmin, ctx: SecurityContext, cid: str
        ) -> _gov_pb2.GetApprovalHistoryResponse:
            query = HistoryQuery(
                tenant_id=request.tenant_id,
                artifact_type=request.artifact_type,
                artifact_id=request.artifact_id,
                approval_request_id=request.approval_request_id,
                start_ms=request.start_time,
                end_ms=request.end_time,
                limit=request.limit,
                cursor=request.cursor,
            )
            page = await admin.get_approval_history(ctx, query, correlation_id=cid)
            return _gov_pb2.GetApprovalHistoryResponse(
                success_details=_page(list(page.items), page.next_cursor)
            )

        return await self._serve("GetApprovalHistory", respond, _gov_pb2.GetApprovalHistoryResponse)

    async def CreateApprovalWorkflow(
        self, request: _gov_pb2.CreateApprovalWorkflowRequest, context: grpc.aio.ServicerContext
    ) -> _gov_pb2.CreateApprovalWorkflowResponse:
        """Define a workflow in the caller's tenant (``"*"``: for every tenant)."""

        async def respond(
            admin: GovernanceAdmin, ctx: SecurityContext, cid: str
        ) -> _gov_pb2.CreateApprovalWorkflowResponse:
            stored = await admin.create_workflow(
                ctx,
                _workflow(request.workflow),
                tenant_id=request.tenant_id,
                justification=request.justification,
                correlation_id=cid,
            )
            return _gov_pb2.CreateApprovalWorkflowResponse(success_details=workflow_message(stored))

        return await self._serve(
            "CreateApprovalWorkflow", respond, _gov_pb2.CreateApprovalWorkflowResponse
        )

    async def UpdateApprovalWorkflow(
        self, request: _gov_pb2.UpdateApprovalWorkflowRequest, context: grpc.aio.ServicerContext
    ) -> _gov_pb2.UpdateApprovalWorkflowResponse:
        """Replace a workflow; open requests keep their approvers."""

        async def respond(
            admin: GovernanceAdmin, ctx: SecurityContext, cid: str
        ) -> _gov_pb2.UpdateApprovalWorkflowResponse:
            stored = await admin.update_workflow(
                ctx,
                _workflow(request.workflow),
                tenant_id=request.tenant_id,
                justification=request.justification,
                correlation_id=cid,
            )
            return _gov_pb2.UpdateApprovalWorkflowResponse(success_details=workflow_message(stored))

        return await self._serve(
            "UpdateApprovalWorkflow", respond, _gov_pb2.UpdateApprovalWorkflowResponse
        )
