"""The local audit buffer: governed-local results waiting for the Host's ``LOGGED`` (item 125).

Why: a governed local execution has already happened when its result is logged, so a log that
cannot be delivered must not be lost and must not block the user (items 124, 125). Records wait
here, in memory, in FIFO order, and are retried with exponential backoff until the Host
acknowledges or definitively rejects them. This module is pure bookkeeping (no I/O, injectable
clock and randomness); ``aesp.client.log_sender`` drives it from a task or a thread.

Numbers are SPEC §2.10's audit retry policy: first retry after 1000 ms, x2 each time, capped at
300000 ms, 10% jitter, 10 attempts; buffer of 10000 records with FIFO rotation; an alert every
100 failures. After 10 failed attempts a record is *parked*: it is kept (and retried by
:meth:`~aesp.client.log_sender.AsyncLogSender.flush`) but no longer retried automatically, because
by then the Host's ``correlation_timeout_ms`` (600 s) has passed and it would reject the log.
NOTE: SPEC §2.10 also asks for a persisted, AES-256 encrypted buffer; this one is deliberately
in memory only, so records are lost if the process exits before they are delivered.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from aesp.client.errors import AespClientError
from aesp.proto.altar.grid.v1 import grid_pb2 as _grid_pb2

__all__ = ["AuditBuffer", "AuditRetryPolicy", "PendingLog", "RejectedLog", "is_definitive"]

_LOG = logging.getLogger("aesp.client.audit")
MAX_REJECTED_KEPT = 100  # bounds memory; rejected records are also logged as warnings


@dataclass(frozen=True)
class AuditRetryPolicy:
    """Retry and buffer settings (defaults: SPEC §2.10 client retry policy for audit logs).

    Attributes:
        initial_backoff_ms: Delay before the first retry.
        max_backoff_ms: Upper bound of the delay.
        multiplier: Growth factor per failed attempt.
        jitter: Fraction of random spread (+/-) applied to each delay.
        max_attempts: Automatic attempts before a record is parked.
        buffer_size: Records kept; the oldest is dropped when full (FIFO rotation).
        alert_after_failures: Log an error every time this many attempts have failed.
        audit_timeout_ms: Deadline of one LogToolResult RPC.
    """

    initial_backoff_ms: int = 1000
    max_backoff_ms: int = 300_000
    multiplier: float = 2.0
    jitter: float = 0.1
    max_attempts: int = 10
    buffer_size: int = 10_000
    alert_after_failures: int = 100
    audit_timeout_ms: int = 10_000

    def __post_init__(self) -> None:
        """Refuse settings that would lose records or spin."""
        if self.buffer_size <= 0 or self.max_attempts <= 0 or self.alert_after_failures <= 0:
            raise ValueError("buffer_size, max_attempts and alert_after_failures must be > 0")
        if self.initial_backoff_ms <= 0 or self.max_backoff_ms < self.initial_backoff_ms:
            raise ValueError("need 0 < initial_backoff_ms <= max_backoff_ms")
        if self.multiplier < 1 or not 0 <= self.jitter < 1:
            raise ValueError("need multiplier >= 1 and 0 <= jitter < 1")

    def delay_ms(self, failures: int, rand: float) -> float:
        """The delay after ``failures`` failed attempts, with jitter from ``rand`` in [0, 1)."""
        base = min(
            self.initial_backoff_ms * self.multiplier ** max(0, failures - 1), self.max_backoff_ms
        )
        return base * (1 + self.jitter * (2 * rand - 1))


@dataclass(frozen=True)
class PendingLog:
    """A snapshot of one record not yet acknowledged by the Host.

    Attributes:
        invocation_id: The authorised invocation.
        session_id: Its session.
        correlation_id: Its correlation id.
        attempts: Attempts made so far (0 while the first is outstanding).
        last_error_code: Code of the last failure (``""`` if none yet).
        parked: True once automatic retries stopped; ``flush()`` still tries it.
        next_attempt_in_ms: Time until the next automatic attempt (0 when due or parked).
    """

    invocation_id: str
    session_id: str
    correlation_id: str
    attempts: int
    last_error_code: str
    parked: bool
    next_attempt_in_ms: int


@dataclass(frozen=True)
class RejectedLog:
    """A record the Host definitively refused (replayed, mismatched, late or foreign).

    Attributes:
        invocation_id: The invocation.
        error: The Host's error.
    """

    invocation_id: str
    error: AespClientError


@dataclass(eq=False)
class Entry:
    """A buffered record (mutable, owned by :class:`AuditBuffer`)."""

    request: _grid_pb2.LogToolResultRequest
    next_attempt_at: float
    attempts: int = 0
    last_error: AespClientError | None = field(default=None)
    parked: bool = False


def is_definitive(error: AespClientError) -> bool:
    """Whether a failed log must not be retried: the Host itself refused it for good."""
    return error.origin in ("host", "runtime") and not error.retry_allowed


class AuditBuffer:
    """Bounded FIFO of pending log records with backoff bookkeeping. Thread-safe.

    Args:
        policy: Retry and buffer settings.
        clock: Monotonic clock in seconds.
        rand: Source of jitter in [0, 1).
    """

    def __init__(
        self,
        policy: AuditRetryPolicy | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.policy = policy or AuditRetryPolicy()
        self._clock = clock
        self._rand = rand
        self._lock = threading.Lock()
        self._entries: deque[Entry] = deque()
        self._rejected: deque[RejectedLog] = deque(maxlen=MAX_REJECTED_KEPT)
        self.failures = 0
        self.dropped = 0

    def __len__(self) -> int:
        """Records not yet acknowledged."""
        return len(self._entries)

    def add(self, request: _grid_pb2.LogToolResultRequest) -> Entry:
        """Queue a record for immediate sending; drop the oldest if the buffer is full."""
        entry = Entry(request=request, next_attempt_at=self._clock())
        with self._lock:
            if len(self._entries) >= self.policy.buffer_size:
                lost = self._entries.popleft()
                self.dropped += 1
                _LOG.error(
                    "audit buffer full (%d records): dropped the log of invocation %s",
                    self.policy.buffer_size,
                    lost.request.invocation_id,
                )
            self._entries.append(entry)
        return entry

    def due(self) -> list[Entry]:
        """Records whose automatic attempt is due now, oldest first."""
        now = self._clock()
        with self._lock:
            return [e for e in self._entries if not e.parked and e.next_attempt_at <= now]

    def entries(self) -> list[Entry]:
        """Every pending record, oldest first (what ``flush`` sends)."""
        with self._lock:
            return list(self._entries)

    def next_due_in(self) -> float | None:
        """Seconds until the next automatic attempt; None when nothing is scheduled."""
        with self._lock:
            times = [e.next_attempt_at for e in self._entries if not e.parked]
        return None if not times else max(0.0, min(times) - self._clock())

    def acknowledge(self, entry: Entry) -> None:
        """The Host logged the record."""
        self._remove(entry)

    def reject(self, entry: Entry, error: AespClientError) -> None:
        """The Host definitively refused the record; keep it in :meth:`rejected`."""
        self._remove(entry)
        with self._lock:
            self._rejected.append(RejectedLog(entry.request.invocation_id, error))
        _LOG.warning("the Host rejected the log of %s: %s", entry.request.invocation_id, error)

    def fail(self, entry: Entry, error: AespClientError) -> None:
        """An attempt failed transiently: schedule the next one, or park the record."""
        with self._lock:
            entry.attempts += 1
            entry.last_error = error
            self.failures += 1
            failures = self.failures
            if entry.attempts >= self.policy.max_attempts:
                entry.parked = True
            else:
                delay = self.policy.delay_ms(entry.attempts, self._rand()) / 1000
                entry.next_attempt_at = self._clock() + delay
        if entry.parked:
            _LOG.error(
                "log of %s failed %d times (%s); it is parked until flush()",
                entry.request.invocation_id,
                entry.attempts,
                error.code,
            )
        if failures % self.policy.alert_after_failures == 0:
            _LOG.error("audit logging has failed %d times; last error: %s", failures, error)

    def snapshot(self) -> tuple[PendingLog, ...]:
        """Frozen views of every pending record, oldest first."""
        now = self._clock()
        with self._lock:
            return tuple(
                PendingLog(
                    invocation_id=e.request.invocation_id,
                    session_id=e.request.session_id,
                    correlation_id=e.request.correlation_id,
                    attempts=e.attempts,
                    last_error_code=e.last_error.code if e.last_error else "",
                    parked=e.parked,
                    next_attempt_in_ms=0
                    if e.parked
                    else max(0, int((e.next_attempt_at - now) * 1000)),
                )
                for e in self._entries
            )

    def rejected(self) -> tuple[RejectedLog, ...]:
        """The most recent definitively rejected records (at most 100)."""
        with self._lock:
            return tuple(self._rejected)

    def _remove(self, entry: Entry) -> None:
        with self._lock:
            # NOTE: identity, not equality; the entry may already be gone (FIFO rotation).
            for i, candidate in enumerate(self._entries):
                if candidate is entry:
                    del self._entries[i]
                    return
