"""The State port: what Host replicas must share (DESIGN §5, §10).

Two kinds of shared state live here:

- the token buckets of the gateway's rate limits (per principal and per tenant); the call path
  asks for one on every call, so the local realisation answers from memory;
- session records: what a Host needs to honour a session that another replica created (its
  tenant and principal, bound once at creation, and its expiry). The Runtimes, idempotency
  cache and active invocations of a session stay with the Host that holds them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable


@dataclass(frozen=True, slots=True)
class BucketSpec:
    """A token bucket: ``burst`` tokens at most, refilled at ``rate_per_s``.

    ``rate_per_s`` and ``burst`` must be positive.
    """

    rate_per_s: float
    burst: int


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """What another Host needs to honour a session it did not create.

    The tenant and principal are bound once, when the session is created (DESIGN §2 principle
    4), so a record is never changed after it is stored: only deleted.

    Raises:
        ValueError: ``session_id``, ``tenant_id`` or ``principal_id`` is empty (a programming
            error: the Host assigns the id and takes the rest from verified identity).
    """

    session_id: str
    tenant_id: str
    principal_id: str
    created_at_ms: int
    expires_at_ms: int
    metadata: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not (self.session_id and self.tenant_id and self.principal_id):
            raise ValueError("a session record needs a session id, a tenant id and a principal id")


@runtime_checkable
class StateStore(Protocol):
    """Shared counters and session records.

    Implementations must be atomic across Host replicas sharing them: two Hosts on one store
    behave like one. A store that cannot be reached fails closed: its methods raise an
    :class:`~aesp.core.errors.AespError` (``SERVICE_UNAVAILABLE``) instead of guessing.
    """

    async def take(self, key: str, spec: BucketSpec, *, now_ms: int, cost: int = 1) -> int:
        """Take ``cost`` tokens from the bucket ``key`` (created full on first use).

        Returns:
            0 when the tokens were taken; otherwise the milliseconds until they would be
            available (nothing is taken then).

        Raises:
            ValueError: The spec or cost is unusable (see :func:`aesp.core.ratelimit.check_spec`).
        """
        ...

    async def put_session(self, record: SessionRecord) -> None:
        """Store a new session record so every Host sharing the store can honour it.

        Idempotent for the same record: putting an equal record again changes nothing (a retry
        after a lost reply succeeds). A record is never replaced, so a session's tenant and
        principal cannot be rebound.

        Raises:
            StateError: ``INVALID_STATE`` when a different record already holds the session id.
            ExecutionError: ``RESOURCE_EXHAUSTED`` when a bounded store holds as many live
                sessions as it may.
        """
        ...

    async def get_session(self, session_id: str) -> SessionRecord | None:
        """The record of ``session_id``, or None when it is unknown or was deleted.

        The record may have expired (stores drop expired records lazily): the caller compares
        ``expires_at_ms`` with its clock and refuses an expired session itself.
        """
        ...

    async def delete_session(self, session_id: str) -> bool:
        """Forget the record of ``session_id`` (the session was destroyed).

        Returns:
            True when a record was deleted; False when none was stored (unknown, or already
            deleted), so a repeated delete is harmless.
        """
        ...

    async def close(self) -> None:
        """Release connections and files."""
        ...
