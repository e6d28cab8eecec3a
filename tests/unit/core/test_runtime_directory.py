"""Which Host replica holds which Runtime, through one State store (DESIGN §10): published
and refreshed, withdrawn when gone, read by the other replicas without waiting on the store."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import pytest
from aesp_local.state import MemoryStateStore

from aesp.core import ids
from aesp.core.errors import ExecutionError
from aesp.core.runtime_directory import RuntimeDirectory, refusal


@dataclass
class Conn:
    """What the directory reads of a Runtime connection."""

    connection_id: str
    runtime_id: str
    tenant_id: str
    fulfilled: set[tuple[str, str]] = field(default_factory=set)


class Registry:
    def __init__(self, *conns: Conn) -> None:
        self.conns = list(conns)

    def connections(self) -> list[Conn]:
        return list(self.conns)


async def settle(directory: RuntimeDirectory) -> None:
    while directory._tasks:  # noqa: SLF001 - wait for the background read the test started
        await asyncio.gather(*directory._tasks)  # noqa: SLF001


async def test_another_replica_sees_the_tenant_wide_fulfilments_only() -> None:
    store = MemoryStateStore()
    a_conn = Conn("conn-a", "rt-1", "acme", {("", "echo"), ("sess-1", "private")})
    a = RuntimeDirectory(store, Registry(a_conn), host_id="host-a")  # type: ignore[arg-type]
    b = RuntimeDirectory(store, Registry(), host_id="host-b")  # type: ignore[arg-type]
    await a.publish()
    assert b.elsewhere("acme", "echo") == []  # nothing read yet; a read starts
    await settle(b)
    [record] = b.elsewhere("acme", "echo")
    assert (record.host_id, record.runtime_id, record.tools) == ("host-a", "rt-1", ("echo",))
    assert b.elsewhere("acme", "private") == []  # a session's fulfilment is not the tenant's
    assert b.elsewhere("other", "echo") == []  # tenants never mix
    await settle(b)
    assert b.elsewhere("other", "echo") == []
    assert a.elsewhere("acme", "echo") == []  # its own Runtimes are not "elsewhere"


async def test_a_connection_that_goes_away_is_withdrawn() -> None:
    store = MemoryStateStore()
    registry = Registry(Conn("conn-a", "rt-1", "acme", {("", "echo")}))
    a = RuntimeDirectory(store, registry, host_id="host-a")  # type: ignore[arg-type]
    await a.publish()
    assert len(await store.runtimes("acme", now_ms=ids.now_ms())) == 1
    registry.conns.clear()
    await a.publish()
    assert await store.runtimes("acme", now_ms=ids.now_ms()) == []


async def test_stopping_withdraws_every_record() -> None:
    store = MemoryStateStore()
    registry = Registry(Conn("c1", "rt-1", "acme", {("", "echo")}), Conn("c2", "rt-2", "acme"))
    a = RuntimeDirectory(store, registry, host_id="host-a")  # type: ignore[arg-type]
    await a.start()
    await asyncio.sleep(0.05)
    assert [r.connection_id for r in await store.runtimes("acme", now_ms=ids.now_ms())] == ["c1"]
    await a.stop()
    assert await store.runtimes("acme", now_ms=ids.now_ms()) == []


def test_the_refusal_names_the_replicas_and_what_to_do() -> None:
    from aesp.core.ports.state import RuntimeRecord

    others = [RuntimeRecord("c1", "rt-1", "acme", "host-a", ("echo",), 2**62)]
    error = refusal("echo", others)
    assert isinstance(error, ExecutionError) and error.code == "UNSUPPORTED_TOOL"
    assert error.details == {"reason": "FULFILLED_ON_OTHER_REPLICAS", "replicas": "host-a"}
    assert "every Host replica" in error.message and error.retry_after_ms > 0


@pytest.mark.parametrize("tenant", ["acme"])
async def test_records_expire_when_a_replica_stops_publishing(tenant: str) -> None:
    store = MemoryStateStore()
    a = RuntimeDirectory(  # type: ignore[arg-type]
        store, Registry(Conn("c1", "rt-1", tenant, {("", "echo")})), host_id="host-a"
    )
    await a.publish()
    [record] = await store.runtimes(tenant, now_ms=ids.now_ms())
    assert await store.runtimes(tenant, now_ms=record.expires_at_ms) == []  # a dead replica
