"""The Runtime SDK: run LATER ``@tool`` functions as a GRID Runtime over mutual TLS 1.3.

A tool author writes ``@tool`` functions and calls :func:`run` (or ``aesp runtime MODULE``).
The Runtime connects to the Host, announces itself (``EnterpriseRuntimeAnnouncement``; the Host
takes its identity from the certificate), fulfils the Host's contracts it has code for, and
executes the calls the Host pushes on the work stream: plain tools answer with one ADM
ToolResult, generator tools stream chunks (C-12). When the Host goes away it reconnects with
exponential backoff and jitter (SPEC §2.10: 1 s, x2, 60 s cap, 10 % jitter).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import grpc
import grpc.aio

from aesp.adm import AdmError, FunctionCall, Profile, canonical_json, parse_json
from aesp.core.identity import certificate_identity_from_pem
from aesp.later import Executor, ToolRegistry, default_registry
from aesp.later.registry import RegisteredTool
from aesp.proto.altar.adm.v1 import adm_pb2 as _adm_pb2
from aesp.proto.altar.aesp.v1 import enterprise_pb2 as _enterprise_pb2
from aesp.proto.altar.aesp.v1 import host_pb2 as _host_pb2
from aesp.proto.altar.aesp.v1 import host_pb2_grpc as _host_pb2_grpc
from aesp.proto.altar.grid.v1 import grid_pb2 as _grid_pb2
from aesp.server.tls import channel_credentials

_LOG = logging.getLogger("aesp.runtime")
SDK_VERSION = "0.1.0"
CAPABILITIES = ("streaming", "heartbeat", "cancellation")


@dataclass(frozen=True)
class Backoff:
    """Reconnect delays (SPEC §2.10 exponential backoff)."""

    initial_s: float = 1.0
    maximum_s: float = 60.0
    multiplier: float = 2.0
    jitter: float = 0.1

    def delays(self) -> Iterator[float]:
        """Endless delays: initial, x multiplier, capped, each with +/- jitter."""
        delay = self.initial_s
        while True:
            yield delay * (1 + random.uniform(-self.jitter, self.jitter))
            delay = min(delay * self.multiplier, self.maximum_s)


class Runtime:
    """One Runtime instance serving the tools of a :class:`~aesp.later.ToolRegistry`.

    Args:
        target: The Host's Runtime port, ``host:port``.
        ca: PEM of the CA that signed the Host's certificate.
        cert: PEM of this Runtime's certificate (a SPIFFE ``.../runtime/<name>`` id).
        key: PEM of its private key.
        registry: Tools to serve; the process-wide LATER registry by default.
        runtime_id: Instance id; defaults to ``<hostname>-<pid>``.
        sessions: Sessions to fulfil; empty means every session of the tenant.
        server_name: TLS name of the Host if it differs from ``target``'s host.
        backoff: Reconnect policy.
    """

    def __init__(
        self,
        *,
        target: str,
        ca: bytes,
        cert: bytes,
        key: bytes,
        registry: ToolRegistry | None = None,
        runtime_id: str | None = None,
        sessions: Sequence[str] = (),
        server_name: str | None = None,
        backoff: Backoff | None = None,
    ) -> None:
        self.target = target
        self._creds = channel_credentials(ca, cert, key)
        self._identity = certificate_identity_from_pem(cert)
        self.registry = registry if registry is not None else default_registry()
        self.runtime_id = runtime_id or f"{socket.gethostname()}-{os.getpid()}"
        self._sessions = tuple(sessions) or ("",)
        self._options = [("grpc.ssl_target_name_override", server_name)] if server_name else []
        self._backoff = backoff or Backoff()
        self._executor = Executor(self.registry)
        self.connected = asyncio.Event()
        self.fulfilled: tuple[str, ...] = ()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._channel: grpc.aio.Channel | None = None

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Start serving in the background; returns at once."""
        self._task = asyncio.create_task(self.run())

    async def wait_ready(self, timeout: float = 10.0) -> None:
        """Wait until connected and fulfilled (raises TimeoutError)."""
        await asyncio.wait_for(self.connected.wait(), timeout)

    async def stop(self) -> None:
        """Disconnect and stop reconnecting."""
        self._stopping = True
        if self._channel is not None:
            await self._channel.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def run(self) -> None:
        """Serve until stopped, reconnecting with backoff whenever the connection is lost."""
        delays = self._backoff.delays()
        while not self._stopping:
            try:
                await self._session()
                delays = self._backoff.delays()  # a clean session resets the backoff
            except asyncio.CancelledError:
                raise
            except grpc.aio.AioRpcError as exc:
                if exc.code() in (
                    grpc.StatusCode.UNAUTHENTICATED,
                    grpc.StatusCode.PERMISSION_DENIED,
                ):
                    _LOG.error("the Host refused this runtime: %s", exc.details())
                else:
                    _LOG.warning("connection to the Host lost: %s", exc.details())
            except Exception as exc:  # noqa: BLE001 - never die silently; log and reconnect
                _LOG.warning("runtime connection failed: %s", exc)
            self.connected.clear()
            if self._stopping:
                break
            await asyncio.sleep(next(delays))

    # ------------------------------------------------------------------ one connection

    async def _session(self) -> None:
        channel = grpc.aio.secure_channel(self.target, self._creds, options=self._options)
        self._channel = channel
        try:
            stub = _host_pb2_grpc.GridRuntimeServiceStub(channel)
            announced = await stub.AnnounceRuntime(self._announcement())
            names = [n for n in announced.available_contracts if n in self.registry]
            ignored = announced.feature_config.get("ignored_declared_contracts")
            if ignored:
                _LOG.warning("the Host has no active contract for: %s", ignored)
            interval = int(announced.feature_config.get("heartbeat_interval_ms", "30000")) / 1000
            outbox: asyncio.Queue[_host_pb2.RuntimeMessage | None] = asyncio.Queue()
            outbox.put_nowait(
                _host_pb2.RuntimeMessage(
                    open=_host_pb2.ConnectOpen(
                        connection_id=announced.connection_id, runtime_id=self.runtime_id
                    )
                )
            )
            stream = stub.Connect(_drain(outbox))
            first = await stream.read()
            if first is grpc.aio.EOF:
                raise ConnectionError("the Host closed the work stream")
            await self._fulfil(stub, names)
            self.connected.set()
            _LOG.info(
                "runtime %s serving %s", self.runtime_id, ", ".join(self.fulfilled) or "nothing"
            )
            await self._serve(stub, stream, outbox, interval)
        finally:
            self.connected.clear()
            await channel.close()

    def _announcement(self) -> _enterprise_pb2.EnterpriseRuntimeAnnouncement:
        ident = self._identity
        return _enterprise_pb2.EnterpriseRuntimeAnnouncement(
            runtime_id=self.runtime_id,
            language="python",
            version=SDK_VERSION,
            capabilities=CAPABILITIES,
            declared_contracts=sorted(self.registry.names()),
            compliance_level=_grid_pb2.LEVEL_3_ENTERPRISE,
            certificate_identity=_enterprise_pb2.CertificateIdentity(
                subject_dn=ident.subject_dn,
                fingerprint_sha256=ident.fingerprint_sha256,
                spiffe_id=ident.spiffe_id,
            ),
        )

    async def _fulfil(self, stub: _host_pb2_grpc.GridRuntimeServiceStub, names: list[str]) -> None:
        fulfilled: set[str] = set()
        if not names:
            self.fulfilled = ()
            return
        for session_id in self._sessions:
            response = await stub.FulfillTools(
                _grid_pb2.FulfillTools(
                    session_id=session_id, tool_names=names, runtime_id=self.runtime_id
                )
            )
            fulfilled.update(response.fulfilled_tools)
            for name, error in zip(response.rejected_tools, response.errors, strict=False):
                _LOG.warning("the Host rejected %s: %s (%s)", name, error.message, error.type)
        self.fulfilled = tuple(sorted(fulfilled))

    async def _serve(
        self,
        stub: _host_pb2_grpc.GridRuntimeServiceStub,
        stream: grpc.aio.StreamStreamCall,
        outbox: asyncio.Queue[_host_pb2.RuntimeMessage | None],
        interval: float,
    ) -> None:
        running: dict[str, asyncio.Task[None]] = {}
        beat = asyncio.create_task(self._heartbeats(outbox, interval))
        try:
            while True:
                message = await stream.read()
                if message is grpc.aio.EOF:
                    return
                kind = message.WhichOneof("kind")
                if kind == "call":
                    call = message.call
                    task = asyncio.create_task(self._execute(call, outbox))
                    running[call.invocation_id] = task
                    task.add_done_callback(lambda _t, i=call.invocation_id: running.pop(i, None))
                elif kind == "cancel":
                    task = running.pop(message.cancel.invocation_id, None)
                    if task is not None:
                        task.cancel()
                elif kind == "contracts":
                    names = [n for n in message.contracts.available_contracts if n in self.registry]
                    await self._fulfil(stub, names)
        finally:
            beat.cancel()
            for task in running.values():
                task.cancel()
            outbox.put_nowait(None)

    async def _heartbeats(
        self, outbox: asyncio.Queue[_host_pb2.RuntimeMessage | None], interval: float
    ) -> None:
        while True:
            await asyncio.sleep(interval)
            outbox.put_nowait(
                _host_pb2.RuntimeMessage(
                    heartbeat=_grid_pb2.Heartbeat(
                        runtime_id=self.runtime_id, timestamp_ms=_now_ms()
                    )
                )
            )

    # ------------------------------------------------------------------ execution

    async def _execute(
        self, call: _grid_pb2.ToolCall, outbox: asyncio.Queue[_host_pb2.RuntimeMessage | None]
    ) -> None:
        fc = call.call
        entry = self.registry.get(fc.name)
        try:
            args = parse_json(fc.args)
        except AdmError as exc:
            outbox.put_nowait(
                _result(call, _error_result(fc, f"arguments are not JSON: {exc.reason}"))
            )
            return
        if entry is not None and entry.streaming:
            async for chunk in self._stream(call, entry, args):
                outbox.put_nowait(_host_pb2.RuntimeMessage(chunk=chunk))
            return
        try:
            adm_call = FunctionCall(call_id=fc.call_id, name=fc.name, args=args)
        except (AdmError, TypeError) as exc:
            outbox.put_nowait(_result(call, _error_result(fc, f"invalid call: {exc}")))
            return
        result = await self._executor.execute_async(None, adm_call)
        message = _adm_pb2.ToolResult(call_id=fc.call_id, name=fc.name)
        payload = result.to_json()
        if payload["status"] == "SUCCESS":
            message.status = _adm_pb2.SUCCESS
            message.content = canonical_json(payload["content"])
        else:
            message.status = _adm_pb2.ERROR
            message.error.message = payload["error"]["message"]
            message.error.type = payload["error"].get("type", "")
        outbox.put_nowait(_result(call, message))

    async def _stream(
        self, call: _grid_pb2.ToolCall, entry: RegisteredTool, args: object
    ) -> AsyncIterator[_grid_pb2.StreamChunk]:
        """Chunks of a generator tool; the last one is final (C-12: ids from 0, +1 each)."""
        inv, cid = call.invocation_id, call.correlation_id
        chunk_id = 0
        try:
            entry.declaration.args_validator(Profile.LENIENT)(args)
            items = _iterate(entry, args)
            held: object = _NOTHING
            async for item in items:
                if held is not _NOTHING:
                    yield _grid_pb2.StreamChunk(
                        invocation_id=inv,
                        chunk_id=chunk_id,
                        payload=canonical_json(held),
                        correlation_id=cid,
                    )
                    chunk_id += 1
                held = item
            last = canonical_json(None if held is _NOTHING else held)
            yield _grid_pb2.StreamChunk(
                invocation_id=inv,
                chunk_id=chunk_id,
                payload=last,
                is_final=True,
                correlation_id=cid,
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - a tool failure is an in-band chunk error
            _LOG.info("streaming tool %s failed", entry.name, exc_info=exc)
            error = _grid_pb2.EnhancedError(
                type="TOOL_EXECUTION_FAILED",
                message=f"{entry.name} failed: {type(exc).__name__}: {exc}"[:500],
                component="runtime",
                correlation_id=cid,
            )
            yield _grid_pb2.StreamChunk(
                invocation_id=inv,
                chunk_id=chunk_id,
                is_final=True,
                correlation_id=cid,
                enhanced_error=error,
            )


_NOTHING = object()


async def _iterate(entry: RegisteredTool, args: object) -> AsyncIterator[object]:
    produced = entry.func(**args)  # type: ignore[arg-type]
    if entry.is_async:
        async for item in produced:
            yield item
        return
    iterator = iter(produced)
    while True:
        item = await asyncio.to_thread(next, iterator, _NOTHING)
        if item is _NOTHING:
            return
        yield item


async def _drain(
    outbox: asyncio.Queue[_host_pb2.RuntimeMessage | None],
) -> AsyncIterator[_host_pb2.RuntimeMessage]:
    while True:
        message = await outbox.get()
        if message is None:
            return
        yield message


def _result(call: _grid_pb2.ToolCall, result: _adm_pb2.ToolResult) -> _host_pb2.RuntimeMessage:
    return _host_pb2.RuntimeMessage(
        result=_grid_pb2.ToolResult(
            invocation_id=call.invocation_id, correlation_id=call.correlation_id, result=result
        )
    )


def _error_result(fc: _adm_pb2.FunctionCall, message: str) -> _adm_pb2.ToolResult:
    return _adm_pb2.ToolResult(
        call_id=fc.call_id,
        name=fc.name,
        status=_adm_pb2.ERROR,
        error=_adm_pb2.ErrorObject(message=message, type="PARAMETER_VALIDATION_FAILED"),
    )


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def run(
    *,
    target: str,
    ca: Path,
    cert: Path,
    key: Path,
    registry: ToolRegistry | None = None,
    runtime_id: str | None = None,
) -> None:
    """Serve ``registry``'s tools until interrupted (the one-call entry point for tool authors)."""
    runtime = Runtime(
        target=target,
        ca=ca.read_bytes(),
        cert=cert.read_bytes(),
        key=key.read_bytes(),
        registry=registry,
        runtime_id=runtime_id,
    )
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(runtime.run())
