"""Channel settings and per-RPC deadlines shared by the sync and async clients.

Why: both clients must present the same mutual-TLS credentials (checked when the client is built,
so a wrong key fails at once rather than on the first call) and use the same deadlines. Deadlines
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


def credentials(ca: bytes, cert: bytes, key: bytes) -> grpc.ChannelCredentials:
    """Mutual-TLS channel credentials.

    Raises:
        ValueError: If an argument is not PEM or the key does not belong to the certificate.
    """
    return channel_credentials(ca, cert, key)


def options(server_name: str | None) -> list[tuple[str, Any]]:
    """Channel options; ``server_name`` overrides the name checked in the Host's certificate."""
    return [("grpc.ssl_target_name_override", server_name)] if server_name else []


def call_deadline_s(timeout_ms: int) -> float:
    """The gRPC deadline of a call that asked the Host for ``timeout_ms`` (0: Host default)."""
    return (timeout_ms if timeout_ms > 0 else HOST_DEFAULT_CALL_TIMEOUT_MS) / 1000 + CALL_GRACE_S
