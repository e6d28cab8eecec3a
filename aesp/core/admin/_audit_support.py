"""Machinery of :mod:`aesp.core.admin.audit`: requests, validation, export formats, log scans.

Everything here is pure or reads the log file in the calling thread; the admin runs the file
work in a worker thread so the event loop never waits for the disk.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from aesp.core.audit import OUTCOMES, AuditEvent
from aesp.core.audit_export import CSV_COLUMNS, records
from aesp.core.audit_export import _cell as csv_cell  # the one CSV-injection guard
from aesp.core.audit_keys import key_id
from aesp.core.audit_verify import Scanner
from aesp.core.errors import ValidationError
from aesp.core.ports.audit import AuditFilter

__all__ = [
    "CHUNK_BYTES",
    "EventDraft",
    "EventQuery",
    "cef_line",
    "chunked",
    "csv_lines",
    "find_leaf",
    "malformed",
    "verify_tenant",
]

CHUNK_BYTES: Final = 64 * 1024  # bytes per ExportAuditLogs message; bounds one message
MAX_TEXT: Final = 1024  # characters of one logged string field
MAX_METADATA: Final = 64  # entries of a logged event's metadata
MAX_LIST: Final = 64  # entries of a logged event's lists
FILTER_KEYS: Final = ("outcome", "session_id", "correlation_id")  # QueryEvents.filters keys
FORMATS: Final = ("JSON", "CSV", "CEF")


def malformed(message: str, field_name: str) -> ValidationError:
    """``MALFORMED_REQUEST`` naming the offending field."""
    return ValidationError("MALFORMED_REQUEST", message, details={"field": field_name})


@dataclass(frozen=True, slots=True)
class EventQuery:
    """A ``QueryEventsRequest`` in core terms (0 / empty = no bound)."""

    tenant_id: str = ""
    start_ms: int = 0
    end_ms: int = 0
    event_types: tuple[str, ...] = ()
    principal_id: str = ""
    filters: Mapping[str, str] = field(default_factory=dict)
    limit: int = 0
    cursor: str = ""

    def to_filter(self, tenant: str | None) -> AuditFilter:
        """The port filter for the resolved ``tenant`` (None = every tenant).

        Raises:
            ValidationError: ``MALFORMED_REQUEST`` for an unknown ``filters`` key.
        """
        unknown = sorted(set(self.filters) - set(FILTER_KEYS))
        if unknown:
            raise malformed(
                f"filters key '{unknown[0][:64]}' is not one of {', '.join(FILTER_KEYS)}.",
                "filters",
            )
        return AuditFilter(
            tenant_id=tenant,
            start_ms=self.start_ms or None,
            end_ms=self.end_ms or None,
            event_types=self.event_types,
            principal_id=self.principal_id or None,
            session_id=self.filters.get("session_id") or None,
            correlation_id=self.filters.get("correlation_id") or None,
            outcome=self.filters.get("outcome") or None,
        )

    @property
    def selects_part(self) -> bool:
        """Whether anything but the tenant narrows the selection."""
        return bool(
            self.start_ms
            or self.end_ms
            or self.event_types
            or self.principal_id
            or any(self.filters.values())
        )


@dataclass(frozen=True, slots=True)
class EventDraft:
    """The caller's part of a ``LogEvent``; who, which tenant, when and the id are the Host's."""

    event_type: str
    outcome: str
    action: str
    session_id: str = ""
    resource: str = ""
    source_ip: str = ""
    user_agent: str = ""
    metadata: Mapping[str, str] = field(default_factory=dict)
    risk_score: str = ""
    policy_violations: tuple[str, ...] = ()
    correlation_id: str = ""
    trace_id: str = ""
    organization_id: str = ""
    applied_policies: tuple[str, ...] = ()
    client_event_id: str = ""
    client_timestamp_ms: int = 0

    def check(self) -> None:
        """Reject what the log must not hold.

        Raises:
            ValidationError: ``MALFORMED_REQUEST`` naming the field.
        """
        if not self.event_type or not self.event_type.isascii() or len(self.event_type) > 128:
            raise malformed("event.event_type must be 1-128 ASCII characters.", "event_type")
        if self.outcome not in OUTCOMES:
            raise malformed(f"event.outcome must be one of {', '.join(OUTCOMES)}.", "outcome")
        if not self.action:
            raise malformed("event.action is required.", "action")
        texts = (self.action, self.session_id, self.resource, self.source_ip, self.user_agent)
        texts += (self.risk_score, self.correlation_id, self.trace_id, self.organization_id)
        texts += (*self.metadata.keys(), *self.metadata.values(), self.client_event_id)
        if any(len(t) > MAX_TEXT for t in (*texts, *self.policy_violations)):
            raise malformed(f"event strings are limited to {MAX_TEXT} characters.", "event")
        if len(self.metadata) > MAX_METADATA:
            raise malformed(f"event.metadata holds at most {MAX_METADATA} entries.", "metadata")
        if max(len(self.policy_violations), len(self.applied_policies)) > MAX_LIST:
            raise malformed(f"event lists hold at most {MAX_LIST} entries.", "event")
        if self.risk_score and not _unit_float(self.risk_score):
            raise malformed("event.risk_score must be a decimal in [0, 1] (C-34).", "risk_score")


def _unit_float(text: str) -> bool:
    try:
        return 0.0 <= float(text) <= 1.0
    except ValueError:
        return False


# ---------------------------------------------------------------- log file scans


def find_leaf(path: Path, tenant: str, event_id: str) -> tuple[int, str] | None:
    """(leaf index, hex leaf hash) of ``event_id`` in ``tenant``'s tree; None if absent.

    A linear scan of the tenant's complete lines (decision 87: the index keeps no positions).
    """
    for _, record in records(path, tenant):
        if record.get("kind") == "leaf" and record["event"].get("event_id") == event_id:
            return int(record["index"]), str(record["event"]["hash"])
    return None


def verify_tenant(path: Path, tenant: str, public_key: Ed25519PublicKey) -> tuple[bool, str]:
    """Re-check ``tenant``'s hash chain, tree and checkpoint signatures: (valid, problem)."""
    scanner = Scanner({key_id(public_key): public_key})
    bad = scanner.scan(raw for raw, _ in records(path, tenant))
    if bad is None:
        bad = scanner.finish(require_covered=False)
    return (bad is None, "" if bad is None else str(bad))


