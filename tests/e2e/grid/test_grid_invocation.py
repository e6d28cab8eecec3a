"""The governed synchronous call (checklist 86-96, 98; C-44, C-45; heartbeats, C-11)."""

from __future__ import annotations

import asyncio
import json
import re
import time
from dataclasses import replace
from pathlib import Path

import pytest

from aesp.certs import DevPki
from aesp.proto.altar.adm.v1 import adm_pb2
from aesp.proto.altar.aesp.v1 import host_pb2
from aesp.testing.harness import HostHandle
from tests.e2e.grid._grid import (
    FAST_LIMITS,
    GridClient,
    assert_error,
    events,
    eventually,
    fc,
    grid_host,
    schema,
)
from tests.e2e.scripted_runtime import (
    INVALID_ADM_KINDS,
    ScriptedRuntime,
    invalid_adm,
    never,
    reply,
    reply_error,
    reply_twice,
    wrong_call_id,
    wrong_name,
)

ADD = reply(lambda a: a["a"] + a["b"])


# ----------------------------------------------------------------------------- items 86-87


async def test_item_086_session_checked_before_authorization_before_args(
    host: HostHandle, client: GridClient, runtime: ScriptedRuntime
) -> None:
    bad_args = fc("add", {"a": "x"})
    # (1) unknown session wins over everything else.
    first = await client.call("sess-unknown", bad_args)
    assert_error(
        first.error, "INVALID_SESSION", retry=False, correlation_id=client.last_correlation_id
    )
    # (2) a live session the caller may not use: authorization wins over the bad args.
    owned = await client.session()
    other = GridClient(host.client_target, host.client_pem("other"))
    second = await other.call(owned, bad_args)
    assert_error(
        second.error, "PERMISSION_DENIED", retry=False, correlation_id=other.last_correlation_id
    )
    # (3) the caller's own session: now the arguments are checked.
    third = await client.call(owned, bad_args)
    assert_error(
        third.error, "SCHEMA_VIOLATION", retry=False, correlation_id=client.last_correlation_id
    )
    assert runtime.calls == []
    await other.close()


async def test_item_087_unauthorised_call_permission_denied_not_retryable(
    host: HostHandle, client: GridClient, runtime: ScriptedRuntime
) -> None:
    session = await client.session()
    intruder = GridClient(host.client_target, host.client_pem("other"))
    refused = await intruder.call(session, fc("add", {"a": 1, "b": 2}), correlation_id="wf-87")
    assert_error(refused.error, "PERMISSION_DENIED", retry=False, correlation_id="wf-87")
    assert refused.error.details["reason"] == "SESSION_OWNER"
    assert runtime.calls == []
    [audit] = events(host, "AUTHORIZATION_DENIED", correlation_id="wf-87")
    assert audit.outcome == "DENIED"
    assert audit.principal_id.endswith("/client/other")
    await intruder.close()


# ----------------------------------------------------------------------------- items 88-90


async def test_item_088_host_validates_against_its_own_schema_not_the_runtimes(
    dev_host: HostHandle,
) -> None:
    client = GridClient(dev_host.client_target, dev_host.client_pem("demo"))
    session = await client.session()
    async with ScriptedRuntime(dev_host.runtime_target, dev_host.runtime_pem("example")) as rt:
        await rt.start(["add"])
        # The runtime claims `add` takes strings; the Host keeps its own contract.
        lie = adm_pb2.Tool(
            function_declarations=[
                adm_pb2.FunctionDeclaration(
                    name="add",
                    description="Add two strings.",
                    parameters=b'{"type":"OBJECT","properties":{"a":{"type":"STRING"},'
                    b'"b":{"type":"STRING"}}}',
                )
            ]
        )
        registered = await rt.register([lie], session_id=session)
        assert list(registered.rejected_tools) == ["add"]
        refused = await client.call(session, fc("add", {"a": "1", "b": "2"}))
        assert_error(
            refused.error,
            "SCHEMA_VIOLATION",
            retry=False,
            correlation_id=client.last_correlation_id,
        )
        assert rt.calls == []
        answer = await client.call(session, fc("add", {"a": 1, "b": 2}))
        assert answer.WhichOneof("outcome") == "result"
    await client.close()


SCHEMA_FAILURES = {
    "wrong_type": ({"a": 1, "b": "2"}, "args.b"),
    "missing_required": ({"a": 1}, "args.b"),
    "unknown_property": ({"a": 1, "b": 2, "c": 3}, "args.c"),
    "not_an_object": ([1, 2], "args"),
    "null": (None, "args"),
}


