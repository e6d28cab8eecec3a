"""Offline verification of an audit log file, and the scan the Host repeats when it restarts.

An auditor runs this (``aesp audit verify``) with nothing but the file and the public key
(DESIGN §2 principle 5, §8). The file is JSON lines, each the canonical JSON of one record:

* ``{"event":{...},"index":i,"kind":"leaf","tenant":T}``: leaf ``i`` of tenant ``T``'s tree.
  The event carries ``prev_hash`` (the previous leaf's hash in that tree, absent for the
  first) and ``hash`` = hex(SHA-256(0x00 || canonical_json(event without "hash"))), the RFC
  9162 leaf hash (C-35: fields 1-18 plus ``prev_hash``).
* ``{"key_id":..,"kind":"checkpoint","origin":..,"root":..,"signature":..,"size":n,"tenant":T,
  "timestamp_ms":..}``: a signed tree head (:mod:`aesp.core.audit_keys`), written right after
  the leaf that made its tree ``n`` leaves long.

Checks, line by line, stopping at the first bad entry (line number, tenant, index, event id and
what is wrong): (1) each line is complete and is exactly the canonical JSON of its record
(so no duplicate key or re-encoding can make two readers see different events); (2) leaf
indices are contiguous per tenant; (3) ``prev_hash`` chains; (4) each leaf hash is recomputed;
(5) each checkpoint sits where its tree has ``size`` leaves, its root is recomputed from the
leaves, its time does not go backwards, and its signature verifies with a given key (Ed25519,
or ECDSA P-256 with SHA-256 for a key held by a cloud key service; the record names its
``algorithm``, see :mod:`aesp.core.audit_keys`). Roots are
recomputed from the same leaf stream, so two checkpoints of a tenant are consistent by
construction. Leaves after a tenant's last checkpoint are reported as not yet covered; with
``require_covered`` they are an error. Trusted checkpoints the auditor already holds (from an
earlier export or the query API) catch a file cut at a line boundary: the file must reach them
with the same roots.

Cost: one JSON parse, two canonical encodings and about two SHA-256 per line; memory is
O(log n) per tenant (a :class:`~aesp.core.merkle.CompactTree`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, NoReturn, Protocol

from aesp.adm import canonical_json
from aesp.core.audit_keys import Checkpoint, CheckpointError, PublicKey, key_id, origin
from aesp.core.merkle import CompactTree

__all__ = [
    "BadEntry",
    "Scanner",
    "TenantSummary",
    "VerifyReport",
    "canonical",
    "verify_file",
]


def _not_json(value: object) -> object:
    raise TypeError(f"a {type(value).__name__} is not a JSON value")


def _make_encoder() -> Callable[[Any], str]:
    """Sorted keys, no whitespace, non-ASCII kept, NaN refused: the C encoder when present.

    NOTE: ``json.encoder.c_make_encoder`` called directly skips the per-call set-up of
    ``JSONEncoder.encode`` (about 2.5 µs of ~6 µs per event, twice per line when verifying).
    """
    make = json.encoder.c_make_encoder
    if make is None:  # pragma: no cover - interpreters without the C accelerator
        return json.JSONEncoder(
            ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False
        ).encode
    chunks = make(
        None, _not_json, json.encoder.encode_basestring, None, ":", ",", True, False, False
    )
    return lambda value: "".join(chunks(value, 0))


_encode = _make_encoder()
_loads = json.loads
_sha256 = hashlib.sha256


def canonical(value: Any) -> bytes:
    """The project's canonical JSON bytes (:func:`aesp.adm.canonical_json`), fast path first.

    NOTE: the C encoder sorts keys by code point; RFC 8785 sorts by UTF-16 code units. The two
    agree on ASCII keys, so an all-ASCII result is already canonical; anything else takes the
    reference encoder.
    """
    text = _encode(value)
    return text.encode() if text.isascii() else canonical_json(value)


class Tree(Protocol):
    """What the scan needs of a tree (both :mod:`aesp.core.merkle` trees fit)."""

    size: int

    def append(self, leaf: bytes) -> None:
        """Add a leaf hash."""
        ...

    def root(self) -> bytes:
        """The root of every leaf so far."""
        ...


@dataclass(frozen=True, slots=True)
class BadEntry:
    """The first entry that fails verification."""

    line: int
    tenant: str | None
    index: int | None
    event_id: str
    problem: str

    def __str__(self) -> str:
        where = f"line {self.line}"
        if self.tenant is not None:
            where += f", tenant {self.tenant!r}"
        if self.index is not None:
            where += f", index {self.index}"
        if self.event_id:
            where += f", event {self.event_id}"
        return f"{where}: {self.problem}"


@dataclass(frozen=True, slots=True)
class TenantSummary:
    """One tenant's tree as verified."""

    tenant: str
    origin: str
    leaves: int
    checkpointed: int  # leaves covered by the last valid checkpoint
    root: str  # hex root at ``leaves``


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """What :func:`verify_file` found; ``bad`` is None when the whole file verified."""

    path: str
    lines: int
    leaves: int
    checkpoints: int
    tenants: tuple[TenantSummary, ...]
    bad: BadEntry | None

    @property
    def valid(self) -> bool:
        """True when no entry failed."""
        return self.bad is None

    def to_json(self) -> dict[str, object]:
        """A JSON-able form (``aesp audit verify --json``)."""
        return {
            "path": self.path,
            "valid": self.valid,
            "lines": self.lines,
            "leaves": self.leaves,
            "checkpoints": self.checkpoints,
            "tenants": [asdict(t) | {"uncovered": t.leaves - t.checkpointed} for t in self.tenants],
            "first_bad_entry": None if self.bad is None else asdict(self.bad),
        }


