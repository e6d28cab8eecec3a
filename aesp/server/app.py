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

Both servers also serve gRPC health checking, and the client server server reflection
(:mod:`aesp.observability.grpc_services` says who may ask); metrics, traces and the HTTP probes
are built from ``[observability]`` (:mod:`aesp.observability`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import grpc
import grpc.aio
from opentelemetry.sdk.trace.export import SpanExporter

from aesp.core.audit import AuditLog
from aesp.core.config import HostConfig
from aesp.core.control import AccessConfig
from aesp.core.errors import AespError, ConfigurationError
from aesp.core.host import Host, build_host
from aesp.core.live_config import start_live_config, stop_live_config
from aesp.core.ports.identity import IdentityStore
from aesp.core.ports.state import StateStore
from aesp.observability.grpc_services import HostHealth, OperationalGate, enable_reflection
from aesp.observability.wiring import HostObservability, build_observability
from aesp.proto.altar.aesp.v1 import audit_pb2 as _audit_pb2
from aesp.proto.altar.aesp.v1 import audit_pb2_grpc as _audit_pb2_grpc
from aesp.proto.altar.aesp.v1 import configuration_pb2 as _configuration_pb2
from aesp.proto.altar.aesp.v1 import configuration_pb2_grpc as _configuration_pb2_grpc
from aesp.proto.altar.aesp.v1 import cost_pb2 as _cost_pb2
from aesp.proto.altar.aesp.v1 import cost_pb2_grpc as _cost_pb2_grpc
from aesp.proto.altar.aesp.v1 import governance_pb2 as _governance_pb2
from aesp.proto.altar.aesp.v1 import governance_pb2_grpc as _governance_pb2_grpc
from aesp.proto.altar.aesp.v1 import host_pb2 as _host_pb2
from aesp.proto.altar.aesp.v1 import host_pb2_grpc as _host_pb2_grpc
from aesp.proto.altar.aesp.v1 import identity_pb2 as _identity_pb2
from aesp.proto.altar.aesp.v1 import identity_pb2_grpc as _identity_pb2_grpc
from aesp.proto.altar.aesp.v1 import policy_pb2 as _policy_pb2
from aesp.proto.altar.aesp.v1 import policy_pb2_grpc as _policy_pb2_grpc
from aesp.proto.altar.aesp.v1 import tenancy_pb2 as _tenancy_pb2
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
from aesp.server.tls import guard_tls13, load_pem, server_credentials
from aesp.server.wrapping import HandlerWrapper, WrappingServer

MAX_METADATA_BYTES = 64 * 1024  # request headers, credentials included
GRACE_SECONDS = 5.0  # how long in-flight RPCs may finish on shutdown
KEEPALIVE_OPTIONS = (
    ("grpc.keepalive_time_ms", 20_000),
    ("grpc.keepalive_timeout_ms", 10_000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.min_ping_interval_without_data_ms", 10_000),
    ("grpc.http2.max_pings_without_data", 0),
)
# Full names of the services each server hosts (health reports them; reflection lists them).
CLIENT_SERVICES = tuple(
    module.DESCRIPTOR.services_by_name[name].full_name
    for module, name in (
        (_host_pb2, "GridClientService"),
        (_identity_pb2, "EnterpriseIdentityService"),
        (_policy_pb2, "EnterprisePolicyService"),
        (_tenancy_pb2, "EnterpriseTenantService"),
        (_configuration_pb2, "EnterpriseConfigurationService"),
        (_governance_pb2, "EnterpriseGovernanceService"),
        (_cost_pb2, "EnterpriseCostManagementService"),
        (_audit_pb2, "EnterpriseAuditService"),
    )
)
RUNTIME_SERVICES = (_host_pb2.DESCRIPTOR.services_by_name["GridRuntimeService"].full_name,)


@dataclass
class RunningHost:
    """A started Host with the ports it actually bound (port 0 picks free ones).

    ``client_tls_port`` is the listener without client certificates (0 when not configured).
    ``health`` switches both servers' ``grpc.health.v1`` status; ``observability`` holds the
    metrics, tracing and HTTP endpoint (its ``metrics_port`` is 0 when metrics are off).
    """

    host: Host
    client_server: grpc.aio.Server
    runtime_server: grpc.aio.Server
    client_port: int
    runtime_port: int
    client_tls_port: int = 0
    gateway: GatewayInterceptor | None = None
    health: HostHealth | None = None
    observability: HostObservability | None = None
    _closers: Sequence[Callable[[], Awaitable[None]]] = field(default=(), repr=False)

    async def stop(self, grace: float = GRACE_SECONDS) -> None:
        """Stop accepting, let in-flight RPCs finish for ``grace`` seconds, then stop the Host.

        Health turns NOT_SERVING first, so balancers and probes drain the Host while it stops.
        """
        if self.health is not None:
            await self.health.stopping()
        await stop_live_config(self.host)  # ends SubscribeToChanges streams cleanly
        await self.host.stop()
        await self.client_server.stop(grace)
        await self.runtime_server.stop(grace)
        for close in self._closers:
            await close()
        if self.observability is not None:
            await self.observability.stop()


def _server(
    config: HostConfig, wrappers: Sequence[HandlerWrapper]
) -> tuple[grpc.aio.Server, WrappingServer]:
    """A server, and the stand-in to register services on: their handlers are wrapped by
    ``wrappers`` (outermost first) once, at registration (:mod:`aesp.server.wrapping`)."""
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
    server = grpc.aio.server(options=options)
    return server, WrappingServer(server, wrappers)


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
    span_exporter: SpanExporter | None = None,
) -> RunningHost:
    """Build the Host and start serving on ``config.client_listen`` and ``runtime_listen``.

    Args:
        config: The configuration.
        audit: The audit log (a file under ``data_dir`` when None).
        identity: Where the gateway looks API keys up (the Host's Identity port when None).
        state: Where the gateway's rate-limit buckets live (in process memory when None).
        access: How verified identities map to roles (``config.access`` when None).
        span_exporter: Where spans go whatever ``[observability] traces`` says (tests).

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
        observability = build_observability(host, span_exporter=span_exporter)
    except AespError:
        await stop_live_config(host)
        await host.stop()
        for close in closers:
            await close()
        raise
    # Wrapper order: (1) TLS 1.3 only, outermost, so a refused connection runs nothing
    # else; (2) the gateway: authenticate, rate-limit, size; (3) health and reflection end a
    # call the gateway refused (they have no in-band error). Everything else runs in the core.
    client_server, client_services = _server(
        config, (guard_tls13, gateway.wrap, OperationalGate().wrap)
    )
    _host_pb2_grpc.add_GridClientServiceServicer_to_server(
        ClientServicer(host, telemetry=observability.telemetry), client_services
    )
    _identity_pb2_grpc.add_EnterpriseIdentityServiceServicer_to_server(
        IdentityServicer(host), client_services
    )
    _policy_pb2_grpc.add_EnterprisePolicyServiceServicer_to_server(
        PolicyServicer(host), client_services
    )
    _tenancy_pb2_grpc.add_EnterpriseTenantServiceServicer_to_server(
        TenantServicer(host), client_services
    )
    _configuration_pb2_grpc.add_EnterpriseConfigurationServiceServicer_to_server(
        ConfigurationServicer(host), client_services
    )
    _governance_pb2_grpc.add_EnterpriseGovernanceServiceServicer_to_server(
        GovernanceServicer(host), client_services
    )
    _cost_pb2_grpc.add_EnterpriseCostManagementServiceServicer_to_server(
        CostServicer(host), client_services
    )
    _audit_pb2_grpc.add_EnterpriseAuditServiceServicer_to_server(
        AuditServicer(host), client_services
    )
    runtime_server, runtime_services = _server(config, (guard_tls13,))
    _host_pb2_grpc.add_GridRuntimeServiceServicer_to_server(RuntimeServicer(host), runtime_services)
    health = HostHealth(((client_services, CLIENT_SERVICES), (runtime_services, RUNTIME_SERVICES)))
    enable_reflection(client_services, (*CLIENT_SERVICES, "grpc.health.v1.Health"))
    await health.starting()
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
    observability.start(health)
    await health.ready()
    return RunningHost(
        host,
        client_server,
        runtime_server,
        client_port,
        runtime_port,
        client_tls_port=client_tls_port,
        gateway=gateway,
        health=health,
        observability=observability,
        _closers=tuple(closers),
    )
