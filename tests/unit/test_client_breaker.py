"""Unit tests of the client's fake-clock machinery: the client breaker and the audit retry buffer.

Both decide *when* the client talks to the Host, so both take an injectable clock and are tested
here without sleeping and without a network: the breaker against SPEC §2.10's client defaults
(checklist item 133), the buffer against SPEC §2.10's audit retry policy (item 125).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TypedDict

import pytest

from aesp.certs import init_dev_pki
from aesp.client import (
    AespClientError,
    AsyncClient,
    AuditRetryPolicy,
    BreakerState,
    CircuitOpen,
    Client,
    ClientBreaker,
    ClientBreakerConfig,
    ToolUnavailable,
)
from aesp.client.audit_buffer import AuditBuffer, is_definitive
from aesp.client.errors import build_enhanced_error, error_for, make_error
from aesp.proto.altar.grid.v1 import grid_pb2

COUNTED = ("CONNECTION_FAILED", "NETWORK_TIMEOUT", "TLS_HANDSHAKE_FAILED", "HOST_UNAVAILABLE")


class FakeClock:
    """A monotonic clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def breaker(clock: FakeClock) -> ClientBreaker:
    return ClientBreaker(clock=clock)


def _open(breaker: ClientBreaker, code: str = "CONNECTION_FAILED") -> None:
    for _ in range(5):
        breaker.record_failure(code)


# ---------------------------------------------------------------- breaker: CLOSED -> OPEN


def test_defaults_are_the_grid_client_breaker() -> None:
    config = ClientBreakerConfig()
    assert (config.failure_threshold, config.failure_window_ms) == (5, 60_000)
    assert (config.recovery_timeout_ms, config.success_threshold) == (30_000, 3)


@pytest.mark.parametrize("code", COUNTED)
def test_five_counted_failures_within_the_window_open_it(
    breaker: ClientBreaker, clock: FakeClock, code: str
) -> None:
    for _ in range(4):
        breaker.record_failure(code)
        clock.advance(10)
    assert breaker.state is BreakerState.CLOSED
    breaker.record_failure(code)  # the fifth, 40 s after the first
    assert breaker.state is BreakerState.OPEN


def test_failures_older_than_the_window_do_not_count(
    breaker: ClientBreaker, clock: FakeClock
) -> None:
    for _ in range(4):
        breaker.record_failure("CONNECTION_FAILED")
    clock.advance(60.5)
    breaker.record_failure("CONNECTION_FAILED")
    assert breaker.state is BreakerState.CLOSED


@pytest.mark.parametrize(
    "code",
    ["PERMISSION_DENIED", "SCHEMA_VIOLATION", "INVALID_TOOL_ARGS", "TIMEOUT", "UNSUPPORTED_TOOL"],
)
def test_caller_and_host_side_errors_never_count(breaker: ClientBreaker, code: str) -> None:
    for _ in range(20):
        breaker.record_failure(code)
    assert breaker.state is BreakerState.CLOSED


def test_a_success_while_closed_forgives_one_failure(breaker: ClientBreaker) -> None:
    for _ in range(4):
        breaker.record_failure("CONNECTION_FAILED")
    breaker.record_success()
    breaker.record_failure("CONNECTION_FAILED")
    assert breaker.state is BreakerState.CLOSED
    breaker.record_failure("CONNECTION_FAILED")
    assert breaker.state is BreakerState.OPEN


# ---------------------------------------------------------------- breaker: OPEN


def test_open_breaker_refuses_locally_with_a_retry_hint(
    breaker: ClientBreaker, clock: FakeClock
) -> None:
    _open(breaker)
    clock.advance(12)
    with pytest.raises(CircuitOpen, match="SERVICE_UNAVAILABLE: .*breaker") as info:
        breaker.check(correlation_id="client-1-abcdef01", target="localhost:1")
    error = info.value
    assert isinstance(error, ToolUnavailable)
    assert error.code == "SERVICE_UNAVAILABLE"
    assert error.retry_after_ms == 18_000
    assert error.retry_allowed
    assert error.origin == "client"
    assert str(error).endswith("(correlation id client-1-abcdef01)")
    assert error.enterprise_error.code == "SERVICE_UNAVAILABLE"
    assert error.enterprise_error.retry_after_ms == 18_000
    assert breaker.retry_after_ms() == 18_000


