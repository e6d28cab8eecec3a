"""End-to-end tests of the Client SDK against a real Host, a real Runtime and real mutual TLS.

One Host (``aesp.testing.harness.local_host``) with a Runtime serving a private LATER registry
runs on a background thread with its own event loop, so the blocking ``Client`` can be tested
with plain functions and ``AsyncClient`` with coroutines, against the same Host. The Host's
audit log is in memory so tests can check what the Host recorded.

Covered: sessions, ListTools, calls (SUCCESS and business ERROR, C-13), every refusal as the
right exception class and code, streaming (F7) with an in-band error, governed local dispatch
(F6, items 113-127: approve/execute/log, replay, argument binding, denial, expiry, remote
fallback, asynchronous logging, buffering while the Host is unreachable), C-15 zero-value
answers from a scripted Host, execution modes (item 134, C-26) and transport failures.

Test hook for the log buffer: ``AsyncLogSender.retarget(client)`` / ``LogSender.retarget``
points a sender first at a client of a dead port, then at the live Host.
"""

from __future__ import annotations

import asyncio
import logging
import pickle
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypedDict

import grpc
import grpc.aio
import pytest

from aesp.adm import MISSING, ToolResult, content_digest
from aesp.certs import DevPki
from aesp.client import (
    AespClientError,
    AsyncClient,
    AsyncGovernedLocal,
    AsyncLogSender,
    AuditRetryPolicy,
    AuthorizationExpired,
    CircuitOpen,
    Client,
    ExecutionFailed,
    ExecutionMode,
    GovernedLocal,
    InvalidArguments,
    InvalidAuthorization,
    LogSender,
    ModePolicy,
    PermissionDenied,
    ProtocolError,
    SessionError,
    TamperDetected,
    ToolUnavailable,
    TransportError,
)
from aesp.client.errors import FAMILY_OF_CODE, error_for
from aesp.client.modes import Route, route
from aesp.core.audit import AuditEvent, MemoryAuditLog
from aesp.core.errors import ALIASES, REGISTRY
from aesp.later import ToolError, ToolRegistry, tool
from aesp.proto.altar.aesp.v1 import host_pb2, host_pb2_grpc
from aesp.proto.altar.grid.v1 import grid_pb2
from aesp.runtime import Runtime
from aesp.server.tls import server_credentials
from aesp.testing.harness import HostHandle, local_host

WAIT_S = 10.0

# ---------------------------------------------------------------- tools and contracts

REMOTE = ToolRegistry()  # what the Runtime serves


@tool(registry=REMOTE)
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@tool(registry=REMOTE)
def divide(a: int, b: int) -> float:
    """Divide a by b."""
    if b == 0:
        raise ToolError("cannot divide by zero", type="DIVISION_BY_ZERO")
    return a / b


@tool(registry=REMOTE)
def multiply(a: int, b: int) -> int:
    """Multiply two integers."""
    return a * b


@tool(registry=REMOTE)
def count(n: int) -> Iterator[int]:
    """Count from 0 to n - 1."""
    yield from range(n)


@tool(registry=REMOTE)
def explode(n: int) -> Iterator[int]:
    """Yield n items, then fail."""
    yield from range(n)
    raise RuntimeError("boom")


def _contract(name: str, description: str, *params: str, streaming: bool = False) -> dict[str, Any]:
    return {
        "name": name,
        "description": description,
        "supports_streaming": streaming,
        "parameters": {
            "type": "OBJECT",
            "properties": {p: {"type": "INTEGER"} for p in params},
            "required": list(params),
        },
    }


CONTRACTS = [
    _contract("add", "Add two integers.", "a", "b"),
    _contract("divide", "Divide a by b.", "a", "b"),
    _contract("multiply", "Multiply two integers.", "a", "b"),
    _contract("count", "Count from 0 to n - 1.", "n", streaming=True),
    _contract("explode", "Yield n items, then fail.", "n", streaming=True),
]


def make_local() -> tuple[ToolRegistry, list[tuple[str, dict[str, int]]]]:
    """A client-side registry with ``add`` and ``divide`` that records every execution."""
    registry = ToolRegistry()
    calls: list[tuple[str, dict[str, int]]] = []

    @tool(name="add", registry=registry)
    def local_add(a: int, b: int) -> int:
        """Add two integers."""
        calls.append(("add", {"a": a, "b": b}))
        return a + b

    @tool(name="divide", registry=registry)
    def local_divide(a: int, b: int) -> float:
        """Divide a by b."""
        calls.append(("divide", {"a": a, "b": b}))
        if b == 0:
            raise ToolError("cannot divide by zero", type="DIVISION_BY_ZERO")
        return a / b

    return registry, calls


# ---------------------------------------------------------------- the live Host


class Pem(TypedDict):
    """Client credentials, as keyword arguments of ``Client``/``AsyncClient``."""

    ca: bytes
    cert: bytes
    key: bytes


