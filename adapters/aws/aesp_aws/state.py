"""The State port on DynamoDB (table ``<prefix>-state``): what Host replicas share (DESIGN §10).

One table, partition key ``pk`` only, two kinds of item:

- ``bucket#<key>``: a token bucket shared by every Host (``tokens``, ``updated_ms``, and
  ``rev``, a random revision replaced by every write). Every write is conditional on ``rev``
  being unchanged; a Host that lost the race gets the winner's item back in the same reply and
  tries again. A random revision rather than a counter: a bucket deleted by TTL and recreated
  restarts no counter, so an old revision can never match a new item (no ABA).
- ``session#<id>``: a session record, created once with ``attribute_not_exists``.
- ``runtimes#<tenant>``: the tenant's runtime registry, one item whose map attribute
  ``runtimes`` holds a record per connection id. The table has no sort key, and a Host reads a
  tenant's records together (a background refresh), so one item per tenant gives a single
  consistent ``GetItem`` instead of a scan. Writes touch one map entry each
  (``SET runtimes.#c = :r``, ``REMOVE runtimes.#c``): DynamoDB applies an update to one item
  atomically, so Hosts writing different connections of one tenant at once lose nothing. The
  map is created with a conditional write (``attribute_not_exists``) by whichever Host gets
  there first; the others then set their entry in it. A new entry is conditional on the map
  holding fewer than ``MAX_RUNTIMES_PER_TENANT`` entries (``size(runtimes)``), which keeps the
  item under DynamoDB's 400 KB for ordinary tool lists; a write refused for either bound is
  retried once after removing dead entries, then refused with ``RESOURCE_EXHAUSTED``. Dead entries (expired for longer than
  ``RUNTIME_SWEEP_GRACE_MS``, so a late re-publish on a skewed clock is not raced) are removed
  by the Host that lists them, on condition that the entry was not re-published meanwhile.
  The item has no TTL: a live entry must never go with it.
- ``runtime#<connection id>``: which tenant a connection belongs to, so ``delete_runtime``
  finds its entry from the connection id alone. Written before the entry on every put, with a
  TTL past the record's expiry, so a dead Host's pointers go as well.

Every item carries ``expires_at`` (Unix seconds), the table's TTL attribute: a bucket may go
once it is full again (a forgotten bucket is recreated full, so deleting it changes no answer),
a session record an hour after its expiry (until then a late call is told the session expired
rather than that it is unknown).

Token leases (DESIGN §2 principle 2: the per-call path never waits on a cloud API). The gateway
takes twice per call, so a take does not go to DynamoDB: each Host takes tokens out of the
shared bucket in batches (a lease of ``max(1, burst * state_lease_share)`` tokens, 10% of the
burst by default) and grants from the lease in memory (:mod:`aesp_aws._leases`). When a lease
falls to half its size a background task tops it up. A take the lease cannot cover is refused
from memory when this Host's view of the shared bucket says it is empty too, with the wait the
bucket's own arithmetic gives.

- No over-admission across Hosts while DynamoDB answers: every granted token was first taken
  out of the shared bucket by a conditional write, and only tokens never granted go back. The
  Hosts together admit at most ``burst + rate * t`` in any ``t``, exactly like one bucket.
- Idle tokens: a Host holds at most one lease per key (a take costing more than a lease is
  fetched for exactly), so at most ``N * lease size`` tokens of a key sit unused across N Hosts.
  A lease unused for ``state_lease_idle_s`` is handed back to the shared bucket, and a Host
  refuses from its view of the shared bucket only while that view is younger than the same
  interval, so a Host is kept from tokens another Host idles on for at most about twice that
  interval. A Host that dies without handing back only under-admits, and the bucket refills
  those tokens at its rate.
- When a take waits on DynamoDB: the first time this Host sees a key; when a burst on this
  Host outruns the background top-up while the shared bucket may still hold tokens; and, at
  most once per ``state_lease_idle_s`` per key, to check a refusal against DynamoDB. The choice
  for the first time: wait for the fetch rather than refuse with a made-up retry hint, because
  a refusal would turn every new principal's first call into ``RATE_LIMIT_EXCEEDED`` with a
  wait unrelated to its limit, and because a refusal must say when tokens will be there, which
  only the shared bucket knows. The second case is what keeps one Host's answers exact (the
  State port's conformance kit checks exact counts and waits); at steady load the background
  top-up lands first and takes read memory only.

Outage (DynamoDB unreachable or throttling): a deliberate availability choice, DESIGN
principle 2 over one global limit. Each Host degrades to a local token bucket per key with the
same spec, seeded with its lease plus what it last saw of the shared bucket (full for a key it
never saw), logs one warning per outage, and keeps governing calls: each Host enforces the
limit alone, so for the duration the cluster admits at most ``N *`` each limit. A background
probe (every ``min(sync_interval_s, state_lease_idle_s / 2)``) notices DynamoDB answering
again; the local buckets are dropped and leases start afresh. Other DynamoDB failures (a
missing table, denied access) are no outage but a deployment error: a take that needs
DynamoDB then fails closed with ``SERVICE_UNAVAILABLE``, as session operations always do.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
import uuid
from collections import OrderedDict
from collections.abc import Sequence
from decimal import Decimal
from typing import Any, Final

from aesp.core.errors import ConfigurationError, ExecutionError, StateError
from aesp.core.ports.state import BucketSpec, RuntimeRecord, SessionRecord, check_claim
from aesp.core.ratelimit import Bucket, check_spec, take
from aesp_aws import _leases
from aesp_aws._aws import Aws, error_code, unreachable
from aesp_aws._dynamo import ensure_table, from_item, to_item
from aesp_aws._leases import Lease

__all__ = ["DEFAULT_LEASE_IDLE_S", "DEFAULT_LEASE_SHARE", "TTL_ATTRIBUTE", "DynamoStateStore"]

log = logging.getLogger(__name__)

TTL_ATTRIBUTE: Final = "expires_at"  # the table's TTL attribute, Unix seconds
DEFAULT_LEASE_SHARE: Final = 0.1  # a lease is this share of the burst (at least one token)
DEFAULT_LEASE_IDLE_S: Final = 2.0  # a lease unused this long goes back to the shared bucket
MAX_ATTEMPTS: Final = 25  # conditional-write races lost before a fetch gives up (fail closed)
KNOWN_BUCKETS: Final = 10_000  # leases (and outage buckets) kept per Host, least recent dropped
BUCKET_TTL_MARGIN_S: Final = 3_600  # covers replicas' clock skew and a spec lowered meanwhile
SESSION_TTL_GRACE_S: Final = 3_600  # expired sessions stay readable this long (SESSION_EXPIRED)
RUNTIME_SWEEP_GRACE_MS: Final = 60_000  # dead registry entries are removed this long after
MAX_RUNTIMES_PER_TENANT: Final = 500  # entries of one registry item (well under 400 KB)
RUNTIME_POINTER_GRACE_S: Final = 3_600  # a connection's tenant pointer outlives its record
_RUNTIMES: Final = "runtimes"  # the map attribute of a tenant's registry item
_CONFLICT: Final = "ConditionalCheckFailedException"
_THROTTLED: Final = frozenset(
    {"ThrottlingException", "ProvisionedThroughputExceededException", "RequestLimitExceeded"}
)
_PROBE_KEY: Final = {"pk": {"S": "probe#"}}  # an item nobody writes: reading it proves reach


class _Lost(Exception):
    """A conditional write failed; ``item`` is what DynamoDB holds now (None: nothing)."""

    def __init__(self, item: dict[str, Any] | None) -> None:
        super().__init__("conditional write lost")
        self.item = item


class _TooLarge(Exception):
    """A tenant's registry item is full: at its entry bound, or at DynamoDB's 400 KB."""


class _Unreachable(Exception):
    """DynamoDB did not answer (or throttled us): a bucket operation degrades to local buckets."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(error_code(cause) or type(cause).__name__)