def test_closed_breaker_lets_calls_through(breaker: ClientBreaker) -> None:
    breaker.check()
    assert breaker.retry_after_ms() == 0


# ---------------------------------------------------------------- breaker: HALF_OPEN


def test_half_open_after_the_recovery_timeout(breaker: ClientBreaker, clock: FakeClock) -> None:
    _open(breaker)
    clock.advance(29.999)
    assert breaker.state is BreakerState.OPEN
    clock.advance(0.001)
    assert breaker.state is BreakerState.HALF_OPEN
    breaker.check()  # trial calls go through


def test_three_successes_close_it(breaker: ClientBreaker, clock: FakeClock) -> None:
    _open(breaker)
    clock.advance(30)
    breaker.record_success()
    breaker.record_success()
    assert breaker.state is BreakerState.HALF_OPEN
    breaker.record_success()
    assert breaker.state is BreakerState.CLOSED
    for _ in range(4):  # the failure count restarted from zero
        breaker.record_failure("NETWORK_TIMEOUT")
    assert breaker.state is BreakerState.CLOSED


def test_any_counted_failure_while_half_open_reopens_it(
    breaker: ClientBreaker, clock: FakeClock
) -> None:
    _open(breaker)
    clock.advance(30)
    breaker.record_success()
    breaker.record_failure("TLS_HANDSHAKE_FAILED")
    assert breaker.state is BreakerState.OPEN
    assert breaker.retry_after_ms() == 30_000


def test_config_refuses_a_breaker_that_cannot_work() -> None:
    with pytest.raises(ValueError, match="failure_threshold"):
        ClientBreakerConfig(failure_threshold=0)
    with pytest.raises(ValueError, match="recovery_timeout_ms"):
        ClientBreakerConfig(recovery_timeout_ms=-1)


# ---------------------------------------------------------------- breaker inside the clients


class Pem(TypedDict):
    """Client credentials, as keyword arguments of ``Client``/``AsyncClient``."""

    ca: bytes
    cert: bytes
    key: bytes


@pytest.fixture(scope="module")
def pem(tmp_path_factory: pytest.TempPathFactory) -> Pem:
    pki = init_dev_pki(tmp_path_factory.mktemp("pki"), clients=("demo",))
    cert, key = pki.client("demo")
    return Pem(ca=Path(pki.ca).read_bytes(), cert=cert.read_bytes(), key=key.read_bytes())


def test_sync_client_refuses_without_touching_the_network(pem: Pem, breaker: ClientBreaker) -> None:
    _open(breaker)
    # NOTE: port 9 on a TEST-NET address; an attempt to connect would fail differently.
    with Client("192.0.2.1:9", breaker=breaker, **pem) as client:
        with pytest.raises(CircuitOpen, match="SERVICE_UNAVAILABLE"):
            client.create_session()
        with pytest.raises(CircuitOpen, match="SERVICE_UNAVAILABLE"):
            list(client.stream("sess", "count", {"n": 1}))


async def test_async_client_refuses_without_touching_the_network(
    pem: Pem, breaker: ClientBreaker
) -> None:
    _open(breaker)
    async with AsyncClient("192.0.2.1:9", breaker=breaker, **pem) as client:
        with pytest.raises(CircuitOpen, match="SERVICE_UNAVAILABLE"):
            await client.call("sess", "add", {"a": 1})
        with pytest.raises(CircuitOpen, match="SERVICE_UNAVAILABLE"):
            await client.authorize("sess", "add", {"a": 1})


# ---------------------------------------------------------------- audit retry buffer


def _log(invocation_id: str) -> grid_pb2.LogToolResultRequest:
    return grid_pb2.LogToolResultRequest(invocation_id=invocation_id, correlation_id="c-1")


def _transient() -> AespClientError:
    return make_error("CONNECTION_FAILED", "down", origin="transport")


