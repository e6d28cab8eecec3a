"""The Tenant and State ports on DynamoDB (moto in server mode): the kits, plus what only a
shared store must show: two store objects behave as two Hosts on one table.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from typing import Any

import pytest
from aesp_aws._aws import Aws
from aesp_aws._dynamo import from_item, to_item
from aesp_aws.settings import AwsSettings
from aesp_aws.state import RUNTIME_SWEEP_GRACE_MS, TTL_ATTRIBUTE, DynamoStateStore
from aesp_aws.tenancy import DynamoTenantRegistry

from aesp.core.errors import ConfigurationError, ExecutionError, StateError
from aesp.core.ports.state import BucketSpec
from aesp.core.ports.tenancy import Tenant, TenantStatus
from aesp.testing.conformance.state import (
    T0,
    AbstractStateStoreConformance,
    runtime_record,
    session_record,
)
from aesp.testing.conformance.tenancy import AbstractTenantRegistryConformance
from tests.aws_doubles.moto_server import MotoServer


class TestDynamoTenantRegistry(AbstractTenantRegistryConformance):
    @pytest.fixture
    async def port(self, aws: Aws) -> AsyncIterator[DynamoTenantRegistry]:
        registry = await DynamoTenantRegistry.open(aws)
        yield registry
        await registry.close()


class TestDynamoStateStore(AbstractStateStoreConformance):
    @pytest.fixture
    async def port(self, aws: Aws) -> AsyncIterator[DynamoStateStore]:
        store = await DynamoStateStore.open(aws)
        yield store
        await store.close()


@pytest.fixture
def second_host(aws_settings: AwsSettings) -> Iterator[Aws]:
    """Another Host's clients on the same tables."""
    clients = Aws(aws_settings)
    yield clients
    clients.close()


@pytest.fixture
def nowhere() -> Iterator[Aws]:
    """Clients of a Host whose DynamoDB endpoint does not answer (nothing listens on port 9)."""
    clients = Aws(AwsSettings(endpoint_url="http://127.0.0.1:9", table_prefix="gone"))
    yield clients
    clients.close()


# ---------------------------------------------------------------------- tenants


async def test_a_tenant_put_by_one_host_is_read_and_updated_by_another(
    aws: Aws, second_host: Aws
) -> None:
    one = await DynamoTenantRegistry.open(aws)
    two = await DynamoTenantRegistry.open(second_host)
    await one.put(Tenant("acme", "Acme", TenantStatus.ACTIVE, 10, 10, {"tier": "gold"}))
    await two.put(Tenant("acme", "Acme", TenantStatus.SUSPENDED, 99, 20))
    got = await one.get("acme")
    assert got == Tenant("acme", "Acme", TenantStatus.SUSPENDED, 10, 20, {})


async def test_tenants_live_in_one_partition_sorted_by_id(aws: Aws) -> None:
    registry = await DynamoTenantRegistry.open(aws)
    await registry.put(Tenant("b"))
    await registry.put(Tenant("a", "A"))
    reply = await aws.call("dynamodb", "scan", TableName=aws.settings.table("tenants"))
    items = sorted((from_item(i)["pk"], from_item(i)["sk"]) for i in reply["Items"])
    assert items == [("tenant", "a"), ("tenant", "b")]
    page = await registry.list(limit=1, cursor="a")
    assert [t.tenant_id for t in page.items] == ["b"] and page.next_cursor == ""


async def test_an_unreachable_tenant_table_fails_closed(nowhere: Aws) -> None:
    registry = DynamoTenantRegistry(nowhere)
    with pytest.raises(ExecutionError, match="tenant registry") as caught:
        await registry.get("acme")
    assert caught.value.code == "SERVICE_UNAVAILABLE"


async def test_a_missing_tenant_table_fails_closed_with_its_name(aws_settings: AwsSettings) -> None:
    settings = AwsSettings(endpoint_url=aws_settings.endpoint_url, table_prefix="absent")
    clients = Aws(settings)
    try:
        registry = await DynamoTenantRegistry.open(clients)  # create_resources is off
        with pytest.raises(ExecutionError, match="absent-tenants") as caught:
            await registry.put(Tenant("acme"))
        assert caught.value.code == "SERVICE_UNAVAILABLE"
        assert "ResourceNotFoundException" in caught.value.message
    finally:
        clients.close()