class _Bad(Exception):
    def __init__(self, entry: BadEntry) -> None:
        super().__init__(str(entry))
        self.entry = entry


@dataclass(slots=True)
class TenantState:
    """A tenant's tree while scanning."""

    tree: Tree
    last_hash: str = ""
    checkpoint: Checkpoint | None = None
    first_uncovered: tuple[int, str] | None = None  # (line, event id) after the checkpoint
    trusted: list[Checkpoint] = field(default_factory=list)


class Scanner:
    """Checks an audit log line by line; :meth:`scan` stops at the first :class:`BadEntry`.

    The state it leaves (``tenants``) is the verified log: the Host rebuilds from it.

    Args:
        keys: Trusted public keys by key id; None skips signature checks (the Host's own
            restart scan: it holds the private key, and a rotated key must not stop it).
        tree: Makes each tenant's tree (a ``CompactTree`` for audits, a ``MerkleTree`` when
            the caller needs proofs afterwards).
        on_leaf: Called with (tenant, index, byte offset, leaf hash) for every good leaf.
    """

    def __init__(
        self,
        keys: dict[str, PublicKey] | None,
        *,
        tree: Callable[[], Tree] = CompactTree,
        on_leaf: Callable[[str, int, int, bytes], None] | None = None,
    ) -> None:
        self.keys = keys
        self.tenants: dict[str, TenantState] = {}
        self.lines = self.leaves = self.checkpoints = self.offset = 0
        self.torn = False
        self._at: tuple[str | None, int | None, str] = (None, None, "")
        self._tree = tree
        self._on_leaf = on_leaf

    def state(self, tenant: str) -> TenantState:
        """The tenant's state, created empty on first use."""
        found = self.tenants.get(tenant)
        if found is None:
            found = self.tenants[tenant] = TenantState(self._tree())
        return found

    def scan(self, handle: Iterable[bytes]) -> BadEntry | None:
        """Feed every line of ``handle``; stop at and return the first bad entry.

        After a bad entry, ``offset`` is where its line starts and ``torn`` says whether it was
        an incomplete last line (a write cut short by a crash) rather than a wrong one.
        """
        for raw in handle:
            try:
                self.feed(raw, self.offset)
            except _Bad as exc:
                self.torn = not raw.endswith(b"\n")
                return exc.entry
            self.offset += len(raw)
        return None

    def feed(self, raw: bytes, offset: int) -> None:
        """Check one line (with its ``\\n``) that starts at byte ``offset``.

        Raises:
            _Bad: The line is the first bad entry.
        """
        self.lines += 1
        self._at = (None, None, "")
        if not raw.endswith(b"\n"):
            self._fail("the line is incomplete (no newline): the file was cut")
        try:
            record = _loads(raw)
        except ValueError:
            self._fail("the line is not JSON")
        if type(record) is not dict:
            self._fail("the line is not a JSON object")
        kind = record.get("kind")
        if kind == "leaf":
            self._leaf(record, raw, offset)
        elif kind == "checkpoint":
            self._checkpoint(record, raw)
        else:
            self._fail(f"unknown record kind {kind!r}")

    def _leaf(self, record: dict[str, Any], raw: bytes, offset: int) -> None:
        event, tenant, index = record.get("event"), record.get("tenant"), record.get("index")
        if type(event) is not dict or type(tenant) is not str or type(index) is not int:
            self._fail("a leaf record needs an event object, a tenant and an index")
        event_id = str(event.get("event_id", ""))
        self._at = (tenant, index, event_id)
        state = self.state(tenant)
        size = state.tree.size
        if index != size:
            self._fail(f"index {index}, expected {size}: a leaf is missing, repeated or moved")
        recorded = event.pop("hash", None)
        if event.get("prev_hash", "") != state.last_hash:
            self._fail(
                "prev_hash is not the hash of the tenant's previous leaf: an entry was "
                "altered, dropped or moved"
            )
        if event.get("tenant_id", "") != tenant:
            self._fail("the event's tenant_id is not its tree's tenant")
        try:
            digest = _sha256(b"\x00" + canonical(event)).digest()
        except (ValueError, TypeError) as exc:
            self._fail(f"the event cannot be hashed ({exc})")
        hex_hash = digest.hex()
        if recorded != hex_hash:
            self._fail(f"hash {recorded} is not the event's (recomputed {hex_hash}): altered")
        event["hash"] = recorded
        if canonical(record) != raw[:-1]:
            self._fail("the line is not the canonical JSON of its record")
        state.tree.append(digest)
        state.last_hash = hex_hash
        self.leaves += 1
        if state.first_uncovered is None:
            state.first_uncovered = (self.lines, event_id)
        for trusted in state.trusted:
            if trusted.size == size + 1 and trusted.root != state.tree.root():
                self._fail(f"leaves 0..{size} differ from the trusted checkpoint: rewritten")
        if self._on_leaf is not None:
            self._on_leaf(tenant, index, offset, digest)

    def _checkpoint(self, record: dict[str, Any], raw: bytes) -> None:
        tenant = record.get("tenant")
        self._at = (tenant if isinstance(tenant, str) else None, None, "")
        try:
            cp = Checkpoint.from_record(record)
        except CheckpointError as exc:
            self._fail(f"checkpoint: {exc}")
        if canonical(record) != raw[:-1]:
            self._fail("the line is not the canonical JSON of its record")
        state = self.state(cp.tenant)
        size = state.tree.size
        if cp.size != size:
            self._fail(f"checkpoint of size {cp.size} is not right after leaf {cp.size - 1}")
        previous = state.checkpoint
        if previous is not None and cp.timestamp_ms < previous.timestamp_ms:
            self._fail("checkpoint time goes backwards")
        if cp.root != state.tree.root():
            since = previous.size if previous else 0
            self._fail(
                f"checkpoint root is not that of the leaves: one of {since}..{size - 1} was altered"
            )
        if self.keys is not None:
            try:
                cp.verify(self.keys)
            except CheckpointError as exc:
                self._fail(f"checkpoint of size {cp.size} {exc}")
        state.checkpoint = cp
        state.first_uncovered = None
        self.checkpoints += 1

    def _fail(self, problem: str) -> NoReturn:
        tenant, index, event_id = self._at
        raise _Bad(BadEntry(self.lines, tenant, index, event_id, problem))

    def finish(self, require_covered: bool) -> BadEntry | None:
        """End-of-file checks: trusted checkpoints reached; with ``require_covered``, no tail."""
        end = self.lines + 1
        for tenant, state in self.tenants.items():
            for trusted in state.trusted:
                if trusted.size > state.tree.size:
                    return BadEntry(
                        end,
                        tenant,
                        state.tree.size,
                        "",
                        f"the file ends after "
                        f"{state.tree.size} leaves but a trusted checkpoint covers "
                        f"{trusted.size}: the file was truncated",
                    )
        if require_covered:
            tails = [(s.first_uncovered, t) for t, s in self.tenants.items() if s.first_uncovered]
            if tails:
                (line, event_id), tenant = min(tails)
                state = self.tenants[tenant]
                index = state.checkpoint.size if state.checkpoint else 0
                return BadEntry(
                    line,
                    tenant,
                    index,
                    event_id,
                    "not covered by any checkpoint "
                    "(the file was cut, or the Host has not signed it yet)",
                )
        return None

    def summaries(self) -> tuple[TenantSummary, ...]:
        """Per-tenant results, tenants sorted."""
        return tuple(
            TenantSummary(
                t,
                origin(t),
                s.tree.size,
                s.checkpoint.size if s.checkpoint else 0,
                s.tree.root().hex(),
            )
            for t, s in sorted(self.tenants.items())
        )


