"""Tenants never mix: generated cross-tenant attempts against a real Host (SPEC §3.14, 181-186).

Tenant ``globex`` (the victim) has a client with live sessions, a granted authorisation and a
runtime serving every tool; tenant ``acme`` (the attacker) has a client and no runtime.
Hypothesis generates attempts by the attacker that name the victim's sessions, invocation ids,
tools and arguments on every client RPC. Each must be refused with ``TENANT_ACCESS_DENIED`` (or
a not-found code), say nothing about the victim, reach no runtime, and leave the victim's
sessions working.

Hypothesis drives a synchronous test; the Host and its gRPC channels live on an event loop in a
background thread, so one Host serves every generated example.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Coroutine, Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aesp.certs import init_dev_pki, issue_into
from aesp.proto.altar.adm.v1 import adm_pb2
from aesp.proto.altar.aesp.v1 import host_pb2
from aesp.proto.altar.grid.v1 import grid_pb2
from aesp.testing.harness import HostHandle, local_host
from tests.e2e.grid._grid import GridClient, fc, schema
from tests.e2e.scripted_runtime import ScriptedRuntime

T = TypeVar("T")
VICTIM, ATTACKER = "globex", "acme"
CONTRACTS: list[dict[str, Any]] = [
    {"name": "lookup", "description": "Look up.", "parameters": schema(q="STRING")},
    {"name": "payroll", "description": "Pay.", "parameters": schema(amount="INTEGER")},
]
NOT_FOUND = {"INVALID_SESSION", "UNSUPPORTED_TOOL", "PROTOCOL_VIOLATION"}


@dataclass
class World:
    """The running Host, both tenants' clients, and what the victim owns."""

    loop: asyncio.AbstractEventLoop
    host: HostHandle
    victim: GridClient
    attacker: GridClient
    runtime: ScriptedRuntime
    victim_sessions: list[str] = field(default_factory=list)
    attacker_session: str = ""
    invocation_ids: list[str] = field(default_factory=list)
    victim_principal: str = ""

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=30)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    directory: Path = tmp_path_factory.mktemp("tenants")
    pki = init_dev_pki(directory / "pki", tenant=VICTIM, runtimes=("rt",), clients=("victim",))
    issue_into(directory / "pki", "client", "attacker", tenant=ATTACKER)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    stack = AsyncExitStack()

    async def start() -> World:
        handle = await stack.enter_async_context(local_host(directory / "host", CONTRACTS, pki=pki))
        ca = pki.ca.read_bytes()
        victim = GridClient(handle.client_target, handle.client_pem("victim"))
        cert, key = pki.client("attacker")
        attacker = GridClient(handle.client_target, (ca, cert.read_bytes(), key.read_bytes()))
        runtime = ScriptedRuntime(handle.runtime_target, handle.runtime_pem("rt"))
        await runtime.start(["lookup", "payroll"])
        w = World(loop, handle, victim, attacker, runtime)
        w.victim_sessions = [await victim.session() for _ in range(3)]
        w.attacker_session = await attacker.session()
        granted = await victim.authorize(w.victim_sessions[0], fc("lookup", {"q": "x"}))
        assert not granted.HasField("error"), granted.error
        w.invocation_ids = [granted.invocation_id]
        w.victim_principal = f"spiffe://aesp.local/tenant/{VICTIM}/client/victim"
        return w

    async def stop(w: World) -> None:
        await w.victim.close()
        await w.attacker.close()
        await w.runtime.close()
        await stack.aclose()

    built = asyncio.run_coroutine_threadsafe(start(), loop).result(timeout=60)
    try:
        yield built
    finally:
        asyncio.run_coroutine_threadsafe(stop(built), loop).result(timeout=60)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)


RPCS = ("call", "stream", "authorize", "log", "list", "destroy")
arguments = st.one_of(
    st.fixed_dictionaries({"q": st.text(max_size=20)}),
    st.fixed_dictionaries({"amount": st.integers(-(2**40), 2**40)}),
    st.dictionaries(st.text(min_size=1, max_size=8), st.integers(), max_size=3),
)


async def attempt(w: World, rpc: str, session: str, tool: str, args: dict[str, Any]) -> Any:
    """One RPC by the attacker; returns the EnhancedError it got (or the response)."""
    a = w.attacker
    call = fc(tool, args)
    if rpc == "call":
        return (await a.call(session, call)).error
    if rpc == "stream":
        chunks = await a.stream(session, call)
        return chunks[0].error
    if rpc == "authorize":
        return (await a.authorize(session, call)).error
    if rpc == "log":
        result = adm_pb2.ToolResult(
            call_id=call.call_id, name=tool, status=adm_pb2.SUCCESS, content=b"{}"
        )
        return (await a.log(session, w.invocation_ids[0], result)).error
    if rpc == "list":
        return (await a.stub.ListTools(host_pb2.ListToolsRequest(session_id=session))).error
    reply = await a.stub.DestroySession(
        grid_pb2.DestroySession(session_id=session, force=True), timeout=5
    )
    return reply.error


def _says_nothing(error: Any, w: World) -> None:
    details = dict(getattr(error, "details", {}))
    text = json.dumps({"message": error.message, "details": details}, ensure_ascii=False)
    assert VICTIM not in text, text
    assert w.victim_principal not in text, text
    assert getattr(error, "tenant_id", "") in ("", ATTACKER)
    assert ATTACKER in getattr(error, "principal_id", ATTACKER)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    rpc=st.sampled_from(RPCS),
    pick=st.integers(0, 2),
    tool=st.sampled_from(["lookup", "payroll"]),
    args=arguments,
)
def test_items_181_184_foreign_sessions_are_denied_and_reveal_nothing(
    world: World, rpc: str, pick: int, tool: str, args: dict[str, Any]
) -> None:
    session = world.victim_sessions[pick]
    error = world.run(attempt(world, rpc, session, tool, args))
    assert error.type == "TENANT_ACCESS_DENIED", (rpc, error)
    _says_nothing(error, world)
    assert world.runtime.calls == []


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(tool=st.sampled_from(["lookup", "payroll"]), args=arguments)
def test_item_182_calls_never_route_to_another_tenants_runtime(
    world: World, tool: str, args: dict[str, Any]
) -> None:
    error = world.run(attempt(world, "call", world.attacker_session, tool, args))
    # acme has no runtime: globex's must never be used, whatever the arguments.
    assert error.type in {"UNSUPPORTED_TOOL", "SERVICE_UNAVAILABLE", "SCHEMA_VIOLATION"}, error
    _says_nothing(error, world)
    assert world.runtime.calls == []


def test_the_victims_sessions_still_work_after_the_attempts(world: World) -> None:
    async def use() -> Any:
        return await world.victim.call(world.victim_sessions[1], fc("lookup", {"q": "ok"}))

    response = world.run(use())
    assert not response.HasField("error"), response.error
    assert world.runtime.calls[-1].session_id == world.victim_sessions[1]
    assert NOT_FOUND.isdisjoint({response.error.type})
