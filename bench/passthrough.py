"""An ungoverned GRID forwarder: the baseline the governed Host is measured against.

It serves just enough of ``GridRuntimeService`` (AnnounceRuntime, FulfillTools, Connect) and
``GridClientService`` (CreateSession, CallTool) for the real Runtime SDK and the benchmark's
client to run unchanged, and nothing else:

* no validation of anything (announcements, sessions, call ids, arguments, results);
* no sessions: CreateSession hands back an id and forgets it;
* no audit, no contracts, no breaker, no timeouts of its own (the client's deadline applies);
* each CallTool is pushed, with a fresh invocation id, onto the work stream of a connected
  Runtime (round robin) and answered when the Runtime's result for that id comes back.

Transport is the Host's: the same certificates, TLS with client certificates required, the same
per-call TLS 1.3 gate (``RequireTls13Interceptor``) and the same server options, so the only
difference between the two middle processes is the governance itself. ``--no-tls13-gate``
drops the gate, to measure what it costs.

Run::

    python bench/passthrough.py --ca ca.pem --cert host.pem --key host.key

It prints ``passthrough ready: clients on H:P, runtimes on H:P`` once both ports listen (port
0, the default, picks free ports) and stops cleanly on SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import signal
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import grpc.aio

from aesp.proto.altar.aesp.v1 import enterprise_pb2 as _enterprise_pb2
from aesp.proto.altar.aesp.v1 import host_pb2 as _host_pb2
from aesp.proto.altar.aesp.v1 import host_pb2_grpc as _host_pb2_grpc
from aesp.proto.altar.grid.v1 import grid_pb2 as _grid_pb2
from aesp.server.app import KEEPALIVE_OPTIONS
from aesp.server.tls import RequireTls13Interceptor, load_pem, server_credentials

MAX_MESSAGE_BYTES = 8 * 1024 * 1024  # what the Host allows with its default limits


class _Stream:
    """One Runtime's open Connect stream: its outbox and the calls waiting for it."""

    def __init__(self, runtime_id: str) -> None:
        self.runtime_id = runtime_id
        self.outbox: asyncio.Queue[_host_pb2.HostMessage | None] = asyncio.Queue()
        self.pending: dict[str, asyncio.Future[_grid_pb2.ToolResult]] = {}

    def fail_all(self, why: str) -> None:
        for future in self.pending.values():
            if not future.done():
                future.set_exception(ConnectionError(why))
        self.pending.clear()


