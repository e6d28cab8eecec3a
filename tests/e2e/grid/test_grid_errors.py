"""EnhancedError shape, correlation ids and retry rules (checklist 104-108; C-8, C-14)."""

from __future__ import annotations

import pytest

from aesp.proto.altar.aesp.v1 import host_pb2
from aesp.proto.altar.grid.v1 import grid_pb2
from aesp.testing.harness import HostHandle
from tests.e2e.grid._grid import (
    HOST_CORRELATION,
    GridClient,
    assert_error,
    events,
    fc,
    success,
)
from tests.e2e.scripted_runtime import Chunk, ScriptedRuntime, chunks

CID = "client-1691568000-a7b9c3d2"


# ----------------------------------------------------------------------------- item 104


async def test_item_104_every_client_rpc_refusal_is_a_full_enhanced_error(
    host: HostHandle, client: GridClient, runtime: ScriptedRuntime
) -> None:
    bad = "sess-unknown"
    call = fc("add", {"a": 1, "b": 2})
    refusals = [
        (await client.call(bad, call, correlation_id=CID)).error,
        (await client.stream(bad, call, correlation_id=CID))[-1].enhanced_error,
        (await client.authorize(bad, call, correlation_id=CID)).error,
        (await client.log(bad, "inv-x", success(call, b"3"), correlation_id=CID)).error,
        (
            await client.stub.ListTools(
                host_pb2.ListToolsRequest(session_id=bad, correlation_id=CID)
            )
        ).error,
    ]
    for error in refusals:
        assert_error(error, "INVALID_SESSION", retry=False, correlation_id=CID)
        assert error.category == grid_pb2.VALIDATION
        assert error.severity == grid_pb2.ERROR
        assert error.tenant_id == "default"
        assert error.principal_id.endswith("/client/demo")
    destroyed = await client.stub.DestroySession(grid_pb2.DestroySession(session_id=bad))
    assert_error(destroyed.error, "INVALID_SESSION", retry=False)
    assert HOST_CORRELATION.match(destroyed.error.correlation_id)  # no correlation field to echo
    assert runtime.calls == []


# ----------------------------------------------------------------------------- items 105-106


async def test_item_105_client_correlation_id_travels_unchanged_everywhere(
    host: HostHandle, client: GridClient, runtime: ScriptedRuntime
) -> None:
    session = await client.session()
    answer = await client.call(session, fc("add", {"a": 1, "b": 2}), correlation_id=CID)
    assert answer.result.correlation_id == CID
    [received] = runtime.calls
    assert received.correlation_id == CID
    runtime.on("count", chunks([Chunk(0), Chunk(1, is_final=True)]))
    streamed = await client.stream(session, fc("count", {"n": 2}), correlation_id=CID)
    assert {c.correlation_id for c in streamed} == {CID}
    assert runtime.calls[1].correlation_id == CID
    authorized = await client.authorize(session, fc("add", {"a": 1, "b": 2}), correlation_id=CID)
    assert authorized.correlation_id == CID
    listed = await client.stub.ListTools(
        host_pb2.ListToolsRequest(session_id=session, correlation_id=CID)
    )
    assert listed.correlation_id == CID
    # Every audit record of these calls carries it.
    records = [
        e for e in events(host) if e.session_id == session and e.event_type != "SESSION_CREATE"
    ]
    assert {e.event_type for e in records} >= {
        "TOOL_INVOCATION_START",
        "TOOL_INVOCATION_COMPLETE",
        "AUTHORIZATION_SUCCESS",
    }
    assert {e.correlation_id for e in records} == {CID}


async def test_item_105_runtime_handshake_correlation_id_echoed(
    host: HostHandle,
) -> None:
    async with ScriptedRuntime(host.runtime_target, host.runtime_pem("example")) as rt:
        announced = await rt.announce(correlation_id=CID)
        assert announced.correlation_id == CID
        await rt.connect()
        fulfilled = await rt.fulfil(["add"], correlation_id=CID)
        assert fulfilled.correlation_id == CID
    assert {e.correlation_id for e in events(host, "RUNTIME_CONNECT")} == {CID}
    assert {e.correlation_id for e in events(host, "CONTRACT_FULFILL")} == {CID}


GARBAGE_CORRELATION = {
    "omitted": "",
    "control_characters": "wf-\n\x00-1",
    "space": "wf 1",
    "too_long": "x" * 129,
    "non_ascii": "wf-é",
}


@pytest.mark.parametrize("kind", sorted(GARBAGE_CORRELATION))
async def test_item_106_missing_or_garbage_correlation_id_is_generated(
    host: HostHandle, client: GridClient, runtime: ScriptedRuntime, kind: str
) -> None:
    session = await client.session()
    answer = await client.call(
        session, fc("add", {"a": 1, "b": 2}), correlation_id=GARBAGE_CORRELATION[kind]
    )
    generated = answer.result.correlation_id
    assert HOST_CORRELATION.match(generated), generated
    assert runtime.calls[0].correlation_id == generated
    records = events(host, "TOOL_INVOCATION_START", session_id=session)
    assert [e.correlation_id for e in records] == [generated]
    refused = await client.call(
        session, fc("add", {"a": "x"}), correlation_id=GARBAGE_CORRELATION[kind]
    )
    assert HOST_CORRELATION.match(refused.error.correlation_id)
    assert refused.error.correlation_id != generated


# ----------------------------------------------------------------------------- item 108


async def test_item_108_caller_mistakes_are_not_retryable(
    host: HostHandle, client: GridClient, runtime: ScriptedRuntime
) -> None:
    session = await client.session()
    other = GridClient(host.client_target, host.client_pem("other"))
    cases = {
        "PERMISSION_DENIED": (
            await other.call(session, fc("add", {"a": 1, "b": 2}), correlation_id="wf-108-p")
        ).error,
        "SCHEMA_VIOLATION": (
            await client.call(session, fc("add", {"a": 1}), correlation_id="wf-108-s")
        ).error,
        "UNSUPPORTED_TOOL": (
            await client.call(session, fc("nope", {}), correlation_id="wf-108-u")
        ).error,
    }
    cids = {
        "PERMISSION_DENIED": "wf-108-p",
        "SCHEMA_VIOLATION": "wf-108-s",
        "UNSUPPORTED_TOOL": "wf-108-u",
    }
    for code, error in cases.items():
        assert_error(error, code, retry=False, correlation_id=cids[code])
        assert error.retry_after_ms == 0
    # INVALID_TOOL_ARGS is an alias (C-14): the Host emits only the canonical SCHEMA_VIOLATION.
    assert all(e.type != "INVALID_TOOL_ARGS" for e in cases.values())
    assert runtime.calls == []
    await other.close()
