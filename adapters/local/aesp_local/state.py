"""The local profile's State port: token buckets and session records in this process's memory
(DESIGN §5, §10).

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

Session records are bounded too: expired records are dropped by a sweep (at the bound, and at
most once per ``sweep_interval_ms`` otherwise, on the store's own clock). Live sessions are never
evicted to make room, since that would end someone's session unannounced; at the bound a new
session is refused with ``RESOURCE_EXHAUSTED`` instead.

Runtime records follow the same rule: expired records are dropped by the same kind of sweep
(their holder stopped re-publishing them), live ones are never evicted, and at ``max_runtimes``
a new connection's record is refused with ``RESOURCE_EXHAUSTED`` (re-publishing a held one is
always accepted).

One-time claims (a SAML assertion id, until it expires) are bounded by ``max_claims``: expired
claims are dropped when the bound is reached, unexpired ones never (forgetting one early would
re-open its replay window), so at the bound a new claim is refused with ``RESOURCE_EXHAUSTED``.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Final

from aesp.core.errors import ExecutionError, StateError
from aesp.core.ids import now_ms as wall_clock_ms
from aesp.core.ports.state import BucketSpec, RuntimeRecord, SessionRecord, check_claim
from aesp.core.ratelimit import Bucket, is_full, take

__all__ = [
    "DEFAULT_MAX_CLAIMS",
    "DEFAULT_MAX_KEYS",
    "DEFAULT_MAX_RUNTIMES",
    "DEFAULT_MAX_SESSIONS",
    "MemoryStateStore",
]

DEFAULT_MAX_KEYS: Final = 100_000  # ~200 bytes per bucket: about 20 MB at the bound
DEFAULT_MAX_SESSIONS: Final = 100_000  # ~1 KB per record with metadata: about 100 MB at most
DEFAULT_MAX_RUNTIMES: Final = 10_000  # ~1 KB per record with its tools: about 10 MB at most
DEFAULT_MAX_CLAIMS: Final = 100_000  # ~150 bytes per claim: about 15 MB at most
DEFAULT_SWEEP_INTERVAL_MS: Final = 60_000  # idle full buckets are freed within about a minute
_LRU_TARGET: Final = 0.9  # after an LRU eviction, keep 10% headroom so sweeps stay rare


class MemoryStateStore:
    """Token buckets, session records and runtime records in dicts, atomic per operation (a lock also covers
    callers on other threads).

    Args:
        max_keys: Most buckets kept at once.
        sweep_interval_ms: Least time between two sweeps of full buckets (or of expired
            session or runtime records) below the bound.
        max_sessions: Most session records kept at once.
        max_runtimes: Most runtime records kept at once (all tenants together).
        max_claims: Most unexpired one-time claims kept at once (SAML assertion ids).
        clock_ms: Unix milliseconds, for sweeping expired session and runtime records (tests
            pass a fake).

    Raises:
        ValueError: ``max_keys``, ``sweep_interval_ms``, ``max_sessions`` or ``max_runtimes``
            is not positive.
    """

    def __init__(
        self,
        *,
        max_keys: int = DEFAULT_MAX_KEYS,
        sweep_interval_ms: int = DEFAULT_SWEEP_INTERVAL_MS,
        max_sessions: int = DEFAULT_MAX_SESSIONS,
        max_runtimes: int = DEFAULT_MAX_RUNTIMES,
        max_claims: int = DEFAULT_MAX_CLAIMS,
        clock_ms: Callable[[], int] = wall_clock_ms,
    ) -> None:
        if min(max_keys, sweep_interval_ms, max_sessions, max_runtimes, max_claims) <= 0:
            raise ValueError(
                "max_keys, max_sessions, max_runtimes, max_claims and sweep_interval_ms must "
                "be positive"
            )
        self._max_keys = max_keys
        self._sweep_interval_ms = sweep_interval_ms
        self._max_sessions = max_sessions
        self._clock_ms = clock_ms
        # key -> (bucket, spec); least recently used first.
        self._buckets: OrderedDict[str, tuple[Bucket, BucketSpec]] = OrderedDict()
        self._sessions: dict[str, SessionRecord] = {}
        self._max_runtimes = max_runtimes
        self._runtimes: dict[str, RuntimeRecord] = {}  # connection id -> record
        self._max_claims = max_claims
        self._claims: dict[str, int] = {}  # claimed key -> until (Unix ms)
        self._lock = threading.Lock()
        self._last_sweep_ms: int | None = None
        self._last_session_sweep_ms = clock_ms()
        self._last_runtime_sweep_ms = self._last_session_sweep_ms

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

    async def put_session(self, record: SessionRecord) -> None:
        """Store a new session record; an equal record again is a no-op.

        Raises:
            StateError: ``INVALID_STATE`` when a different record holds the session id.
            ExecutionError: ``RESOURCE_EXHAUSTED`` when ``max_sessions`` live records are held.
        """
        with self._lock:
            old = self._sessions.get(record.session_id)
            if old is not None:
                if old != record:
                    raise _rebound(record.session_id)
                return
            now = self._clock_ms()
            full = len(self._sessions) >= self._max_sessions
            if full or now - self._last_session_sweep_ms >= self._sweep_interval_ms:
                self._sweep_sessions(now)
            if len(self._sessions) >= self._max_sessions:
                raise ExecutionError(
                    "RESOURCE_EXHAUSTED",
                    f"This Host holds {self._max_sessions} live sessions, its limit; "
                    "retry once some have ended.",
                    retry_after_ms=1000,
                    remediation_steps=("Destroy sessions that are no longer used.",),
                )
            self._sessions[record.session_id] = record

    async def get_session(self, session_id: str) -> SessionRecord | None:
        """The record, or None when unknown or deleted (it may have expired)."""
        with self._lock:
            return self._sessions.get(session_id)

    async def delete_session(self, session_id: str) -> bool:
        """Forget the record; False when there was none."""
        with self._lock:
            return self._sessions.pop(session_id, None) is not None

    async def put_runtime(self, record: RuntimeRecord) -> None:
        """Create or replace the record of ``record.connection_id``.

        Raises:
            ExecutionError: ``RESOURCE_EXHAUSTED`` when ``max_runtimes`` live records are held
                and this is a new connection.
        """
        with self._lock:
            if record.connection_id not in self._runtimes:
                now = self._clock_ms()
                full = len(self._runtimes) >= self._max_runtimes
                if full or now - self._last_runtime_sweep_ms >= self._sweep_interval_ms:
                    self._sweep_runtimes(now)
                if len(self._runtimes) >= self._max_runtimes:
                    raise ExecutionError(
                        "RESOURCE_EXHAUSTED",
                        f"This Host holds {self._max_runtimes} live Runtime connections, its "
                        "limit; retry once some have closed.",
                        retry_after_ms=1000,
                        remediation_steps=("Close Runtime connections that are no longer used.",),
                    )
            self._runtimes[record.connection_id] = record

    async def delete_runtime(self, connection_id: str) -> bool:
        """Forget the record; False when there was none."""
        with self._lock:
            return self._runtimes.pop(connection_id, None) is not None

    async def runtimes(self, tenant_id: str, *, now_ms: int) -> Sequence[RuntimeRecord]:
        """The tenant's records alive at ``now_ms``, sorted by runtime id then connection id."""
        with self._lock:
            live = [
                r
                for r in self._runtimes.values()
                if r.tenant_id == tenant_id and r.expires_at_ms > now_ms
            ]
        return sorted(live, key=lambda r: (r.runtime_id, r.connection_id))

    def runtime_count(self) -> int:
        """How many runtime records are held, expired ones not yet swept included."""
        with self._lock:
            return len(self._runtimes)

    def __len__(self) -> int:
        """How many buckets are held (for tests and metrics)."""
        with self._lock:
            return len(self._buckets)

    def session_count(self) -> int:
        """How many session records are held (for tests and metrics)."""
        with self._lock:
            return len(self._sessions)

    async def claim(self, key: str, *, until_ms: int, now_ms: int) -> bool:
        """Claim ``key`` until ``until_ms``; False when an unexpired claim holds it.

        Raises:
            ValueError: ``key`` is empty or ``until_ms <= now_ms``.
            ExecutionError: ``RESOURCE_EXHAUSTED`` when ``max_claims`` unexpired claims are
                held.
        """
        check_claim(key, until_ms=until_ms, now_ms=now_ms)
        with self._lock:
            held = self._claims.get(key)
            if held is not None and held > now_ms:
                return False
            if held is None and len(self._claims) >= self._max_claims:
                self._claims = {k: u for k, u in self._claims.items() if u > now_ms}
                if len(self._claims) >= self._max_claims:
                    raise ExecutionError(
                        "RESOURCE_EXHAUSTED",
                        f"This Host holds {self._max_claims} unexpired one-time credential "
                        "claims, its limit; retry once some have expired.",
                        retry_after_ms=1000,
                    )
            self._claims[key] = until_ms
            return True

    def claim_count(self) -> int:
        """How many claims are held, expired ones not yet dropped included."""
        with self._lock:
            return len(self._claims)

    async def close(self) -> None:
        """Forget every bucket, session record, runtime record and claim."""
        with self._lock:
            self._buckets.clear()
            self._sessions.clear()
            self._runtimes.clear()
            self._claims.clear()

    def _sweep_runtimes(self, now_ms: int) -> None:
        """Drop every runtime record that has expired at ``now_ms`` (its holder went away)."""
        self._last_runtime_sweep_ms = now_ms
        expired = [k for k, r in self._runtimes.items() if r.expires_at_ms <= now_ms]
        for key in expired:
            del self._runtimes[key]

    def _sweep_sessions(self, now_ms: int) -> None:
        """Drop every session record that has expired at ``now_ms``."""
        self._last_session_sweep_ms = now_ms
        expired = [k for k, r in self._sessions.items() if r.expires_at_ms <= now_ms]
        for key in expired:
            del self._sessions[key]

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


def _rebound(session_id: str) -> StateError:
    return StateError(
        "INVALID_STATE",
        f"Session '{session_id}' is already recorded with another tenant, principal or expiry; "
        "a session is bound once, when it is created.",
    )
