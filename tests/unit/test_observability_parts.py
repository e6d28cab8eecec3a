"""Observability pieces on their own: configuration, bounded labels, refusal counting from audit
events, audit lag, budget use, JSON log lines and the HTTP probes."""

from __future__ import annotations

import http.server
import io
import json
import logging
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from aesp.core.audit import AuditEvent, MemoryAuditLog
from aesp.core.config import ObservabilityConfig, parse_config
from aesp.core.cost import Budget
from aesp.core.errors import ConfigurationError
from aesp.core.ids import now_ms
from aesp.observability.http import STALL_SECONDS, ObservabilityServer
from aesp.observability.logs import JsonFormatter
from aesp.observability.metrics import OTHER, HostMetrics, audit_lag, refusal_code
from aesp.observability.tracing import build_tracing, parent_context
from aesp.observability.wiring import observe_appends
from aesp.server.gateway.admission import Admission, enter, leave
from aesp.testing.inmemory.cost import InMemoryCostLedger


def _metrics(tools: tuple[str, ...] = ("lookup",)) -> HostMetrics:
    return HostMetrics(
        known_tool=lambda name: name in tools,
        sessions=lambda: 3,
        runtimes=lambda: 2,
        lag_sources=lambda: (),
    )


def _sample(metrics: HostMetrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


# ---------------------------------------------------------------- configuration


def test_observability_section_parses_and_defaults_are_off(tmp_path: Path) -> None:
    default = parse_config({}, base=tmp_path).observability
    assert default == ObservabilityConfig()
    assert default.metrics_listen == "" and default.traces == "off"
    cfg = parse_config(
        {"observability": {"metrics_listen": "127.0.0.1:9464", "traces": "console"}},
        base=tmp_path,
    ).observability
    assert cfg.metrics_listen == "127.0.0.1:9464" and cfg.traces == "console"


@pytest.mark.parametrize(
    ("table", "key"),
    [
        ({"metrics_listen": "9464"}, "metrics_listen"),
        ({"traces": "jaeger"}, "traces"),
        ({"log_format": "xml"}, "log_format"),
        ({"budget_refresh_s": 0}, "budget_refresh_s"),
        ({"max_budget_series": 0}, "max_budget_series"),
        ({"metrics": "on"}, "metrics"),
    ],
)
def test_bad_observability_settings_are_refused_by_name(
    tmp_path: Path, table: dict[str, object], key: str
) -> None:
    with pytest.raises(ConfigurationError, match=f"observability.{key}"):
        parse_config({"observability": table}, base=tmp_path)


# ---------------------------------------------------------------- calls and refusals


def test_calls_are_counted_by_tool_and_outcome_with_latency_buckets() -> None:
    metrics = _metrics()
    metrics.observe_call("lookup", "SUCCESS", 0.0015)
    metrics.observe_call("lookup", "SUCCESS", 0.3)
    metrics.observe_call("lookup", "PERMISSION_DENIED", 0.0004)
    assert _sample(metrics, "aesp_calls_total", tool="lookup", outcome="SUCCESS") == 2
    assert _sample(metrics, "aesp_calls_total", tool="lookup", outcome="PERMISSION_DENIED") == 1
    assert _sample(metrics, "aesp_call_duration_seconds_bucket", tool="lookup", le="0.001") == 1
    assert _sample(metrics, "aesp_call_duration_seconds_bucket", tool="lookup", le="0.002") == 2
    assert _sample(metrics, "aesp_call_duration_seconds_bucket", tool="lookup", le="0.5") == 3
    assert _sample(metrics, "aesp_call_duration_seconds_count", tool="lookup") == 3


def test_names_outside_the_manifest_and_odd_codes_share_one_label() -> None:
    metrics = _metrics()
    for i in range(50):
        metrics.observe_call(f"random-{i}", "TOOL_NOT_FOUND", 0.001)
    metrics.observe_call("lookup", "not a code", 0.001)
    assert _sample(metrics, "aesp_calls_total", tool=OTHER, outcome="TOOL_NOT_FOUND") == 50
    assert _sample(metrics, "aesp_calls_total", tool="lookup", outcome=OTHER) == 1
    text = generate_latest(metrics.registry).decode()
    assert "random-" not in text


def test_refusals_are_read_from_audit_events() -> None:
    denied = AuditEvent("AUTHENTICATION_FAILURE", "DENIED", "authenticate", metadata={"code": "X"})
    failed = AuditEvent("TOOL_INVOCATION_FAILED", "FAILURE", "t", metadata={"code": "BUDGET_X"})
    runtime_error = AuditEvent("TOOL_INVOCATION_FAILED", "ERROR", "t", metadata={"code": "E"})
    success = AuditEvent("TOOL_INVOCATION_COMPLETE", "SUCCESS", "t")
    no_code = AuditEvent("AUTHORIZATION_DENIED", "DENIED", "admit")
    assert refusal_code(denied) == "X"
    assert refusal_code(failed) == "BUDGET_X"
    assert refusal_code(runtime_error) is None
    assert refusal_code(success) is None
    assert refusal_code(no_code) == OTHER
    metrics = _metrics()
    for event in (denied, denied, failed, runtime_error, success, no_code):
        metrics.observe_event(event)
    assert _sample(metrics, "aesp_refusals_total", code="X") == 2
    assert _sample(metrics, "aesp_refusals_total", code="BUDGET_X") == 1
    assert _sample(metrics, "aesp_refusals_total", code=OTHER) == 1
    assert _sample(metrics, "aesp_refusals_total", code="E") is None


async def test_observe_appends_sees_every_event_and_undo_restores_the_log() -> None:
    log = MemoryAuditLog()
    seen: list[str] = []
    undo = observe_appends(log, lambda event: seen.append(event.event_type))
    await log.append(AuditEvent("A", "SUCCESS", "a"))
    await log.append(AuditEvent("B", "DENIED", "b"), durable=True)
    assert seen == ["A", "B"]
    assert [e.event_type for e in log.events()] == ["A", "B"]
    undo()
    await log.append(AuditEvent("C", "SUCCESS", "c"))
    assert seen == ["A", "B"]
    assert "append" not in vars(log)


# ---------------------------------------------------------------- gauges


def test_live_counts_are_read_at_scrape_time() -> None:
    metrics = _metrics()
    assert _sample(metrics, "aesp_sessions_live") == 3
    assert _sample(metrics, "aesp_runtimes_connected") == 2


def _leaf(timestamp_ms: int) -> bytes:
    event = {"event_id": "e", "timestamp_ms": timestamp_ms, "event_type": "X"}
    return json.dumps({"kind": "leaf", "event": event}).encode() + b"\n"


def test_audit_lag_is_bytes_behind_and_the_age_of_the_first_unshipped_event(
    tmp_path: Path,
) -> None:
    log = tmp_path / "audit.jsonl"
    first = _leaf(1_000)
    checkpoint = json.dumps({"kind": "checkpoint"}).encode() + b"\n"
    second = _leaf(2_000)
    log.write_bytes(first + checkpoint + second)
    size = log.stat().st_size
    assert audit_lag(log, size) == (0, 0)
    assert audit_lag(log, 0) == (size, 1_000)
    # The checkpoint after the follower's position is skipped: the next event is the second.
    assert audit_lag(log, len(first)) == (size - len(first), 2_000)
    assert audit_lag(tmp_path / "absent", 0) == (0, 0)


def test_audit_lag_gauges_name_each_follower(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    log.write_bytes(_leaf(now_ms() - 4_000))

    class Follower:
        def __init__(self, name: str, offset: int) -> None:
            self.log_path, self.name, self.offset = log, name, offset

    metrics = HostMetrics(
        known_tool=lambda _: True,
        sessions=lambda: 0,
        runtimes=lambda: 0,
        lag_sources=lambda: (Follower("", 0), Follower("sink0", log.stat().st_size)),
    )
    assert _sample(metrics, "aesp_audit_lag_bytes", follower="index") == log.stat().st_size
    assert 3.0 < _sample(metrics, "aesp_audit_lag_seconds", follower="index") < 60  # type: ignore[operator]
    assert _sample(metrics, "aesp_audit_lag_bytes", follower="sink0") == 0
    assert _sample(metrics, "aesp_audit_lag_seconds", follower="sink0") == 0


async def test_budget_use_counts_spent_and_reserved_and_is_bounded() -> None:
    ledger = InMemoryCostLedger()
    for i in range(3):
        await ledger.put_budget(Budget(f"b{i}", f"t{i}", amount_micros=1_000_000))
    await ledger.reserve(["b0"], 400_000, reservation_id="r", now_ms=now_ms(), ttl_ms=60_000)
    metrics = _metrics()
    await metrics.refresh_budgets(ledger, limit=10)
    assert _sample(metrics, "aesp_budget_used_ratio", budget_id="b0", tenant="t0") == 0.4
    assert _sample(metrics, "aesp_budget_used_ratio", budget_id="b1", tenant="t1") == 0
    await metrics.refresh_budgets(ledger, limit=2)
    assert len(metrics.budgets) == 2


# ---------------------------------------------------------------- logs


def _record(message: str, **extra: object) -> logging.LogRecord:
    logger = logging.getLogger("aesp.test")
    return logger.makeRecord(
        "aesp.test", logging.WARNING, __file__, 1, message, (), None, extra=extra
    )


def test_json_log_line_has_the_fields_and_the_rpc_correlation_id() -> None:
    formatter = JsonFormatter()
    plain = json.loads(formatter.format(_record("hello %s")))
    assert set(plain) == {"time", "level", "logger", "message"}
    assert plain["level"] == "WARNING" and plain["logger"] == "aesp.test"
    assert plain["time"].endswith("Z") and "T" in plain["time"]
    token = enter(Admission("wf-log-1"))
    try:
        inside = json.loads(formatter.format(_record("during a call")))
    finally:
        leave(token)
    assert inside["correlation_id"] == "wf-log-1"
    given = json.loads(formatter.format(_record("explicit", correlation_id="wf-x")))
    assert given["correlation_id"] == "wf-x"


def test_a_traceback_stays_on_one_json_line() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("aesp.test.exc")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        try:
            raise ValueError("boom\nsecond line")
        except ValueError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)
    [line] = stream.getvalue().splitlines()
    parsed = json.loads(line)
    assert parsed["message"] == "failed" and "ValueError: boom" in parsed["exception"]


# ---------------------------------------------------------------- tracing


def test_traces_off_build_nothing_and_traceparent_is_read() -> None:
    assert build_tracing(ObservabilityConfig()) is None
    tracing = build_tracing(ObservabilityConfig(traces="console"))
    assert tracing is not None
    tracing.shutdown()
    assert parent_context(()) is None
    assert parent_context((("other", "x"),)) is None
    header = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    assert parent_context((("traceparent", header),)) is not None


# ---------------------------------------------------------------- HTTP probes


def _get(port: int, path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_probes_follow_readiness_and_the_loop_heartbeat() -> None:
    state = {"ready": False, "beat": time.monotonic()}
    server = ObservabilityServer(
        "127.0.0.1:0",
        CollectorRegistry(),
        ready=lambda: bool(state["ready"]),
        heartbeat=lambda: float(state["beat"]),
    )
    server.start()
    try:
        assert _get(server.port, "/readyz") == (503, b"not ready\n")
        state["ready"] = True
        assert _get(server.port, "/readyz") == (200, b"ready\n")
        assert _get(server.port, "/healthz") == (200, b"ok\n")
        state["beat"] = time.monotonic() - STALL_SECONDS - 1
        assert _get(server.port, "/healthz")[0] == 503
        assert _get(server.port, "/nope")[0] == 404
        status, body = _get(server.port, "/metrics")
        assert status == 200 and b"python_" not in body  # the Host's registry, not the global
    finally:
        server.stop()


class _Collector(http.server.BaseHTTPRequestHandler):
    """A local OTLP/HTTP receiver: keeps each POSTed body."""

    bodies: list[tuple[str, bytes]] = []

    def do_POST(self) -> None:  # noqa: N802 - the base class's name
        length = int(self.headers["Content-Length"])
        type(self).bodies.append((self.path, self.rfile.read(length)))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        """Quiet."""


def test_otlp_exporter_sends_the_call_span_with_its_correlation_id() -> None:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    from aesp.observability.calls import CallTelemetry

    _Collector.bodies = []
    server = http.server.HTTPServer(("127.0.0.1", 0), _Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        endpoint = f"http://127.0.0.1:{server.server_port}/v1/traces"
        tracing = build_tracing(ObservabilityConfig(traces="otlp", otlp_endpoint=endpoint))
        assert tracing is not None
        probe = CallTelemetry(None, tracing).begin("CallTool", "lookup", "wf-otlp-1", ())
        probe.finish("SUCCESS", "acme")
        assert tracing.force_flush()
        tracing.shutdown()
    finally:
        server.shutdown()
        server.server_close()
    [(path, body)] = _Collector.bodies
    assert path == "/v1/traces"
    request = ExportTraceServiceRequest.FromString(body)
    [span] = [s for r in request.resource_spans for ss in r.scope_spans for s in ss.spans]
    attributes = {a.key: a.value.string_value for a in span.attributes}
    assert attributes["aesp.correlation_id"] == "wf-otlp-1"
    assert attributes["aesp.tenant"] == "acme" and attributes["aesp.outcome"] == "SUCCESS"
