"""Audit events and the realisations of the port the pipeline writes them through.

The pipeline records every refusal and every call's start and completion. ``append`` with
``durable=True`` returns only once the event is on stable storage: the START record of a call
must be durable before the call is dispatched (DESIGN §8, C-36); if it cannot be, the call is
refused with ``AUDIT_REQUIREMENT_NOT_MET``.

:class:`FileAuditLog` is the embedded realisation: an append-only JSON-lines file with group
commit (one ``fsync`` covers every event appended while the previous batch was being written).
The verifiable Merkle log of DESIGN §8 is built on this port.

The Protocols (:class:`AuditLog`, and the query side :class:`AuditQuery` / :class:`AuditIndex`
with :class:`AuditFilter`) live in :mod:`aesp.core.ports.audit` and are re-exported here, so
``from aesp.core.audit import AuditLog`` keeps working.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import queue
import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from aesp.core.errors import AespError
from aesp.core.ids import now_ms
from aesp.core.ports._paging import Page, page_limit
from aesp.core.ports.audit import AuditFilter, AuditIndex, AuditLog, AuditQuery

__all__ = [
    "OUTCOMES",
    "AuditEvent",
    "AuditFilter",
    "AuditIndex",
    "AuditLog",
    "AuditQuery",
    "FileAuditLog",
    "MemoryAuditLog",
    "page_in_append_order",
]

OUTCOMES = ("SUCCESS", "FAILURE", "DENIED", "ERROR")  # C-34


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One audit record (SPEC §3.6 AuditEvent fields 1-18; integrity fields come from the log)."""

    event_type: str
    outcome: str
    action: str
    principal_id: str = ""
    tenant_id: str = ""
    session_id: str = ""
    resource: str = ""
    correlation_id: str = ""
    metadata: Mapping[str, str] = field(default_factory=dict)
    policy_violations: tuple[str, ...] = ()
    source_ip: str = ""
    event_id: str = field(default_factory=lambda: next(_EVENT_IDS))
    timestamp_ms: int = field(default_factory=now_ms)

    def to_json(self) -> dict[str, object]:
        """JSON form with empty optional fields left out (built by hand: asdict is slow)."""
        out: dict[str, object] = {
            "event_id": self.event_id,
            "timestamp_ms": self.timestamp_ms,
            "event_type": self.event_type,
            "outcome": self.outcome,
            "action": self.action,
        }
        for key in (
            "principal_id",
            "tenant_id",
            "session_id",
            "resource",
            "correlation_id",
            "source_ip",
        ):
            value = getattr(self, key)
            if value:
                out[key] = value
        if self.metadata:
            out["metadata"] = dict(self.metadata)
        if self.policy_violations:
            out["policy_violations"] = list(self.policy_violations)
        return out


def _event_ids() -> Iterator[str]:
    """Unique event ids: a random per-process prefix and a counter (cheaper than uuid4)."""
    prefix = uuid.uuid4().hex[:16]
    for n in itertools.count():
        yield f"evt-{prefix}-{n:012x}"


_EVENT_IDS = _event_ids()