class Forwarder(
    _host_pb2_grpc.GridRuntimeServiceServicer, _host_pb2_grpc.GridClientServiceServicer
):
    """Both services in one object: the Runtime side fills ``_streams``, clients use it."""

    def __init__(self) -> None:
        self._streams: list[_Stream] = []
        self._next_stream = itertools.count()
        self._next_invocation = itertools.count()
        self._next_connection = itertools.count()

    # ------------------------------------------------------------------ Runtime side

    async def AnnounceRuntime(
        self,
        request: _enterprise_pb2.EnterpriseRuntimeAnnouncement,
        context: grpc.aio.ServicerContext,
    ) -> _grid_pb2.AnnounceRuntimeResponse:
        """Accept anything; the Runtime may fulfil whatever it declares."""
        return _grid_pb2.AnnounceRuntimeResponse(
            connection_id=f"conn-{next(self._next_connection)}",
            available_contracts=list(request.declared_contracts),
            negotiated_level=request.compliance_level,
            enabled_features=list(request.capabilities),
        )

    async def FulfillTools(
        self, request: _grid_pb2.FulfillTools, context: grpc.aio.ServicerContext
    ) -> _grid_pb2.FulfillToolsResponse:
        """Accept every tool for every session."""
        return _grid_pb2.FulfillToolsResponse(
            fulfilled_tools=list(request.tool_names), session_id=request.session_id
        )

    async def Connect(
        self,
        request_iterator: AsyncIterator[_host_pb2.RuntimeMessage],
        context: grpc.aio.ServicerContext,
    ) -> AsyncIterator[_host_pb2.HostMessage]:
        """The work stream: push calls from the outbox, resolve results by invocation id."""
        first = await anext(aiter(request_iterator), None)
        if first is None:
            return
        stream = _Stream(first.open.runtime_id)
        reader = asyncio.create_task(self._read(stream, request_iterator))
        self._streams.append(stream)
        try:
            yield _host_pb2.HostMessage(
                status=_grid_pb2.RuntimeStatusNotification(
                    runtime_id=stream.runtime_id, status=_grid_pb2.RECONNECTED, message="connected"
                )
            )
            while True:
                message = await stream.outbox.get()
                if message is None:
                    break
                yield message
        finally:
            self._streams.remove(stream)
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reader
            stream.fail_all("the runtime's work stream closed")

    @staticmethod
    async def _read(
        stream: _Stream, request_iterator: AsyncIterator[_host_pb2.RuntimeMessage]
    ) -> None:
        with contextlib.suppress(grpc.RpcError):
            async for message in request_iterator:
                if message.WhichOneof("kind") == "result":
                    future = stream.pending.pop(message.result.invocation_id, None)
                    if future is not None and not future.done():
                        future.set_result(message.result)
        stream.outbox.put_nowait(None)

    # ------------------------------------------------------------------ client side

    async def CreateSession(
        self, request: _grid_pb2.CreateSession, context: grpc.aio.ServicerContext
    ) -> _grid_pb2.CreateSessionResponse:
        """Hand back an id; nothing is kept."""
        ttl_ms = (request.ttl_seconds or 3600) * 1000
        return _grid_pb2.CreateSessionResponse(
            session_id=request.suggested_session_id or f"sess-{uuid.uuid4().hex}",
            expires_at_ms=time.time_ns() // 1_000_000 + ttl_ms,
        )

    async def CallTool(
        self, request: _grid_pb2.ToolCall, context: grpc.aio.ServicerContext
    ) -> _host_pb2.ToolCallResponse:
        """Forward the call to a Runtime and answer with its result, untouched."""
        if not self._streams:
            return _host_pb2.ToolCallResponse(
                error=_grid_pb2.EnhancedError(
                    type="RUNTIME_UNAVAILABLE", message="no runtime is connected"
                )
            )
        stream = self._streams[next(self._next_stream) % len(self._streams)]
        invocation_id = f"inv-{next(self._next_invocation)}"
        future: asyncio.Future[_grid_pb2.ToolResult] = asyncio.get_running_loop().create_future()
        stream.pending[invocation_id] = future
        stream.outbox.put_nowait(
            _host_pb2.HostMessage(
                call=_grid_pb2.ToolCall(
                    invocation_id=invocation_id,
                    correlation_id=request.correlation_id,
                    session_id=request.session_id,
                    timeout_ms=request.timeout_ms,
                    call=request.call,
                )
            )
        )
        try:
            result = await future
        except ConnectionError as exc:
            return _host_pb2.ToolCallResponse(
                error=_grid_pb2.EnhancedError(type="RUNTIME_UNAVAILABLE", message=str(exc))
            )
        finally:
            stream.pending.pop(invocation_id, None)
        return _host_pb2.ToolCallResponse(result=result)


def _server(tls13_gate: bool) -> grpc.aio.Server:
    options = (
        ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
        ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
        ("grpc.so_reuseport", 0),
        *KEEPALIVE_OPTIONS,
    )
    interceptors = (RequireTls13Interceptor(),) if tls13_gate else ()
    return grpc.aio.server(interceptors=interceptors, options=options)


async def serve(args: argparse.Namespace) -> None:
    """Start both servers, print the ready line, serve until SIGTERM/SIGINT."""
    creds = server_credentials(load_pem(args.cert), load_pem(args.key), load_pem(args.ca))
    forwarder = Forwarder()
    client_server = _server(args.tls13_gate)
    runtime_server = _server(args.tls13_gate)
    _host_pb2_grpc.add_GridClientServiceServicer_to_server(forwarder, client_server)
    _host_pb2_grpc.add_GridRuntimeServiceServicer_to_server(forwarder, runtime_server)
    client_port = client_server.add_secure_port(args.client_listen, creds)
    runtime_port = runtime_server.add_secure_port(args.runtime_listen, creds)
    await client_server.start()
    await runtime_server.start()
    print(
        f"passthrough ready: clients on {args.client_listen.rsplit(':', 1)[0]}:{client_port}, "
        f"runtimes on {args.runtime_listen.rsplit(':', 1)[0]}:{runtime_port}",
        flush=True,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    for stream in list(forwarder._streams):
        stream.outbox.put_nowait(None)
    await client_server.stop(1.0)
    await runtime_server.stop(1.0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ca", type=Path, required=True, help="CA certificate (PEM)")
    parser.add_argument("--cert", type=Path, required=True, help="server certificate (PEM)")
    parser.add_argument("--key", type=Path, required=True, help="server private key (PEM)")
    parser.add_argument("--client-listen", default="127.0.0.1:0")
    parser.add_argument("--runtime-listen", default="127.0.0.1:0")
    parser.add_argument(
        "--no-tls13-gate",
        dest="tls13_gate",
        action="store_false",
        help="leave out the per-call TLS 1.3 check the Host runs (to measure its cost)",
    )
    asyncio.run(serve(parser.parse_args(argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
