"""The State port: what Host replicas must share (DESIGN §5, §10).

Four kinds of shared state live here:

- the token buckets of the gateway's rate limits (per principal and per tenant); the call path
  asks for one on every call, so the local realisation answers from memory;
- session records: what a Host needs to honour a session that another replica created (its
  tenant and principal, bound once at creation, and its expiry). The Runtimes, idempotency
  cache and active invocations of a session stay with the Host that holds them;
- the runtime registry: which Runtime connections each Host holds and the tools they fulfil
  for their tenant, so a Host can see the tools a tenant has on other replicas. Each holder
  re-publishes its records before they expire; a Host that dies stops re-publishing, so its
  records expire by themselves and nobody has to clean up after it;
- one-time claims: the first use of a credential that must be used once (a SAML assertion id,
  until the assertion expires), so a replay to another replica is refused there too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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


@dataclass(frozen=True, slots=True)
class RuntimeRecord:
    """A Runtime connection one Host holds, as the other Host replicas see it.

    The holder assigns ``connection_id`` (unique per connection) and re-publishes the record
    before ``expires_at_ms``; after that instant the record is dead and no store lists it, so
    the records of a Host that died go away by themselves.

    Attributes:
        connection_id: Unique per connection; a record is replaced by its connection id.
        runtime_id: The Runtime's id (one Runtime may hold several connections).
        tenant_id: The tenant whose calls the connection serves.
        host_id: Which Host replica holds the connection.
        tools: The tool names it fulfils for its whole tenant, sorted, without repeats.
        expires_at_ms: Unix ms after which the record is dead unless re-published.

    Raises:
        ValueError: An id is empty, or ``tools`` is not a sorted tuple of distinct non-empty
            names (a programming error: the Host assigns the ids and sorts the tools).
    """

    connection_id: str
    runtime_id: str
    tenant_id: str
    host_id: str
    tools: tuple[str, ...]
    expires_at_ms: int

    def __post_init__(self) -> None:
        if not (self.connection_id and self.runtime_id and self.tenant_id and self.host_id):
            raise ValueError(
                "a runtime record needs a connection id, a runtime id, a tenant id and a host id"
            )
        tools = self.tools
        if (
            not isinstance(tools, tuple)
            or not all(isinstance(t, str) and t for t in tools)
            or any(a >= b for a, b in zip(tools, tools[1:], strict=False))
        ):
            raise ValueError(
                "a runtime record's tools must be a sorted tuple of distinct non-empty names"
            )


MAX_CLAIM_KEY: int = 1024  # characters; an issuer URL and an assertion id fit easily


def check_claim(key: str, *, until_ms: int, now_ms: int) -> None:
    """Refuse a claim no store should take (every realisation calls it first).

    Raises:
        ValueError: ``key`` is empty or longer than :data:`MAX_CLAIM_KEY`, or the claim would
            end before it starts.
    """
    if not key or len(key) > MAX_CLAIM_KEY:
        raise ValueError(f"a claim key must be 1-{MAX_CLAIM_KEY} characters")
    if until_ms <= now_ms:
        raise ValueError("a claim must end after now_ms")


@runtime_checkable
class StateStore(Protocol):
    """Shared counters, session records, the runtime registry and one-time claims.

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

    async def put_runtime(self, record: RuntimeRecord) -> None:
        """Create or replace (by ``connection_id``) the record of a Runtime connection.

        The holder calls it when the connection is registered, when its tools change, and
        again before ``expires_at_ms`` to keep the record alive. Putting an equal record again
        changes nothing.

        Raises:
            ExecutionError: ``RESOURCE_EXHAUSTED`` when a bounded store holds as many live
                records (or, per tenant, as large a set of them) as it may.
        """
        ...

    async def delete_runtime(self, connection_id: str) -> bool:
        """Forget the record of ``connection_id`` (the connection closed).

        Returns:
            True when a record was deleted; False when none was stored (unknown, already
            deleted, or expired and dropped), so a repeated delete is harmless.
        """
        ...

    async def runtimes(self, tenant_id: str, *, now_ms: int) -> Sequence[RuntimeRecord]:
        """The unexpired records of ``tenant_id`` (``expires_at_ms > now_ms``), on every Host.

        Sorted by ``(runtime_id, connection_id)``; never another tenant's record. Meant for a
        background refresh, not for the per-call path: shared realisations read the cloud.
        """
        ...

    async def claim(self, key: str, *, until_ms: int, now_ms: int) -> bool:
        """Claim ``key`` until ``until_ms``: the first use of a one-time credential.

        Atomic across Hosts sharing the store: of concurrent claims of one key exactly one
        wins. A claim that expired (``until_ms <= now_ms`` of a later claim) no longer holds
        the key. Used so that a SAML assertion presented to one replica is refused as a replay
        by every other replica.

        Returns:
            True when no unexpired claim held ``key`` (this claim now does); False otherwise
            (nothing changes).

        Raises:
            ValueError: ``key`` is empty or ``until_ms <= now_ms``.
            ExecutionError: ``RESOURCE_EXHAUSTED`` when a bounded store holds as many
                unexpired claims as it may (a claim is never forgotten early: that would
                re-open the replay window).
        """
        ...

    async def close(self) -> None:
        """Release connections and files."""
        ...
