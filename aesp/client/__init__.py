"""The aesp Client SDK: call a Host's tools, stream them, or run them locally under governance.

``AsyncClient`` (asyncio) and ``Client`` (blocking) expose the same methods over TLS 1.3,
authenticated by a client certificate, a bearer token (``token=``), an API key (``api_key=``)
or a SAML response (``saml_response=``, exchanged on the first call for a Host session token):
sessions, ``list_tools``, ``call`` (a business ERROR is a result, C-13), ``stream``, and governed
local dispatch (``authorize``, ``log_result``, ``run_locally``; F6). Every refusal raises a
subclass of :class:`AespClientError`; the client breaker (item 133) fails fast while the Host is
unreachable. :class:`AsyncGovernedLocal` / :class:`GovernedLocal` add execution modes (item 134).

Example::

    from aesp.client import Client
    from aesp.server.tls import load_pem

    ca, cert, key = (load_pem(f"pki/{name}") for name in ("ca.pem", "me.pem", "me.key"))
    with Client("host.example:7443", ca=ca, cert=cert, key=key) as client:
        session = client.create_session()
        result = client.call(session.session_id, "add", {"a": 1, "b": 2})
        if result.ok:
            print(result.content)
"""

from __future__ import annotations

from aesp.client.aio import AsyncClient
from aesp.client.audit_buffer import AuditRetryPolicy, PendingLog, RejectedLog
from aesp.client.breaker import BreakerState, ClientBreaker, ClientBreakerConfig
from aesp.client.errors import (
    AespClientError,
    AuthenticationFailed,
    AuthorizationExpired,
    CallTimeout,
    CircuitOpen,
    ExecutionFailed,
    HostError,
    InvalidArguments,
    InvalidAuthorization,
    NetworkTimeout,
    PermissionDenied,
    ProtocolError,
    RateLimited,
    SessionError,
    TamperDetected,
    ToolUnavailable,
    TransportError,
)
from aesp.client.governed import AsyncGovernedLocal, GovernedLocal
from aesp.client.log_sender import AsyncLogSender, LogSender
from aesp.client.models import (
    MISSING,
    Authorization,
    CallResult,
    LogReceipt,
    Session,
    ToolInfo,
)
from aesp.client.modes import ExecutionMode, ModePolicy
from aesp.client.sync import Client

__all__ = [
    "MISSING",
    "AespClientError",
    "AsyncClient",
    "AsyncGovernedLocal",
    "AsyncLogSender",
    "AuditRetryPolicy",
    "AuthenticationFailed",
    "Authorization",
    "AuthorizationExpired",
    "BreakerState",
    "CallResult",
    "CallTimeout",
    "CircuitOpen",
    "Client",
    "ClientBreaker",
    "ClientBreakerConfig",
    "ExecutionFailed",
    "ExecutionMode",
    "GovernedLocal",
    "HostError",
    "InvalidArguments",
    "InvalidAuthorization",
    "LogReceipt",
    "LogSender",
    "ModePolicy",
    "NetworkTimeout",
    "PendingLog",
    "PermissionDenied",
    "ProtocolError",
    "RateLimited",
    "RejectedLog",
    "Session",
    "SessionError",
    "TamperDetected",
    "ToolInfo",
    "ToolUnavailable",
    "TransportError",
]