# ---------------------------------------------------------------------- buckets


def _quick(settings: AwsSettings, **options: object) -> AwsSettings:
    """``settings`` with leases handed back after 0.3 s idle (and ``options``)."""
    return replace(settings, options={**settings.options, "state_lease_idle_s": 0.3, **options})


async def _stored(aws: Aws, key: str) -> float | None:
    """The tokens of the shared bucket ``key`` as DynamoDB holds them (None: no item)."""
    reply = await aws.call(
        "dynamodb",
        "get_item",
        TableName=aws.settings.table("state"),
        Key=to_item({"pk": f"bucket#{key}"}),
        ConsistentRead=True,
    )
    return float(from_item(reply["Item"])["tokens"]) if "Item" in reply else None


@contextlib.contextmanager
def _dynamodb_calls(aws: Aws, *, delay_s: float = 0.0) -> Iterator[list[str]]:
    """The names of the DynamoDB operations ``aws`` sends meanwhile (each delayed ``delay_s``)."""
    calls: list[str] = []

    def seen(model: Any, **_: Any) -> None:
        calls.append(model.name)
        time.sleep(delay_s)  # runs in the worker thread of the call, as a slow network would

    events = aws.client("dynamodb").meta.events
    events.register("before-call.dynamodb.*", seen)
    try:
        yield calls
    finally:
        events.unregister("before-call.dynamodb.*", seen)


async def test_two_hosts_taking_at_one_instant_never_grant_more_than_the_burst(
    aws: Aws, second_host: Aws
) -> None:
    one, two = await DynamoStateStore.open(aws), await DynamoStateStore.open(second_host)
    spec = BucketSpec(rate_per_s=0.001, burst=12)  # leases of 1 token; no refill at one instant
    takes = [(one if i % 2 else two).take("hot", spec, now_ms=T0) for i in range(60)]
    answers = await asyncio.gather(*takes)
    granted = sum(1 for a in answers if a == 0)
    assert spec.burst - 2 <= granted <= spec.burst  # each Host may still hold one leased token
    assert all(a > 0 for a in answers if a != 0)
    await one.close()
    await two.close()  # both hand their leases back: every token is granted or in the bucket
    assert granted + (await _stored(aws, "hot") or 0.0) == spec.burst


async def test_two_hosts_over_time_never_grant_more_than_burst_plus_refill(
    aws: Aws, second_host: Aws
) -> None:
    one, two = await DynamoStateStore.open(aws), await DynamoStateStore.open(second_host)
    spec = BucketSpec(rate_per_s=10.0, burst=4)  # over 1 s: at most 4 + 10 tokens

    async def host(store: DynamoStateStore, offset_ms: int) -> int:
        granted = 0
        for step in range(25):  # 25 takes 40 ms apart: 0 .. 960 ms
            granted += await store.take("shared", spec, now_ms=T0 + offset_ms + step * 40) == 0
        return granted

    granted = sum(await asyncio.gather(host(one, 0), host(two, 20)))
    assert spec.burst <= granted <= spec.burst + 10
    await one.close()
    await two.close()


async def test_an_assertion_claimed_on_one_host_is_a_replay_on_the_other(
    aws: Aws, second_host: Aws
) -> None:
    one, two = await DynamoStateStore.open(aws), await DynamoStateStore.open(second_host)
    key = "saml|https://idp.example|_assertion-7"
    answers = await asyncio.gather(
        *((one if i % 2 else two).claim(key, until_ms=T0 + 300_000, now_ms=T0) for i in range(20))
    )
    assert answers.count(True) == 1
    assert await two.claim(key, until_ms=T0 + 300_000, now_ms=T0 + 1_000) is False
    await one.close()
    await two.close()


