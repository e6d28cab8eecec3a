"""The State port: what Host replicas must share (DESIGN §5, §10).

For now that is the token buckets of the gateway's rate limits (per principal and per tenant).
The call path asks it once per call, so the local realisation answers from memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable


@dataclass(frozen=True, slots=True)
class BucketSpec:
    """A token bucket: ``burst`` tokens at most, refilled at ``rate_per_s``.

    ``rate_per_s`` and ``burst`` must be positive.
    """

    rate_per_s: float
    burst: int


@runtime_checkable
class StateStore(Protocol):
    """Shared counters. Implementations must be atomic across Host replicas sharing them."""

    async def take(self, key: str, spec: BucketSpec, *, now_ms: int, cost: int = 1) -> int:
        """Take ``cost`` tokens from the bucket ``key`` (created full on first use).

        Returns:
            0 when the tokens were taken; otherwise the milliseconds until they would be
            available (nothing is taken then).
        """
        ...

    async def close(self) -> None:
        """Release connections and files."""
        ...
