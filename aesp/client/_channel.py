"""Channel settings and per-RPC deadlines shared by the sync and async clients.

Why: both clients must present the same credentials (checked when the client is built, so a
wrong key fails at once rather than on the first call) and use the same deadlines. A client
authenticates with a client certificate (mutual TLS), a bearer token or an API key (SPEC C-30);
a token or key travels as per-call metadata composed with the TLS channel, which grpc only
sends over a secure channel. Deadlines
follow SPEC §2.10's client retry policy: 30 s for authorisation and the other unary calls, 10 s
for an audit log; a call waits for the Host's own timeout plus a grace period, so the Host's
``TIMEOUT`` (with its remediation) normally arrives before the client gives up.
"""

from __future__ import annotations

from typing import Any, Final

import grpc

from aesp.server.tls import channel_credentials

RPC_TIMEOUT_S: Final = 30.0  # SPEC §2.10 authorization_timeout_ms
AUDIT_TIMEOUT_S: Final = 10.0  # SPEC §2.10 audit_timeout_ms
HOST_DEFAULT_CALL_TIMEOUT_MS: Final = 30_000  # a Host applies this when timeout_ms is 0 (C-45)
CALL_GRACE_S: Final = 5.0  # lets the Host's TIMEOUT answer arrive before our deadline


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
) -> grpc.ChannelCredentials:
    """TLS channel credentials with the client's one way of authenticating.

    Args:
        ca: PEM of the CA that signed the Host's certificate.
        cert: PEM of a client certificate (with ``key``), for mutual TLS.
        key: PEM of its private key.
        token: A bearer token (OIDC access token), sent as ``authorization: Bearer``.
        api_key: A service account's API key, sent as ``authorization: ApiKey``.

    Raises:
        ValueError: If a PEM is malformed, the key does not belong to the certificate, only one
            of ``cert``/``key`` is given, both ``token`` and ``api_key`` are, or none of the
            three ways is.
    """
    if token is not None and api_key is not None:
        raise ValueError("pass at most one of token and api_key")
    if cert is None and key is None and token is None and api_key is None:
        raise ValueError(
            "pass cert and key, a token or an api_key (the Host admits no anonymous caller)"
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


def options(server_name: str | None) -> list[tuple[str, Any]]:
    """Channel options; ``server_name`` overrides the name checked in the Host's certificate."""
    return [("grpc.ssl_target_name_override", server_name)] if server_name else []


def call_deadline_s(timeout_ms: int) -> float:
    """The gRPC deadline of a call that asked the Host for ``timeout_ms`` (0: Host default)."""
    return (timeout_ms if timeout_ms > 0 else HOST_DEFAULT_CALL_TIMEOUT_MS) / 1000 + CALL_GRACE_S