async def test_takes_on_a_warm_key_do_not_call_dynamodb(aws: Aws) -> None:
    store = await DynamoStateStore.open(aws)
    spec = BucketSpec(rate_per_s=0.001, burst=100)  # leases of 10, topped up at 5 or fewer
    with _dynamodb_calls(aws) as calls:
        assert await store.take("k", spec, now_ms=T0) == 0  # first sight: a fetch of 10
        assert calls == ["PutItem"]
        assert [await store.take("k", spec, now_ms=T0) for _ in range(3)] == [0, 0, 0]
        await store.settle()
        assert calls == ["PutItem"]  # 9, 8, 7, then 6 tokens left in the lease: memory only
        assert await store.take("k", spec, now_ms=T0) == 0  # 5 left: top-up in background
        assert calls == ["PutItem"]
        await store.settle()
        assert calls == ["PutItem", "PutItem"]
    assert await _stored(aws, "k") == 85.0  # 10 leased, then 5 more to bring the lease to 10
    await store.close()
    assert await _stored(aws, "k") == 95.0  # close hands the 10 unused tokens back


async def test_a_slow_dynamodb_does_not_slow_a_warm_take(aws: Aws) -> None:
    store = await DynamoStateStore.open(aws)
    spec = BucketSpec(rate_per_s=0.001, burst=100)
    assert await store.take("k", spec, now_ms=T0) == 0
    await store.settle()
    with _dynamodb_calls(aws, delay_s=0.5) as calls:
        for _ in range(4):  # down to 5 tokens: the top-up starts
            assert await store.take("k", spec, now_ms=T0) == 0
        await asyncio.sleep(0.05)  # the top-up is now waiting on DynamoDB
        started = time.monotonic()
        assert [await store.take("k", spec, now_ms=T0) for _ in range(4)] == [0, 0, 0, 0]
        assert time.monotonic() - started < 0.2
        assert calls == ["PutItem"]
        await store.settle()
    assert await _stored(aws, "k") == 85.0
    await store.close()


async def test_a_refusal_from_an_empty_shared_bucket_is_answered_from_memory(aws: Aws) -> None:
    store = await DynamoStateStore.open(aws)
    spec = BucketSpec(rate_per_s=10.0, burst=2)
    assert [await store.take("k", spec, now_ms=T0) for _ in range(2)] == [0, 0]
    await store.settle()
    with _dynamodb_calls(aws) as calls:
        assert [await store.take("k", spec, now_ms=T0 + 30) for _ in range(3)] == [70, 70, 70]
    assert calls == []
    await store.close()


async def test_a_lease_idle_on_one_host_goes_back_to_the_other(aws_settings: AwsSettings) -> None:
    a, b = Aws(_quick(aws_settings)), Aws(_quick(aws_settings))
    try:
        one, two = await DynamoStateStore.open(a), await DynamoStateStore.open(b)
        spec = BucketSpec(rate_per_s=0.001, burst=2)  # leases of 1 token, no refill to speak of
        assert await one.take("k", spec, now_ms=T0) == 0
        await one.settle()  # one's top-up took the last token
        assert await _stored(a, "k") == 0.0
        assert await two.take("k", spec, now_ms=T0) > 0  # one holds it, unused
        await asyncio.sleep(1.0)  # idle 0.3 s: one hands it back (checked every 0.15 s)
        assert await _stored(a, "k") == 1.0
        assert await two.take("k", spec, now_ms=T0) == 0  # two's view is old: it reads again
        assert await one.take("k", spec, now_ms=T0) > 0
        await one.close()
        await two.close()
    finally:
        a.close()
        b.close()


async def test_a_bucket_deleted_meanwhile_is_recreated_not_overwritten(aws: Aws) -> None:
    store = await DynamoStateStore.open(aws)
    spec = BucketSpec(rate_per_s=10.0, burst=2)  # leases of 1
    assert await store.take("k", spec, now_ms=T0) == 0
    await store.settle()  # the top-up leased the second token
    table = aws.settings.table("state")
    await aws.call("dynamodb", "delete_item", TableName=table, Key=to_item({"pk": "bucket#k"}))
    later = T0 + 3_600_000  # TTL deletes only full buckets
    assert await store.take("k", spec, now_ms=later) == 0  # from the lease
    await store.settle()  # the top-up finds no item and creates one, full less the lease
    reply = await aws.call("dynamodb", "get_item", TableName=table, Key=to_item({"pk": "bucket#k"}))
    assert from_item(reply["Item"])["tokens"] == 1
    assert from_item(reply["Item"])["updated_ms"] == later


