"""The Policy port on DynamoDB (moto server): the kit, two Hosts on one table, outages."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aesp_aws._aws import Aws
from aesp_aws.policies import DynamoPolicyStore
from aesp_aws.settings import AwsSettings

from aesp.core.errors import ExecutionError
from aesp.core.ports.policy import VersionExistsError
from aesp.testing.conformance.policy import AbstractPolicyStoreConformance, policy
from tests.aws_doubles.moto_server import MotoServer


@pytest.fixture
async def store(aws: Aws) -> AsyncIterator[DynamoPolicyStore]:
    opened = await DynamoPolicyStore.open(aws)
    yield opened
    await opened.close()


class TestDynamoPolicyStore(AbstractPolicyStoreConformance):
    @pytest.fixture
    async def port(self, store: DynamoPolicyStore) -> DynamoPolicyStore:
        return store


async def _eventually(check: Callable[[], Awaitable[bool]], timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not await check():
        assert time.monotonic() < deadline, "condition not met within the timeout"
        await asyncio.sleep(0.05)


async def test_two_hosts_share_versions_revisions_and_active(aws: Aws) -> None:
    first = await DynamoPolicyStore.open(aws)
    second = await DynamoPolicyStore.open(Aws(aws.settings))
    try:
        start = await second.revision()
        stored = await first.add_version(policy(), created_by="alice", at_ms=1)
        assert await second.get("acme", "p") == stored  # strongly consistent reads
        with pytest.raises(VersionExistsError):
            await second.add_version(policy(condition="true"), created_by="bob", at_ms=2)

        async def active_on_second() -> bool:
            return list(await second.active()) == [stored.definition]

        await _eventually(active_on_second)
        seen = await second.revision()
        assert seen > start
        later = await second.add_version(policy(version="2.0.0"), created_by="bob", at_ms=3)
        assert later.revision > stored.revision  # one sequence across Hosts
        assert await first.delete("acme", "p", at_ms=4) is True
        assert await second.delete("acme", "p", at_ms=5) is False

        async def gone() -> bool:
            return list(await second.active()) == []

        await _eventually(gone)
        assert await second.revision() > seen
    finally:
        await first.close()
        await second.close()


async def test_a_host_that_saw_a_new_revision_sees_the_policy(aws: Aws) -> None:
    # The revision a Host polls never runs ahead of the snapshot active() serves.
    writer = await DynamoPolicyStore.open(aws)
    reader = await DynamoPolicyStore.open(Aws(aws.settings))
    try:
        before = await reader.revision()
        for i in range(5):
            await writer.add_version(policy(f"p{i}"), created_by="a", at_ms=i)
            revision = await reader.revision()
            if revision != before:
                assert {d.policy_id for d in await reader.active()} >= {"p0"}
            before = revision
    finally:
        await writer.close()
        await reader.close()


async def test_a_write_overtaken_by_another_hosts_stays_a_version_not_the_head(
    store: DynamoPolicyStore, aws: Aws
) -> None:
    # Another Host reserved a later revision and committed first: this Host's transaction is
    # cancelled on the head's condition, its version is still stored, the head keeps the later
    # write. (Staged by moving the head's rev ahead directly: moto restores a whole table when
    # a transaction is cancelled, so truly concurrent cross-Host writes lose items there.)
    first = await store.add_version(policy(version="1.0.0"), created_by="a", at_ms=1)
    table = aws.settings.table("policies")
    reply = aws.client("dynamodb").query(
        TableName=table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": "head"}},
        ConsistentRead=True,
    )
    (head,) = reply["Items"]
    aws.client("dynamodb").update_item(
        TableName=table,
        Key={"pk": head["pk"], "sk": head["sk"]},
        UpdateExpression="SET rev = :big",
        ExpressionAttributeValues={":big": {"N": "1000000"}},
    )
    late = await store.add_version(policy(version="0.9.0"), created_by="b", at_ms=2)
    assert [s.definition.version for s in await store.versions("acme", "p")] == ["1.0.0", "0.9.0"]
    assert await store.get("acme", "p") == first
    assert await store.get("acme", "p", "0.9.0") == late
    with pytest.raises(VersionExistsError):
        await store.add_version(policy(version="0.9.0"), created_by="c", at_ms=3)


async def test_a_nul_character_in_an_id_is_refused(store: DynamoPolicyStore) -> None:
    with pytest.raises(ValueError, match="x00"):
        await store.add_version(policy("bad\x00id"), created_by="a", at_ms=1)


async def test_a_foreign_cursor_is_refused(store: DynamoPolicyStore) -> None:
    with pytest.raises(ValueError, match="cursor"):
        await store.list_latest(tenant_id=None, cursor="nope")


async def test_open_fails_closed_when_dynamodb_is_unreachable(aws_settings: AwsSettings) -> None:
    clients = Aws(AwsSettings(endpoint_url="http://127.0.0.1:9", table_prefix="x"))
    try:
        with pytest.raises(ExecutionError) as caught:
            await DynamoPolicyStore.open(clients)
        assert caught.value.code == "SERVICE_UNAVAILABLE"
    finally:
        clients.close()


async def test_zz_active_keeps_serving_while_aws_is_down(
    store: DynamoPolicyStore, aws: Aws, moto_server: MotoServer
) -> None:
    # Kept last in the file: it stops the session's moto server (and restarts it in finally).
    stored = await store.add_version(policy(), created_by="a", at_ms=1)
    revision = await store.revision()
    moto_server.stop()
    try:
        await asyncio.sleep(aws.settings.sync_interval_s * 3)
        assert list(await store.active()) == [stored.definition]
        assert await store.revision() == revision
        with pytest.raises(ExecutionError) as caught:
            await store.get("acme", "p")
        assert caught.value.code == "SERVICE_UNAVAILABLE"
        assert store.last_sync_error
    finally:
        moto_server.start()
