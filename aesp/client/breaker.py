"""The client circuit breaker: stop hammering a Host that cannot be reached (item 133).

Why: when the Host is down every call costs a connection attempt and a timeout; after a burst
of such failures the client should fail fast, locally, with a retry hint, and probe again later.
Defaults are GRID's client breaker (SPEC §2.10): 5 counted failures within 60 s open it; after
30 s it goes HALF_OPEN and lets calls through; 3 successes close it; any counted failure while
HALF_OPEN reopens it. As in GRID's reference code (and the Host's breaker), a success while
CLOSED forgives one earlier failure instead of resetting the count.

Only failures that say the *Host* is unreachable count (``CONNECTION_FAILED``,
``NETWORK_TIMEOUT``, ``TLS_HANDSHAKE_FAILED``, ``HOST_UNAVAILABLE``). The clients record them only
for gRPC-level failures: any in-band answer, even a refusal, proves the Host is up and counts
as a success. The clock is injectable so tests need not sleep.
"""

from __future__ import annotations

import enum
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from aesp.client.errors import CircuitOpen, build_enhanced_error

__all__ = ["COUNTED_CODES", "BreakerState", "ClientBreaker", "ClientBreakerConfig"]

COUNTED_CODES: Final = frozenset(
    {"CONNECTION_FAILED", "NETWORK_TIMEOUT", "TLS_HANDSHAKE_FAILED", "HOST_UNAVAILABLE"}
)
"""Codes that count as breaker failures (SPEC §2.10 client breaker)."""


class BreakerState(enum.Enum):
    """Breaker states (SPEC §2.10)."""

    CLOSED = "CLOSED"
    OPEN = "OPEN"
    HALF_OPEN = "HALF_OPEN"


@dataclass(frozen=True)
class ClientBreakerConfig:
    """Thresholds; the defaults are GRID's client breaker defaults (SPEC §2.10).

    Attributes:
        failure_threshold: Counted failures within the window that open the breaker.
        failure_window_ms: The sliding window for counting failures.
        recovery_timeout_ms: Time OPEN before trial calls are let through (HALF_OPEN).
        success_threshold: Successes in HALF_OPEN that close the breaker.
    """

    failure_threshold: int = 5
    failure_window_ms: int = 60_000
    recovery_timeout_ms: int = 30_000
    success_threshold: int = 3

    def __post_init__(self) -> None:
        """Refuse non-positive thresholds (a breaker that can never open or close)."""
        for name in ("failure_threshold", "failure_window_ms", "success_threshold"):
            if getattr(self, name) <= 0:
                raise ValueError(f"ClientBreakerConfig.{name} must be positive")
        if self.recovery_timeout_ms < 0:
            raise ValueError("ClientBreakerConfig.recovery_timeout_ms must not be negative")


class ClientBreaker:
    """One breaker guarding one Host (share an instance between clients of the same Host).

    Thread-safe: the sync client may be used from several threads.

    Args:
        config: Thresholds; GRID's client defaults when omitted.
        clock: Monotonic clock in seconds (``time.monotonic``; inject a fake in tests).
    """

    def __init__(
        self,
        config: ClientBreakerConfig | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config or ClientBreakerConfig()
        self._clock = clock
        self._lock = threading.Lock()
        self._failures: deque[float] = deque()
        self._state = BreakerState.CLOSED
        self._opened_at = 0.0
        self._successes = 0

    @property
    def state(self) -> BreakerState:
        """The current state (OPEN becomes HALF_OPEN once the recovery timeout has passed)."""
        with self._lock:
            return self._advance()

    def retry_after_ms(self) -> int:
        """Milliseconds until trial calls are allowed again (0 unless OPEN)."""
        with self._lock:
            return self._left_ms() if self._advance() is BreakerState.OPEN else 0

    def check(self, *, correlation_id: str = "", target: str = "") -> None:
        """Refuse a call locally while the breaker is OPEN.

        Args:
            correlation_id: Put into the error, for the caller's logs.
            target: The Host address, for the message.

        Raises:
            CircuitOpen: ``SERVICE_UNAVAILABLE`` with ``retry_after_ms`` = time left until
                HALF_OPEN; nothing was sent.
        """
        with self._lock:
            if self._advance() is not BreakerState.OPEN:
                return
            left = self._left_ms()
        where = f" at {target}" if target else ""
        error = build_enhanced_error(
            "SERVICE_UNAVAILABLE",
            f"The client circuit breaker for the Host{where} is open after repeated connection "
            f"failures; the call was not sent. Retry in {left} ms.",
            correlation_id=correlation_id,
            details={"breaker_state": BreakerState.OPEN.value},
            retry_after_ms=max(left, 1),
            remediation_steps=(
                f"Wait {left} ms; the breaker then lets trial calls through.",
                "Check that the Host is running and reachable.",
            ),
        )
        raise CircuitOpen(error, origin="client")

    def record_success(self) -> None:
        """The Host answered (a refusal is an answer too)."""
        with self._lock:
            state = self._advance()
            if state is BreakerState.HALF_OPEN:
                self._successes += 1
                if self._successes >= self.config.success_threshold:
                    self._state = BreakerState.CLOSED
                    self._failures.clear()
            elif state is BreakerState.CLOSED and self._failures:
                self._failures.popleft()  # GRID reference: a success forgives one failure

    def record_failure(self, code: str) -> None:
        """A call failed with ``code``; only :data:`COUNTED_CODES` affect the breaker.

        Args:
            code: The error code of the failure.
        """
        if code not in COUNTED_CODES:
            return
        with self._lock:
            now = self._clock()
            state = self._advance()
            if state is BreakerState.HALF_OPEN:
                self._open(now)  # any failure while probing reopens
                return
            if state is BreakerState.OPEN:
                return  # a call that started before the breaker opened
            self._failures.append(now)
            horizon = now - self.config.failure_window_ms / 1000
            while self._failures and self._failures[0] <= horizon:
                self._failures.popleft()
            if len(self._failures) >= self.config.failure_threshold:
                self._open(now)

    # ------------------------------------------------------------------ internals (lock held)

    def _advance(self) -> BreakerState:
        if self._state is BreakerState.OPEN and self._left_ms() == 0:
            self._state = BreakerState.HALF_OPEN
            self._successes = 0
        return self._state

    def _left_ms(self) -> int:
        left = self._opened_at + self.config.recovery_timeout_ms / 1000 - self._clock()
        return max(0, math.ceil(left * 1000))

    def _open(self, now: float) -> None:
        self._state = BreakerState.OPEN
        self._opened_at = now
        self._failures.clear()
        self._successes = 0
