"""The local profile's State port: token buckets in this process's memory (DESIGN §5, §10).

Why memory and not SQLite: the gateway asks the State port on every request, twice, so a file
write per request would dominate the call path; and a single local Host has no replicas to
share buckets with. A Host restart forgets the buckets, which only ever makes them full again:
limits are not persisted, and a restart cannot let anyone exceed their burst at once.

Memory is bounded. A bucket that is full again carries no information (a forgotten key is
recreated full), so full buckets are dropped by a sweep that runs when the store reaches
``max_keys`` and at most once per ``sweep_interval_ms`` otherwise. If the store is still at its
bound after a sweep, the least recently used buckets are dropped as well: that may forgive a
partly drained bucket, which is the price of a hard memory bound; keys are authenticated
principals and tenants, so an attacker cannot mint them freely.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Final

from aesp.core.ports.state import BucketSpec
from aesp.core.ratelimit import Bucket, is_full, take

__all__ = ["DEFAULT_MAX_KEYS", "MemoryStateStore"]

DEFAULT_MAX_KEYS: Final = 100_000  # ~200 bytes per bucket: about 20 MB at the bound
DEFAULT_SWEEP_INTERVAL_MS: Final = 60_000  # idle full buckets are freed within about a minute
_LRU_TARGET: Final = 0.9  # after an LRU eviction, keep 10% headroom so sweeps stay rare


class MemoryStateStore:
    """Token buckets in a dict, atomic per take (a lock also covers callers on other threads).

    Args:
        max_keys: Most buckets kept at once.
        sweep_interval_ms: Least time between two sweeps of full buckets below the bound.

    Raises:
        ValueError: ``max_keys`` or ``sweep_interval_ms`` is not positive.
    """

    def __init__(
        self,
        *,
        max_keys: int = DEFAULT_MAX_KEYS,
        sweep_interval_ms: int = DEFAULT_SWEEP_INTERVAL_MS,
    ) -> None:
        if max_keys <= 0 or sweep_interval_ms <= 0:
            raise ValueError("max_keys and sweep_interval_ms must be positive")
        self._max_keys = max_keys
        self._sweep_interval_ms = sweep_interval_ms
        # key -> (bucket, spec); least recently used first.
        self._buckets: OrderedDict[str, tuple[Bucket, BucketSpec]] = OrderedDict()
        self._lock = threading.Lock()
        self._last_sweep_ms: int | None = None

    async def take(self, key: str, spec: BucketSpec, *, now_ms: int, cost: int = 1) -> int:
        """Take ``cost`` tokens from bucket ``key`` (created full on first use).

        Returns:
            0 when taken; otherwise the milliseconds until the tokens would be available.

        Raises:
            ValueError: The spec or cost is invalid (see :func:`aesp.core.ratelimit.check_spec`).
        """
        with self._lock:
            entry = self._buckets.get(key)
            if entry is None:
                self._make_room(now_ms)
            result = take(entry[0] if entry else None, spec, now_ms=now_ms, cost=cost)
            self._buckets[key] = (result.bucket, spec)
            self._buckets.move_to_end(key)
            if self._last_sweep_ms is None:
                self._last_sweep_ms = now_ms
            elif now_ms - self._last_sweep_ms >= self._sweep_interval_ms:
                self._sweep(now_ms)
            return result.retry_after_ms

    def __len__(self) -> int:
        """How many buckets are held (for tests and metrics)."""
        with self._lock:
            return len(self._buckets)

    async def close(self) -> None:
        """Forget every bucket."""
        with self._lock:
            self._buckets.clear()

    def _make_room(self, now_ms: int) -> None:
        """Before adding a key at the bound: drop full buckets, then the least recently used."""
        if len(self._buckets) < self._max_keys:
            return
        self._sweep(now_ms)
        if len(self._buckets) < self._max_keys:
            return
        target = max(0, int(self._max_keys * _LRU_TARGET) - 1)
        while len(self._buckets) > target:
            self._buckets.popitem(last=False)

    def _sweep(self, now_ms: int) -> None:
        """Drop every bucket that is full at ``now_ms`` (it would be recreated identical)."""
        self._last_sweep_ms = now_ms
        full = [k for k, (bucket, spec) in self._buckets.items() if is_full(bucket, spec, now_ms)]
        for key in full:
            del self._buckets[key]
