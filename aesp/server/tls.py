"""Transport security for the Host's gRPC server: mutual TLS, TLS >= 1.3, peer identity.

SPEC C-30 requires TLS 1.3 or newer everywhere and mutual TLS between the Host and Runtimes;
checklist 142 requires refusing a Runtime connection that has no client certificate, an
untrusted one, or negotiates below TLS 1.3. grpcio (1.85) gets us most of the way:

* ``server_credentials`` builds ``ssl_server_credentials`` with ``require_client_auth=True`` by
  default (the Runtime port), so a peer without a certificate, or with one that does not chain
  to our CA, fails the handshake and never reaches a handler. The client port passes False:
  clients authenticate with a token, an API key or an optional certificate (C-30), checked by
  the gateway (:mod:`aesp.server.gateway`).
* grpcio's Python API has **no minimum-TLS-version setting**; by default the server also accepts
  TLS 1.2. We therefore enforce the version per call: ``RequireTls13Interceptor`` wraps every
  handler and aborts, before any application code runs, any call whose ``auth_context()`` does
  not report ``ssl_tls_version == TLSv1.3`` (including plaintext calls, which have no TLS
  version at all) with ``UNAUTHENTICATED`` and the message "TLS 1.3 is required ...". A TLS 1.2
  peer can thus complete a handshake but cannot complete a single RPC.

  Handshake-level refusal ("Enforcement B" in the dependency notes) is deliberately **not**
  done: the only lever is the ``GRPC_SSL_CIPHER_SUITES`` environment variable restricted to
  RSA-only TLS 1.2 suites, which is read once per process and would silently change TLS for
  every other gRPC channel and server in the process (e.g. cloud SDK clients). A process that
  is only a Host may still set it itself, before importing grpc; nothing here depends on it.

``peer_identity`` turns the certificate the handshake verified into a ``PeerIdentity``; it is
what the Host must use instead of anything the peer claims about itself (SPEC C-2, C-40).
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from os import PathLike
from pathlib import Path
from typing import Any, Final, Protocol

import grpc
import grpc.aio
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from aesp.core.identity import (
    PeerIdentity,
    certificate_identity_from_pem,
    parse_spiffe_id,
)
from aesp.server.wrapping import rebuild

__all__ = [
    "REQUIRED_TLS_VERSION",
    "RequireTls13Interceptor",
    "channel_credentials",
    "load_pem",
    "peer_identity",
    "server_credentials",
]

_LOG = logging.getLogger(__name__)

REQUIRED_TLS_VERSION: Final = "TLSv1.3"
"""The only ``ssl_tls_version`` accepted (grpc's name for TLS 1.3)."""

_TLS_VERSION_KEY: Final = "ssl_tls_version"
_PEM_CERT_KEY: Final = "x509_pem_cert"
_ACCEPTED: Final = REQUIRED_TLS_VERSION.encode()
_NONE: Final = [b"none (plaintext)"]
_REFUSED: Final = "TLS 1.3 is required; this connection negotiated {}"
_WRAPPED_CACHE_LIMIT: Final = 4096
_IDENTITY_CACHE_SIZE: Final = 256


class _HasAuthContext(Protocol):
    def auth_context(self) -> dict[str, list[bytes]]: ...


# --------------------------------------------------------------------------- credentials


def load_pem(path: str | PathLike[str]) -> bytes:
    """Read a PEM file (certificate, key or CA bundle) for TLS configuration.

    Args:
        path: The file.

    Returns:
        Its bytes.

    Raises:
        FileNotFoundError: If the file does not exist (the message names it and says how to
            create a development PKI).
        PermissionError: If it cannot be read.
        ValueError: If it is empty or not PEM.
    """
    file = Path(path)
    try:
        data = file.read_bytes()
    except FileNotFoundError:
        raise FileNotFoundError(
            f"TLS file {file} does not exist; create a development PKI with "
            "`aesp certs init --dir DIR` or point the configuration at your own PEM files"
        ) from None
    except IsADirectoryError:
        raise ValueError(f"TLS file {file} is a directory, not a PEM file") from None
    except PermissionError:
        raise PermissionError(
            f"TLS file {file} is not readable by this process (check its owner and mode)"
        ) from None
    if b"-----BEGIN " not in data:
        raise ValueError(f"TLS file {file} is not PEM (no '-----BEGIN' line)")
    return data


def _require_pem(what: str, value: object) -> bytes:
    if not isinstance(value, bytes) or b"-----BEGIN " not in value:
        raise ValueError(f"{what} must be PEM bytes (use load_pem(path) to read a file)")
    return value


def _check_pair(what: str, cert_pem: bytes, key_pem: bytes) -> None:
    """Fail early, with a clear message, if ``key_pem`` does not belong to ``cert_pem``."""
    try:
        cert = x509.load_pem_x509_certificate(cert_pem)
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{what} certificate or key is unreadable: {exc}") from None
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    der = serialization.Encoding.DER
    if key.public_key().public_bytes(der, spki) != cert.public_key().public_bytes(der, spki):
        raise ValueError(f"{what} private key does not belong to its certificate")


def server_credentials(
    cert_pem: bytes, key_pem: bytes, ca_pem: bytes, *, require_client_auth: bool = True
) -> grpc.ServerCredentials:
    """TLS server credentials verifying client certificates against ``ca_pem``.

    Args:
        cert_pem: The server certificate (chain), PEM.
        key_pem: The server private key, PEM.
        ca_pem: The CA bundle client certificates must chain to, PEM.
        require_client_auth: True (mutual TLS, the Runtime port): a peer without a trusted
            certificate fails the handshake. False (the client port, C-30): a certificate is
            requested and, if sent, must still chain to ``ca_pem``, but a peer may connect
            without one and authenticate with a token or API key instead.

    Returns:
        Credentials for ``server.add_secure_port``. Combine with ``RequireTls13Interceptor``.

    Raises:
        ValueError: If an argument is not PEM or the key does not match the certificate.
    """
    _check_pair("the server", _require_pem("cert_pem", cert_pem), _require_pem("key_pem", key_pem))
    return grpc.ssl_server_credentials(
        [(key_pem, cert_pem)],
        root_certificates=_require_pem("ca_pem", ca_pem),
        require_client_auth=require_client_auth,
    )


def channel_credentials(
    ca_pem: bytes, cert_pem: bytes | None = None, key_pem: bytes | None = None
) -> grpc.ChannelCredentials:
    """TLS channel credentials trusting ``ca_pem``, with a client certificate if given.

    Args:
        ca_pem: The CA bundle the server certificate must chain to, PEM.
        cert_pem: The client certificate (chain), PEM; required for mutual TLS.
        key_pem: The client private key, PEM; given exactly when ``cert_pem`` is.

    Returns:
        Credentials for ``grpc.aio.secure_channel``.

    Raises:
        ValueError: If only one of ``cert_pem``/``key_pem`` is given, or an argument is not PEM.
    """
    if (cert_pem is None) != (key_pem is None):
        raise ValueError("pass both cert_pem and key_pem for a client certificate, or neither")
    if cert_pem is not None and key_pem is not None:
        _check_pair(
            "the client", _require_pem("cert_pem", cert_pem), _require_pem("key_pem", key_pem)
        )
    return grpc.ssl_channel_credentials(
        root_certificates=_require_pem("ca_pem", ca_pem),
        private_key=key_pem,
        certificate_chain=cert_pem,
    )


# --------------------------------------------------------------------------- TLS 1.3 gate


def _tls_version(context: _HasAuthContext) -> list[bytes]:
    return context.auth_context().get(_TLS_VERSION_KEY) or _NONE


def _refusal(versions: list[bytes]) -> str:
    return _REFUSED.format(versions[0].decode("ascii", "replace"))


class _Undecodable:
    """Marker for a request message that is not valid protobuf (C-14: SERIALIZATION_ERROR)."""


UNDECODABLE: Final = _Undecodable()
_UNDECODABLE_MESSAGE: Final = (
    "SERIALIZATION_ERROR: the request is not a valid protobuf message for this method"
)


def _safe_deserializer(
    deserialize: Callable[[bytes], Any] | None,
) -> Callable[[bytes], Any] | None:
    """Turn a decoding failure into :data:`UNDECODABLE` so the call gets a precise status."""
    if deserialize is None:
        return None

    def safe(data: bytes) -> Any:
        try:
            return deserialize(data)
        except Exception:  # noqa: BLE001 - any decode failure is the caller's malformed bytes
            return UNDECODABLE

    return safe


async def _refuse_undecodable(context: grpc.aio.ServicerContext) -> None:
    context.set_trailing_metadata((("aesp-error-code", "SERIALIZATION_ERROR"),))
    await context.abort(grpc.StatusCode.INVALID_ARGUMENT, _UNDECODABLE_MESSAGE)


def _guard_single(behavior: Callable[..., Any]) -> Callable[..., Any]:
    """Guard a handler returning one response (unary-unary, stream-unary)."""
    if inspect.iscoroutinefunction(behavior):

        async def guarded_async(request: Any, context: grpc.aio.ServicerContext) -> Any:
            versions = _tls_version(context)
            if versions[0] != _ACCEPTED:
                await context.abort(grpc.StatusCode.UNAUTHENTICATED, _refusal(versions))
            if request is UNDECODABLE:
                await _refuse_undecodable(context)
            return await behavior(request, context)

        return guarded_async

    # A sync handler: the aio server runs it in its thread pool, where abort() raises.
    def guarded_sync(request: Any, context: grpc.ServicerContext) -> Any:
        versions = _tls_version(context)
        if versions[0] != _ACCEPTED:
            context.abort(grpc.StatusCode.UNAUTHENTICATED, _refusal(versions))
        return behavior(request, context)

    return guarded_sync


def _guard_streaming(behavior: Callable[..., Any]) -> Callable[..., Any]:
    """Guard a handler producing a response stream (unary-stream, stream-stream).

    The wrapper keeps the handler's flavour, because the aio server dispatches on it: async
    generator, coroutine using ``context.write``, or sync generator (run in the thread pool).
    """
    if inspect.isasyncgenfunction(behavior):

        async def guarded_agen(
            request: Any, context: grpc.aio.ServicerContext
        ) -> AsyncIterator[Any]:
            versions = _tls_version(context)
            if versions[0] != _ACCEPTED:
                await context.abort(grpc.StatusCode.UNAUTHENTICATED, _refusal(versions))
            if request is UNDECODABLE:
                await _refuse_undecodable(context)
            responses = behavior(request, context)
            try:
                async for response in responses:
                    yield response
            finally:
                await responses.aclose()

        return guarded_agen

    if inspect.iscoroutinefunction(behavior):

        async def guarded_writer(request: Any, context: grpc.aio.ServicerContext) -> None:
            versions = _tls_version(context)
            if versions[0] != _ACCEPTED:
                await context.abort(grpc.StatusCode.UNAUTHENTICATED, _refusal(versions))
            await behavior(request, context)

        return guarded_writer

    # A sync generator: its body (and so this check) runs in the thread pool, where abort()
    # raises; calling abort() on the event-loop thread instead would deadlock.
    def guarded_gen(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        versions = _tls_version(context)
        if versions[0] != _ACCEPTED:
            context.abort(grpc.StatusCode.UNAUTHENTICATED, _refusal(versions))
        yield from behavior(request, context)

    return guarded_gen


def guard_tls13(handler: grpc.RpcMethodHandler, method: str = "") -> grpc.RpcMethodHandler:
    """``handler`` behind the TLS 1.3 check (a :class:`~aesp.server.wrapping.HandlerWrapper`)."""
    return _guard(handler)


def _guard(handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
    """Return ``handler`` with its behaviour wrapped by the TLS 1.3 check."""
    return rebuild(
        handler,
        single=lambda behaviour, _unary: _guard_single(behaviour),
        streaming=lambda behaviour, _unary: _guard_streaming(behaviour),
        # unary requests: decoded after the check (in the guard), never before it
        unary_deserializer=_safe_deserializer(handler.request_deserializer),
    )


class RequireTls13Interceptor(grpc.aio.ServerInterceptor):
    """Abort every call not carried over TLS 1.3 with ``UNAUTHENTICATED``.

    ``intercept_service`` has no access to the connection, so the check lives in a wrapper
    around each handler, keeping the handler's flavour (coroutine, async generator, sync
    function or generator). Put this interceptor first in the server's list: its wrapper is
    then the outermost one, so a refused call runs no other interceptor's wrapper and no
    handler code. Wrapped handlers are cached per handler object, so the per-call cost is one
    ``auth_context()`` lookup and a bytes comparison.
    """

    def __init__(self) -> None:
        # id(handler) -> (handler, guarded); keeping ``handler`` alive keeps its id unique.
        self._wrapped: dict[int, tuple[grpc.RpcMethodHandler, grpc.RpcMethodHandler]] = {}

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        """Return the next handler, guarded by the TLS 1.3 check (``None`` if unknown)."""
        handler = await continuation(handler_call_details)
        if handler is None:
            return None
        entry = self._wrapped.get(id(handler))
        if entry is not None and entry[0] is handler:
            return entry[1]
        guarded = _guard(handler)
        if len(self._wrapped) >= _WRAPPED_CACHE_LIMIT:
            self._wrapped.clear()
        self._wrapped[id(handler)] = (handler, guarded)
        return guarded


# --------------------------------------------------------------------------- peer identity


@functools.lru_cache(maxsize=_IDENTITY_CACHE_SIZE)
def _identity_for(pem: bytes, tls_version: bytes) -> PeerIdentity | None:
    try:
        certificate = certificate_identity_from_pem(pem)
    except ValueError as exc:
        _LOG.warning("peer certificate has no usable identity: %s", exc)
        return None
    spiffe = None
    if certificate.spiffe_id:
        try:
            spiffe = parse_spiffe_id(certificate.spiffe_id)
        except ValueError as exc:
            _LOG.warning("peer certificate has a malformed SPIFFE ID: %s", exc)
    return PeerIdentity(
        certificate=certificate,
        spiffe=spiffe,
        tls_version=tls_version.decode("ascii", "replace"),
    )


def peer_identity(context: grpc.aio.ServicerContext | _HasAuthContext) -> PeerIdentity | None:
    """Return the identity of the certificate the peer presented and the handshake verified.

    Parsing is cached per distinct certificate (and TLS version), so repeated calls on the same
    connection cost a dictionary lookup.

    Args:
        context: The servicer context of the current call.

    Returns:
        The peer identity; ``None`` if the call carried no client certificate (plaintext, or
        TLS without client auth) or the certificate is unusable (e.g. two SPIFFE IDs). A
        certificate whose SPIFFE ID is malformed yields a ``PeerIdentity`` with ``spiffe=None``.
    """
    auth = context.auth_context()
    pems = auth.get(_PEM_CERT_KEY)
    if not pems:
        return None
    versions = auth.get(_TLS_VERSION_KEY)
    return _identity_for(pems[0], versions[0] if versions else b"")