@pytest.mark.parametrize("kind", sorted(SCHEMA_FAILURES))
async def test_item_089_schema_violation_names_failing_field(
    host: HostHandle, client: GridClient, runtime: ScriptedRuntime, kind: str
) -> None:
    args, field = SCHEMA_FAILURES[kind]
    session = await client.session()
    refused = await client.call(
        session, fc("add", json.dumps(args).encode()), correlation_id="wf-89"
    )
    assert_error(refused.error, "SCHEMA_VIOLATION", retry=False, correlation_id="wf-89")
    assert refused.error.details["field"] == field
    assert refused.error.details["reason"]
    assert refused.error.tool_name == "add"
    assert runtime.calls == []
    # SPEC §3.19: every denial before dispatch is an AUTHORIZATION_DENIED audit event.
    [audit] = events(host, "AUTHORIZATION_DENIED", correlation_id="wf-89")
    assert audit.outcome == "DENIED" and audit.metadata["code"] == "SCHEMA_VIOLATION"
    assert audit.metadata["field"] == field


@pytest.mark.parametrize("name", ["not_in_manifest", "orphan"])
async def test_item_090_unknown_or_unfulfilled_tool_unsupported(
    client: GridClient, runtime: ScriptedRuntime, name: str
) -> None:
    session = await client.session()
    refused = await client.call(session, fc(name, {"x": "y"}), correlation_id="wf-90")
    assert_error(refused.error, "UNSUPPORTED_TOOL", retry=False, correlation_id="wf-90")
    assert runtime.calls == []


# ----------------------------------------------------------------------------- items 91-93


async def test_item_091_every_dispatch_gets_a_fresh_host_invocation_id(
    client: GridClient, runtime: ScriptedRuntime
) -> None:
    session = await client.session()
    answers = await asyncio.gather(
        *(client.call(session, fc("add", {"a": i, "b": 1})) for i in range(8))
    )
    from_client = [a.result.invocation_id for a in answers]
    from_runtime = [c.invocation_id for c in runtime.calls]
    assert len(set(from_client)) == 8
    assert sorted(from_client) == sorted(from_runtime)
    assert all(re.fullmatch(r"inv-[0-9a-f]{32}", i) for i in from_client)


async def test_item_092_runtime_receives_the_clients_function_call_unchanged(
    client: GridClient, runtime: ScriptedRuntime
) -> None:
    session = await client.session()
    # Non-canonical JSON (spaces, key order, a float): it must arrive byte for byte.
    call = fc("add", b' { "b" : 2 ,\n "a" : 1 } ', call_id="call-92")
    answer = await client.call(session, call, correlation_id="wf-92", timeout_ms=2500)
    [received] = runtime.calls
    assert received.call == call
    assert received.call.args == b' { "b" : 2 ,\n "a" : 1 } '
    assert received.correlation_id == "wf-92"
    assert received.invocation_id == answer.result.invocation_id
    assert received.session_id == session
    assert received.timeout_ms == 2500


async def test_item_093_dispatch_only_to_a_runtime_fulfilling_the_tool_for_that_session(
    host: HostHandle, client: GridClient
) -> None:
    s1, s2 = await client.session(), await client.session()
    async with (
        ScriptedRuntime(host.runtime_target, host.runtime_pem("example"), runtime_id="a") as a,
        ScriptedRuntime(host.runtime_target, host.runtime_pem("second"), runtime_id="b") as b,
    ):
        await a.start(["add"], session_id=s1)
        refused = await client.call(s2, fc("add", {"a": 1, "b": 2}))
        assert_error(
            refused.error,
            "UNSUPPORTED_TOOL",
            retry=False,
            correlation_id=client.last_correlation_id,
        )
        assert a.calls == []
        await b.start(["add"], session_id=s2)
        for _ in range(3):
            await client.call(s1, fc("add", {"a": 1, "b": 2}))
            await client.call(s2, fc("add", {"a": 1, "b": 2}))
        assert {c.session_id for c in a.calls} == {s1} and len(a.calls) == 3
        assert {c.session_id for c in b.calls} == {s2} and len(b.calls) == 3


# ----------------------------------------------------------------------------- items 94-96


async def test_item_094_business_failure_relayed_as_adm_error_result(
    host: HostHandle, client: GridClient, runtime: ScriptedRuntime
) -> None:
    runtime.on("fail", reply_error("disk is full", "RESOURCE_EXHAUSTED"))
    session = await client.session()
    answer = await client.call(session, fc("fail", {"message": "boom"}), correlation_id="wf-94")
    assert answer.WhichOneof("outcome") == "result"
    result = answer.result.result
    assert result.status == adm_pb2.ERROR
    assert result.error.message == "disk is full"
    assert result.error.type == "RESOURCE_EXHAUSTED"
    assert not result.HasField("content")
    assert answer.result.correlation_id == "wf-94"
    [done] = events(host, "TOOL_INVOCATION_COMPLETE", correlation_id="wf-94")
    assert done.metadata["status"] == "ERROR"


