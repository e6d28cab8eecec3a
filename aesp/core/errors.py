"""One exception hierarchy for the whole Host, with the error-code registry of SPEC §5 C-14.

Every refusal in aesp is an :class:`AespError` carrying a stable ``code`` (the ``EnterpriseError``
code a client sees), a sentence a person can act on, and optional remediation steps. The gRPC
edge maps it to the wire in exactly one place (``aesp/server/errors.py``).

Codes follow C-14: GRID's code where GRID has one, AESP's otherwise. Aliases from the source
documents are accepted on input (:func:`canonical_code`) and never emitted.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass


class Category(enum.IntEnum):
    """Error category; the numbers equal ``altar.grid.v1.ErrorCategory``."""

    AUTHORIZATION = 0
    VALIDATION = 1
    RUNTIME = 2
    TRANSPORT = 3
    CONFIGURATION = 4


@dataclass(frozen=True, slots=True)
class CodeInfo:
    """What the registry knows about one code."""

    code: str
    category: Category
    retry_allowed: bool


def _codes(category: Category, retry: bool, *codes: str) -> dict[str, CodeInfo]:
    return {c: CodeInfo(c, category, retry) for c in codes}


# The registry. retry_allowed follows GRID §6.1 / §2.8 (checklist 87, 107, 108).
REGISTRY: Mapping[str, CodeInfo] = {
    **_codes(
        Category.AUTHORIZATION,
        False,
        "PERMISSION_DENIED",
        "POLICY_VIOLATION",
        "POLICY_EVALUATION_FAILED",
        "POLICY_NOT_FOUND",
        "SECURITY_CLEARANCE_INSUFFICIENT",
        "DATA_CLASSIFICATION_MISMATCH",
        "TENANT_ACCESS_DENIED",
        "TENANT_SUSPENDED",
        "AUTHENTICATION_FAILED",
        "CERTIFICATE_INVALID",
        "ACCOUNT_LOCKED",
        "MFA_REQUIRED",
        "EMERGENCY_OVERRIDE_REQUIRED",
        "COMPLIANCE_VIOLATION",
        "SECURITY_THREAT_DETECTED",
        "SUSPICIOUS_ACTIVITY",
        "ENCRYPTION_REQUIRED",
    ),
    **_codes(
        Category.AUTHORIZATION,
        True,
        "INVALID_CREDENTIALS",
        "SESSION_EXPIRED",
        "RATE_LIMIT_EXCEEDED",
        "QUOTA_EXCEEDED",
        "AUDIT_REQUIREMENT_NOT_MET",
    ),
    **_codes(
        Category.VALIDATION,
        False,
        "SCHEMA_VIOLATION",
        "UNSUPPORTED_TOOL",
        "INVALID_SESSION",
        "MALFORMED_REQUEST",
        "VERSION_MISMATCH",
        "INVALID_STATE",
        "FEATURE_UNAVAILABLE",
        "PROTOCOL_VIOLATION",
        "NOT_FOUND",  # AESP extension: an admin request names an object its tenant lacks
    ),
    **_codes(
        Category.RUNTIME,
        True,
        "TOOL_EXECUTION_FAILED",
        "TIMEOUT",
        "RESOURCE_EXHAUSTED",
        "DEPENDENCY_UNAVAILABLE",
        "DATA_PROCESSING_ERROR",
        "RUNTIME_CRASH",
        "SERVICE_UNAVAILABLE",
        "RESOURCE_UNAVAILABLE",
        "INTERNAL_ERROR",
    ),
    **_codes(Category.TRANSPORT, False, "MESSAGE_TOO_LARGE"),
    **_codes(
        Category.TRANSPORT,
        True,
        "CONNECTION_FAILED",
        "NETWORK_TIMEOUT",
        "TLS_HANDSHAKE_FAILED",
        "SERIALIZATION_ERROR",
    ),
    **_codes(
        Category.CONFIGURATION,
        False,
        "INVALID_CONFIG",
        "MISSING_MANIFEST",
        "INCOMPATIBLE_MODE",
        "CERTIFICATE_ERROR",
        "ENVIRONMENT_ERROR",
        "CONFIGURATION_ERROR",
    ),
}

# Aliases from the source documents (C-14); accepted on input, never emitted.
ALIASES: Mapping[str, str] = {
    "SESSION_INVALID": "INVALID_SESSION",
    "TOOL_NOT_FOUND": "UNSUPPORTED_TOOL",
    "INVALID_TOOL_ARGS": "SCHEMA_VIOLATION",
    "AUTHORIZATION_DENIED": "PERMISSION_DENIED",
    "AUTHORIZATION_FAILED": "PERMISSION_DENIED",
    "INSUFFICIENT_SCOPE": "PERMISSION_DENIED",
    "INSUFFICIENT_PERMISSIONS": "PERMISSION_DENIED",
    "ROLE_REQUIRED": "PERMISSION_DENIED",
    "HOST_UNAVAILABLE": "SERVICE_UNAVAILABLE",
    "TRANSPORT_ERROR": "CONNECTION_FAILED",
}


def canonical_code(code: str) -> str:
    """Return the canonical form of ``code``, resolving the aliases of C-14."""
    return ALIASES.get(code, code)


class AespError(Exception):
    """Base of every refusal the Host reports to a caller.

    Args:
        code: A code of :data:`REGISTRY` (aliases are resolved).
        message: A sentence a person can act on. It reaches the caller, so it names no secrets.
        details: Machine-readable details (e.g. the failing argument path).
        retry_after_ms: Suggested delay; 0 means "do not retry".
        remediation_steps: Ordered steps that fix the problem.
        escalation_required: Whether a human must intervene.

    Raises:
        ValueError: ``code`` is not in the registry (a programming error, never a caller's).
    """

    def __init__(
        self,
        code: str,
        message: str,
        *,
        details: Mapping[str, str] | None = None,
        retry_after_ms: int = 0,
        remediation_steps: Sequence[str] = (),
        escalation_required: bool = False,
    ) -> None:
        code = canonical_code(code)
        info = REGISTRY.get(code)
        if info is None:
            raise ValueError(f"unknown error code {code!r}; add it to aesp.core.errors.REGISTRY")
        super().__init__(message)
        self.code = code
        self.info = info
        self.message = message
        self.details: dict[str, str] = dict(details or {})
        self.retry_after_ms = retry_after_ms
        self.remediation_steps = tuple(remediation_steps)
        self.escalation_required = escalation_required
        self.audited = False  # set once an audit event has recorded this refusal

    @property
    def retry_allowed(self) -> bool:
        """Whether retrying may succeed: the code's rule, or any explicit delay."""
        return self.info.retry_allowed or self.retry_after_ms > 0

    @property
    def category(self) -> Category:
        """The code's category."""
        return self.info.category

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code!r}, {self.message!r})"


class AuthenticationError(AespError):
    """The caller's credentials are missing, invalid or expired."""


class AuthorizationError(AespError):
    """The caller is known but not allowed (RBAC, policy, tenant, clearance, session owner)."""


class ValidationError(AespError):
    """The request is malformed or does not fit the Host's own contract."""


class ExecutionError(AespError):
    """The call was dispatched (or would have been) and failed in execution or routing."""


class ConfigurationError(AespError):
    """The Host's own configuration or manifest is unusable; start-up stops."""


class StateError(AespError):
    """The operation is not allowed in the current state (INVALID_STATE, PROTOCOL_VIOLATION)."""
