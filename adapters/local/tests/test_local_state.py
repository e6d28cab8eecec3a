"""The local State port passes the kit, and its memory stays bounded (buckets and sessions)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aesp_local.state import MemoryStateStore

from aesp.core.errors import ExecutionError
from aesp.core.ports.state import BucketSpec
from aesp.testing.conformance.state import (
    T0,
    AbstractStateStoreConformance,
    runtime_record,
    session_record,
)

SPEC = BucketSpec(rate_per_s=10.0, burst=2)


class TestMemoryStateStore(AbstractStateStoreConformance):
    @pytest.fixture
    async def port(self) -> AsyncIterator[MemoryStateStore]:
        store = MemoryStateStore()
        yield store
        await store.close()


async def test_full_buckets_are_evicted_at_the_bound_and_drained_ones_kept() -> None:
    store = MemoryStateStore(max_keys=4)
    await store.take("drained", SPEC, now_ms=T0, cost=2)
    for i in range(3):
        await store.take(f"idle-{i}", SPEC, now_ms=T0)  # one token left each
    assert len(store) == 4
    await store.take("new", SPEC, now_ms=T0 + 100)  # idle-* refilled to full by now
    assert len(store) == 2
    assert await store.take("drained", SPEC, now_ms=T0 + 100) == 0
    assert await store.take("drained", SPEC, now_ms=T0 + 100) == 100  # its state was kept


async def test_the_bound_holds_even_when_no_bucket_is_full() -> None:
    store = MemoryStateStore(max_keys=10)
    for i in range(50):
        await store.take(f"k{i}", SPEC, now_ms=T0, cost=2)
        assert len(store) <= 10
    assert await store.take("k49", SPEC, now_ms=T0) == 100  # the most recent key survived


async def test_idle_full_buckets_are_swept_below_the_bound_too() -> None:
    store = MemoryStateStore(max_keys=1000, sweep_interval_ms=1000)
    for i in range(20):
        await store.take(f"k{i}", SPEC, now_ms=T0)
    assert len(store) == 20
    await store.take("late", SPEC, now_ms=T0 + 1000)
    assert len(store) == 1


@pytest.mark.parametrize(
    ("spec", "cost"),
    [(BucketSpec(0.0, 1), 1), (BucketSpec(1.0, 0), 1), (BucketSpec(1.0, 1), 0)],
    ids=["zero-rate", "zero-burst", "zero-cost"],
)
async def test_an_unusable_bucket_is_a_programming_error(spec: BucketSpec, cost: int) -> None:
    with pytest.raises(ValueError, match="positive"):
        await MemoryStateStore().take("k", spec, now_ms=T0, cost=cost)


def test_the_store_refuses_a_zero_bound() -> None:
    with pytest.raises(ValueError, match="positive"):
        MemoryStateStore(max_keys=0)
    with pytest.raises(ValueError, match="positive"):
        MemoryStateStore(max_sessions=0)
    with pytest.raises(ValueError, match="positive"):
        MemoryStateStore(max_runtimes=0)


class Clock:
    """A settable clock for the session sweeps."""

    def __init__(self) -> None:
        self.now_ms = T0

    def __call__(self) -> int:
        return self.now_ms


async def test_expired_sessions_make_room_at_the_bound_and_live_ones_are_never_evicted() -> None:
    clock = Clock()
    store = MemoryStateStore(max_sessions=3, clock_ms=clock)
    await store.put_session(session_record("short", expires_at_ms=T0 + 1_000))
    await store.put_session(session_record("long-1"))
    await store.put_session(session_record("long-2"))
    with pytest.raises(ExecutionError, match="live sessions") as caught:
        await store.put_session(session_record("refused"))  # "short" is still live
    assert caught.value.code == "RESOURCE_EXHAUSTED"
    assert await store.get_session("short") is not None
    clock.now_ms = T0 + 1_000  # "short" expires exactly now
    await store.put_session(session_record("admitted"))
    assert await store.get_session("short") is None
    for kept in ("long-1", "long-2", "admitted"):
        assert await store.get_session(kept) is not None
    assert store.session_count() == 3


async def test_expired_sessions_are_swept_below_the_bound_too() -> None:
    clock = Clock()
    store = MemoryStateStore(max_sessions=1000, sweep_interval_ms=1000, clock_ms=clock)
    for i in range(10):
        await store.put_session(session_record(f"s{i}", expires_at_ms=T0 + 500))
    assert store.session_count() == 10
    clock.now_ms = T0 + 999  # expired, but the sweep interval has not passed
    await store.put_session(session_record("a"))
    assert store.session_count() == 11
    clock.now_ms = T0 + 1_000
    await store.put_session(session_record("b"))
    assert store.session_count() == 2


async def test_an_expired_record_is_still_returned_until_swept() -> None:
    clock = Clock()
    store = MemoryStateStore(clock_ms=clock)
    record = session_record(expires_at_ms=T0 + 10)
    await store.put_session(record)
    clock.now_ms = T0 + 20
    assert await store.get_session(record.session_id) == record  # the caller checks expiry


async def test_close_forgets_sessions() -> None:
    store = MemoryStateStore()
    await store.put_session(session_record())
    await store.close()
    assert await store.get_session("s-1") is None


async def test_expired_runtimes_make_room_at_the_bound_and_live_ones_are_never_evicted() -> None:
    clock = Clock()
    store = MemoryStateStore(max_runtimes=2, clock_ms=clock)
    await store.put_runtime(runtime_record("short", expires_at_ms=T0 + 1_000))
    await store.put_runtime(runtime_record("long"))
    with pytest.raises(ExecutionError, match="Runtime connections") as caught:
        await store.put_runtime(runtime_record("refused"))
    assert caught.value.code == "RESOURCE_EXHAUSTED"
    await store.put_runtime(runtime_record("long", tools=("echo",)))  # re-publishing is fine
    clock.now_ms = T0 + 1_000  # "short" expires exactly now
    await store.put_runtime(runtime_record("admitted"))
    assert store.runtime_count() == 2
    listed = await store.runtimes("acme", now_ms=T0)
    assert [r.connection_id for r in listed] == ["admitted", "long"]


async def test_expired_runtimes_are_swept_below_the_bound_too() -> None:
    clock = Clock()
    store = MemoryStateStore(max_runtimes=1000, sweep_interval_ms=1000, clock_ms=clock)
    for i in range(10):
        await store.put_runtime(runtime_record(f"c{i}", expires_at_ms=T0 + 500))
    clock.now_ms = T0 + 999  # expired, but the sweep interval has not passed
    await store.put_runtime(runtime_record("a"))
    assert store.runtime_count() == 11
    clock.now_ms = T0 + 1_000
    await store.put_runtime(runtime_record("b"))
    assert store.runtime_count() == 2


async def test_close_forgets_runtimes() -> None:
    store = MemoryStateStore()
    await store.put_runtime(runtime_record())
    await store.close()
    assert await store.runtimes("acme", now_ms=T0) == []


async def test_claims_are_bounded_and_never_forgotten_early() -> None:
    store = MemoryStateStore(max_claims=2)
    assert await store.claim("a", until_ms=T0 + 100, now_ms=T0) is True
    assert await store.claim("b", until_ms=T0 + 1_000, now_ms=T0) is True
    with pytest.raises(ExecutionError, match="one-time credential claims") as caught:
        await store.claim("c", until_ms=T0 + 1_000, now_ms=T0 + 50)  # "a" still holds
    assert caught.value.code == "RESOURCE_EXHAUSTED"
    assert await store.claim("a", until_ms=T0 + 200, now_ms=T0 + 50) is False  # still a replay
    assert await store.claim("c", until_ms=T0 + 1_000, now_ms=T0 + 100) is True  # "a" expired
    assert store.claim_count() == 2
    assert await store.claim("b", until_ms=T0 + 2_000, now_ms=T0 + 100) is False