async def test_buckets_expire_through_the_table_ttl_once_full_again(aws: Aws) -> None:
    store = await DynamoStateStore.open(aws)
    table = aws.settings.table("state")
    ttl = await aws.call("dynamodb", "describe_time_to_live", TableName=table)
    assert ttl["TimeToLiveDescription"] == {
        "TimeToLiveStatus": "ENABLED",
        "AttributeName": TTL_ATTRIBUTE,
    }
    await DynamoStateStore.open(aws)  # a second start finds TTL on and leaves it
    now = int(time.time() * 1000)
    await store.take("k", BucketSpec(rate_per_s=1.0, burst=10), now_ms=now, cost=10)
    reply = await aws.call("dynamodb", "get_item", TableName=table, Key=to_item({"pk": "bucket#k"}))
    expires_at = int(from_item(reply["Item"])[TTL_ATTRIBUTE])
    full_at_s = (now + 10_000) / 1000  # 10 tokens at 1/s
    assert full_at_s <= expires_at <= full_at_s + 3_601


async def test_an_unreachable_state_table_degrades_takes_to_a_local_bucket(
    nowhere: Aws, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="aesp_aws.state")
    store = DynamoStateStore(nowhere)
    spec = BucketSpec(rate_per_s=1.0, burst=1)
    assert await store.take("k", spec, now_ms=T0) == 0  # a key never seen starts full
    assert store.degraded
    assert await store.take("k", spec, now_ms=T0) == 1_000  # the same limit, on this Host
    assert await store.take("k", spec, now_ms=T0 + 1_000) == 0
    warnings = [r for r in caplog.records if "cannot be reached" in r.getMessage()]
    assert len(warnings) == 1
    assert "alone from local buckets" in warnings[0].getMessage()
    with pytest.raises(ExecutionError, match="shared state store") as caught:
        await store.get_session("s-1")  # sessions still fail closed
    assert caught.value.code == "SERVICE_UNAVAILABLE"
    await store.close()


async def test_a_missing_state_table_fails_closed_rather_than_degrading(
    aws_settings: AwsSettings,
) -> None:
    clients = Aws(AwsSettings(endpoint_url=aws_settings.endpoint_url, table_prefix="absent"))
    try:
        store = await DynamoStateStore.open(clients)  # create_resources is off
        with pytest.raises(ExecutionError, match="absent-state") as caught:
            await store.take("k", BucketSpec(rate_per_s=1.0, burst=1), now_ms=T0)
        assert caught.value.code == "SERVICE_UNAVAILABLE"
        assert not store.degraded
        await store.close()
    finally:
        clients.close()


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("state_lease_share", 0),
        ("state_lease_share", 1.5),
        ("state_lease_share", "10%"),
        ("state_lease_idle_s", -1),
        ("state_lease_idle_s", True),
    ],
)
def test_a_lease_setting_out_of_range_is_refused(key: str, value: object) -> None:
    clients = Aws(AwsSettings(options={key: value}))
    with pytest.raises(ConfigurationError, match=key) as caught:
        DynamoStateStore(clients)
    assert caught.value.code == "INVALID_CONFIG"


async def test_an_unusable_spec_is_refused_before_any_call(nowhere: Aws) -> None:
    with pytest.raises(ValueError, match="positive"):
        await DynamoStateStore(nowhere).take("k", BucketSpec(0.0, 1), now_ms=T0)


# ---------------------------------------------------------------------- session records


async def test_a_second_host_honours_and_ends_a_session_the_first_created(
    aws: Aws, second_host: Aws
) -> None:
    one, two = await DynamoStateStore.open(aws), await DynamoStateStore.open(second_host)
    record = session_record()
    await one.put_session(record)
    assert await two.get_session("s-1") == record
    with pytest.raises(StateError, match="bound once"):
        await two.put_session(session_record(principal_id="mallory@acme"))
    assert await two.delete_session("s-1") is True
    assert await one.get_session("s-1") is None
    assert await one.delete_session("s-1") is False


