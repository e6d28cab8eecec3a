"""The file audit log: durable before acknowledged, group commit, fail closed (C-36)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from aesp.core.audit import AuditEvent, FileAuditLog
from aesp.core.errors import AespError


def _leaves(path: Path) -> list[dict[str, object]]:
    """The events of the leaf records, in file order (checkpoint records skipped)."""
    records = [json.loads(line) for line in path.read_text().splitlines()]
    return [r["event"] for r in records if r["kind"] == "leaf"]


def _event(n: int) -> AuditEvent:
    return AuditEvent(
        event_type="TOOL_INVOCATION_START",
        outcome="SUCCESS",
        action="x",
        tenant_id="t",
        correlation_id=f"c-{n}",
    )


async def test_a_durable_append_is_on_disk_when_it_returns(tmp_path: Path) -> None:
    log = FileAuditLog(tmp_path / "audit.jsonl")
    await log.append(_event(1), durable=True)
    # Read the file while the log is still open: the event must already be there.
    assert [e["correlation_id"] for e in _leaves(tmp_path / "audit.jsonl")] == ["c-1"]
    await log.close()


async def test_concurrent_appends_are_all_written_once_in_order_of_arrival(tmp_path: Path) -> None:
    log = FileAuditLog(tmp_path / "audit.jsonl")
    await asyncio.gather(*(log.append(_event(n), durable=n % 2 == 0) for n in range(500)))
    await log.close()
    leaves = _leaves(tmp_path / "audit.jsonl")
    assert [e["correlation_id"] for e in leaves] == [f"c-{n}" for n in range(500)]
    assert len({e["event_id"] for e in leaves}) == 500


async def test_close_writes_everything_queued(tmp_path: Path) -> None:
    log = FileAuditLog(tmp_path / "audit.jsonl")
    for n in range(50):
        await log.append(_event(n))
    await log.close()
    assert len(_leaves(tmp_path / "audit.jsonl")) == 50


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (Linux)")
async def test_a_log_that_cannot_be_written_refuses_durable_appends() -> None:
    log = FileAuditLog(Path("/dev/full"))  # every write fails with ENOSPC
    with pytest.raises(AespError, match="cannot be written") as info:
        await log.append(_event(1), durable=True)
    assert info.value.code == "AUDIT_REQUIREMENT_NOT_MET"
    with pytest.raises(AespError) as again:  # and it stays refused: fail closed
        await log.append(_event(2))
    assert again.value.code == "AUDIT_REQUIREMENT_NOT_MET"
    await log.close()
