"""EnterpriseAuditService: the gRPC edge of :class:`aesp.core.admin.audit.AuditAdmin`.

Thin (STYLE convention 8): each RPC asks the gateway for the verified caller, converts the
request to core terms, calls the core operation and converts the answer. Permissions, tenant
scope, the Host-assigned fields of ``LogEvent`` and audit are the core's; every refusal travels
in-band as the ``EnterpriseError`` of the response (for the export stream: on its final message).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc

from aesp.core.admin.audit import (
    AuditAdmin,
    AuditStatisticsView,
    EventDraft,
    EventQuery,
)
from aesp.core.audit import AuditEvent
from aesp.core.audit_keys import Checkpoint
from aesp.core.errors import AespError, ExecutionError
from aesp.core.host import Host
from aesp.core.security import SecurityContext
from aesp.proto.altar.aesp.v1 import audit_pb2 as _audit_pb2
from aesp.proto.altar.aesp.v1 import audit_pb2_grpc as _audit_pb2_grpc
from aesp.server.errors import enterprise_error
from aesp.server.gateway import admitted, correlation_id, current_admission
from aesp.server.servicers.identity import serve

__all__ = ["AuditServicer", "checkpoint_message", "full_event_message"]


def full_event_message(event: AuditEvent) -> _audit_pb2.AuditEvent:
    """An event on the wire with every field, C-35 integrity fields as raw bytes."""
    return _audit_pb2.AuditEvent(
        event_id=event.event_id,
        timestamp_ms=event.timestamp_ms,
        event_type=event.event_type,
        principal_id=event.principal_id,
        tenant_id=event.tenant_id,
        session_id=event.session_id,
        resource=event.resource,
        action=event.action,
        outcome=event.outcome,
        source_ip=event.source_ip,
        user_agent=event.user_agent,
        metadata=dict(event.metadata),
        risk_score=event.risk_score,
        policy_violations=event.policy_violations,
        correlation_id=event.correlation_id,
        trace_id=event.trace_id,
        organization_id=event.organization_id,
        applied_policies=event.applied_policies,
        prev_hash=bytes.fromhex(event.prev_hash),
        hash=bytes.fromhex(event.hash),
    )


def checkpoint_message(cp: Checkpoint | None) -> _audit_pb2.Checkpoint | None:
    """A signed checkpoint on the wire (None stays unset)."""
    if cp is None:
        return None
    return _audit_pb2.Checkpoint(
        origin=cp.origin,
        tree_size=cp.size,
        root_hash=cp.root,
        timestamp_ms=cp.timestamp_ms,
        signature=cp.signature,
        key_id=cp.key_id,
    )


def _query(request: _audit_pb2.QueryEventsRequest) -> EventQuery:
    return EventQuery(
        tenant_id=request.tenant_id,
        start_ms=request.start_time,
        end_ms=request.end_time,
        event_types=tuple(request.event_types),
        principal_id=request.principal_id,
        filters=dict(request.filters),
        limit=request.limit,
        cursor=request.cursor,
    )


def _draft(event: _audit_pb2.AuditEvent) -> EventDraft:
    return EventDraft(
        event_type=event.event_type,
        outcome=event.outcome,
        action=event.action,
        session_id=event.session_id,
        resource=event.resource,
        source_ip=event.source_ip,
        user_agent=event.user_agent,
        metadata=dict(event.metadata),
        risk_score=event.risk_score,
        policy_violations=tuple(event.policy_violations),
        correlation_id=event.correlation_id,
        trace_id=event.trace_id,
        organization_id=event.organization_id,
        applied_policies=tuple(event.applied_policies),
        client_event_id=event.event_id,
        client_timestamp_ms=event.timestamp_ms,
    )


def _statistics(view: AuditStatisticsView) -> _audit_pb2.AuditStatistics:
    return _audit_pb2.AuditStatistics(
        total_events=view.total_events,
        event_type_counts=view.event_type_counts,
        outcome_counts=view.outcome_counts,
        unique_principals=view.unique_principals,
        tree_size=view.tree_size,
        oldest_event_ms=view.oldest_event_ms,
        newest_event_ms=view.newest_event_ms,
    )


class AuditServicer(_audit_pb2_grpc.EnterpriseAuditServiceServicer):
    """Serves EnterpriseAuditService from a :class:`~aesp.core.host.Host`.

    Args:
        host: The Host (its audit log, query store and control plane).
    """

    def __init__(self, host: Host) -> None:
        shipper = host.audit_shipper
        self._admin = AuditAdmin(
            host.control,
            log=host.audit,
            query=host.audit_query,
            log_path=shipper.log_path if shipper is not None else None,
        )

    async def LogEvent(
        self, request: _audit_pb2.LogEventRequest, context: grpc.aio.ServicerContext
    ) -> _audit_pb2.LogEventResponse:
        """Append one event to the caller's tenant log (durable with ``immediate_flush``)."""

        async def respond(ctx: SecurityContext, cid: str) -> _audit_pb2.LogEventResponse:
            logged = await self._admin.log_event(
                ctx,
                _draft(request.event),
                immediate_flush=request.immediate_flush,
                correlation_id=cid,
            )
            return _audit_pb2.LogEventResponse(
                success_details=_audit_pb2.LogEventDetails(
                    event_id=logged.event_id,
                    leaf_index=logged.leaf_index or 0,
                    hash=bytes.fromhex(logged.hash),
                    durable=logged.durable,
                )
            )

        return await serve("LogEvent", self._admin, respond, _audit_pb2.LogEventResponse)

    async def QueryEvents(
        self, request: _audit_pb2.QueryEventsRequest, context: grpc.aio.ServicerContext
    ) -> _audit_pb2.QueryEventsResponse:
        """One page of matching events, oldest first."""

        async def respond(ctx: SecurityContext, cid: str) -> _audit_pb2.QueryEventsResponse:
            page = await self._admin.query_events(ctx, _query(request), correlation_id=cid)
            return _audit_pb2.QueryEventsResponse(
                success_details=_audit_pb2.AuditEventList(
                    items=[full_event_message(e) for e in page.items],
                    next_cursor=page.next_cursor,
                )
            )

        return await serve("QueryEvents", self._admin, respond, _audit_pb2.QueryEventsResponse)

    async def GetComplianceReport(
        self, request: _audit_pb2.GetComplianceReportRequest, context: grpc.aio.ServicerContext
    ) -> _audit_pb2.GetComplianceReportResponse:
        """An evidence summary of the tenant's log over a window."""

        async def respond(ctx: SecurityContext, cid: str) -> _audit_pb2.GetComplianceReportResponse:
            r = await self._admin.compliance_report(
                ctx,
                tenant_id=request.tenant_id,
                framework=request.framework,
                start_ms=request.start_time,
                end_ms=request.end_time,
                correlation_id=cid,
            )
            return _audit_pb2.GetComplianceReportResponse(
                success_details=_audit_pb2.ComplianceReport(
                    report_id=r.report_id,
                    tenant_id=r.tenant_id,
                    framework=r.framework,
                    start_time=r.start_ms,
                    end_time=r.end_ms,
                    generated_at=r.generated_at_ms,
                    total_events=r.statistics.total_events,
                    event_type_counts=r.statistics.event_type_counts,
                    denied_events=r.denied_events,
                    policy_violations=r.policy_violations,
                    findings=[
                        _audit_pb2.ComplianceFinding(
                            control_id=f.control_id,
                            status=f.status,
                            description=f.description,
                            evidence_event_ids=f.evidence_event_ids,
                        )
                        for f in r.findings
                    ],
                    checkpoint=checkpoint_message(r.checkpoint),
                    integrity_verified=r.integrity_verified,
                )
            )

        return await serve(
            "GetComplianceReport", self._admin, respond, _audit_pb2.GetComplianceReportResponse
        )

    async def ExportAuditLogs(
        self, request: _audit_pb2.ExportAuditLogsRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[_audit_pb2.ExportAuditLogsResponse]:
        """The selected events in chunks; the last message has ``is_final`` (and any error)."""
        cid = correlation_id()
        ctx: SecurityContext | None = None
        try:
            ctx = await self._admin.context(admitted(), rpc="ExportAuditLogs", correlation_id=cid)
            chunks = await self._admin.export(
                ctx, _query(request.query), request.format, correlation_id=cid
            )
            try:
                async for chunk in chunks:
                    yield _audit_pb2.ExportAuditLogsResponse(chunk=chunk)
            except (OSError, ValueError) as exc:
                raise ExecutionError(
                    "INTERNAL_ERROR", f"The audit log could not be read ({exc})."
                ) from None
            yield _audit_pb2.ExportAuditLogsResponse(is_final=True)
        except AespError as exc:
            if ctx is not None and not exc.audited:
                await self._admin.record_refusal(ctx, "ExportAuditLogs", exc, correlation_id=cid)
            verdict = current_admission()
            known = verdict.principal if verdict is not None else None
            tenant = ctx.tenant_id if ctx else (known.tenant_id if known else "")
            who = ctx.principal_id if ctx else (known.principal_id if known else "")
            error = enterprise_error(exc, correlation_id=cid, tenant_id=tenant, principal_id=who)
            yield _audit_pb2.ExportAuditLogsResponse(is_final=True, error=error)

    async def GetAuditStatistics(
        self, request: _audit_pb2.GetAuditStatisticsRequest, context: grpc.aio.ServicerContext
    ) -> _audit_pb2.GetAuditStatisticsResponse:
        """Counts over a window."""

        async def respond(ctx: SecurityContext, cid: str) -> _audit_pb2.GetAuditStatisticsResponse:
            view = await self._admin.statistics(
                ctx,
                tenant_id=request.tenant_id,
                start_ms=request.start_time,
                end_ms=request.end_time,
                correlation_id=cid,
            )
            return _audit_pb2.GetAuditStatisticsResponse(success_details=_statistics(view))

        return await serve(
            "GetAuditStatistics", self._admin, respond, _audit_pb2.GetAuditStatisticsResponse
        )

    async def GetInclusionProof(
        self, request: _audit_pb2.GetInclusionProofRequest, context: grpc.aio.ServicerContext
    ) -> _audit_pb2.GetInclusionProofResponse:
        """RFC 9162 inclusion proof of one event, with the checkpoint it meets."""

        async def respond(ctx: SecurityContext, cid: str) -> _audit_pb2.GetInclusionProofResponse:
            view = await self._admin.inclusion_proof(
                ctx,
                request.event_id,
                tenant_id=request.tenant_id,
                tree_size=request.tree_size,
                correlation_id=cid,
            )
            return _audit_pb2.GetInclusionProofResponse(
                success_details=_audit_pb2.InclusionProofDetails(
                    proof=_audit_pb2.InclusionProof(
                        leaf_index=view.leaf_index, tree_size=view.tree_size, hashes=view.hashes
                    ),
                    checkpoint=checkpoint_message(view.checkpoint),
                    leaf_hash=view.leaf_hash,
                )
            )

        return await serve(
            "GetInclusionProof", self._admin, respond, _audit_pb2.GetInclusionProofResponse
        )

    async def GetConsistencyProof(
        self, request: _audit_pb2.GetConsistencyProofRequest, context: grpc.aio.ServicerContext
    ) -> _audit_pb2.GetConsistencyProofResponse:
        """RFC 9162 consistency proof between two tree sizes."""

        async def respond(ctx: SecurityContext, cid: str) -> _audit_pb2.GetConsistencyProofResponse:
            view = await self._admin.consistency_proof(
                ctx,
                first_size=request.first_size,
                second_size=request.second_size,
                tenant_id=request.tenant_id,
                correlation_id=cid,
            )
            return _audit_pb2.GetConsistencyProofResponse(
                success_details=_audit_pb2.ConsistencyProofDetails(
                    proof=_audit_pb2.ConsistencyProof(
                        first_size=view.first_size,
                        second_size=view.second_size,
                        hashes=view.hashes,
                    ),
                    checkpoint=checkpoint_message(view.checkpoint),
                )
            )

        return await serve(
            "GetConsistencyProof", self._admin, respond, _audit_pb2.GetConsistencyProofResponse
        )

    async def GetCheckpoint(
        self, request: _audit_pb2.GetCheckpointRequest, context: grpc.aio.ServicerContext
    ) -> _audit_pb2.GetCheckpointResponse:
        """The tenant's latest signed checkpoint."""

        async def respond(ctx: SecurityContext, cid: str) -> _audit_pb2.GetCheckpointResponse:
            cp = await self._admin.checkpoint(ctx, tenant_id=request.tenant_id, correlation_id=cid)
            return _audit_pb2.GetCheckpointResponse(success_details=checkpoint_message(cp))

        return await serve("GetCheckpoint", self._admin, respond, _audit_pb2.GetCheckpointResponse)