class DynamoStateStore:
    """Token buckets and session records in one DynamoDB table, shared exactly by every Host.

    Args:
        aws: The Host's AWS clients; the table is ``aws.settings.table("state")``. Reads
            ``state_lease_share`` and ``state_lease_idle_s`` from ``[adapters.aws]``.
        max_runtimes_per_tenant: Most runtime records (live or not yet swept) one tenant's
            registry item holds.

    Raises:
        ConfigurationError: ``INVALID_CONFIG`` when a lease setting is out of range.
    """

    def __init__(self, aws: Aws, *, max_runtimes_per_tenant: int = MAX_RUNTIMES_PER_TENANT) -> None:
        if max_runtimes_per_tenant <= 0:
            raise ValueError("max_runtimes_per_tenant must be positive")
        self._max_runtimes = max_runtimes_per_tenant
        self._aws = aws
        self._table = aws.settings.table("state")
        self._share = _number(aws, "state_lease_share", DEFAULT_LEASE_SHARE, upper=1.0)
        self._idle_s = _number(aws, "state_lease_idle_s", DEFAULT_LEASE_IDLE_S)
        self._period_s = min(aws.settings.sync_interval_s, self._idle_s / 2)
        self._leases: OrderedDict[str, Lease] = OrderedDict()
        self._local: OrderedDict[str, Bucket] = OrderedDict()  # during an outage only
        self._outage = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._maintainer: asyncio.Task[None] | None = None

    @classmethod
    async def open(cls, aws: Aws) -> DynamoStateStore:
        """The store, after creating its table (with TTL on) when ``create_resources``."""
        table = aws.settings.table("state")
        try:
            await ensure_table(aws, table, sort_key=False)
            if aws.settings.create_resources:
                await _enable_ttl(aws, table)
        except Exception as exc:
            raise _unavailable(table, exc) from exc
        return cls(aws)

    @property
    def degraded(self) -> bool:
        """Whether DynamoDB is out of reach and takes are answered from local buckets."""
        return self._outage

    # ------------------------------------------------------------------ token buckets

    async def take(self, key: str, spec: BucketSpec, *, now_ms: int, cost: int = 1) -> int:
        """Take ``cost`` tokens from bucket ``key`` (created full on first use).

        Answered from this Host's lease in memory; see the module docstring for when it waits
        on DynamoDB and what happens while DynamoDB is out of reach.

        Returns:
            0 when taken; otherwise the milliseconds until the tokens would be available.

        Raises:
            ValueError: The spec or cost is unusable.
            ExecutionError: ``SERVICE_UNAVAILABLE`` when DynamoDB refuses the table (missing,
                access denied); ``RESOURCE_EXHAUSTED`` when other Hosts won the bucket
                ``MAX_ATTEMPTS`` times in a row.
        """
        check_spec(spec, cost)
        self._maintain_in_background()
        if self._outage:
            return self._take_locally(key, spec, now_ms, cost)
        lease = self._lease(key, spec)
        while True:
            granted = _leases.answer(lease, spec, now_ms, cost, fresh_since=self._fresh_since())
            if granted is None:
                async with lease.lock:
                    if self._outage:
                        return self._take_locally(key, spec, now_ms, cost)
                    granted = _leases.answer(
                        lease, spec, now_ms, cost, fresh_since=self._fresh_since()
                    )
                    if granted is None:
                        target = max(_leases.lease_size(spec, self._share), cost)
                        try:
                            await self._fetch(key, lease, spec, now_ms, cost - lease.held, target)
                        except _Unreachable as exc:
                            self._enter_outage(exc)
                            return self._take_locally(key, spec, now_ms, cost)
                        continue  # the fetch left either enough tokens or a refusing view
            if granted == 0:
                self._top_up_in_background(key, lease, spec, now_ms)
            return granted

    def _fresh_since(self) -> float:
        """Views older than this (``time.monotonic()``) are read again before refusing."""
        return time.monotonic() - self._idle_s

    async def settle(self) -> None:
        """Wait for the background lease fetches in flight (shutdown, tests)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def _lease(self, key: str, spec: BucketSpec) -> Lease:
        lease = self._leases.get(key)
        if lease is None:
            lease = self._leases[key] = Lease(spec)
            while len(self._leases) > KNOWN_BUCKETS:  # a dropped lease's tokens only idle
                self._leases.popitem(last=False)
        else:
            self._leases.move_to_end(key)
        lease.spec, lease.used_at = spec, time.monotonic()
        return lease

    async def _fetch(
        self, key: str, lease: Lease, spec: BucketSpec, now_ms: int, need: int, target: int
    ) -> None:
        """Top the lease up to ``target`` tokens from the shared bucket (``lease.lock`` held).

        Takes nothing when the bucket lacks ``need`` tokens, after reading it again if the
        view is not fresh: the view is then fresh enough for :func:`_leases.answer` to refuse
        with the right wait.
        """
        read = False
        for _ in range(MAX_ATTEMPTS):
            bucket, grant = _leases.plan(lease, spec, now_ms, need, target)
            if not grant:
                if read or lease.seen_at >= self._fresh_since():
                    return
                reply = await self._call(
                    "get_item", degrade=True, Key=_key("bucket", key), ConsistentRead=True
                )
                lease.adopt(*_bucket_from(reply.get("Item")))
                read = True
                continue
            rev = uuid.uuid4().hex
            try:
                await self._write_bucket(key, lease.rev, rev, bucket, spec)
            except _Lost as lost:
                if not _ours(lost, rev):
                    lease.adopt(*_bucket_from(lost.item))
                    continue
            lease.adopt(rev, bucket)
            lease.held += grant
            return
        raise ExecutionError(
            "RESOURCE_EXHAUSTED",
            f"The rate-limit bucket '{key}' is contended by other Hosts; retry shortly.",
            retry_after_ms=100,
        )

    def _top_up_in_background(self, key: str, lease: Lease, spec: BucketSpec, now_ms: int) -> None:
        """Start a fetch when the lease is low and the shared bucket may have tokens."""
        size = _leases.lease_size(spec, self._share)
        if lease.held > _leases.low_water(size) or not _leases.may_hold_tokens(lease, spec, now_ms):
            return
        if lease.prefetch is not None and not lease.prefetch.done():
            return
        lease.prefetch = self._spawn(self._top_up(key, lease, spec, now_ms, size))

    async def _top_up(
        self, key: str, lease: Lease, spec: BucketSpec, now_ms: int, size: int
    ) -> None:
        async with lease.lock:
            if self._outage or lease.held > _leases.low_water(size):
                return
            try:
                await self._fetch(key, lease, spec, now_ms, 1, size)
            except _Unreachable as exc:
                self._enter_outage(exc)
            except ExecutionError as exc:  # the next take that needs DynamoDB reports it
                log.warning("Topping up the rate-limit lease of '%s' failed: %s", key, exc)

    async def _give_back(self, key: str, lease: Lease) -> None:
        """Return the lease's tokens to the shared bucket (``lease.lock`` held).

        Adds them to the stored tokens without refilling (capped at the burst), which is the
        bucket as it would be had they never been leased, or less.
        """
        for _ in range(MAX_ATTEMPTS):
            if not lease.held:
                return
            if lease.rev is None or lease.shared is None:  # no item: the bucket is full anyway
                lease.held = 0
                return
            # NOTE: the tokens leave the lease before the write, so a take meanwhile cannot
            # grant one that is also being handed back; only a lost condition (certainly not
            # written) puts them back.
            giving, lease.held = lease.held, 0
            back = Bucket(
                min(float(lease.spec.burst), lease.shared.tokens + giving),
                lease.shared.updated_ms,
            )
            rev = uuid.uuid4().hex
            try:
                await self._write_bucket(key, lease.rev, rev, back, lease.spec)
            except _Lost as lost:
                if not _ours(lost, rev):
                    lease.held += giving  # certainly not written: the tokens are still ours
                    lease.adopt(*_bucket_from(lost.item))
                    continue
            # Any other failure leaves them out of the lease (the write may have landed):
            # losing them only under-admits until the bucket refills them.
            lease.adopt(rev, back)
            return

    async def _write_bucket(
        self, key: str, old_rev: str | None, rev: str, bucket: Bucket, spec: BucketSpec
    ) -> None:
        missing = spec.burst - bucket.tokens
        full_at_ms = bucket.updated_ms + max(0, math.ceil(missing * 1000.0 / spec.rate_per_s))
        item = {
            "pk": f"bucket#{key}",
            "tokens": Decimal(repr(bucket.tokens)),
            "updated_ms": bucket.updated_ms,
            "rev": rev,
            TTL_ATTRIBUTE: math.ceil(full_at_ms / 1000) + BUCKET_TTL_MARGIN_S,
        }
        if old_rev is None:
            condition: dict[str, Any] = {"ConditionExpression": "attribute_not_exists(pk)"}
        else:
            condition = {
                "ConditionExpression": "rev = :rev",
                "ExpressionAttributeValues": to_item({":rev": old_rev}),
            }
        await self._call(
            "put_item",
            degrade=True,
            Item=to_item(item),
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
            **condition,
        )

    # ------------------------------------------------------------------ background and outage

    def _spawn(self, work: Any) -> asyncio.Task[None]:
        task: asyncio.Task[None] = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _maintain_in_background(self) -> None:
        if self._maintainer is None or self._maintainer.done():
            self._maintainer = asyncio.create_task(self._maintain())

    async def _maintain(self) -> None:
        """Hand back idle leases; during an outage, probe DynamoDB until it answers."""
        while True:
            await asyncio.sleep(self._period_s)
            if self._outage:
                await self._probe()
                continue
            try:
                await self._hand_back_idle(time.monotonic() - self._idle_s)
            except _Unreachable as exc:
                self._enter_outage(exc)
            except ExecutionError as exc:
                log.warning("Handing back idle rate-limit leases failed: %s", exc)

    async def _hand_back_idle(self, idle_since: float) -> None:
        for key, lease in list(self._leases.items()):
            if lease.held and lease.used_at <= idle_since and not lease.lock.locked():
                async with lease.lock:
                    await self._give_back(key, lease)

    async def _probe(self) -> None:
        try:
            await self._call("get_item", degrade=True, Key=_PROBE_KEY)
        except _Unreachable:
            return
        except ExecutionError:
            pass  # DynamoDB answers, though not as it should: takes will report it
        self._outage = False
        self._local.clear()
        self._leases.clear()  # held tokens went into the local buckets; start afresh
        log.warning(
            "DynamoDB table '%s' answers again: rate limits are shared by every Host again.",
            self._table,
        )

    def _enter_outage(self, exc: _Unreachable) -> None:
        if self._outage:
            return
        self._outage = True
        log.warning(
            "DynamoDB table '%s' cannot be reached (%s): each Host now enforces the rate "
            "limits alone from local buckets, so the cluster may admit up to its number of "
            "Hosts times each limit until DynamoDB answers again.",
            self._table,
            exc,
        )

    def _take_locally(self, key: str, spec: BucketSpec, now_ms: int, cost: int) -> int:
        bucket = self._local.get(key)
        if bucket is None:
            bucket = _leases.seed(self._leases.get(key), spec, now_ms)
        result = take(bucket, spec, now_ms=now_ms, cost=cost)
        self._local[key] = result.bucket
        self._local.move_to_end(key)
        while len(self._local) > KNOWN_BUCKETS:  # a dropped bucket comes back full
            self._local.popitem(last=False)
        return result.retry_after_ms

    # ------------------------------------------------------------------ session records

    async def put_session(self, record: SessionRecord) -> None:
        """Store a new session record; an equal record again is a no-op.

        Raises:
            StateError: ``INVALID_STATE`` when a different record holds the session id.
            ExecutionError: ``SERVICE_UNAVAILABLE`` when DynamoDB cannot be reached.
        """
        item = {
            "pk": f"session#{record.session_id}",
            "tenant_id": record.tenant_id,
            "principal_id": record.principal_id,
            "created_at_ms": record.created_at_ms,
            "expires_at_ms": record.expires_at_ms,
            "metadata": dict(record.metadata),
            TTL_ATTRIBUTE: math.ceil(record.expires_at_ms / 1000) + SESSION_TTL_GRACE_S,
        }
        try:
            await self._call(
                "put_item",
                Item=to_item(item),
                ConditionExpression="attribute_not_exists(pk)",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except _Lost as lost:
            if lost.item is None or _session(lost.item) != record:
                raise StateError(
                    "INVALID_STATE",
                    f"Session '{record.session_id}' is already recorded with another tenant, "
                    "principal or expiry; a session is bound once, when it is created.",
                ) from None

    async def get_session(self, session_id: str) -> SessionRecord | None:
        """The record, or None when unknown or deleted (it may have expired).

        Raises:
            ExecutionError: ``SERVICE_UNAVAILABLE`` when DynamoDB cannot be reached.
        """
        reply = await self._call("get_item", Key=_key("session", session_id), ConsistentRead=True)
        item = reply.get("Item")
        return _session(item) if item else None

    async def claim(self, key: str, *, until_ms: int, now_ms: int) -> bool:
        """Claim ``key`` until ``until_ms`` with one conditional put; False when an unexpired
        claim holds it.

        The item carries a random nonce: when the SDK retried a put whose reply was lost, the
        condition fails on our own item, and the nonce tells it was ours (the claim is won).

        Raises:
            ValueError: ``key`` is empty or ``until_ms <= now_ms``.
            ExecutionError: ``SERVICE_UNAVAILABLE`` when DynamoDB cannot be reached.
        """
        check_claim(key, until_ms=until_ms, now_ms=now_ms)
        nonce = uuid.uuid4().hex
        item = {
            "pk": f"claim#{key}",
            "until_ms": until_ms,
            "nonce": nonce,
            TTL_ATTRIBUTE: math.ceil(until_ms / 1000) + SESSION_TTL_GRACE_S,
        }
        try:
            await self._call(
                "put_item",
                Item=to_item(item),
                ConditionExpression="attribute_not_exists(pk) OR until_ms <= :now",
                ExpressionAttributeValues=to_item({":now": now_ms}),
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except _Lost as lost:
            return lost.item is not None and from_item(lost.item).get("nonce") == nonce
        return True

    async def delete_session(self, session_id: str) -> bool:
        """Forget the record; False when there was none.

        Raises:
            ExecutionError: ``SERVICE_UNAVAILABLE`` when DynamoDB cannot be reached.
        """
        reply = await self._call(
            "delete_item", Key=_key("session", session_id), ReturnValues="ALL_OLD"
        )
        return bool(reply.get("Attributes"))

    # ------------------------------------------------------------------ runtime records

    async def put_runtime(self, record: RuntimeRecord) -> None:
        """Create or replace the record of ``record.connection_id`` in its tenant's item.

        Raises:
            ExecutionError: ``RESOURCE_EXHAUSTED`` when the tenant's registry holds
                ``max_runtimes_per_tenant`` entries (or 400 KB) even after dropping dead ones;
                ``SERVICE_UNAVAILABLE`` when DynamoDB cannot be reached.
        """
        pointer = {
            "pk": f"runtime#{record.connection_id}",
            "tenant_id": record.tenant_id,
            TTL_ATTRIBUTE: math.ceil(record.expires_at_ms / 1000) + RUNTIME_POINTER_GRACE_S,
        }
        reply = await self._call("put_item", Item=to_item(pointer), ReturnValues="ALL_OLD")
        moved_from = from_item(reply.get("Attributes") or {}).get("tenant_id")
        if moved_from is not None and moved_from != record.tenant_id:
            await self._remove_entry(str(moved_from), record.connection_id)
        for attempt in range(2):
            try:
                await self._set_entry(record)
                return
            except _TooLarge:
                if not attempt:  # make room by dropping long-dead entries, then try once more
                    await self._sweep_runtimes(record.tenant_id, now_ms=int(time.time() * 1000))
        raise ExecutionError(
            "RESOURCE_EXHAUSTED",
            f"Tenant '{record.tenant_id}' has as many live Runtime connections as the shared "
            "runtime registry holds for one tenant; retry once some have closed.",
            retry_after_ms=1000,
            remediation_steps=("Close Runtime connections that are no longer used.",),
        )

    async def _set_entry(self, record: RuntimeRecord) -> None:
        """Set the record's map entry, creating the tenant's item if no Host has yet.

        Raises:
            _TooLarge: The map is at ``max_runtimes_per_tenant`` entries (and this is a new
                connection) or would exceed DynamoDB's item size.
        """
        key = _key("runtimes", record.tenant_id)
        entry = to_item({"e": _entry(record)})["e"]
        for _ in range(MAX_ATTEMPTS):
            try:
                await self._call(
                    "update_item",
                    Key=key,
                    UpdateExpression="SET #m.#c = :r",
                    ConditionExpression=(
                        "attribute_exists(#m) AND (attribute_exists(#m.#c) OR size(#m) < :cap)"
                    ),
                    ExpressionAttributeNames={"#m": _RUNTIMES, "#c": record.connection_id},
                    ExpressionAttributeValues={
                        ":r": entry,
                        ":cap": {"N": str(self._max_runtimes)},
                    },
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
                return
            except _Lost as lost:
                if lost.item and _RUNTIMES in lost.item:
                    raise _TooLarge() from None  # the map exists: it is full
            try:  # no item yet: create it, unless another Host does first
                await self._call(
                    "update_item",
                    Key=key,
                    UpdateExpression="SET #m = :m",
                    ConditionExpression="attribute_not_exists(#m)",
                    ExpressionAttributeNames={"#m": _RUNTIMES},
                    ExpressionAttributeValues={":m": {"M": {record.connection_id: entry}}},
                )
                return
            except _Lost:
                continue  # another Host created it meanwhile: set our entry in theirs
        raise ExecutionError(
            "RESOURCE_EXHAUSTED",
            f"The runtime registry of tenant '{record.tenant_id}' is contended; retry shortly.",
            retry_after_ms=100,
        )

    async def delete_runtime(self, connection_id: str) -> bool:
        """Forget the record; False when there was none.

        Raises:
            ExecutionError: ``SERVICE_UNAVAILABLE`` when DynamoDB cannot be reached.
        """
        reply = await self._call(
            "get_item", Key=_key("runtime", connection_id), ConsistentRead=True
        )
        item = reply.get("Item")
        if not item:
            return False
        deleted = await self._remove_entry(str(from_item(item)["tenant_id"]), connection_id)
        await self._call("delete_item", Key=_key("runtime", connection_id))
        return deleted

    async def _remove_entry(self, tenant_id: str, connection_id: str) -> bool:
        """Remove one entry of a tenant's registry; False when it was not there."""
        try:
            await self._call(
                "update_item",
                Key=_key("runtimes", tenant_id),
                UpdateExpression="REMOVE #m.#c",
                ConditionExpression="attribute_exists(#m.#c)",
                ExpressionAttributeNames={"#m": _RUNTIMES, "#c": connection_id},
            )
        except _Lost:
            return False  # already removed (a repeated delete, or swept as dead)
        return True

    async def runtimes(self, tenant_id: str, *, now_ms: int) -> Sequence[RuntimeRecord]:
        """The tenant's records alive at ``now_ms``, sorted by runtime id then connection id.

        One consistent read of the tenant's item; entries dead for longer than
        ``RUNTIME_SWEEP_GRACE_MS`` are removed on the way.

        Raises:
            ExecutionError: ``SERVICE_UNAVAILABLE`` when DynamoDB cannot be reached.
        """
        records = await self._read_runtimes(tenant_id)
        dead = [r for r in records if r.expires_at_ms + RUNTIME_SWEEP_GRACE_MS <= now_ms]
        if dead:
            await self._remove_dead(dead)
        live = [r for r in records if r.expires_at_ms > now_ms]
        return sorted(live, key=lambda r: (r.runtime_id, r.connection_id))

    async def _read_runtimes(self, tenant_id: str) -> list[RuntimeRecord]:
        reply = await self._call("get_item", Key=_key("runtimes", tenant_id), ConsistentRead=True)
        entries = from_item(reply.get("Item") or {}).get(_RUNTIMES, {})
        return [_runtime(tenant_id, c, values) for c, values in entries.items()]

    async def _sweep_runtimes(self, tenant_id: str, *, now_ms: int) -> None:
        """Remove the tenant's entries that have been dead for the grace period."""
        records = await self._read_runtimes(tenant_id)
        await self._remove_dead(
            [r for r in records if r.expires_at_ms + RUNTIME_SWEEP_GRACE_MS <= now_ms]
        )

    async def _remove_dead(self, dead: list[RuntimeRecord]) -> None:
        """Remove dead entries unless their holder re-published them meanwhile."""
        for record in dead:
            try:
                await self._call(
                    "update_item",
                    Key=_key("runtimes", record.tenant_id),
                    UpdateExpression="REMOVE #m.#c",
                    ConditionExpression="#m.#c.#e = :e",
                    ExpressionAttributeNames={
                        "#m": _RUNTIMES,
                        "#c": record.connection_id,
                        "#e": "expires_at_ms",
                    },
                    ExpressionAttributeValues=to_item({":e": record.expires_at_ms}),
                )
            except _Lost:
                continue  # re-published, or removed by another Host

    async def close(self) -> None:
        """Stop the background work and hand this Host's leases back to the shared bucket.

        The clients belong to the Host's :class:`Aws`. Leases that cannot be handed back (an
        outage) are dropped: the shared bucket refills them at its rate.
        """
        if self._maintainer is not None:
            self._maintainer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._maintainer
            self._maintainer = None
        await self.settle()
        if not self._outage:
            for key, lease in list(self._leases.items()):
                async with lease.lock:
                    try:
                        await self._give_back(key, lease)
                    except (_Unreachable, ExecutionError) as exc:
                        log.warning("Handing back the lease of '%s' failed: %s", key, exc)
                        break
        self._leases.clear()
        self._local.clear()

    async def _call(self, operation: str, *, degrade: bool = False, **kwargs: Any) -> Any:
        """One DynamoDB call on the table; a lost condition is :class:`_Lost`.

        With ``degrade``, DynamoDB out of reach is :class:`_Unreachable` (a bucket operation
        falls back to local buckets); every other failure fails closed.
        """
        try:
            return await self._aws.call("dynamodb", operation, TableName=self._table, **kwargs)
        except Exception as exc:
            code = error_code(exc)
            if code == _CONFLICT:
                raise _Lost(getattr(exc, "response", {}).get("Item")) from exc
            if code == "ValidationException" and "maximum allowed size" in str(exc):
                raise _TooLarge() from exc
            if degrade and (unreachable(exc) or code in _THROTTLED):
                raise _Unreachable(exc) from exc
            raise _unavailable(self._table, exc) from exc


