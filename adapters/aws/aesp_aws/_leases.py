"""Token leases: the in-memory half of the DynamoDB rate limits (pure bookkeeping, no I/O).

A Host answers a take from tokens it has already taken out of the shared bucket (its lease),
so the call path reads memory only. What the Host knows of the shared bucket is the item as it
last wrote or read it (``shared``); refilled to "now", that is an upper bound of what the
bucket really holds, because every other Host only takes tokens out (a Host handing back an
idle lease adds some, which only makes this Host's view too low: a refusal then comes early,
never an admission too many, and the view refills by itself within the wait it announced).

This module decides, for one key: grant from the lease, refuse from the view, or say that the
shared bucket must be asked (:func:`answer`); and how many tokens a fetch takes (:func:`plan`).
:mod:`aesp_aws.state` does the DynamoDB writes and runs the background fetches.
"""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass, field
from typing import Final

from aesp.core.ports.state import BucketSpec
from aesp.core.ratelimit import Bucket, refill, take

__all__ = ["Lease", "answer", "lease_size", "low_water", "may_hold_tokens", "plan", "seed"]

_EPSILON: Final = 1e-9  # float error of refill arithmetic (0.1 * 3 + 0.7 is not quite 1.0)


@dataclass(slots=True, eq=False)
class Lease:
    """One key's lease on this Host and its view of the shared bucket.

    Attributes:
        spec: The spec of the latest take (live configuration may change it).
        held: Tokens taken out of the shared bucket and not granted yet.
        known: Whether ``rev``/``shared`` come from DynamoDB (False: never asked; assume none).
        rev: Revision of the shared item as last seen (None: there is no item).
        shared: The shared bucket as last seen (None: no item, so full).
        used_at: ``time.monotonic()`` of the latest take (idle leases are handed back).
        seen_at: ``time.monotonic()`` when DynamoDB last told ``rev``/``shared``.
        lock: Serialises this key's DynamoDB writes on this Host (fetches and give-backs).
        prefetch: The background fetch in flight, if any.
    """

    spec: BucketSpec
    held: int = 0
    known: bool = False
    rev: str | None = None
    shared: Bucket | None = None
    used_at: float = 0.0
    seen_at: float = 0.0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    prefetch: asyncio.Task[None] | None = None

    def adopt(self, rev: str | None, shared: Bucket | None) -> None:
        """Take what DynamoDB holds now (a write's result, a read, a lost write's reply)."""
        self.known, self.rev, self.shared = True, rev, shared
        self.seen_at = time.monotonic()


def lease_size(spec: BucketSpec, share: float) -> int:
    """Tokens one fetch tops a lease up to: ``share`` of the burst, at least one."""
    return max(1, math.floor(spec.burst * share + _EPSILON))


def low_water(size: int) -> int:
    """A lease holding this many tokens or fewer is topped up in the background."""
    return size // 2


def answer(
    lease: Lease, spec: BucketSpec, now_ms: int, cost: int, *, fresh_since: float
) -> int | None:
    """Answer a take from memory when memory suffices.

    Args:
        fresh_since: A view DynamoDB gave before this ``time.monotonic()`` may be too low
            (other Hosts handed leases back meanwhile), so it refuses nothing.

    Returns:
        0 when granted from the lease (``held`` is reduced); the wait in milliseconds when a
        fresh view says the shared bucket cannot make up what the lease lacks; None when only
        DynamoDB can tell (the key was never fetched, the view says there may be tokens, or it
        is too old to refuse on).
    """
    view = lease.shared if lease.known else None
    if cost > spec.burst:  # never grantable; the wait is the time until the bucket is full
        return take(view, spec, now_ms=now_ms, cost=cost).retry_after_ms
    if not lease.known:
        return None
    if lease.held >= cost:
        lease.held -= cost
        return 0
    wait = take(view, spec, now_ms=now_ms, cost=cost - lease.held).retry_after_ms
    return wait if wait and lease.seen_at >= fresh_since else None


def may_hold_tokens(lease: Lease, spec: BucketSpec, now_ms: int) -> bool:
    """Whether the view says the shared bucket may hold a whole token at ``now_ms``."""
    return refill(lease.shared, spec, now_ms).tokens + _EPSILON >= 1


def plan(lease: Lease, spec: BucketSpec, now_ms: int, need: int, target: int) -> tuple[Bucket, int]:
    """What a fetch writes, by the view: the shared bucket after it, and the tokens it takes.

    Takes whole tokens only, enough to bring ``held`` up to ``target`` if the bucket has them,
    and nothing at all unless it has at least ``need`` (a partial lease would be refused for
    the take that asked anyway, and would only idle here while another Host could use it).
    """
    current = refill(lease.shared, spec, now_ms)
    available = math.floor(current.tokens + _EPSILON)
    if available < need:
        return current, 0
    grant = min(available, max(need, target - lease.held))
    return Bucket(max(0.0, current.tokens - grant), current.updated_ms), grant


def seed(lease: Lease | None, spec: BucketSpec, now_ms: int) -> Bucket | None:
    """The local bucket a key starts from when DynamoDB is out of reach.

    What this Host may still use: its lease plus what the view says the shared bucket holds
    (None, a full bucket, for a key this Host never fetched).
    """
    if lease is None or not lease.known:
        return None
    current = refill(lease.shared, spec, now_ms)
    return Bucket(min(float(spec.burst), current.tokens + lease.held), current.updated_ms)
