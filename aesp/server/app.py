"""Start and stop a Host's gRPC servers (client-facing and Runtime-facing).

Every listener speaks TLS 1.3 only; the interceptor order is fixed here: the TLS-version check
runs first, before any handler (C-30, item 142), then, on the client server, the API gateway
(authentication, rate limits, size; SPEC §3.4, §3.19 step 1).

Client certificates (C-30: mutual TLS between Host and Runtimes, optional for clients).
grpcio's server credentials can either *require* a client certificate or *not ask* for one;
they cannot ask and accept its absence (``ssl_server_credentials(require_client_auth=False)``
maps to ``GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE``). So the client server listens twice,
with one gateway behind both listeners:

* ``client_listen``: mutual TLS when ``gateway.client_certificates`` is true (certificate
  clients, as before), else TLS without client certificates;
* ``client_tls_listen`` (optional): TLS without client certificates, for bearer tokens, API
  keys and passwords.

The Runtime listener always requires a certificate.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import grpc
import grpc.aio

from aesp.core.audit import AuditLog
from aesp.core.config import HostConfig
from aesp.core.control import AccessConfig
from aesp.core.errors import AespError, ConfigurationError
from aesp.core.host import Host, build_host
from aesp.core.live_config import start_live_config, stop_live_config
from aesp.core.ports.identity import IdentityStore
from aesp.core.ports.state import StateStore
from aesp.proto.altar.aesp.v1 import audit_pb2_grpc as _audit_pb2_grpc
from aesp.proto.altar.aesp.v1 import configuration_pb2_grpc as _configuration_pb2_grpc
from aesp.proto.altar.aesp.v1 import cost_pb2_grpc as _cost_pb2_grpc
from aesp.proto.altar.aesp.v1 import governance_pb2_grpc as _governance_pb2_grpc
from aesp.proto.altar.aesp.v1 import host_pb2_grpc as _host_pb2_grpc
from aesp.proto.altar.aesp.v1 import identity_pb2_grpc as _identity_pb2_grpc
from aesp.proto.altar.aesp.v1 import policy_pb2_grpc as _policy_pb2_grpc
from aesp.proto.altar.aesp.v1 import tenancy_pb2_grpc as _tenancy_pb2_grpc
from aesp.server.gateway import GatewayInterceptor, build_gateway
from aesp.server.servicers.audit import AuditServicer
from aesp.server.servicers.client import ClientServicer
from aesp.server.servicers.configuration import ConfigurationServicer
from aesp.server.servicers.cost import CostServicer
from aesp.server.servicers.governance import GovernanceServicer
from aesp.server.servicers.identity import IdentityServicer
from aesp.server.servicers.policy import PolicyServicer
from aesp.server.servicers.runtime import RuntimeServicer
from aesp.server.servicers.tenancy import TenantServicer
from aesp.server.tls import RequireTls13Interceptor, load_pem, server_credentials

MAX_METADATA_BYTES = 64 * 1024  # request headers, credentials included
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
    """A started Host with the ports it actually bound (port 0 picks free ones).

    ``client_tls_port`` is the listener without client certificates (0 when not configured).
    """

    host: Host
    client_server: grpc.aio.Server
    runtime_server: grpc.aio.Server
    client_port: int
    runtime_port: int
    client_tls_port: int = 0
    gateway: GatewayInterceptor | None = None
    _closers: Sequence[Callable[[], Awaitable[None]]] = field(default=(), repr=False)

    async def stop(self, grace: float = GRACE_SECONDS) -> None:
        """Stop accepting, let in-flight RPCs finish for ``grace`` seconds, then stop the Host."""
        await stop_live_config(self.host)  # ends SubscribeToChanges streams cleanly
        await self.host.stop()
        await self.client_server.stop(grace)
        await self.runtime_server.stop(grace)
        for close in self._closers:
            await close()


def _server(
    config: HostConfig, interceptors: Sequence[grpc.aio.ServerInterceptor]
) -> grpc.aio.Server:
    # In-band MESSAGE_TOO_LARGE below this (the gateway's and the pipeline's own limits);
    # grpc's RESOURCE_EXHAUSTED stops anything larger before it is even decoded.
    size = config.limits.max_message_bytes * 2
    options = (
        ("grpc.max_receive_message_length", size),
        ("grpc.max_send_message_length", size),
        ("grpc.so_reuseport", 0),
        # SAML responses travel in a header and are often 8-15 KiB; gRPC's 8 KiB default
        # would drop some of them before the gateway sees them.
        ("grpc.max_metadata_size", MAX_METADATA_BYTES),
        ("grpc.absolute_max_metadata_size", MAX_METADATA_BYTES),
        *KEEPALIVE_OPTIONS,
    )
    return grpc.aio.server(interceptors=tuple(interceptors), options=options)


def _gateway_ports(
    host: Host, identity: IdentityStore | None, state: StateStore | None
) -> tuple[IdentityStore, StateStore]:
    """The Identity and State ports the gateway uses: the Host's own unless a test passes one.

    The gateway looks API keys up in the Host's Identity port (the store the Identity service
    issues them into) and keeps rate-limit buckets in the State port its profile built.
    """
    return (identity or host.control.identity), (state or host.state)


def _credentials(config: HostConfig) -> tuple[grpc.ServerCredentials, grpc.ServerCredentials]:
    """(mutual-TLS credentials, TLS credentials that ask for no client certificate)."""
    try:
        cert, key, ca = load_pem(config.tls.cert), load_pem(config.tls.key), load_pem(config.tls.ca)
        return (
            server_credentials(cert, key, ca),
            server_credentials(cert, key, ca, require_client_auth=False),
        )
    except (OSError, ValueError) as exc:
        raise ConfigurationError(
            "CERTIFICATE_ERROR",
            f"The Host's TLS material is unusable: {exc}.",
            remediation_steps=("Create a development PKI with `aesp certs init --dir pki`.",),
        ) from None


async def start_host(
    config: HostConfig,
    *,
    audit: AuditLog | None = None,
    identity: IdentityStore | None = None,
    state: StateStore | None = None,
    access: AccessConfig | None = None,
) -> RunningHost:
    """Build the Host and start serving on ``config.client_listen`` and ``runtime_listen``.

    Args:
        config: The configuration.
        audit: The audit log (a file under ``data_dir`` when None).
        identity: Where the gateway looks API keys up (the Host's Identity port when None).
        state: Where the gateway's rate-limit buckets live (in process memory when None).
        access: How verified identities map to roles (``config.access`` when None).

    Raises:
        ConfigurationError: invalid configuration, manifest, certificates or identity settings.
    """
    # F1: configuration, then the manifest and the ports.
    host = await build_host(config, audit=audit, access=access)
    closers: list[Callable[[], Awaitable[None]]] = []
    try:
        mtls, tls_only = _credentials(config)
        identity, state = _gateway_ports(host, identity, state)
        gateway = build_gateway(config, identity=identity, state=state, audit=host.audit)
        # Stored configuration overrides the file's values for the live keys, before serving.
        await start_live_config(host, gateway=gateway.gate)
    except AespError:
        await stop_live_config(host)
        await host.stop()
        for close in closers:
            await close()
        raise
    # Interceptor order: (1) TLS 1.3 only, outermost, so a refused connection runs nothing
    # else; (2) the gateway: authenticate, rate-limit, size. Everything else runs in the core.
    client_server = _server(config, (RequireTls13Interceptor(), gateway))
    _host_pb2_grpc.add_GridClientServiceServicer_to_server(ClientServicer(host), client_server)
    _identity_pb2_grpc.add_EnterpriseIdentityServiceServicer_to_server(
        IdentityServicer(host), client_server
    )
    _policy_pb2_grpc.add_EnterprisePolicyServiceServicer_to_server(
        PolicyServicer(host), client_server
    )
    _tenancy_pb2_grpc.add_EnterpriseTenantServiceServicer_to_server(
        TenantServicer(host), client_server
    )
    _configuration_pb2_grpc.add_EnterpriseConfigurationServiceServicer_to_server(
        ConfigurationServicer(host), client_server
    )
    _governance_pb2_grpc.add_EnterpriseGovernanceServiceServicer_to_server(
        GovernanceServicer(host), client_server
    )
    _cost_pb2_grpc.add_EnterpriseCostManagementServiceServicer_to_server(
        CostServicer(host), client_server
    )
    _audit_pb2_grpc.add_EnterpriseAuditServiceServicer_to_server(AuditServicer(host), client_server)
    runtime_server = _server(config, (RequireTls13Interceptor(),))
    _host_pb2_grpc.add_GridRuntimeServiceServicer_to_server(RuntimeServicer(host), runtime_server)
    certificates = config.gateway.client_certificates
    client_port = client_server.add_secure_port(
        config.client_listen, mtls if certificates else tls_only
    )
    client_tls_port = 0
    if config.client_tls_listen:
        client_tls_port = client_server.add_secure_port(config.client_tls_listen, tls_only)
    runtime_port = runtime_server.add_secure_port(config.runtime_listen, mtls)
    await client_server.start()
    await runtime_server.start()
    return RunningHost(
        host,
        client_server,
        runtime_server,
        client_port,
        runtime_port,
        client_tls_port=client_tls_port,
        gateway=gateway,
        _closers=tuple(closers),
    )
