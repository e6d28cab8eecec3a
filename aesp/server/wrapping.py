"""Method handlers wrapped once, when services are registered, instead of per call.

A ``grpc.aio`` server interceptor runs for every RPC: the server awaits each interceptor's
``intercept_service`` coroutine, which awaits the next one's, before the handler is found. The
Host's interceptors only ever return the same wrapped handler for a method (the TLS 1.3 check,
the gateway, the operational gate), so that work can be done once: :class:`WrappingServer`
stands in for the server while the generated ``add_*_to_server`` functions register their
handlers, and registers wrapped ones instead. Per call, the server then finds the wrapped
handler directly, with no interceptor chain.

Wrappers are applied so that the first one listed is the outermost, as with interceptors.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import grpc
import grpc.aio

__all__ = ["HandlerWrapper", "WrappingServer"]

# (handler, "/package.Service/Method") -> the handler to serve instead
HandlerWrapper = Callable[[grpc.RpcMethodHandler, str], grpc.RpcMethodHandler]


class _WrappedGeneric(grpc.GenericRpcHandler):
    """A generic handler whose answers are wrapped, once per method."""

    def __init__(self, inner: grpc.GenericRpcHandler, wrap: Callable[..., Any]) -> None:
        self._inner = inner
        self._wrap = wrap
        self._cache: dict[str, grpc.RpcMethodHandler | None] = {}

    def service(self, handler_call_details: grpc.HandlerCallDetails) -> Any:
        method = str(handler_call_details.method)
        if method in self._cache:
            return self._cache[method]
        handler = self._inner.service(handler_call_details)
        wrapped = None if handler is None else self._wrap(handler, method)
        if handler is not None or len(self._cache) < 1024:  # unknown names: bounded
            self._cache[method] = wrapped
        return wrapped


class WrappingServer:
    """What the generated registration functions call, wrapping each handler on the way.

    Args:
        server: The real server (started, stopped and bound by the caller).
        wrappers: Outermost first.
    """

    def __init__(self, server: grpc.aio.Server, wrappers: Sequence[HandlerWrapper]) -> None:
        self.server = server
        self._wrappers = tuple(reversed(wrappers))  # applied innermost first

    def _wrap(self, handler: grpc.RpcMethodHandler, method: str) -> grpc.RpcMethodHandler:
        for wrapper in self._wrappers:
            handler = wrapper(handler, method)
        return handler

    def add_generic_rpc_handlers(self, handlers: Sequence[grpc.GenericRpcHandler]) -> None:
        """Register generic handlers whose method handlers come back wrapped."""
        self.server.add_generic_rpc_handlers(
            tuple(_WrappedGeneric(h, self._wrap) for h in handlers)
        )

    def add_registered_method_handlers(
        self, service_name: str, method_handlers: Mapping[str, grpc.RpcMethodHandler]
    ) -> None:
        """Register a service's method handlers (the server's fast path), each wrapped."""
        self.server.add_registered_method_handlers(
            service_name,
            {
                name: self._wrap(handler, f"/{service_name}/{name}")
                for name, handler in method_handlers.items()
            },
        )


Behaviour = Callable[..., Any]
# (behaviour, whether the request is a single message) -> the behaviour to serve instead
BehaviourWrapper = Callable[[Behaviour, bool], Behaviour]


def rebuild(
    handler: grpc.RpcMethodHandler,
    *,
    single: BehaviourWrapper,
    streaming: BehaviourWrapper,
    unary_deserializer: Callable[[Any], Any] | None = None,
) -> grpc.RpcMethodHandler:
    """``handler`` with its behaviour wrapped, keeping its flavour and (de)serializers.

    Args:
        handler: The handler to wrap.
        single: Wraps a behaviour that answers once (unary-unary, stream-unary).
        streaming: Wraps a behaviour that answers with a stream (unary-stream, stream-stream).
        unary_deserializer: Replaces the request deserializer of unary-request methods.

    Raises:
        ValueError: The handler has no behaviour.
    """
    deserialize, serialize = handler.request_deserializer, handler.response_serializer
    unary_in = unary_deserializer or deserialize
    if handler.unary_unary is not None:
        return grpc.unary_unary_rpc_method_handler(
            single(handler.unary_unary, True), unary_in, serialize
        )
    if handler.unary_stream is not None:
        return grpc.unary_stream_rpc_method_handler(
            streaming(handler.unary_stream, True), unary_in, serialize
        )
    if handler.stream_unary is not None:
        return grpc.stream_unary_rpc_method_handler(
            single(handler.stream_unary, False), deserialize, serialize
        )
    if handler.stream_stream is not None:
        return grpc.stream_stream_rpc_method_handler(
            streaming(handler.stream_stream, False), deserialize, serialize
        )
    raise ValueError(f"RPC method handler {handler!r} has no behaviour to wrap")
