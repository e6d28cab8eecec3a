"""Handshake, fulfilment, sessions and capability updates (checklist 75, 77-84, 112; C-46)."""

from __future__ import annotations

import asyncio
import time

from aesp.proto.altar.aesp.v1 import host_pb2
from aesp.proto.altar.grid.v1 import grid_pb2
from aesp.testing.harness import HostHandle
from tests.e2e.grid._grid import (
    HOST_CORRELATION,
    MANIFEST_NAMES,
    GridClient,
    assert_error,
    events,
    fc,
)
from tests.e2e.scripted_runtime import ScriptedRuntime, never, reply

Fulfil = grid_pb2.FulfillToolsResponse
Capability = grid_pb2.CapabilityUpdateResponse


# ----------------------------------------------------------------------------- item 75


async def test_item_075_announce_returns_connection_id_and_manifest_contracts(
    host: HostHandle,
) -> None:
    async with ScriptedRuntime(host.runtime_target, host.runtime_pem("example")) as rt:
        response = await rt.announce(correlation_id="wf-75")
        assert response.connection_id
        assert sorted(response.available_contracts) == MANIFEST_NAMES
        assert response.correlation_id == "wf-75"
        other = await rt.announce()
        assert other.connection_id != response.connection_id
    [audit, _] = events(host, "RUNTIME_CONNECT")
    assert audit.outcome == "SUCCESS"
    assert audit.correlation_id == "wf-75"
    assert audit.metadata["connection_id"] == response.connection_id


# ----------------------------------------------------------------------------- item 77


async def test_item_077_runtime_without_compliance_level_is_level_1(
    host: HostHandle, client: GridClient
) -> None:
    async with ScriptedRuntime(
        host.runtime_target, host.runtime_pem("example"), compliance_level=None
    ) as rt:
        response = await rt.announce()
        assert response.negotiated_level == grid_pb2.LEVEL_1_CORE
        assert "streaming" not in response.enabled_features
        await rt.connect()
        await rt.fulfil(["count", "add"])
        session = await client.session()
        # Level-1 behaviour still works; Level-2 streaming is switched off for this runtime.
        answer = await client.call(session, fc("add", {"a": 1, "b": 1}))
        assert answer.WhichOneof("outcome") == "result"
        [refusal] = await client.stream(session, fc("count", {"n": 2}))
        assert_error(
            refusal.enhanced_error,
            "FEATURE_UNAVAILABLE",
            retry=False,
            correlation_id=client.last_correlation_id,
        )
        assert [c.call.name for c in rt.calls] == ["add"]


# ----------------------------------------------------------------------------- items 78-80


async def test_item_078_fulfil_for_unknown_session_fails_invalid_session(
    host: HostHandle, runtime: ScriptedRuntime
) -> None:
    response = await runtime.fulfil(["add", "echo"], session_id="sess-nope", correlation_id="wf-78")
    assert response.status == Fulfil.FAILURE
    assert list(response.fulfilled_tools) == []
    assert list(response.rejected_tools) == ["add", "echo"]
    for error in response.errors:
        assert_error(error, "INVALID_SESSION", retry=False, correlation_id="wf-78")
    [audit] = events(host, "CONTRACT_FULFILL_REJECTED")
    assert audit.correlation_id == "wf-78"


async def test_item_079_fulfil_checks_runtime_is_authorised_per_tool(
    host: HostHandle, client: GridClient
) -> None:
    # The runtime declared only `add`: it is not authorised to fulfil `echo` (C-53).
    async with ScriptedRuntime(
        host.runtime_target, host.runtime_pem("example"), declared_contracts=["add"]
    ) as rt:
        announced = await rt.announce()
        assert list(announced.available_contracts) == ["add"]
        await rt.connect()
        response = await rt.fulfil(["add", "echo"])
        assert response.status == Fulfil.PARTIAL_SUCCESS
        assert list(response.fulfilled_tools) == ["add"]
        [error] = response.errors
        assert_error(error, "UNSUPPORTED_TOOL", retry=False, correlation_id=response.correlation_id)
        session = await client.session()
        refused = await client.call(session, fc("echo", {"text": "x"}))
        assert_error(
            refused.error,
            "UNSUPPORTED_TOOL",
            retry=False,
            correlation_id=client.last_correlation_id,
        )
        assert rt.calls == []


