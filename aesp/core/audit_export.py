"""Export the audit log: verifiable JSON lines, or CSV for spreadsheets (checklist 192).

JSON export copies the log's own lines, unchanged, for one tenant or all of them. Each
tenant's tree is independent, so one tenant's leaves and checkpoints verify on their own
(``aesp audit verify``) and an export never shows a tenant another tenant's events.

CSV export flattens each event into one row (checkpoints are left out). It is for people, not
for verification: lists and ``metadata`` are JSON text in their cell, and a cell that a
spreadsheet would run as a formula (starting with ``= + - @`` or a tab/CR) gets a leading
``'``, the usual guard against CSV injection, because audit fields carry caller-chosen text.

Both stream: memory stays flat whatever the log's size. The log file may be live; only
complete lines are exported, so a line the Host is writing at that moment is left for the
next export.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

__all__ = ["CSV_COLUMNS", "export_csv", "export_json", "read_events", "records"]

CSV_COLUMNS = (
    "tenant",
    "index",
    "event_id",
    "timestamp_ms",
    "event_type",
    "outcome",
    "action",
    "principal_id",
    "tenant_id",
    "session_id",
    "resource",
    "source_ip",
    "user_agent",
    "risk_score",
    "correlation_id",
    "trace_id",
    "organization_id",
    "applied_policies",
    "policy_violations",
    "metadata",
    "prev_hash",
    "hash",
)
_JSON_CELLS = frozenset({"applied_policies", "policy_violations", "metadata"})
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def records(path: Path, tenant: str | None = None) -> Iterator[tuple[bytes, dict[str, Any]]]:
    """Each complete line of the log with its parsed record, optionally of one tenant.

    Args:
        path: The log file.
        tenant: Only this tenant's records (``""`` = system events); None = every tenant.

    Raises:
        OSError: The file cannot be read.
        ValueError: A complete line is not JSON (the log is damaged; verify it).
    """
    with path.open("rb") as handle:
        for raw in handle:
            if not raw.endswith(b"\n"):
                return  # being written right now, or torn by a crash: not part of the log yet
            record = json.loads(raw)
            if tenant is None or record.get("tenant") == tenant:
                yield raw, record


def read_events(path: Path, tenant: str | None = None) -> Iterator[dict[str, Any]]:
    """The events of the leaf records, in log order (for scripts such as ``aesp demo``)."""
    for _, record in records(path, tenant):
        if record.get("kind") == "leaf":
            yield record["event"]


def export_json(path: Path, out: IO[bytes], tenant: str | None = None) -> int:
    """Copy the log's lines (leaves and checkpoints) to ``out``, unchanged; return how many."""
    count = 0
    for raw, _ in records(path, tenant):
        out.write(raw)
        count += 1
    return count


def export_csv(path: Path, out: IO[str], tenant: str | None = None) -> int:
    """Write one CSV row per event, header first; return how many events.

    ``out`` should be opened with ``newline=""`` (the csv module writes its own line ends).
    """
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    count = 0
    for _, record in records(path, tenant):
        if record.get("kind") != "leaf":
            continue
        row = {**record["event"], "tenant": record["tenant"], "index": record["index"]}
        writer.writerow([_cell(name, row.get(name)) for name in CSV_COLUMNS])
        count += 1
    return count


def _cell(name: str, value: object) -> str:
    if value is None:
        return ""
    if name in _JSON_CELLS:
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text
