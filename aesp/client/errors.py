"""Typed client errors: every refusal becomes one exception, chosen by one table.

Why: callers must be able to catch a whole family (``except PermissionDenied``) without parsing
codes, and must still get everything the Host said (retry hint, remediation, correlation id,
tenant). The Host reports refusals in-band as an ``EnhancedError`` whose fields 23-27 carry the
``EnterpriseError`` fields (C-5); gRPC-level failures are turned into an ``EnhancedError`` by
``aesp.client._translate``; refusals made locally (open breaker, bad authorisation) build one
here. Every exception therefore wraps one ``EnhancedError`` and derives the rest from it.

:data:`FAMILY_OF_CODE` is the only code-to-class mapping. Aliases of C-14 are listed with their
canonical code so an older peer's code still lands in the right family.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any, Literal

from aesp.core.errors import REGISTRY, canonical_code
from aesp.core.ids import now_ms
from aesp.proto.altar.aesp.v1 import enterprise_pb2 as _enterprise_pb2
from aesp.proto.altar.grid.v1 import grid_pb2 as _grid_pb2

Origin = Literal["host", "runtime", "transport", "client"]

__all__ = [
    "FAMILY_OF_CODE",
    "AespClientError",
    "ApprovalRequired",
    "AuthenticationFailed",
    "AuthorizationExpired",
    "CallTimeout",
    "CircuitOpen",
    "ExecutionFailed",
    "HostError",
    "InvalidArguments",
    "InvalidAuthorization",
    "NetworkTimeout",
    "Origin",
    "PermissionDenied",
    "ProtocolError",
    "RateLimited",
    "SessionError",
    "TamperDetected",
    "ToolUnavailable",
    "TransportError",
    "build_enhanced_error",
    "error_for",
    "make_error",
    "to_enterprise_error",
]


class AespClientError(Exception):
    """Base of every error the Client SDK raises.

    Attributes:
        code: The error code (``EnterpriseError.code``), e.g. ``PERMISSION_DENIED``.
        message: A sentence a person can act on.
        details: Machine-readable details.
        correlation_id: The workflow's correlation id (``""`` if none is known).
        retry_after_ms: Suggested delay before retrying; 0 means "do not retry".
        retry_allowed: Whether retrying may succeed.
        remediation_steps: Ordered steps that fix the problem.
        tenant_id: The caller's tenant, when the Host reported it.
        principal_id: The caller's principal, when the Host reported it.
        origin: Who decided: ``host``/``runtime`` (in-band), ``transport`` (gRPC) or ``client``.
        enhanced_error: The full ``altar.grid.v1.EnhancedError``.
    """

    def __init__(self, error: _grid_pb2.EnhancedError, *, origin: Origin = "host") -> None:
        """Wrap ``error``.

        Args:
            error: The error as the Host sent it (or as the SDK built it); copied.
            origin: Who decided.
        """
        self.enhanced_error = _grid_pb2.EnhancedError()
        self.enhanced_error.CopyFrom(error)
        self.code = error.type
        self.message = error.message
        self.details: dict[str, str] = dict(error.details)
        self.correlation_id = error.correlation_id
        self.retry_after_ms = int(error.retry_after_ms)
        self.retry_allowed = bool(error.retry_allowed)
        self.remediation_steps: tuple[str, ...] = tuple(error.remediation_steps)
        self.tenant_id = error.tenant_id
        self.principal_id = error.principal_id
        self.origin: Origin = origin
        super().__init__(self._text())

    @property
    def enterprise_error(self) -> _enterprise_pb2.EnterpriseError:
        """The error as an ``altar.aesp.v1.EnterpriseError`` (C-5); a fresh message each time."""
        return to_enterprise_error(self.enhanced_error)

    def _text(self) -> str:
        text = f"{self.code}: {self.message}"
        return f"{text} (correlation id {self.correlation_id})" if self.correlation_id else text

    def __str__(self) -> str:
        """``CODE: message (correlation id X)``."""
        return self._text()

    def __repr__(self) -> str:
        """Class, code and message."""
        return f"{type(self).__name__}({self.code!r}, {self.message!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle through the wire form, so errors cross process boundaries intact."""
        return (_rebuild, (type(self), self.enhanced_error.SerializeToString(), self.origin))


def _rebuild(cls: type[AespClientError], data: bytes, origin: Origin) -> AespClientError:
    return cls(_grid_pb2.EnhancedError.FromString(data), origin=origin)


class AuthenticationFailed(AespClientError):
    """The client's credentials were refused (certificate, token, account state)."""


class PermissionDenied(AespClientError):
    """The caller is known but not allowed: RBAC, policy, tenant, clearance, session owner.

    Also raised when an authorisation is not APPROVED (DENIED or PENDING); execution must not
    proceed (F6 step 5).
    """


