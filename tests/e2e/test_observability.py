"""Observability end to end: a real Host over mTLS, scraped, traced, health-checked, reflected.

One Host with metrics on (``metrics_listen`` on a free loopback port), spans sent to the SDK's
in-memory exporter, a scripted Runtime serving ``lookup``, and a second client listener without
client certificates so the gateway can refuse an unauthenticated caller. Every figure is read
the way an operator reads it: over HTTP from ``/metrics``, and over gRPC from the standard
health and reflection services.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import grpc
import grpc.aio
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client.parser import text_string_to_metric_families

from aesp.certs import DevPki, init_dev_pki
from aesp.core.config import HostConfig, ObservabilityConfig, TlsConfig
from aesp.core.cost import Budget
from aesp.core.ids import now_ms
from aesp.proto.altar.aesp.v1 import host_pb2_grpc
from aesp.proto.altar.grid.v1 import grid_pb2
from aesp.server.app import CLIENT_SERVICES, RUNTIME_SERVICES, RunningHost, start_host
from aesp.server.tls import channel_credentials
from aesp.testing.harness import TEST_ACCESS, write_manifest
from tests.e2e.grid._grid import FAST_LIMITS, GridClient, fc, schema
from tests.e2e.scripted_runtime import ScriptedRuntime

CONTRACTS: list[dict[str, Any]] = [
    {
        "name": "lookup",
        "description": "Look a word up.",
        "parameters": schema(q="STRING"),
        "security_classification": "PUBLIC",
    }
]
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> DevPki:
    return init_dev_pki(tmp_path_factory.mktemp("pki"), runtimes=("example",), clients=("demo",))


@pytest.fixture
def spans() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
async def running(
    tmp_path: Path, pki: DevPki, spans: InMemorySpanExporter
) -> AsyncIterator[RunningHost]:
    config = HostConfig(
        manifest_path=write_manifest(tmp_path / "manifest.json", CONTRACTS),
        client_listen="127.0.0.1:0",
        client_tls_listen="127.0.0.1:0",
        runtime_listen="127.0.0.1:0",
        data_dir=tmp_path / "data",
        tls=TlsConfig(ca=pki.ca, cert=pki.host_cert, key=pki.host_key),
        limits=FAST_LIMITS,
        observability=ObservabilityConfig(metrics_listen="127.0.0.1:0", budget_refresh_s=0.1),
    )
    host = await start_host(config, access=TEST_ACCESS, span_exporter=spans)
    try:
        yield host
    finally:
        await host.stop(grace=0.2)


def _pem(pki: DevPki, kind: str, name: str) -> tuple[bytes, bytes, bytes]:
    cert, key = pki.client(name) if kind == "client" else pki.runtime(name)
    return pki.ca.read_bytes(), cert.read_bytes(), key.read_bytes()


@pytest.fixture
async def client(running: RunningHost, pki: DevPki) -> AsyncIterator[GridClient]:
    c = GridClient(f"localhost:{running.client_port}", _pem(pki, "client", "demo"))
    yield c
    await c.close()


@pytest.fixture
async def runtime(running: RunningHost, pki: DevPki) -> AsyncIterator[ScriptedRuntime]:
    rt = ScriptedRuntime(f"localhost:{running.runtime_port}", _pem(pki, "runtime", "example"))
    await rt.start(["lookup"])
    yield rt
    await rt.close()


def _get(running: RunningHost, path: str) -> tuple[int, str]:
    assert running.observability is not None
    url = f"http://127.0.0.1:{running.observability.metrics_port}{path}"
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


async def scrape(running: RunningHost) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of ``/metrics``: (name, labels) -> value."""
    status, text = await asyncio.to_thread(_get, running, "/metrics")
    assert status == 200
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str):
    return samples.get((name, frozenset(labels.items())))


