"""Channel settings, per-RPC deadlines and the SAML session token shared by both clients.

Why: both clients must present the same credentials (checked when the client is built, so a
wrong key fails at once rather than on the first call) and use the same deadlines. A client
authenticates with a client certificate (mutual TLS), a bearer token or an API key (SPEC C-30);
a token or key travels as per-call metadata composed with the TLS channel, which grpc only
sends over a secure channel. Deadlines follow SPEC §2.10's client retry policy: 30 s for
authorisation and the other unary calls, 10 s for an audit log; a call waits for the Host's own
timeout plus a grace period, so the Host's ``TIMEOUT`` (with its remediation) normally arrives
before the client gives up.

A SAML response is different: it is single-use. :class:`SessionTokenHolder` sends it
(``authorization: SAML <base64>``) with exactly one RPC, takes the Host session token from that
response's initial metadata (``aesp-session-token``) and sends ``Bearer <token>`` afterwards.
Calls that start while the exchange is in flight wait for it instead of spending the response
a second time (the Host would refuse that as a replay).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import grpc

from aesp.client.errors import AespClientError, make_error
from aesp.core.ids import now_ms
from aesp.server.tls import channel_credentials

RPC_TIMEOUT_S: Final = 30.0  # SPEC §2.10 authorization_timeout_ms
AUDIT_TIMEOUT_S: Final = 10.0  # SPEC §2.10 audit_timeout_ms
HOST_DEFAULT_CALL_TIMEOUT_MS: Final = 30_000  # a Host applies this when timeout_ms is 0 (C-45)
CALL_GRACE_S: Final = 5.0  # lets the Host's TIMEOUT answer arrive before our deadline
# The gateway's names (aesp.server.gateway.admission); the SDK does not import the server.
SESSION_TOKEN_HEADER: Final = "aesp-session-token"
SESSION_TOKEN_EXPIRES_HEADER: Final = "aesp-session-token-expires-ms"
_RENEW_STEPS: Final = (
    "Sign in at the identity provider again to get a new SAML response.",
    "Create a new client with saml_response set to the new response.",
)

Metadata = tuple[tuple[str, str], ...]


class _ApiKeyAuth(grpc.AuthMetadataPlugin):
    """Adds ``authorization: ApiKey <key>`` to every call (the gateway's API-key scheme)."""

    def __init__(self, api_key: str) -> None:
        self._metadata = (("authorization", f"ApiKey {api_key}"),)

    def __call__(
        self, context: grpc.AuthMetadataContext, callback: grpc.AuthMetadataPluginCallback
    ) -> None:
        """Hand grpc the metadata (grpc calls this from its own thread)."""
        callback(self._metadata, None)


def _check_secret(name: str, value: str) -> None:
    if not isinstance(value, str) or not value or value != value.strip() or "\n" in value:
        raise ValueError(f"{name} must be a non-empty string without surrounding whitespace")


def credentials(
    ca: bytes,
    cert: bytes | None = None,
    key: bytes | None = None,
    *,
    token: str | None = None,
    api_key: str | None = None,
    saml_response: str | None = None,
) -> grpc.ChannelCredentials:
    """TLS channel credentials with the client's one way of authenticating.

    Args:
        ca: PEM of the CA that signed the Host's certificate.
        cert: PEM of a client certificate (with ``key``), for mutual TLS.
        key: PEM of its private key.
        token: A bearer token (OIDC access token), sent as ``authorization: Bearer``.
        api_key: A service account's API key, sent as ``authorization: ApiKey``.
        saml_response: A base64 SAML response; the channel then carries no call credentials,
            because :class:`SessionTokenHolder` adds the changing header to each call.

    Raises:
        ValueError: If a PEM is malformed, the key does not belong to the certificate, only one
            of ``cert``/``key`` is given, both ``token`` and ``api_key`` are, ``saml_response``
            comes with any other credential, or no way is given.
    """
    if saml_response is not None:
        if any(v is not None for v in (cert, key, token, api_key)):
            raise ValueError("pass saml_response alone, without cert, key, token or api_key")
        if not isinstance(saml_response, str) or not _compact(saml_response):
            raise ValueError("saml_response must be the non-empty base64 SAMLResponse value")
        return channel_credentials(ca)
    if token is not None and api_key is not None:
        raise ValueError("pass at most one of token and api_key")
    if cert is None and key is None and token is None and api_key is None:
        raise ValueError(
            "pass cert and key, a token, an api_key or a saml_response (the Host admits no "
            "anonymous caller)"
        )
    channel = channel_credentials(ca, cert, key)
    if token is not None:
        _check_secret("token", token)
        return grpc.composite_channel_credentials(
            channel, grpc.access_token_call_credentials(token)
        )
    if api_key is not None:
        _check_secret("api_key", api_key)
        return grpc.composite_channel_credentials(
            channel, grpc.metadata_call_credentials(_ApiKeyAuth(api_key), name="aesp-api-key")
        )
    return channel


def _compact(saml_response: str) -> str:
    """The base64 text without the line breaks IdPs put into it (a header cannot carry them)."""
    return "".join(saml_response.split())


def options(server_name: str | None) -> list[tuple[str, Any]]:
    """Channel options; ``server_name`` overrides the name checked in the Host's certificate."""
    return [("grpc.ssl_target_name_override", server_name)] if server_name else []


def call_deadline_s(timeout_ms: int) -> float:
    """The gRPC deadline of a call that asked the Host for ``timeout_ms`` (0: Host default)."""
    return (timeout_ms if timeout_ms > 0 else HOST_DEFAULT_CALL_TIMEOUT_MS) / 1000 + CALL_GRACE_S


# --------------------------------------------------------------------------- SAML session token


@dataclass(frozen=True, slots=True)
class Presentation:
    """The credential header of one RPC, and whether it spends the SAML response."""

    metadata: Metadata
    exchange: bool


def _value(metadata: Sequence[tuple[str, str | bytes]] | None, name: str) -> str:
    for key, value in metadata or ():
        if key == name:
            return value if isinstance(value, str) else value.decode("ascii", "replace")
    return ""


def initial_metadata_of(source: Any) -> Sequence[tuple[str, str | bytes]] | None:
    """The initial metadata of a finished sync call or RPC error, if grpc kept any."""
    getter = getattr(source, "initial_metadata", None)
    if not callable(getter):
        return None
    with contextlib.suppress(Exception):  # an error raised before any metadata has none
        return getter()
    return None


class SessionTokenHolder:
    """The one-time SAML response until the Host answers it, then the Host's session token.

    Thread-safe (the blocking client and its log-sender thread share it) and asyncio-safe:
    an async caller waits on a future of its own loop, never on a lock held across I/O.

    Args:
        saml_response: The base64 SAML response to exchange (line breaks are dropped).
        clock_ms: Unix milliseconds, for the token's expiry.
    """

    def __init__(self, saml_response: str, *, clock_ms: Callable[[], int] = now_ms) -> None:
        self._response: str | None = _compact(saml_response)
        self._exchanging = False
        self._token = ""
        self._expires_at_ms = 0
        self._clock_ms = clock_ms
        self._changed = threading.Condition()
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []

    @property
    def expires_at_ms(self) -> int:
        """When the current session token expires (Unix ms; 0 before the exchange)."""
        with self._changed:
            return self._expires_at_ms

    def _claim(self, cid: str) -> Presentation | None:
        """The header for the next RPC, or None while another RPC exchanges (lock held)."""
        if self._token:
            if self._clock_ms() >= self._expires_at_ms:
                raise make_error(
                    "AUTHENTICATION_FAILED",
                    "The Host session token obtained with the SAML response has expired; "
                    "obtain a new SAML response from the identity provider and create a new "
                    "client with it.",
                    correlation_id=cid,
                    remediation_steps=_RENEW_STEPS,
                )
            return Presentation((("authorization", f"Bearer {self._token}"),), exchange=False)
        if self._exchanging:
            return None
        if self._response is None:
            raise make_error(
                "AUTHENTICATION_FAILED",
                "The SAML response was already presented to the Host and no session token "
                "came back; obtain a new SAML response from the identity provider and create a "
                "new client with it.",
                correlation_id=cid,
                remediation_steps=_RENEW_STEPS,
            )
        self._exchanging = True
        return Presentation((("authorization", f"SAML {self._response}"),), exchange=True)

    def _timed_out(self, cid: str) -> AespClientError:
        return make_error(
            "NETWORK_TIMEOUT",
            "The Host did not answer this client's SAML login in time, so the call was not sent.",
            correlation_id=cid,
        )

    def present(self, cid: str, timeout_s: float) -> Presentation:
        """The header for a blocking RPC, waiting up to ``timeout_s`` for an exchange.

        Raises:
            AespClientError: ``AUTHENTICATION_FAILED`` when the token expired or the response
                is spent without a token; ``NETWORK_TIMEOUT`` when the exchange takes too long.
        """
        with self._changed:
            presentation = self._claim(cid)
            if presentation is None and self._changed.wait_for(
                lambda: not self._exchanging, timeout=timeout_s
            ):
                presentation = self._claim(cid)
            if presentation is None:
                raise self._timed_out(cid)
            return presentation

    async def present_async(self, cid: str, timeout_s: float) -> Presentation:
        """The header for an asyncio RPC; as :meth:`present`, without blocking the loop."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while True:
            with self._changed:
                presentation = self._claim(cid)
                if presentation is not None:
                    return presentation
                waiter: asyncio.Future[None] = loop.create_future()
                self._waiters.append((loop, waiter))
            try:
                await asyncio.wait_for(waiter, max(0.0, deadline - loop.time()))
            except TimeoutError:
                raise self._timed_out(cid) from None

    def settle(
        self,
        presentation: Presentation,
        metadata: Sequence[tuple[str, str | bytes]] | None,
        *,
        reached_host: bool,
    ) -> None:
        """Record the outcome of an RPC: a session token in ``metadata`` is kept.

        Args:
            presentation: What the RPC sent.
            metadata: The response's initial metadata (None if none arrived).
            reached_host: Whether the Host may have seen the request; if it did and sent no
                token, the SAML response is spent (presenting it again would be a replay).
        """
        token = _value(metadata, SESSION_TOKEN_HEADER)
        expires = _value(metadata, SESSION_TOKEN_EXPIRES_HEADER)
        with self._changed:
            if token and expires.isdigit() and int(expires) >= self._expires_at_ms:
                self._token, self._expires_at_ms = token, int(expires)
                self._response = None  # never needed again; do not keep the assertion around
            if presentation.exchange:
                self._exchanging = False
                if not self._token and reached_host:
                    self._response = None
            self._changed.notify_all()
            waiters, self._waiters = self._waiters, []
        for loop, waiter in waiters:
            with contextlib.suppress(RuntimeError):  # that caller's loop is already closed
                loop.call_soon_threadsafe(_wake, waiter)

    def settle_error(self, presentation: Presentation, error: grpc.RpcError) -> None:
        """Record a failed RPC (``UNAVAILABLE``: the Host never saw it, so nothing is spent)."""
        code = getattr(error, "code", None)
        unreached = callable(code) and code() == grpc.StatusCode.UNAVAILABLE
        self.settle(presentation, initial_metadata_of(error), reached_host=not unreached)


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)