@dataclass(frozen=True)
class LiveHost:
    """A running Host with a Runtime, and its in-memory audit log."""

    handle: HostHandle
    audit: MemoryAuditLog

    @property
    def target(self) -> str:
        return self.handle.client_target

    def pem(self, client: str = "demo") -> Pem:
        ca, cert, key = self.handle.client_pem(client)
        return Pem(ca=ca, cert=cert, key=key)

    def events(self, event_type: str, **metadata: str) -> list[AuditEvent]:
        return [
            e
            for e in self.audit.events()
            if e.event_type == event_type
            and all(e.metadata.get(k) == v for k, v in metadata.items())
        ]

    def events_for_correlation(self, correlation_id: str) -> list[AuditEvent]:
        return [e for e in self.audit.events() if e.correlation_id == correlation_id]


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveHost]:
    """The Host and its Runtime on a background thread with their own event loop."""
    directory = tmp_path_factory.mktemp("client-sdk")
    box: dict[str, Any] = {}
    ready = threading.Event()

    async def main() -> None:
        stop = asyncio.Event()
        audit = MemoryAuditLog()
        async with local_host(directory, CONTRACTS, audit=audit, clients=("demo", "other")) as h:
            ca, cert, key = h.runtime_pem()
            runtime = Runtime(target=h.runtime_target, ca=ca, cert=cert, key=key, registry=REMOTE)
            await runtime.start()
            try:
                await runtime.wait_ready(30)
                box.update(live=LiveHost(h, audit), loop=asyncio.get_running_loop(), stop=stop)
                ready.set()
                await stop.wait()
            finally:
                await runtime.stop()

    def serve() -> None:
        try:
            asyncio.run(main())
        except Exception as exc:  # surfaced to the test thread below
            box["error"] = exc
            ready.set()

    thread = threading.Thread(target=serve, name="live-host", daemon=True)
    thread.start()
    assert ready.wait(60), "the Host did not start"
    if "error" in box:
        raise box["error"]
    yield box["live"]
    box["loop"].call_soon_threadsafe(box["stop"].set)
    thread.join(30)


@pytest.fixture
def client(live: LiveHost) -> Iterator[Client]:
    with Client(live.target, **live.pem()) as c:
        yield c


@pytest.fixture
async def aclient(live: LiveHost) -> AsyncIterator[AsyncClient]:
    async with AsyncClient(live.target, **live.pem()) as c:
        yield c