async def test_two_hosts_racing_to_create_one_session_id_leave_one_record(
    aws: Aws, second_host: Aws
) -> None:
    one, two = await DynamoStateStore.open(aws), await DynamoStateStore.open(second_host)
    a, b = session_record(tenant_id="acme"), session_record(tenant_id="globex")
    results = await asyncio.gather(one.put_session(a), two.put_session(b), return_exceptions=True)
    assert sorted(type(r).__name__ for r in results) == ["NoneType", "StateError"]
    winner = a if results[0] is None else b
    assert await one.get_session("s-1") == winner


async def test_session_records_expire_through_the_table_ttl(aws: Aws) -> None:
    store = await DynamoStateStore.open(aws)
    await store.put_session(session_record(expires_at_ms=T0 + 1_500))
    reply = await aws.call(
        "dynamodb",
        "get_item",
        TableName=aws.settings.table("state"),
        Key=to_item({"pk": "session#s-1"}),
    )
    assert int(from_item(reply["Item"])[TTL_ATTRIBUTE]) == T0 // 1000 + 2 + 3_600


# ---------------------------------------------------------------------- runtime records


async def _registry_entries(aws: Aws, tenant_id: str) -> set[str]:
    """The connection ids in the tenant's registry item as DynamoDB holds it, dead ones too."""
    reply = await aws.call(
        "dynamodb",
        "get_item",
        TableName=aws.settings.table("state"),
        Key=to_item({"pk": f"runtimes#{tenant_id}"}),
    )
    return set(from_item(reply.get("Item") or {}).get("runtimes", {}))


async def test_a_second_host_sees_and_deletes_the_runtimes_the_first_put(
    aws: Aws, second_host: Aws
) -> None:
    one, two = await DynamoStateStore.open(aws), await DynamoStateStore.open(second_host)
    record = runtime_record(host_id="host-one")
    await one.put_runtime(record)
    assert list(await two.runtimes("acme", now_ms=T0)) == [record]
    assert await two.delete_runtime("c-1") is True  # found from the connection id alone
    assert await one.runtimes("acme", now_ms=T0) == []
    assert await one.delete_runtime("c-1") is False


async def test_two_hosts_putting_one_tenants_runtimes_at_once_lose_none(
    aws: Aws, second_host: Aws
) -> None:
    one, two = await DynamoStateStore.open(aws), await DynamoStateStore.open(second_host)
    records = [runtime_record(f"c-{i:02d}", runtime_id=f"rt-{i % 3}") for i in range(20)]
    stores = [one, two] * 10
    await asyncio.gather(*(s.put_runtime(r) for s, r in zip(stores, records, strict=True)))
    listed = await two.runtimes("acme", now_ms=T0)
    assert sorted(listed, key=lambda r: r.connection_id) == records
    assert list(listed) == sorted(records, key=lambda r: (r.runtime_id, r.connection_id))


async def test_long_dead_runtime_entries_are_removed_when_listed(aws: Aws) -> None:
    store = await DynamoStateStore.open(aws)
    await store.put_runtime(runtime_record("dead", expires_at_ms=T0 + 1_000))
    await store.put_runtime(runtime_record("live", expires_at_ms=T0 + 10 * RUNTIME_SWEEP_GRACE_MS))
    await store.runtimes("acme", now_ms=T0 + 1_000)  # dead, but within the grace: kept
    assert await _registry_entries(aws, "acme") == {"dead", "live"}
    later = T0 + 1_000 + RUNTIME_SWEEP_GRACE_MS
    assert [r.connection_id for r in await store.runtimes("acme", now_ms=later)] == ["live"]
    assert await _registry_entries(aws, "acme") == {"live"}
    assert await store.delete_runtime("dead") is False  # its pointer went, its entry too


async def test_a_runtime_pointer_expires_through_the_table_ttl_after_its_record(aws: Aws) -> None:
    store = await DynamoStateStore.open(aws)
    await store.put_runtime(runtime_record(expires_at_ms=T0 + 1_500))
    reply = await aws.call(
        "dynamodb",
        "get_item",
        TableName=aws.settings.table("state"),
        Key=to_item({"pk": "runtime#c-1"}),
    )
    assert from_item(reply["Item"]) == {
        "pk": "runtime#c-1",
        "tenant_id": "acme",
        TTL_ATTRIBUTE: T0 // 1000 + 2 + 3_600,
    }


