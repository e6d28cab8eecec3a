"""Helpers for the audit tests: write small logs, and read them back independently.

The reading side re-derives every fact from the documented format (``aesp.core.audit_verify``
module docstring, ``aesp.core.audit_keys`` for the signed body) with the reference canonical
encoder and ``cryptography`` directly, never through the code under test.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from aesp.adm import canonical_json
from aesp.core.audit import AuditEvent, FileAuditLog

HOUR_MS = 3_600_000  # an interval no test waits for: checkpoints come from counts or close


def event(n: int, tenant: str = "acme", **fields: Any) -> AuditEvent:
    """Event ``n`` with a fixed id and time, so files are reproducible."""
    return AuditEvent(
        event_type="TOOL_INVOCATION_START",
        outcome="SUCCESS",
        action="invoke",
        tenant_id=tenant,
        principal_id=f"user-{n % 3}",
        correlation_id=f"c-{n}",
        event_id=f"evt-{n:04d}",
        timestamp_ms=1_700_000_000_000 + n,
        **fields,
    )


async def write_log(
    path: Path, events: list[AuditEvent], *, every: int = 4, interval_ms: int = HOUR_MS
) -> FileAuditLog:
    """Append ``events`` one durable append at a time (one batch each), then close."""
    log = FileAuditLog(path, checkpoint_every=every, checkpoint_interval_ms=interval_ms)
    for item in events:
        await log.append(item, durable=True)
    await log.close()
    return log


def records(path: Path) -> list[dict[str, Any]]:
    """Every record of the file, in order."""
    return [json.loads(line) for line in path.read_bytes().splitlines()]


def leaf_hash_of(event_json: dict[str, Any]) -> str:
    """C-35: SHA-256(0x00 || canonical JSON of the event without ``hash``), by the reference."""
    body = {k: v for k, v in event_json.items() if k != "hash"}
    return hashlib.sha256(b"\x00" + canonical_json(body)).hexdigest()


def leaf_hashes(path: Path, tenant: str) -> list[bytes]:
    """The tenant's leaf hashes as recomputed from the events (not as recorded)."""
    return [
        bytes.fromhex(leaf_hash_of(r["event"]))
        for r in records(path)
        if r["kind"] == "leaf" and r["tenant"] == tenant
    ]


def public_key(directory: Path) -> Ed25519PublicKey:
    """The published public key beside the log."""
    key = serialization.load_pem_public_key((directory / "audit_signing.pub").read_bytes())
    assert isinstance(key, Ed25519PublicKey)
    return key


def signature_valid(key: Ed25519PublicKey, checkpoint: dict[str, Any]) -> bool:
    """Check a checkpoint record against the documented text body, with cryptography alone."""
    body = (
        f"aesp-audit-checkpoint/v1\n{checkpoint['origin']}\n{checkpoint['size']}\n"
        f"{checkpoint['root']}\n{checkpoint['timestamp_ms']}\n"
    ).encode()
    try:
        key.verify(base64.b64decode(checkpoint["signature"]), body)
    except Exception:
        return False
    return True