async def eventually(check: Callable[[], Any], timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        try:
            result = check()
            if asyncio.iscoroutine(result):
                await result
            return
        except AssertionError:
            if asyncio.get_running_loop().time() > deadline:
                raise
        await asyncio.sleep(0.05)


async def test_metrics_count_a_success_and_refusals_with_their_labels(
    running: RunningHost, client: GridClient, runtime: ScriptedRuntime, pki: DevPki
) -> None:
    session = await client.session()
    ok = await client.call(session, fc("lookup", {"q": "x"}))
    assert not ok.HasField("error"), ok.error
    bad = await client.call(session, fc("lookup", {"q": 7}))
    assert bad.error.type == "SCHEMA_VIOLATION"
    unknown = await client.call(session, fc("no-such-tool-4f2a", {}))
    assert unknown.HasField("error")
    # The gateway refuses a caller without credentials before any servicer: counted from audit.
    anonymous = grpc.aio.secure_channel(
        f"localhost:{running.client_tls_port}", channel_credentials(pki.ca.read_bytes())
    )
    try:
        stub = host_pb2_grpc.GridClientServiceStub(anonymous)
        refused = await stub.CreateSession(grid_pb2.CreateSession(), timeout=5)
        assert refused.HasField("error")
        gateway_code = refused.error.type
    finally:
        await anonymous.close()

    samples = await scrape(running)
    assert value(samples, "aesp_calls_total", tool="lookup", outcome="SUCCESS") == 1
    assert value(samples, "aesp_calls_total", tool="lookup", outcome="SCHEMA_VIOLATION") == 1
    # A name outside the manifest never becomes a label of its own.
    assert value(samples, "aesp_calls_total", tool="_other", outcome=unknown.error.type) == 1
    assert not any(dict(labels).get("tool") == "no-such-tool-4f2a" for _, labels in samples)
    assert value(samples, "aesp_call_duration_seconds_count", tool="lookup") == 2
    assert value(samples, "aesp_call_duration_seconds_bucket", tool="lookup", le="10.0") == 2
    assert value(samples, "aesp_call_duration_seconds_sum", tool="lookup") > 0
    assert value(samples, "aesp_refusals_total", code="SCHEMA_VIOLATION") == 1
    assert value(samples, "aesp_refusals_total", code=unknown.error.type) == 1
    assert value(samples, "aesp_refusals_total", code=gateway_code) == 1
    assert value(samples, "aesp_sessions_live") == 1
    assert value(samples, "aesp_runtimes_connected") == 1
    assert running.host.audit_shipper is not None
    assert value(samples, "aesp_audit_lag_bytes", follower="index") is not None
    assert value(samples, "aesp_audit_lag_seconds", follower="index") is not None


async def test_audit_lag_falls_to_zero_once_the_shipper_catches_up(
    running: RunningHost, client: GridClient
) -> None:
    await client.session()
    shipper = running.host.audit_shipper
    assert shipper is not None
    await shipper.flush()

    async def caught_up() -> None:
        samples = await scrape(running)
        assert value(samples, "aesp_audit_lag_bytes", follower="index") == 0
        assert value(samples, "aesp_audit_lag_seconds", follower="index") == 0

    await eventually(caught_up)


async def test_budget_use_is_refreshed_in_the_background(running: RunningHost) -> None:
    ledger = running.host.cost
    await ledger.put_budget(Budget("ops-budget", "default", amount_micros=100_000_000))
    outcome = await ledger.reserve(
        ["ops-budget"], 25_000_000, reservation_id="r-obs-1", now_ms=now_ms(), ttl_ms=60_000
    )
    assert outcome.accepted

    async def refreshed() -> None:
        samples = await scrape(running)
        ratio = value(samples, "aesp_budget_used_ratio", budget_id="ops-budget", tenant="default")
        assert ratio == pytest.approx(0.25)

    await eventually(refreshed)


async def test_the_span_of_a_call_carries_the_correlation_id_the_client_sent(
    running: RunningHost,
    client: GridClient,
    runtime: ScriptedRuntime,
    spans: InMemorySpanExporter,
) -> None:
    session = await client.session()
    await client.call(session, fc("lookup", {"q": "x"}), correlation_id="wf-trace-0001")
    await client.call(session, fc("lookup", {"q": 1}), correlation_id="wf-trace-0002")
    assert running.observability is not None and running.observability.tracing is not None
    running.observability.tracing.force_flush()
    by_cid = {s.attributes["aesp.correlation_id"]: s for s in spans.get_finished_spans()}
    ok, refused = by_cid["wf-trace-0001"], by_cid["wf-trace-0002"]
    assert ok.name == "aesp.GridClientService/CallTool"
    assert ok.attributes["aesp.tool"] == "lookup"
    assert ok.attributes["aesp.tenant"] == "default"
    assert ok.attributes["aesp.outcome"] == "SUCCESS"
    assert ok.status.is_ok
    assert refused.attributes["aesp.outcome"] == "SCHEMA_VIOLATION"
    assert not refused.status.is_ok


async def test_a_caller_traceparent_becomes_the_span_parent(
    running: RunningHost, client: GridClient, runtime: ScriptedRuntime, spans: InMemorySpanExporter
) -> None:
    session = await client.session()
    trace_id = "0af7651916cd43dd8448eb211c80319c"
    request = grid_pb2.ToolCall(session_id=session, correlation_id="wf-parent-1")
    request.call.CopyFrom(fc("lookup", {"q": "x"}))
    metadata = (("traceparent", f"00-{trace_id}-b7ad6b7169203331-01"),)
    await client.stub.CallTool(request, metadata=metadata, timeout=5)
    assert running.observability is not None and running.observability.tracing is not None
    running.observability.tracing.force_flush()
    [span] = [
        s
        for s in spans.get_finished_spans()
        if s.attributes["aesp.correlation_id"] == "wf-parent-1"
    ]
    assert format(span.context.trace_id, "032x") == trace_id
    assert span.parent is not None and format(span.parent.span_id, "016x") == "b7ad6b7169203331"


async def test_health_is_serving_on_both_listeners_and_stops_serving_on_shutdown(
    running: RunningHost, client: GridClient, pki: DevPki
) -> None:
    health = health_pb2_grpc.HealthStub(client.channel)
    for service in ("", *CLIENT_SERVICES):
        answer = await health.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
        assert answer.status == SERVING, service
    ca, cert, key = _pem(pki, "runtime", "example")
    runtime_channel = grpc.aio.secure_channel(
        f"localhost:{running.runtime_port}", channel_credentials(ca, cert, key)
    )
    try:
        runtime_health = health_pb2_grpc.HealthStub(runtime_channel)
        for service in ("", *RUNTIME_SERVICES):
            request = health_pb2.HealthCheckRequest(service=service)
            assert (await runtime_health.Check(request, timeout=5)).status == SERVING
    finally:
        await runtime_channel.close()
    assert await asyncio.to_thread(_get, running, "/readyz") == (200, "ready\n")
    assert await asyncio.to_thread(_get, running, "/healthz") == (200, "ok\n")

    assert running.health is not None
    await running.health.stopping()
    answer = await health.Check(health_pb2.HealthCheckRequest(service=""), timeout=5)
    assert answer.status == NOT_SERVING
    status, _ = await asyncio.to_thread(_get, running, "/readyz")
    assert status == 503


async def test_health_without_credentials_is_refused_on_the_tls_only_listener(
    running: RunningHost, pki: DevPki
) -> None:
    channel = grpc.aio.secure_channel(
        f"localhost:{running.client_tls_port}", channel_credentials(pki.ca.read_bytes())
    )
    try:
        health = health_pb2_grpc.HealthStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await health.Check(health_pb2.HealthCheckRequest(), timeout=5)
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
    finally:
        await channel.close()


async def test_reflection_lists_every_service_by_full_name(
    running: RunningHost, client: GridClient
) -> None:
    stub = reflection_pb2_grpc.ServerReflectionStub(client.channel)
    request = reflection_pb2.ServerReflectionRequest(list_services="")
    answers = [a async for a in stub.ServerReflectionInfo(iter([request]), timeout=5)]
    names = {s.name for s in answers[0].list_services_response.service}
    assert set(CLIENT_SERVICES) <= names
    assert {"altar.aesp.v1.GridClientService", "altar.aesp.v1.EnterpriseAuditService"} <= names
    assert "grpc.health.v1.Health" in names
    # A service's descriptor can be fetched by name too (what grpcurl does next).
    symbol = reflection_pb2.ServerReflectionRequest(
        file_containing_symbol="altar.aesp.v1.GridClientService"
    )
    [found] = [a async for a in stub.ServerReflectionInfo(iter([symbol]), timeout=5)]
    assert found.file_descriptor_response.file_descriptor_proto


async def test_metrics_and_traces_off_by_default_build_nothing(tmp_path: Path, pki: DevPki) -> None:
    config = HostConfig(
        manifest_path=write_manifest(tmp_path / "manifest.json", CONTRACTS),
        client_listen="127.0.0.1:0",
        runtime_listen="127.0.0.1:0",
        data_dir=tmp_path / "data",
        tls=TlsConfig(ca=pki.ca, cert=pki.host_cert, key=pki.host_key),
    )
    running = await start_host(config, access=TEST_ACCESS)
    try:
        assert running.observability is not None
        assert running.observability.telemetry is None
        assert running.observability.metrics_port == 0
        assert "append" not in vars(running.host.audit)  # the audit log is not wrapped
        client = GridClient(f"localhost:{running.client_port}", _pem(pki, "client", "demo"))
        try:
            health = health_pb2_grpc.HealthStub(client.channel)
            answer = await health.Check(health_pb2.HealthCheckRequest(), timeout=5)
            assert answer.status == SERVING
        finally:
            await client.close()
    finally:
        await running.stop(grace=0.2)


async def test_an_unbindable_metrics_address_refuses_to_start(
    tmp_path: Path, pki: DevPki, running: RunningHost
) -> None:
    assert running.observability is not None
    taken = f"127.0.0.1:{running.observability.metrics_port}"
    config = HostConfig(
        manifest_path=write_manifest(tmp_path / "m2.json", CONTRACTS),
        client_listen="127.0.0.1:0",
        runtime_listen="127.0.0.1:0",
        data_dir=tmp_path / "data2",
        tls=TlsConfig(ca=pki.ca, cert=pki.host_cert, key=pki.host_key),
    )
    config = replace(config, observability=ObservabilityConfig(metrics_listen=taken))
    from aesp.core.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="metrics_listen"):
        await start_host(config, access=TEST_ACCESS)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_aesp_serve_logs_json_lines_and_serves_the_probes(tmp_path: Path, pki: DevPki) -> None:
    """``aesp serve --log-format json``: every stderr line is one JSON object."""
    manifest = write_manifest(tmp_path / "manifest.json", CONTRACTS)
    metrics_port = _free_port()
    (tmp_path / "aesp.toml").write_text(
        f'[host]\nmanifest_path = "{manifest}"\n'
        f'client_listen = "127.0.0.1:{_free_port()}"\n'
        f'runtime_listen = "127.0.0.1:{_free_port()}"\n'
        f'[tls]\nca = "{pki.ca}"\ncert = "{pki.host_cert}"\nkey = "{pki.host_key}"\n'
        f'[observability]\nmetrics_listen = "127.0.0.1:{metrics_port}"\n'
    )
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    host = subprocess.Popen(
        [sys.executable, "-m", "aesp", "-v", "serve", "--config", "aesp.toml", "--log-format=json"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert host.stdout is not None
        assert "aesp host ready" in host.stdout.readline()
        url = f"http://127.0.0.1:{metrics_port}/readyz"
        with urllib.request.urlopen(url, timeout=5) as response:
            assert response.status == 200
        host.send_signal(signal.SIGTERM)
        _, stderr = host.communicate(timeout=30)
        assert host.returncode == 0, stderr
    finally:
        if host.poll() is None:
            host.kill()
            host.wait()
    lines = [json.loads(line) for line in stderr.splitlines() if line.strip()]
    assert lines, "the Host logged nothing"
    for line in lines:
        assert {"time", "level", "logger", "message"} <= set(line)
    assert any(
        "observability" in line["message"] and str(metrics_port) in line["message"]
        for line in lines
    )