async def test_a_full_tenant_registry_refuses_a_new_runtime_until_dead_ones_go(
    aws: Aws, second_host: Aws
) -> None:
    await DynamoStateStore.open(aws)
    one = DynamoStateStore(aws, max_runtimes_per_tenant=3)
    two = DynamoStateStore(second_host, max_runtimes_per_tenant=3)
    now = int(time.time() * 1000)  # the sweep that makes room uses the wall clock
    await one.put_runtime(runtime_record("c-old", expires_at_ms=now - RUNTIME_SWEEP_GRACE_MS))
    await one.put_runtime(runtime_record("c-1", expires_at_ms=now + 3_600_000))
    await two.put_runtime(runtime_record("c-2", expires_at_ms=now + 3_600_000))
    await two.put_runtime(runtime_record("c-3", expires_at_ms=now + 3_600_000))  # room made
    assert await _registry_entries(aws, "acme") == {"c-1", "c-2", "c-3"}
    with pytest.raises(ExecutionError, match="Runtime connections") as caught:
        await one.put_runtime(runtime_record("c-4", expires_at_ms=now + 3_600_000))
    assert caught.value.code == "RESOURCE_EXHAUSTED"
    republished = runtime_record("c-2", tools=("echo",), expires_at_ms=now + 7_200_000)
    await two.put_runtime(republished)  # re-publishing a held connection still works
    await one.put_runtime(runtime_record("c-4", tenant_id="globex"))  # other tenants unaffected
    assert republished in await one.runtimes("acme", now_ms=now)
    assert len(await one.runtimes("acme", now_ms=now)) == 3


async def test_a_record_beyond_dynamodbs_item_size_is_refused_not_failed(aws: Aws) -> None:
    store = await DynamoStateStore.open(aws)
    tools = tuple(f"tool-{i:04d}-{'x' * 490}" for i in range(900))  # about 450 KB
    with pytest.raises(ExecutionError, match="Runtime connections") as caught:
        await store.put_runtime(runtime_record(tools=tools))
    assert caught.value.code == "RESOURCE_EXHAUSTED"
    assert await store.runtimes("acme", now_ms=T0) == []


async def test_an_unreachable_runtime_registry_fails_closed(nowhere: Aws) -> None:
    store = DynamoStateStore(nowhere)
    for attempt in (
        store.put_runtime(runtime_record()),
        store.delete_runtime("c-1"),
        store.runtimes("acme", now_ms=T0),
    ):
        with pytest.raises(ExecutionError, match="shared state store") as caught:
            await attempt
        assert caught.value.code == "SERVICE_UNAVAILABLE"


# ---------------------------------------------------------------------- outage (keep last)


async def test_during_an_outage_takes_are_governed_locally_then_leases_resume(
    aws_settings: AwsSettings, moto_server: MotoServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="aesp_aws.state")
    clients = Aws(_quick(aws_settings, state_lease_idle_s=0.4))  # probes every 0.2 s
    store = await DynamoStateStore.open(clients)
    spec = BucketSpec(rate_per_s=0.001, burst=10)  # leases of 1; no refill at one instant
    try:
        assert await store.take("k", spec, now_ms=T0) == 0
        await store.settle()  # this Host holds 1 token; the shared bucket 8
        moto_server.stop()
        try:
            answers = [await store.take("k", spec, now_ms=T0) for _ in range(12)]
            assert store.degraded
            assert answers[:9] == [0] * 9  # the lease, then a local bucket of the 8 it saw
            assert all(a > 0 for a in answers[9:])
            assert await store.take("never-seen", spec, now_ms=T0) == 0  # no wait on AWS
            reached = [r for r in caplog.records if "cannot be reached" in r.getMessage()]
            assert len(reached) == 1  # one warning per outage
        finally:
            moto_server.start()
        deadline = time.monotonic() + 10
        while store.degraded and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert not store.degraded
        assert any("answers again" in r.getMessage() for r in caplog.records)
        assert await store.take("k", spec, now_ms=T0) == 0  # leases again, from DynamoDB
        await store.settle()
        assert await _stored(clients, "k") == 6.0  # a fetch of 1, then a top-up of 1
    finally:
        await store.close()
        clients.close()
