"""The file audit log: durable before acknowledged, group commit, fail closed (C-36)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from aesp.core.audit import AuditEvent, FileAuditLog
from aesp.core.errors import AespError


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
    lines = (tmp_path / "audit.jsonl").read_text().splitlines()
    assert [json.loads(line)["correlation_id"] for line in lines] == ["c-1"]
    await log.close()


async def test_concurrent_appends_are_all_written_once_in_order_of_arrival(tmp_path: Path) -> None:
    log = FileAuditLog(tmp_path / "audit.jsonl")
    await asyncio.gather(*(log.append(_event(n), durable=n % 2 == 0) for n in range(500)))
    await log.close()
    ids = [
        json.loads(x)["correlation_id"] for x in (tmp_path / "audit.jsonl").read_text().splitlines()
    ]
    assert ids == [f"c-{n}" for n in range(500)]
    assert (
        len(
            {json.loads(x)["event_id"] for x in (tmp_path / "audit.jsonl").read_text().splitlines()}
        )
        == 500
    )


async def test_close_writes_everything_queued(tmp_path: Path) -> None:
    log = FileAuditLog(tmp_path / "audit.jsonl")
    for n in range(50):
        await log.append(_event(n))
    await log.close()
    assert len((tmp_path / "audit.jsonl").read_text().splitlines()) == 50


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