class FileAuditLog:
    """Append-only JSON lines with group commit.

    One writer thread owns the file: it takes everything queued since its last ``fsync``, writes
    it as one batch, ``fsync``s once, and wakes the waiting calls with one hop back to the event
    loop. The loop never blocks on the disk, and a burst of calls shares one ``fsync``.
    """

    MAX_BATCH = 1024  # events per write+fsync; bounds latency of the first event in a batch
    KEEP_IN_MEMORY = 10_000  # recent events kept for queries; older ones stay on disk only

    def __init__(self, path: Path) -> None:
        self._path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._loop = asyncio.get_running_loop()
        self._queue: queue.SimpleQueue[tuple[bytes, asyncio.Future[None] | None] | None] = (
            queue.SimpleQueue()
        )
        self._recent: list[AuditEvent] = []
        self._failed: str | None = None
        self._writer = threading.Thread(target=self._write_loop, name="aesp-audit", daemon=True)
        self._writer.start()

    async def append(self, event: AuditEvent, *, durable: bool = False) -> None:
        """Queue ``event``; with ``durable`` wait for its fsync (see :class:`AuditLog`)."""
        if self._failed is not None:
            raise self._error()
        line = json.dumps(event.to_json(), separators=(",", ":"), sort_keys=True).encode() + b"\n"
        future = self._loop.create_future() if durable else None
        self._queue.put((line, future))
        self._recent.append(event)
        if len(self._recent) > self.KEEP_IN_MEMORY:
            del self._recent[: len(self._recent) // 2]
        if future is not None:
            await future

    def events(self) -> Sequence[AuditEvent]:
        """Recent events, oldest first."""
        return tuple(self._recent)

    async def close(self) -> None:
        """Write what is queued, then close the file."""
        self._queue.put(None)
        await asyncio.to_thread(self._writer.join)
        os.close(self._fd)

    def _error(self) -> AespError:
        return AespError(
            "AUDIT_REQUIREMENT_NOT_MET",
            f"The audit log cannot be written ({self._failed}); calls are refused until an "
            "operator restores it.",
            escalation_required=True,
        )

    def _write_loop(self) -> None:
        """The writer thread: batch, write, fsync, wake the waiters; stop at the sentinel."""
        while True:
            first = self._queue.get()
            batch = [] if first is None else [first]
            stopping = first is None
            while not stopping and len(batch) < self.MAX_BATCH:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stopping = True
                else:
                    batch.append(item)
            if batch and self._failed is None:
                try:
                    self._write(b"".join(line for line, _ in batch))
                except OSError as exc:
                    self._failed = exc.strerror or type(exc).__name__
            waiters = [fut for _, fut in batch if fut is not None]
            if waiters:
                self._loop.call_soon_threadsafe(self._wake, waiters, self._failed is not None)
            if stopping:
                return

    def _wake(self, waiters: list[asyncio.Future[None]], failed: bool) -> None:
        for fut in waiters:
            if not fut.done():
                if failed:
                    fut.set_exception(self._error())
                else:
                    fut.set_result(None)

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
        os.fsync(self._fd)


class MemoryAuditLog:
    """In-memory audit log for tests and embedded use; ``durable`` is trivially satisfied.

    It is also an :class:`AuditQuery` over everything appended, so tests of the query API need
    no separate index.
    """

    def __init__(self) -> None:
        self._events: list[AuditEvent] = []

    async def append(self, event: AuditEvent, *, durable: bool = False) -> None:
        """Record ``event``."""
        self._events.append(event)

    def events(self) -> Sequence[AuditEvent]:
        """Every event, oldest first."""
        return tuple(self._events)

    async def query(
        self, flt: AuditFilter, *, limit: int = 0, cursor: str = ""
    ) -> Page[AuditEvent]:
        """A page of the selected events in append order (see :class:`AuditQuery`).

        Raises:
            ValueError: ``cursor`` was not returned by this log.
        """
        return page_in_append_order(self._events, flt, limit=limit, cursor=cursor)

    async def count(self, flt: AuditFilter) -> int:
        """How many events ``flt`` selects."""
        return sum(1 for event in self._events if flt.matches(event))

    async def close(self) -> None:
        """Nothing to release."""


def page_in_append_order(
    events: Sequence[AuditEvent], flt: AuditFilter, *, limit: int, cursor: str
) -> Page[AuditEvent]:
    """One page of ``events`` (an append-only list) selected by ``flt``.

    The cursor is the list position after the last returned event. Why a position: the list
    only ever grows at the end, so positions never move and an event appended while a caller
    pages lands after every cursor already issued, which is the no-gap, no-repeat promise of
    :class:`AuditQuery`.

    Raises:
        ValueError: ``cursor`` is not a position in ``events``.
    """
    size = page_limit(limit)
    items: list[AuditEvent] = []
    after_last = _position(cursor, len(events))
    for position in range(after_last, len(events)):
        if flt.matches(events[position]):
            if len(items) == size:
                return Page(items, str(after_last))
            items.append(events[position])
            after_last = position + 1
    return Page(items, "")


def _position(cursor: str, length: int) -> int:
    if not cursor:
        return 0
    if cursor.isdigit() and cursor.isascii() and int(cursor) <= length:
        return int(cursor)
    raise ValueError(f"cursor {cursor!r} was not returned by query")
