"""Sessions: bound to one tenant and one principal for life, with TTL, expiry and destroy.

A session also holds what is scoped to it: the Runtimes that fulfil each tool for it, the tools
registered dynamically in DEVELOPMENT mode, its active invocations (so a non-forced destroy can
refuse, C-46) and the idempotency cache keyed by ``call_id`` (C-44).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aesp.core import ids
from aesp.core.config import LimitsConfig
from aesp.core.contracts import ToolContract
from aesp.core.errors import AespError, AuthorizationError, StateError, ValidationError
from aesp.core.principal import Principal


@dataclass(slots=True)
class CachedCall:
    """An idempotency entry: the args digest and the eventual outcome of one call_id."""

    args_digest: str
    outcome: asyncio.Future[Any]
    expires_at_ms: int


@dataclass(eq=False)
class Session:
    """One session. Its tenant and principal never change (item 180)."""

    session_id: str
    tenant_id: str
    principal_id: str
    created_at_ms: int
    expires_at_ms: int
    metadata: Mapping[str, str] = field(default_factory=dict)
    fulfilments: dict[str, list[str]] = field(default_factory=dict)  # tool -> connection ids
    dynamic_contracts: dict[str, ToolContract] = field(default_factory=dict)
    active: dict[str, Callable[[AespError], None]] = field(default_factory=dict)  # inv -> cancel
    calls: dict[str, CachedCall] = field(default_factory=dict)
    closed: bool = False

    def expired(self, now_ms: int) -> bool:
        """Whether the session's effective expiry has passed (C-42)."""
        return now_ms >= self.expires_at_ms