class ApprovalRequired(PermissionDenied):
    """The call is held until other people approve it (``EMERGENCY_OVERRIDE_REQUIRED``).

    A per-call approval request was opened (or the presented one is still PENDING): once an
    approver approves :attr:`approval_request_id`, repeat the *same* call (same tool and
    arguments) with ``approval_request_id=`` set; the approval admits that call once.
    """

    @property
    def approval_request_id(self) -> str:
        """The approval request that holds the call (``""`` when the Host named none)."""
        return self.details.get("approval_request_id", "")

    @property
    def approval_status(self) -> str:
        """The request's status when the call was held (``PENDING``), ``""`` if not reported."""
        return self.details.get("approval_status", "")


class InvalidArguments(AespClientError):
    """The request or its arguments do not fit the Host's contract (fix the call, no retry)."""


class SessionError(AespClientError):
    """The session is unknown, destroyed or expired; create a new session."""


class ToolUnavailable(AespClientError):
    """The tool cannot be called now: unknown, wrong call style, or no healthy service."""


class CircuitOpen(ToolUnavailable):
    """The client breaker is open: the call was refused locally without touching the network."""


class RateLimited(AespClientError):
    """A rate limit, quota or budget was exceeded; retry after ``retry_after_ms``."""


class CallTimeout(AespClientError):
    """The call did not finish in time (the Host's ``TIMEOUT`` or the client's deadline)."""


class TransportError(AespClientError):
    """The Host could not be reached or the connection failed (gRPC level)."""


class NetworkTimeout(CallTimeout, TransportError):
    """The client's gRPC deadline passed before the Host answered."""


class ExecutionFailed(AespClientError):
    """The tool was dispatched and failed outside its business logic (crash, resources)."""


class ProtocolError(AespClientError):
    """A message broke the protocol: an unknown or replayed invocation id, a bad sequence, or
    a response this SDK cannot accept."""


class InvalidAuthorization(ProtocolError):
    """An ``AuthorizeToolCallResponse`` claimed APPROVED without an invocation id or TTL (C-15)."""


class AuthorizationExpired(ProtocolError):
    """An authorisation's TTL ran out before execution; authorise again (item 117)."""


class TamperDetected(ProtocolError):
    """The authorisation is not bound to the call about to run (argument hash, tool, call id)."""


class HostError(AespClientError):
    """The Host failed internally or is misconfigured (including its audit log)."""


_FAMILIES: tuple[tuple[type[AespClientError], tuple[str, ...]], ...] = (
    (
        AuthenticationFailed,
        (
            "AUTHENTICATION_FAILED",
            "INVALID_CREDENTIALS",
            "CERTIFICATE_INVALID",
            "ACCOUNT_LOCKED",
            "MFA_REQUIRED",
        ),
    ),
    (
        PermissionDenied,
        (
            "PERMISSION_DENIED",
            "TENANT_ACCESS_DENIED",
            "TENANT_SUSPENDED",
            "POLICY_VIOLATION",
            "POLICY_EVALUATION_FAILED",
            "POLICY_NOT_FOUND",
            "SECURITY_CLEARANCE_INSUFFICIENT",
            "DATA_CLASSIFICATION_MISMATCH",
            "COMPLIANCE_VIOLATION",
            "SECURITY_THREAT_DETECTED",
            "SUSPICIOUS_ACTIVITY",
            "ENCRYPTION_REQUIRED",
            "AUTHORIZATION_DENIED",
            "AUTHORIZATION_FAILED",
            "INSUFFICIENT_SCOPE",
            "INSUFFICIENT_PERMISSIONS",
            "ROLE_REQUIRED",
        ),
    ),
    (ApprovalRequired, ("EMERGENCY_OVERRIDE_REQUIRED",)),
    (
        InvalidArguments,
        (
            "SCHEMA_VIOLATION",
            "INVALID_TOOL_ARGS",
            "MALFORMED_REQUEST",
            "MESSAGE_TOO_LARGE",
            "NOT_FOUND",
        ),
    ),
    (SessionError, ("INVALID_SESSION", "SESSION_INVALID", "SESSION_EXPIRED")),
    (
        ToolUnavailable,
        (
            "UNSUPPORTED_TOOL",
            "TOOL_NOT_FOUND",
            "FEATURE_UNAVAILABLE",
            "SERVICE_UNAVAILABLE",
            "RESOURCE_UNAVAILABLE",
        ),
    ),
    (RateLimited, ("RATE_LIMIT_EXCEEDED", "QUOTA_EXCEEDED")),
    (CallTimeout, ("TIMEOUT",)),
    (NetworkTimeout, ("NETWORK_TIMEOUT",)),
    (
        TransportError,
        (
            "CONNECTION_FAILED",
            "TLS_HANDSHAKE_FAILED",
            "HOST_UNAVAILABLE",
            "TRANSPORT_ERROR",
            "SERIALIZATION_ERROR",
        ),
    ),
    (
        ExecutionFailed,
        (
            "TOOL_EXECUTION_FAILED",
            "RESOURCE_EXHAUSTED",
            "DEPENDENCY_UNAVAILABLE",
            "DATA_PROCESSING_ERROR",
            "RUNTIME_CRASH",
            "LOCAL_EXECUTION_FAILED",
        ),
    ),
    (
        ProtocolError,
        ("PROTOCOL_VIOLATION", "INVALID_STATE", "VERSION_MISMATCH", "SECURITY_VIOLATION"),
    ),
    (
        HostError,
        (
            "INTERNAL_ERROR",
            "AUDIT_REQUIREMENT_NOT_MET",
            "INVALID_CONFIG",
            "MISSING_MANIFEST",
            "INCOMPATIBLE_MODE",
            "CERTIFICATE_ERROR",
            "ENVIRONMENT_ERROR",
            "CONFIGURATION_ERROR",
        ),
    ),
)