def json_lines(path: Path, tenant: str) -> Iterator[bytes]:
    """The tenant's leaf and checkpoint lines, unchanged (verifiable with ``aesp audit``)."""
    for raw, _ in records(path, tenant):
        yield raw


# ---------------------------------------------------------------- formats


def csv_lines(rows: Iterable[tuple[int | None, AuditEvent]]) -> Iterator[bytes]:
    """CSV of ``(leaf index or None, event)``, header first, with the columns of decision 75."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for index, event in rows:
        row = {**event.to_json(), "tenant": event.tenant_id, "index": index}
        writer.writerow([csv_cell(name, row.get(name)) for name in CSV_COLUMNS])
        yield buffer.getvalue().encode()
        buffer.seek(0)
        buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue().encode()


_CEF_SEVERITY: Final = {"SUCCESS": 3, "FAILURE": 6, "ERROR": 6, "DENIED": 8}


def cef_line(event: AuditEvent) -> bytes:
    """One ArcSight CEF:0 line (the SIEM format of item 192), with CEF escaping."""
    header = "|".join(
        _cef_header(v)
        for v in (
            "CEF:0",
            "altar",
            "aesp",
            "1.0",
            event.event_type,
            event.action,
            str(_CEF_SEVERITY.get(event.outcome, 5)),
        )
    )
    ext = {
        "rt": str(event.timestamp_ms),
        "externalId": event.event_id,
        "suser": event.principal_id,
        "cs1Label": "tenant",
        "cs1": event.tenant_id,
        "outcome": event.outcome,
        "request": event.resource,
        "src": event.source_ip,
        "cs2Label": "correlation_id",
        "cs2": event.correlation_id,
        "cs3Label": "session_id",
        "cs3": event.session_id,
        "cs4Label": "hash",
        "cs4": event.hash,
    }
    body = " ".join(f"{k}={_cef_value(v)}" for k, v in ext.items() if v)
    return f"{header}|{body}\n".encode()


def _cef_header(value: str) -> str:
    return value.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").replace("\r", " ")


def _cef_value(value: str) -> str:
    text = value.replace("\\", "\\\\").replace("=", "\\=")
    return text.replace("\r", "\\r").replace("\n", "\\n")


def event_line(event: AuditEvent) -> bytes:
    """One event as a JSON line (a log without a file has no verifiable records)."""
    return json.dumps(event.to_json(), sort_keys=True, ensure_ascii=False).encode() + b"\n"


def chunked(parts: Iterable[bytes], size: int = CHUNK_BYTES) -> Iterator[bytes]:
    """``parts`` regrouped into chunks of about ``size`` bytes (never an empty chunk)."""
    pending: list[bytes] = []
    held = 0
    for part in parts:
        pending.append(part)
        held += len(part)
        if held >= size:
            yield b"".join(pending)
            pending, held = [], 0
    if pending:
        yield b"".join(pending)
