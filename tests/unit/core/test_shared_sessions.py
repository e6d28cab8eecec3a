"""Sessions shared by two Hosts through one State store (DESIGN §10): created on one, usable on
the other by the same principal only, destroyed everywhere, and no waiting on a store that is
away for sessions already held."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Sequence
from typing import Any

import pytest
from aesp_local.state import MemoryStateStore

from aesp.core.config import LimitsConfig
from aesp.core.errors import AespError
from aesp.core.ports.state import BucketSpec, RuntimeRecord, SessionRecord, StateStore
from aesp.core.principal import Principal
from aesp.core.sessions import SessionManager
from aesp.core.shared_sessions import SharedSessions

ALICE = Principal("spiffe://aesp.local/tenant/acme/client/alice", "acme", "client", "alice")
MALLORY = Principal("spiffe://aesp.local/tenant/evil/client/alice", "evil", "client", "alice")


class Away:
    """A State store that cannot be reached: every method fails as adapters must."""

    def __init__(self, inner: MemoryStateStore) -> None:
        self.inner = inner
        self.down = False

    def _check(self) -> None:
        if self.down:
            raise AespError("SERVICE_UNAVAILABLE", "The shared state store is unreachable.")

    async def take(self, key: str, spec: BucketSpec, *, now_ms: int, cost: int = 1) -> int:
        self._check()
        return await self.inner.take(key, spec, now_ms=now_ms, cost=cost)

    async def put_session(self, record: SessionRecord) -> None:
        self._check()
        await self.inner.put_session(record)

    async def get_session(self, session_id: str) -> SessionRecord | None:
        self._check()
        return await self.inner.get_session(session_id)

    async def delete_session(self, session_id: str) -> bool:
        self._check()
        return await self.inner.delete_session(session_id)

    async def put_runtime(self, record: RuntimeRecord) -> None:
        self._check()
        await self.inner.put_runtime(record)

    async def delete_runtime(self, connection_id: str) -> bool:
        self._check()
        return await self.inner.delete_runtime(connection_id)

    async def runtimes(self, tenant_id: str, *, now_ms: int) -> Sequence[RuntimeRecord]:
        self._check()
        return await self.inner.runtimes(tenant_id, now_ms=now_ms)

    async def claim(self, key: str, *, until_ms: int, now_ms: int) -> bool:
        self._check()
        return await self.inner.claim(key, until_ms=until_ms, now_ms=now_ms)

    async def close(self) -> None:
        await self.inner.close()


class Replica:
    """The session half of one Host."""

    def __init__(self, store: Any, recheck_ms: int = 0) -> None:
        self.tasks: set[asyncio.Task[None]] = set()
        self.sessions = SessionManager(LimitsConfig())
        self.shared = SharedSessions(self.sessions, store, self.spawn, recheck_ms=recheck_ms)

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def settle(self) -> None:
        while self.tasks:
            await asyncio.gather(*self.tasks)


@pytest.fixture
def store() -> Away:
    away = Away(MemoryStateStore())
    assert isinstance(away, StateStore)  # the double implements the whole port
    return away


async def test_a_session_created_on_one_host_is_used_on_the_other(store: Away) -> None:
    a, b = Replica(store), Replica(store)
    session = a.sessions.create(ALICE, ttl_seconds=60, metadata={"app": "crm"})
    await a.shared.publish(session)
    adopted = await b.shared.resolve(session.session_id, ALICE)
    assert (adopted.session_id, adopted.tenant_id, adopted.principal_id) == (
        session.session_id,
        "acme",
        ALICE.principal_id,
    )
    assert adopted.expires_at_ms == session.expires_at_ms and adopted.metadata == {"app": "crm"}


async def test_another_tenant_cannot_use_an_adopted_session(store: Away) -> None:
    a, b = Replica(store), Replica(store)
    session = a.sessions.create(ALICE, ttl_seconds=60, metadata={})
    await a.shared.publish(session)
    with pytest.raises(AespError) as caught:
        await b.shared.resolve(session.session_id, MALLORY)
    assert caught.value.code == "TENANT_ACCESS_DENIED"


async def test_unknown_and_expired_records_are_invalid_sessions(store: Away) -> None:
    b = Replica(store)
    await store.put_session(SessionRecord("gone", "acme", ALICE.principal_id, 1, 2))
    for session_id in ("never", "gone"):
        with pytest.raises(AespError) as caught:
            await b.shared.resolve(session_id, ALICE)
        assert caught.value.code == "INVALID_SESSION"


async def test_a_session_destroyed_on_one_host_is_dropped_by_the_other(store: Away) -> None:
    a, b = Replica(store, recheck_ms=0), Replica(store, recheck_ms=0)
    session = a.sessions.create(ALICE, ttl_seconds=60, metadata={})
    await a.shared.publish(session)
    on_b = await b.shared.resolve(session.session_id, ALICE)
    a.sessions.destroy(session, force=True)
    await a.shared.forget(session)
    await b.shared.resolve(session.session_id, ALICE)  # served from memory; re-check queued
    await b.settle()
    assert on_b.closed
    with pytest.raises(AespError) as caught:
        await b.shared.resolve(session.session_id, ALICE)
    assert caught.value.code == "INVALID_SESSION"


async def test_a_store_that_is_away_delays_sharing_but_not_held_sessions(store: Away) -> None:
    a, b = Replica(store, recheck_ms=0), Replica(store)
    store.down = True
    session = a.sessions.create(ALICE, ttl_seconds=60, metadata={})
    await a.shared.publish(session)  # not shared yet; retried in the background
    assert (await a.shared.resolve(session.session_id, ALICE)) is session
    await asyncio.sleep(0)
    with pytest.raises(AespError) as caught:
        await b.shared.resolve(session.session_id, ALICE)
    assert caught.value.code == "INVALID_SESSION" and caught.value.retry_after_ms > 0
    store.down = False
    await asyncio.sleep(0.3)  # the first retry
    assert (await b.shared.resolve(session.session_id, ALICE)).session_id == session.session_id
    session.closed = True  # ends a's retry loop
    await a.settle()
