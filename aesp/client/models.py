"""The plain values the Client SDK returns: sessions, tools, call results, authorisations.

Why: callers should never handle protobuf messages. Every RPC answer is converted once (in
``aesp.client._wire``) into one of these frozen dataclasses, so the sync and async clients return
identical types and tests can compare them directly.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from aesp.adm import MISSING, MissingType

__all__ = [
    "MISSING",
    "Authorization",
    "CallResult",
    "LogReceipt",
    "MissingType",
    "Session",
    "ToolInfo",
]

_EMPTY: Mapping[str, str] = MappingProxyType({})


@dataclass(frozen=True)
class Session:
    """A session the Host created for this client (F3).

    Attributes:
        session_id: The id the Host assigned (it may differ from any suggestion).
        expires_at_ms: Effective expiry, Unix milliseconds.
    """

    session_id: str
    expires_at_ms: int


@dataclass(frozen=True)
class ToolInfo:
    """One tool the caller may call in a session, from the Host's own contract.

    Attributes:
        name: Function name.
        version: The contract's SemVer.
        description: Human description.
        parameters: The ADM root OBJECT Schema of the arguments.
        supports_streaming: Whether the tool must be called with ``stream``.
        classification: Security classification (PUBLIC, INTERNAL, CONFIDENTIAL, RESTRICTED).
        digest: ``sha256:<hex>`` digest of the contract's canonical JSON.
    """

    name: str
    version: str
    description: str
    parameters: Mapping[str, Any]
    supports_streaming: bool
    classification: str
    digest: str


@dataclass(frozen=True)
class CallResult:
    """The ADM result of one call (C-13: a business-logic ERROR is a result, not an exception).

    Attributes:
        status: ``"SUCCESS"`` or ``"ERROR"``.
        content: The parsed JSON content for SUCCESS (``None`` is JSON null);
            :data:`MISSING` for ERROR.
        error_message: The ErrorObject message for ERROR, else ``""``.
        error_type: The ErrorObject type for ERROR (may be ``""``), else ``""``.
        call_id: The ADM call id.
        name: The function name.
        invocation_id: The Host's invocation id (the authorisation's for governed local
            execution; ``""`` for ungoverned local execution).
        correlation_id: The workflow's correlation id, as echoed by the Host.
        executed_locally: True when the tool ran in this process (governed or not).
    """

    status: Literal["SUCCESS", "ERROR"]
    content: Any
    error_message: str
    error_type: str
    call_id: str
    name: str
    invocation_id: str
    correlation_id: str
    executed_locally: bool = False

    @property
    def ok(self) -> bool:
        """True for a SUCCESS result."""
        return self.status == "SUCCESS"

    def to_json(self) -> dict[str, Any]:
        """The ADM ToolResult JSON (``content`` only for SUCCESS, ``error`` only for ERROR),
        plus ``invocation_id``, ``correlation_id`` and ``executed_locally``.

        Returns:
            A fresh dict.
        """
        out: dict[str, Any] = {"call_id": self.call_id, "name": self.name, "status": self.status}
        if self.status == "SUCCESS":
            out["content"] = None if self.content is MISSING else self.content
        else:
            error: dict[str, str] = {"message": self.error_message}
            if self.error_type:
                error["type"] = self.error_type
            out["error"] = error
        out.update(
            invocation_id=self.invocation_id,
            correlation_id=self.correlation_id,
            executed_locally=self.executed_locally,
        )
        return out


@dataclass(frozen=True)
class Authorization:
    """An APPROVED governed-local authorisation (F6 step 4), checked per C-15.

    It allows exactly one execution of exactly this call (tool, call id and arguments) before
    ``expires_at`` on the client's monotonic clock.

    Attributes:
        session_id: The session it was issued for.
        invocation_id: The Host's single-use id linking execution to the authorisation.
        correlation_id: The workflow's correlation id, as echoed by the Host.
        call_id: The authorised ADM call id.
        name: The authorised function name.
        args: The authorised arguments.
        ttl_ms: ``authorization_ttl_ms`` as the Host sent it.
        expires_at: ``time.monotonic()`` value after which it must not be used (item 117).
        execution_context: The Host's execution context (``args_sha256``, ``contract_digest``,
            ``expires_at_ms``).
    """

    session_id: str
    invocation_id: str
    correlation_id: str
    call_id: str
    name: str
    args: Mapping[str, Any]
    ttl_ms: int
    expires_at: float
    execution_context: Mapping[str, str] = field(default_factory=lambda: _EMPTY)

    @property
    def args_sha256(self) -> str:
        """The argument hash the Host bound the authorisation to (``""`` if it sent none)."""
        return self.execution_context.get("args_sha256", "")

    def remaining_ms(self, now: float) -> int:
        """Milliseconds of validity left at monotonic time ``now`` (0 once expired)."""
        return max(0, int((self.expires_at - now) * 1000))

    def expired(self, now: float) -> bool:
        """Whether the authorisation may no longer be used at monotonic time ``now``."""
        return now >= self.expires_at


@dataclass(frozen=True)
class LogReceipt:
    """The Host's acknowledgement (``LOGGED``) of a governed local execution.

    Attributes:
        invocation_id: The logged invocation.
        correlation_id: The correlation id the Host echoed.
    """

    invocation_id: str
    correlation_id: str
