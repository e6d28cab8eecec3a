"""Restarting on a log a crash left behind: a torn last line is cut and reported, anything
else wrong stops the log from opening (fail closed, C-36)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _logfiles import HOUR_MS, event, public_key, records, signature_valid, write_log

from aesp.core.audit import FileAuditLog
from aesp.core.audit_keys import load_public_key
from aesp.core.audit_verify import verify_file
from aesp.core.errors import AespError


def _open(log_path: Path) -> FileAuditLog:
    return FileAuditLog(log_path, checkpoint_every=4, checkpoint_interval_ms=HOUR_MS)


def _verify(log_path: Path) -> str | None:
    report = verify_file(log_path, [load_public_key(log_path.parent / "audit_signing.pub")])
    return None if report.bad is None else str(report.bad)


@pytest.mark.parametrize("keep", [1, 40, -1])
async def test_a_torn_last_line_is_cut_reported_and_the_tail_signed(
    tmp_path: Path, keep: int
) -> None:
    log_path = tmp_path / "audit.jsonl"
    await write_log(log_path, [event(n) for n in range(6)], every=4)
    lines = log_path.read_bytes().splitlines(keepends=True)
    # Crash while writing leaf 5: leaves 0-4 and the checkpoint at 4 are whole, leaf 5 is not.
    intact = b"".join(lines[:6])
    log_path.write_bytes(intact + lines[6][:keep])
    assert _verify(log_path) == "line 7: the line is incomplete (no newline): the file was cut"
    log = _open(log_path)
    assert log.repaired is not None and "line 7" in log.repaired
    assert log.size("acme") == 5
    await log.close()
    assert log_path.read_bytes().startswith(intact)
    last = records(log_path)[-1]
    assert (last["kind"], last["size"]) == ("checkpoint", 5)  # the recovered tail is signed
    assert signature_valid(public_key(tmp_path), last)
    assert _verify(log_path) is None


async def test_a_clean_file_is_not_touched_on_restart(tmp_path: Path) -> None:
    log_path = tmp_path / "audit.jsonl"
    await write_log(log_path, [event(n) for n in range(5)], every=4)
    before = log_path.read_bytes()
    log = _open(log_path)
    await log.close()
    assert log.repaired is None and log_path.read_bytes() == before


def _rewrite(log_path: Path, line: int, change: dict[str, object]) -> None:
    lines = log_path.read_bytes().splitlines(keepends=True)
    record = json.loads(lines[line - 1])
    record["event"].update(change)
    lines[line - 1] = json.dumps(record, separators=(",", ":"), sort_keys=True).encode() + b"\n"
    log_path.write_bytes(b"".join(lines))


@pytest.mark.parametrize(
    ("damage", "problem"),
    [
        ("tamper", "line 2, tenant 'acme', index 1, event evt-0001: hash "),
        ("drop", "line 2, tenant 'acme', index 2, event evt-0002: index 2, expected 1"),
        ("garbage", "line 3: the line is not JSON"),
    ],
)
async def test_damage_before_the_last_line_refuses_to_open(
    tmp_path: Path, damage: str, problem: str
) -> None:
    log_path = tmp_path / "audit.jsonl"
    await write_log(log_path, [event(n) for n in range(6)], every=4)
    if damage == "tamper":
        _rewrite(log_path, 2, {"outcome": "DENIED"})
    else:
        lines = log_path.read_bytes().splitlines(keepends=True)
        if damage == "drop":
            del lines[1]
        else:
            lines[2] = b"\x00" * 40 + b"\n"
        log_path.write_bytes(b"".join(lines))
    before = log_path.read_bytes()
    with pytest.raises(AespError, match="is damaged at") as info:
        _open(log_path)
    assert info.value.code == "AUDIT_REQUIREMENT_NOT_MET"
    assert problem in info.value.message
    assert any("aesp audit verify" in step for step in info.value.remediation_steps)
    assert log_path.read_bytes() == before  # nothing repaired, nothing appended
