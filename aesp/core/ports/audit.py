"""The Audit port: the log the pipeline writes, and the query side auditors read (SPEC §3.7 (3)).

Two roles, because they have different owners and different clocks (DESIGN §2 principle 2, §8):

* :class:`AuditLog` is the local durable buffer the call path writes through. ``append`` with
  ``durable=True`` returns only once the event is on stable storage (C-36).
* :class:`AuditQuery` answers ``QueryEvents``: filtered, paged, in append order. An
  :class:`AuditIndex` is a query store fed asynchronously from the buffer, at least once, so
  ``index`` is idempotent by ``event_id``.

Three more roles take the log off the Host, all fed by the shipper
(:mod:`aesp.core.audit_shipper`) from the durable file, never from the call path:

* :class:`AuditSink`: a remote event store (a cloud audit trail), at least once, idempotent
  by ``event_id``.
* :class:`AuditArchive`: write-once storage of the log itself, one :class:`AuditSegment` per
  checkpoint (a tenant's leaves since its previous checkpoint plus the checkpoint), so an
  auditor can verify the archive offline.
* :class:`CheckpointSigner`: the key that signs the archived checkpoints (a cloud key
  service); the Host's local Ed25519 key is its embedded realisation.

Neither role has an update or delete method (item 190); retention (item 193) is a separate,
later process. Tenant scoping is the caller's duty: a tenant principal's query must carry its
own ``tenant_id`` (item 184); ``tenant_id=None`` is for platform callers only.

:class:`~aesp.core.audit.AuditEvent` lives in :mod:`aesp.core.audit`, which re-exports these
Protocols; it is imported here only for type checking so the two modules do not import each
other at start-up.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from aesp.core.ports._paging import Page

if TYPE_CHECKING:
    from aesp.core.audit import AuditEvent
    from aesp.core.audit_keys import Checkpoint


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """Which events a query selects; every field that is set must match (logical AND).

    Attributes:
        tenant_id: Only this tenant's events (``""`` = system-level events). ``None`` = every
            tenant, which only platform callers may ask for; the caller enforces that.
        start_ms: Only events with ``timestamp_ms >= start_ms``; None = no lower bound.
        end_ms: Only events with ``timestamp_ms < end_ms`` (half-open, so consecutive windows
            never count an event twice); None = no upper bound.
        event_types: Only events whose ``event_type`` is one of these; empty = any type.
        principal_id: Only this principal's events; None = any.
        session_id: Only this session's events; None = any.
        correlation_id: Only events of this correlation id; None = any.
        outcome: Only events with this outcome (``SUCCESS``, ``DENIED``, ...); None = any.
    """

    tenant_id: str | None = None
    start_ms: int | None = None
    end_ms: int | None = None
    event_types: tuple[str, ...] = ()
    principal_id: str | None = None
    session_id: str | None = None
    correlation_id: str | None = None
    outcome: str | None = None

    def __post_init__(self) -> None:
        # A bare string would silently become a set of one-letter types and match nothing.
        if isinstance(self.event_types, str):
            raise TypeError("AuditFilter.event_types must be a sequence of types, not a string")
        object.__setattr__(self, "event_types", tuple(self.event_types))

    def matches(self, event: AuditEvent) -> bool:
        """True when ``event`` passes every condition (the reference for every realisation)."""
        return (
            (self.tenant_id is None or event.tenant_id == self.tenant_id)
            and (self.start_ms is None or event.timestamp_ms >= self.start_ms)
            and (self.end_ms is None or event.timestamp_ms < self.end_ms)
            and (not self.event_types or event.event_type in self.event_types)
            and (self.principal_id is None or event.principal_id == self.principal_id)
            and (self.session_id is None or event.session_id == self.session_id)
            and (self.correlation_id is None or event.correlation_id == self.correlation_id)
            and (self.outcome is None or event.outcome == self.outcome)
        )


@runtime_checkable
class AuditLog(Protocol):
    """Append-only audit storage: the local durable buffer of the call path (C-36).

    Implementations never update or delete an event. ``append`` must be safe to call
    concurrently from many calls.
    """

    async def append(self, event: AuditEvent, *, durable: bool = False) -> None:
        """Record ``event``.

        Args:
            event: The event.
            durable: Return only after the event is on stable storage.

        Raises:
            AespError: ``AUDIT_REQUIREMENT_NOT_MET`` when the event cannot be recorded.
        """
        ...

    def events(self) -> Sequence[AuditEvent]:
        """Events recorded by this process, oldest first (for operators' and tests' queries)."""
        ...

    async def close(self) -> None:
        """Flush and release the storage."""
        ...


@runtime_checkable
class AuditQuery(Protocol):
    """Reads audit events (``QueryEvents``, item 191). Safe for concurrent use by several Hosts.

    Order is append order, oldest first: the order in which this store accepted the events,
    which is also the order of the Merkle log built on it, not a sort by ``timestamp_ms``.
    Paging never skips or repeats an event, even while events are being appended: an event
    appended during paging appears on a later page or not at all, never before the cursor.
    """

    async def query(
        self, flt: AuditFilter, *, limit: int = 0, cursor: str = ""
    ) -> Page[AuditEvent]:
        """One page of the events ``flt`` selects, in append order.

        Args:
            flt: The selection; see :class:`AuditFilter` for what ``None`` means.
            limit: Page size, clamped to ``[1, MAX_PAGE]``; 0 = the default.
            cursor: ``""`` for the first page, else a ``next_cursor`` this store returned for
                the same filter.

        Returns:
            The page; ``next_cursor`` is empty on the last page.

        Raises:
            ValueError: ``cursor`` was not returned by this store (the edge answers
                ``MALFORMED_REQUEST``).
        """
        ...

    async def count(self, flt: AuditFilter) -> int:
        """How many events ``flt`` selects now (the total a full paging would return)."""
        ...

    async def close(self) -> None:
        """Release connections and files."""
        ...


@runtime_checkable
class AuditIndex(AuditQuery, Protocol):
    """A query store fed from the durable buffer by a shipper (DESIGN §2 principle 2).

    Shipping is at least once, so ``index`` is idempotent by ``event_id``: an id already indexed
    is skipped, and the first indexed version of an event is kept forever; a later event with
    the same id never replaces it (that would be an update, item 190).
    """

    async def index(self, events: Sequence[AuditEvent]) -> int:
        """Add ``events`` in the given order, as one batch (all or none on failure).

        Returns:
            How many events were new; the rest were already indexed.
        """
        ...


@runtime_checkable
class AuditSink(Protocol):
    """A remote store the shipper copies every leaf event into, at least once.

    Delivery is at least once (the shipper re-sends a batch after a crash or a failure), so
    ``ship`` is idempotent by ``event_id``: an id the store already holds is not stored twice.
    """

    async def ship(self, events: Sequence[AuditEvent]) -> None:
        """Store ``events`` (at most the shipper's batch size, in log order).

        Raises:
            Exception: Any event is not stored; the shipper keeps its position and retries
                the whole batch with backoff, so a partial success must be safe to repeat.
        """
        ...

    async def close(self) -> None:
        """Release connections."""
        ...


@dataclass(frozen=True, slots=True)
class AuditSegment:
    """One tenant's leaves since its previous checkpoint, and the checkpoint that covers them.

    Attributes:
        tenant: The tenant (``""`` = system events).
        first: Index of the first leaf (the previous checkpoint's size, 0 for the first).
        checkpoint: The signed tree head at ``checkpoint.size`` (signed by the archive's
            :class:`CheckpointSigner`).
        lines: The leaf lines ``first .. checkpoint.size - 1`` exactly as in the log, then the
            checkpoint's line: a tenant's segments concatenated from ``first == 0`` are a log
            file that ``aesp audit verify`` checks with the signer's public key.
    """

    tenant: str
    first: int
    checkpoint: Checkpoint
    lines: bytes

    @property
    def size(self) -> int:
        """The tree size the segment ends at."""
        return self.checkpoint.size


@runtime_checkable
class AuditArchive(Protocol):
    """Write-once storage of the audit log's segments (retention locked by the store).

    Segments arrive in order per tenant, at least once: ``archive`` is idempotent by
    (tenant, size).
    """

    async def archive(self, segment: AuditSegment) -> None:
        """Store ``segment`` durably.

        Raises:
            Exception: The segment is not stored; the archiver retries it.
        """
        ...

    async def close(self) -> None:
        """Release connections."""
        ...


@runtime_checkable
class CheckpointSigner(Protocol):
    """A key that signs checkpoint bodies (:func:`aesp.core.audit_keys.checkpoint_body`).

    ``sign`` may reach a remote key service, so it is async and is only ever called off the
    call path (by the archiver); the local log signs with the Ed25519 file key in its writer.

    Attributes:
        algorithm: ``ED25519`` or ``ECDSA_P256_SHA256`` (DER signature over SHA-256 of the body).
        key_id: :func:`aesp.core.audit_keys.key_id` of the public key, which checkpoints name.
    """

    @property
    def algorithm(self) -> str:
        """The signature algorithm (see the class docstring)."""
        ...

    @property
    def key_id(self) -> str:
        """The id checkpoints name the key by."""
        ...

    def public_key_pem(self) -> bytes:
        """The SubjectPublicKeyInfo PEM that verifies the signatures."""
        ...

    async def sign(self, message: bytes) -> bytes:
        """The signature of ``message`` (a checkpoint body).

        Raises:
            Exception: The key cannot sign now; the caller retries later.
        """
        ...

    async def close(self) -> None:
        """Release connections."""
        ...
