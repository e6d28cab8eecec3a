"""Sessions shared by Host replicas through the State port (DESIGN §10).

A session is created on one Host, but a load balancer may send its next call to another. Each
Host keeps the sessions it uses in memory (:class:`~aesp.core.sessions.SessionManager`); this
module publishes every new session's record to the State port, and adopts a session it does
not hold from that record on first use. After that, calls on the session read memory only.

Staying current without waiting on the store (decide locally, DESIGN §2 principle 2):

* A Host re-reads the record of a session it holds at most every ``recheck_ms``, in the
  background, after a call used it; a session destroyed on another Host is refused here
  within about that interval. A store that cannot be reached keeps the session as it is.
* Publishing a new session's record is retried in the background when the store cannot be
  reached: the session works at once on the Host that created it, and on the others once the
  record is stored.
* The tenant and principal of an adopted session are the record's, written by the Host that
  verified them; the caller must still be that principal of that tenant (``resolve``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from aesp.core import ids
from aesp.core.errors import AespError
from aesp.core.ports.state import SessionRecord, StateStore
from aesp.core.principal import Principal
from aesp.core.sessions import Session, SessionManager

log = logging.getLogger(__name__)

RECHECK_MS = 5_000  # how stale a held session's record may be before it is read again
PUBLISH_RETRY_S = (0.2, 0.5, 1.0, 2.0, 5.0)  # then every 5 s until stored or expired


class SharedSessions:
    """Publishes, adopts and re-checks sessions through a :class:`StateStore`.

    Args:
        sessions: The Host's session manager (the only place sessions live in memory).
        store: The State port.
        spawn: Runs a background coroutine (the Host's task set, so stop() waits for it).
        recheck_ms: See the module docstring.
    """

    def __init__(
        self,
        sessions: SessionManager,
        store: StateStore,
        spawn: Callable[[Coroutine[Any, Any, None]], None],
        *,
        recheck_ms: int = RECHECK_MS,
    ) -> None:
        self._sessions = sessions
        self._store = store
        self._spawn = spawn
        self._recheck_ms = recheck_ms
        self._checked: dict[str, int] = {}  # session id -> when its record was last read
        self._checking: set[str] = set()

    async def publish(self, session: Session) -> None:
        """Store the record of a session this Host created (retried in the background)."""
        record = _record(session)
        self._checked[session.session_id] = ids.now_ms()
        try:
            await self._store.put_session(record)
        except AespError as exc:
            log.warning("session %s not shared yet (%s); retrying", session.session_id, exc)
            self._spawn(self._publish_later(session, record))

    async def resolve(self, session_id: str, principal: Principal) -> Session:
        """The session for a call, adopted from the store when another Host created it.

        Raises:
            The errors of :meth:`SessionManager.resolve` (``INVALID_SESSION``, ...); a store
            that cannot be reached for an unknown session gives ``INVALID_SESSION`` too, with
            a retry hint.
        """
        held = self._sessions.held(session_id) if session_id else None
        if held is None and session_id:
            await self._adopt(session_id)
        elif held is not None:
            self._maybe_recheck(session_id)
        return self._sessions.resolve(session_id, principal)

    async def forget(self, session: Session) -> None:
        """Delete the record of a destroyed session, so other Hosts drop it too."""
        self._checked.pop(session.session_id, None)
        try:
            await self._store.delete_session(session.session_id)
        except AespError as exc:
            log.warning("destroyed session %s still shared: %s", session.session_id, exc)

    def dropped(self, session: Session) -> None:
        """Forget bookkeeping of a session that expired or was closed here."""
        self._checked.pop(session.session_id, None)

    async def _adopt(self, session_id: str) -> None:
        try:
            record = await self._store.get_session(session_id)
        except AespError as exc:
            raise AespError(
                "INVALID_SESSION",
                "This Host does not hold the session and cannot read the shared session "
                f"store now ({exc.code}); retry shortly or create a new session.",
                retry_after_ms=1000,
            ) from None
        if record is None or record.expires_at_ms <= ids.now_ms():
            return  # resolve() refuses it as unknown
        self._sessions.adopt(
            record.session_id,
            tenant_id=record.tenant_id,
            principal_id=record.principal_id,
            created_at_ms=record.created_at_ms,
            expires_at_ms=record.expires_at_ms,
            metadata=record.metadata,
        )
        self._checked[session_id] = ids.now_ms()

    def _maybe_recheck(self, session_id: str) -> None:
        now = ids.now_ms()
        if now - self._checked.get(session_id, now) < self._recheck_ms:
            return
        if session_id in self._checking:
            return
        self._checking.add(session_id)
        self._spawn(self._recheck(session_id))

    async def _recheck(self, session_id: str) -> None:
        try:
            record = await self._store.get_session(session_id)
        except AespError:
            return  # the store is away: keep serving what we hold
        finally:
            self._checking.discard(session_id)
        self._checked[session_id] = ids.now_ms()
        session = self._sessions.held(session_id)
        if record is None and session is not None:
            log.info("session %s was destroyed on another Host", session_id)
            self._sessions.destroy(session, force=True)
            self._checked.pop(session_id, None)

    async def _publish_later(self, session: Session, record: SessionRecord) -> None:
        delays = iter(PUBLISH_RETRY_S)
        while not session.closed and not session.expired(ids.now_ms()):
            await asyncio.sleep(next(delays, PUBLISH_RETRY_S[-1]))
            try:
                await self._store.put_session(record)
                return
            except AespError:
                continue


def _record(session: Session) -> SessionRecord:
    return SessionRecord(
        session_id=session.session_id,
        tenant_id=session.tenant_id,
        principal_id=session.principal_id,
        created_at_ms=session.created_at_ms,
        expires_at_ms=session.expires_at_ms,
        metadata=dict(session.metadata),
    )
