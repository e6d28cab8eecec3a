"""Conversions between protobuf messages and core types, for the servicers only."""

from __future__ import annotations

from aesp.adm import AdmError, canonical_json, parse_json
from aesp.core.contracts import ToolContract
from aesp.core.errors import ValidationError
from aesp.core.ids import accept_correlation_id
from aesp.core.messages import (
    CallRequest,
    Cancel,
    ContractsChanged,
    Dispatch,
    HeartbeatEcho,
    OutboundMessage,
    RuntimeChunk,
    RuntimeResult,
)
from aesp.proto.altar.adm.v1 import adm_pb2 as _adm_pb2
from aesp.proto.altar.aesp.v1 import enterprise_pb2 as _enterprise_pb2
from aesp.proto.altar.aesp.v1 import host_pb2 as _host_pb2
from aesp.proto.altar.grid.v1 import grid_pb2 as _grid_pb2

_STATUS_NAMES = {_adm_pb2.SUCCESS: "SUCCESS", _adm_pb2.ERROR: "ERROR"}
_STATUS_VALUES = {"SUCCESS": _adm_pb2.SUCCESS, "ERROR": _adm_pb2.ERROR}


def call_request(
    *,
    session_id: str,
    call: _adm_pb2.FunctionCall,
    has_call: bool,
    correlation_id: str,
    timeout_ms: int = 0,
    metadata: dict[str, str] | None = None,
) -> CallRequest:
    """A CallRequest from the wire fields.

    Raises:
        ValidationError: ``MALFORMED_REQUEST`` when the FunctionCall or its args are missing.
    """
    if not has_call:
        raise ValidationError(
            "MALFORMED_REQUEST", "The request has no 'call' (an ADM FunctionCall)."
        )
    if not call.args:
        raise ValidationError(
            "MALFORMED_REQUEST",
            "call.args is empty; send the arguments as a JSON object ({} when there are none).",
        )
    return CallRequest(
        session_id=session_id,
        call_id=call.call_id,
        name=call.name,
        args_json=call.args,
        correlation_id=accept_correlation_id(correlation_id),
        timeout_ms=timeout_ms,
        metadata=metadata or {},
    )


def runtime_result(msg: _grid_pb2.ToolResult) -> RuntimeResult:
    """A Runtime's ToolResult as a core RuntimeResult (validity is checked by the core)."""
    r = msg.result
    return RuntimeResult(
        invocation_id=msg.invocation_id,
        correlation_id=msg.correlation_id,
        call_id=r.call_id,
        name=r.name,
        status=_STATUS_NAMES.get(r.status, f"RESULT_STATUS_{int(r.status)}"),
        content_json=r.content if r.HasField("content") else None,
        error_message=r.error.message if r.HasField("error") else "",
        error_type=r.error.type if r.HasField("error") else "",
    )


def adm_result(result: RuntimeResult) -> _adm_pb2.ToolResult:
    """A core RuntimeResult as an ADM ToolResult message."""
    out = _adm_pb2.ToolResult(
        call_id=result.call_id, name=result.name, status=_STATUS_VALUES[result.status]
    )
    if result.content_json is not None:
        out.content = result.content_json
    if result.status == "ERROR":
        out.error.message = result.error_message
        if result.error_type:
            out.error.type = result.error_type
    return out


def runtime_chunk(msg: _grid_pb2.StreamChunk) -> RuntimeChunk:
    """A Runtime's StreamChunk as a core RuntimeChunk."""
    code = message = ""
    if msg.HasField("enhanced_error"):
        code, message = (
            msg.enhanced_error.type or "TOOL_EXECUTION_FAILED",
            msg.enhanced_error.message,
        )
    elif msg.HasField("error"):
        code, message = msg.error.type or "TOOL_EXECUTION_FAILED", msg.error.message
    return RuntimeChunk(
        invocation_id=msg.invocation_id,
        chunk_id=msg.chunk_id,
        payload=msg.payload,
        is_final=msg.is_final,
        correlation_id=msg.correlation_id,
        error_code=code,
        error_message=message or ("The tool failed." if code else ""),
    )


def host_message(msg: OutboundMessage) -> _host_pb2.HostMessage:
    """A core outbound message as a HostMessage on the work stream."""
    if isinstance(msg, Dispatch):
        return _host_pb2.HostMessage(
            call=_grid_pb2.ToolCall(
                invocation_id=msg.invocation_id,
                correlation_id=msg.correlation_id,
                session_id=msg.session_id,
                timeout_ms=msg.timeout_ms,
                call=_adm_pb2.FunctionCall(call_id=msg.call_id, name=msg.name, args=msg.args_json),
            )
        )
    if isinstance(msg, Cancel):
        return _host_pb2.HostMessage(
            cancel=_grid_pb2.CancelInvocation(invocation_id=msg.invocation_id, reason=msg.reason)
        )
    if isinstance(msg, ContractsChanged):
        return _host_pb2.HostMessage(
            contracts=_host_pb2.ContractsUpdate(
                available_contracts=msg.available_contracts, manifest_version=msg.manifest_version
            )
        )
    if isinstance(msg, HeartbeatEcho):
        return _host_pb2.HostMessage(heartbeat=_grid_pb2.Heartbeat(timestamp_ms=msg.timestamp_ms))
    raise TypeError(f"not a work-stream message: {msg!r}")


def contract_message(contract: ToolContract) -> _enterprise_pb2.EnterpriseToolContract:
    """A contract as an EnterpriseToolContract message (schemas as canonical JSON, C-3)."""
    return _enterprise_pb2.EnterpriseToolContract(
        name=contract.name,
        contract_version=contract.contract_version,
        description=contract.description,
        parameters=canonical_json(contract.parameters),
        return_type=canonical_json(contract.return_type)
        if contract.return_type is not None
        else b"",
        supports_streaming=contract.supports_streaming,
        security_classification=contract.security_classification,
        required_roles=contract.required_roles,
        required_permissions=contract.required_permissions,
        approval_status=contract.approval_status.value,
        approved_by=contract.approved_by,
        approved_at=contract.approved_at,
        compliance_tags=contract.compliance_tags,
        risk_assessment=contract.risk_assessment,
        governance_metadata=contract.governance_metadata,
        content_digest=contract.digest,
    )


def tool_json(tool: _adm_pb2.Tool) -> dict[str, object]:
    """An ADM Tool message as its JSON object, for validation by the core.

    A parameters payload that is not JSON is kept as a string so validation reports it.
    """
    decls: list[dict[str, object]] = []
    for d in tool.function_declarations:
        try:
            parameters: object = parse_json(d.parameters) if d.parameters else None
        except AdmError:
            parameters = d.parameters.decode("utf-8", "replace")
        decl: dict[str, object] = {"name": d.name, "description": d.description}
        if parameters is not None:
            decl["parameters"] = parameters
        decls.append(decl)
    return {"function_declarations": decls}