def test_backoff_follows_the_audit_retry_policy() -> None:
    policy = AuditRetryPolicy(jitter=0)
    assert [policy.delay_ms(n, 0.5) for n in range(1, 12)] == [
        1000,
        2000,
        4000,
        8000,
        16000,
        32000,
        64000,
        128000,
        256000,
        300000,
        300000,
    ]
    jittered = AuditRetryPolicy()
    assert jittered.delay_ms(1, 0.0) == pytest.approx(900)
    assert jittered.delay_ms(1, 0.999999) == pytest.approx(1100, abs=0.01)


def test_failed_records_wait_for_their_backoff(clock: FakeClock) -> None:
    buffer = AuditBuffer(AuditRetryPolicy(jitter=0), clock=clock)
    entry = buffer.add(_log("inv-1"))
    assert buffer.due() == [entry]
    buffer.fail(entry, _transient())
    assert buffer.due() == []
    assert buffer.next_due_in() == pytest.approx(1.0)
    clock.advance(1.0)
    assert buffer.due() == [entry]
    buffer.fail(entry, _transient())
    assert buffer.next_due_in() == pytest.approx(2.0)
    (pending,) = buffer.snapshot()
    assert (pending.invocation_id, pending.attempts, pending.last_error_code) == (
        "inv-1",
        2,
        "CONNECTION_FAILED",
    )
    buffer.acknowledge(entry)
    assert len(buffer) == 0
    assert buffer.next_due_in() is None


def test_records_are_parked_after_max_attempts_but_kept(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    buffer = AuditBuffer(AuditRetryPolicy(max_attempts=3), clock=clock)
    entry = buffer.add(_log("inv-1"))
    with caplog.at_level(logging.ERROR, logger="aesp.client.audit"):
        for _ in range(3):
            buffer.fail(entry, _transient())
    assert buffer.snapshot()[0].parked
    assert buffer.due() == [] and buffer.next_due_in() is None
    assert buffer.entries() == [entry]  # flush() still tries it
    assert "parked" in caplog.text


def test_buffer_is_bounded_fifo(clock: FakeClock, caplog: pytest.LogCaptureFixture) -> None:
    buffer = AuditBuffer(AuditRetryPolicy(buffer_size=2), clock=clock)
    with caplog.at_level(logging.ERROR, logger="aesp.client.audit"):
        for i in range(3):
            buffer.add(_log(f"inv-{i}"))
    assert [p.invocation_id for p in buffer.snapshot()] == ["inv-1", "inv-2"]
    assert buffer.dropped == 1
    assert "dropped the log of invocation inv-0" in caplog.text


def test_an_alert_every_hundred_failures(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    buffer = AuditBuffer(AuditRetryPolicy(alert_after_failures=4, max_attempts=100), clock=clock)
    entry = buffer.add(_log("inv-1"))
    with caplog.at_level(logging.ERROR, logger="aesp.client.audit"):
        for _ in range(8):
            buffer.fail(entry, _transient())
    assert caplog.text.count("audit logging has failed") == 2


def test_only_the_hosts_final_refusal_is_definitive(clock: FakeClock) -> None:
    rejected = error_for(build_enhanced_error("PROTOCOL_VIOLATION", "replayed"), origin="host")
    assert is_definitive(rejected)
    assert not is_definitive(make_error("CONNECTION_FAILED", "down", origin="transport"))
    assert not is_definitive(make_error("SERVICE_UNAVAILABLE", "breaker open"))
    audit_down = error_for(
        build_enhanced_error("AUDIT_REQUIREMENT_NOT_MET", "disk full"), origin="host"
    )
    assert not is_definitive(audit_down)
    buffer = AuditBuffer(clock=clock)
    entry = buffer.add(_log("inv-9"))
    buffer.reject(entry, rejected)
    assert len(buffer) == 0
    assert [r.invocation_id for r in buffer.rejected()] == ["inv-9"]


def test_policy_refuses_settings_that_lose_records_or_spin() -> None:
    with pytest.raises(ValueError, match="buffer_size"):
        AuditRetryPolicy(buffer_size=0)
    with pytest.raises(ValueError, match="initial_backoff_ms"):
        AuditRetryPolicy(initial_backoff_ms=0)