def verify_file(
    path: Path,
    public_keys: Sequence[PublicKey],
    *,
    trusted: Iterable[Checkpoint] = (),
    require_covered: bool = False,
) -> VerifyReport:
    """Verify an audit log file offline (see the module docstring for every check).

    Args:
        path: The exported log (or the Host's own file).
        public_keys: Keys allowed to have signed checkpoints (more than one after a rotation,
            or the local Ed25519 key and a key service's ECDSA P-256 key side by side).
        trusted: Checkpoints the auditor already holds; the file must reach them unchanged.
        require_covered: Treat leaves after a tenant's last checkpoint as an error.

    Returns:
        The report; ``report.bad`` names the first bad entry.

    Raises:
        OSError: The file cannot be read.
        CheckpointError: A trusted checkpoint's own signature does not verify.
    """
    keys = {key_id(k): k for k in public_keys}
    scanner = Scanner(keys)
    for cp in trusted:
        cp.verify(keys)
        scanner.state(cp.tenant).trusted.append(cp)
    with path.open("rb") as handle:
        bad = scanner.scan(handle)
    if bad is None:
        bad = scanner.finish(require_covered)
    return VerifyReport(
        str(path), scanner.lines, scanner.leaves, scanner.checkpoints, scanner.summaries(), bad
    )
