"""Building the GridClientService requests, shared by the sync and async clients.

Why: the two clients must send byte-identical requests, so building them lives in one place.
Arguments travel as canonical ADM JSON (never ``google.protobuf.Struct``, SPEC §2.4), which is
also what the Host hashes when it binds an authorisation to its arguments (SPEC §2.12).
"""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Mapping
from typing import Any

from aesp.adm import AdmError, ResultStatus, ToolResult, canonical_json, parse_json
from aesp.client.errors import InvalidArguments, build_enhanced_error
from aesp.client.models import Authorization, CallResult
from aesp.core.ids import now_ms
from aesp.proto.altar.adm.v1 import adm_pb2 as _adm_pb2
from aesp.proto.altar.aesp.v1 import host_pb2 as _host_pb2
from aesp.proto.altar.grid.v1 import grid_pb2 as _grid_pb2

Args = Mapping[str, Any] | bytes
"""Call arguments: a mapping (encoded as canonical JSON) or pre-encoded JSON bytes."""


def new_correlation_id() -> str:
    """A client correlation id in the recommended form, e.g. ``client-1691568000-a7b9c3d2``."""
    return f"client-{int(time.time())}-{secrets.token_hex(4)}"


def new_call_id() -> str:
    """A fresh ADM call id (a UUID v4, as ADM recommends)."""
    return str(uuid.uuid4())


def encode_args(args: Args, correlation_id: str) -> bytes:
    """The canonical JSON bytes of ``args``; bytes are sent unchanged (the Host validates them).

    Raises:
        InvalidArguments: ``MALFORMED_REQUEST`` if a mapping is not representable as JSON.
        TypeError: If ``args`` is neither a mapping nor bytes.
    """
    if isinstance(args, bytes | bytearray):
        return bytes(args)
    if not isinstance(args, Mapping):
        raise TypeError(f"args must be a mapping or JSON bytes, not {type(args).__name__}")
    try:
        return canonical_json(args)
    except AdmError as exc:
        raise _bad_args(
            f"The arguments are not representable as JSON: {exc}", correlation_id
        ) from None


def decode_args(args: Args, correlation_id: str) -> dict[str, Any]:
    """The arguments as a JSON object, for local execution.

    Raises:
        InvalidArguments: ``MALFORMED_REQUEST`` if they are not a JSON object.
    """
    try:
        value = parse_json(encode_args(args, correlation_id))
    except AdmError as exc:
        raise _bad_args(f"The arguments are not valid JSON: {exc}", correlation_id) from None
    if not isinstance(value, dict):
        raise _bad_args("The arguments must be a JSON object.", correlation_id)
    return value


def _bad_args(message: str, correlation_id: str) -> InvalidArguments:
    error = build_enhanced_error("MALFORMED_REQUEST", message, correlation_id=correlation_id)
    return InvalidArguments(error, origin="client")


def tool_call(
    session_id: str,
    name: str,
    args_json: bytes,
    *,
    call_id: str,
    correlation_id: str,
    timeout_ms: int,
) -> _grid_pb2.ToolCall:
    """A ``ToolCall`` for CallTool / CallToolStream (``session_id`` per C-11)."""
    return _grid_pb2.ToolCall(
        correlation_id=correlation_id,
        call=_adm_pb2.FunctionCall(call_id=call_id, name=name, args=args_json),
        session_id=session_id,
        timeout_ms=max(0, timeout_ms),
    )


def authorize_request(
    session_id: str,
    name: str,
    args_json: bytes,
    *,
    call_id: str,
    correlation_id: str,
    metadata: Mapping[str, str] | None,
) -> _grid_pb2.AuthorizeToolCallRequest:
    """An ``AuthorizeToolCallRequest`` (F6 step 1); the Host derives the security context."""
    return _grid_pb2.AuthorizeToolCallRequest(
        session_id=session_id,
        call=_adm_pb2.FunctionCall(call_id=call_id, name=name, args=args_json),
        correlation_id=correlation_id,
        metadata=dict(metadata or {}),
    )


def list_tools_request(session_id: str, correlation_id: str) -> _host_pb2.ListToolsRequest:
    """A ``ListToolsRequest``."""
    return _host_pb2.ListToolsRequest(session_id=session_id, correlation_id=correlation_id)


def adm_result(result: ToolResult | CallResult) -> ToolResult:
    """An ADM ToolResult from either result type (for logging)."""
    if isinstance(result, ToolResult):
        return result
    if result.status == "SUCCESS":
        return ToolResult.success(result.call_id, result.name, result.content)
    return ToolResult.failure(
        result.call_id, result.name, result.error_message or "failed", result.error_type or None
    )


def result_message(result: ToolResult) -> _adm_pb2.ToolResult:
    """The ``altar.adm.v1.ToolResult`` message of an ADM result."""
    message = _adm_pb2.ToolResult(call_id=result.call_id, name=result.name)
    if result.status is ResultStatus.SUCCESS:
        message.status = _adm_pb2.SUCCESS
        message.content = canonical_json(result.content)
    else:
        message.status = _adm_pb2.ERROR
        assert result.error is not None  # ADM: ERROR always carries an ErrorObject
        message.error.message = result.error.message
        if result.error.type:
            message.error.type = result.error.type
    return message


def log_request(
    auth: Authorization,
    result: ToolResult,
    *,
    execution_time_ms: int,
    finished_at_ms: int | None,
    execution_metadata: Mapping[str, str] | None,
) -> _grid_pb2.LogToolResultRequest:
    """A ``LogToolResultRequest`` for an authorised execution (F6 step 7).

    ``execution_metadata["args_sha256"]`` defaults to the hash the Host returned at
    authorisation, which binds the result to the authorised arguments (item 122).
    """
    metadata = {"args_sha256": auth.args_sha256, **dict(execution_metadata or {})}
    return _grid_pb2.LogToolResultRequest(
        session_id=auth.session_id,
        invocation_id=auth.invocation_id,
        correlation_id=auth.correlation_id,
        result=result_message(result),
        execution_time_ms=max(0, execution_time_ms),
        execution_metadata=metadata,
        timestamp=finished_at_ms if finished_at_ms is not None else now_ms(),
    )


def local_call_result(result: ToolResult, *, invocation_id: str, correlation_id: str) -> CallResult:
    """A :class:`CallResult` for a locally executed ADM result."""
    error = result.error
    return CallResult(
        status="SUCCESS" if result.status is ResultStatus.SUCCESS else "ERROR",
        content=result.content,
        error_message=error.message if error else "",
        error_type=(error.type or "") if error else "",
        call_id=result.call_id,
        name=result.name,
        invocation_id=invocation_id,
        correlation_id=correlation_id,
        executed_locally=True,
    )