def _key(kind: str, name: str) -> dict[str, Any]:
    return to_item({"pk": f"{kind}#{name}"})


def _bucket_from(item: dict[str, Any] | None) -> tuple[str | None, Bucket | None]:
    """The revision and bucket in a raw DynamoDB item (None or no item: no bucket yet)."""
    if not item:
        return None, None
    values = from_item(item)
    return str(values["rev"]), Bucket(float(values["tokens"]), int(values["updated_ms"]))


def _ours(lost: _Lost, rev: str) -> bool:
    """Whether a lost write was in fact ours: the SDK retried a write whose reply was lost."""
    return _bucket_from(lost.item)[0] == rev


def _number(aws: Aws, key: str, default: float, *, upper: float = math.inf) -> float:
    """A positive number of ``[adapters.aws]`` at most ``upper``, or ``default``."""
    value = aws.settings.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= upper:
        bound = "" if upper == math.inf else f" and at most {upper:g}"
        raise ConfigurationError(
            "INVALID_CONFIG", f"[adapters.aws] {key} must be a number above 0{bound}."
        )
    return float(value)


def _session(item: dict[str, Any]) -> SessionRecord:
    values = from_item(item)
    return SessionRecord(
        session_id=str(values["pk"]).removeprefix("session#"),
        tenant_id=str(values["tenant_id"]),
        principal_id=str(values["principal_id"]),
        created_at_ms=int(values["created_at_ms"]),
        expires_at_ms=int(values["expires_at_ms"]),
        metadata={str(k): str(v) for k, v in values.get("metadata", {}).items()},
    )


