"""gRPC health checking (``grpc.health.v1``) and server reflection on the Host's listeners.

Health is served on both gRPC servers (the client one and the Runtime one) and reports
``NOT_SERVING`` until the Host has started, ``SERVING`` once it is ready, and ``NOT_SERVING``
again from the moment it begins to stop, so a load balancer drains it before it goes away.
The overall status (service ``""``) and each served service's full name are reported.

Reflection lists every service of the client server (GRID and AESP services, health and
reflection themselves) and is served on the client listeners only: Runtimes have nothing to
discover.

Who may ask. Every RPC on the client port passes the gateway, which authenticates it but never
aborts (GRID and AESP refuse in-band, inside their own response messages). Health and
reflection are not AESP RPCs and have no in-band error, so :class:`OperationalGate` (after the
gateway) ends a refused call with a gRPC status instead: ``UNAUTHENTICATED``, or
``RESOURCE_EXHAUSTED`` for a rate limit. A caller therefore needs a valid credential (a client
certificate, token or API key), and its probes are rate-limited like any call. The Runtime
listener requires a certificate at the TLS layer already. Why not answer anyone: on the
certificate listener TLS refuses an anonymous peer before gRPC runs anyway, and on the TLS-only
listener an anonymous health answer would be the one unauthenticated surface of the port.
Orchestrator probes (Kubernetes cannot present a client certificate) use ``/healthz`` and
``/readyz`` on the ``[observability] metrics_listen`` HTTP port instead
(:mod:`aesp.observability.http`), which an operator binds to a network only the orchestrator
reaches.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any

import grpc
import grpc.aio
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection, reflection_pb2_grpc

from aesp.core.errors import AespError
from aesp.server.gateway.admission import admitted
from aesp.server.wrapping import rebuild

__all__ = ["OPERATIONAL_PREFIXES", "HostHealth", "OperationalGate", "enable_reflection"]

#: Method prefixes of the services this module adds (standard gRPC services, not AESP's).
OPERATIONAL_PREFIXES = ("/grpc.health.", "/grpc.reflection.")
_SERVING = health_pb2.HealthCheckResponse.SERVING
_NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


class HostHealth:
    """The health services of the Host's gRPC servers, switched together.

    Args:
        servers: Each server with the full names of the services it serves.
    """

    def __init__(self, servers: Iterable[tuple[grpc.aio.Server, Iterable[str]]]) -> None:
        self._servicers: list[tuple[health.aio.HealthServicer, tuple[str, ...]]] = []
        for server, names in servers:
            servicer = health.aio.HealthServicer()
            health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
            self._servicers.append((servicer, ("", *names, health.SERVICE_NAME)))
        self.serving = False

    async def starting(self) -> None:
        """Report NOT_SERVING (a new servicer says SERVING for ``""``): not ready yet."""
        for servicer, names in self._servicers:
            for name in names:
                await servicer.set(name, _NOT_SERVING)

    async def ready(self) -> None:
        """Report SERVING for the Host and every service it serves."""
        for servicer, names in self._servicers:
            for name in names:
                await servicer.set(name, _SERVING)
        self.serving = True

    async def stopping(self) -> None:
        """Report NOT_SERVING for good (later changes are ignored): the Host is stopping."""
        self.serving = False
        for servicer, _ in self._servicers:
            await servicer.enter_graceful_shutdown()


def enable_reflection(server: grpc.aio.Server, service_names: Iterable[str]) -> tuple[str, ...]:
    """Serve reflection on ``server`` listing ``service_names`` (and itself); the full list."""
    names = (*service_names, reflection.SERVICE_NAME)
    # The asyncio servicer, named explicitly: ``enable_server_reflection`` picks it only for a
    # grpc.aio.Server, and the Host registers through a WrappingServer (aesp.server.wrapping).
    reflection_pb2_grpc.add_ServerReflectionServicer_to_server(
        reflection.aio.ReflectionServicer(names), server
    )
    return names


Behaviour = Callable[..., Any]


class OperationalGate(grpc.aio.ServerInterceptor):
    """Ends a health or reflection RPC the gateway refused with a gRPC status (see module).

    Installed after the gateway, so its wrapper runs inside the gateway's and sees the
    verdict; every other method passes untouched (this interceptor returns its handler as is).
    """

    def __init__(self) -> None:
        self._wrapped: dict[str, grpc.RpcMethodHandler] = {}

    def wrap(self, handler: grpc.RpcMethodHandler, method: str) -> grpc.RpcMethodHandler:
        """``handler`` checked if it is a health or reflection method, else unchanged
        (registration-time wrapping, :mod:`aesp.server.wrapping`)."""
        return _guard(handler) if method.startswith(OPERATIONAL_PREFIXES) else handler

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        method = str(handler_call_details.method)
        if handler is None or not method.startswith(OPERATIONAL_PREFIXES):
            return handler
        wrapped = self._wrapped.get(method)
        if wrapped is None:  # one per method of two fixed services: bounded
            wrapped = self._wrapped[method] = _guard(handler)
        return wrapped


async def _check(context: grpc.aio.ServicerContext) -> None:
    try:
        admitted()
    except AespError as exc:
        code = (
            grpc.StatusCode.RESOURCE_EXHAUSTED
            if exc.code == "RATE_LIMIT_EXCEEDED"
            else grpc.StatusCode.UNAUTHENTICATED
        )
        await context.abort(code, f"{exc.code}: {exc.message}")


def _guarded(behaviour: Behaviour) -> Behaviour:
    if inspect.isasyncgenfunction(behaviour):

        async def stream(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            await _check(context)
            async for response in behaviour(request, context):
                yield response

        return stream

    async def single(request: Any, context: grpc.aio.ServicerContext) -> Any:
        await _check(context)
        return await behaviour(request, context)

    return single


def _guard(handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
    """``handler`` with each behaviour checked first, same flavour and (de)serializers."""
    return rebuild(
        handler,
        single=lambda behaviour, _unary: _guarded(behaviour),
        streaming=lambda behaviour, _unary: _guarded(behaviour),
    )