async def test_item_079_runtime_cannot_fulfil_another_tenants_session(
    host: HostHandle, client: GridClient
) -> None:
    session = await client.session()  # tenant "default"
    async with ScriptedRuntime(
        host.runtime_target, host.runtime_pem("acme-rt"), runtime_id="acme-1"
    ) as rt:
        await rt.announce()
        await rt.connect()
        response = await rt.fulfil(["add"], session_id=session)
        assert response.status == Fulfil.FAILURE
        [error] = response.errors
        assert_error(
            error, "TENANT_ACCESS_DENIED", retry=False, correlation_id=response.correlation_id
        )
        refused = await client.call(session, fc("add", {"a": 1, "b": 2}))
        assert_error(
            refused.error,
            "UNSUPPORTED_TOOL",
            retry=False,
            correlation_id=client.last_correlation_id,
        )
        assert rt.calls == []


async def test_item_080_fulfil_with_runtime_id_of_no_announced_connection_is_protocol_violation(
    host: HostHandle, client: GridClient
) -> None:
    async with ScriptedRuntime(host.runtime_target, host.runtime_pem("example")) as rt:
        await rt.announce()
        await rt.connect()
        response = await rt.fulfil(["add"], runtime_id="somebody-else", correlation_id="wf-80")
        assert response.status == Fulfil.FAILURE
        [error] = response.errors
        assert_error(error, "PROTOCOL_VIOLATION", retry=False, correlation_id="wf-80")
    # A runtime id announced by *another certificate* is just as foreign.
    async with ScriptedRuntime(
        host.runtime_target, host.runtime_pem("second"), runtime_id="second-1"
    ) as thief:
        await thief.announce()
        response = await thief.fulfil(["add"], runtime_id="scripted-1")
        assert response.status == Fulfil.FAILURE
        assert response.errors[0].type == "PROTOCOL_VIOLATION"


# ----------------------------------------------------------------------------- items 81-84


async def test_item_081_create_session_returns_host_assigned_id(
    client: GridClient, runtime: ScriptedRuntime
) -> None:
    before = int(time.time() * 1000)
    first = await client.stub.CreateSession(
        grid_pb2.CreateSession(suggested_session_id="my-session", ttl_seconds=60)
    )
    second = await client.stub.CreateSession(
        grid_pb2.CreateSession(suggested_session_id="my-session", ttl_seconds=60)
    )
    assert not first.HasField("error")
    assert first.session_id and second.session_id
    assert first.session_id != second.session_id  # the Host may (and here does) override
    assert before + 59_000 <= first.expires_at_ms <= before + 61_000 + 5_000
    answer = await client.call(first.session_id, fc("add", {"a": 1, "b": 2}))
    assert answer.WhichOneof("outcome") == "result"


async def test_item_082_calls_after_ttl_fail_session_expired(
    host: HostHandle, client: GridClient, runtime: ScriptedRuntime
) -> None:
    session = await client.session(ttl_seconds=1)
    await asyncio.sleep(1.05)
    refused = await client.call(session, fc("add", {"a": 1, "b": 2}), correlation_id="wf-82")
    assert_error(refused.error, "SESSION_EXPIRED", retry=True, correlation_id="wf-82")
    assert runtime.calls == []
    assert events(host, "SESSION_EXPIRE", session_id=session)


async def test_item_083_destroy_without_force_refuses_while_invocations_active(
    host: HostHandle, client: GridClient, runtime: ScriptedRuntime
) -> None:
    runtime.on("add", reply(lambda a: a["a"] + a["b"], delay_s=0.4))
    session = await client.session()
    call = asyncio.create_task(client.call(session, fc("add", {"a": 1, "b": 2})))
    await runtime.wait_calls(1)
    refused = await client.stub.DestroySession(
        grid_pb2.DestroySession(session_id=session, force=False)
    )
    assert refused.destroyed is False
    assert_error(refused.error, "INVALID_STATE", retry=False)
    assert HOST_CORRELATION.match(refused.error.correlation_id)  # no correlation field
    # The session survived and the call completes normally.
    answer = await call
    assert answer.result.result.content == b"3"
    assert runtime.cancels == []
    done = await client.stub.DestroySession(grid_pb2.DestroySession(session_id=session))
    assert done.destroyed is True and not done.HasField("error")


