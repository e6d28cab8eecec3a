"""Bad input on every runtime RPC: AnnounceRuntime, FulfillTools, RegisterTools,
UpdateCapabilities and the Connect work stream. A precise error, no crash, nothing dispatched,
and the Host still serves a good runtime and a good call afterwards.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import grpc
import grpc.aio
import pytest

from aesp.proto.altar.adm.v1 import adm_pb2
from aesp.proto.altar.aesp.v1 import host_pb2
from aesp.proto.altar.grid.v1 import grid_pb2
from aesp.testing.harness import HostHandle
from tests.e2e.grid._grid import (
    FAST_LIMITS,
    GridClient,
    assert_error,
    events,
    eventually,
    fc,
)
from tests.e2e.scripted_runtime import ScriptedRuntime, never

ERROR_TRAILER = "aesp-error-code"
OVER_GRPC_LIMIT = FAST_LIMITS.max_message_bytes * 2 + 1024


def trailer(error: grpc.aio.AioRpcError) -> str | None:
    return dict(error.trailing_metadata() or ()).get(ERROR_TRAILER)


async def assert_host_serves(host: HostHandle, client: GridClient) -> None:
    """A fresh, honest runtime can connect and serve a call."""
    async with ScriptedRuntime(
        host.runtime_target, host.runtime_pem("second"), runtime_id=f"fresh-{id(client)}"
    ) as fresh:
        await fresh.start(["add"])
        session = await client.session()
        answer = await client.call(session, fc("add", {"a": 1, "b": 2}))
        assert answer.WhichOneof("outcome") == "result", answer.error
        assert len(fresh.calls) == 1


# ----------------------------------------------------------------------------- AnnounceRuntime

ANNOUNCE_CASES = {
    "empty_runtime_id": ({"runtime_id": ""}, grpc.StatusCode.INVALID_ARGUMENT, "MALFORMED_REQUEST"),
    "runtime_id_with_space": (
        {"runtime_id": "my runtime"},
        grpc.StatusCode.INVALID_ARGUMENT,
        "MALFORMED_REQUEST",
    ),
    "runtime_id_control_chars": (
        {"runtime_id": "rt\x00\n"},
        grpc.StatusCode.INVALID_ARGUMENT,
        "MALFORMED_REQUEST",
    ),
    "runtime_id_too_long": (
        {"runtime_id": "r" * 129},
        grpc.StatusCode.INVALID_ARGUMENT,
        "MALFORMED_REQUEST",
    ),
    "runtime_id_non_ascii": (
        {"runtime_id": "rt-é"},
        grpc.StatusCode.INVALID_ARGUMENT,
        "MALFORMED_REQUEST",
    ),
    "lying_spiffe_id": (
        {"spiffe_id": "spiffe://aesp.local/tenant/default/runtime/admin"},
        grpc.StatusCode.UNAUTHENTICATED,
        "CERTIFICATE_INVALID",
    ),
    "lying_fingerprint": (
        {"fingerprint": "ab" * 32},
        grpc.StatusCode.UNAUTHENTICATED,
        "CERTIFICATE_INVALID",
    ),
    "lying_tenant": (
        {"tenant_id": "acme"},
        grpc.StatusCode.PERMISSION_DENIED,
        "TENANT_ACCESS_DENIED",
    ),
}


ANNOUNCE_MESSAGES = {
    "MALFORMED_REQUEST": "runtime_id must be",
    "CERTIFICATE_INVALID": "certificate",
    "TENANT_ACCESS_DENIED": "tenant",
}


@pytest.mark.parametrize("kind", sorted(ANNOUNCE_CASES))
async def test_bad_announce_refused_with_status_and_code(
    host: HostHandle, client: GridClient, kind: str
) -> None:
    lies, status, code = ANNOUNCE_CASES[kind]
    async with ScriptedRuntime(host.runtime_target, host.runtime_pem("example")) as rt:
        with pytest.raises(grpc.aio.AioRpcError, match=ANNOUNCE_MESSAGES[code]) as info:
            await rt.announce(correlation_id="wf-ann", **lies)
        assert info.value.code() == status
        assert trailer(info.value) == code
        assert info.value.details()
    [denied] = events(host, "RUNTIME_CONNECT", outcome="DENIED")
    assert denied.metadata["code"] == code
    assert denied.correlation_id == "wf-ann"
    assert host.running.host.runtimes.connections() == []
    await assert_host_serves(host, client)


async def test_client_certificate_cannot_announce_as_runtime(
    host: HostHandle, client: GridClient
) -> None:
    async with ScriptedRuntime(host.runtime_target, host.client_pem("demo")) as rt:
        with pytest.raises(grpc.aio.AioRpcError, match="not a runtime") as info:
            await rt.announce()
        assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert trailer(info.value) == "CERTIFICATE_INVALID"
    await assert_host_serves(host, client)


async def test_announce_with_odd_but_harmless_fields_is_accepted(
    host: HostHandle, client: GridClient
) -> None:
    async with ScriptedRuntime(
        host.runtime_target,
        host.runtime_pem("example"),
        compliance_level=99,
        capabilities=["streaming", "x" * 5000, ""],
        declared_contracts=["add", "nope@>=1", "\x00"],
    ) as rt:
        announced = await rt.announce()
        assert announced.negotiated_level == grid_pb2.LEVEL_3_ENTERPRISE  # min(Host, 99)
        assert list(announced.available_contracts) == ["add"]
        assert announced.feature_config["ignored_declared_contracts"]
        assert set(announced.enabled_features) <= {
            "streaming",
            "heartbeat",
            "cancellation",
            "local-dispatch",
        }
    await assert_host_serves(host, client)


# ----------------------------------------------------------------------------- FulfillTools


async def test_fulfil_before_announce_is_protocol_violation(
    host: HostHandle, client: GridClient
) -> None:
    async with ScriptedRuntime(host.runtime_target, host.runtime_pem("example")) as rt:
        response = await rt.fulfil(["add"])
        assert response.status == grid_pb2.FulfillToolsResponse.FAILURE
        [error] = response.errors
        assert_error(
            error, "PROTOCOL_VIOLATION", retry=False, correlation_id=response.correlation_id
        )
    await assert_host_serves(host, client)


async def test_fulfil_bad_inputs(host: HostHandle, client: GridClient) -> None:
    Fulfil = grid_pb2.FulfillToolsResponse
    async with ScriptedRuntime(host.runtime_target, host.runtime_pem("example")) as rt:
        await rt.announce()
        await rt.connect()
        empty = await rt.fulfil([])
        # C-15: nothing fulfilled is never SUCCESS.
        assert empty.status == Fulfil.FAILURE and list(empty.fulfilled_tools) == []
        huge = await rt.fulfil(["n" * 10_000, "add\x00"])
        assert huge.status == Fulfil.FAILURE
        assert [e.type for e in huge.errors] == ["UNSUPPORTED_TOOL", "UNSUPPORTED_TOOL"]
        assert all(len(e.tool_name) <= 64 for e in huge.errors)
        garbage_session = await rt.fulfil(["add"], session_id="\x00" * 1000)
        assert garbage_session.errors[0].type == "INVALID_SESSION"
        no_runtime = await rt.fulfil(["add"], runtime_id="")
        assert no_runtime.errors[0].type == "PROTOCOL_VIOLATION"
        session = await client.session()
        refused = await client.call(session, fc("add", {"a": 1, "b": 2}))
        assert_error(
            refused.error,
            "UNSUPPORTED_TOOL",
            retry=False,
            correlation_id=client.last_correlation_id,
        )
        assert rt.calls == []
    await assert_host_serves(host, client)


async def test_fulfil_over_grpc_limit_resource_exhausted(
    host: HostHandle, client: GridClient
) -> None:
    async with ScriptedRuntime(host.runtime_target, host.runtime_pem("example")) as rt:
        await rt.announce()
        with pytest.raises(grpc.aio.AioRpcError, match="larger than max") as info:
            await rt.fulfil(["x" * OVER_GRPC_LIMIT])
        assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    await assert_host_serves(host, client)


# ----------------------------------------------------------------------------- RegisterTools


def _tool(*decls: adm_pb2.FunctionDeclaration) -> adm_pb2.Tool:
    return adm_pb2.Tool(function_declarations=list(decls))


def _decl(name: str = "dyn", parameters: bytes = b'{"type":"OBJECT","properties":{}}') -> Any:
    return adm_pb2.FunctionDeclaration(name=name, description="A tool.", parameters=parameters)


async def test_register_tools_bad_inputs_in_development_mode(dev_host: HostHandle) -> None:
    Register = grid_pb2.RegisterToolsResponse
    client = GridClient(dev_host.client_target, dev_host.client_pem("demo"))
    session = await client.session()
    deep = b'{"type":"OBJECT","properties":{"x":' * 120 + b'{"type":"STRING"}' + b"}}" * 120
    async with ScriptedRuntime(dev_host.runtime_target, dev_host.runtime_pem("example")) as rt:
        await rt.announce()
        await rt.connect()
        cases = {
            "no_tools": ([], session, None, []),
            "no_declarations": ([_tool()], session, None, ["SCHEMA_VIOLATION"]),
            "duplicate_declarations": (
                [_tool(_decl("d"), _decl("d"))],
                session,
                None,
                ["SCHEMA_VIOLATION"],
            ),
            "parameters_not_json": (
                [_tool(_decl(parameters=b"\xff{"))],
                session,
                None,
                ["SCHEMA_VIOLATION"],
            ),
            "parameters_deep": ([_tool(_decl("deep", deep))], session, None, ["SCHEMA_VIOLATION"]),
            "name_huge": ([_tool(_decl("n" * 5000))], session, None, ["SCHEMA_VIOLATION"]),
            "unknown_session": ([_tool(_decl())], "sess-x", None, ["INVALID_SESSION"]),
            "no_session": ([_tool(_decl())], "", None, ["INVALID_SESSION"]),
            "unknown_runtime": ([_tool(_decl())], session, "ghost", ["PROTOCOL_VIOLATION"]),
        }
        for kind, (tools, sid, runtime_id, codes) in cases.items():
            response = await rt.register(tools, session_id=sid, runtime_id=runtime_id)
            assert response.status == Register.FAILURE, kind
            assert list(response.accepted_tools) == [], kind
            assert [e.type for e in response.errors] == codes, (kind, response.errors)
            assert len(response.rejected_tools) == len(codes)
        listed = await client.stub.ListTools(host_pb2.ListToolsRequest(session_id=session))
        assert "dyn" not in {t.name for t in listed.tools}
    assert len(events(dev_host, "TOOL_REGISTRATION")) == len(cases)
    await assert_host_serves(dev_host, client)
    await client.close()


# ----------------------------------------------------------------------------- UpdateCapabilities


async def test_update_capabilities_garbage_features_rejected_one_error_each(
    host: HostHandle, client: GridClient, runtime: ScriptedRuntime
) -> None:
    garbage = ["", "\x00", "x" * 3000, *(f"f{i}" for i in range(200))]
    response = await runtime.update_capabilities(garbage)
    assert response.status == grid_pb2.CapabilityUpdateResponse.REJECTED
    assert list(response.rejected_features) == garbage
    assert len(response.errors) == len(garbage)
    assert {e.type for e in response.errors} == {"FEATURE_UNAVAILABLE"}
    session = await client.session()
    answer = await client.call(session, fc("add", {"a": 1, "b": 2}))
    assert answer.WhichOneof("outcome") == "result"


# ----------------------------------------------------------------------------- Connect


async def _refused_connect(
    rt: ScriptedRuntime, first: host_pb2.RuntimeMessage | None
) -> grpc.aio.AioRpcError:
    stream = rt.stub.Connect()
    if first is not None:
        await stream.write(first)
    await stream.done_writing()
    with pytest.raises(grpc.aio.AioRpcError, match="'open'|connection id|work stream") as info:
        async for _ in stream:
            pass
        await stream
    return info.value


async def test_connect_protocol_violations(host: HostHandle, client: GridClient) -> None:
    async with (
        ScriptedRuntime(host.runtime_target, host.runtime_pem("example")) as rt,
        ScriptedRuntime(
            host.runtime_target, host.runtime_pem("second"), runtime_id="other"
        ) as other,
    ):
        announced = await rt.announce()
        other_conn = (await other.announce()).connection_id

        def opening(connection_id: str) -> host_pb2.RuntimeMessage:
            return host_pb2.RuntimeMessage(
                open=host_pb2.ConnectOpen(connection_id=connection_id, runtime_id=rt.runtime_id)
            )

        cases = {
            "no_messages": None,
            "heartbeat_first": host_pb2.RuntimeMessage(heartbeat=grid_pb2.Heartbeat()),
            "empty_message_first": host_pb2.RuntimeMessage(),
            "unknown_connection": opening("conn-made-up"),
            "garbage_connection": opening("\x00" * 4000),
            "another_certificates_connection": opening(other_conn),
        }
        for kind, first in cases.items():
            error = await _refused_connect(rt, first)
            assert error.code() == grpc.StatusCode.FAILED_PRECONDITION, kind
            assert trailer(error) == "PROTOCOL_VIOLATION", kind
        # The announced connection is still usable, once.
        await rt.connect(connection_id=announced.connection_id)
        second = await _refused_connect(rt, opening(announced.connection_id))
        assert trailer(second) == "PROTOCOL_VIOLATION"
        await rt.fulfil(["add"])
        session = await client.session()
        answer = await client.call(session, fc("add", {"a": 1, "b": 2}))
        assert answer.WhichOneof("outcome") == "result"


async def test_connect_stray_messages_are_dropped_and_stream_survives(
    host: HostHandle, client: GridClient, runtime: ScriptedRuntime
) -> None:
    await runtime.send(host_pb2.RuntimeMessage())
    await runtime.send(
        host_pb2.RuntimeMessage(open=host_pb2.ConnectOpen(connection_id="conn-x", runtime_id="y"))
    )
    await runtime.send(
        host_pb2.RuntimeMessage(chunk=grid_pb2.StreamChunk(invocation_id="inv-x", chunk_id=7))
    )
    await runtime.send_result(invocation_id="\x00" * 3000, call_id="c", name="add")
    await runtime.send(host_pb2.RuntimeMessage(result=grid_pb2.ToolResult()))
    violations = await eventually(
        lambda: len(events(host, "SECURITY_VIOLATION")) >= 3 and events(host, "SECURITY_VIOLATION")
    )
    assert all(len(v.metadata["invocation_id"]) <= 128 for v in violations)
    assert not runtime.closed.is_set()
    session = await client.session()
    answer = await client.call(session, fc("add", {"a": 1, "b": 2}))
    assert answer.WhichOneof("outcome") == "result"


async def test_connect_message_over_grpc_limit_drops_runtime_and_fails_its_call(
    host: HostHandle, client: GridClient, runtime: ScriptedRuntime
) -> None:
    runtime.on("echo", never())
    session = await client.session()
    call = asyncio.create_task(client.call(session, fc("echo", {"text": "x"})))
    [received] = await runtime.wait_calls(1)
    await runtime.send_result(received, content=json.dumps("x" * OVER_GRPC_LIMIT).encode())
    answer = await asyncio.wait_for(call, 3)
    assert_error(
        answer.error, "CONNECTION_FAILED", retry=True, correlation_id=client.last_correlation_id
    )
    await runtime.wait_closed(3)
    await assert_host_serves(host, client)