def dead_target() -> str:
    """A loopback address nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"localhost:{port}"


def wait_until(predicate: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT_S
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.02)


async def await_until(predicate: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT_S
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


# ---------------------------------------------------------------- refusals, shared by both clients


@dataclass(frozen=True)
class Refusal:
    """One request the Host must refuse, and the exception the client must raise."""

    method: str  # "call" or "stream"
    session: str  # "own", "unknown" or "foreign" (another principal's)
    name: str
    args: Any
    expected: type[AespClientError]
    code: str


REFUSALS = {
    "unknown-session": Refusal(
        "call", "unknown", "add", {"a": 1, "b": 2}, SessionError, "INVALID_SESSION"
    ),
    "unknown-tool": Refusal("call", "own", "nope", {}, ToolUnavailable, "UNSUPPORTED_TOOL"),
    "bad-args": Refusal(
        "call", "own", "add", {"a": "x", "b": 2}, InvalidArguments, "SCHEMA_VIOLATION"
    ),
    "malformed-args": Refusal(
        "call", "own", "add", b'{"a":', InvalidArguments, "MALFORMED_REQUEST"
    ),
    "call-a-streaming-tool": Refusal(
        "call", "own", "count", {"n": 1}, ToolUnavailable, "FEATURE_UNAVAILABLE"
    ),
    "stream-a-plain-tool": Refusal(
        "stream", "own", "add", {"a": 1, "b": 2}, ToolUnavailable, "FEATURE_UNAVAILABLE"
    ),
    "stream-unknown-session": Refusal(
        "stream", "unknown", "count", {"n": 1}, SessionError, "INVALID_SESSION"
    ),
    "another-principals-session": Refusal(
        "call", "foreign", "add", {"a": 1, "b": 2}, PermissionDenied, "PERMISSION_DENIED"
    ),
}


def _check_refusal(error: AespClientError, case: Refusal, correlation_id: str) -> None:
    assert type(error) is case.expected
    assert error.code == case.code
    assert error.origin == "host"
    assert error.correlation_id == correlation_id
    assert str(error) == f"{case.code}: {error.message} (correlation id {correlation_id})"
    assert not error.retry_allowed
    enterprise = error.enterprise_error
    assert (enterprise.code, enterprise.correlation_id) == (case.code, correlation_id)
    assert enterprise.tenant_id == "default"
    assert enterprise.principal_id.endswith("/client/demo")


# ---------------------------------------------------------------- sync client


def test_sync_session_lifecycle_and_tools(client: Client) -> None:
    session = client.create_session(ttl_seconds=120, metadata={"purpose": "test"})
    assert session.session_id.startswith("sess-")
    assert session.expires_at_ms > time.time() * 1000
    tools = {t.name: t for t in client.list_tools(session.session_id)}
    assert set(tools) == {c["name"] for c in CONTRACTS}
    assert tools["add"].parameters["required"] == ["a", "b"]
    assert tools["count"].supports_streaming and not tools["add"].supports_streaming
    assert tools["add"].digest.startswith("sha256:")
    assert (tools["add"].version, tools["add"].classification) == ("1.0.0", "INTERNAL")
    client.destroy_session(session.session_id)
    with pytest.raises(SessionError, match="INVALID_SESSION"):
        client.list_tools(session.session_id)
    with pytest.raises(SessionError, match="INVALID_SESSION"):
        client.destroy_session(session.session_id)


def test_sync_call_success_and_business_error(client: Client) -> None:
    session = client.create_session()
    result = client.call(session.session_id, "add", {"a": 2, "b": 40}, correlation_id="wf-sync-1")
    assert (result.status, result.content, result.ok) == ("SUCCESS", 42, True)
    assert result.invocation_id.startswith("inv-")
    assert result.correlation_id == "wf-sync-1"
    assert not result.executed_locally
    failed = client.call(session.session_id, "divide", {"a": 1, "b": 0}, call_id="div-0")
    assert (failed.status, failed.content) == ("ERROR", MISSING)
    assert (failed.error_type, failed.error_message) == (
        "DIVISION_BY_ZERO",
        "cannot divide by zero",
    )
    assert failed.call_id == "div-0"
    assert failed.to_json() == {
        "call_id": "div-0",
        "name": "divide",
        "status": "ERROR",
        "error": {"message": "cannot divide by zero", "type": "DIVISION_BY_ZERO"},
        "invocation_id": failed.invocation_id,
        "correlation_id": failed.correlation_id,
        "executed_locally": False,
    }
    assert result.to_json()["content"] == 42


@pytest.mark.parametrize("case", REFUSALS.values(), ids=REFUSALS.keys())
def test_sync_refusals_raise_typed_errors(live: LiveHost, client: Client, case: Refusal) -> None:
    own = client.create_session().session_id
    sessions = {"own": own, "unknown": "sess-unknown"}
    if case.session == "foreign":
        with Client(live.target, **live.pem("other")) as other:
            sessions["foreign"] = other.create_session().session_id
    cid = f"wf-sync-{case.code.lower()}"
    with pytest.raises(case.expected, match=case.code) as info:
        if case.method == "call":
            client.call(sessions[case.session], case.name, case.args, correlation_id=cid)
        else:
            list(client.stream(sessions[case.session], case.name, case.args, correlation_id=cid))
    _check_refusal(info.value, case, cid)


def test_sync_stream_and_in_band_error(client: Client) -> None:
    session = client.create_session()
    assert list(client.stream(session.session_id, "count", {"n": 4})) == [0, 1, 2, 3]
    assert list(client.stream(session.session_id, "count", {"n": 0})) == [None]
    received: list[Any] = []
    with pytest.raises(ExecutionFailed, match="TOOL_EXECUTION_FAILED.*boom") as info:
        for item in client.stream(session.session_id, "explode", {"n": 3}):
            received.append(item)
    assert received == [0, 1]  # the Runtime holds the last item back until it knows it is final
    assert info.value.origin == "runtime"


def test_sync_governed_local_dispatch(live: LiveHost, client: Client) -> None:
    local, calls = make_local()
    session = client.create_session()
    result = client.run_locally(session.session_id, local, "add", {"a": 3, "b": 4})
    assert (result.status, result.content, result.executed_locally) == ("SUCCESS", 7, True)
    assert calls == [("add", {"a": 3, "b": 4})]
    wait_until(lambda: not client.pending_logs())
    assert not client.log_sender.rejected()
    (logged,) = live.events("TOOL_INVOCATION_COMPLETE", invocation_id=result.invocation_id)
    assert logged.metadata["mode"] == "governed_local"
    assert logged.correlation_id == result.correlation_id


def test_sync_logs_are_buffered_while_the_host_is_unreachable(
    live: LiveHost, client: Client
) -> None:
    local, calls = make_local()
    session = client.create_session()
    with Client(dead_target(), **live.pem()) as dead:
        sender = LogSender(dead, policy=AuditRetryPolicy(initial_backoff_ms=20, max_backoff_ms=50))
        governed = GovernedLocal(client, local, log_sender=sender)
        result = governed.run_governed(session.session_id, "divide", {"a": 1, "b": 0})
        assert (result.status, result.error_type, result.executed_locally) == (
            "ERROR",
            "DIVISION_BY_ZERO",
            True,
        )
        wait_until(lambda: sender.pending()[0].attempts >= 2)
        assert sender.pending()[0].invocation_id == result.invocation_id
        assert not live.events("TOOL_INVOCATION_COMPLETE", invocation_id=result.invocation_id)
        sender.retarget(client)  # the Host is reachable again
        assert governed.flush() == 0
        sender.close()
    (logged,) = live.events("TOOL_INVOCATION_COMPLETE", invocation_id=result.invocation_id)
    assert (logged.outcome, logged.metadata["status"]) == ("ERROR", "ERROR")
    assert len(calls) == 1


# ---------------------------------------------------------------- async client


async def test_async_sessions_tools_and_calls(aclient: AsyncClient) -> None:
    session = await aclient.create_session()
    names = sorted(t.name for t in await aclient.list_tools(session.session_id))
    assert names == sorted(c["name"] for c in CONTRACTS)
    result = await aclient.call(session.session_id, "multiply", {"a": 6, "b": 7})
    assert (result.status, result.content) == ("SUCCESS", 42)
    failed = await aclient.call(session.session_id, "divide", {"a": 1, "b": 0})
    assert (failed.status, failed.error_type) == ("ERROR", "DIVISION_BY_ZERO")
    await aclient.destroy_session(session.session_id, force=True)
    with pytest.raises(SessionError, match="INVALID_SESSION"):
        await aclient.call(session.session_id, "add", {"a": 1, "b": 2})


@pytest.mark.parametrize("case", REFUSALS.values(), ids=REFUSALS.keys())
async def test_async_refusals_raise_typed_errors(
    live: LiveHost, aclient: AsyncClient, case: Refusal
) -> None:
    own = (await aclient.create_session()).session_id
    sessions = {"own": own, "unknown": "sess-unknown"}
    if case.session == "foreign":
        async with AsyncClient(live.target, **live.pem("other")) as other:
            sessions["foreign"] = (await other.create_session()).session_id
    cid = f"wf-async-{case.code.lower()}"
    with pytest.raises(case.expected, match=case.code) as info:
        if case.method == "call":
            await aclient.call(sessions[case.session], case.name, case.args, correlation_id=cid)
        else:
            stream = aclient.stream(
                sessions[case.session], case.name, case.args, correlation_id=cid
            )
            [item async for item in stream]
    _check_refusal(info.value, case, cid)


async def test_async_stream_and_in_band_error(aclient: AsyncClient) -> None:
    session = await aclient.create_session()
    items = [i async for i in aclient.stream(session.session_id, "count", {"n": 3})]
    assert items == [0, 1, 2]
    received: list[Any] = []
    with pytest.raises(ExecutionFailed, match="TOOL_EXECUTION_FAILED"):
        async for item in aclient.stream(session.session_id, "explode", {"n": 2}):
            received.append(item)
    assert received == [0]


# ---------------------------------------------------------------- governed local dispatch (async)


async def test_governed_local_approved_executed_and_logged(
    live: LiveHost, aclient: AsyncClient
) -> None:
    local, calls = make_local()
    session = await aclient.create_session()
    result = await aclient.run_locally(
        session.session_id, local, "add", {"a": 20, "b": 22}, correlation_id="wf-gl-1"
    )
    assert (result.content, result.executed_locally, result.correlation_id) == (42, True, "wf-gl-1")
    assert calls == [("add", {"a": 20, "b": 22})]
    (approved,) = live.events("AUTHORIZATION_SUCCESS", invocation_id=result.invocation_id)
    assert approved.metadata["args_sha256"] == content_digest({"a": 20, "b": 22})
    await await_until(lambda: not aclient.pending_logs())  # delivered in the background
    assert not aclient.log_sender.rejected()
    (logged,) = live.events("TOOL_INVOCATION_COMPLETE", invocation_id=result.invocation_id)
    assert (logged.outcome, logged.metadata["mode"]) == ("SUCCESS", "governed_local")


async def test_result_comes_before_the_log_and_logs_survive_an_outage(
    live: LiveHost, aclient: AsyncClient
) -> None:
    local, _ = make_local()
    session = await aclient.create_session()
    async with AsyncClient(dead_target(), **live.pem()) as dead:
        policy = AuditRetryPolicy(initial_backoff_ms=20, max_backoff_ms=50)
        sender = AsyncLogSender(dead, policy=policy)
        governed = AsyncGovernedLocal(aclient, local, log_sender=sender)
        result = await governed.run_governed(session.session_id, "add", {"a": 1, "b": 1})
        # item 124: the caller has the result; the log is not acknowledged yet
        assert result.content == 2
        assert [p.invocation_id for p in governed.pending_logs()] == [result.invocation_id]
        await await_until(lambda: sender.pending()[0].attempts >= 6)  # item 125: retried
        # the dead client's breaker opened after 5 failures; retries continue regardless
        assert sender.pending()[0].last_error_code == "SERVICE_UNAVAILABLE"
        assert not live.events("TOOL_INVOCATION_COMPLETE", invocation_id=result.invocation_id)
        sender.retarget(aclient)
        assert await governed.flush() == 0
        await sender.close()
    assert live.events("TOOL_INVOCATION_COMPLETE", invocation_id=result.invocation_id)


async def test_replayed_or_rebound_logs_are_rejected(aclient: AsyncClient) -> None:
    session = await aclient.create_session()
    auth = await aclient.authorize(session.session_id, "add", {"a": 1, "b": 2})
    assert auth.invocation_id.startswith("inv-") and auth.ttl_ms == 300_000
    assert auth.args_sha256 == content_digest({"a": 1, "b": 2})
    # item 122: a log whose argument hash is not the authorised one is REJECTED
    rebound = {"args_sha256": content_digest({"a": 1, "b": 3})}
    with pytest.raises(ProtocolError, match="PROTOCOL_VIOLATION.*argument hash") as info:
        await aclient.log_result(
            auth, ToolResult.success(auth.call_id, "add", 4), execution_metadata=rebound
        )
    assert info.value.origin == "host"
    # item 121: the second log of one invocation is a replay
    auth = await aclient.authorize(session.session_id, "add", {"a": 1, "b": 2})
    receipt = await aclient.log_result(auth, ToolResult.success(auth.call_id, "add", 3))
    assert receipt.invocation_id == auth.invocation_id
    with pytest.raises(ProtocolError, match="PROTOCOL_VIOLATION.*unknown, was already used"):
        await aclient.log_result(auth, ToolResult.success(auth.call_id, "add", 3))


async def test_execution_is_refused_unless_the_authorisation_fits(aclient: AsyncClient) -> None:
    local, calls = make_local()
    session = await aclient.create_session()
    governed = AsyncGovernedLocal(aclient, local)
    auth = await aclient.authorize(session.session_id, "add", {"a": 1, "b": 2})
    with pytest.raises(TamperDetected, match="not bound to these arguments"):
        await governed.execute(replace(auth, args={"a": 1, "b": 3}))
    with pytest.raises(AuthorizationExpired, match="expired before execution"):
        await governed.execute(replace(auth, expires_at=time.monotonic() - 1))  # item 117
    with pytest.raises(InvalidAuthorization, match="no valid invocation id"):
        await governed.execute(replace(auth, invocation_id=""))
    assert calls == []
    assert (await governed.execute(auth)).content == 3
    with pytest.raises(ProtocolError, match="INVALID_STATE.*already executed"):
        await governed.execute(auth)
    assert calls == [("add", {"a": 1, "b": 2})]
    assert await governed.flush() == 0


async def test_denied_calls_never_execute_and_never_fall_back(
    live: LiveHost, aclient: AsyncClient
) -> None:
    local, calls = make_local()
    own = (await aclient.create_session()).session_id
    async with AsyncClient(live.target, **live.pem("other")) as other:
        foreign = (await other.create_session()).session_id
    with pytest.raises(PermissionDenied, match="PERMISSION_DENIED"):
        await aclient.run_locally(foreign, local, "add", {"a": 1, "b": 2}, correlation_id="wf-d1")
    with pytest.raises(InvalidArguments, match="SCHEMA_VIOLATION"):  # item 114
        await aclient.run_locally(own, local, "add", {"a": "one", "b": 2}, correlation_id="wf-d2")
    with pytest.raises(SessionError, match="INVALID_SESSION"):
        await aclient.run_locally("sess-gone", local, "add", {"a": 1, "b": 2})
    assert calls == []
    for cid in ("wf-d1", "wf-d2"):  # no remote fallback after a denial (item 127)
        kinds = {e.event_type for e in live.events_for_correlation(cid)}
        assert kinds == {"AUTHORIZATION_DENIED"}


async def test_an_authorisation_that_expired_before_execution_is_renewed(
    live: LiveHost, aclient: AsyncClient
) -> None:
    local, calls = make_local()
    session = await aclient.create_session()
    late = iter([time.monotonic() + 3600])  # the first check happens "an hour later"
    governed = AsyncGovernedLocal(aclient, local, clock=lambda: next(late, time.monotonic()))
    result = await governed.run_governed(
        session.session_id, "add", {"a": 5, "b": 5}, correlation_id="wf-renew"
    )
    assert result.content == 10
    approvals = [
        e
        for e in live.events_for_correlation("wf-renew")
        if e.event_type == "AUTHORIZATION_SUCCESS"
    ]
    assert len(approvals) == 2
    assert approvals[1].metadata["invocation_id"] == result.invocation_id
    assert len(calls) == 1
    assert await governed.flush() == 0


async def test_a_tool_not_registered_locally_runs_remotely(aclient: AsyncClient) -> None:
    local, calls = make_local()
    session = await aclient.create_session()
    result = await aclient.run_locally(session.session_id, local, "multiply", {"a": 3, "b": 3})
    assert (result.content, result.executed_locally) == (9, False)  # item 126
    assert result.invocation_id.startswith("inv-")
    assert calls == []


# ---------------------------------------------------------------- execution modes (item 134, C-26)


def test_mode_precedence_is_tool_session_client_global() -> None:
    policy = ModePolicy(global_mode=ExecutionMode.GOVERNED_LOCAL)
    assert policy.resolve("s1", "add") is ExecutionMode.GOVERNED_LOCAL
    policy.set_client(ExecutionMode.REMOTE)
    assert policy.resolve("s1", "add") is ExecutionMode.REMOTE
    policy.set_session("s1", ExecutionMode.GOVERNED_LOCAL)
    assert policy.resolve("s1", "add") is ExecutionMode.GOVERNED_LOCAL
    assert policy.resolve("s2", "add") is ExecutionMode.REMOTE
    policy.set_tool("add", ExecutionMode.REMOTE)
    assert policy.resolve("s1", "add") is ExecutionMode.REMOTE
    policy.set_tool("add", None)
    assert policy.resolve("s1", "add") is ExecutionMode.GOVERNED_LOCAL


def test_routes() -> None:
    assert route(ExecutionMode.REMOTE, local=True) is Route.REMOTE
    assert route(ExecutionMode.GOVERNED_LOCAL, local=True) is Route.GOVERNED
    assert route(ExecutionMode.GOVERNED_LOCAL, local=False) is Route.REMOTE
    assert route(ExecutionMode.LOCAL_FIRST, local=True) is Route.UNGOVERNED
    assert route(ExecutionMode.LOCAL_FIRST, local=False) is Route.REMOTE
    assert route(ExecutionMode.LOCAL_ONLY, local=True) is Route.UNGOVERNED
    assert route(ExecutionMode.LOCAL_ONLY, local=False) is Route.UNAVAILABLE


@pytest.mark.parametrize("mode", [ExecutionMode.LOCAL_FIRST, ExecutionMode.LOCAL_ONLY])
def test_ungoverned_modes_are_refused_in_aesp_deployments(mode: ExecutionMode) -> None:
    with pytest.raises(ValueError, match="C-26"):
        ModePolicy(client_mode=mode)
    policy = ModePolicy()
    with pytest.raises(ValueError, match="allow_ungoverned"):
        policy.set_tool("add", mode)


async def test_modes_decide_where_calls_run(live: LiveHost, aclient: AsyncClient) -> None:
    local, calls = make_local()
    session = (await aclient.create_session()).session_id
    policy = ModePolicy(global_mode=ExecutionMode.GOVERNED_LOCAL)
    policy.set_tool("add", ExecutionMode.REMOTE)
    governed = AsyncGovernedLocal(aclient, local, policy=policy)
    assert not (await governed.run(session, "add", {"a": 1, "b": 1})).executed_locally
    assert (await governed.run(session, "divide", {"a": 4, "b": 2})).executed_locally
    policy.set_session(session, ExecutionMode.REMOTE)
    assert not (await governed.run(session, "divide", {"a": 4, "b": 2})).executed_locally
    assert calls == [("divide", {"a": 4, "b": 2})]  # REMOTE never executed locally
    assert await governed.flush() == 0


async def test_ungoverned_execution_when_explicitly_allowed_warns(
    live: LiveHost, aclient: AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    local, calls = make_local()
    session = (await aclient.create_session()).session_id
    policy = ModePolicy(client_mode=ExecutionMode.LOCAL_ONLY, allow_ungoverned=True)
    governed = AsyncGovernedLocal(aclient, local, policy=policy)
    with caplog.at_level(logging.WARNING, logger="aesp.client.governed"):
        result = await governed.run(session, "add", {"a": 2, "b": 2}, correlation_id="wf-ungov")
    assert (result.content, result.executed_locally, result.invocation_id) == (4, True, "")
    assert "UNGOVERNED local execution of 'add'" in caplog.text
    assert live.events_for_correlation("wf-ungov") == []  # the Host never heard of it
    with pytest.raises(ToolUnavailable, match="UNSUPPORTED_TOOL.*local_only"):
        await governed.run(session, "multiply", {"a": 2, "b": 2})
    policy.set_client(ExecutionMode.LOCAL_FIRST)
    remote = await governed.run(session, "multiply", {"a": 2, "b": 3})
    assert (remote.content, remote.executed_locally) == (6, False)
    assert calls == [("add", {"a": 2, "b": 2})]


# ---------------------------------------------------------------- C-15: a scripted Host


class ScriptedHost(host_pb2_grpc.GridClientServiceServicer):
    """A GridClientService that answers whatever the test scripts (client-side tests only)."""

    def __init__(self) -> None:
        self.authorize = grid_pb2.AuthorizeToolCallResponse()
        self.log = grid_pb2.LogToolResultResponse()
        self.call = host_pb2.ToolCallResponse()

    async def AuthorizeToolCall(
        self, request: grid_pb2.AuthorizeToolCallRequest, context: grpc.aio.ServicerContext
    ) -> grid_pb2.AuthorizeToolCallResponse:
        return self.authorize

    async def LogToolResult(
        self, request: grid_pb2.LogToolResultRequest, context: grpc.aio.ServicerContext
    ) -> grid_pb2.LogToolResultResponse:
        return self.log

    async def CallTool(
        self, request: grid_pb2.ToolCall, context: grpc.aio.ServicerContext
    ) -> host_pb2.ToolCallResponse:
        return self.call


@asynccontextmanager
async def scripted_host(pki: DevPki) -> AsyncIterator[tuple[ScriptedHost, AsyncClient]]:
    servicer = ScriptedHost()
    server = grpc.aio.server()
    host_pb2_grpc.add_GridClientServiceServicer_to_server(servicer, server)
    credentials = server_credentials(
        pki.host_cert.read_bytes(), pki.host_key.read_bytes(), pki.ca.read_bytes()
    )
    port = server.add_secure_port("127.0.0.1:0", credentials)
    await server.start()
    cert, key = pki.client("demo")
    pem = Pem(ca=pki.ca.read_bytes(), cert=cert.read_bytes(), key=key.read_bytes())
    try:
        async with AsyncClient(f"localhost:{port}", **pem) as c:
            yield servicer, c
    finally:
        await server.stop(0)


_APPROVED = grid_pb2.AuthorizeToolCallResponse.APPROVED
_PENDING = grid_pb2.AuthorizeToolCallResponse.PENDING
_DENIED = grid_pb2.AuthorizeToolCallResponse.DENIED
_SHA = content_digest({"a": 1, "b": 2})
UNSAFE_APPROVALS = {
    "empty-answer": (grid_pb2.AuthorizeToolCallResponse(), InvalidAuthorization, "C-15"),
    "no-invocation-id": (
        grid_pb2.AuthorizeToolCallResponse(status=_APPROVED, authorization_ttl_ms=300_000),
        InvalidAuthorization,
        "no invocation id",
    ),
    "zero-ttl": (
        grid_pb2.AuthorizeToolCallResponse(status=_APPROVED, invocation_id="inv-1"),
        InvalidAuthorization,
        "no TTL",
    ),
    "pending": (
        grid_pb2.AuthorizeToolCallResponse(
            status=_PENDING, invocation_id="inv-1", authorization_ttl_ms=1000
        ),
        PermissionDenied,
        "PENDING",
    ),
    "denied-without-error": (
        grid_pb2.AuthorizeToolCallResponse(status=_DENIED),
        PermissionDenied,
        "DENIED",
    ),
    "error-with-default-status": (
        grid_pb2.AuthorizeToolCallResponse(
            invocation_id="inv-1",
            authorization_ttl_ms=1000,
            execution_context={"args_sha256": _SHA},
            error=grid_pb2.EnhancedError(type="POLICY_VIOLATION", message="no", tenant_id="t1"),
        ),
        PermissionDenied,
        "POLICY_VIOLATION",
    ),
    "approval-for-another-workflow": (
        grid_pb2.AuthorizeToolCallResponse(
            status=_APPROVED,
            invocation_id="inv-1",
            authorization_ttl_ms=1000,
            correlation_id="someone-else",
            execution_context={"args_sha256": _SHA},
        ),
        InvalidAuthorization,
        "someone-else",
    ),
    "malformed-invocation-id": (
        grid_pb2.AuthorizeToolCallResponse(
            status=_APPROVED,
            invocation_id="inv 1\n",
            authorization_ttl_ms=1000,
            execution_context={"args_sha256": _SHA},
        ),
        InvalidAuthorization,
        "no valid invocation id",
    ),
    "approval-without-argument-hash": (
        grid_pb2.AuthorizeToolCallResponse(
            status=_APPROVED, invocation_id="inv-1", authorization_ttl_ms=1000
        ),
        TamperDetected,
        "not bound",
    ),
}


@pytest.mark.parametrize("answer", UNSAFE_APPROVALS.values(), ids=UNSAFE_APPROVALS.keys())
async def test_only_a_complete_approval_allows_execution(
    dev_pki: DevPki, answer: tuple[grid_pb2.AuthorizeToolCallResponse, type[Exception], str]
) -> None:
    response, expected, match = answer
    local, calls = make_local()
    async with scripted_host(dev_pki) as (host, c):
        host.authorize = response
        with pytest.raises(expected, match=match):
            await c.run_locally("sess-1", local, "add", {"a": 1, "b": 2})
    assert calls == []


async def test_ambiguous_answers_are_protocol_errors(dev_pki: DevPki) -> None:
    async with scripted_host(dev_pki) as (host, c):
        host.authorize = grid_pb2.AuthorizeToolCallResponse(
            status=_APPROVED,
            invocation_id="inv-1",
            authorization_ttl_ms=1000,
            execution_context={"args_sha256": _SHA},
        )
        auth = await c.authorize("sess-1", "add", {"a": 1, "b": 2})
        result = ToolResult.success(auth.call_id, "add", 3)
        with pytest.raises(ProtocolError, match="EMPTY_ACK|empty"):  # LOGGED is the zero value
            await c.log_result(auth, result)
        with pytest.raises(ProtocolError, match="neither a result nor an error"):
            await c.call("sess-1", "add", {"a": 1, "b": 2})
        host.call = host_pb2.ToolCallResponse(
            result=grid_pb2.ToolResult(result={"call_id": "other", "name": "add", "status": 1})
        )
        with pytest.raises(ProtocolError, match="does not answer this call"):
            await c.call("sess-1", "add", {"a": 1, "b": 2})


# ---------------------------------------------------------------- transport failures and errors


def test_unreachable_host_is_a_transport_error_then_the_breaker_opens(live: LiveHost) -> None:
    with Client(dead_target(), **live.pem()) as c:
        with pytest.raises(TransportError, match="CONNECTION_FAILED: Could not reach") as info:
            c.create_session()
        assert info.value.origin == "transport"
        assert info.value.correlation_id.startswith("client-")
        assert str(info.value).endswith(f"(correlation id {info.value.correlation_id})")
        for _ in range(4):
            with pytest.raises(TransportError):
                c.call("sess", "add", {"a": 1, "b": 2})
        with pytest.raises(CircuitOpen, match="SERVICE_UNAVAILABLE") as opened:
            c.call("sess", "add", {"a": 1, "b": 2})
        assert 0 < opened.value.retry_after_ms <= 30_000


async def test_untrusted_host_certificate_is_a_tls_failure(
    live: LiveHost, foreign_pki: DevPki
) -> None:
    cert, key = foreign_pki.client("demo")
    pem = Pem(ca=foreign_pki.ca.read_bytes(), cert=cert.read_bytes(), key=key.read_bytes())
    async with AsyncClient(live.target, **pem) as c:
        with pytest.raises(TransportError, match="TLS_HANDSHAKE_FAILED") as info:
            await c.create_session()
    assert info.value.remediation_steps


def test_every_registered_code_has_a_family() -> None:
    missing = sorted(code for code in (*REGISTRY, *ALIASES) if code not in FAMILY_OF_CODE)
    assert missing == []


def test_enterprise_error_carries_the_aesp_fields_and_survives_pickling() -> None:
    enhanced = grid_pb2.EnhancedError(
        type="TENANT_ACCESS_DENIED",
        message="not yours",
        details={"reason": "x"},
        correlation_id="c-1",
        retry_after_ms=0,
        remediation_steps=["use your own session"],
        tenant_id="acme",
        principal_id="spiffe://aesp.local/tenant/acme/client/bob",
        security_implications=["cross-tenant attempt"],
        compliance_impact=["SOC2"],
        escalation_required=True,
    )
    error = error_for(enhanced)
    assert isinstance(error, PermissionDenied)
    e = error.enterprise_error
    assert (e.code, e.message, dict(e.details)) == (
        "TENANT_ACCESS_DENIED",
        "not yours",
        {"reason": "x"},
    )
    assert (e.tenant_id, e.principal_id) == ("acme", "spiffe://aesp.local/tenant/acme/client/bob")
    assert (list(e.security_implications), list(e.compliance_impact)) == (
        ["cross-tenant attempt"],
        ["SOC2"],
    )
    assert e.escalation_required and list(e.remediation_steps) == ["use your own session"]
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is PermissionDenied and str(copy) == str(error)


def test_unencodable_arguments_are_refused_locally(live: LiveHost) -> None:
    with (
        Client(live.target, **live.pem()) as c,
        pytest.raises(InvalidArguments, match="MALFORMED_REQUEST") as info,
    ):
        c.call("sess", "add", {"a": float("nan")})
    assert info.value.origin == "client"


def test_bad_credentials_fail_at_construction(live: LiveHost, tmp_path: Path) -> None:
    pem = live.pem()
    _, other_key = live.handle.pki.client("other")
    with pytest.raises(ValueError, match="does not belong"):
        Client(live.target, ca=pem["ca"], cert=pem["cert"], key=other_key.read_bytes())
