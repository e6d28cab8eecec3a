"""Bad input on every client RPC: a precise error, no crash, nothing dispatched.

Each case sends one malformed request to a real Host, checks the exact error code, its retry
rule and correlation id, checks that the scripted runtime received nothing, and then proves the
Host still serves a good call. Messages over the gRPC size limit and bytes that are not a
protobuf message at all are checked per RPC too.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import grpc
import grpc.aio
import pytest

from aesp.core.errors import REGISTRY
from aesp.proto.altar.adm.v1 import adm_pb2
from aesp.proto.altar.aesp.v1 import host_pb2
from aesp.proto.altar.grid.v1 import grid_pb2
from aesp.testing.harness import HostHandle
from tests.e2e.grid._grid import (
    FAST_LIMITS,
    HOST_CORRELATION,
    GridClient,
    assert_error,
    events,
    fc,
    success,
)
from tests.e2e.scripted_runtime import ScriptedRuntime

CID = "wf-bad-input"
OVER_ARGS_LIMIT = FAST_LIMITS.max_message_bytes + 1024  # in-band MESSAGE_TOO_LARGE
OVER_GRPC_LIMIT = FAST_LIMITS.max_message_bytes * 2 + 1024  # refused by gRPC itself


def nested(depth: int) -> bytes:
    """A JSON object nested ``depth`` levels deep, as the args of `add`."""
    return b'{"a":' * depth + b"1" + b"}" * depth


@dataclass(frozen=True)
class Case:
    """One malformed FunctionCall (or none), with the refusal it must get."""

    call: adm_pb2.FunctionCall | None
    code: str
    field: str | None = None
    audited: bool = True  # False: refused at the edge, before the pipeline (see the xfail below)


def _case_call(name: str = "add", args: bytes = b'{"a":1,"b":2}', call_id: str = "c-1") -> Any:
    return adm_pb2.FunctionCall(call_id=call_id, name=name, args=args)


CALL_CASES: dict[str, Case] = {
    "no_call": Case(None, "MALFORMED_REQUEST", audited=False),
    "empty_args": Case(_case_call(args=b""), "MALFORMED_REQUEST", audited=False),
    "args_not_json": Case(_case_call(args=b"{oops"), "MALFORMED_REQUEST", "call.args"),
    "args_invalid_utf8": Case(
        _case_call(args=b'{"a":"\xff","b":1}'), "MALFORMED_REQUEST", "call.args"
    ),
    "args_nan": Case(_case_call(args=b'{"a":NaN,"b":1}'), "MALFORMED_REQUEST", "call.args"),
    "args_duplicate_key": Case(_case_call(args=b'{"a":1,"a":2,"b":1}'), "MALFORMED_REQUEST"),
    "args_trailing_garbage": Case(_case_call(args=b'{"a":1,"b":2} {}'), "MALFORMED_REQUEST"),
    "args_array": Case(_case_call(args=b"[1,2]"), "SCHEMA_VIOLATION", "args"),
    "args_string": Case(_case_call(args=b'"{}"'), "SCHEMA_VIOLATION", "args"),
    "args_wrong_types": Case(_case_call(args=b'{"a":true,"b":[]}'), "SCHEMA_VIOLATION"),
    "args_huge_integer": Case(
        _case_call(args=b'{"a":1' + b"0" * 400 + b',"b":1}'), "SCHEMA_VIOLATION"
    ),
    "args_over_limit": Case(
        _case_call(args=b'{"a":"' + b"x" * OVER_ARGS_LIMIT + b'","b":1}'), "MESSAGE_TOO_LARGE"
    ),
    "args_deep_but_parseable": Case(_case_call(args=nested(200)), "SCHEMA_VIOLATION"),
    "call_id_empty": Case(_case_call(call_id=""), "SCHEMA_VIOLATION", "call.call_id"),
    "call_id_too_long": Case(_case_call(call_id="c" * 129), "SCHEMA_VIOLATION", "call.call_id"),
    "call_id_control_chars": Case(
        _case_call(call_id="c\n\x00"), "SCHEMA_VIOLATION", "call.call_id"
    ),
    "call_id_non_ascii": Case(_case_call(call_id="c-é"), "SCHEMA_VIOLATION", "call.call_id"),
    "name_empty": Case(_case_call(name=""), "UNSUPPORTED_TOOL"),
    "name_garbage": Case(_case_call(name="add\x00💥"), "UNSUPPORTED_TOOL"),
    "name_huge": Case(_case_call(name="n" * 10_000), "UNSUPPORTED_TOOL"),
}

# Arguments nested deeper than canonical JSON allows (256) but shallow enough to parse.
DEEP_CASE = Case(_case_call(args=nested(300)), "MALFORMED_REQUEST")


async def _call_tool(client: GridClient, session: str, call: Any) -> grid_pb2.EnhancedError:
    response = await client.call(session, call, correlation_id=CID)
    assert response.WhichOneof("outcome") == "error"
    return response.error


async def _call_stream(client: GridClient, session: str, call: Any) -> grid_pb2.EnhancedError:
    if call is not None and call.name == "add":
        call = adm_pb2.FunctionCall(call_id=call.call_id, name="count", args=call.args)
    [chunk] = await client.stream(session, call, correlation_id=CID)
    assert chunk.is_final and chunk.error.type == chunk.enhanced_error.type
    return chunk.enhanced_error


async def _authorize(client: GridClient, session: str, call: Any) -> grid_pb2.EnhancedError:
    response = await client.authorize(session, call, correlation_id=CID)
    assert response.status == grid_pb2.AuthorizeToolCallResponse.DENIED
    assert response.invocation_id == "" and response.authorization_ttl_ms == 0
    return response.error


CALL_RPCS: dict[str, Callable[[GridClient, str, Any], Awaitable[grid_pb2.EnhancedError]]] = {
    "CallTool": _call_tool,
    "CallToolStream": _call_stream,
    "AuthorizeToolCall": _authorize,
}


async def assert_still_serving(client: GridClient, runtime: ScriptedRuntime) -> None:
    """A fresh session and a good call work, and it is the first call the runtime sees."""
    before = len(runtime.calls)
    session = await client.session()
    answer = await client.call(session, fc("add", {"a": 1, "b": 2}))
    assert answer.WhichOneof("outcome") == "result", answer.error
    assert len(runtime.calls) == before + 1


# ----------------------------------------------------------------------------- call-shaped RPCs


@pytest.mark.parametrize("rpc", sorted(CALL_RPCS))
@pytest.mark.parametrize("kind", sorted(CALL_CASES))
async def test_bad_call_input_precise_error_nothing_dispatched(
    host: HostHandle, client: GridClient, runtime: ScriptedRuntime, rpc: str, kind: str
) -> None:
    case = CALL_CASES[kind]
    session = await client.session()
    error = await CALL_RPCS[rpc](client, session, case.call)
    assert_error(error, case.code, retry=REGISTRY[case.code].retry_allowed, correlation_id=CID)
    if case.field is not None:
        assert error.details["field"] == case.field
    assert len(error.tool_name) <= 64 and len(error.session_id) <= 128
    assert runtime.calls == []
    if case.audited:
        assert events(host, correlation_id=CID), "every refusal is audited"
    await assert_still_serving(client, runtime)


@pytest.mark.parametrize("kind", ["no_call", "empty_args", "log_without_result"])
async def test_edge_refusals_are_audited(host: HostHandle, client: GridClient, kind: str) -> None:
    session = await client.session()
    if kind == "log_without_result":
        response = await client.log(session, "inv-x", None, correlation_id=CID)
        assert response.error.type == "MALFORMED_REQUEST"
    else:
        error = await _call_tool(client, session, CALL_CASES[kind].call)
        assert error.type == "MALFORMED_REQUEST"
    assert events(host, correlation_id=CID)


@pytest.mark.parametrize("rpc", sorted(CALL_RPCS))
async def test_bad_call_input_args_nested_deeper_than_canonical_json_allows(
    host: HostHandle, client: GridClient, runtime: ScriptedRuntime, rpc: str
) -> None:
    session = await client.session()
    error = await CALL_RPCS[rpc](client, session, DEEP_CASE.call)
    assert_error(error, DEEP_CASE.code, retry=False, correlation_id=CID)
    assert runtime.calls == []


@pytest.mark.parametrize("rpc", sorted(CALL_RPCS))
@pytest.mark.parametrize("session_id", ["", "sess-unknown", "s\x00\n" + "x" * 10_000])
async def test_bad_session_on_call_rpcs_invalid_session(
    client: GridClient, runtime: ScriptedRuntime, rpc: str, session_id: str
) -> None:
    error = await CALL_RPCS[rpc](client, session_id, fc("add", {"a": 1, "b": 2}))
    assert_error(error, "INVALID_SESSION", retry=False, correlation_id=CID)
    assert len(error.session_id) <= 128
    assert runtime.calls == []
    await assert_still_serving(client, runtime)


async def test_requested_timeout_beyond_uint_range_is_capped_not_refused(
    client: GridClient, runtime: ScriptedRuntime
) -> None:
    session = await client.session()
    answer = await client.call(session, fc("add", {"a": 1, "b": 2}), timeout_ms=2**64 - 1)
    assert answer.WhichOneof("outcome") == "result"
    assert runtime.calls[0].timeout_ms == FAST_LIMITS.max_timeout_ms


# ----------------------------------------------------------------------------- sessions


async def test_create_session_ignores_asserted_identity_and_caps_ttl(
    host: HostHandle, client: GridClient, runtime: ScriptedRuntime
) -> None:
    response = await client.stub.CreateSession(
        grid_pb2.CreateSession(
            suggested_session_id="\x00" * 300,
            ttl_seconds=2**64 - 1,
            metadata={"k" * 100: "v" * 1000},
            security_context=grid_pb2.SecurityContext(
                principal_id="spiffe://aesp.local/tenant/acme/client/acme-client",
                tenant_id="acme",
                claims={"role": "admin"},
            ),
        )
    )
    assert not response.HasField("error")
    assert response.session_id.startswith("sess-")
    assert response.expires_at_ms > 0
    [created] = events(host, "SESSION_CREATE", session_id=response.session_id)
    assert created.tenant_id == "default"  # the certificate's tenant, not the asserted one
    acme = GridClient(host.client_target, host.client_pem("acme-client"))
    refused = await acme.call(response.session_id, fc("add", {"a": 1, "b": 2}))
    assert_error(
        refused.error, "TENANT_ACCESS_DENIED", retry=False, correlation_id=acme.last_correlation_id
    )
    await acme.close()
    assert runtime.calls == []
    await assert_still_serving(client, runtime)


@pytest.mark.parametrize(
    ("session_id", "code"),
    [
        ("", "INVALID_SESSION"),
        ("sess-unknown", "INVALID_SESSION"),
        ("\x00" * 5000, "INVALID_SESSION"),
    ],
)
async def test_destroy_session_bad_ids(
    client: GridClient, runtime: ScriptedRuntime, session_id: str, code: str
) -> None:
    response = await client.stub.DestroySession(grid_pb2.DestroySession(session_id=session_id))
    assert response.destroyed is False
    assert_error(response.error, code, retry=False)  # DestroySession has no correlation field
    assert HOST_CORRELATION.match(response.error.correlation_id)
    assert len(response.error.session_id) <= 128
    await assert_still_serving(client, runtime)


async def test_destroy_session_of_another_principal_is_denied_and_session_survives(
    host: HostHandle, client: GridClient, runtime: ScriptedRuntime
) -> None:
    session = await client.session()
    other = GridClient(host.client_target, host.client_pem("other"))
    response = await other.stub.DestroySession(
        grid_pb2.DestroySession(session_id=session, force=True)
    )
    assert response.destroyed is False
    assert_error(response.error, "PERMISSION_DENIED", retry=False)
    assert HOST_CORRELATION.match(response.error.correlation_id)
    await other.close()
    answer = await client.call(session, fc("add", {"a": 1, "b": 2}))
    assert answer.WhichOneof("outcome") == "result"


@pytest.mark.parametrize("session_id", ["", "sess-unknown", "\x7f" * 3000])
async def test_list_tools_bad_session(
    client: GridClient, runtime: ScriptedRuntime, session_id: str
) -> None:
    response = await client.stub.ListTools(
        host_pb2.ListToolsRequest(session_id=session_id, correlation_id=CID)
    )
    assert list(response.tools) == []
    assert response.correlation_id == CID
    assert_error(response.error, "INVALID_SESSION", retry=False, correlation_id=CID)
    await assert_still_serving(client, runtime)


# ----------------------------------------------------------------------------- LogToolResult


async def test_log_tool_result_bad_inputs(
    host: HostHandle, client: GridClient, runtime: ScriptedRuntime
) -> None:
    session = await client.session()
    call = fc("add", {"a": 1, "b": 2})
    auth = await client.authorize(session, call)
    digest = auth.execution_context["args_sha256"]
    cases = {
        "no_result": (session, auth.invocation_id, None, digest, "MALFORMED_REQUEST"),
        "no_invocation_id": (session, "", success(call, b"3"), digest, "PROTOCOL_VIOLATION"),
        "huge_invocation_id": (
            session,
            "i" * 50_000,
            success(call, b"3"),
            digest,
            "PROTOCOL_VIOLATION",
        ),
        "unknown_session": (
            "sess-x",
            auth.invocation_id,
            success(call, b"3"),
            digest,
            "INVALID_SESSION",
        ),
        "no_session": ("", auth.invocation_id, success(call, b"3"), digest, "INVALID_SESSION"),
    }
    for name, (sid, inv, result, sha, code) in cases.items():
        response = await client.log(sid, inv, result, args_sha256=sha, correlation_id=CID)
        assert response.status == grid_pb2.LogToolResultResponse.REJECTED, name
        assert response.correlation_id == CID
        assert_error(response.error, code, retry=False, correlation_id=CID)
    # None of the refusals consumed the authorisation.
    logged = await client.log(session, auth.invocation_id, success(call, b"3"), args_sha256=digest)
    assert logged.status == grid_pb2.LogToolResultResponse.LOGGED
    assert runtime.calls == []
    await assert_still_serving(client, runtime)


# ----------------------------------------------------------------------------- transport level


def _oversized(rpc: str) -> Any:
    blob = "x" * OVER_GRPC_LIMIT
    return {
        "CreateSession": grid_pb2.CreateSession(metadata={"k": blob}),
        "DestroySession": grid_pb2.DestroySession(session_id=blob),
        "ListTools": host_pb2.ListToolsRequest(session_id=blob),
        "CallTool": grid_pb2.ToolCall(session_id="s", call=_case_call(args=blob.encode())),
        "CallToolStream": grid_pb2.ToolCall(session_id="s", call=_case_call(args=blob.encode())),
        "AuthorizeToolCall": grid_pb2.AuthorizeToolCallRequest(call=_case_call(args=blob.encode())),
        "LogToolResult": grid_pb2.LogToolResultRequest(invocation_id=blob),
    }[rpc]


CLIENT_RPCS = [
    "AuthorizeToolCall",
    "CallTool",
    "CallToolStream",
    "CreateSession",
    "DestroySession",
    "ListTools",
    "LogToolResult",
]


async def _invoke(client: GridClient, rpc: str, request: Any) -> Any:
    method = getattr(client.stub, rpc)
    if rpc == "CallToolStream":
        return [c async for c in method(request, timeout=5)]
    return await method(request, timeout=5)


@pytest.mark.parametrize("rpc", CLIENT_RPCS)
async def test_message_over_grpc_limit_resource_exhausted(
    client: GridClient, runtime: ScriptedRuntime, rpc: str
) -> None:
    with pytest.raises(grpc.aio.AioRpcError, match="larger than max") as info:
        await _invoke(client, rpc, _oversized(rpc))
    assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert runtime.calls == []
    await assert_still_serving(client, runtime)


UNDECODABLE = b"\xff\xff\xff\xff\x0f"  # not a protobuf message of any type


def _raw(client: GridClient, rpc: str) -> Any:
    path = f"/altar.aesp.v1.GridClientService/{rpc}"
    if rpc == "CallToolStream":
        return client.channel.unary_stream(path)
    return client.channel.unary_unary(path)


@pytest.mark.parametrize("rpc", CLIENT_RPCS)
async def test_undecodable_request_is_refused_and_host_survives(
    client: GridClient, runtime: ScriptedRuntime, rpc: str
) -> None:
    method = _raw(client, rpc)
    with pytest.raises(
        grpc.aio.AioRpcError, match="SERIALIZATION_ERROR|DecodeError|parse|decode"
    ) as info:
        if rpc == "CallToolStream":
            _ = [c async for c in method(UNDECODABLE, timeout=5)]
        else:
            await method(UNDECODABLE, timeout=5)
    assert info.value.code() != grpc.StatusCode.OK
    assert runtime.calls == []
    await assert_still_serving(client, runtime)


async def test_undecodable_request_gets_a_precise_status(client: GridClient) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await _raw(client, "CallTool")(UNDECODABLE, timeout=5)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    trailers = dict(info.value.trailing_metadata() or ())
    assert trailers.get("aesp-error-code") in {"SERIALIZATION_ERROR", "MALFORMED_REQUEST"}


async def test_wrong_message_type_on_call_tool_is_read_as_garbage_fields(
    client: GridClient, runtime: ScriptedRuntime
) -> None:
    """A well-formed message of another type decodes as unknown fields: the Host refuses it."""
    foreign = grid_pb2.CapabilityUpdate(runtime_id="x", new_features=["a"], reason="y")
    response = host_pb2.ToolCallResponse.FromString(
        await _raw(client, "CallTool")(foreign.SerializeToString(), timeout=5)
    )
    assert response.WhichOneof("outcome") == "error"
    assert response.error.type in REGISTRY
    assert runtime.calls == []
    assert json.dumps(str(response.error))  # printable
