"""gRPC failures -> typed client errors (the transport half of the error mapping).

Why: a call that never got an in-band answer has only a gRPC status and a details string. The
breaker (item 133) and the audit retry buffer (item 125) must tell "the Host is unreachable"
(``CONNECTION_FAILED``, ``TLS_HANDSHAKE_FAILED``, ``NETWORK_TIMEOUT``) from "the Host refused"
(``UNAUTHENTICATED`` and friends), so every status gets a GRID code here. When the Host ended an
RPC itself it names the exact code in the ``aesp-error-code`` trailer, which wins.
"""

from __future__ import annotations

import re
from types import MappingProxyType
from typing import Final

import grpc

from aesp.client.errors import AespClientError, make_error

ERROR_CODE_TRAILER: Final = "aesp-error-code"  # set by aesp.server.errors.abort
RECONNECT_HINT_MS: Final = 1000  # SPEC §2.10 exponential backoff: initial 1000 ms

_TLS_FAILURE: Final = re.compile(r"handshake|ssl|tls|certificate", re.IGNORECASE)

_CODE_OF_STATUS: Final = MappingProxyType(
    {
        grpc.StatusCode.UNAVAILABLE: "CONNECTION_FAILED",
        grpc.StatusCode.DEADLINE_EXCEEDED: "NETWORK_TIMEOUT",
        grpc.StatusCode.CANCELLED: "CONNECTION_FAILED",
        grpc.StatusCode.UNAUTHENTICATED: "AUTHENTICATION_FAILED",
        grpc.StatusCode.PERMISSION_DENIED: "PERMISSION_DENIED",
        grpc.StatusCode.INVALID_ARGUMENT: "MALFORMED_REQUEST",
        grpc.StatusCode.OUT_OF_RANGE: "MALFORMED_REQUEST",
        grpc.StatusCode.NOT_FOUND: "UNSUPPORTED_TOOL",
        grpc.StatusCode.RESOURCE_EXHAUSTED: "RESOURCE_EXHAUSTED",
        grpc.StatusCode.FAILED_PRECONDITION: "INVALID_STATE",
        grpc.StatusCode.ABORTED: "INVALID_STATE",
        grpc.StatusCode.UNIMPLEMENTED: "FEATURE_UNAVAILABLE",
        grpc.StatusCode.DATA_LOSS: "SERIALIZATION_ERROR",
    }
)

_REMEDIATION: Final = MappingProxyType(
    {
        "CONNECTION_FAILED": (
            "Check that the Host is running and that {target} is its client address.",
            "Retry with exponential backoff; the client breaker stops retries if it keeps failing.",
        ),
        "TLS_HANDSHAKE_FAILED": (
            "Check that `ca` is the CA that signed the Host's certificate.",
            "Check that `cert`/`key` are a client certificate issued by a CA the Host trusts.",
            "If you connect by IP or alias, pass `server_name` with the name in the Host's "
            "certificate.",
        ),
        "NETWORK_TIMEOUT": ("Retry later; if it persists, check the Host's load and network.",),
    }
)


def _status(exc: grpc.RpcError) -> tuple[grpc.StatusCode, str, str]:
    """(status, details, trailer code) of a sync or aio RPC error."""
    code_fn = getattr(exc, "code", None)
    details_fn = getattr(exc, "details", None)
    trailers_fn = getattr(exc, "trailing_metadata", None)
    status = code_fn() if callable(code_fn) else grpc.StatusCode.UNKNOWN
    details = (details_fn() if callable(details_fn) else "") or ""
    trailer = ""
    for key, value in (trailers_fn() if callable(trailers_fn) else None) or ():
        if key == ERROR_CODE_TRAILER:
            trailer = value if isinstance(value, str) else value.decode("ascii", "replace")
    return status or grpc.StatusCode.UNKNOWN, details, trailer


def from_rpc_error(exc: grpc.RpcError, *, correlation_id: str, target: str) -> AespClientError:
    """The typed error for a failed RPC.

    Args:
        exc: The ``grpc.RpcError`` (sync) or ``grpc.aio.AioRpcError``.
        correlation_id: The correlation id the SDK sent (the Host never answered with one).
        target: The Host address, for the message.

    Returns:
        The exception (not raised); ``origin`` is ``transport``.
    """
    status, details, trailer = _status(exc)
    code = trailer or _CODE_OF_STATUS.get(status, "INTERNAL_ERROR")
    if code == "CONNECTION_FAILED" and _TLS_FAILURE.search(details):
        code = "TLS_HANDSHAKE_FAILED"
    if code == "RESOURCE_EXHAUSTED" and "larger than max" in details.lower():
        code = "MESSAGE_TOO_LARGE"
    if code == "CONNECTION_FAILED":
        message = f"Could not reach the Host at {target}: {details or status.name}."
    elif code == "TLS_HANDSHAKE_FAILED":
        message = f"The TLS handshake with the Host at {target} failed: {details}."
    elif code == "NETWORK_TIMEOUT":
        message = f"The Host at {target} did not answer before the client's deadline."
    else:
        message = f"The Host at {target} ended the call with {status.name}: {details}."
    transient = code in ("CONNECTION_FAILED", "NETWORK_TIMEOUT")
    return make_error(
        code,
        message,
        correlation_id=correlation_id,
        details={"grpc_status": status.name},
        retry_after_ms=RECONNECT_HINT_MS if transient else 0,
        remediation_steps=[s.format(target=target) for s in _REMEDIATION.get(code, ())],
        origin="transport",
    )
