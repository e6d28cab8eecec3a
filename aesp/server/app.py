"""Start and stop a Host's two gRPC servers (client-facing and Runtime-facing).

Both listen with TLS 1.3 and require a client certificate from the Host's CA; the interceptor
order is fixed here: the TLS-version check runs first, before any handler (C-30, item 142).
"""

from __future__ import annotations

from dataclasses import dataclass

import grpc
import grpc.aio

from aesp.core.audit import AuditLog
from aesp.core.config import HostConfig
from aesp.core.errors import ConfigurationError
from aesp.core.host import Host, build_host
from aesp.proto.altar.aesp.v1 import host_pb2_grpc as _host_pb2_grpc
from aesp.server.servicers.client import ClientServicer
from aesp.server.servicers.runtime import RuntimeServicer
from aesp.server.tls import RequireTls13Interceptor, load_pem, server_credentials

GRACE_SECONDS = 5.0  # how long in-flight RPCs may finish on shutdown
KEEPALIVE_OPTIONS = (
    ("grpc.keepalive_time_ms", 20_000),
    ("grpc.keepalive_timeout_ms", 10_000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.min_ping_interval_without_data_ms", 10_000),
    ("grpc.http2.max_pings_without_data", 0),
)


@dataclass
class RunningHost:
    """A started Host with the ports it actually bound (port 0 picks free ones)."""

    host: Host
    client_server: grpc.aio.Server
    runtime_server: grpc.aio.Server
    client_port: int
    runtime_port: int

    async def stop(self, grace: float = GRACE_SECONDS) -> None:
        """Stop accepting, let in-flight RPCs finish for ``grace`` seconds, then stop the Host."""
        await self.host.stop()
        await self.client_server.stop(grace)
        await self.runtime_server.stop(grace)


def _server(config: HostConfig) -> grpc.aio.Server:
    size = config.limits.max_message_bytes * 2  # in-band MESSAGE_TOO_LARGE below this
    options = (
        ("grpc.max_receive_message_length", size),
        ("grpc.max_send_message_length", size),
        ("grpc.so_reuseport", 0),
        *KEEPALIVE_OPTIONS,
    )
    # Interceptor order: (1) TLS 1.3 only. Authentication happens in the servicers from the
    # verified certificate; everything else runs in the core pipeline.
    return grpc.aio.server(interceptors=(RequireTls13Interceptor(),), options=options)


async def start_host(config: HostConfig, *, audit: AuditLog | None = None) -> RunningHost:
    """Build the Host and start serving on ``config.client_listen`` and ``runtime_listen``.

    Raises:
        ConfigurationError: invalid configuration, manifest or certificates.
    """
    host = await build_host(config, audit=audit)  # F1: configuration, then the manifest
    try:
        creds = server_credentials(
            load_pem(config.tls.cert), load_pem(config.tls.key), load_pem(config.tls.ca)
        )
    except (OSError, ValueError) as exc:
        await host.stop()
        raise ConfigurationError(
            "CERTIFICATE_ERROR",
            f"The Host's TLS material is unusable: {exc}.",
            remediation_steps=("Create a development PKI with `aesp certs init --dir pki`.",),
        ) from None
    client_server = _server(config)
    _host_pb2_grpc.add_GridClientServiceServicer_to_server(ClientServicer(host), client_server)
    runtime_server = _server(config)
    _host_pb2_grpc.add_GridRuntimeServiceServicer_to_server(RuntimeServicer(host), runtime_server)
    client_port = client_server.add_secure_port(config.client_listen, creds)
    runtime_port = runtime_server.add_secure_port(config.runtime_listen, creds)
    await client_server.start()
    await runtime_server.start()
    return RunningHost(host, client_server, runtime_server, client_port, runtime_port)
