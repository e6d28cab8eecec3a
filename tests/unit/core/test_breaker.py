"""Circuit breaker state machine (SPEC §2.10, checklist 128-132)."""

from __future__ import annotations

import pytest

from aesp.core.breaker import BreakerState, CircuitBreaker
from aesp.core.config import BreakerConfig


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def make(clock: Clock, **overrides: int) -> CircuitBreaker:
    cfg = BreakerConfig(
        **{
            "failure_threshold": 3,
            "failure_window_ms": 10_000,
            "recovery_timeout_ms": 5_000,
            "success_threshold": 2,
            **overrides,
        }
    )
    return CircuitBreaker(cfg, clock=clock)


def test_item_128_opens_after_threshold_failures_within_window(clock: Clock) -> None:
    b = make(clock)
    for _ in range(2):
        b.record_failure("TIMEOUT")
    assert b.state is BreakerState.CLOSED and b.allows()
    b.record_failure("CONNECTION_FAILED")
    assert b.state is BreakerState.OPEN
    assert not b.allows()
    assert 0 < b.retry_after_ms() <= 5_000


def test_item_128_failures_outside_the_window_do_not_count(clock: Clock) -> None:
    b = make(clock)
    b.record_failure("TIMEOUT")
    b.record_failure("TIMEOUT")
    clock.now += 11  # both fall out of the 10 s window
    b.record_failure("TIMEOUT")
    assert b.state is BreakerState.CLOSED


def test_item_130_half_open_after_recovery_then_closes_on_successes(clock: Clock) -> None:
    b = make(clock)
    for _ in range(3):
        b.record_failure("TIMEOUT")
    clock.now += 5.001
    assert b.state is BreakerState.HALF_OPEN
    assert b.allows()
    b.record_success()
    assert b.state is BreakerState.HALF_OPEN
    assert b.allows()
    b.record_success()
    assert b.state is BreakerState.CLOSED


def test_item_130_one_failure_in_half_open_reopens(clock: Clock) -> None:
    b = make(clock)
    for _ in range(3):
        b.record_failure("TIMEOUT")
    clock.now += 6
    assert b.allows()
    b.record_failure("TIMEOUT")
    assert b.state is BreakerState.OPEN
    assert b.retry_after_ms() > 0


@pytest.mark.parametrize(
    "code", ["PERMISSION_DENIED", "SCHEMA_VIOLATION", "INVALID_TOOL_ARGS", "AUTHORIZATION_FAILED"]
)
def test_item_131_caller_errors_never_count(clock: Clock, code: str) -> None:
    b = make(clock)
    for _ in range(10):
        b.record_failure(code)
    assert b.state is BreakerState.CLOSED


@pytest.mark.parametrize("code", ["SECURITY_VIOLATION", "DATA_CORRUPTION", "SYSTEM_COMPROMISE"])
def test_item_132_security_codes_open_at_once(clock: Clock, code: str) -> None:
    b = make(clock)
    b.record_failure(code)
    assert b.state is BreakerState.OPEN


def test_success_in_closed_forgives_one_failure(clock: Clock) -> None:
    b = make(clock)
    b.record_failure("TIMEOUT")
    b.record_failure("TIMEOUT")
    b.record_success()
    b.record_failure("TIMEOUT")
    assert b.state is BreakerState.CLOSED
