"""Shared parts of the GRID conformance tests: the manifest, a Host builder and a raw client.

Everything is real: :func:`grid_host` starts the Host's two gRPC servers with TLS 1.3 and
client certificates from one development PKI, and :class:`GridClient` talks to them with the
generated stubs. Unlike ``aesp.testing.harness.local_host`` the builder also takes a breaker
configuration and fixed ports (for the Host-restart test).
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import grpc
import grpc.aio

from aesp.certs import DevPki
from aesp.core.audit import AuditEvent
from aesp.core.config import BreakerConfig, HostConfig, LimitsConfig, TlsConfig
from aesp.core.control import AccessConfig
from aesp.core.errors import REGISTRY
from aesp.proto.altar.adm.v1 import adm_pb2
from aesp.proto.altar.aesp.v1 import host_pb2, host_pb2_grpc
from aesp.proto.altar.grid.v1 import grid_pb2
from aesp.server.app import start_host
from aesp.server.tls import channel_credentials
from aesp.testing.harness import TEST_ACCESS, HostHandle, write_manifest

REPO = Path(__file__).resolve().parents[3]
RUNTIME_TOOLS = REPO / "tests" / "e2e" / "runtime_tools.py"
HOST_CORRELATION = re.compile(r"^host-\d{9,11}-[0-9a-f]{8}$")  # item 106
REGISTERED_CODES = frozenset(REGISTRY)

# Short timeouts keep the directory fast; every limit still has its production meaning.
FAST_LIMITS = LimitsConfig(
    default_timeout_ms=3_000,
    max_timeout_ms=10_000,
    heartbeat_interval_ms=1_000,
    missed_heartbeats=3,
    max_message_bytes=64 * 1024,
)


def schema(**properties: str) -> dict[str, Any]:
    """An ADM OBJECT schema whose listed properties are all required."""
    return {
        "type": "OBJECT",
        "properties": {k: {"type": v} for k, v in properties.items()},
        "required": sorted(properties),
    }


# The Host's trusted contracts for tests/e2e/runtime_tools.py (plus `orphan`, served by no one).
CONTRACTS: list[dict[str, Any]] = [
    {
        "name": "add",
        "description": "Add two integers.",
        "parameters": schema(a="INTEGER", b="INTEGER"),
    },
    {"name": "echo", "description": "Echo text.", "parameters": schema(text="STRING")},
    {
        "name": "count",
        "description": "Count up to n.",
        "supports_streaming": True,
        "parameters": schema(n="INTEGER"),
    },
    {"name": "sleep_ms", "description": "Sleep.", "parameters": schema(ms="INTEGER")},
    {"name": "fail", "description": "Always fails.", "parameters": schema(message="STRING")},
    {"name": "orphan", "description": "No runtime serves this.", "parameters": schema(x="STRING")},
]
MANIFEST_NAMES = sorted(c["name"] for c in CONTRACTS)
SERVED = [n for n in MANIFEST_NAMES if n != "orphan"]  # what the `runtime` fixture fulfils


@asynccontextmanager
async def grid_host(
    directory: Path,
    pki: DevPki,
    contracts: Sequence[Mapping[str, Any]] = CONTRACTS,
    *,
    mode: str = "STRICT",
    compliance: str = "AESP",
    limits: LimitsConfig = FAST_LIMITS,
    breaker: BreakerConfig | None = None,
    client_port: int = 0,
    runtime_port: int = 0,
    access: AccessConfig = TEST_ACCESS,
) -> AsyncIterator[HostHandle]:
    """A Host on loopback serving ``contracts``; stopped on exit."""
    directory.mkdir(parents=True, exist_ok=True)
    manifest = write_manifest(directory / "manifest.json", contracts) if contracts else None
    config = HostConfig(
        mode=mode,
        compliance=compliance,
        manifest_path=manifest,
        client_listen=f"127.0.0.1:{client_port}",
        runtime_listen=f"127.0.0.1:{runtime_port}",
        data_dir=directory / "data",
        tls=TlsConfig(ca=pki.ca, cert=pki.host_cert, key=pki.host_key),
        limits=limits,
    )
    if breaker is not None:
        config = replace(config, breaker=breaker)
    running = await start_host(config, access=access)
    try:
        yield HostHandle(running, pki, config)
    finally:
        await running.stop(grace=0.2)


def fc(
    name: str, args: bytes | Mapping[str, Any] = b"{}", call_id: str | None = None
) -> adm_pb2.FunctionCall:
    """An ADM FunctionCall; dict args are JSON-encoded, bytes are sent as they are."""
    raw = args if isinstance(args, bytes) else json.dumps(args).encode()
    return adm_pb2.FunctionCall(
        call_id=call_id or f"c-{uuid.uuid4().hex[:12]}", name=name, args=raw
    )


class GridClient:
    """Raw GridClientService calls with a client certificate.

    Calls without an explicit ``correlation_id`` send a fresh one (``wf-<hex>``), kept in
    :attr:`last_correlation_id` so refusal tests can check it was echoed; pass ``""`` to send none.
    """

    def __init__(self, target: str, pem: tuple[bytes, bytes, bytes], **options: Any) -> None:
        ca, cert, key = pem
        self.channel = grpc.aio.secure_channel(
            target, channel_credentials(ca, cert, key), options=list(options.items())
        )
        self.stub = host_pb2_grpc.GridClientServiceStub(self.channel)
        self.last_correlation_id = ""

    def _cid(self, correlation_id: str | None) -> str:
        if correlation_id is None:
            correlation_id = f"wf-{uuid.uuid4().hex[:16]}"
        self.last_correlation_id = correlation_id
        return correlation_id

    async def session(self, ttl_seconds: int = 300, **fields: Any) -> str:
        """A new session id (asserts the Host created one)."""
        response = await self.stub.CreateSession(
            grid_pb2.CreateSession(ttl_seconds=ttl_seconds, **fields), timeout=5
        )
        assert not response.HasField("error"), response.error
        assert response.session_id
        return response.session_id

    async def call(
        self,
        session_id: str,
        call: adm_pb2.FunctionCall | None,
        *,
        correlation_id: str | None = None,
        timeout_ms: int = 0,
        deadline_s: float = 15,
    ) -> host_pb2.ToolCallResponse:
        """CallTool."""
        request = grid_pb2.ToolCall(
            session_id=session_id, correlation_id=self._cid(correlation_id), timeout_ms=timeout_ms
        )
        if call is not None:
            request.call.CopyFrom(call)
        return await self.stub.CallTool(request, timeout=deadline_s)

    async def stream(
        self,
        session_id: str,
        call: adm_pb2.FunctionCall | None,
        *,
        correlation_id: str | None = None,
        timeout_ms: int = 0,
    ) -> list[grid_pb2.StreamChunk]:
        """CallToolStream, every chunk until the Host ends the stream."""
        request = grid_pb2.ToolCall(
            session_id=session_id, correlation_id=self._cid(correlation_id), timeout_ms=timeout_ms
        )
        if call is not None:
            request.call.CopyFrom(call)
        return [c async for c in self.stub.CallToolStream(request, timeout=15)]

    async def authorize(
        self,
        session_id: str,
        call: adm_pb2.FunctionCall | None,
        *,
        correlation_id: str | None = None,
    ) -> grid_pb2.AuthorizeToolCallResponse:
        """AuthorizeToolCall."""
        request = grid_pb2.AuthorizeToolCallRequest(
            session_id=session_id, correlation_id=self._cid(correlation_id)
        )
        if call is not None:
            request.call.CopyFrom(call)
        return await self.stub.AuthorizeToolCall(request, timeout=5)

    async def log(
        self,
        session_id: str,
        invocation_id: str,
        result: adm_pb2.ToolResult | None,
        *,
        args_sha256: str = "",
        correlation_id: str | None = None,
    ) -> grid_pb2.LogToolResultResponse:
        """LogToolResult."""
        request = grid_pb2.LogToolResultRequest(
            session_id=session_id,
            invocation_id=invocation_id,
            correlation_id=self._cid(correlation_id),
            execution_time_ms=3,
            execution_metadata={"args_sha256": args_sha256} if args_sha256 else {},
            timestamp=1,
        )
        if result is not None:
            request.result.CopyFrom(result)
        return await self.stub.LogToolResult(request, timeout=5)

    async def close(self) -> None:
        """Close the channel."""
        await self.channel.close()


def success(call: adm_pb2.FunctionCall, content: bytes) -> adm_pb2.ToolResult:
    """A SUCCESS ADM result answering ``call``."""
    return adm_pb2.ToolResult(
        call_id=call.call_id, name=call.name, status=adm_pb2.SUCCESS, content=content
    )


def assert_error(
    error: grid_pb2.EnhancedError,
    code: str,
    *,
    retry: bool,
    correlation_id: str | None = None,
) -> None:
    """An EnhancedError with exactly this code, retry rule and echoed correlation id (item 104)."""
    assert error.type == code, f"expected {code}, got {error.type}: {error.message}"
    assert error.retry_allowed is retry, f"{code}: retry_allowed={error.retry_allowed}"
    if correlation_id is not None:
        assert error.correlation_id == correlation_id
    assert error.message.strip()
    assert error.component == "host"
    assert error.timestamp > 0


def events(handle: HostHandle, event_type: str | None = None, **where: str) -> list[AuditEvent]:
    """Audit events of the Host, optionally of one type and with these attribute values."""
    found = []
    for event in handle.running.host.audit.events():
        if event_type is not None and event.event_type != event_type:
            continue
        if all(getattr(event, k) == v for k, v in where.items()):
            found.append(event)
    return found


async def eventually(predicate: Callable[[], Any], timeout: float = 5.0, what: str = "") -> Any:
    """Poll ``predicate`` until it returns something truthy (fails after ``timeout``)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if loop.time() > end:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        await asyncio.sleep(0.02)


def runtime_command(
    target: str, pki: DevPki, *, name: str = "example", runtime_id: str | None = None
) -> list[str]:
    """Command line of a real Runtime process serving tests/e2e/runtime_tools.py."""
    cert, key = pki.runtime(name)
    flags = ["--target", target, "--ca", str(pki.ca), "--cert", str(cert), "--key", str(key)]
    if runtime_id:
        flags += ["--runtime-id", runtime_id]
    return [sys.executable, "-m", "aesp", "runtime", str(RUNTIME_TOOLS), *flags]
