"""The AWS Config store passes the kit against moto (DynamoDB, AppConfig hosted versions) and the
AppConfig fake (environments, deployments, ``appconfigdata``), with a second store object on the
same resources as the second Host; another Host's change arrives through the AppConfig
deployment it triggers; and while AWS is down reads answer from the snapshot and writes fail
closed."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace

import boto3
import pytest
from aesp_aws._appconfig import IDS_ITEM, resolve_ids
from aesp_aws._aws import Aws
from aesp_aws._dynamo import from_item, to_item
from aesp_aws.config import AwsConfigStore
from aesp_aws.settings import AwsSettings

from aesp.core.errors import ConfigurationError, ExecutionError
from aesp.core.ports._errors import ConcurrentChangeError
from aesp.testing.conformance._config_races import entry
from aesp.testing.conformance.config import AbstractConfigStoreConformance
from tests.aws_doubles.appconfig_fake import AppConfigFake
from tests.aws_doubles.moto_server import MotoServer

KEY = "gateway.rate_limit"


@pytest.fixture(scope="module")
def appconfig_fake(moto_server: MotoServer) -> Iterator[AppConfigFake]:
    """The AppConfig APIs moto lacks; it forwards the rest of ``appconfig`` to moto."""
    fake = AppConfigFake(moto_server.url, poll_interval_s=0).start()
    yield fake
    fake.stop()


@pytest.fixture
def settings(aws_settings: AwsSettings, appconfig_fake: AppConfigFake) -> AwsSettings:
    endpoints = {"appconfig": appconfig_fake.url, "appconfigdata": appconfig_fake.url}
    return replace(aws_settings, endpoints=endpoints)


@pytest.fixture(scope="module")
def session() -> boto3.session.Session:
    """One boto3 session for the module: its loaded service models make new clients cheap."""
    return boto3.session.Session(region_name="us-east-1")


@pytest.fixture
async def hosts(
    settings: AwsSettings, session: boto3.session.Session
) -> AsyncIterator[list[AwsConfigStore]]:
    """Two Hosts on one table and one AppConfig environment, each with its own clients."""
    clients = [Aws(settings, session=session), Aws(settings, session=session)]
    stores: list[AwsConfigStore] = []
    try:
        for aws in clients:
            stores.append(await AwsConfigStore.open(aws))
        yield stores
    finally:
        for store in stores:
            await store.close()
        for aws in clients:
            aws.close()


class TestAwsConfigStore(AbstractConfigStoreConformance):
    @pytest.fixture
    def port(self, hosts: list[AwsConfigStore]) -> AwsConfigStore:
        return hosts[0]

    @pytest.fixture
    def replica(self, hosts: list[AwsConfigStore]) -> AwsConfigStore:
        return hosts[1]


async def test_both_hosts_follow_one_appconfig_environment(
    hosts: list[AwsConfigStore], aws: Aws
) -> None:
    # The first Host created the resources and recorded them; the second found the record.
    reply = aws.client("dynamodb").get_item(
        TableName=aws.settings.table("config"), Key=to_item(IDS_ITEM), ConsistentRead=True
    )
    ids = from_item(reply["Item"])
    assert [s.appconfig.application if s.appconfig else "" for s in hosts] == [
        ids["application"]
    ] * 2


async def test_another_hosts_change_arrives_through_the_appconfig_deployment(
    hosts: list[AwsConfigStore], settings: AwsSettings
) -> None:
    writer, follower = hosts
    assert await follower.revision() == 0
    started = time.monotonic()
    stored = await writer.set(entry(value="250"), expected_version=0)
    # No read on the follower: only its appconfigdata session can bring the change.
    assert follower.snapshot_revision() == 0
    assert await follower.wait_for_revision(stored.revision, timeout=5)
    took = time.monotonic() - started
    assert took < 10 * settings.sync_interval_s, took
    assert await follower.get("acme", KEY) == stored

    # What was deployed is the revision marker, read back through the real data-plane client.
    data = Aws(settings)
    try:
        ids = writer.appconfig
        assert ids is not None
        token = data.client("appconfigdata").start_configuration_session(
            ApplicationIdentifier=ids.application,
            EnvironmentIdentifier=ids.environment,
            ConfigurationProfileIdentifier=ids.profile,
        )["InitialConfigurationToken"]
        got = data.client("appconfigdata").get_latest_configuration(ConfigurationToken=token)
        assert json.loads(got["Configuration"].read()) == {"revision": stored.revision}
        assert got["VersionLabel"] == f"revision-{stored.revision}"
    finally:
        data.close()


async def test_named_resources_are_required_without_create_resources(
    settings: AwsSettings,
) -> None:
    aws = Aws(replace(settings, create_resources=False))
    try:
        with pytest.raises(ConfigurationError, match="appconfig_application_id is required"):
            await resolve_ids(aws, aws.settings.table("config"))
    finally:
        aws.close()


async def test_an_environment_appconfig_does_not_know_stops_start_up(
    hosts: list[AwsConfigStore], settings: AwsSettings
) -> None:
    ids = hosts[0].appconfig  # real ids, then one wrong
    assert ids is not None
    options = {
        **settings.options,
        "appconfig_application_id": ids.application,
        "appconfig_environment_id": "no-such-env",
        "appconfig_profile_id": ids.profile,
        "appconfig_strategy_id": ids.strategy,
    }
    aws = Aws(replace(settings, options=options))
    try:
        with pytest.raises(ConfigurationError, match="AppConfig refused") as caught:
            await AwsConfigStore.open(aws)
        assert "Environment no-such-env not found" in str(caught.value)
        assert caught.value.code == "INVALID_CONFIG"
    finally:
        aws.close()


async def test_a_claim_lost_to_another_host_is_retried_on_top_of_its_write(
    hosts: list[AwsConfigStore],
) -> None:
    # Host 0 has not seen Host 1's write of another key when it aims at the same revision.
    first, second = hosts
    await second.set(entry("other", "x"), expected_version=0)
    stored = await first.set(entry(value="mine"), expected_version=0)
    assert stored.revision == 2
    with pytest.raises(ConcurrentChangeError):
        await second.set(entry(value="stale"), expected_version=0)


# Keep last: it stops the shared moto server (and the fake) for a while.
async def test_while_aws_is_down_reads_answer_from_the_snapshot_and_writes_fail_closed(
    hosts: list[AwsConfigStore],
    moto_server: MotoServer,
    appconfig_fake: AppConfigFake,
    settings: AwsSettings,
) -> None:
    store = hosts[0]
    stored = await store.set(entry(value="before the outage"), expected_version=0)
    moto_server.stop()
    appconfig_fake.stop()
    try:
        assert await store.get("acme", KEY) == stored
        assert [e.value for e in (await store.history("acme", KEY)).items] == ["before the outage"]
        assert list(await store.changes_since(0)) == [stored]
        assert await store.revision() == stored.revision
        with pytest.raises(ExecutionError, match="cannot be reached") as caught:
            await store.set(entry(value="during the outage"), expected_version=1)
        assert caught.value.code == "DEPENDENCY_UNAVAILABLE"
    finally:
        moto_server.start()
        appconfig_fake.start()
    await asyncio.sleep(settings.sync_interval_s)  # reads retry AWS after one interval
    after = await store.set(entry(value="after the outage"), expected_version=1)
    assert (after.version, await hosts[1].get("acme", KEY)) == (2, after)
