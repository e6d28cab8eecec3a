"""Core types that cross between the gRPC edge and the Host core.

Protobuf messages never enter the core (STYLE convention 3); servicers convert at the edge.
ADM payloads stay as the canonical JSON bytes they arrived in, so a call's arguments reach the
Runtime byte-for-byte as the client sent them (item 92) and are never re-encoded per call.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class CallRequest:
    """A client's call: the ADM FunctionCall plus routing fields.

    Attributes:
        session_id: Session named by the client.
        call_id: ADM call id (idempotency key with the session, C-44).
        name: Function (contract) name.
        args_json: The arguments exactly as received (canonical JSON object bytes).
        correlation_id: Accepted or generated correlation id.
        timeout_ms: Requested timeout (0 = Host default).
        metadata: Free-form request metadata.
    """

    session_id: str
    call_id: str
    name: str
    args_json: bytes
    correlation_id: str
    timeout_ms: int = 0
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Dispatch:
    """Host -> Runtime: execute this call."""

    invocation_id: str
    correlation_id: str
    session_id: str
    call_id: str
    name: str
    args_json: bytes
    timeout_ms: int


@dataclass(frozen=True, slots=True)
class Cancel:
    """Host -> Runtime: stop this invocation (C-45, C-46)."""

    invocation_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class ContractsChanged:
    """Host -> Runtime: the contracts it may fulfil changed (C-10)."""

    available_contracts: tuple[str, ...]
    manifest_version: int


@dataclass(frozen=True, slots=True)
class HeartbeatEcho:
    """Host -> Runtime: answer to a heartbeat, with the Host's clock."""

    timestamp_ms: int


@dataclass(frozen=True, slots=True)
class RuntimeResult:
    """Runtime -> Host: the ADM ToolResult of a dispatch.

    ``status`` is the ADM status name ("SUCCESS"/"ERROR"; anything else is invalid ADM).
    ``content_json`` is None when content is absent (distinct from the JSON ``null``).
    """

    invocation_id: str
    correlation_id: str
    call_id: str
    name: str
    status: str
    content_json: bytes | None
    error_message: str = ""
    error_type: str = ""


@dataclass(frozen=True, slots=True)
class RuntimeChunk:
    """Runtime -> Host, or Host -> Client: one chunk of a streaming call (C-12)."""

    invocation_id: str
    chunk_id: int
    payload: bytes
    is_final: bool
    correlation_id: str = ""
    error_code: str = ""
    error_message: str = ""


@dataclass(frozen=True, slots=True)
class CallOutcome:
    """What a successful (dispatched and validated) call returns to the edge."""

    invocation_id: str
    correlation_id: str
    result: RuntimeResult
    contract_digest: str = ""


@dataclass(frozen=True, slots=True)
class Authorization:
    """A governed local dispatch authorization (SPEC §2.12, C-27): single-use, expiring, bound."""

    invocation_id: str
    session_id: str
    principal_id: str
    tenant_id: str
    call_id: str
    name: str
    args_digest: str
    contract_digest: str
    correlation_id: str
    issued_at_ms: int
    expires_at_ms: int
    log_deadline_ms: int


@dataclass(frozen=True, slots=True)
class Announcement:
    """An EnterpriseRuntimeAnnouncement as the core needs it."""

    runtime_id: str
    language: str = ""
    version: str = ""
    capabilities: tuple[str, ...] = ()
    declared_contracts: tuple[str, ...] = ()
    compliance_level: int = 0
    optional_features: tuple[str, ...] = ()
    claimed_spiffe_id: str = ""
    claimed_fingerprint: str = ""
    claimed_tenant: str = ""
    correlation_id: str = ""
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Disconnect:
    """Host -> edge: close this Runtime's work stream (missed heartbeats, Host shutdown)."""

    reason: str


OutboundMessage = Dispatch | Cancel | ContractsChanged | HeartbeatEcho | Disconnect
