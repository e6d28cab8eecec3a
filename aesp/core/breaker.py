"""Per-Runtime circuit breaker (SPEC §2.10, checklist 128-132).

CLOSED -> OPEN after ``failure_threshold`` counted failures within ``failure_window_ms``;
OPEN -> HALF_OPEN once ``recovery_timeout_ms`` has passed; HALF_OPEN -> CLOSED after
``success_threshold`` successes; any failure in HALF_OPEN reopens it. Caller mistakes
(permission, schema) never count; security-critical codes open it at once.
"""

from __future__ import annotations

import enum
import math
import time
from collections import deque
from collections.abc import Callable

from aesp.core.config import BreakerConfig

# Errors that say nothing about the Runtime's health (item 131).
NOT_COUNTED = frozenset(
    {"PERMISSION_DENIED", "SCHEMA_VIOLATION", "INVALID_TOOL_ARGS", "AUTHORIZATION_FAILED"}
)
# Errors that open the breaker immediately (item 132).
OPEN_IMMEDIATELY = frozenset({"SECURITY_VIOLATION", "DATA_CORRUPTION", "SYSTEM_COMPROMISE"})
HALF_OPEN_MAX_CALLS = 10  # trial calls admitted at once while HALF_OPEN (SPEC §2.10)


class BreakerState(enum.Enum):
    """Breaker states."""

    CLOSED = "CLOSED"
    OPEN = "OPEN"
    HALF_OPEN = "HALF_OPEN"


class CircuitBreaker:
    """One breaker. Not thread-safe: it lives on the Host's event loop."""

    def __init__(
        self, config: BreakerConfig, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._cfg = config
        self._clock = clock
        self._failures: deque[float] = deque()
        self._state = BreakerState.CLOSED
        self._opened_at = 0.0
        self._successes = 0
        self._trials = 0

    @property
    def state(self) -> BreakerState:
        """Current state, moving OPEN -> HALF_OPEN when the recovery timeout has passed."""
        if self._state is BreakerState.OPEN and self.retry_after_ms() == 0:
            self._state = BreakerState.HALF_OPEN
            self._successes = 0
            self._trials = 0
        return self._state

    def allows(self) -> bool:
        """Whether a call may be dispatched now; in HALF_OPEN, reserves one trial slot."""
        state = self.state
        if state is BreakerState.CLOSED:
            return True
        if state is BreakerState.HALF_OPEN and self._trials < HALF_OPEN_MAX_CALLS:
            self._trials += 1
            return True
        return False

    def retry_after_ms(self) -> int:
        """Milliseconds until recovery is tried (0 when not OPEN)."""
        if self._state is not BreakerState.OPEN:
            return 0
        left = self._opened_at + self._cfg.recovery_timeout_ms / 1000 - self._clock()
        return max(0, math.ceil(left * 1000))

    def record_success(self) -> None:
        """A dispatched call completed (a business-logic ERROR result is a success here)."""
        state = self.state
        if state is BreakerState.HALF_OPEN:
            self._trials = max(0, self._trials - 1)
            self._successes += 1
            if self._successes >= self._cfg.success_threshold:
                self._state = BreakerState.CLOSED
                self._failures.clear()
        elif self._failures:
            self._failures.popleft()  # a success forgives one failure, as in GRID's reference

    def record_failure(self, code: str) -> None:
        """A dispatched call failed with ``code``."""
        if code in NOT_COUNTED:
            return
        now = self._clock()
        if code in OPEN_IMMEDIATELY or self.state is BreakerState.HALF_OPEN:
            self._open(now)
            return
        self._failures.append(now)
        horizon = now - self._cfg.failure_window_ms / 1000
        while self._failures and self._failures[0] < horizon:
            self._failures.popleft()
        if len(self._failures) >= self._cfg.failure_threshold:
            self._open(now)

    def _open(self, now: float) -> None:
        self._state = BreakerState.OPEN
        self._opened_at = now
        self._failures.clear()
