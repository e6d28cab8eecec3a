"""AuditShipper: at-least-once delivery from the file log to the index, resumable, never lossy."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

import pytest

from aesp.core.audit import AuditEvent, FileAuditLog
from aesp.core.audit_shipper import AuditShipper, offset_path
from aesp.core.ports.audit import AuditFilter
from aesp.testing.inmemory import InMemoryAuditIndex


def event(n: int, tenant: str = "acme") -> AuditEvent:
    """Event ``n`` with a fixed id."""
    return AuditEvent(
        event_type="TOOL_INVOCATION_START",
        outcome="SUCCESS",
        action="invoke",
        tenant_id=tenant,
        principal_id=f"user-{n % 3}",
        event_id=f"evt-{n:04d}",
    )


class RecordingIndex(InMemoryAuditIndex):
    """An index that records every batch it is handed and can be told to fail."""

    def __init__(self, failures: int = 0) -> None:
        super().__init__()
        self.batches: list[list[str]] = []
        self.failures = failures

    async def index(self, events: Sequence[AuditEvent]) -> int:
        """Fail while ``failures`` is positive, else index and record the batch."""
        if self.failures > 0:
            self.failures -= 1
            raise ConnectionError("index store unreachable")
        self.batches.append([e.event_id for e in events])
        return await super().index(events)


async def write(path: Path, events: list[AuditEvent]) -> None:
    log = FileAuditLog(path, checkpoint_every=2)
    for item in events:
        await log.append(item, durable=True)
    await log.close()


async def test_ships_every_leaf_in_order_and_skips_checkpoints(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    await write(path, [event(n, "acme" if n % 2 else "globex") for n in range(7)])
    index = RecordingIndex()
    shipper = AuditShipper(path, index, batch=3)
    assert await shipper.flush() == 7
    assert [len(b) for b in index.batches] == [3, 3, 1]
    assert [e.event_id for e in index.indexed()] == [f"evt-{n:04d}" for n in range(7)]
    assert all(e.hash for e in index.indexed())  # the sealed events, with C-35 hashes
    assert offset_path(path).read_text().strip() == str(path.stat().st_size)


async def test_a_restart_resumes_after_the_last_delivered_batch(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    await write(path, [event(n) for n in range(4)])
    index = RecordingIndex()
    await AuditShipper(path, index).flush()
    log = FileAuditLog(path, checkpoint_every=2)  # the Host restarts and logs more
    await log.append(event(4), durable=True)
    await log.close()
    again = AuditShipper(path, index)
    await again.start()
    await again.stop()
    assert index.batches[-1] == ["evt-0004"]  # nothing before the offset is sent again
    assert await index.count(AuditFilter()) == 5


async def test_a_failing_sink_is_retried_with_backoff_and_nothing_is_lost(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    await write(path, [event(n) for n in range(5)])
    index = RecordingIndex(failures=3)
    shipper = AuditShipper(path, index, poll_seconds=0.01, backoff_first=0.01)
    await shipper.start()
    for _ in range(200):
        if await index.count(AuditFilter()) == 5:
            break
        await asyncio.sleep(0.01)
    await shipper.stop()
    assert shipper.failures == 3 and "unreachable" in shipper.last_error
    assert [e.event_id for e in index.indexed()] == [f"evt-{n:04d}" for n in range(5)]


async def test_a_failed_batch_does_not_move_the_position(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    await write(path, [event(n) for n in range(2)])
    shipper = AuditShipper(path, RecordingIndex(failures=1))
    await shipper.start()
    await shipper.stop(flush=False)
    fresh = AuditShipper(path, RecordingIndex(failures=1))
    with pytest.raises(ConnectionError, match="unreachable"):
        await fresh.ship_once()
    assert fresh.offset == 0 and not offset_path(path).exists()


async def test_a_torn_tail_waits_and_a_bad_offset_restarts_from_zero(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    await write(path, [event(n) for n in range(2)])
    complete = path.stat().st_size
    with path.open("ab") as handle:
        handle.write(b'{"event":{"event_id":"half')
    index = RecordingIndex()
    shipper = AuditShipper(path, index)
    assert await shipper.flush() == 2
    assert shipper.offset == complete  # the incomplete line is not part of the log yet
    offset_path(path).write_text("17\n")  # not a line start: never trusted
    restarted = AuditShipper(path, index)
    await restarted.start()
    await restarted.stop()
    assert index.batches[-1] == ["evt-0000", "evt-0001"]  # re-shipped, harmlessly
    assert await index.count(AuditFilter()) == 2


async def test_stop_logs_a_failing_final_flush_instead_of_raising(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "audit.jsonl"
    await write(path, [event(0)])
    shipper = AuditShipper(path, RecordingIndex(failures=10), backoff_first=5)
    await shipper.start()
    await shipper.stop()
    assert "final flush failed" in caplog.text
    assert shipper.offset == 0
