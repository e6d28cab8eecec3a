"""Audit events and the realisations of the port the pipeline writes them through.

The pipeline records every refusal and every call's start and completion. ``append`` with
``durable=True`` returns only once the event is on stable storage: the START record of a call
must be durable before the call is dispatched (DESIGN §8, C-36); if it cannot be, the call is
refused with ``AUDIT_REQUIREMENT_NOT_MET``.

:class:`FileAuditLog` is the embedded realisation and the verifiable log of DESIGN §8: one
RFC 9162 Merkle tree per tenant in one append-only JSON-lines file, each event a leaf chained to
its tenant's previous one (C-35 ``prev_hash``/``hash``), and Ed25519-signed checkpoints every N
leaves or T ms. The file format and every check an auditor makes are in
:mod:`aesp.core.audit_verify`; keys and checkpoints in :mod:`aesp.core.audit_keys`. Nothing in
it is ever updated or deleted (item 190).

The Protocols (:class:`AuditLog`, and the query side :class:`AuditQuery` / :class:`AuditIndex`
with :class:`AuditFilter`) live in :mod:`aesp.core.ports.audit` and are re-exported here, so
``from aesp.core.audit import AuditLog`` keeps working.
"""

from __future__ import annotations

import asyncio
import errno
import hashlib
import itertools
import json
import logging
import os
import queue
import stat
import threading
import time
import uuid
from array import array
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from aesp.core.audit_keys import (
    Checkpoint,
    load_or_create_signing_key,
    public_key_path,
    sign_checkpoint,
)
from aesp.core.audit_verify import Scanner, canonical
from aesp.core.errors import AespError
from aesp.core.ids import now_ms
from aesp.core.merkle import MerkleTree
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
SIGNING_KEY_FILE = "audit_signing.key"  # beside the log; the public key is audit_signing.pub
_log = logging.getLogger(__name__)
_sha256 = hashlib.sha256
# Optional string fields, written only when set (to_json leaves empty ones out).
_STRINGS = (
    "principal_id",
    "tenant_id",
    "session_id",
    "resource",
    "correlation_id",
    "source_ip",
    "user_agent",
    "risk_score",
    "trace_id",
    "organization_id",
    "prev_hash",
    "hash",
    "signature",
    "signing_key_id",
)
_INTEGRITY = ("prev_hash", "hash", "signature", "signing_key_id")  # C-35 fields 19-22


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One audit record: SPEC §3.6 AuditEvent with the C-35 fields 15-22.

    Fields 1-18 are the caller's. The integrity fields are the log's: :class:`FileAuditLog`
    sets ``prev_hash`` and ``hash`` when it writes the event, in append order, whatever the
    caller put there. ``signature`` and ``signing_key_id`` stay empty in the local log: its
    signatures are on checkpoints, each covering many events (§3.10 "or each batch"), because
    an Ed25519 signature per event would cost more CPU than the whole append budget.
    """

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
    user_agent: str = ""
    risk_score: str = ""
    trace_id: str = ""
    organization_id: str = ""
    applied_policies: tuple[str, ...] = ()
    prev_hash: str = ""
    hash: str = ""
    signature: str = ""
    signing_key_id: str = ""

    def to_json(self) -> dict[str, object]:
        """JSON form with empty optional fields left out (built by hand: asdict is slow)."""
        out: dict[str, object] = {
            "event_id": self.event_id,
            "timestamp_ms": self.timestamp_ms,
            "event_type": self.event_type,
            "outcome": self.outcome,
            "action": self.action,
        }
        for key in _STRINGS:
            value = getattr(self, key)
            if value:
                out[key] = value
        if self.metadata:
            out["metadata"] = dict(self.metadata)
        if self.policy_violations:
            out["policy_violations"] = list(self.policy_violations)
        if self.applied_policies:
            out["applied_policies"] = list(self.applied_policies)
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AuditEvent:
        """The event back from :meth:`to_json` (absent fields take their defaults).

        Raises:
            TypeError: ``data`` has a key that is not a field.
        """
        values = dict(data)
        values["metadata"] = dict(values.get("metadata", {}))
        values["policy_violations"] = tuple(values.get("policy_violations", ()))
        values["applied_policies"] = tuple(values.get("applied_policies", ()))
        return cls(**values)


def _event_ids() -> Iterator[str]:
    """Unique event ids: a random per-process prefix and a counter (cheaper than uuid4)."""
    prefix = uuid.uuid4().hex[:16]
    for n in itertools.count():
        yield f"evt-{prefix}-{n:012x}"


_EVENT_IDS = _event_ids()


class _Tenant:
    """One tenant's tree in the live log (mutated by the writer thread under the log's lock)."""

    __slots__ = (
        "checkpoint",
        "covered",
        "durable",
        "last_hash",
        "offsets",
        "signed_ms",
        "since",
        "tree",
    )

    def __init__(self, tree: MerkleTree) -> None:
        self.tree = tree
        self.offsets = array("Q")  # byte offset of each leaf's line, for leaf()
        self.last_hash = ""  # hex hash of the last leaf: the next leaf's prev_hash
        self.covered = 0  # size of the last checkpoint written (durable after its fsync)
        self.since: float | None = None  # monotonic time of the first leaf after ``covered``
        self.durable = 0  # leaves fsync'd: the most proofs and reads may cover
        self.checkpoint: Checkpoint | None = None  # the latest durable checkpoint
        self.signed_ms = 0  # timestamp of the last checkpoint signed, so time never goes back


_Item = tuple[AuditEvent, "asyncio.Future[None] | None"]

# fdatasync where the platform has it: it flushes the data and what is needed to read it back
# (the file's new size), but not timestamps, so an append costs one device flush, not two.
# It is the durability primitive of write-ahead logs (PostgreSQL's default on Linux).
_sync = getattr(os, "fdatasync", os.fsync)


class FileAuditLog:
    """The verifiable local log: Merkle tree per tenant, signed checkpoints, group commit.

    One writer thread owns the file. It takes everything queued since its last ``fsync``,
    seals each event in append order (``prev_hash``, leaf ``hash``, tree), adds the checkpoints
    that fell due, writes the batch, ``fsync``s once, and wakes the waiting calls with one hop
    back to the event loop. The loop never blocks on the disk, and a burst of calls shares one
    ``fsync``. A write failure is final: every later append raises (fail closed, C-36).

    On start the file is re-read and every tree rebuilt, with every hash recomputed
    (:class:`~aesp.core.audit_verify.Scanner`). An incomplete last line, which only a crash in
    the middle of a write leaves and which was never acknowledged, is cut off and reported in
    :attr:`repaired`; any other inconsistency refuses to start. Tenants whose last leaves no
    checkpoint covers get one at once.

    Memory: every tenant's tree stays in memory for proofs, 64 bytes per event (leaf hash and
    the complete nodes above it) plus 8 bytes for the line's offset: about 69 MiB per million
    events, plus the :attr:`KEEP_IN_MEMORY` recent events. Start-up re-reads the whole file.

    Args:
        path: The log file. A device (``/dev/full`` in failure tests) has nothing to recover
            and no default key location.
        signing_key_path: The Ed25519 key (default: ``audit_signing.key`` beside the log,
            created on first start, public key in ``audit_signing.pub``).
        checkpoint_every: Sign a checkpoint once a tenant has this many uncovered leaves.
        checkpoint_interval_ms: ... or once its oldest uncovered leaf is this old.

    Raises:
        AespError: ``AUDIT_REQUIREMENT_NOT_MET`` when the key is unusable or the file is
            damaged anywhere but a torn last line.
    """

    MAX_BATCH = 1024  # events per write+fsync; bounds latency of the first event in a batch
    KEEP_IN_MEMORY = 10_000  # recent events kept for queries; older ones stay on disk only
    CHECKPOINT_EVERY = 1000  # DESIGN §8 "every N leaves"
    CHECKPOINT_INTERVAL_MS = 1000  # DESIGN §8 "or T ms": no leaf waits longer to be signed

    def __init__(
        self,
        path: Path,
        *,
        signing_key_path: Path | None = None,
        checkpoint_every: int = CHECKPOINT_EVERY,
        checkpoint_interval_ms: int = CHECKPOINT_INTERVAL_MS,
    ) -> None:
        if checkpoint_every < 1 or checkpoint_interval_ms < 1:
            raise ValueError("checkpoint_every and checkpoint_interval_ms must be positive")
        self._loop = asyncio.get_running_loop()
        self._path = path
        self._every = checkpoint_every
        self._interval = checkpoint_interval_ms / 1000
        self._tenants: dict[str, _Tenant] = {}
        # Writer-owned: tenants with unsigned leaves, in the order they got them, so the oldest
        # is first and a batch looks only at the tenants that are due (O(due), not O(tenants)).
        self._uncovered: dict[str, _Tenant] = {}
        self._lock = threading.Lock()
        self.repaired: str | None = None
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            regular = stat.S_ISREG(os.fstat(self._fd).st_mode)
            if signing_key_path is None and regular:
                signing_key_path = path.parent / SIGNING_KEY_FILE
            self._key_path = signing_key_path
            self._key = load_or_create_signing_key(signing_key_path) if signing_key_path else None
            self._end = self._recover() if regular else 0
        except BaseException:
            os.close(self._fd)
            raise
        self._queue: queue.SimpleQueue[_Item | None] = queue.SimpleQueue()
        self._recent: list[AuditEvent] = []
        self._failed: str | None = None
        self._closed = False
        self._writer = threading.Thread(target=self._write_loop, name="aesp-audit", daemon=True)
        self._writer.start()

    @property
    def path(self) -> Path:
        """The log file (what the shipper reads and an auditor exports)."""
        return self._path

    @property
    def public_key(self) -> Ed25519PublicKey | None:
        """The key auditors verify checkpoints with (None for a log without a key)."""
        return self._key.public_key() if self._key else None

    async def append(self, event: AuditEvent, *, durable: bool = False) -> None:
        """Queue ``event``; with ``durable`` wait for its fsync (see :class:`AuditLog`)."""
        if self._failed is not None or self._closed:
            raise self._error()
        future = self._loop.create_future() if durable else None
        self._queue.put((event, future))
        self._recent.append(event)
        if len(self._recent) > self.KEEP_IN_MEMORY:
            del self._recent[: len(self._recent) // 2]
        if future is not None:
            await future

    def events(self) -> Sequence[AuditEvent]:
        """Recent events as appended, oldest first (read sealed ones with :meth:`leaf`)."""
        return tuple(self._recent)

    async def close(self) -> None:
        """Write what is queued, sign every uncovered tree, then close the file."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(None)
        await asyncio.to_thread(self._writer.join)
        os.close(self._fd)

    # ------------------------------------------------------------------ query side

    def checkpoint(self, tenant: str) -> Checkpoint | None:
        """The latest durable signed checkpoint of ``tenant`` (None before the first)."""
        with self._lock:
            state = self._tenants.get(tenant)
            return state.checkpoint if state else None

    def size(self, tenant: str) -> int:
        """How many of ``tenant``'s leaves are durable."""
        with self._lock:
            state = self._tenants.get(tenant)
            return state.durable if state else 0

    def inclusion_proof(self, tenant: str, index: int, size: int) -> list[bytes]:
        """RFC 9162 inclusion proof of leaf ``index`` in ``tenant``'s tree of ``size`` leaves.

        Raises:
            ValueError: ``size`` exceeds the durable leaves, or ``index`` is not below it.
        """
        with self._lock:
            return self._durable(tenant, size).tree.inclusion_proof(index, size)

    def consistency_proof(self, tenant: str, old_size: int, new_size: int) -> list[bytes]:
        """RFC 9162 consistency proof between two sizes of ``tenant``'s tree.

        Raises:
            ValueError: The sizes are not ``0 <= old_size <= new_size <= durable leaves``.
        """
        with self._lock:
            return self._durable(tenant, new_size).tree.consistency_proof(old_size, new_size)

    def leaf(self, tenant: str, index: int) -> AuditEvent:
        """Leaf ``index`` of ``tenant``'s tree as stored, with ``prev_hash`` and ``hash``.

        Raises:
            ValueError: No such durable leaf.
        """
        with self._lock:
            offset = self._durable(tenant, index + 1).offsets[index] if index >= 0 else -1
        if offset < 0:
            raise ValueError(f"leaf index {index} is negative")
        record = json.loads(self._read_line(offset))
        return AuditEvent.from_json(record["event"])

    def _durable(self, tenant: str, size: int) -> _Tenant:
        state = self._tenants.get(tenant)
        durable = state.durable if state else 0
        if state is None or not 0 <= size <= durable:
            raise ValueError(f"tenant {tenant!r} has {durable} durable leaves, not {size}")
        return state

    def _read_line(self, offset: int) -> bytes:
        chunks: list[bytes] = []
        while True:
            block = os.pread(self._fd, 16384, offset)
            cut = block.find(b"\n")
            if cut >= 0 or not block:
                chunks.append(block if cut < 0 else block[:cut])
                return b"".join(chunks)
            chunks.append(block)
            offset += len(block)

    # ------------------------------------------------------------------ start-up

    def _recover(self) -> int:
        """Rebuild every tenant's tree from the file; return where the next line goes.

        (1) Scan with every hash recomputed; (2) a torn last line is cut off and reported;
        (3) anything else wrong refuses to start; (4) uncovered tails are due for signing.
        """
        offsets: dict[str, array[int]] = {}

        def on_leaf(tenant: str, index: int, offset: int, digest: bytes) -> None:
            offsets.setdefault(tenant, array("Q")).append(offset)

        scanner = Scanner(None, tree=MerkleTree, on_leaf=on_leaf)
        with self._path.open("rb") as handle:  # (1)
            bad = scanner.scan(handle)
        if bad is not None and scanner.torn:  # (2)
            cut = os.fstat(self._fd).st_size - scanner.offset
            os.ftruncate(self._fd, scanner.offset)
            os.fsync(self._fd)
            self.repaired = (
                f"cut an incomplete last line ({cut} bytes at byte {scanner.offset}, line "
                f"{bad.line}) that a crash left mid-write; it was never acknowledged"
            )
            _log.warning("audit log %s: %s", self._path, self.repaired)
        elif bad is not None:  # (3)
            raise AespError(
                "AUDIT_REQUIREMENT_NOT_MET",
                f"The audit log {self._path} is damaged at {bad}; the Host will not extend a "
                "log it cannot verify.",
                remediation_steps=(
                    f"Run `aesp audit verify {self._path} --public-key "
                    f"{public_key_path(self._key_path or Path(SIGNING_KEY_FILE))}` and keep "
                    "its report.",
                    "Move the damaged file aside (never edit it) and restore it from a backup.",
                ),
                escalation_required=True,
            )
        for tenant, found in scanner.tenants.items():  # (4)
            state = self._tenants[tenant] = _Tenant(cast(MerkleTree, found.tree))
            state.offsets = offsets.get(tenant, array("Q"))
            state.last_hash = found.last_hash
            state.checkpoint = found.checkpoint
            state.covered = found.checkpoint.size if found.checkpoint else 0
            state.signed_ms = found.checkpoint.timestamp_ms if found.checkpoint else 0
            state.durable = state.tree.size
            if state.durable > state.covered:
                state.since = 0.0  # NOTE: long ago, so the writer signs it first thing
                self._uncovered[tenant] = state
        return scanner.offset

    # ------------------------------------------------------------------ writer thread

    def _error(self) -> AespError:
        why = self._failed or "it is closed"
        return AespError(
            "AUDIT_REQUIREMENT_NOT_MET",
            f"The audit log cannot be written ({why}); calls are refused until an "
            "operator restores it.",
            escalation_required=True,
        )

    def _write_loop(self) -> None:
        """The writer thread: batch, seal, write, fsync, wake the waiters; stop at the sentinel."""
        stopping = False
        while not stopping:
            batch, stopping = self._take()
            rejected: dict[int, Exception] = {}
            if self._failed is None:
                try:
                    self._commit(batch, rejected, final=stopping)
                except OSError as exc:
                    self._failed = exc.strerror or type(exc).__name__
                except Exception as exc:  # a bug must not leave waiters hanging: fail closed
                    _log.exception("audit writer failed")
                    self._failed = f"internal error: {exc!r}"
            waiters = [(fut, rejected.get(n)) for n, (_, fut) in enumerate(batch) if fut]
            if waiters:
                failed = self._failed is not None
                self._loop.call_soon_threadsafe(self._wake, waiters, failed)

    def _take(self) -> tuple[list[_Item], bool]:
        """Wait for work (or the next time-based checkpoint); drain up to MAX_BATCH."""
        timeout = None
        if self._uncovered and self._failed is None:
            oldest = cast(float, next(iter(self._uncovered.values())).since)
            timeout = max(0.0, oldest + self._interval - time.monotonic())
        try:
            first = self._queue.get(timeout=timeout)
        except queue.Empty:
            return [], False
        if first is None:
            return [], True
        batch = [first]
        while len(batch) < self.MAX_BATCH:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is None:
                return batch, True
            batch.append(item)
        return batch, False

    def _commit(self, batch: list[_Item], rejected: dict[int, Exception], final: bool) -> None:
        """Seal the batch in order, add due checkpoints, write once, fsync once, publish."""
        chunks: list[bytes] = []
        pos = self._end
        now = time.monotonic()
        touched: dict[str, _Tenant] = {}
        signed: list[tuple[_Tenant, Checkpoint]] = []
        # NOTE: only this thread mutates the trees, so it reads them without the lock; the
        # lock covers each mutation, never the whole batch, so a proof query waits microseconds.
        for n, (event, _) in enumerate(batch):
            try:
                line, state = self._seal(event, pos)
            except (ValueError, TypeError) as exc:  # not JSON-able: a programming error
                _log.error("audit event %s not recorded: %s", event.event_id, exc)
                rejected[n] = exc
                continue
            chunks.append(line)
            pos += len(line)
            touched[event.tenant_id] = state
            if state.since is None:
                state.since = now
                self._uncovered[event.tenant_id] = state
            if state.tree.size - state.covered >= self._every:
                chunks.append(self._sign(event.tenant_id, state, signed))
                pos += len(chunks[-1])
        due: list[tuple[str, _Tenant]] = []
        for tenant, state in self._uncovered.items():  # oldest first: stop at a young one
            if not final and now - cast(float, state.since) < self._interval:
                break
            due.append((tenant, state))
        for tenant, state in due:
            chunks.append(self._sign(tenant, state, signed))
        if chunks:
            data = b"".join(chunks)
            self._write(data)
            self._end += len(data)
        with self._lock:  # durable now: proofs and reads may cover it
            for state in touched.values():
                state.durable = state.tree.size
            for state, cp in signed:
                state.checkpoint = cp

    def _seal(self, event: AuditEvent, pos: int) -> tuple[bytes, _Tenant]:
        """The event's leaf line (C-35 hash over fields 1-18 + prev_hash); then grow its tree.

        Everything that can fail runs before the tree changes, so a refused event leaves no
        trace.
        """
        doc = event.to_json()
        for key in _INTEGRITY:  # the log's fields, never the caller's
            doc.pop(key, None)
        tenant = event.tenant_id
        state = self._tenants.get(tenant) or _Tenant(MerkleTree())
        if state.last_hash:
            doc["prev_hash"] = state.last_hash
        digest = _sha256(b"\x00" + canonical(doc)).digest()
        doc["hash"] = hex_hash = digest.hex()
        index = state.tree.size
        record = {"kind": "leaf", "tenant": tenant, "index": index, "event": doc}
        line = canonical(record) + b"\n"
        with self._lock:
            self._tenants[tenant] = state
            state.tree.append(digest)
            state.offsets.append(pos)
        state.last_hash = hex_hash
        return line, state

    def _sign(self, tenant: str, state: _Tenant, signed: list[tuple[_Tenant, Checkpoint]]) -> bytes:
        """A checkpoint line for ``tenant``'s tree as it is now; the tenant is covered again.

        Raises:
            OSError: The log has no signing key, so it cannot keep its promise (fail closed).
        """
        if self._key is None:
            raise OSError(errno.ENOKEY, "no audit signing key (a log on a device needs one)")
        state.signed_ms = max(now_ms(), state.signed_ms)
        cp = sign_checkpoint(self._key, tenant, state.tree.size, state.tree.root(), state.signed_ms)
        state.covered = cp.size
        state.since = None
        self._uncovered.pop(tenant, None)
        signed.append((state, cp))
        return canonical(cp.to_record()) + b"\n"

    def _wake(
        self, waiters: list[tuple[asyncio.Future[None], Exception | None]], failed: bool
    ) -> None:
        for fut, rejected in waiters:
            if fut.done():
                continue
            if failed:
                fut.set_exception(self._error())
            elif rejected is not None:
                fut.set_exception(
                    AespError(
                        "AUDIT_REQUIREMENT_NOT_MET",
                        f"The audit event could not be recorded ({rejected}).",
                    )
                )
            else:
                fut.set_result(None)

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
        _sync(self._fd)


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
