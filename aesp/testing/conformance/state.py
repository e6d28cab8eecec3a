"""Conformance kit for the State port's token buckets (SPEC §3.19 step 1, items 107, 208).

Every realisation (in memory, DynamoDB, ...) must give the same answers for the same times: the
gateway's ``RATE_LIMIT_EXCEEDED`` and its ``retry_after_ms`` come straight from ``take``. Time is
always passed in (``now_ms``), so these tests never sleep.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from aesp.core.ports.state import BucketSpec, StateStore

T0 = 1_700_000_000_000  # an arbitrary "now", Unix ms
TEN_PER_S = BucketSpec(rate_per_s=10.0, burst=3)  # one token per 100 ms


class AbstractStateStoreConformance:
    """Behaviour every StateStore must show. Subclasses provide the ``port`` fixture."""

    @pytest.fixture
    def port(self) -> Any:  # pragma: no cover - overridden
        """Yield a fresh, empty StateStore."""
        raise AssertionError("the adapter's test class must override the 'port' fixture")

    async def test_is_a_state_store(self, port: StateStore) -> None:
        assert isinstance(port, StateStore)

    async def test_item_208_burst_then_refusal_with_the_exact_wait(self, port: StateStore) -> None:
        # SPEC 4.19 #208
        assert [await port.take("k", TEN_PER_S, now_ms=T0) for _ in range(3)] == [0, 0, 0]
        assert await port.take("k", TEN_PER_S, now_ms=T0) == 100  # SPEC 4.9 #107: a non-zero wait
        assert await port.take("k", TEN_PER_S, now_ms=T0 + 40) == 60

    async def test_tokens_refill_over_time_up_to_the_burst_only(self, port: StateStore) -> None:
        for _ in range(3):
            assert await port.take("k", TEN_PER_S, now_ms=T0) == 0
        assert await port.take("k", TEN_PER_S, now_ms=T0 + 100) == 0  # exactly the wait
        assert await port.take("k", TEN_PER_S, now_ms=T0 + 100) == 100
        later = T0 + 3_600_000  # an hour idle refills to the burst, never beyond
        assert [await port.take("k", TEN_PER_S, now_ms=later) for _ in range(4)] == [0, 0, 0, 100]

    async def test_a_refusal_takes_nothing(self, port: StateStore) -> None:
        for _ in range(3):
            await port.take("k", TEN_PER_S, now_ms=T0)
        for _ in range(5):
            assert await port.take("k", TEN_PER_S, now_ms=T0 + 50) == 50
        assert await port.take("k", TEN_PER_S, now_ms=T0 + 100) == 0

    async def test_keys_are_independent(self, port: StateStore) -> None:
        for _ in range(3):
            await port.take("principal:a", TEN_PER_S, now_ms=T0)
        assert await port.take("principal:a", TEN_PER_S, now_ms=T0) > 0
        assert await port.take("principal:b", TEN_PER_S, now_ms=T0) == 0
        assert await port.take("tenant:a", TEN_PER_S, now_ms=T0) == 0

    async def test_costs_above_one(self, port: StateStore) -> None:
        assert await port.take("k", TEN_PER_S, now_ms=T0, cost=2) == 0
        assert await port.take("k", TEN_PER_S, now_ms=T0, cost=2) == 100  # one token short
        assert await port.take("k", TEN_PER_S, now_ms=T0, cost=1) == 0

    async def test_a_cost_above_the_burst_is_refused_with_a_finite_wait(
        self, port: StateStore
    ) -> None:
        wait = await port.take("k", TEN_PER_S, now_ms=T0, cost=4)
        assert 0 < wait <= 300  # at most the time to fill the bucket from empty
        assert await port.take("k", TEN_PER_S, now_ms=T0, cost=3) == 0  # nothing was taken

    async def test_concurrent_takes_never_exceed_the_burst(self, port: StateStore) -> None:
        spec = BucketSpec(rate_per_s=0.001, burst=20)
        answers = await asyncio.gather(*(port.take("hot", spec, now_ms=T0) for _ in range(200)))
        assert sum(1 for a in answers if a == 0) == 20
        assert all(a > 0 for a in answers if a != 0)

    async def test_a_slow_rate_gives_a_long_but_exact_wait(self, port: StateStore) -> None:
        spec = BucketSpec(rate_per_s=0.5, burst=1)  # one token per 2 s
        assert await port.take("k", spec, now_ms=T0) == 0
        assert await port.take("k", spec, now_ms=T0) == 2_000
        assert await port.take("k", spec, now_ms=T0 + 1_999) == 1
