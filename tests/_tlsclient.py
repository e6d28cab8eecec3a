"""A minimal gRPC-over-HTTP/2 client whose TLS version the test chooses.

grpcio's client cannot be limited to TLS 1.2, so to prove the Host refuses TLS 1.2 we need a
client that speaks real gRPC over a TLS connection we control. This one uses Python's ``ssl``
(minimum = maximum = the requested version, ALPN ``h2``, optional client certificate) and the
``h2`` package to send one unary call: a HEADERS frame (``:method POST``, ``:path``,
``content-type: application/grpc``, ``te: trailers``) followed by one length-prefixed message,
then reads response headers, messages and trailers. It is blocking; call it from a worker
thread (``asyncio.to_thread``) when the server runs on the test's event loop.
"""

from __future__ import annotations

import socket
import ssl
import struct
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

import h2.config
import h2.connection
import h2.events

__all__ = ["GrpcReply", "grpc_unary_call"]

_READ_SIZE = 65536


@dataclass(frozen=True)
class GrpcReply:
    """What came back for one gRPC call.

    Attributes:
        tls_version: The negotiated TLS version, e.g. ``TLSv1.2``.
        headers: Response headers (for a Trailers-Only response these carry the status).
        trailers: Response trailers.
        messages: Response messages with the 5-byte gRPC framing removed.
        reset: True if the server reset the stream instead of finishing it.
    """

    tls_version: str
    headers: dict[str, str] = field(default_factory=dict)
    trailers: dict[str, str] = field(default_factory=dict)
    messages: tuple[bytes, ...] = ()
    reset: bool = False

    @property
    def grpc_status(self) -> int | None:
        """The ``grpc-status`` code, from the trailers or a Trailers-Only response."""
        raw = self.trailers.get("grpc-status", self.headers.get("grpc-status"))
        return None if raw is None else int(raw)

    @property
    def grpc_message(self) -> str:
        """The percent-decoded ``grpc-message``."""
        return unquote(self.trailers.get("grpc-message", self.headers.get("grpc-message", "")))


def _frame(message: bytes) -> bytes:
    return struct.pack(">BI", 0, len(message)) + message


def _unframe(body: bytes) -> tuple[bytes, ...]:
    messages = []
    while len(body) >= 5:
        _, size = struct.unpack(">BI", body[:5])
        messages.append(body[5 : 5 + size])
        body = body[5 + size :]
    return tuple(messages)


def _decode(headers: list[tuple[bytes, bytes]]) -> dict[str, str]:
    return {k.decode(): v.decode() for k, v in headers}


def grpc_unary_call(
    host: str,
    port: int,
    path: str,
    message: bytes,
    *,
    ca_file: Path,
    cert_file: Path | None = None,
    key_file: Path | None = None,
    tls_version: ssl.TLSVersion = ssl.TLSVersion.TLSv1_2,
    server_hostname: str = "localhost",
    timeout: float = 10.0,
) -> GrpcReply:
    """Make one unary gRPC call over TLS pinned to ``tls_version``.

    Args:
        host: Server address.
        port: Server port.
        path: ``/package.Service/Method``.
        message: The serialized request.
        ca_file: CA bundle to verify the server with.
        cert_file: Client certificate (optional).
        key_file: Client key (with ``cert_file``).
        tls_version: The only TLS version the client offers.
        server_hostname: SNI and the name the server certificate must match.
        timeout: Socket timeout in seconds.

    Returns:
        The reply.

    Raises:
        ssl.SSLError: If the TLS handshake fails (e.g. the server refuses the version).
        ConnectionError: If the server closes the connection before finishing the call.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = tls_version
    context.maximum_version = tls_version
    context.load_verify_locations(cafile=str(ca_file))
    if cert_file is not None:
        context.load_cert_chain(str(cert_file), str(key_file) if key_file else None)
    context.set_alpn_protocols(["h2"])

    with (
        socket.create_connection((host, port), timeout=timeout) as raw,
        context.wrap_socket(raw, server_hostname=server_hostname) as tls,
    ):
        if tls.selected_alpn_protocol() != "h2":
            raise ConnectionError(f"server did not select ALPN h2: {tls.selected_alpn_protocol()}")
        negotiated = tls.version() or "?"
        conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
        conn.initiate_connection()
        stream_id = conn.get_next_available_stream_id()
        conn.send_headers(
            stream_id,
            [
                (":method", "POST"),
                (":scheme", "https"),
                (":authority", f"{server_hostname}:{port}"),
                (":path", path),
                ("content-type", "application/grpc"),
                ("te", "trailers"),
            ],
        )
        conn.send_data(stream_id, _frame(message), end_stream=True)
        tls.sendall(conn.data_to_send())

        headers: dict[str, str] = {}
        trailers: dict[str, str] = {}
        body = bytearray()
        while True:
            data = tls.recv(_READ_SIZE)
            if not data:
                raise ConnectionError("server closed the connection before the call finished")
            for event in conn.receive_data(data):
                if isinstance(event, h2.events.ResponseReceived):
                    headers = _decode(event.headers)
                elif isinstance(event, h2.events.DataReceived):
                    body += event.data
                    conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                elif isinstance(event, h2.events.TrailersReceived):
                    trailers = _decode(event.headers)
                elif isinstance(event, h2.events.StreamReset):
                    return GrpcReply(negotiated, headers, trailers, _unframe(bytes(body)), True)
                elif isinstance(event, h2.events.ConnectionTerminated):
                    raise ConnectionError(f"server sent GOAWAY: {event.error_code!r}")
                elif isinstance(event, h2.events.StreamEnded):
                    conn.close_connection()
                    tls.sendall(conn.data_to_send())
                    return GrpcReply(negotiated, headers, trailers, _unframe(bytes(body)))
            pending = conn.data_to_send()
            if pending:
                tls.sendall(pending)
