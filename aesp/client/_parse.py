"""Reading the Host's answers: values out, refusals raised, ambiguous answers refused.

Why: proto3 decodes a missing message as all zero values, and ``APPROVED``, ``LOGGED`` and
``SUCCESS`` are zeros (C-15). So no answer here is read as success from its default value: an
approval needs a non-empty ``invocation_id`` *and* a TTL > 0; a log acknowledgement needs the
echoed correlation id; a session needs its id; an ADM result needs an explicit status. Anything
else raises :class:`~aesp.client.errors.ProtocolError` (or the Host's own error when it sent one).
"""

from __future__ import annotations

import re
from typing import Any, Literal

from aesp.adm import MISSING, AdmError, parse_json
from aesp.client.errors import (
    AespClientError,
    InvalidAuthorization,
    Origin,
    ProtocolError,
    build_enhanced_error,
    error_for,
    make_error,
)
from aesp.client.models import Authorization, CallResult, LogReceipt, Session, ToolInfo
from aesp.proto.altar.adm.v1 import adm_pb2 as _adm_pb2
from aesp.proto.altar.aesp.v1 import host_pb2 as _host_pb2
from aesp.proto.altar.grid.v1 import grid_pb2 as _grid_pb2

_Auth = _grid_pb2.AuthorizeToolCallResponse
# A correlation id the Host echoes unchanged (printable ASCII, 1-128; docs decision 26).
_WELL_FORMED_ID = re.compile(r"[\x21-\x7E]{1,128}\Z")
_Log = _grid_pb2.LogToolResultResponse


def host_error(error: _grid_pb2.EnhancedError, correlation_id: str) -> AespClientError:
    """The exception for an in-band error, with the request's correlation id if it has none."""
    if not error.correlation_id and correlation_id:
        filled = _grid_pb2.EnhancedError()
        filled.CopyFrom(error)
        filled.correlation_id = correlation_id
        error = filled
    origin: Origin = "runtime" if error.component == "runtime" else "host"
    return error_for(error, origin=origin)


def violation(message: str, correlation_id: str, reason: str) -> ProtocolError:
    """A ``PROTOCOL_VIOLATION`` for an answer this SDK must not accept."""
    error = build_enhanced_error(
        "PROTOCOL_VIOLATION", message, correlation_id=correlation_id, details={"reason": reason}
    )
    return ProtocolError(error, origin="client")


def session(resp: _grid_pb2.CreateSessionResponse, correlation_id: str) -> Session:
    """The created session, or raise the Host's refusal."""
    if resp.HasField("error"):
        raise host_error(resp.error, correlation_id)
    if not resp.session_id:
        raise violation("The Host created no session id.", correlation_id, "EMPTY_SESSION_ID")
    return Session(session_id=resp.session_id, expires_at_ms=resp.expires_at_ms)


def destroyed(resp: _grid_pb2.DestroySessionResponse, correlation_id: str) -> None:
    """Return if the session was destroyed, else raise."""
    if resp.HasField("error"):
        raise host_error(resp.error, correlation_id)
    if not resp.destroyed:
        raise violation("The Host did not confirm the destruction.", correlation_id, "NOT_DONE")


def tools(resp: _host_pb2.ListToolsResponse, correlation_id: str) -> list[ToolInfo]:
    """The session's tools, or raise the Host's refusal."""
    if resp.HasField("error"):
        raise host_error(resp.error, correlation_id)
    out: list[ToolInfo] = []
    for contract in resp.tools:
        params = _json(contract.parameters, correlation_id) if contract.parameters else {}
        out.append(
            ToolInfo(
                name=contract.name,
                version=contract.contract_version,
                description=contract.description,
                parameters=params if isinstance(params, dict) else {},
                supports_streaming=contract.supports_streaming,
                classification=contract.security_classification,
                digest=contract.content_digest,
            )
        )
    return out


def call_result(resp: _host_pb2.ToolCallResponse, request: _grid_pb2.ToolCall) -> CallResult:
    """The ADM result of a call (a business ERROR is returned, C-13), or raise the refusal."""
    cid = request.correlation_id
    outcome = resp.WhichOneof("outcome")
    if outcome == "error":
        raise host_error(resp.error, cid)
    if outcome != "result":
        raise violation("The Host sent neither a result nor an error.", cid, "EMPTY_RESPONSE")
    msg = resp.result
    result = msg.result
    if result.call_id != request.call.call_id or result.name != request.call.name:
        raise violation("The result does not answer this call.", cid, "RESULT_MISMATCH")
    status: Literal["SUCCESS", "ERROR"]
    if result.status == _adm_pb2.SUCCESS:
        if not result.HasField("content"):
            raise violation("A SUCCESS result has no content.", cid, "NO_CONTENT")
        content: Any = _json(result.content, cid)
        status, message, error_type = "SUCCESS", "", ""
    elif result.status == _adm_pb2.ERROR:
        content = MISSING
        status, message, error_type = "ERROR", result.error.message, result.error.type
    else:
        raise violation("The result has no status (C-15).", cid, "NO_STATUS")
    return CallResult(
        status=status,
        content=content,
        error_message=message,
        error_type=error_type,
        call_id=result.call_id,
        name=result.name,
        invocation_id=msg.invocation_id,
        correlation_id=msg.correlation_id or cid,
    )


