"""The synchronous Client SDK: the same API as ``AsyncClient``, on a blocking gRPC channel.

Why: scripts, notebooks and thread-based servers should call tools without an event loop
(SPEC §2.11: client libraries SHOULD offer sync and async APIs). The plain calls use grpc's
sync channel directly and never start a loop; governed-local logs are delivered by a daemon
thread (:class:`~aesp.client.log_sender.LogSender`). Requests and answers go through the same
builders and parsers as the async client, so both behave identically. The client is
thread-safe.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from types import TracebackType
from typing import Any

import grpc

from aesp.adm import ToolResult
from aesp.client import _channel, _parse, _wire
from aesp.client._translate import from_rpc_error
from aesp.client._wire import Args
from aesp.client.aio import _approval_metadata
from aesp.client.audit_buffer import PendingLog
from aesp.client.breaker import COUNTED_CODES, ClientBreaker
from aesp.client.governed import GovernedLocal
from aesp.client.log_sender import LogSender
from aesp.client.models import Authorization, CallResult, LogReceipt, Session, ToolInfo
from aesp.later import Executor, ToolRegistry
from aesp.proto.altar.aesp.v1 import host_pb2_grpc as _host_pb2_grpc
from aesp.proto.altar.grid.v1 import grid_pb2 as _grid_pb2

__all__ = ["Client"]


class Client:
    """A blocking client of one Host's GridClientService.

    Use it as ``with Client(...) as client:`` or call :meth:`close`. Methods, arguments,
    results and errors are those of :class:`~aesp.client.aio.AsyncClient`.

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
            for. When that token expires, calls raise ``AuthenticationFailed``; create a new
            client with a new SAML response.
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
        channel_credentials = _channel.credentials(
            ca, cert, key, token=token, api_key=api_key, saml_response=saml_response
        )
        self._session = (
            _channel.SessionTokenHolder(saml_response) if saml_response is not None else None
        )
        self._channel = grpc.secure_channel(
            target, channel_credentials, options=_channel.options(server_name)
        )
        self._stub = _host_pb2_grpc.GridClientServiceStub(self._channel)
        self._log_sender: LogSender | None = None
        self._closed = False

    def __enter__(self) -> Client:
        """Return the client."""
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close the client."""
        self.close()

    def close(self) -> None:
        """Deliver pending logs (one last attempt), then close the channel. Idempotent."""
        if self._closed:
            return
        if self._log_sender is not None:
            self._log_sender.close()
        self._closed = True
        self._channel.close()

    # ------------------------------------------------------------------ sessions and tools

    def create_session(
        self, ttl_seconds: int = 0, metadata: Mapping[str, str] | None = None
    ) -> Session:
        """Create a session bound to this client's verified identity (F3).

        Arguments, result and errors: as :meth:`AsyncClient.create_session`.
        """
        cid = _wire.new_correlation_id()
        request = _grid_pb2.CreateSession(ttl_seconds=ttl_seconds, metadata=dict(metadata or {}))
        response = self._unary("CreateSession", request, cid, _channel.RPC_TIMEOUT_S)
        return _parse.session(response, cid)

    def destroy_session(self, session_id: str, force: bool = False) -> None:
        """Destroy a session; ``force`` cancels its active invocations (C-46).

        Arguments, result and errors: as :meth:`AsyncClient.destroy_session`.
        """
        cid = _wire.new_correlation_id()
        request = _grid_pb2.DestroySession(session_id=session_id, force=force)
        response = self._unary("DestroySession", request, cid, _channel.RPC_TIMEOUT_S)
        _parse.destroyed(response, cid)

    def list_tools(self, session_id: str) -> list[ToolInfo]:
        """The tools this client may call in the session, from the Host's own contracts.

        Arguments, result and errors: as :meth:`AsyncClient.list_tools`.
        """
        cid = _wire.new_correlation_id()
        request = _wire.list_tools_request(session_id, cid)
        response = self._unary("ListTools", request, cid, _channel.RPC_TIMEOUT_S)
        return _parse.tools(response, cid)

    # ------------------------------------------------------------------ calls

    def call(
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
        """Call a tool through the Host (F4); a business ERROR is returned (C-13).

        Arguments, result and errors: as :meth:`AsyncClient.call` (``approval_request_id``
        repeats a held call with its APPROVED approval; a held call raises
        :class:`~aesp.client.errors.ApprovalRequired`).
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
        response = self._unary(
            "CallTool",
            request,
            cid,
            _channel.call_deadline_s(timeout_ms),
            extra_metadata=_approval_metadata(approval_request_id),
        )
        return _parse.call_result(response, request)

    def stream(
        self,
        session_id: str,
        name: str,
        args: Args,
        *,
        call_id: str | None = None,
        correlation_id: str | None = None,
        timeout_ms: int = 0,
    ) -> Iterator[Any]:
        """Call a streaming tool (F7) and yield each chunk's parsed payload in order.

        Arguments: see :meth:`AsyncClient.stream <aesp.client.aio.AsyncClient.stream>`.

        Yields:
            Each chunk's payload as parsed JSON.

        Raises:
            AespClientError: A refusal, an in-band error chunk, a sequence gap, or a transport
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
        self._check_open()
        deadline_s = _channel.call_deadline_s(timeout_ms)
        presentation = self._session.present(cid, deadline_s) if self._session else None
        call = self._stub.CallToolStream(
            request, timeout=deadline_s, metadata=presentation.metadata if presentation else None
        )
        expected = 0
        pending = presentation  # until the session-token holder has heard how the call went
        try:
            for message in call:
                if expected == 0:
                    self.breaker.record_success()
                if pending is not None and self._session is not None:
                    self._session.settle(pending, call.initial_metadata(), reached_host=True)
                    pending = None
                payload = _parse.chunk(message, expected, cid)
                expected += 1
                yield payload
                if message.is_final:
                    return
        except grpc.RpcError as exc:
            if pending is not None and self._session is not None:
                self._session.settle_error(pending, exc)
                pending = None
            raise self._failed(exc, cid) from None
        finally:
            if pending is not None and self._session is not None:  # ended without a chunk
                metadata = _channel.initial_metadata_of(call)
                self._session.settle(pending, metadata, reached_host=True)
            call.cancel()
        raise _parse.violation("The stream ended before its final chunk.", cid, "NO_FINAL_CHUNK")

    # ------------------------------------------------------------------ governed local dispatch

    def authorize(
        self,
        session_id: str,
        name: str,
        args: Args,
        *,
        call_id: str | None = None,
        correlation_id: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> Authorization:
        """Ask the Host to authorise a call this process will execute (C-15 checked).

        Arguments, result and errors: as :meth:`AsyncClient.authorize`.
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
        response = self._unary("AuthorizeToolCall", request, cid, _channel.RPC_TIMEOUT_S)
        return _parse.authorization(response, request, values, received_at=sent_at)

    def log_result(
        self,
        authorization: Authorization,
        result: ToolResult | CallResult,
        *,
        execution_time_ms: int = 0,
        execution_metadata: Mapping[str, str] | None = None,
        finished_at_ms: int | None = None,
    ) -> LogReceipt:
        """Record the result of an authorised execution now, waiting for the answer.

        Arguments, result and errors: as :meth:`AsyncClient.log_result`.
        """
        request = _wire.log_request(
            authorization,
            _wire.adm_result(result),
            execution_time_ms=execution_time_ms,
            finished_at_ms=finished_at_ms,
            execution_metadata=execution_metadata,
        )
        return self.send_log(request)

    def send_log(self, request: _grid_pb2.LogToolResultRequest) -> LogReceipt:
        """Send a prepared ``LogToolResultRequest`` (used by the background log sender).

        Arguments, result and errors: as :meth:`AsyncClient.send_log`.
        """
        cid = request.correlation_id
        response = self._unary("LogToolResult", request, cid, _channel.AUDIT_TIMEOUT_S)
        return _parse.log_receipt(response, request)

    def run_locally(
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

        Falls back to a remote :meth:`call` when ``name`` is not registered in ``local``.
        Arguments, result and errors: see :meth:`AsyncClient.run_locally
        <aesp.client.aio.AsyncClient.run_locally>`; the log is sent by a background thread.
        """
        governed = GovernedLocal(self, local)
        return governed.run_governed(
            session_id,
            name,
            args,
            call_id=call_id,
            correlation_id=correlation_id,
            timeout_ms=timeout_ms,
        )

    @property
    def log_sender(self) -> LogSender:
        """This client's background log sender (created on first use)."""
        if self._log_sender is None:
            self._log_sender = LogSender(self)
        return self._log_sender

    def pending_logs(self) -> tuple[PendingLog, ...]:
        """Governed-local log records not yet acknowledged by the Host."""
        return self._log_sender.pending() if self._log_sender is not None else ()

    def flush(self) -> int:
        """Try every pending log now; return how many are still pending."""
        return self._log_sender.flush() if self._log_sender is not None else 0

    # ------------------------------------------------------------------ plumbing

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("the client is closed")

    def _unary(
        self,
        method: str,
        request: Any,
        cid: str,
        timeout_s: float,
        *,
        extra_metadata: tuple[tuple[str, str], ...] = (),
    ) -> Any:
        """One unary RPC through the breaker; transport failures become typed errors.

        ``extra_metadata`` is sent after any credential header (e.g. the per-call approval id).
        """
        self.breaker.check(correlation_id=cid, target=self.target)
        self._check_open()
        rpc = getattr(self._stub, method)
        if self._session is None:
            try:
                response = rpc(request, timeout=timeout_s, metadata=extra_metadata or None)
            except grpc.RpcError as exc:
                raise self._failed(exc, cid) from None
        else:
            response = self._unary_with_session(
                self._session, rpc, request, cid, timeout_s, extra_metadata
            )
        self.breaker.record_success()
        return response

    def _unary_with_session(
        self,
        session: _channel.SessionTokenHolder,
        rpc: Any,
        request: Any,
        cid: str,
        timeout_s: float,
        extra_metadata: tuple[tuple[str, str], ...] = (),
    ) -> Any:
        """A unary RPC that presents the SAML response or its session token, and keeps a new
        token from the response's initial metadata."""
        presentation = session.present(cid, timeout_s)
        try:
            response, call = rpc.with_call(
                request, timeout=timeout_s, metadata=(*presentation.metadata, *extra_metadata)
            )
        except grpc.RpcError as exc:
            session.settle_error(presentation, exc)
            raise self._failed(exc, cid) from None
        except BaseException:
            session.settle(presentation, None, reached_host=False)  # interrupted: retry later
            raise
        session.settle(presentation, call.initial_metadata(), reached_host=True)
        return response

    def _failed(self, exc: grpc.RpcError, cid: str) -> Exception:
        error = from_rpc_error(exc, correlation_id=cid, target=self.target)
        if error.code in COUNTED_CODES:
            self.breaker.record_failure(error.code)
        else:
            self.breaker.record_success()  # the Host answered, at the gRPC level
        return error
