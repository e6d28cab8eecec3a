"""The gateway as a gRPC server interceptor on the client port (SPEC §3.4 API Gateway).

``intercept_service`` sees only the method name and metadata, not the TLS connection, so the
gateway wraps each RPC's behaviour instead (as :class:`aesp.server.tls.RequireTls13Interceptor`
does): the wrapper runs :meth:`Gate.admit` with the servicer context, sends a session token
issued for a SAML or LDAP login in the initial metadata (``aesp-session-token``), records the
verdict for :func:`aesp.server.gateway.admission.admitted`, then runs the original behaviour.
It never aborts: GRID and AESP answer refusals in-band, so the servicer builds the refusal.

Interceptor order (``aesp/server/app.py``): TLS 1.3 first (its wrapper is outermost, so a
TLS 1.2 peer reaches no gateway code), then this one.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Final

import grpc
import grpc.aio

from aesp.server.gateway.admission import Admission, enter, leave
from aesp.server.gateway.gate import Gate
from aesp.server.wrapping import rebuild

__all__ = ["GatewayInterceptor"]

_WRAPPED_CACHE_LIMIT: Final = 4096  # bounds memory; handlers are per method, so never reached

Behaviour = Callable[..., Any]


class GatewayInterceptor(grpc.aio.ServerInterceptor):
    """Admits every RPC through a :class:`Gate` and hands its verdict to the servicer.

    Only asyncio handlers are supported (every aesp servicer is one); a synchronous handler
    would run in a thread pool that does not inherit the verdict, so it is refused loudly.

    Args:
        gate: The decision of one request.
    """

    def __init__(self, gate: Gate) -> None:
        self.gate = gate
        # (id(handler), method) -> (handler, wrapped); keeping ``handler`` alive keeps its id.
        self._wrapped: dict[tuple[int, str], tuple[grpc.RpcMethodHandler, Any]] = {}

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        """Return the next handler with its behaviour gated (``None`` for unknown methods)."""
        handler = await continuation(handler_call_details)
        if handler is None:
            return None
        method = str(handler_call_details.method)
        key = (id(handler), method)
        entry = self._wrapped.get(key)
        if entry is not None and entry[0] is handler:
            return entry[1]
        wrapped = self._wrap(handler, method)
        if len(self._wrapped) >= _WRAPPED_CACHE_LIMIT:
            self._wrapped.clear()
        self._wrapped[key] = (handler, wrapped)
        return wrapped

    def wrap(self, handler: grpc.RpcMethodHandler, method: str) -> grpc.RpcMethodHandler:
        """``handler`` gated, for registration-time wrapping (:mod:`aesp.server.wrapping`)."""
        return self._wrap(handler, method)

    def _wrap(self, handler: grpc.RpcMethodHandler, method: str) -> grpc.RpcMethodHandler:
        """``handler`` with the same (de)serializers and a gated behaviour of the same flavour."""
        return rebuild(
            handler,
            single=lambda behaviour, unary: self._single(behaviour, method, unary=unary),
            streaming=lambda behaviour, unary: self._streaming(behaviour, method, unary=unary),
        )

    def _single(self, behaviour: Behaviour, method: str, *, unary: bool) -> Behaviour:
        """Gate a handler returning one response (a coroutine function)."""
        _require_async(behaviour, method)
        gate = self.gate

        async def gated(request: Any, context: grpc.aio.ServicerContext) -> Any:
            verdict = await gate.admit(request if unary else None, context, method)
            await _send_session_token(verdict, context)
            token = enter(verdict)
            try:
                return await behaviour(request, context)
            finally:
                leave(token)

        return gated

    def _streaming(self, behaviour: Behaviour, method: str, *, unary: bool) -> Behaviour:
        """Gate a handler producing a response stream, keeping its flavour (the aio server
        dispatches on it): an async generator, or a coroutine writing with ``context.write``."""
        _require_async(behaviour, method)
        if not inspect.isasyncgenfunction(behaviour):
            return self._single(behaviour, method, unary=unary)
        gate = self.gate

        async def gated(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            verdict = await gate.admit(request if unary else None, context, method)
            await _send_session_token(verdict, context)
            token = enter(verdict)
            responses = behaviour(request, context)
            try:
                async for response in responses:
                    yield response
            finally:
                await responses.aclose()
                leave(token)

        return gated


async def _send_session_token(verdict: Admission, context: grpc.aio.ServicerContext) -> None:
    """Send the session token issued for this call before the servicer answers.

    Initial metadata, so the caller has it with the first response (or the in-band refusal)
    and a streaming caller before the first chunk; nothing is sent when no token was issued.
    """
    metadata = verdict.response_metadata()
    if metadata:
        await context.send_initial_metadata(metadata)


def _require_async(behaviour: Behaviour, method: str) -> None:
    if not (inspect.iscoroutinefunction(behaviour) or inspect.isasyncgenfunction(behaviour)):
        raise TypeError(
            f"the gateway serves asyncio handlers only; {method} is synchronous, so its "
            "thread would not see the gateway's verdict"
        )