def chunk(msg: _grid_pb2.StreamChunk, expected_id: int, correlation_id: str) -> Any:
    """The parsed payload of a stream chunk; raise on an in-band error or a sequence gap."""
    if msg.HasField("enhanced_error"):
        raise host_error(msg.enhanced_error, correlation_id)
    if msg.HasField("error"):
        raise make_error(
            msg.error.type or "TOOL_EXECUTION_FAILED",
            msg.error.message or "The tool failed.",
            correlation_id=msg.correlation_id or correlation_id,
            origin="host",
        )
    if msg.chunk_id != expected_id:
        raise violation(
            f"Stream chunk {msg.chunk_id} arrived where {expected_id} was expected.",
            correlation_id,
            "CHUNK_SEQUENCE",
        )
    return _json(msg.payload, correlation_id)


def authorization(
    resp: _grid_pb2.AuthorizeToolCallResponse,
    request: _grid_pb2.AuthorizeToolCallRequest,
    args: dict[str, Any],
    *,
    received_at: float,
) -> Authorization:
    """An APPROVED authorisation (C-15), or raise: execution must not proceed (F6 step 5).

    Raises:
        AespClientError: The Host's error when it sent one (even with status APPROVED, since
            a zero status with an error means the status was simply left out).
        PermissionDenied: DENIED without an error, or PENDING.
        InvalidAuthorization: APPROVED without an invocation id or with a zero TTL.
    """
    cid = request.correlation_id
    if resp.HasField("error"):
        raise host_error(resp.error, cid)
    if resp.status != _Auth.APPROVED:
        status = _Auth.Status.Name(resp.status) if resp.status in (1, 2) else str(resp.status)
        raise make_error(
            "PERMISSION_DENIED",
            f"The Host answered {status}; the call must not be executed.",
            correlation_id=resp.correlation_id or cid,
            details={"authorization_status": status},
            origin="host",
        )
    answered = resp.correlation_id or cid
    if _WELL_FORMED_ID.match(cid) and answered != cid:
        # SPEC §2.12: "validate the invocation_id format, expiry and correlation"
        error = build_enhanced_error(
            "PROTOCOL_VIOLATION",
            f"The approval answers correlation id {answered!r}, not this request's; the call "
            "was not executed.",
            correlation_id=cid,
            details={"reason": "CORRELATION_MISMATCH"},
        )
        raise InvalidAuthorization(error, origin="client")
    if not resp.invocation_id or resp.authorization_ttl_ms <= 0:
        error = build_enhanced_error(
            "PROTOCOL_VIOLATION",
            "The Host's approval has no invocation id or no TTL, so it is not an approval "
            "(C-15); the call was not executed.",
            correlation_id=resp.correlation_id or cid,
            details={"reason": "INCOMPLETE_APPROVAL"},
        )
        raise InvalidAuthorization(error, origin="client")
    return Authorization(
        session_id=request.session_id,
        invocation_id=resp.invocation_id,
        correlation_id=resp.correlation_id or cid,
        call_id=request.call.call_id,
        name=request.call.name,
        args=args,
        ttl_ms=resp.authorization_ttl_ms,
        expires_at=received_at + resp.authorization_ttl_ms / 1000,
        execution_context=dict(resp.execution_context),
    )


def log_receipt(
    resp: _grid_pb2.LogToolResultResponse, request: _grid_pb2.LogToolResultRequest
) -> LogReceipt:
    """The Host's ``LOGGED`` acknowledgement, or raise its rejection (items 119-123)."""
    cid = request.correlation_id
    if resp.HasField("error"):
        raise host_error(resp.error, cid)
    if resp.status == _Log.REJECTED:
        raise violation("The Host rejected the result without saying why.", cid, "REJECTED")
    if resp.status != _Log.LOGGED or not resp.correlation_id:
        # C-15: an empty answer decodes as LOGGED; only the echoed correlation id proves it.
        raise violation("The Host's acknowledgement is empty (C-15).", cid, "EMPTY_ACK")
    return LogReceipt(invocation_id=request.invocation_id, correlation_id=resp.correlation_id)


def _json(data: bytes, correlation_id: str) -> Any:
    try:
        return parse_json(data)
    except AdmError as exc:
        raise violation(
            f"The Host sent JSON this SDK cannot read: {exc}", correlation_id, "BAD_JSON"
        ) from None