async def test_item_095_result_for_unknown_invocation_dropped_and_logged(
    host: HostHandle, client: GridClient, runtime: ScriptedRuntime
) -> None:
    await runtime.send_result(invocation_id="inv-made-up", call_id="c", name="add")
    violation = await eventually(
        lambda: events(host, "SECURITY_VIOLATION"), what="a SECURITY_VIOLATION audit event"
    )
    assert violation[0].metadata["code"] == "PROTOCOL_VIOLATION"
    assert violation[0].metadata["invocation_id"] == "inv-made-up"
    assert violation[0].metadata["runtime_id"] == runtime.runtime_id
    # The runtime keeps its connection and the Host keeps serving it.
    session = await client.session()
    answer = await client.call(session, fc("add", {"a": 1, "b": 2}))
    assert answer.WhichOneof("outcome") == "result"


async def test_item_095_second_result_for_completed_invocation_dropped(
    host: HostHandle, client: GridClient, runtime: ScriptedRuntime
) -> None:
    runtime.on("echo", reply_twice())
    session = await client.session()
    answer = await client.call(session, fc("echo", {"text": "once"}))
    assert answer.result.result.content == b'{"text":"once"}'
    violation = await eventually(lambda: events(host, "SECURITY_VIOLATION"))
    assert violation[0].metadata["invocation_id"] == answer.result.invocation_id


BAD_RESULTS = {
    "wrong_call_id": wrong_call_id(),
    "wrong_name": wrong_name(),
    **{kind: invalid_adm(kind) for kind in INVALID_ADM_KINDS},
}


@pytest.mark.parametrize("kind", sorted(BAD_RESULTS))
async def test_item_096_invalid_or_mismatched_result_not_forwarded(
    host: HostHandle, client: GridClient, runtime: ScriptedRuntime, kind: str
) -> None:
    runtime.on("add", BAD_RESULTS[kind])
    session = await client.session()
    answer = await client.call(session, fc("add", {"a": 1, "b": 2}), correlation_id="wf-96")
    assert answer.WhichOneof("outcome") == "error"
    assert_error(answer.error, "TOOL_EXECUTION_FAILED", retry=True, correlation_id="wf-96")
    assert answer.error.details["reason"]
    [violation] = events(host, "SECURITY_VIOLATION", correlation_id="wf-96")
    assert violation.metadata["code"] == "PROTOCOL_VIOLATION"
    assert violation.metadata["runtime_id"] == runtime.runtime_id


# ----------------------------------------------------------------------------- item 98 / C-44


async def test_item_098_repeated_call_id_returns_cached_result_without_executing(
    client: GridClient, runtime: ScriptedRuntime
) -> None:
    runtime.on("add", ADD)
    session = await client.session()
    call = fc("add", {"a": 20, "b": 22}, call_id="idem-1")
    first = await client.call(session, call)
    second = await client.call(session, call)
    assert first.result.result.content == second.result.result.content == b"42"
    assert first.result.invocation_id == second.result.invocation_id
    assert len(runtime.calls) == 1
    # The key is (session_id, call_id): another session executes it again.
    other = await client.session()
    await client.call(other, call)
    assert len(runtime.calls) == 2


async def test_item_098_duplicate_while_in_flight_waits_for_the_first(
    client: GridClient, runtime: ScriptedRuntime
) -> None:
    runtime.on("add", reply(lambda a: a["a"] + a["b"], delay_s=0.3))
    session = await client.session()
    call = fc("add", {"a": 1, "b": 1}, call_id="idem-2")
    first, second = await asyncio.gather(client.call(session, call), client.call(session, call))
    assert first.result == second.result
    assert len(runtime.calls) == 1


async def test_c44_reused_call_id_with_other_args_is_invalid_state(
    client: GridClient, runtime: ScriptedRuntime
) -> None:
    session = await client.session()
    await client.call(session, fc("add", {"a": 1, "b": 1}, call_id="idem-3"))
    refused = await client.call(session, fc("add", {"a": 1, "b": 2}, call_id="idem-3"))
    assert_error(
        refused.error, "INVALID_STATE", retry=False, correlation_id=client.last_correlation_id
    )
    assert len(runtime.calls) == 1


# ----------------------------------------------------------------------------- C-45 / C-11


