"""Token-bucket arithmetic for the gateway's rate limits (SPEC §3.19 step 1, items 107, 208).

Why a pure module: every realisation of the State port (in process, SQLite, DynamoDB) must
answer "may this request pass, and if not, when?" identically, so the arithmetic lives here,
with no I/O and no clock of its own: the caller passes the time (``now_ms``), which makes the
answers reproducible in tests and lets replicas sharing a store agree. Adapters only store a
:class:`Bucket` per key and apply :func:`take` atomically.

A bucket holds at most ``burst`` tokens and gains ``rate_per_s`` tokens per second. A request
of ``cost`` tokens passes when that many are present; otherwise nothing is taken and the answer
is how long until they would be (rounded up to whole milliseconds, never 0, so a caller that
waits exactly that long is not refused again by rounding).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from aesp.core.ports.state import BucketSpec

__all__ = ["Bucket", "TakeResult", "check_spec", "is_full", "refill", "take"]


@dataclass(frozen=True, slots=True)
class Bucket:
    """The stored state of one bucket.

    Attributes:
        tokens: Tokens present at ``updated_ms`` (fractional: refill is continuous).
        updated_ms: When ``tokens`` was computed, Unix milliseconds.
    """

    tokens: float
    updated_ms: int


@dataclass(frozen=True, slots=True)
class TakeResult:
    """The answer of :func:`take`.

    Attributes:
        bucket: The state to store (refilled, and reduced by the cost when taken).
        retry_after_ms: 0 when the tokens were taken; otherwise the milliseconds until they
            would be available.
    """

    bucket: Bucket
    retry_after_ms: int


def check_spec(spec: BucketSpec, cost: int = 1) -> None:
    """Refuse a bucket that cannot work, before any arithmetic divides by its rate.

    Raises:
        ValueError: ``rate_per_s`` or ``burst`` is not positive and finite, or ``cost`` is not a
            positive integer (a programming or configuration error, never a caller's).
    """
    rate = spec.rate_per_s
    if isinstance(rate, bool) or not isinstance(rate, int | float):
        raise ValueError("a bucket's rate_per_s must be a number")
    if not math.isfinite(rate) or rate <= 0:
        raise ValueError("a bucket's rate_per_s must be positive and finite")
    if isinstance(spec.burst, bool) or not isinstance(spec.burst, int) or spec.burst <= 0:
        raise ValueError("a bucket's burst must be a positive integer")
    if isinstance(cost, bool) or not isinstance(cost, int) or cost <= 0:
        raise ValueError("the cost of a take must be a positive integer")


def refill(bucket: Bucket | None, spec: BucketSpec, now_ms: int) -> Bucket:
    """The bucket as it stands at ``now_ms``: a new bucket is full; an old one gained tokens.

    A clock that went backwards (replicas with skewed clocks) refills nothing and keeps the
    later timestamp, so skew can never mint tokens.
    """
    if bucket is None:
        return Bucket(float(spec.burst), now_ms)
    elapsed_ms = now_ms - bucket.updated_ms
    if elapsed_ms <= 0:
        return bucket
    tokens = min(float(spec.burst), bucket.tokens + elapsed_ms * spec.rate_per_s / 1000.0)
    return Bucket(tokens, now_ms)


def _wait_ms(missing: float, spec: BucketSpec) -> int:
    """Milliseconds until ``missing`` tokens have been refilled (at least 1)."""
    # round() first: 0.30000000000000004 tokens at 10/s is 30 ms, not 31.
    return max(1, math.ceil(round(missing * 1000.0 / spec.rate_per_s, 6)))


def take(bucket: Bucket | None, spec: BucketSpec, *, now_ms: int, cost: int = 1) -> TakeResult:
    """Take ``cost`` tokens if present.

    Args:
        bucket: The stored state, or None for a key never seen (created full).
        spec: The bucket's rate and burst.
        now_ms: The current time, Unix milliseconds.
        cost: Tokens to take.

    Returns:
        The new state and 0, or the (refilled, untouched) state and the wait in milliseconds.
        A cost above the burst can never be taken; its wait is the time until the bucket is
        full, which is finite, so a caller honouring it is refused again rather than stalled.

    Raises:
        ValueError: See :func:`check_spec`.
    """
    check_spec(spec, cost)
    current = refill(bucket, spec, now_ms)
    if cost > spec.burst:
        missing = spec.burst - current.tokens
        return TakeResult(current, _wait_ms(missing, spec) if missing > 0 else 1)
    # NOTE: a tiny epsilon absorbs float error, so a bucket refilled for exactly the advertised
    # wait passes (0.1 * 3 + 0.7 must not land just below 1.0).
    if current.tokens + 1e-9 >= cost:
        return TakeResult(Bucket(max(0.0, current.tokens - cost), current.updated_ms), 0)
    return TakeResult(current, _wait_ms(cost - current.tokens, spec))


def is_full(bucket: Bucket, spec: BucketSpec, now_ms: int) -> bool:
    """Whether the bucket is full at ``now_ms``: forgetting it then changes no answer.

    A forgotten key is recreated full on its next use, so a store may evict full buckets to
    bound its memory without ever letting a caller exceed its limit.
    """
    return refill(bucket, spec, now_ms).tokens + 1e-9 >= spec.burst
