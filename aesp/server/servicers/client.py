"""GridClientService: the client-facing edge. Converts, calls the pipeline, converts back.

No authorisation or business logic lives here (STYLE convention 8). Authentication happened in
the gateway (:mod:`aesp.server.gateway`) before the method runs: each method starts with
:func:`~aesp.server.gateway.admitted`, which returns the verified principal or raises the
gateway's refusal, answered in-band like every other refusal (the gateway has audited it).

``CallTool`` and ``CallToolStream`` are measured (latency, outcome, span) when the Host has
metrics or traces on (:mod:`aesp.observability.calls`); with both off the servicer has no
telemetry and a call pays one ``is None`` test.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc

from aesp.core.call_approvals import APPROVAL_HEADER, APPROVAL_ID_KEY
from aesp.core.errors import AespError
from aesp.core.host import Host
from aesp.core.principal import Principal
from aesp.observability.calls import (
    CANCELLED,
    INTERNAL_ERROR,
    SUCCESS,
    TOOL_ERROR,
    CallProbe,
    CallTelemetry,
)
from aesp.proto.altar.aesp.v1 import host_pb2 as _host_pb2
from aesp.proto.altar.aesp.v1 import host_pb2_grpc as _host_pb2_grpc
from aesp.proto.altar.grid.v1 import grid_pb2 as _grid_pb2
from aesp.server import convert
from aesp.server.errors import enhanced_error
from aesp.server.gateway import admitted, correlation_id, current_admission

_AuthorizeStatus = _grid_pb2.AuthorizeToolCallResponse
_LogStatus = _grid_pb2.LogToolResultResponse


class ClientServicer(_host_pb2_grpc.GridClientServiceServicer):
    """Serves GridClientService from a :class:`~aesp.core.host.Host`."""

    def __init__(self, host: Host, *, telemetry: CallTelemetry | None = None) -> None:
        self._host = host
        self._pipeline = host.pipeline
        self._telemetry = telemetry

    async def _refuse(
        self,
        event_type: str,
        exc: AespError,
        cid: str,
        principal: Principal | None,
        session_id: str = "",
        tool_name: str = "",
    ) -> _grid_pb2.EnhancedError:
        """Audit a refusal not yet audited (e.g. a malformed envelope) and build its wire form.

        A gateway refusal is already audited; when the gateway knew the caller (a rate limit,
        an oversized request) the error still names its principal and tenant (item 141).
        """
        if principal is None:
            verdict = current_admission()
            principal = verdict.principal if verdict is not None else None
        await self._pipeline.record_refusal(event_type, principal, exc, cid)
        return _err(exc, cid, principal, session_id, tool_name)

    async def CreateSession(
        self, request: _grid_pb2.CreateSession, context: grpc.aio.ServicerContext
    ) -> _grid_pb2.CreateSessionResponse:
        """Create a session for the verified caller; identity sent in the request is ignored."""
        cid = correlation_id()
        principal: Principal | None = None
        try:
            principal = admitted()
            session = await self._pipeline.create_session(
                principal,
                ttl_seconds=request.ttl_seconds,
                metadata=dict(request.metadata),
                correlation_id=cid,
            )
        except AespError as exc:
            return _grid_pb2.CreateSessionResponse(
                error=await self._refuse("SESSION_CREATE", exc, cid, principal)
            )
        return _grid_pb2.CreateSessionResponse(
            session_id=session.session_id, expires_at_ms=session.expires_at_ms
        )

    async def DestroySession(
        self, request: _grid_pb2.DestroySession, context: grpc.aio.ServicerContext
    ) -> _grid_pb2.DestroySessionResponse:
        """Destroy a session (C-46)."""
        cid = correlation_id()
        principal: Principal | None = None
        try:
            principal = admitted()
            await self._pipeline.destroy_session(
                principal, request.session_id, force=request.force, correlation_id=cid
            )
        except AespError as exc:
            return _grid_pb2.DestroySessionResponse(
                destroyed=False,
                error=await self._refuse(
                    "SESSION_DESTROY", exc, cid, principal, request.session_id
                ),
            )
        return _grid_pb2.DestroySessionResponse(destroyed=True)

    async def ListTools(
        self, request: _host_pb2.ListToolsRequest, context: grpc.aio.ServicerContext
    ) -> _host_pb2.ListToolsResponse:
        """The tools the caller may call in the session."""
        cid = correlation_id(request.correlation_id)
        principal: Principal | None = None
        try:
            principal = admitted()
            tools = await self._pipeline.list_tools(principal, request.session_id, cid)
        except AespError as exc:
            return _host_pb2.ListToolsResponse(
                error=await self._refuse("TOOL_LIST", exc, cid, principal, request.session_id),
                correlation_id=cid,
            )
        return _host_pb2.ListToolsResponse(
            tools=[convert.contract_message(c) for c in tools], correlation_id=cid
        )

    async def CallTool(
        self, request: _grid_pb2.ToolCall, context: grpc.aio.ServicerContext
    ) -> _host_pb2.ToolCallResponse:
        """A governed synchronous call (C-13: the tool's result, or the Host's error)."""
        cid = correlation_id(request.correlation_id)
        principal: Principal | None = None
        probe = self._probe("CallTool", request, cid, context)
        outcome_code = CANCELLED  # until an answer is built
        try:
            try:
                principal = admitted()
                req = convert.call_request(
                    session_id=request.session_id,
                    call=request.call,
                    has_call=request.HasField("call"),
                    correlation_id=cid,
                    timeout_ms=request.timeout_ms,
                    metadata=_approval_metadata(context),
                )
                outcome = await self._pipeline.call(principal, req)
            except AespError as exc:
                outcome_code = exc.code
                return _host_pb2.ToolCallResponse(
                    error=await self._refuse(
                        "TOOL_INVOCATION_START",
                        exc,
                        cid,
                        principal,
                        request.session_id,
                        request.call.name,
                    )
                )
            outcome_code = SUCCESS if outcome.result.status == "SUCCESS" else TOOL_ERROR
            return _host_pb2.ToolCallResponse(
                result=_grid_pb2.ToolResult(
                    invocation_id=outcome.invocation_id,
                    correlation_id=outcome.correlation_id,
                    result=convert.adm_result(outcome.result),
                )
            )
        except Exception:
            outcome_code = INTERNAL_ERROR
            raise
        finally:
            if probe is not None:
                probe.finish(outcome_code, _tenant(principal))

    async def CallToolStream(
        self, request: _grid_pb2.ToolCall, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[_grid_pb2.StreamChunk]:
        """A governed streaming call; a refusal is one final chunk carrying the error (C-12)."""
        cid = correlation_id(request.correlation_id)
        principal: Principal | None = None
        chunk_id = 0
        probe = self._probe("CallToolStream", request, cid, context)
        outcome_code = CANCELLED  # until the stream ends or is refused
        try:
            principal = admitted()
            req = convert.call_request(
                session_id=request.session_id,
                call=request.call,
                has_call=request.HasField("call"),
                correlation_id=cid,
                timeout_ms=request.timeout_ms,
                metadata=_approval_metadata(context),
            )
            stream = await self._pipeline.call_stream(principal, req)
            async for chunk in stream:
                chunk_id = chunk.chunk_id + 1
                out = _grid_pb2.StreamChunk(
                    invocation_id=chunk.invocation_id,
                    chunk_id=chunk.chunk_id,
                    payload=chunk.payload,
                    is_final=chunk.is_final or bool(chunk.error_code),
                    correlation_id=cid,
                )
                if chunk.error_code:
                    outcome_code = TOOL_ERROR
                    out.error.type = chunk.error_code
                    out.error.message = chunk.error_message
                    out.enhanced_error.type = chunk.error_code
                    out.enhanced_error.message = chunk.error_message
                    out.enhanced_error.correlation_id = cid
                    out.enhanced_error.component = "runtime"
                elif out.is_final:
                    outcome_code = SUCCESS
                yield out
        except AespError as exc:
            outcome_code = exc.code
            yield _grid_pb2.StreamChunk(
                chunk_id=chunk_id,
                is_final=True,
                correlation_id=cid,
                error=_grid_pb2.Error(message=exc.message, type=exc.code),
                enhanced_error=await self._refuse(
                    "TOOL_INVOCATION_START",
                    exc,
                    cid,
                    principal,
                    request.session_id,
                    request.call.name,
                ),
            )
        except Exception:
            outcome_code = INTERNAL_ERROR
            raise
        finally:
            if probe is not None:
                probe.finish(outcome_code, _tenant(principal))

    def _probe(
        self,
        rpc: str,
        request: _grid_pb2.ToolCall,
        cid: str,
        context: grpc.aio.ServicerContext,
    ) -> CallProbe | None:
        """Start measuring a tool call, or None when the Host measures nothing."""
        if self._telemetry is None:
            return None
        metadata = context.invocation_metadata() if self._telemetry.tracing is not None else None
        return self._telemetry.begin(rpc, request.call.name, cid, metadata)

    async def AuthorizeToolCall(
        self, request: _grid_pb2.AuthorizeToolCallRequest, context: grpc.aio.ServicerContext
    ) -> _grid_pb2.AuthorizeToolCallResponse:
        """Governed local dispatch, step 1: authorise (F6)."""
        cid = correlation_id(request.correlation_id)
        principal: Principal | None = None
        try:
            principal = admitted()
            req = convert.call_request(
                session_id=request.session_id,
                call=request.call,
                has_call=request.HasField("call"),
                correlation_id=cid,
                metadata=dict(request.metadata),
            )
            auth = await self._pipeline.authorize(principal, req)
        except AespError as exc:
            held = exc.details.get(APPROVAL_ID_KEY, "") if _is_held(exc) else ""
            return _AuthorizeStatus(
                # PENDING (SPEC §2.3.5): the call awaits approval; never an invocation id.
                status=_AuthorizeStatus.PENDING if held else _AuthorizeStatus.DENIED,
                correlation_id=cid,
                execution_context={APPROVAL_ID_KEY: held} if held else {},
                error=await self._refuse(
                    "AUTHORIZATION_DENIED",
                    exc,
                    cid,
                    principal,
                    request.session_id,
                    request.call.name,
                ),
            )
        return _AuthorizeStatus(
            status=_AuthorizeStatus.APPROVED,
            invocation_id=auth.invocation_id,
            correlation_id=cid,
            authorization_ttl_ms=auth.expires_at_ms - auth.issued_at_ms,
            execution_context={
                "args_sha256": auth.args_digest,
                "contract_digest": auth.contract_digest,
                "expires_at_ms": str(auth.expires_at_ms),
            },
        )

    async def LogToolResult(
        self, request: _grid_pb2.LogToolResultRequest, context: grpc.aio.ServicerContext
    ) -> _grid_pb2.LogToolResultResponse:
        """Governed local dispatch, step 2: record the result (F6 steps 7-9)."""
        cid = correlation_id(request.correlation_id)
        principal: Principal | None = None
        try:
            principal = admitted()
            if not request.HasField("result"):
                raise convert.ValidationError("MALFORMED_REQUEST", "The request has no 'result'.")
            await self._pipeline.log_result(
                principal,
                session_id=request.session_id,
                invocation_id=request.invocation_id,
                result=convert.runtime_result(_grid_pb2.ToolResult(result=request.result)),
                args_digest=request.execution_metadata.get("args_sha256", ""),
                execution_time_ms=request.execution_time_ms,
                correlation_id=cid,
                finished_at_ms=request.timestamp,
            )
        except AespError as exc:
            return _LogStatus(
                status=_LogStatus.REJECTED,
                correlation_id=cid,
                error=await self._refuse(
                    "SECURITY_VIOLATION", exc, cid, principal, request.session_id
                ),
            )
        return _LogStatus(status=_LogStatus.LOGGED, correlation_id=cid)


def _approval_metadata(context: grpc.aio.ServicerContext) -> dict[str, str]:
    """The approval id a caller presented in the ``aesp-approval-request-id`` gRPC metadata
    (``ToolCall`` has no metadata field), as ``CallRequest.metadata``."""
    for key, value in context.invocation_metadata() or ():
        if key == APPROVAL_HEADER and isinstance(value, str):
            return {APPROVAL_ID_KEY: value}
    return {}


def _tenant(principal: Principal | None) -> str:
    return principal.tenant_id if principal is not None else ""


def _is_held(exc: AespError) -> bool:
    """Whether ``exc`` holds the call for a per-call approval (AuthorizeToolCall: PENDING)."""
    return exc.code == "EMERGENCY_OVERRIDE_REQUIRED" and exc.details.get("reason") == (
        "APPROVAL_REQUIRED"
    )


def _err(
    exc: AespError,
    correlation_id: str,
    principal: Principal | None,
    session_id: str = "",
    tool_name: str = "",
) -> _grid_pb2.EnhancedError:
    return enhanced_error(
        exc,
        correlation_id=correlation_id,
        tenant_id=principal.tenant_id if principal else "",
        principal_id=principal.principal_id if principal else "",
        session_id=session_id[:128],
        tool_name=tool_name[:64],
    )