class SessionManager:
    """Creates, resolves and destroys sessions; the only place sessions are looked up."""

    def __init__(self, limits: LimitsConfig, *, on_expire: Callable[[Session], None] | None = None):
        self._limits = limits
        self._sessions: dict[str, Session] = {}
        self._on_expire = on_expire

    def __len__(self) -> int:
        return len(self._sessions)

    def apply_limits(self, limits: LimitsConfig) -> None:
        """Use ``limits`` (default and maximum TTL) for sessions created from now on.

        Live configuration (SPEC §3.15): existing sessions keep the expiry they were given.
        """
        self._limits = limits

    def create(
        self,
        principal: Principal,
        *,
        ttl_seconds: int,
        metadata: Mapping[str, str],
        credential_expires_at_ms: int = 0,
    ) -> Session:
        """Create a session for ``principal``; the Host always assigns the id (item 81).

        The effective expiry is min(now + capped TTL, credential expiry) (C-42).

        Raises:
            AespError: ``RESOURCE_EXHAUSTED`` when the Host holds its maximum of sessions.
        """
        if len(self._sessions) >= self._limits.max_sessions:
            self.sweep()
            if len(self._sessions) >= self._limits.max_sessions:
                raise AespError(
                    "RESOURCE_EXHAUSTED",
                    "The Host holds its maximum number of sessions; destroy unused sessions.",
                    retry_after_ms=1000,
                )
        ttl = ttl_seconds or self._limits.default_session_ttl_seconds
        ttl = min(ttl, self._limits.max_session_ttl_seconds)
        now = ids.now_ms()
        expires = now + ttl * 1000
        if credential_expires_at_ms:
            expires = min(expires, credential_expires_at_ms)
        session = Session(
            session_id=ids.session_id(),
            tenant_id=principal.tenant_id,
            principal_id=principal.principal_id,
            created_at_ms=now,
            expires_at_ms=expires,
            metadata=dict(metadata),
        )
        self._sessions[session.session_id] = session
        return session

    def resolve(self, session_id: str, principal: Principal) -> Session:
        """Find a live session the caller may use (SPEC §3.19 step 3).

        Raises:
            ValidationError: ``INVALID_SESSION`` when unknown, destroyed or malformed (item 84).
            AuthorizationError: ``SESSION_EXPIRED`` past its expiry (item 82);
                ``TENANT_ACCESS_DENIED`` for a session of another tenant (item 181);
                ``PERMISSION_DENIED`` for another principal's session of the same tenant.
        """
        session = self._sessions.get(session_id) if session_id else None
        if session is None:
            raise ValidationError(
                "INVALID_SESSION",
                "The session does not exist or has been destroyed; create a new session.",
            )
        if session.tenant_id != principal.tenant_id:
            # NOTE: says nothing about the session beyond "not yours" (no tenant names leak).
            raise AuthorizationError(
                "TENANT_ACCESS_DENIED",
                "The session belongs to another tenant; a session is usable only by its tenant.",
            )
        if session.expired(ids.now_ms()):
            self._expire(session)
            raise AuthorizationError(
                "SESSION_EXPIRED",
                "The session has expired; create a new session.",
                retry_after_ms=1,
            )
        if session.principal_id != principal.principal_id:
            raise AuthorizationError(
                "PERMISSION_DENIED",
                "The session belongs to another principal; each principal uses its own sessions.",
                details={"reason": "SESSION_OWNER"},
            )
        return session

    def adopt(
        self,
        session_id: str,
        *,
        tenant_id: str,
        principal_id: str,
        created_at_ms: int,
        expires_at_ms: int,
        metadata: Mapping[str, str],
    ) -> Session:
        """Hold a session another Host created (its shared record, :mod:`aesp.core.shared_sessions`).

        The id, tenant, principal and expiry are the record's: nothing is re-decided here.

        Raises:
            AespError: ``RESOURCE_EXHAUSTED`` when the Host holds its maximum of sessions.
        """
        held = self._sessions.get(session_id)
        if held is not None:
            return held
        if len(self._sessions) >= self._limits.max_sessions:
            self.sweep()
            if len(self._sessions) >= self._limits.max_sessions:
                raise AespError(
                    "RESOURCE_EXHAUSTED",
                    "The Host holds its maximum number of sessions; destroy unused sessions.",
                    retry_after_ms=1000,
                )
        session = Session(
            session_id=session_id,
            tenant_id=tenant_id,
            principal_id=principal_id,
            created_at_ms=created_at_ms,
            expires_at_ms=expires_at_ms,
            metadata=dict(metadata),
        )
        self._sessions[session_id] = session
        return session

    def held(self, session_id: str) -> Session | None:
        """The session with this id this Host holds, expired or not (no side effects)."""
        return self._sessions.get(session_id)

    def lookup(self, session_id: str) -> Session | None:
        """The live session with this id, for Runtime-side checks (FulfillTools)."""
        session = self._sessions.get(session_id)
        if session is not None and session.expired(ids.now_ms()):
            self._expire(session)
            return None
        return session

    def destroy(self, session: Session, *, force: bool) -> None:
        """Destroy ``session`` (C-46).

        Raises:
            StateError: ``INVALID_STATE`` when invocations are active and ``force`` is false.
        """
        if session.active and not force:
            raise StateError(
                "INVALID_STATE",
                f"The session has {len(session.active)} active invocation(s); wait for them or "
                "destroy it with force=true, which cancels them.",
            )
        self._close(session, "The session was destroyed while the call was running.")

    def sweep(self) -> int:
        """Expire every session past its expiry; return how many."""
        now = ids.now_ms()
        dead = [s for s in self._sessions.values() if s.expired(now)]
        for session in dead:
            self._expire(session)
        return len(dead)

    def all(self) -> list[Session]:
        """Every live session."""
        return list(self._sessions.values())

    def _expire(self, session: Session) -> None:
        self._close(session, "The session expired while the call was running.")
        if self._on_expire is not None:
            self._on_expire(session)

    def _close(self, session: Session, why: str) -> None:
        session.closed = True
        self._sessions.pop(session.session_id, None)
        cancels = list(session.active.values())
        session.active.clear()
        for cancel in cancels:
            cancel(StateError("INVALID_STATE", why))
