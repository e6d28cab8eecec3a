"""The asyncio Client SDK: call the Host's tools over TLS 1.3 (GridClientService).

Why: applications and agents reach tools only through the Host, which authenticates them (by
client certificate, bearer token, API key, or a SAML response exchanged for a Host session
token), checks every call against its own contracts and audits it. This client turns each
RPC into one awaitable method returning plain values (``aesp.client.models``) and raising one
typed exception per refusal (``aesp.client.errors``). A business-logic ERROR from a tool is a
result, not an exception (C-13). Every RPC passes through the client breaker (item 133): while
it is open, calls fail locally without touching the network.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Mapping
from types import TracebackType
from typing import Any

import grpc
import grpc.aio

from aesp.adm import ToolResult
from aesp.client import _channel, _parse, _wire
from aesp.client._translate import from_rpc_error
from aesp.client._wire import Args
from aesp.client.audit_buffer import PendingLog
from aesp.client.breaker import COUNTED_CODES, ClientBreaker
from aesp.client.governed import AsyncGovernedLocal
from aesp.client.log_sender import AsyncLogSender
from aesp.client.models import Authorization, CallResult, LogReceipt, Session, ToolInfo
from aesp.later import Executor, ToolRegistry
from aesp.proto.altar.aesp.v1 import host_pb2_grpc as _host_pb2_grpc
from aesp.proto.altar.grid.v1 import grid_pb2 as _grid_pb2

__all__ = ["AsyncClient"]


class AsyncClient:
    """An asyncio client of one Host's GridClientService.

    Use it as ``async with AsyncClient(...) as client:`` or call :meth:`close`.

    Args:
        target: The Host's client address, ``host:port``.
        ca: PEM of the CA that signed the Host's certificate.
        cert: PEM of this client's certificate (a SPIFFE ``.../client/<name>`` id), for
            mutual TLS; optional when ``token`` or ``api_key`` is given.
        key: PEM of its private key (given exactly when ``cert`` is).
        token: A bearer token (OIDC access token) sent with every call.
        api_key: A service account's API key sent with every call (not with ``token``).
        saml_response: A base64 SAML response (from the IdP's HTTP-POST binding), alone:
            the first call presents it, later calls the Host session token it was exchanged
            for (calls started meanwhile wait for the exchange). When that token expires,
            calls raise ``AuthenticationFailed``; create a new client with a new SAML response.
        server_name: TLS name of the Host if it differs from ``target``'s host.
        breaker: The client breaker (share one between clients of the same Host).

    The Host admits exactly one credential per call: connect with a certificate to its
    mutual-TLS client address, or with a token, key or SAML response to its TLS-only client
    address.

    Raises:
        ValueError: If a PEM is malformed, the key does not match the certificate, both
            ``token`` and ``api_key`` are given, ``saml_response`` comes with another
            credential, or no credential is.
    """

    def __init__(
        self,
        target: str,
        *,
        ca: bytes,
        cert: bytes | None = None,
        key: bytes | None = None,
        token: str | None = None,
        api_key: str | None = None,
        saml_response: str | None = None,
        server_name: str | None = None,
        breaker: ClientBreaker | None = None,
    ) -> None:
        self.target = target
        self.breaker = breaker or ClientBreaker()
        self._credentials = _channel.credentials(
            ca, cert, key, token=token, api_key=api_key, saml_response=saml_response
        )
        self._session = (
            _channel.SessionTokenHolder(saml_response) if saml_response is not None else None
        )
        self._options = _channel.options(server_name)
        self._channel: grpc.aio.Channel | None = None
        self._stub: _host_pb2_grpc.GridClientServiceStub | None = None
        self._log_sender: AsyncLogSender | None = None
        self._closed = False

    async def __aenter__(self) -> AsyncClient:
        """Return the client."""
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close the client."""
        await self.close()

    async def close(self) -> None:
        """Deliver pending logs (one bounded attempt), then close the channel. Idempotent."""
        if self._closed:
            return
        if self._log_sender is not None:
            await self._log_sender.close()
        self._closed = True
        if self._channel is not None:
            await self._channel.close()

    # ------------------------------------------------------------------ sessions and tools

    async def create_session(
        self, ttl_seconds: int = 0, metadata: Mapping[str, str] | None = None
    ) -> Session:
        """Create a session bound to this client's verified identity (F3).

        Args:
            ttl_seconds: Requested lifetime; 0 means the Host's default (it caps the value).
            metadata: Free-form metadata.

        Returns:
            The session.

        Raises:
            AespClientError: The Host's refusal, or a transport failure.
        """
        cid = _wire.new_correlation_id()
        request = _grid_pb2.CreateSession(ttl_seconds=ttl_seconds, metadata=dict(metadata or {}))
        response = await self._unary("CreateSession", request, cid, _channel.RPC_TIMEOUT_S)
        return _parse.session(response, cid)

    async def destroy_session(self, session_id: str, force: bool = False) -> None:
        """Destroy a session; ``force`` cancels its active invocations (C-46).

        Args:
            session_id: The session.
            force: Terminate it even if invocations are active.

        Raises:
            SessionError: Unknown or expired session.
            AespClientError: Any other refusal, or a transport failure.
        """
        cid = _wire.new_correlation_id()
        request = _grid_pb2.DestroySession(session_id=session_id, force=force)
        response = await self._unary("DestroySession", request, cid, _channel.RPC_TIMEOUT_S)
        _parse.destroyed(response, cid)

    async def list_tools(self, session_id: str) -> list[ToolInfo]:
        """The tools this client may call in the session, from the Host's own contracts.

        Args:
            session_id: The session.

        Returns:
            One :class:`ToolInfo` per callable contract.

        Raises:
            AespClientError: The Host's refusal, or a transport failure.
        """
        cid = _wire.new_correlation_id()
        request = _wire.list_tools_request(session_id, cid)
        response = await self._unary("ListTools", request, cid, _channel.RPC_TIMEOUT_S)
        return _parse.tools(response, cid)

    # ------------------------------------------------------------------ calls

    async def call(
        self,
        session_id: str,
        name: str,
        args: Args,
        *,
        call_id: str | None = None,
        correlation_id: str | None = None,
        timeout_ms: int = 0,
        approval_request_id: str = "",
    ) -> CallResult:
        """Call a tool through the Host (F4).

        Args:
            session_id: The session.
            name: The tool.
            args: Arguments (a mapping, or JSON bytes sent unchanged).
            call_id: ADM call id, the idempotency key (a UUID v4 by default).
            correlation_id: The workflow's id (generated by default).
            timeout_ms: Requested timeout; 0 means the Host's default.
            approval_request_id: Repeat a held call with its APPROVED per-call approval
                (:attr:`~aesp.client.errors.ApprovalRequired.approval_request_id`); sent in the
                gRPC header ``aesp-approval-request-id``. Empty: none presented.

        Returns:
            The tool's result; a business-logic ERROR is returned, not raised (C-13).

        Raises:
            ApprovalRequired: The call needs per-call approval (a request was opened, or the
                presented one is still PENDING); nothing ran.
            AespClientError: A refusal by the Host (session, contract, arguments, routing,
                timeout) or the breaker, or a transport failure.
        """
        cid = correlation_id or _wire.new_correlation_id()
        request = _wire.tool_call(
            session_id,
            name,
            _wire.encode_args(args, cid),
            call_id=call_id or _wire.new_call_id(),
            correlation_id=cid,
            timeout_ms=timeout_ms,
        )
        response = await self._unary(
            "CallTool",
            request,
            cid,
            _channel.call_deadline_s(timeout_ms),
            extra_metadata=_approval_metadata(approval_request_id),
        )
        return _parse.call_result(response, request)

    async def stream(
        self,
        session_id: str,
        name: str,
        args: Args,
        *,
        call_id: str | None = None,
        correlation_id: str | None = None,
        timeout_ms: int = 0,
    ) -> AsyncIterator[Any]:
        """Call a streaming tool (F7) and yield each chunk's parsed payload in order.

        Args:
            session_id: The session.
            name: A tool whose contract has ``supports_streaming``.
            args: Arguments (a mapping, or JSON bytes sent unchanged).
            call_id: ADM call id (a UUID v4 by default).
            correlation_id: The workflow's id (generated by default).
            timeout_ms: Requested timeout for the whole stream; 0 means the Host's default.

        Yields:
            Each chunk's payload as parsed JSON.

        Raises:
            AespClientError: A refusal (it arrives as the only chunk), an in-band error chunk
                (after the chunks before it were yielded), a sequence gap, or a transport
                failure.
        """
        cid = correlation_id or _wire.new_correlation_id()
        request = _wire.tool_call(
            session_id,
            name,
            _wire.encode_args(args, cid),
            call_id=call_id or _wire.new_call_id(),
            correlation_id=cid,
            timeout_ms=timeout_ms,
        )
        self.breaker.check(correlation_id=cid, target=self.target)
        deadline_s = _channel.call_deadline_s(timeout_ms)
        pending = await self._present(cid, deadline_s)
        call = self._stub_().CallToolStream(
            request, timeout=deadline_s, metadata=pending.metadata if pending else None
        )
        expected = 0
        try:
            async for message in call:
                if expected == 0:
                    self.breaker.record_success()
                if pending is not None and self._session is not None:
                    metadata = await call.initial_metadata()
                    self._session.settle(pending, metadata, reached_host=True)
                    pending = None
                payload = _parse.chunk(message, expected, cid)
                expected += 1
                yield payload
                if message.is_final:
                    return
        except grpc.aio.AioRpcError as exc:
            if pending is not None and self._session is not None:
                self._session.settle_error(pending, exc)
                pending = None
            raise self._failed(exc, cid) from None
        finally:
            if pending is not None and self._session is not None:  # ended without a chunk
                done = call.done()  # else cancelled early: the Host may never have seen it
                metadata = await call.initial_metadata() if done else None
                self._session.settle(pending, metadata, reached_host=done)
            call.cancel()
        raise _parse.violation("The stream ended before its final chunk.", cid, "NO_FINAL_CHUNK")

    # ------------------------------------------------------------------ governed local dispatch

    async def authorize(
        self,
        session_id: str,
        name: str,
        args: Args,
        *,
        call_id: str | None = None,
        correlation_id: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> Authorization:
        """Ask the Host to authorise a call this process will execute (F6 steps 1-5).

        Args:
            session_id: The session.
            name: The tool.
            args: Arguments; the approval is bound to their hash (SPEC §2.12).
            call_id: ADM call id (a UUID v4 by default); the log must use the same one.
            correlation_id: The workflow's id (generated by default).
            metadata: Free-form metadata for the Host.

        Returns:
            An APPROVED authorisation with a non-empty invocation id and TTL > 0 (C-15).

        Raises:
            PermissionDenied: DENIED or PENDING (execution must not proceed).
            InvalidArguments: The Host's schema check failed (item 114).
            InvalidAuthorization: An APPROVED answer without invocation id or TTL.
            AespClientError: Any other refusal, or a transport failure.
        """
        cid = correlation_id or _wire.new_correlation_id()
        values = _wire.decode_args(args, cid)
        request = _wire.authorize_request(
            session_id,
            name,
            _wire.encode_args(values, cid),
            call_id=call_id or _wire.new_call_id(),
            correlation_id=cid,
            metadata=metadata,
        )
        sent_at = time.monotonic()  # the TTL is counted from before the Host issued it
        response = await self._unary("AuthorizeToolCall", request, cid, _channel.RPC_TIMEOUT_S)
        return _parse.authorization(response, request, values, received_at=sent_at)

    async def log_result(
        self,
        authorization: Authorization,
        result: ToolResult | CallResult,
        *,
        execution_time_ms: int = 0,
        execution_metadata: Mapping[str, str] | None = None,
        finished_at_ms: int | None = None,
    ) -> LogReceipt:
        """Record the result of an authorised execution now, waiting for the answer.

        Prefer :meth:`run_locally`, which logs in the background with retries.

        Args:
            authorization: The authorisation that was executed.
            result: The ADM result (or a :class:`CallResult`).
            execution_time_ms: How long execution took.
            execution_metadata: Extra metadata; ``args_sha256`` defaults to the hash the Host
                returned at authorisation.
            finished_at_ms: When execution finished (Unix ms; now by default).

        Returns:
            The Host's ``LOGGED`` receipt.

        Raises:
            ProtocolError: The Host rejected the log (unknown, replayed, mismatched or late).
            AespClientError: Any other refusal, or a transport failure.
        """
        request = _wire.log_request(
            authorization,
            _wire.adm_result(result),
            execution_time_ms=execution_time_ms,
            finished_at_ms=finished_at_ms,
            execution_metadata=execution_metadata,
        )
        return await self.send_log(request)

    async def send_log(self, request: _grid_pb2.LogToolResultRequest) -> LogReceipt:
        """Send a prepared ``LogToolResultRequest`` (used by the background log sender).

        Args:
            request: The request.

        Returns:
            The Host's ``LOGGED`` receipt (C-15: an empty answer is not one).

        Raises:
            AespClientError: The Host's rejection, the breaker, or a transport failure.
        """
        cid = request.correlation_id
        response = await self._unary("LogToolResult", request, cid, _channel.AUDIT_TIMEOUT_S)
        return _parse.log_receipt(response, request)

    async def run_locally(
        self,
        session_id: str,
        local: Executor | ToolRegistry,
        name: str,
        args: Args,
        *,
        call_id: str | None = None,
        correlation_id: str | None = None,
        timeout_ms: int = 0,
    ) -> CallResult:
        """Governed local dispatch: authorise, execute here with LATER, log in the background.

        Falls back to a remote :meth:`call` when ``name`` is not registered in ``local``
        (item 126). See :class:`~aesp.client.governed.AsyncGovernedLocal` for the steps.

        Args:
            session_id: The session.
            local: The LATER executor or registry holding the local tools.
            name: The tool.
            args: Arguments.
            call_id: ADM call id (a UUID v4 by default).
            correlation_id: The workflow's id (generated by default).
            timeout_ms: Timeout of a remote fallback call.

        Returns:
            The result (``executed_locally`` tells where it ran); the log may still be pending.

        Raises:
            AespClientError: A denial (nothing ran, no fallback), a refused authorisation
                (C-15, tampering, expiry), or a refusal of the remote fallback.
        """
        governed = AsyncGovernedLocal(self, local)
        return await governed.run_governed(
            session_id,
            name,
            args,
            call_id=call_id,
            correlation_id=correlation_id,
            timeout_ms=timeout_ms,
        )

    @property
    def log_sender(self) -> AsyncLogSender:
        """This client's background log sender (created on first use)."""
        if self._log_sender is None:
            self._log_sender = AsyncLogSender(self)
        return self._log_sender

    def pending_logs(self) -> tuple[PendingLog, ...]:
        """Governed-local log records not yet acknowledged by the Host."""
        return self._log_sender.pending() if self._log_sender is not None else ()

    async def flush(self) -> int:
        """Try every pending log now; return how many are still pending."""
        return await self._log_sender.flush() if self._log_sender is not None else 0

    # ------------------------------------------------------------------ plumbing

    def _stub_(self) -> _host_pb2_grpc.GridClientServiceStub:
        if self._closed:
            raise RuntimeError("the client is closed")
        if self._stub is None:
            self._channel = grpc.aio.secure_channel(
                self.target, self._credentials, options=self._options
            )
            self._stub = _host_pb2_grpc.GridClientServiceStub(self._channel)
        return self._stub

    async def _present(self, cid: str, timeout_s: float) -> _channel.Presentation | None:
        """The SAML response or session token for the next RPC (None: channel credentials)."""
        if self._session is None:
            return None
        return await self._session.present_async(cid, timeout_s)

    async def _unary(
        self,
        method: str,
        request: Any,
        cid: str,
        timeout_s: float,
        *,
        extra_metadata: tuple[tuple[str, str], ...] = (),
    ) -> Any:
        """One unary RPC through the breaker; transport failures become typed errors.

        With a SAML response, the call presents it or its session token, and a token in the
        response's initial metadata is kept for the next calls. ``extra_metadata`` is sent
        after the credential header (e.g. the per-call approval id).
        """
        self.breaker.check(correlation_id=cid, target=self.target)
        stub = self._stub_()
        presentation = await self._present(cid, timeout_s)
        headers = (*(presentation.metadata if presentation else ()), *extra_metadata)
        metadata = headers or None
        try:
            call = getattr(stub, method)(request, timeout=timeout_s, metadata=metadata)
            response = await call
        except grpc.aio.AioRpcError as exc:
            if presentation is not None and self._session is not None:
                self._session.settle_error(presentation, exc)
            raise self._failed(exc, cid) from None
        except BaseException:  # cancelled: the Host may not have seen it; another call may try
            if presentation is not None and self._session is not None:
                self._session.settle(presentation, None, reached_host=False)
            raise
        if presentation is not None and self._session is not None:
            initial = await call.initial_metadata()
            self._session.settle(presentation, initial, reached_host=True)
        self.breaker.record_success()
        return response

    def _failed(self, exc: grpc.RpcError, cid: str) -> Exception:
        error = from_rpc_error(exc, correlation_id=cid, target=self.target)
        if error.code in COUNTED_CODES:
            self.breaker.record_failure(error.code)
        else:
            self.breaker.record_success()  # the Host answered, at the gRPC level
        return error


APPROVAL_HEADER = "aesp-approval-request-id"  # aesp.core.call_approvals.APPROVAL_HEADER


def _approval_metadata(approval_request_id: str) -> tuple[tuple[str, str], ...]:
    """The gRPC header presenting a per-call approval; none when the id is empty.

    Raises:
        ValueError: The id holds a character a gRPC header value cannot carry.
    """
    value = approval_request_id.strip()
    if not value:
        return ()
    if not value.isascii() or not value.isprintable():
        raise ValueError("approval_request_id must be printable ASCII")
    return ((APPROVAL_HEADER, value),)