async def test_item_083_destroy_with_force_cancels_active_invocations(
    host: HostHandle, client: GridClient, runtime: ScriptedRuntime
) -> None:
    runtime.on("sleep_ms", never())
    session = await client.session()
    call = asyncio.create_task(client.call(session, fc("sleep_ms", {"ms": 10_000})))
    [received] = await runtime.wait_calls(1)
    done = await client.stub.DestroySession(grid_pb2.DestroySession(session_id=session, force=True))
    assert done.destroyed is True
    cancel = await runtime.wait_cancel(received.invocation_id)
    assert cancel.reason
    failed = await asyncio.wait_for(call, 2)
    assert failed.WhichOneof("outcome") == "error"
    assert failed.error.type == "INVALID_STATE"
    # A late result for the cancelled invocation is not delivered anywhere.
    await runtime.send_result(received, content=b"1")
    after = await client.call(session, fc("add", {"a": 1, "b": 2}))
    assert_error(
        after.error, "INVALID_SESSION", retry=False, correlation_id=client.last_correlation_id
    )
    [audit] = events(host, "SESSION_DESTROY", session_id=session)
    assert audit.metadata["force"] == "true"


async def test_item_084_call_on_destroyed_or_unknown_session_fails_invalid_session(
    client: GridClient, runtime: ScriptedRuntime
) -> None:
    session = await client.session()
    await client.stub.DestroySession(grid_pb2.DestroySession(session_id=session))
    for sid in (session, "sess-never-existed", ""):
        refused = await client.call(sid, fc("add", {"a": 1, "b": 2}), correlation_id="wf-84")
        assert_error(refused.error, "INVALID_SESSION", retry=False, correlation_id="wf-84")
        listed = await client.stub.ListTools(
            host_pb2.ListToolsRequest(session_id=sid, correlation_id="wf-84")
        )
        assert_error(listed.error, "INVALID_SESSION", retry=False, correlation_id="wf-84")
        assert list(listed.tools) == []
    assert runtime.calls == []


# ----------------------------------------------------------------------------- item 112


async def test_item_112_capability_update_statuses_are_consistent(
    host: HostHandle, client: GridClient, runtime: ScriptedRuntime
) -> None:
    accepted = await runtime.update_capabilities(["local-dispatch"])
    assert accepted.status == Capability.ACCEPTED
    assert list(accepted.accepted_features) == ["local-dispatch"]
    assert list(accepted.rejected_features) == [] and list(accepted.errors) == []

    partial = await runtime.update_capabilities(["streaming", "teleportation"])
    assert partial.status == Capability.PARTIAL
    assert list(partial.accepted_features) == ["streaming"]
    assert list(partial.rejected_features) == ["teleportation"]
    [error] = partial.errors
    assert error.type == "FEATURE_UNAVAILABLE"

    rejected = await runtime.update_capabilities(["teleportation", "time-travel"])
    assert rejected.status == Capability.REJECTED
    assert list(rejected.accepted_features) == []
    assert list(rejected.rejected_features) == ["teleportation", "time-travel"]
    assert len(rejected.errors) == 2

    # Withdrawing "streaming" takes effect: streaming calls are no longer routed to it.
    await runtime.update_capabilities(removed=["streaming"])
    session = await client.session()
    [refusal] = await client.stream(session, fc("count", {"n": 2}))
    assert_error(
        refusal.enhanced_error,
        "FEATURE_UNAVAILABLE",
        retry=False,
        correlation_id=client.last_correlation_id,
    )
    assert runtime.calls == []


async def test_item_112_capability_update_from_unknown_runtime_is_rejected(
    host: HostHandle,
) -> None:
    async with ScriptedRuntime(
        host.runtime_target, host.runtime_pem("example"), runtime_id="never-announced"
    ) as rt:
        response = await rt.update_capabilities(["streaming"])
        assert response.status == Capability.REJECTED
        assert list(response.rejected_features) == ["streaming"]
        assert list(response.accepted_features) == []
