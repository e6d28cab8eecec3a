"""SAML assertion ids claimed on the State port: a replay is refused by every replica."""

from __future__ import annotations

import asyncio
import time

import pytest
from aesp_local.state import MemoryStateStore

from aesp.server.gateway.replay import StateReplayCache


async def test_a_replay_to_another_replica_is_refused() -> None:
    shared = MemoryStateStore()  # what replicas share (DynamoDB on the aws profile)
    loop = asyncio.get_running_loop()
    replica_a, replica_b = StateReplayCache(shared, loop), StateReplayCache(shared, loop)
    now = time.time()
    key = "https://idp.example|_assertion-1"
    # The verifier runs in a worker thread, as the gateway's SAML front runs it.
    assert await asyncio.to_thread(replica_a.remember, key, now + 300, now) is True
    assert await asyncio.to_thread(replica_b.remember, key, now + 300, now + 1) is False
    assert await asyncio.to_thread(replica_a.remember, key, now + 300, now + 2) is False
    other = "https://idp.example|_assertion-2"
    assert await asyncio.to_thread(replica_b.remember, other, now + 300, now) is True


async def test_the_claim_ends_with_the_assertion() -> None:
    cache = StateReplayCache(MemoryStateStore(), asyncio.get_running_loop())
    now = time.time()
    assert await asyncio.to_thread(cache.remember, "idp|_a", now + 60, now) is True
    # After NotOnOrAfter (+ skew) the assertion is refused by its time checks anyway.
    assert await asyncio.to_thread(cache.remember, "idp|_a", now + 200, now + 61) is True


async def test_a_store_that_fails_fails_the_login(monkeypatch: pytest.MonkeyPatch) -> None:
    store = MemoryStateStore()

    async def unavailable(*args: object, **kwargs: object) -> bool:
        raise RuntimeError("SERVICE_UNAVAILABLE: the state table cannot be reached")

    monkeypatch.setattr(store, "claim", unavailable)
    cache = StateReplayCache(store, asyncio.get_running_loop())
    with pytest.raises(RuntimeError, match="SERVICE_UNAVAILABLE"):
        await asyncio.to_thread(cache.remember, "idp|_b", time.time() + 60, time.time())


async def test_calling_it_on_the_event_loop_thread_is_refused() -> None:
    cache = StateReplayCache(MemoryStateStore(), asyncio.get_running_loop())
    with pytest.raises(RuntimeError, match="off the event loop"):
        cache.remember("idp|_c", time.time() + 60, time.time())
