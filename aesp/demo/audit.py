"""What ``aesp demo`` reads from the Host's audit log: the Runtime taking a newly approved tool
on (while the Host runs), and step 8, the offline verification of the whole log, with a
tampered copy that must fail.
"""

from __future__ import annotations

import json
import shutil
import time
from typing import Any

from aesp.demo.setup import TOOL, Stage
from aesp.demo.stage import DemoFailed, aesp, expect, note, say

FULFIL_TIMEOUT_S = 10.0
POLL_S = 0.05


def _events(stage: Stage) -> list[dict[str, Any]]:
    """The events written so far; a line still being written is skipped, not misread."""
    if not stage.audit_log.exists():
        return []
    events = []
    for line in stage.audit_log.read_text().splitlines(keepends=True):
        if not line.endswith("\n"):
            break
        record = json.loads(line)
        if record.get("kind") == "leaf":
            events.append(record["event"])
    return events


def wait_for_fulfilment(stage: Stage) -> str:
    """Wait until the Host recorded that a Runtime fulfils the tool; that record, in words.

    After the approval the Host tells connected Runtimes on their work stream, and the Runtime
    answers with FulfillTools; a call before that would find no Runtime for the tool.
    """
    deadline = time.monotonic() + FULFIL_TIMEOUT_S
    while time.monotonic() < deadline:
        for event in _events(stage):
            if event["event_type"] == "CONTRACT_FULFILL" and TOOL in event["metadata"].get(
                "fulfilled", ""
            ).split(","):
                return (
                    f"audit {event['event_id']}: CONTRACT_FULFILL {TOOL} by "
                    f"{event['principal_id']} ({event['metadata'].get('runtime_id', '')})"
                )
        time.sleep(POLL_S)
    raise DemoFailed(f"no Runtime took {TOOL} on within {FULFIL_TIMEOUT_S:.0f} s")


def verify_audit(stage: Stage) -> None:
    """Verify the stopped Host's log with its public key, then a copy with one byte changed."""
    say(
        8,
        "An auditor verifies the audit log offline",
        """
        Every step above, refusals included, is an entry of a per-tenant hash chain whose
        checkpoints the Host signed with its Ed25519 key. Verifying needs the file and the
        public key only: no Host, no database, no trust in the operators.""",
    )
    log, key = stage.audit_log, stage.public_key
    checked = aesp(
        "audit", "verify", str(log), "--public-key", str(key), "--require-checkpointed",
        shown="audit verify data/audit.jsonl --public-key data/audit_signing.pub "
        "--require-checkpointed",
    )  # fmt: skip
    expect(checked.status == 0 and ": VALID (" in checked.out, "the audit log did not verify")
    note("Audit log OK: every entry is chained and covered by a signed checkpoint.")
    tampered = log.with_name("audit.tampered.jsonl")
    shutil.copy(log, tampered)
    text = tampered.read_text()
    at = text.index('"outcome":"DENIED"') + len('"outcome":"DEN')
    tampered.write_text(text[:at] + "1" + text[at + 1 :])  # DENIED -> DEN1ED: one byte
    note("Someone changes one byte of a copy ('DENIED' to 'DEN1ED', hiding a refusal):")
    forged = aesp(
        "audit", "verify", str(tampered), "--public-key", str(key),
        shown="audit verify data/audit.tampered.jsonl --public-key data/audit_signing.pub",
    )  # fmt: skip
    expect(
        forged.status == 1 and ": INVALID (" in forged.out and "altered" in forged.out,
        "the tampered copy was not caught",
    )
    note("Tampering detected, and the altered entry named.")
