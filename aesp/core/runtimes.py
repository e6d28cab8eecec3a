"""Runtime connections: announce, attach the work stream, fulfil, route, deliver, detach.

A Runtime's identity and tenant are its verified certificate's (C-2, C-40), never what it
announces. A connection is *announced* by ``AnnounceRuntime`` and becomes usable when the
Runtime opens its ``Connect`` stream with the connection id, from the same certificate.

Fulfilment is per session (GRID F2), or tenant-wide when ``session_id`` is empty: the Runtime
then serves every session of its tenant, present and future (docs/protocol-decisions.md).
Routing picks, among attached Runtimes of the session's tenant that fulfil the tool and whose
breaker admits a call, the one with the fewest calls in flight.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from aesp.core import ids
from aesp.core.breaker import CircuitBreaker
from aesp.core.config import BreakerConfig
from aesp.core.contracts import ToolContract
from aesp.core.errors import AespError, ExecutionError, StateError
from aesp.core.identity import CertificateIdentity
from aesp.core.messages import (
    Announcement,
    Cancel,
    OutboundMessage,
    RuntimeChunk,
    RuntimeResult,
)
from aesp.core.principal import Principal
from aesp.core.sessions import Session

STREAMING = "streaming"
OUTBOX_LIMIT = 10_000  # calls queued to one Runtime before the Host refuses more
RECENT_LIMIT = 4_096  # finished invocation ids remembered per connection, to drop late answers


@dataclass(eq=False)
class Invocation:
    """One dispatch in flight."""

    invocation_id: str
    session: Session
    contract: ToolContract
    connection: RuntimeConnection
    call_id: str
    streaming: bool
    future: asyncio.Future[RuntimeResult] | None = None
    chunks: asyncio.Queue[RuntimeChunk | AespError] | None = None
    next_chunk_id: int = 0
    done: bool = False
    answered: bool = False  # the Runtime delivered the result or the final chunk


@dataclass(eq=False)
class RuntimeConnection:
    """One announced Runtime instance."""

    connection_id: str
    runtime_id: str
    principal: Principal
    certificate: CertificateIdentity
    capabilities: frozenset[str]
    declared_contracts: frozenset[str]
    negotiated_level: int
    breaker: CircuitBreaker
    outbox: asyncio.Queue[OutboundMessage] = field(default_factory=asyncio.Queue)
    attached: bool = False
    closed: bool = False
    last_seen: float = field(default_factory=time.monotonic)
    in_flight: dict[str, Invocation] = field(default_factory=dict)
    fulfilled: set[tuple[str, str]] = field(default_factory=set)  # (session id or "", tool)
    recent: OrderedDict[str, bool] = field(default_factory=OrderedDict)  # finished id -> answered

    @property
    def tenant_id(self) -> str:
        """The tenant of the certificate (C-40)."""
        return self.principal.tenant_id

    def declares(self, name: str) -> bool:
        """Whether ``name`` is within the declared capability set (C-53); empty = no limit."""
        if not self.declared_contracts:
            return True
        return name in self.declared_contracts or any(
            d.split("@", 1)[0] == name for d in self.declared_contracts
        )

    def finish(self, invocation_id: str) -> None:
        """Forget an invocation, remembering its id so a late answer is recognised (C-45)."""
        inv = self.in_flight.pop(invocation_id, None)
        self.recent[invocation_id] = inv is not None and inv.answered
        if len(self.recent) > RECENT_LIMIT:
            self.recent.popitem(last=False)

    def send(self, message: OutboundMessage) -> None:
        """Queue a message on the work stream."""
        if self.outbox.qsize() >= OUTBOX_LIMIT:
            raise ExecutionError(
                "RESOURCE_EXHAUSTED",
                f"Runtime '{self.runtime_id}' has {OUTBOX_LIMIT} calls queued; try again later.",
                retry_after_ms=500,
            )
        self.outbox.put_nowait(message)


class RuntimeRegistry:
    """All Runtime connections of this Host."""

    def __init__(
        self,
        breaker: BreakerConfig,
        *,
        on_violation: Callable[[RuntimeConnection, str, str], None],
    ) -> None:
        self._breaker_cfg = breaker
        self._connections: dict[str, RuntimeConnection] = {}
        self._breakers: dict[tuple[str, str], CircuitBreaker] = {}
        self._tenant_fulfilments: dict[str, dict[str, list[str]]] = {}
        self._on_violation = on_violation

    def connections(self) -> list[RuntimeConnection]:
        """Every known connection."""
        return list(self._connections.values())

    def register(
        self, principal: Principal, certificate: CertificateIdentity, ann: Announcement, level: int
    ) -> RuntimeConnection:
        """Record an announced connection; the breaker survives reconnects of the same Runtime."""
        key = (principal.principal_id, ann.runtime_id)
        breaker = self._breakers.get(key)
        if breaker is None:
            breaker = self._breakers[key] = CircuitBreaker(self._breaker_cfg)
        conn = RuntimeConnection(
            connection_id=ids.connection_id(),
            runtime_id=ann.runtime_id,
            principal=principal,
            certificate=certificate,
            capabilities=frozenset(ann.capabilities),
            declared_contracts=frozenset(ann.declared_contracts),
            negotiated_level=level,
            breaker=breaker,
        )
        self._connections[conn.connection_id] = conn
        return conn

    def attach(self, connection_id: str, principal: Principal) -> RuntimeConnection:
        """Bind the work stream to an announced connection from the same certificate.

        Raises:
            StateError: ``PROTOCOL_VIOLATION`` for an unknown, foreign or already attached id.
        """
        conn = self._connections.get(connection_id)
        if conn is None or conn.closed or conn.principal.principal_id != principal.principal_id:
            raise StateError(
                "PROTOCOL_VIOLATION",
                "Unknown connection id for this certificate; call AnnounceRuntime first.",
            )
        if conn.attached:
            raise StateError("PROTOCOL_VIOLATION", "This connection already has a work stream.")
        conn.attached = True
        conn.last_seen = time.monotonic()
        return conn

    def find(self, principal: Principal, runtime_id: str) -> RuntimeConnection | None:
        """The newest open connection of this certificate announced as ``runtime_id``."""
        found = None
        for conn in self._connections.values():
            if (
                not conn.closed
                and conn.runtime_id == runtime_id
                and conn.principal.principal_id == principal.principal_id
            ):
                found = conn
        return found

    def fulfil(self, conn: RuntimeConnection, session: Session | None, name: str) -> None:
        """Record that ``conn`` executes ``name`` for ``session`` (None = its whole tenant)."""
        if session is None:
            table = self._tenant_fulfilments.setdefault(conn.tenant_id, {})
            key = ""
        else:
            table = session.fulfilments
            key = session.session_id
        holders = table.setdefault(name, [])
        if conn.connection_id not in holders:
            holders.append(conn.connection_id)
        conn.fulfilled.add((key, name))

    def candidates(self, session: Session, name: str) -> list[RuntimeConnection]:
        """Attached connections of the session's tenant that fulfil ``name`` for it (item 93)."""
        ids_ = list(session.fulfilments.get(name, ()))
        ids_ += self._tenant_fulfilments.get(session.tenant_id, {}).get(name, ())
        out = []
        for cid in ids_:
            conn = self._connections.get(cid)
            # NOTE: the tenant check repeats the one made at fulfilment on purpose (item 182).
            if conn and conn.attached and not conn.closed and conn.tenant_id == session.tenant_id:
                out.append(conn)
        return out

    def pick(self, session: Session, name: str, *, need_streaming: bool) -> RuntimeConnection:
        """Choose a Runtime for a call (SPEC §3.19 step 10).

        Raises:
            ExecutionError: ``UNSUPPORTED_TOOL`` when no Runtime fulfils the tool for the session;
                ``FEATURE_UNAVAILABLE`` when none that does can stream;
                ``SERVICE_UNAVAILABLE`` (with ``retry_after_ms``) when only breakers block.
        """
        found = self.candidates(session, name)
        if not found:
            raise ExecutionError(
                "UNSUPPORTED_TOOL",
                f"No runtime currently fulfils '{name}' for this session; start a runtime that "
                "serves it.",
            )
        if need_streaming:
            found = [c for c in found if STREAMING in c.capabilities and c.negotiated_level >= 1]
            if not found:
                raise ExecutionError(
                    "FEATURE_UNAVAILABLE",
                    f"No runtime fulfilling '{name}' supports streaming.",
                )
        found.sort(key=lambda c: len(c.in_flight))
        for conn in found:
            if conn.breaker.allows():
                return conn
        wait = min(c.breaker.retry_after_ms() for c in found) or 1000
        raise ExecutionError(
            "SERVICE_UNAVAILABLE",
            f"Every runtime fulfilling '{name}' is failing and temporarily out of service.",
            retry_after_ms=wait,
        )

    def deliver_result(self, conn: RuntimeConnection, result: RuntimeResult) -> None:
        """Complete a dispatch with the Runtime's result (items 95, 96 are checked by the caller)."""
        inv = conn.in_flight.get(result.invocation_id)
        answered = conn.recent.get(result.invocation_id)
        if answered is not None or (inv is not None and inv.done):
            # NOTE: dropped and audited; a late answer to a timed-out call is expected now and
            # then, so these never trip the breaker (C-45, item 95).
            late = answered is False or (inv is not None and not inv.answered)
            why = "a late result for a timed-out or cancelled call" if late else "a second result"
            self._on_violation(conn, result.invocation_id, why)
            return
        if inv is None or inv.streaming or inv.future is None:
            self._on_violation(conn, result.invocation_id, "result for an unknown invocation")
            return
        inv.done = inv.answered = True
        if not inv.future.done():
            inv.future.set_result(result)

    def deliver_chunk(self, conn: RuntimeConnection, chunk: RuntimeChunk) -> None:
        """Forward a stream chunk after checking its sequence (items 99-102)."""
        inv = conn.in_flight.get(chunk.invocation_id)
        if chunk.invocation_id in conn.recent or (inv is not None and inv.done):
            self._on_violation(conn, chunk.invocation_id, "a chunk after the stream ended")
            return  # dropped (items 101, C-45)
        if inv is None or not inv.streaming or inv.chunks is None:
            self._on_violation(conn, chunk.invocation_id, "chunk for an unknown invocation")
            return
        if chunk.chunk_id != inv.next_chunk_id:
            inv.done = True
            conn.outbox.put_nowait(Cancel(inv.invocation_id, "chunk out of sequence"))
            self._on_violation(conn, inv.invocation_id, "chunk out of sequence")
            inv.chunks.put_nowait(
                StateError(
                    "PROTOCOL_VIOLATION",
                    f"The runtime sent chunk {chunk.chunk_id} where {inv.next_chunk_id} was "
                    "expected; the stream was stopped.",
                )
            )
            return
        inv.next_chunk_id += 1
        if chunk.is_final or chunk.error_code:
            inv.done = inv.answered = True
        inv.chunks.put_nowait(chunk)

    def detach(self, conn: RuntimeConnection, reason: str) -> int:
        """Forget a connection; every call in flight on it fails at once (never hangs)."""
        if conn.closed:
            return 0
        conn.closed = True
        conn.attached = False
        self._connections.pop(conn.connection_id, None)
        for key, name in conn.fulfilled:
            table = self._tenant_fulfilments.get(conn.tenant_id, {}) if key == "" else None
            holders = table.get(name) if table is not None else None
            if holders and conn.connection_id in holders:
                holders.remove(conn.connection_id)
        failed = 0
        for inv in list(conn.in_flight.values()):
            if inv.done:
                continue
            inv.done = True
            failed += 1
            error = ExecutionError(
                "CONNECTION_FAILED",
                f"Runtime '{conn.runtime_id}' disconnected while running '{inv.contract.name}' "
                f"({reason}); the call may or may not have taken effect.",
                retry_after_ms=1000,
            )
            if inv.future is not None and not inv.future.done():
                inv.future.set_exception(error)
            if inv.chunks is not None:
                inv.chunks.put_nowait(error)
        conn.in_flight.clear()
        return failed

    def drop_session(self, session: Session) -> None:
        """Forget per-session fulfilments of a closed session."""
        for name, holders in session.fulfilments.items():
            for cid in holders:
                conn = self._connections.get(cid)
                if conn is not None:
                    conn.fulfilled.discard((session.session_id, name))
