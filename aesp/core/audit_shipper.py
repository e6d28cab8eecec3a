"""Ship the durable audit log into the query index, at least once (DESIGN §2 principle 2, §8).

The call path writes only the local durable buffer (:class:`~aesp.core.audit.FileAuditLog`,
C-36); ``QueryEvents`` reads an :class:`~aesp.core.ports.audit.AuditIndex`. This module moves
events from the first to the second in the background:

(1) read complete lines of the log file after the persisted position (the *offset file*
    beside it, ``<log>.shipped``), at most :data:`BATCH` leaves; checkpoint lines are skipped;
(2) hand the batch to ``sink.index`` (all or none);
(3) only then persist the position after the batch (write a temporary file, fsync, rename).

A crash between (2) and (3) ships the batch again after a restart; ``index`` is idempotent by
``event_id`` (item 190: the first indexed version is kept), so redelivery is harmless. While the
sink fails, the shipper retries with exponential backoff and the log keeps every event: the
log *is* the buffer, so nothing is lost and the call path never waits for the index. File reads
and the offset write run in a worker thread, never on the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from pathlib import Path

from aesp.core.audit import AuditEvent
from aesp.core.ports.audit import AuditIndex

__all__ = ["BATCH", "AuditShipper", "offset_path"]

BATCH = 500  # leaves per index call; bounds memory and the size of one sink transaction
POLL_SECONDS = 0.2  # how long an idle shipper waits before it looks at the file again
BACKOFF_FIRST = 0.1  # seconds before the first retry of a failing sink
BACKOFF_MAX = 5.0  # retries never wait longer than this
_log = logging.getLogger(__name__)


def offset_path(log_path: Path) -> Path:
    """Where the shipped position of ``log_path`` is kept (``<log>.shipped``)."""
    return log_path.with_name(log_path.name + ".shipped")


class AuditShipper:
    """Copies the leaves of one audit log file into an :class:`AuditIndex`.

    Args:
        log_path: The :class:`~aesp.core.audit.FileAuditLog` file.
        sink: The index that ``QueryEvents`` reads.
        batch: Leaves per ``index`` call.
        poll_seconds: Idle wait between looks at the file.
        backoff_first: First retry delay after a failure (doubles up to ``backoff_max``).
        backoff_max: Longest retry delay.
    """

    def __init__(
        self,
        log_path: Path,
        sink: AuditIndex,
        *,
        batch: int = BATCH,
        poll_seconds: float = POLL_SECONDS,
        backoff_first: float = BACKOFF_FIRST,
        backoff_max: float = BACKOFF_MAX,
    ) -> None:
        if batch < 1:
            raise ValueError("batch must be positive")
        self.log_path = log_path
        self.sink = sink
        self._offset_file = offset_path(log_path)
        self._batch = batch
        self._poll = poll_seconds
        self._backoff = (backoff_first, backoff_max)
        self._lock = asyncio.Lock()  # one batch at a time: the offset only moves forward
        self._stopping = asyncio.Event()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.offset = 0  # byte position after the last delivered batch
        self.shipped = 0  # leaves handed to the sink by this process (redeliveries included)
        self.failures = 0  # failed deliveries since start
        self.last_error: str = ""

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Load the persisted position and start shipping in the background."""
        self.offset = await asyncio.to_thread(self._load_offset)
        self._task = asyncio.create_task(self._run(), name="aesp-audit-shipper")

    async def stop(self, *, flush: bool = True) -> None:
        """Stop the background task; with ``flush`` ship what the file holds now, once.

        A sink that still fails is logged, not raised: the events stay in the log and the
        next start ships them.
        """
        self._stopping.set()
        if self._task is not None:
            await self._task
            self._task = None
        if flush:
            try:
                await self.flush()
            except Exception as exc:  # noqa: BLE001 - any sink failure; the log keeps the events
                _log.warning("audit shipper: final flush failed, will resume at start: %s", exc)

    def nudge(self) -> None:
        """Ask the background task to look at the file now (e.g. after a durable append)."""
        self._wake.set()

    async def flush(self) -> int:
        """Ship until the end of the file's complete lines; return how many leaves went.

        Raises:
            Exception: Whatever the sink raised; the position stays before the failed batch.
        """
        total = 0
        while True:
            sent, more = await self.ship_once()
            total += sent
            if not more:
                return total

    async def ship_once(self) -> tuple[int, bool]:
        """Steps (1)-(3) for one batch: (leaves shipped, whether more lines may follow).

        Raises:
            Exception: Whatever the sink raised, or ``ValueError`` for a damaged log line.
        """
        async with self._lock:
            # (1): read after the persisted position.
            events, end, full = await asyncio.to_thread(self._read, self.offset)
            if end == self.offset:
                return 0, False
            # (2): deliver; idempotent by event_id, so a repeat after a crash is harmless.
            if events:
                await self.sink.index(events)
            # (3): only a delivered batch moves the position.
            await asyncio.to_thread(self._save_offset, end)
            self.offset = end
            self.shipped += len(events)
            return len(events), full

    # ------------------------------------------------------------------ internals

    async def _run(self) -> None:
        delay = 0.0
        while not self._stopping.is_set():
            try:
                _, more = await self.ship_once()
                delay = 0.0
                if more:
                    continue
                wait = self._poll
            except Exception as exc:  # noqa: BLE001 - retry any failure; the log is the buffer
                self.failures += 1
                self.last_error = str(exc)[:300]
                first, longest = self._backoff
                delay = min(longest, delay * 2 if delay else first)
                wait = delay
                _log.warning("audit shipper: delivery failed, retry in %.1fs: %s", wait, exc)
            await self._sleep(wait)

    async def _sleep(self, seconds: float) -> None:
        self._wake.clear()
        stop = asyncio.ensure_future(self._stopping.wait())
        wake = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait({stop, wake}, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in (stop, wake):
                waiter.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await waiter

    def _read(self, offset: int) -> tuple[list[AuditEvent], int, bool]:
        """(leaf events, position after the last complete line read, batch full)."""
        events: list[AuditEvent] = []
        end = offset
        with self.log_path.open("rb") as handle:
            handle.seek(offset)
            for raw in handle:
                if not raw.endswith(b"\n"):
                    break  # being written now, or a torn tail the Host cuts at restart
                record = json.loads(raw)
                end += len(raw)
                if record.get("kind") == "leaf":
                    events.append(AuditEvent.from_json(record["event"]))
                    if len(events) >= self._batch:
                        return events, end, True
        return events, end, False

    def _load_offset(self) -> int:
        """The persisted position, or 0 when absent or not a line start of this file."""
        try:
            text = self._offset_file.read_text(encoding="ascii").strip()
        except FileNotFoundError:
            return 0
        size = self.log_path.stat().st_size if self.log_path.exists() else 0
        if not text.isdigit() or int(text) > size or not self._line_start(int(text)):
            # NOTE: re-shipping from the start is always safe (idempotent index); skipping is not.
            _log.warning("audit shipper: %s is not a position in the log; from 0", text[:40])
            return 0
        return int(text)

    def _line_start(self, offset: int) -> bool:
        if offset == 0:
            return True
        with self.log_path.open("rb") as handle:
            handle.seek(offset - 1)
            return handle.read(1) == b"\n"

    def _save_offset(self, offset: int) -> None:
        tmp = self._offset_file.with_name(self._offset_file.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, f"{offset}\n".encode("ascii"))
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self._offset_file)
