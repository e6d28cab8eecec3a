"""Conformance kit for the State port (SPEC §3.19 step 1, items 107, 208; DESIGN §10).

Token buckets: every realisation (in memory, DynamoDB, ...) must give the same answers for the
same times: the gateway's ``RATE_LIMIT_EXCEEDED`` and its ``retry_after_ms`` come straight from
``take``. Time is always passed in (``now_ms``), so these tests never sleep.

Session records: what Host replicas share so that any of them honours a session another created;
a record binds its tenant and principal for life (item 180), so it is created once and never
rebound. Whether a *second store object* sees the first one's records is a property of shared
realisations only, so that test lives with them (e.g. the DynamoDB adapter's tests).

Runtime records: the registry of Runtime connections each Host holds; replaced by connection
id, listed per tenant (never another's) in a fixed order, and dead once expired.

One-time claims: the first use of a credential wins, once, until the claim expires; of
concurrent claims exactly one wins.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from aesp.core.errors import StateError
from aesp.core.ports.state import BucketSpec, RuntimeRecord, SessionRecord, StateStore

T0 = 1_700_000_000_000  # an arbitrary "now", Unix ms
TEN_PER_S = BucketSpec(rate_per_s=10.0, burst=3)  # one token per 100 ms


def session_record(
    session_id: str = "s-1", tenant_id: str = "acme", **changes: Any
) -> SessionRecord:
    """A live session record (an hour long from :data:`T0`); ``changes`` override fields."""
    values: dict[str, Any] = {
        "session_id": session_id,
        "tenant_id": tenant_id,
        "principal_id": f"alice@{tenant_id}",
        "created_at_ms": T0,
        "expires_at_ms": T0 + 3_600_000,
        "metadata": {"client": "cli", "purpose": "conformance"},
    }
    values.update(changes)
    return SessionRecord(**values)


def runtime_record(
    connection_id: str = "c-1", tenant_id: str = "acme", **changes: Any
) -> RuntimeRecord:
    """A runtime record alive for a minute from :data:`T0`; ``changes`` override fields."""
    values: dict[str, Any] = {
        "connection_id": connection_id,
        "runtime_id": "rt-1",
        "tenant_id": tenant_id,
        "host_id": "host-a",
        "tools": ("echo", "search"),
        "expires_at_ms": T0 + 60_000,
    }
    values.update(changes)
    return RuntimeRecord(**values)


class AbstractStateStoreConformance:
    """Behaviour every StateStore must show. Subclasses provide the ``port`` fixture."""

    @pytest.fixture
    def port(self) -> Any:  # pragma: no cover - overridden
        """Yield a fresh, empty StateStore."""
        raise AssertionError("the adapter's test class must override the 'port' fixture")

    async def test_is_a_state_store(self, port: StateStore) -> None:
        assert isinstance(port, StateStore)

    async def test_item_208_burst_then_refusal_with_the_exact_wait(self, port: StateStore) -> None:
        # SPEC 4.19 #208
        assert [await port.take("k", TEN_PER_S, now_ms=T0) for _ in range(3)] == [0, 0, 0]
        assert await port.take("k", TEN_PER_S, now_ms=T0) == 100  # SPEC 4.9 #107: a non-zero wait
        assert await port.take("k", TEN_PER_S, now_ms=T0 + 40) == 60

    async def test_tokens_refill_over_time_up_to_the_burst_only(self, port: StateStore) -> None:
        for _ in range(3):
            assert await port.take("k", TEN_PER_S, now_ms=T0) == 0
        assert await port.take("k", TEN_PER_S, now_ms=T0 + 100) == 0  # exactly the wait
        assert await port.take("k", TEN_PER_S, now_ms=T0 + 100) == 100
        later = T0 + 3_600_000  # an hour idle refills to the burst, never beyond
        assert [await port.take("k", TEN_PER_S, now_ms=later) for _ in range(4)] == [0, 0, 0, 100]

    async def test_a_refusal_takes_nothing(self, port: StateStore) -> None:
        for _ in range(3):
            await port.take("k", TEN_PER_S, now_ms=T0)
        for _ in range(5):
            assert await port.take("k", TEN_PER_S, now_ms=T0 + 50) == 50
        assert await port.take("k", TEN_PER_S, now_ms=T0 + 100) == 0

    async def test_keys_are_independent(self, port: StateStore) -> None:
        for _ in range(3):
            await port.take("principal:a", TEN_PER_S, now_ms=T0)
        assert await port.take("principal:a", TEN_PER_S, now_ms=T0) > 0
        assert await port.take("principal:b", TEN_PER_S, now_ms=T0) == 0
        assert await port.take("tenant:a", TEN_PER_S, now_ms=T0) == 0

    async def test_costs_above_one(self, port: StateStore) -> None:
        assert await port.take("k", TEN_PER_S, now_ms=T0, cost=2) == 0
        assert await port.take("k", TEN_PER_S, now_ms=T0, cost=2) == 100  # one token short
        assert await port.take("k", TEN_PER_S, now_ms=T0, cost=1) == 0

    async def test_a_cost_above_the_burst_is_refused_with_a_finite_wait(
        self, port: StateStore
    ) -> None:
        wait = await port.take("k", TEN_PER_S, now_ms=T0, cost=4)
        assert 0 < wait <= 300  # at most the time to fill the bucket from empty
        assert await port.take("k", TEN_PER_S, now_ms=T0, cost=3) == 0  # nothing was taken

    async def test_concurrent_takes_never_exceed_the_burst(self, port: StateStore) -> None:
        spec = BucketSpec(rate_per_s=0.001, burst=20)
        answers = await asyncio.gather(*(port.take("hot", spec, now_ms=T0) for _ in range(200)))
        assert sum(1 for a in answers if a == 0) == 20
        assert all(a > 0 for a in answers if a != 0)

    async def test_a_slow_rate_gives_a_long_but_exact_wait(self, port: StateStore) -> None:
        spec = BucketSpec(rate_per_s=0.5, burst=1)  # one token per 2 s
        assert await port.take("k", spec, now_ms=T0) == 0
        assert await port.take("k", spec, now_ms=T0) == 2_000
        assert await port.take("k", spec, now_ms=T0 + 1_999) == 1

    # ------------------------------------------------------------------ session records

    async def test_a_session_record_round_trips(self, port: StateStore) -> None:
        record = session_record()
        await port.put_session(record)
        assert await port.get_session("s-1") == record

    async def test_an_unknown_session_is_none(self, port: StateStore) -> None:
        assert await port.get_session("never-created") is None
        assert await port.delete_session("never-created") is False

    async def test_a_deleted_session_is_gone_and_a_second_delete_says_so(
        self, port: StateStore
    ) -> None:
        await port.put_session(session_record())
        assert await port.delete_session("s-1") is True
        assert await port.get_session("s-1") is None
        assert await port.delete_session("s-1") is False

    async def test_putting_the_same_record_again_is_harmless(self, port: StateStore) -> None:
        record = session_record(metadata={})
        await port.put_session(record)
        await port.put_session(session_record(metadata={}))  # a retry after a lost reply
        assert await port.get_session("s-1") == record

    async def test_item_180_a_session_cannot_be_rebound_to_another_tenant(
        self, port: StateStore
    ) -> None:
        # SPEC 4.16 #180: a session's tenant is fixed at creation.
        original = session_record(tenant_id="acme")
        await port.put_session(original)
        with pytest.raises(StateError, match="session") as caught:
            await port.put_session(session_record(tenant_id="globex"))
        assert caught.value.code == "INVALID_STATE"
        with pytest.raises(StateError, match="session"):
            await port.put_session(session_record(expires_at_ms=T0 + 7_200_000))
        assert await port.get_session("s-1") == original

    async def test_session_records_of_two_tenants_never_mix(self, port: StateStore) -> None:
        a = session_record("s-a", "acme")
        b = session_record("s-b", "globex", metadata={"client": "sdk"})
        await asyncio.gather(port.put_session(a), port.put_session(b))
        assert await port.get_session("s-a") == a
        assert await port.get_session("s-b") == b
        assert await port.delete_session("s-a") is True
        assert await port.get_session("s-b") == b

    async def test_sessions_and_buckets_do_not_collide(self, port: StateStore) -> None:
        await port.put_session(session_record("k"))
        assert await port.take("k", TEN_PER_S, now_ms=T0, cost=3) == 0
        assert await port.get_session("k") == session_record("k")
        assert await port.delete_session("k") is True
        assert await port.take("k", TEN_PER_S, now_ms=T0) == 100  # the bucket is still drained

    async def test_a_record_needs_its_ids(self) -> None:
        for field_name in ("session_id", "tenant_id", "principal_id"):
            with pytest.raises(ValueError, match="session record"):
                session_record(**{field_name: ""})

    # ------------------------------------------------------------------ runtime records

    async def test_a_runtime_record_round_trips(self, port: StateStore) -> None:
        record = runtime_record()
        await port.put_runtime(record)
        assert list(await port.runtimes("acme", now_ms=T0)) == [record]

    async def test_a_runtime_record_is_replaced_by_its_connection_id(
        self, port: StateStore
    ) -> None:
        await port.put_runtime(runtime_record())
        newer = runtime_record(tools=("echo",), expires_at_ms=T0 + 120_000)
        await port.put_runtime(newer)  # re-published with fewer tools and a later expiry
        await port.put_runtime(newer)  # an equal record again changes nothing
        assert list(await port.runtimes("acme", now_ms=T0 + 90_000)) == [newer]
        moved = runtime_record(tenant_id="globex")  # the connection id decides, tenant and all
        await port.put_runtime(moved)
        assert await port.runtimes("acme", now_ms=T0) == []
        assert list(await port.runtimes("globex", now_ms=T0)) == [moved]

    async def test_a_deleted_runtime_is_gone_and_a_second_delete_says_so(
        self, port: StateStore
    ) -> None:
        await port.put_runtime(runtime_record("c-1"))
        await port.put_runtime(runtime_record("c-2"))
        assert await port.delete_runtime("c-1") is True
        assert [r.connection_id for r in await port.runtimes("acme", now_ms=T0)] == ["c-2"]
        assert await port.delete_runtime("c-1") is False
        assert await port.delete_runtime("never-registered") is False

    async def test_expired_runtime_records_are_not_listed(self, port: StateStore) -> None:
        await port.put_runtime(runtime_record("short", expires_at_ms=T0 + 1_000))
        await port.put_runtime(runtime_record("long"))
        assert len(await port.runtimes("acme", now_ms=T0 + 999)) == 2
        listed = await port.runtimes("acme", now_ms=T0 + 1_000)  # dead from its expiry on
        assert [r.connection_id for r in listed] == ["long"]
        assert await port.runtimes("acme", now_ms=T0 + 60_000) == []

    async def test_runtime_records_of_two_tenants_never_mix(self, port: StateStore) -> None:
        a = runtime_record("c-a", "acme")
        b = runtime_record("c-b", "globex", runtime_id="rt-2", tools=("ledger",))
        await asyncio.gather(port.put_runtime(a), port.put_runtime(b))
        assert list(await port.runtimes("acme", now_ms=T0)) == [a]
        assert list(await port.runtimes("globex", now_ms=T0)) == [b]
        assert await port.runtimes("initech", now_ms=T0) == []
        assert await port.delete_runtime("c-a") is True
        assert list(await port.runtimes("globex", now_ms=T0)) == [b]

    async def test_runtime_records_are_sorted_by_runtime_then_connection(
        self, port: StateStore
    ) -> None:
        order = [("rt-a", "c-2"), ("rt-a", "c-9"), ("rt-b", "c-1"), ("rt-c", "c-0")]
        for runtime_id, connection_id in reversed(order):
            await port.put_runtime(runtime_record(connection_id, runtime_id=runtime_id))
        listed = await port.runtimes("acme", now_ms=T0)
        assert [(r.runtime_id, r.connection_id) for r in listed] == order

    async def test_runtime_records_and_sessions_do_not_collide(self, port: StateStore) -> None:
        await port.put_session(session_record("c-1"))
        await port.put_runtime(runtime_record("c-1"))
        assert await port.delete_runtime("c-1") is True
        assert await port.get_session("c-1") == session_record("c-1")

    async def test_a_runtime_record_needs_its_ids_and_sorted_tools(self) -> None:
        for field_name in ("connection_id", "runtime_id", "tenant_id", "host_id"):
            with pytest.raises(ValueError, match="runtime record"):
                runtime_record(**{field_name: ""})
        for tools in (("search", "echo"), ("echo", "echo"), ("",), ["echo"]):
            with pytest.raises(ValueError, match="sorted tuple"):
                runtime_record(tools=tools)
        assert runtime_record(tools=()).tools == ()

    # ------------------------------------------------------------------ one-time claims

    async def test_a_claim_is_won_once_until_it_expires(self, port: StateStore) -> None:
        key = "saml|https://idp.example|_a1"
        assert await port.claim(key, until_ms=T0 + 60_000, now_ms=T0) is True
        assert await port.claim(key, until_ms=T0 + 90_000, now_ms=T0 + 1) is False  # a replay
        assert await port.claim(key, until_ms=T0 + 90_000, now_ms=T0 + 59_999) is False
        # Expired: the credential itself is no longer acceptable, so the key may be claimed.
        assert await port.claim(key, until_ms=T0 + 120_000, now_ms=T0 + 60_000) is True
        assert await port.claim(key, until_ms=T0 + 130_000, now_ms=T0 + 60_001) is False

    async def test_concurrent_claims_of_one_key_have_one_winner(self, port: StateStore) -> None:
        answers = await asyncio.gather(
            *(port.claim("saml|idp|_race", until_ms=T0 + 60_000, now_ms=T0) for _ in range(100))
        )
        assert answers.count(True) == 1

    async def test_claims_are_independent_of_each_other_and_of_sessions(
        self, port: StateStore
    ) -> None:
        await port.put_session(session_record("k-1"))
        assert await port.claim("k-1", until_ms=T0 + 1000, now_ms=T0) is True
        assert await port.claim("k-2", until_ms=T0 + 1000, now_ms=T0) is True
        assert await port.get_session("k-1") == session_record("k-1")

    async def test_an_unusable_claim_is_refused(self, port: StateStore) -> None:
        with pytest.raises(ValueError, match="claim key"):
            await port.claim("", until_ms=T0 + 1, now_ms=T0)
        with pytest.raises(ValueError, match="end after"):
            await port.claim("k", until_ms=T0, now_ms=T0)
