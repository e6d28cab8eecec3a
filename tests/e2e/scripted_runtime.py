"""A scripted GRID Runtime for end-to-end tests: the raw runtime protocol, behaviour per call.

:class:`ScriptedRuntime` speaks ``GridRuntimeService`` with the generated stubs over real
mutual TLS 1.3. A test drives the handshake step by step (announce, possibly with a lying
certificate identity or tenant; fulfil; open the ``Connect`` stream) and then scripts what the
Runtime does with each ``ToolCall`` it receives:

* answer correctly (:func:`reply`), with a business error (:func:`reply_error`), or with any
  hand-built ADM result (:func:`reply_raw`), e.g. a wrong ``call_id``/``name`` or invalid ADM
  (:func:`wrong_call_id`, :func:`wrong_name`, :func:`invalid_adm`);
* never answer (:func:`never`), so the Host times out and sends ``CancelInvocation``;
* send stream chunks exactly as listed, in any order, duplicated or after the final one
  (:func:`chunks`);
* answer twice (:func:`reply_twice`).

Outside a call it can send raw messages (a result for an unknown invocation id, a chunk for
nothing) and stop heartbeating. It records every ``HostMessage``: ``calls`` (so a test can
assert the Runtime received nothing), ``cancels``, heartbeat echoes and status notifications.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import grpc
import grpc.aio

from aesp.adm import canonical_json
from aesp.core.identity import certificate_identity_from_pem
from aesp.proto.altar.adm.v1 import adm_pb2 as _adm_pb2
from aesp.proto.altar.aesp.v1 import enterprise_pb2 as _enterprise_pb2
from aesp.proto.altar.aesp.v1 import host_pb2 as _host_pb2
from aesp.proto.altar.aesp.v1 import host_pb2_grpc as _host_pb2_grpc
from aesp.proto.altar.grid.v1 import grid_pb2 as _grid_pb2
from aesp.server.tls import channel_credentials

__all__ = [
    "Behaviour",
    "Chunk",
    "ScriptedRuntime",
    "chunks",
    "invalid_adm",
    "never",
    "reply",
    "reply_error",
    "reply_raw",
    "reply_twice",
    "wrong_call_id",
    "wrong_name",
]

DEFAULT_CAPABILITIES = ("streaming", "heartbeat", "cancellation")
WAIT_S = 5.0  # default bound of every wait_* helper; a hang fails the test instead of the run

Behaviour = Callable[["ScriptedRuntime", _grid_pb2.ToolCall], Awaitable[None]]


# --------------------------------------------------------------------------- behaviours


def _args(call: _grid_pb2.ToolCall) -> Any:
    return json.loads(call.call.args)


def reply(compute: Callable[[Any], Any] | None = None, *, delay_s: float = 0.0) -> Behaviour:
    """Answer with a correct SUCCESS result; content is ``compute(args)`` (default: the args)."""

    async def behave(rt: ScriptedRuntime, call: _grid_pb2.ToolCall) -> None:
        if delay_s:
            await asyncio.sleep(delay_s)
        value = compute(_args(call)) if compute is not None else _args(call)
        await rt.send_result(call, status=_adm_pb2.SUCCESS, content=canonical_json(value))

    return behave


def reply_error(
    message: str = "the tool failed", type_: str = "TOOL_EXECUTION_FAILED"
) -> Behaviour:
    """Answer with a well-formed business-logic ERROR result (item 94)."""

    async def behave(rt: ScriptedRuntime, call: _grid_pb2.ToolCall) -> None:
        await rt.send_result(
            call,
            status=_adm_pb2.ERROR,
            error=_adm_pb2.ErrorObject(message=message, type=type_),
        )

    return behave


def reply_raw(build: Callable[[_grid_pb2.ToolCall], _adm_pb2.ToolResult]) -> Behaviour:
    """Answer with whatever ADM result ``build`` makes of the call (the envelope stays right)."""

    async def behave(rt: ScriptedRuntime, call: _grid_pb2.ToolCall) -> None:
        await rt.send(
            _host_pb2.RuntimeMessage(
                result=_grid_pb2.ToolResult(
                    invocation_id=call.invocation_id,
                    correlation_id=call.correlation_id,
                    result=build(call),
                )
            )
        )

    return behave


def wrong_call_id() -> Behaviour:
    """A SUCCESS result whose call_id is not the dispatched one (item 96)."""
    return reply_raw(
        lambda c: _adm_pb2.ToolResult(
            call_id=c.call.call_id + "-other",
            name=c.call.name,
            status=_adm_pb2.SUCCESS,
            content=b"1",
        )
    )


def wrong_name() -> Behaviour:
    """A SUCCESS result whose name is not the dispatched one (item 96)."""
    return reply_raw(
        lambda c: _adm_pb2.ToolResult(
            call_id=c.call.call_id, name=c.call.name + "_x", status=_adm_pb2.SUCCESS, content=b"1"
        )
    )


_INVALID_ADM: dict[str, Callable[[_grid_pb2.ToolCall], _adm_pb2.ToolResult]] = {
    "status_unspecified": lambda c: _adm_pb2.ToolResult(
        call_id=c.call.call_id, name=c.call.name, content=b"1"
    ),
    "content_and_error": lambda c: _adm_pb2.ToolResult(
        call_id=c.call.call_id,
        name=c.call.name,
        status=_adm_pb2.SUCCESS,
        content=b"1",
        error=_adm_pb2.ErrorObject(message="both"),
    ),
    "success_without_content": lambda c: _adm_pb2.ToolResult(
        call_id=c.call.call_id, name=c.call.name, status=_adm_pb2.SUCCESS
    ),
    "error_without_message": lambda c: _adm_pb2.ToolResult(
        call_id=c.call.call_id,
        name=c.call.name,
        status=_adm_pb2.ERROR,
        error=_adm_pb2.ErrorObject(message="  "),
    ),
    "error_with_content": lambda c: _adm_pb2.ToolResult(
        call_id=c.call.call_id,
        name=c.call.name,
        status=_adm_pb2.ERROR,
        content=b"1",
        error=_adm_pb2.ErrorObject(message="x"),
    ),
    "content_not_json": lambda c: _adm_pb2.ToolResult(
        call_id=c.call.call_id, name=c.call.name, status=_adm_pb2.SUCCESS, content=b"{not json"
    ),
    "status_out_of_range": lambda c: _adm_pb2.ToolResult(
        call_id=c.call.call_id, name=c.call.name, status=7, content=b"1"
    ),
}
INVALID_ADM_KINDS = tuple(_INVALID_ADM)


def invalid_adm(kind: str) -> Behaviour:
    """A result that is not valid ADM; ``kind`` is one of :data:`INVALID_ADM_KINDS`."""
    return reply_raw(_INVALID_ADM[kind])


def never() -> Behaviour:
    """Never answer: the Host must time out (C-45) or fail the call some other way."""

    async def behave(rt: ScriptedRuntime, call: _grid_pb2.ToolCall) -> None:
        return None

    return behave


def reply_twice() -> Behaviour:
    """Answer correctly, then send the same result again (item 95: already completed)."""
    first = reply()

    async def behave(rt: ScriptedRuntime, call: _grid_pb2.ToolCall) -> None:
        await first(rt, call)
        await asyncio.sleep(0.05)
        await first(rt, call)

    return behave


@dataclass(frozen=True)
class Chunk:
    """One scripted stream chunk. ``error`` puts an EnhancedError of that type in the chunk."""

    chunk_id: int
    payload: bytes = b"0"
    is_final: bool = False
    error: str = ""
    delay_s: float = 0.0


def chunks(items: Iterable[Chunk]) -> Behaviour:
    """Send exactly these chunks for the call (any order, duplicates, after final)."""
    listed = tuple(items)

    async def behave(rt: ScriptedRuntime, call: _grid_pb2.ToolCall) -> None:
        for item in listed:
            if item.delay_s:
                await asyncio.sleep(item.delay_s)
            message = _grid_pb2.StreamChunk(
                invocation_id=call.invocation_id,
                chunk_id=item.chunk_id,
                payload=item.payload,
                is_final=item.is_final,
                correlation_id=call.correlation_id,
            )
            if item.error:
                message.enhanced_error.type = item.error
                message.enhanced_error.message = f"scripted {item.error}"
                message.enhanced_error.component = "runtime"
            await rt.send(_host_pb2.RuntimeMessage(chunk=message))

    return behave


# --------------------------------------------------------------------------- the runtime


class ScriptedRuntime:
    """A Runtime whose behaviour the test scripts. Use ``async with`` or call :meth:`close`.

    Args:
        target: The Host's Runtime port, ``host:port``.
        pem: ``(ca, cert, key)`` PEMs of a runtime certificate.
        runtime_id: Announced instance id.
        capabilities: Announced capabilities.
        compliance_level: Announced ``ComplianceLevel`` (None: leave the field unset).
        declared_contracts: Announced declared contracts (empty: no limit).
        behaviour: What to do with every call no :meth:`on` rule matches.
    """

    def __init__(
        self,
        target: str,
        pem: tuple[bytes, bytes, bytes],
        *,
        runtime_id: str = "scripted-1",
        capabilities: Sequence[str] = DEFAULT_CAPABILITIES,
        compliance_level: int | None = _grid_pb2.LEVEL_3_ENTERPRISE,
        declared_contracts: Sequence[str] = (),
        behaviour: Behaviour | None = None,
    ) -> None:
        ca, cert, key = pem
        self.cert_pem = cert
        self.runtime_id = runtime_id
        self.capabilities = tuple(capabilities)
        self.compliance_level = compliance_level
        self.declared_contracts = tuple(declared_contracts)
        self.default: Behaviour = behaviour or reply()
        self._rules: dict[str, Behaviour] = {}
        self._once: list[Behaviour] = []
        self.channel = grpc.aio.secure_channel(target, channel_credentials(ca, cert, key))
        self.stub = _host_pb2_grpc.GridRuntimeServiceStub(self.channel)
        self.announced: _grid_pb2.AnnounceRuntimeResponse | None = None
        self.calls: list[_grid_pb2.ToolCall] = []
        self.cancels: list[_grid_pb2.CancelInvocation] = []
        self.messages: list[_host_pb2.HostMessage] = []
        self.stream_status: grpc.StatusCode | None = None
        self.closed = asyncio.Event()
        self._stream: grpc.aio.StreamStreamCall | None = None
        self._write_lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()
        self._reader: asyncio.Task[None] | None = None
        self._beat: asyncio.Task[None] | None = None
        self._changed = asyncio.Condition()

    async def __aenter__(self) -> ScriptedRuntime:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ------------------------------------------------------------------ scripting

    def on(self, name: str, behaviour: Behaviour) -> None:
        """Use ``behaviour`` for every call of tool ``name``."""
        self._rules[name] = behaviour

    def next_call(self, behaviour: Behaviour) -> None:
        """Use ``behaviour`` for the next call only (before name rules); queues up."""
        self._once.append(behaviour)

    # ------------------------------------------------------------------ handshake

    def announcement(
        self,
        *,
        spiffe_id: str | None = None,
        fingerprint: str | None = None,
        tenant_id: str = "",
        correlation_id: str = "",
        runtime_id: str | None = None,
    ) -> _enterprise_pb2.EnterpriseRuntimeAnnouncement:
        """The announcement; ``spiffe_id``/``fingerprint``/``tenant_id`` may lie."""
        ident = certificate_identity_from_pem(self.cert_pem)
        message = _enterprise_pb2.EnterpriseRuntimeAnnouncement(
            runtime_id=self.runtime_id if runtime_id is None else runtime_id,
            language="python",
            version="scripted-0",
            capabilities=self.capabilities,
            declared_contracts=self.declared_contracts,
            certificate_identity=_enterprise_pb2.CertificateIdentity(
                subject_dn=ident.subject_dn,
                spiffe_id=ident.spiffe_id if spiffe_id is None else spiffe_id,
                fingerprint_sha256=ident.fingerprint_sha256 if fingerprint is None else fingerprint,
            ),
            tenant_id=tenant_id,
            correlation_id=correlation_id,
        )
        if self.compliance_level is not None:
            message.compliance_level = self.compliance_level
        return message

    async def announce(self, **lies: Any) -> _grid_pb2.AnnounceRuntimeResponse:
        """AnnounceRuntime (raises ``grpc.aio.AioRpcError`` when the Host refuses)."""
        self.announced = await self.stub.AnnounceRuntime(self.announcement(**lies), timeout=WAIT_S)
        return self.announced

    async def fulfil(
        self,
        names: Sequence[str],
        *,
        session_id: str = "",
        runtime_id: str | None = None,
        correlation_id: str = "",
    ) -> _grid_pb2.FulfillToolsResponse:
        """FulfillTools for one session (empty: the whole tenant)."""
        return await self.stub.FulfillTools(
            _grid_pb2.FulfillTools(
                session_id=session_id,
                tool_names=list(names),
                runtime_id=self.runtime_id if runtime_id is None else runtime_id,
                correlation_id=correlation_id,
            ),
            timeout=WAIT_S,
        )

    async def register(
        self, tools: Sequence[_adm_pb2.Tool], *, session_id: str, runtime_id: str | None = None
    ) -> _grid_pb2.RegisterToolsResponse:
        """RegisterTools (DEVELOPMENT mode)."""
        return await self.stub.RegisterTools(
            _grid_pb2.RegisterToolsRequest(
                runtime_id=self.runtime_id if runtime_id is None else runtime_id,
                tools=list(tools),
                session_id=session_id,
            ),
            timeout=WAIT_S,
        )

    async def update_capabilities(
        self, added: Sequence[str] = (), removed: Sequence[str] = ()
    ) -> _grid_pb2.CapabilityUpdateResponse:
        """UpdateCapabilities for this runtime."""
        return await self.stub.UpdateCapabilities(
            _grid_pb2.CapabilityUpdate(
                runtime_id=self.runtime_id,
                new_features=list(added),
                deprecated_features=list(removed),
                reason="test",
                effective_timestamp=int(time.time() * 1000),
            ),
            timeout=WAIT_S,
        )

    async def connect(
        self, *, connection_id: str | None = None, heartbeat: bool = True
    ) -> _host_pb2.HostMessage:
        """Open the work stream and wait for the Host's first message (status ``connected``).

        Raises:
            grpc.aio.AioRpcError: when the Host refuses the stream.
        """
        assert self.announced is not None or connection_id is not None, "announce first"
        cid = connection_id if connection_id is not None else self.announced.connection_id
        self._stream = self.stub.Connect()
        await self._write(
            _host_pb2.RuntimeMessage(
                open=_host_pb2.ConnectOpen(connection_id=cid, runtime_id=self.runtime_id)
            )
        )
        first = await asyncio.wait_for(self._stream.read(), WAIT_S)
        if first is grpc.aio.EOF:
            await self._stream  # raises the refusal status
            raise ConnectionError("the Host closed the work stream without a status")
        self.messages.append(first)
        self._reader = asyncio.create_task(self._read())
        if heartbeat:
            self._beat = asyncio.create_task(self._heartbeats())
        return first

    async def start(self, names: Sequence[str] = (), *, session_id: str = "") -> ScriptedRuntime:
        """Announce, connect and fulfil ``names`` (default: every available contract)."""
        announced = await self.announce()
        await self.connect()
        wanted = list(names) if names else list(announced.available_contracts)
        if wanted:
            response = await self.fulfil(wanted, session_id=session_id)
            assert list(response.fulfilled_tools) == wanted, response
        return self

    # ------------------------------------------------------------------ sending

    async def send(self, message: _host_pb2.RuntimeMessage) -> None:
        """Send one raw message on the work stream."""
        await self._write(message)

    async def send_result(
        self,
        call: _grid_pb2.ToolCall | None = None,
        *,
        invocation_id: str | None = None,
        call_id: str | None = None,
        name: str | None = None,
        status: int = _adm_pb2.SUCCESS,
        content: bytes | None = b"null",
        error: _adm_pb2.ErrorObject | None = None,
    ) -> None:
        """Send a ToolResult for ``call`` (or for any invocation id, e.g. an unknown one)."""
        result = _adm_pb2.ToolResult(
            call_id=call_id if call_id is not None else (call.call.call_id if call else "c"),
            name=name if name is not None else (call.call.name if call else "add"),
            status=status,
        )
        if error is not None:
            result.error.CopyFrom(error)
        elif content is not None:
            result.content = content
        await self._write(
            _host_pb2.RuntimeMessage(
                result=_grid_pb2.ToolResult(
                    invocation_id=invocation_id
                    if invocation_id is not None
                    else (call.invocation_id if call else ""),
                    correlation_id=call.correlation_id if call else "",
                    result=result,
                )
            )
        )

    def stop_heartbeats(self) -> None:
        """Stop sending heartbeats (the Host should then declare the Runtime gone)."""
        if self._beat is not None:
            self._beat.cancel()
            self._beat = None

    # ------------------------------------------------------------------ waiting

    async def wait_calls(self, count: int = 1, timeout: float = WAIT_S) -> list[_grid_pb2.ToolCall]:
        """Wait until ``count`` calls have arrived; return them all."""
        await self._wait(lambda: len(self.calls) >= count, timeout)
        return list(self.calls)

    async def wait_cancel(
        self, invocation_id: str, timeout: float = WAIT_S
    ) -> _grid_pb2.CancelInvocation:
        """Wait for a CancelInvocation of ``invocation_id``."""
        await self._wait(
            lambda: any(c.invocation_id == invocation_id for c in self.cancels), timeout
        )
        return next(c for c in self.cancels if c.invocation_id == invocation_id)

    async def wait_closed(self, timeout: float = WAIT_S) -> None:
        """Wait until the Host has ended the work stream."""
        await asyncio.wait_for(self.closed.wait(), timeout)

    async def _wait(self, predicate: Callable[[], bool], timeout: float) -> None:
        async def waiter() -> None:
            async with self._changed:
                await self._changed.wait_for(predicate)

        await asyncio.wait_for(waiter(), timeout)

    # ------------------------------------------------------------------ internals

    async def _write(self, message: _host_pb2.RuntimeMessage) -> None:
        assert self._stream is not None, "connect first"
        async with self._write_lock:
            await self._stream.write(message)

    async def _read(self) -> None:
        assert self._stream is not None
        try:
            while True:
                message = await self._stream.read()
                if message is grpc.aio.EOF:
                    break
                self.messages.append(message)
                kind = message.WhichOneof("kind")
                if kind == "call":
                    self.calls.append(message.call)
                    behaviour = self._pick(message.call)
                    task = asyncio.create_task(self._run(behaviour, message.call))
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
                elif kind == "cancel":
                    self.cancels.append(message.cancel)
                async with self._changed:
                    self._changed.notify_all()
        except grpc.aio.AioRpcError as exc:
            self.stream_status = exc.code()
        except asyncio.CancelledError:
            raise
        finally:
            self.closed.set()
            with contextlib.suppress(RuntimeError):
                async with self._changed:
                    self._changed.notify_all()
        with contextlib.suppress(grpc.aio.AioRpcError, asyncio.CancelledError):
            self.stream_status = await self._stream.code()

    def _pick(self, call: _grid_pb2.ToolCall) -> Behaviour:
        if self._once:
            return self._once.pop(0)
        return self._rules.get(call.call.name, self.default)

    async def _run(self, behaviour: Behaviour, call: _grid_pb2.ToolCall) -> None:
        # A behaviour racing a closed stream is not the test's concern; the Host's answer is.
        with contextlib.suppress(
            grpc.aio.AioRpcError, grpc.aio.UsageError, asyncio.InvalidStateError
        ):
            await behaviour(self, call)

    async def _heartbeats(self) -> None:
        assert self.announced is not None
        interval = int(self.announced.feature_config.get("heartbeat_interval_ms", "30000")) / 1000
        while True:
            await asyncio.sleep(interval / 2)
            with contextlib.suppress(grpc.aio.AioRpcError, grpc.aio.UsageError):
                await self._write(
                    _host_pb2.RuntimeMessage(
                        heartbeat=_grid_pb2.Heartbeat(
                            runtime_id=self.runtime_id, timestamp_ms=int(time.time() * 1000)
                        )
                    )
                )

    async def close(self) -> None:
        """Stop everything and close the channel."""
        self.stop_heartbeats()
        for task in list(self._tasks):
            task.cancel()
        if self._stream is not None:
            self._stream.cancel()
        if self._reader is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
        await self.channel.close()
