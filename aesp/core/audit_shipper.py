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

Any number of destinations are fed the same way, each by its own shipper with its own offset
file, so a slow or failing one never holds the others back:

* the :class:`~aesp.core.ports.audit.AuditIndex` (``<log>.shipped``, the unnamed shipper);
* each :class:`~aesp.core.ports.audit.AuditSink` (a cloud audit trail), named:
  ``AuditShipper(log, sink, name="cloudtrail")`` keeps ``<log>.offset.cloudtrail``;
* an :class:`~aesp.core.ports.audit.AuditArchive` through :class:`AuditArchiver`, which cuts
  the log into per-tenant segments at checkpoints, has each checkpoint signed by a
  :class:`~aesp.core.ports.audit.CheckpointSigner` (a key service: the slow remote signature
  happens here, never in the log's writer), and keeps ``<log>.offset.<name>``.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from aesp.core.audit import AuditEvent
from aesp.core.audit_keys import Checkpoint, sign_checkpoint_with
from aesp.core.audit_verify import canonical
from aesp.core.ports.audit import (
    AuditArchive,
    AuditIndex,
    AuditSegment,
    AuditSink,
    CheckpointSigner,
)

__all__ = ["BATCH", "AuditArchiver", "AuditShipper", "offset_path"]

BATCH = 500  # leaves per index call; bounds memory and the size of one sink transaction
POLL_SECONDS = 0.2  # how long an idle shipper waits before it looks at the file again
BACKOFF_FIRST = 0.1  # seconds before the first retry of a failing sink
BACKOFF_MAX = 5.0  # retries never wait longer than this
_log = logging.getLogger(__name__)


def offset_path(log_path: Path, name: str = "") -> Path:
    """Where a shipper keeps its position in ``log_path``.

    ``<log>.shipped`` for the unnamed shipper (the index), ``<log>.offset.<name>`` otherwise.
    """
    if not name:
        return log_path.with_name(log_path.name + ".shipped")
    if not name.replace("-", "").replace("_", "").isalnum():
        raise ValueError(f"shipper name {name!r} must be letters, digits, '-' and '_'")
    return log_path.with_name(f"{log_path.name}.offset.{name}")


class _LogFollower(abc.ABC):
    """What every follower of the log shares: the background loop, backoff, flush and stop.

    A subclass reads from its persisted position and delivers in :meth:`ship_once`, and loads
    that position in :meth:`_load`.
    """

    def __init__(
        self,
        log_path: Path,
        *,
        name: str,
        batch: int,
        poll_seconds: float,
        backoff_first: float,
        backoff_max: float,
    ) -> None:
        if batch < 1:
            raise ValueError("batch must be positive")
        self.log_path = log_path
        self.name = name
        self._offset_file = offset_path(log_path, name)
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

    @abc.abstractmethod
    async def ship_once(self) -> tuple[int, bool]:
        """Deliver one batch: (leaves delivered, whether more lines may follow)."""

    @abc.abstractmethod
    async def _load(self) -> None:
        """Load the persisted position (called by :meth:`start`)."""

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Load the persisted position and start shipping in the background."""
        await self._load()
        self._task = asyncio.create_task(self._run(), name=f"aesp-audit-{self.name or 'index'}")

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

    def _line_start(self, offset: int) -> bool:
        if offset == 0:
            return True
        with self.log_path.open("rb") as handle:
            handle.seek(offset - 1)
            return handle.read(1) == b"\n"


class AuditShipper(_LogFollower):
    """Copies the leaves of one audit log file into an :class:`AuditIndex` or an :class:`AuditSink`.

    Args:
        log_path: The :class:`~aesp.core.audit.FileAuditLog` file.
        sink: The index that ``QueryEvents`` reads, or a remote sink (``ship``).
        name: Names the offset file (see :func:`offset_path`); give every shipper of one log
            its own name.
        batch: Leaves per ``index``/``ship`` call.
        poll_seconds: Idle wait between looks at the file.
        backoff_first: First retry delay after a failure (doubles up to ``backoff_max``).
        backoff_max: Longest retry delay.
    """

    def __init__(
        self,
        log_path: Path,
        sink: AuditIndex | AuditSink,
        *,
        name: str = "",
        batch: int = BATCH,
        poll_seconds: float = POLL_SECONDS,
        backoff_first: float = BACKOFF_FIRST,
        backoff_max: float = BACKOFF_MAX,
    ) -> None:
        super().__init__(
            log_path,
            name=name,
            batch=batch,
            poll_seconds=poll_seconds,
            backoff_first=backoff_first,
            backoff_max=backoff_max,
        )
        self.sink = sink

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
                await self._deliver(events)
            # (3): only a delivered batch moves the position.
            await asyncio.to_thread(self._save_offset, end)
            self.offset = end
            self.shipped += len(events)
            return len(events), full

    async def _deliver(self, events: list[AuditEvent]) -> None:
        if isinstance(self.sink, AuditSink):
            await self.sink.ship(events)
        else:
            await self.sink.index(events)

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

    async def _load(self) -> None:
        self.offset = await asyncio.to_thread(self._load_offset)

    def _save_offset(self, offset: int) -> None:
        _replace(self._offset_file, f"{offset}\n".encode("ascii"))


def _replace(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically and durably (temporary file, fsync, rename)."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


@dataclass(slots=True)
class _Pending:
    """A tenant's leaf lines read since its last archived segment."""

    first: int  # index of the first leaf
    offset: int  # byte position of the first leaf's line (the archiver may not persist past it)
    started_ms: int  # timestamp of the first leaf's event
    lines: list[bytes] = field(default_factory=list)


class AuditArchiver(_LogFollower):
    """Cuts the log into per-tenant :class:`AuditSegment` s and hands them to an archive.

    A segment ends at one of the log's checkpoints of its tenant once it is ``segment_seconds``
    old or ``segment_leaves`` long (so a key service is asked for one signature per segment,
    not one per local checkpoint). Its checkpoint is the log's tree head re-signed by
    ``signer``; the log's own (Ed25519) checkpoint lines inside a segment are left out, so a
    tenant's segments concatenated from the first verify with the signer's public key alone.

    The state file (``<log>.offset.<name>``, JSON) holds the byte position before the oldest
    leaf not yet archived, and each tenant's archived size. After a crash the archiver reads
    again from that position, skips the leaves and checkpoints already archived, and re-sends
    at most the segment it was sending (the archive is idempotent by tenant and size).

    Args:
        log_path: The :class:`~aesp.core.audit.FileAuditLog` file.
        archive: Where segments go.
        signer: Signs each segment's checkpoint.
        name: Names the state file.
        segment_seconds: Cut a segment once its first leaf is this old (at a checkpoint).
        segment_leaves: ... or once it has this many leaves.
        batch: Leaves read per step.
    """

    def __init__(
        self,
        log_path: Path,
        archive: AuditArchive,
        signer: CheckpointSigner,
        *,
        name: str = "archive",
        segment_seconds: float = 60.0,
        segment_leaves: int = 10_000,
        batch: int = BATCH,
        poll_seconds: float = POLL_SECONDS,
        backoff_first: float = BACKOFF_FIRST,
        backoff_max: float = BACKOFF_MAX,
    ) -> None:
        if not name:
            raise ValueError("an archiver needs a name for its state file")
        super().__init__(
            log_path,
            name=name,
            batch=batch,
            poll_seconds=poll_seconds,
            backoff_first=backoff_first,
            backoff_max=backoff_max,
        )
        self.archive = archive
        self.signer = signer
        self._segment_ms = int(segment_seconds * 1000)
        self._segment_leaves = segment_leaves
        self._sizes: dict[str, int] = {}  # tenant -> leaves archived
        self._pending: dict[str, _Pending] = {}
        self._read_at = 0  # where reading continues (>= offset, which is the persisted one)
        self.segments = 0  # segments archived by this process
        self._loaded = False

    def archived_size(self, tenant: str) -> int:
        """How many of ``tenant``'s leaves are archived."""
        return self._sizes.get(tenant, 0)

    async def _load(self) -> None:
        self.offset, self._sizes = await asyncio.to_thread(self._load_state)
        self._read_at = self.offset
        self._pending.clear()
        self._loaded = True

    async def flush(self) -> int:
        """Archive every segment that is due now; return how many leaves they held.

        Raises:
            Exception: Whatever the archive or signer raised (nothing is skipped).
        """
        if not self._loaded:
            await self._load()
        return await super().flush()

    async def ship_once(self) -> tuple[int, bool]:
        """Read one batch of lines, archive the segments it completes, persist the state.

        Raises:
            Exception: The archive or signer failed; reading restarts from the persisted
                position on the next step, so no leaf is skipped.
            ValueError: The log is damaged (a checkpoint without its leaves).
        """
        async with self._lock:
            records, end, full = await asyncio.to_thread(self._read_records, self._read_at)
            if end == self._read_at:
                return 0, False
            archived = 0
            try:
                for offset, raw, record in records:
                    archived += await self._take(offset, raw, record)
            except BaseException:
                self._pending.clear()  # re-read from the persisted position; archived stays
                self._read_at = self.offset
                raise
            self._read_at = end
            low = min((p.offset for p in self._pending.values()), default=end)
            state = {"offset": low, "sizes": self._sizes}
            await asyncio.to_thread(_replace, self._offset_file, json.dumps(state).encode())
            self.offset = low
            self.shipped += archived
            return archived, full

    async def _take(self, offset: int, raw: bytes, record: dict[str, object]) -> int:
        """Account for one log line; archive a segment when it completes one."""
        tenant = str(record["tenant"])
        done = self._sizes.get(tenant, 0)
        pending = self._pending.get(tenant)
        if record["kind"] == "leaf":
            index = int(str(record["index"]))
            if index < done:
                return 0  # archived before a restart
            expected = done if pending is None else pending.first + len(pending.lines)
            if index != expected:
                raise ValueError(f"audit log leaf {tenant!r}/{index} follows {expected - 1}")
            if pending is None:
                event = record["event"]
                started = int(event["timestamp_ms"]) if isinstance(event, dict) else 0
                pending = self._pending[tenant] = _Pending(index, offset, started)
            pending.lines.append(raw)
            return 0
        cp = Checkpoint.from_record(record)
        if cp.size <= done:
            return 0  # archived already (or a checkpoint with no new leaf)
        if pending is None or pending.first + len(pending.lines) != cp.size:
            raise ValueError(f"audit log checkpoint {tenant!r}/{cp.size} is not after its leaves")
        young = cp.timestamp_ms - pending.started_ms < self._segment_ms
        if young and len(pending.lines) < self._segment_leaves and not self._stopping.is_set():
            return 0
        signed = await sign_checkpoint_with(self.signer, tenant, cp.size, cp.root, cp.timestamp_ms)
        lines = b"".join(pending.lines) + canonical(signed.to_record()) + b"\n"
        await self.archive.archive(AuditSegment(tenant, pending.first, signed, lines))
        del self._pending[tenant]
        self._sizes[tenant] = cp.size
        self.segments += 1
        return len(pending.lines)

    def _read_records(
        self, offset: int
    ) -> tuple[list[tuple[int, bytes, dict[str, object]]], int, bool]:
        """(records with their offsets and lines, position after the last one, batch full)."""
        out: list[tuple[int, bytes, dict[str, object]]] = []
        end = offset
        leaves = 0
        with self.log_path.open("rb") as handle:
            handle.seek(offset)
            for raw in handle:
                if not raw.endswith(b"\n"):
                    break
                out.append((end, raw, json.loads(raw)))
                end += len(raw)
                leaves += out[-1][2].get("kind") == "leaf"
                if leaves >= self._batch:
                    return out, end, True
        return out, end, False

    def _load_state(self) -> tuple[int, dict[str, int]]:
        """The persisted (position, archived sizes); (0, {}) when absent or not trustworthy."""
        try:
            state = json.loads(self._offset_file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return 0, {}
        except ValueError:
            state = None
        offset = state.get("offset") if isinstance(state, dict) else None
        sizes = state.get("sizes") if isinstance(state, dict) else None
        size = self.log_path.stat().st_size if self.log_path.exists() else 0
        if (
            type(offset) is not int
            or not isinstance(sizes, dict)
            or not 0 <= offset <= size
            or not self._line_start(offset)
        ):
            # NOTE: re-archiving from the start is safe (idempotent archive); skipping is not.
            _log.warning("audit archiver: %s is not a state of this log; from 0", self._offset_file)
            return 0, {}
        return offset, {str(k): int(v) for k, v in sizes.items()}