async def test_c45_call_times_out_runtime_is_cancelled_and_late_result_ignored(
    host: HostHandle, client: GridClient, runtime: ScriptedRuntime
) -> None:
    runtime.on("sleep_ms", never())
    session = await client.session()
    started = time.monotonic()
    answer = await client.call(
        session, fc("sleep_ms", {"ms": 5000}), timeout_ms=300, correlation_id="wf-45"
    )
    elapsed = time.monotonic() - started
    assert_error(answer.error, "TIMEOUT", retry=True, correlation_id="wf-45")
    assert answer.error.retry_after_ms > 0
    assert 0.25 <= elapsed < 2.0
    [received] = runtime.calls
    cancel = await runtime.wait_cancel(received.invocation_id)
    assert cancel.reason == "timeout"
    await runtime.send_result(received, content=b"5000")
    await eventually(lambda: events(host, "SECURITY_VIOLATION"))
    # The runtime is still usable.
    ok = await client.call(session, fc("add", {"a": 1, "b": 2}))
    assert ok.WhichOneof("outcome") == "result"


async def test_c45_requested_timeout_is_capped_by_host(tmp_path: Path, grid_pki: DevPki) -> None:
    limits = replace(FAST_LIMITS, default_timeout_ms=200, max_timeout_ms=400)
    async with grid_host(tmp_path, grid_pki, limits=limits) as handle:
        client = GridClient(handle.client_target, handle.client_pem("demo"))
        async with ScriptedRuntime(handle.runtime_target, handle.runtime_pem("example")) as rt:
            await rt.start(["sleep_ms"])
            rt.on("sleep_ms", never())
            session = await client.session()
            started = time.monotonic()
            answer = await client.call(session, fc("sleep_ms", {"ms": 1}), timeout_ms=60_000)
            assert answer.error.type == "TIMEOUT"
            assert time.monotonic() - started < 2.0
            assert rt.calls[0].timeout_ms == 400
        await client.close()


async def test_c11_runtime_that_stops_heartbeating_is_dropped_and_calls_fail(
    tmp_path: Path, grid_pki: DevPki
) -> None:
    limits = replace(FAST_LIMITS, heartbeat_interval_ms=200, missed_heartbeats=2)
    async with grid_host(tmp_path, grid_pki, limits=limits) as handle:
        client = GridClient(handle.client_target, handle.client_pem("demo"))
        async with ScriptedRuntime(handle.runtime_target, handle.runtime_pem("example")) as rt:
            await rt.start(["sleep_ms", "add"])
            rt.on("sleep_ms", never())
            session = await client.session()
            call = asyncio.create_task(client.call(session, fc("sleep_ms", {"ms": 1})))
            await rt.wait_calls(1)
            rt.stop_heartbeats()
            answer = await asyncio.wait_for(call, 2.5)
            assert_error(
                answer.error,
                "CONNECTION_FAILED",
                retry=True,
                correlation_id=client.last_correlation_id,
            )
            await rt.wait_closed(2)
            gone = events(handle, "RUNTIME_DISCONNECT")
            assert "heartbeats missed" in gone[0].metadata["reason"]
            assert gone[0].metadata["failed_in_flight"] == "1"
            refused = await client.call(session, fc("add", {"a": 1, "b": 2}))
            assert_error(
                refused.error,
                "UNSUPPORTED_TOOL",
                retry=False,
                correlation_id=client.last_correlation_id,
            )
        await client.close()


async def test_list_tools_shows_the_hosts_contracts(
    client: GridClient, runtime: ScriptedRuntime
) -> None:
    session = await client.session()
    listed = await client.stub.ListTools(
        host_pb2.ListToolsRequest(session_id=session, correlation_id="wf-list")
    )
    assert listed.correlation_id == "wf-list"
    add = next(t for t in listed.tools if t.name == "add")
    assert json.loads(add.parameters) == schema(a="INTEGER", b="INTEGER")
    assert add.content_digest.startswith("sha256:")
    assert add.approval_status == "ACTIVE"


async def test_c11_heartbeat_timeout_audits_one_disconnect(
    tmp_path: Path, grid_pki: DevPki
) -> None:
    limits = replace(FAST_LIMITS, heartbeat_interval_ms=200, missed_heartbeats=2)
    async with grid_host(tmp_path, grid_pki, limits=limits) as handle:
        rt = ScriptedRuntime(handle.runtime_target, handle.runtime_pem("example"))
        await rt.start(["add"])
        rt.stop_heartbeats()
        await rt.wait_closed(2)
        await asyncio.sleep(0.1)
        await rt.close()
        assert len(events(handle, "RUNTIME_DISCONNECT")) == 1