def _entry(record: RuntimeRecord) -> dict[str, Any]:
    """A record's map entry (its tenant and connection id are the item's and the entry's key)."""
    return {
        "runtime_id": record.runtime_id,
        "host_id": record.host_id,
        "tools": list(record.tools),  # a list, not a string set: a set cannot be empty
        "expires_at_ms": record.expires_at_ms,
    }


def _runtime(tenant_id: str, connection_id: str, values: dict[str, Any]) -> RuntimeRecord:
    return RuntimeRecord(
        connection_id=str(connection_id),
        runtime_id=str(values["runtime_id"]),
        tenant_id=tenant_id,
        host_id=str(values["host_id"]),
        tools=tuple(str(t) for t in values["tools"]),
        expires_at_ms=int(values["expires_at_ms"]),
    )


async def _enable_ttl(aws: Aws, table: str) -> None:
    """Turn on TTL on ``expires_at`` unless it is on already (AWS refuses a second enable)."""
    reply = await aws.call("dynamodb", "describe_time_to_live", TableName=table)
    if reply.get("TimeToLiveDescription", {}).get("TimeToLiveStatus") in ("ENABLED", "ENABLING"):
        return
    await aws.call(
        "dynamodb",
        "update_time_to_live",
        TableName=table,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE},
    )


def _unavailable(table: str, exc: BaseException) -> ExecutionError:
    """Fail closed: the shared state is out of reach (or its table is missing)."""
    return ExecutionError(
        "SERVICE_UNAVAILABLE",
        f"The shared state store (DynamoDB table '{table}') cannot be used "
        f"({error_code(exc) or type(exc).__name__}); requests that need it are refused.",
        retry_after_ms=1000,
        remediation_steps=(
            "Check that the Host reaches DynamoDB and that its role may use the table.",
            "Check that the table exists (deploy/aesp-aws.yaml creates it).",
        ),
    )