FAMILY_OF_CODE: Mapping[str, type[AespClientError]] = MappingProxyType(
    {code: cls for cls, codes in _FAMILIES for code in codes}
)
"""Error code (canonical or C-14 alias) -> exception class. Unknown codes raise the base."""


def error_for(error: _grid_pb2.EnhancedError, *, origin: Origin = "host") -> AespClientError:
    """The exception for an ``EnhancedError``, its class chosen by :data:`FAMILY_OF_CODE`.

    Args:
        error: The error.
        origin: Who decided.

    Returns:
        The exception (not raised).
    """
    return FAMILY_OF_CODE.get(error.type, AespClientError)(error, origin=origin)


def build_enhanced_error(
    code: str,
    message: str,
    *,
    correlation_id: str = "",
    details: Mapping[str, str] | None = None,
    retry_after_ms: int = 0,
    remediation_steps: Sequence[str] = (),
) -> _grid_pb2.EnhancedError:
    """The ``EnhancedError`` for an error the SDK decides itself (``component="client"``).

    Args:
        code: Error code.
        message: A sentence a person can act on.
        correlation_id: The workflow's correlation id.
        details: Machine-readable details.
        retry_after_ms: Suggested delay; 0 means "do not retry".
        remediation_steps: Ordered steps that fix the problem.

    Returns:
        The message, with ``retry_allowed`` from the code registry or a non-zero delay.
    """
    info = REGISTRY.get(canonical_code(code))
    return _grid_pb2.EnhancedError(
        type=code,
        message=message,
        details=dict(details or {}),
        correlation_id=correlation_id,
        timestamp=now_ms(),
        retry_allowed=(info.retry_allowed if info else False) or retry_after_ms > 0,
        retry_after_ms=retry_after_ms,
        remediation_steps=list(remediation_steps),
        component="client",
        severity=_grid_pb2.ERROR,
        category=info.category.name if info else "RUNTIME",
    )


def make_error(
    code: str,
    message: str,
    *,
    correlation_id: str = "",
    details: Mapping[str, str] | None = None,
    retry_after_ms: int = 0,
    remediation_steps: Sequence[str] = (),
    origin: Origin = "client",
) -> AespClientError:
    """Build an error decided by the SDK (or translated from a gRPC status), class by table.

    Args:
        code: Error code.
        message: A sentence a person can act on.
        correlation_id: The workflow's correlation id.
        details: Machine-readable details.
        retry_after_ms: Suggested delay; 0 means "do not retry".
        remediation_steps: Ordered steps that fix the problem.
        origin: ``client`` or ``transport``.

    Returns:
        The exception (not raised).
    """
    enhanced = build_enhanced_error(
        code,
        message,
        correlation_id=correlation_id,
        details=details,
        retry_after_ms=retry_after_ms,
        remediation_steps=remediation_steps,
    )
    return error_for(enhanced, origin=origin)


def to_enterprise_error(error: _grid_pb2.EnhancedError) -> _enterprise_pb2.EnterpriseError:
    """Convert at the boundary per C-5: ``type -> code`` and the AESP fields 23-27 across.

    Args:
        error: An ``EnhancedError``.

    Returns:
        The equivalent ``EnterpriseError``.
    """
    return _enterprise_pb2.EnterpriseError(
        code=error.type,
        message=error.message,
        details=dict(error.details),
        tenant_id=error.tenant_id,
        principal_id=error.principal_id,
        correlation_id=error.correlation_id,
        retry_after_ms=error.retry_after_ms,
        security_implications=list(error.security_implications),
        compliance_impact=list(error.compliance_impact),
        remediation_steps=list(error.remediation_steps),
        escalation_required=error.escalation_required,
    )
