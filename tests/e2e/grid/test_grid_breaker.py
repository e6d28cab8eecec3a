"""Per-Runtime circuit breakers in the Host (checklist 128-132; SPEC §2.10, F8)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from aesp.certs import DevPki
from aesp.core.breaker import BreakerState
from aesp.core.config import BreakerConfig
from aesp.testing.harness import HostHandle
from tests.e2e.grid._grid import GridClient, assert_error, events, eventually, fc, grid_host
from tests.e2e.scripted_runtime import (
    Chunk,
    ScriptedRuntime,
    chunks,
    invalid_adm,
    reply,
    reply_error,
)

BROKEN = invalid_adm("status_unspecified")  # a counted failure: TOOL_EXECUTION_FAILED
FAST_BREAKER = BreakerConfig(
    failure_threshold=3, failure_window_ms=60_000, recovery_timeout_ms=300, success_threshold=2
)


def breaker_state(handle: HostHandle, runtime_id: str) -> BreakerState:
    [conn] = [c for c in handle.running.host.runtimes.connections() if c.runtime_id == runtime_id]
    return conn.breaker.state


async def _fail_calls(client: GridClient, session: str, n: int) -> None:
    for _ in range(n):
        answer = await client.call(session, fc("add", {"a": 1, "b": 2}))
        assert answer.error.type == "TOOL_EXECUTION_FAILED"


# ----------------------------------------------------------------------------- item 128


async def test_item_128_breaker_opens_after_default_threshold_of_ten_failures(
    host: HostHandle, client: GridClient, runtime: ScriptedRuntime
) -> None:
    runtime.on("add", BROKEN)
    session = await client.session()
    await _fail_calls(client, session, 9)
    assert breaker_state(host, runtime.runtime_id) is BreakerState.CLOSED
    await _fail_calls(client, session, 1)
    assert breaker_state(host, runtime.runtime_id) is BreakerState.OPEN
    refused = await client.call(session, fc("add", {"a": 1, "b": 2}), correlation_id="wf-128")
    assert_error(refused.error, "SERVICE_UNAVAILABLE", retry=True, correlation_id="wf-128")
    assert refused.error.retry_after_ms > 0
    assert len(runtime.calls) == 10  # the refused call never reached the runtime


async def test_item_128_failures_outside_the_window_do_not_open(
    tmp_path: Path, grid_pki: DevPki
) -> None:
    breaker = BreakerConfig(
        failure_threshold=3, failure_window_ms=250, recovery_timeout_ms=60_000, success_threshold=1
    )
    async with grid_host(tmp_path, grid_pki, breaker=breaker) as handle:
        client = GridClient(handle.client_target, handle.client_pem("demo"))
        async with ScriptedRuntime(handle.runtime_target, handle.runtime_pem("example")) as rt:
            await rt.start(["add"])
            rt.on("add", BROKEN)
            session = await client.session()
            await _fail_calls(client, session, 2)
            await asyncio.sleep(0.3)
            await _fail_calls(client, session, 2)
            assert breaker_state(handle, rt.runtime_id) is BreakerState.CLOSED
            await _fail_calls(client, session, 1)
            assert breaker_state(handle, rt.runtime_id) is BreakerState.OPEN
        await client.close()


# ----------------------------------------------------------------------------- item 129


async def test_item_129_open_breaker_routes_to_healthy_runtime_else_service_unavailable(
    tmp_path: Path, grid_pki: DevPki
) -> None:
    async with grid_host(tmp_path, grid_pki, breaker=FAST_BREAKER) as handle:
        client = GridClient(handle.client_target, handle.client_pem("demo"))
        session = await client.session()
        bad = ScriptedRuntime(
            handle.runtime_target, handle.runtime_pem("example"), runtime_id="bad", behaviour=BROKEN
        )
        good = ScriptedRuntime(
            handle.runtime_target, handle.runtime_pem("second"), runtime_id="good"
        )
        await bad.start(["add"])
        await good.start(["add"])
        await _fail_calls(client, session, 3)
        assert len(bad.calls) == 3 and good.calls == []
        for _ in range(4):
            answer = await client.call(session, fc("add", {"a": 1, "b": 2}))
            assert answer.WhichOneof("outcome") == "result"
        assert len(bad.calls) == 3 and len(good.calls) == 4
        await good.close()
        await eventually(lambda: events(handle, "RUNTIME_DISCONNECT"))
        refused = await client.call(session, fc("add", {"a": 1, "b": 2}))
        assert_error(
            refused.error,
            "SERVICE_UNAVAILABLE",
            retry=True,
            correlation_id=client.last_correlation_id,
        )
        assert 0 < refused.error.retry_after_ms <= FAST_BREAKER.recovery_timeout_ms
        assert len(bad.calls) == 3
        await bad.close()
        await client.close()


# ----------------------------------------------------------------------------- item 130


async def test_item_130_half_open_after_recovery_then_closes_on_successes(
    tmp_path: Path, grid_pki: DevPki
) -> None:
    async with grid_host(tmp_path, grid_pki, breaker=FAST_BREAKER) as handle:
        client = GridClient(handle.client_target, handle.client_pem("demo"))
        async with ScriptedRuntime(
            handle.runtime_target, handle.runtime_pem("example"), behaviour=BROKEN
        ) as rt:
            await rt.start(["add"])
            session = await client.session()
            await _fail_calls(client, session, 3)
            assert breaker_state(handle, rt.runtime_id) is BreakerState.OPEN
            await asyncio.sleep(FAST_BREAKER.recovery_timeout_ms / 1000 + 0.05)
            assert breaker_state(handle, rt.runtime_id) is BreakerState.HALF_OPEN
            rt.default = reply()
            first = await client.call(session, fc("add", {"a": 1, "b": 2}))
            assert first.WhichOneof("outcome") == "result"
            assert breaker_state(handle, rt.runtime_id) is BreakerState.HALF_OPEN
            second = await client.call(session, fc("add", {"a": 1, "b": 2}))
            assert second.WhichOneof("outcome") == "result"
            assert breaker_state(handle, rt.runtime_id) is BreakerState.CLOSED
        await client.close()


async def test_item_130_one_failure_in_half_open_reopens(tmp_path: Path, grid_pki: DevPki) -> None:
    async with grid_host(tmp_path, grid_pki, breaker=FAST_BREAKER) as handle:
        client = GridClient(handle.client_target, handle.client_pem("demo"))
        async with ScriptedRuntime(
            handle.runtime_target, handle.runtime_pem("example"), behaviour=BROKEN
        ) as rt:
            await rt.start(["add"])
            session = await client.session()
            await _fail_calls(client, session, 3)
            await asyncio.sleep(FAST_BREAKER.recovery_timeout_ms / 1000 + 0.05)
            await _fail_calls(client, session, 1)  # the trial call fails
            assert breaker_state(handle, rt.runtime_id) is BreakerState.OPEN
            refused = await client.call(session, fc("add", {"a": 1, "b": 2}))
            assert_error(
                refused.error,
                "SERVICE_UNAVAILABLE",
                retry=True,
                correlation_id=client.last_correlation_id,
            )
            assert len(rt.calls) == 4
        await client.close()


# ----------------------------------------------------------------------------- item 131


async def test_item_131_caller_mistakes_and_business_errors_do_not_count(
    tmp_path: Path, grid_pki: DevPki
) -> None:
    one_strike = BreakerConfig(
        failure_threshold=1,
        failure_window_ms=60_000,
        recovery_timeout_ms=60_000,
        success_threshold=1,
    )
    async with grid_host(tmp_path, grid_pki, breaker=one_strike) as handle:
        client = GridClient(handle.client_target, handle.client_pem("demo"))
        other = GridClient(handle.client_target, handle.client_pem("other"))
        async with ScriptedRuntime(handle.runtime_target, handle.runtime_pem("example")) as rt:
            await rt.start(["add", "fail"])
            rt.on("fail", reply_error("not allowed downstream", "PERMISSION_DENIED"))
            session = await client.session()
            for _ in range(3):
                assert (await client.call(session, fc("add", {"a": "x", "b": 1}))).error.type == (
                    "SCHEMA_VIOLATION"
                )
                assert (await other.call(session, fc("add", {"a": 1, "b": 1}))).error.type == (
                    "PERMISSION_DENIED"
                )
                answer = await client.call(session, fc("fail", {"message": "m"}))
                assert answer.result.result.error.type == "PERMISSION_DENIED"
            assert breaker_state(handle, rt.runtime_id) is BreakerState.CLOSED
            ok = await client.call(session, fc("add", {"a": 1, "b": 1}))
            assert ok.WhichOneof("outcome") == "result"
        await other.close()
        await client.close()


# ----------------------------------------------------------------------------- item 132


async def test_item_132_security_violation_by_runtime_opens_its_breaker_at_once(
    host: HostHandle, client: GridClient, runtime: ScriptedRuntime
) -> None:
    runtime.next_call(reply_error("tamper detected", "SECURITY_VIOLATION"))
    session = await client.session()
    first = await client.call(session, fc("add", {"a": 1, "b": 2}))
    assert first.result.result.error.type == "SECURITY_VIOLATION"  # relayed unchanged (C-13)
    assert breaker_state(host, runtime.runtime_id) is BreakerState.OPEN
    runtime.calls.clear()
    refused = await client.call(session, fc("add", {"a": 1, "b": 2}))
    assert_error(
        refused.error, "SERVICE_UNAVAILABLE", retry=True, correlation_id=client.last_correlation_id
    )
    assert runtime.calls == []


@pytest.mark.parametrize("code", ["SECURITY_VIOLATION", "DATA_CORRUPTION", "SYSTEM_COMPROMISE"])
async def test_item_132_critical_error_reported_by_runtime_opens_breaker_at_once(
    host: HostHandle, client: GridClient, runtime: ScriptedRuntime, code: str
) -> None:
    runtime.on("count", chunks([Chunk(0, b"", error=code)]))
    session = await client.session()
    [chunk] = await client.stream(session, fc("count", {"n": 1}))
    assert chunk.enhanced_error.type == code
    assert breaker_state(host, runtime.runtime_id) is BreakerState.OPEN
