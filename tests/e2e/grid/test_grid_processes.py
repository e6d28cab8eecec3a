"""Real processes: a Runtime process killed mid-call, restarted; a Host restarted under a Runtime.

The Runtime process is ``python -m aesp runtime tests/e2e/runtime_tools.py --target ... --ca ...
--cert ... --key ... --runtime-id ...``; the Host is a real Host on loopback.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from aesp.certs import DevPki
from aesp.later import ToolRegistry, tool
from aesp.proto.altar.adm.v1 import adm_pb2
from aesp.runtime import Backoff, Runtime
from aesp.testing.harness import HostHandle
from tests.e2e.grid._grid import (
    REPO,
    GridClient,
    assert_error,
    eventually,
    fc,
    grid_host,
    runtime_command,
)

CALL_TIMEOUT_MS = 8_000


def _serving(handle: HostHandle, runtime_id: str, tool_name: str) -> bool:
    return any(
        c.runtime_id == runtime_id and c.attached and ("", tool_name) in c.fulfilled
        for c in handle.running.host.runtimes.connections()
    )


@asynccontextmanager
async def runtime_process(
    handle: HostHandle, pki: DevPki, runtime_id: str
) -> AsyncIterator[asyncio.subprocess.Process]:
    """Start a Runtime process and wait until the Host routes calls to it."""
    proc = await asyncio.create_subprocess_exec(
        *runtime_command(handle.runtime_target, pki, runtime_id=runtime_id),
        cwd=REPO,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        try:
            await eventually(lambda: _serving(handle, runtime_id, "sleep_ms"), timeout=15)
        except AssertionError:
            if proc.returncode is not None and proc.stderr is not None:
                raise AssertionError((await proc.stderr.read()).decode()[-2000:]) from None
            raise
        yield proc
    finally:
        if proc.returncode is None:
            proc.kill()
        await proc.wait()


async def test_runtime_process_killed_mid_call_fails_fast_and_recovers_on_restart(
    tmp_path: Path, grid_pki: DevPki
) -> None:
    async with grid_host(tmp_path, grid_pki) as handle:
        client = GridClient(handle.client_target, handle.client_pem("demo"))
        session = await client.session()
        async with runtime_process(handle, grid_pki, "proc-1") as proc:
            warm = await client.call(session, fc("add", {"a": 2, "b": 3}))
            assert warm.result.result.content == b"5"
            failed = await client.call(session, fc("fail", {"message": "boom"}))
            assert failed.result.result.status == adm_pb2.ERROR  # item 94 with a real tool
            assert "boom" in failed.result.result.error.message
            slow = asyncio.create_task(
                client.call(session, fc("sleep_ms", {"ms": 20_000}), timeout_ms=CALL_TIMEOUT_MS)
            )
            await eventually(
                lambda: any(c.in_flight for c in handle.running.host.runtimes.connections())
            )
            await asyncio.sleep(0.2)  # let the tool start sleeping in the runtime
            killed_at = time.monotonic()
            proc.send_signal(signal.SIGKILL)
            answer = await asyncio.wait_for(slow, CALL_TIMEOUT_MS / 1000)
            waited = time.monotonic() - killed_at
        assert_error(
            answer.error, "CONNECTION_FAILED", retry=True, correlation_id=client.last_correlation_id
        )
        assert "may or may not have taken effect" in answer.error.message
        assert waited < 2.0, f"the client waited {waited:.2f}s for a dead runtime"
        # The Host keeps serving: new sessions and calls get precise answers.
        fresh = await client.session()
        refused = await client.call(fresh, fc("add", {"a": 1, "b": 1}))
        assert_error(
            refused.error,
            "UNSUPPORTED_TOOL",
            retry=False,
            correlation_id=client.last_correlation_id,
        )
        # The restarted process reconnects and calls succeed again.
        async with runtime_process(handle, grid_pki, "proc-1"):
            again = await client.call(fresh, fc("add", {"a": 1, "b": 1}))
            assert again.result.result.content == b"2"
            counted = await client.stream(fresh, fc("count", {"n": 3}))
            assert [c.payload for c in counted] == [b"0", b"1", b"2"]
        await client.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _adder() -> ToolRegistry:
    registry = ToolRegistry()

    @tool(registry=registry)
    def add(a: int, b: int) -> int:
        """Add two integers.

        Args:
            a: First.
            b: Second.
        """
        return a + b

    return registry


async def test_runtime_sdk_reconnects_with_backoff_after_host_restart(
    tmp_path: Path, grid_pki: DevPki, caplog: pytest.LogCaptureFixture
) -> None:
    ports = {"client_port": _free_port(), "runtime_port": _free_port()}
    backoff = Backoff(initial_s=0.05, maximum_s=0.4, multiplier=2.0, jitter=0.1)
    runtime: Runtime | None = None
    try:
        async with grid_host(tmp_path / "first", grid_pki, **ports) as handle:
            ca, cert, key = handle.runtime_pem("example")
            runtime = Runtime(
                target=handle.runtime_target,
                ca=ca,
                cert=cert,
                key=key,
                registry=_adder(),
                runtime_id="sdk-1",
                backoff=backoff,
            )
            await runtime.start()
            await runtime.wait_ready(5)
            client = GridClient(handle.client_target, handle.client_pem("demo"))
            session = await client.session()
            answer = await client.call(session, fc("add", {"a": 1, "b": 2}))
            assert answer.result.result.content == b"3"
            await client.close()
        # The Host is gone: the runtime retries with growing delays, not in a busy loop.
        await eventually(lambda: not runtime.connected.is_set(), what="the runtime to notice")
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="aesp.runtime"):
            await asyncio.sleep(0.8)
        attempts = len([r for r in caplog.records if r.name == "aesp.runtime"])
        # 0.05 + 0.1 + 0.2 + 0.4 (+/- 10 %) fit about four attempts into 0.8 s.
        assert 2 <= attempts <= 6, attempts
        async with grid_host(tmp_path / "second", grid_pki, **ports) as second:
            await asyncio.wait_for(runtime.connected.wait(), 5)
            assert runtime.fulfilled == ("add",)
            client = GridClient(second.client_target, second.client_pem("demo"))
            session = await client.session()
            answer = await client.call(session, fc("add", {"a": 20, "b": 22}))
            assert answer.result.result.content == b"42"
            await client.close()
    finally:
        if runtime is not None:
            await runtime.stop()
