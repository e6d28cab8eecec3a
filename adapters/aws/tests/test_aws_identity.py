"""The Identity port on Identity Center + DynamoDB + Secrets Manager, against moto in server mode."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import replace
from typing import Any

import boto3
import pytest
from aesp_aws._aws import Aws
from aesp_aws._identity_snapshot import GROUPS_KEY, USER_ID_KEY
from aesp_aws.identity import IdentityCenterStore
from aesp_aws.settings import AwsSettings

from aesp.core.errors import ExecutionError
from aesp.core.ports.identity import DuplicateError, PrincipalRecord, PrincipalType
from aesp.testing.conformance.identity import (
    AbstractIdentityStoreConformance,
    principal,
    service_account,
)
from tests.aws_doubles.moto_server import MotoServer

USER = PrincipalType.USER


@pytest.fixture(scope="module")
def boto_session(moto_server: MotoServer) -> boto3.session.Session:
    """One boto3 session for the module: its clients load their service models once, which
    keeps each test's fresh :class:`Aws` (and so the whole file) fast."""
    return boto3.session.Session(region_name="us-east-1")


@pytest.fixture
def aws(aws_settings: AwsSettings, boto_session: boto3.session.Session) -> Iterator[Aws]:
    """The conftest's ``aws``, on the module's shared boto3 session."""
    clients = Aws(aws_settings, session=boto_session)
    yield clients
    clients.close()


class TestIdentityCenterStore(AbstractIdentityStoreConformance):
    @pytest.fixture
    async def port(self, aws: Aws) -> AsyncIterator[IdentityCenterStore]:
        store = await IdentityCenterStore.open(aws)
        yield store
        await store.close()


# -- helpers -----------------------------------------------------------------------------------


def _with(aws_settings: AwsSettings, **options: Any) -> Aws:
    """Clients for the same resources with extra ``[adapters.aws]`` keys (another Host)."""
    return Aws(replace(aws_settings, options={**aws_settings.options, **options}))


async def _eventually(check: Callable[[], Awaitable[bool]], *, within: float) -> float:
    """Poll ``check`` until it holds; return how long that took, fail after ``within`` s."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    while not await check():
        if loop.time() - start > within:
            raise AssertionError(f"the change was not seen within {within} s")
        await asyncio.sleep(0.02)
    return loop.time() - start


@pytest.fixture
async def idc(aws: Aws) -> tuple[Any, str]:
    """The identitystore client and the id of moto's ready Identity Center store."""
    instances = await aws.call("sso-admin", "list_instances")
    return aws.client("identitystore"), instances["Instances"][0]["IdentityStoreId"]


async def _user(idc: tuple[Any, str], name: str, *groups: str) -> str:
    client, store_id = idc
    user = await asyncio.to_thread(
        client.create_user,
        IdentityStoreId=store_id,
        UserName=name,
        DisplayName=name.title(),
        Name={"GivenName": name, "FamilyName": "Test"},
    )
    for group in groups:
        await _join(idc, user["UserId"], group)
    return str(user["UserId"])


async def _join(idc: tuple[Any, str], user_id: str, group: str) -> None:
    """Add the user to the group (made if missing), directly in Identity Center."""
    client, store_id = idc
    found = await asyncio.to_thread(client.list_groups, IdentityStoreId=store_id)
    ids = [g["GroupId"] for g in found["Groups"] if g["DisplayName"] == group]
    if not ids:
        made = await asyncio.to_thread(
            client.create_group, IdentityStoreId=store_id, DisplayName=group
        )
        ids = [made["GroupId"]]
    await asyncio.to_thread(
        client.create_group_membership,
        IdentityStoreId=store_id,
        GroupId=ids[0],
        MemberId={"UserId": user_id},
    )


def _groups(record: PrincipalRecord | None) -> list[str]:
    assert record is not None
    return json.loads(record.metadata.get(GROUPS_KEY, "[]"))


# -- Identity Center as the source of users and groups -----------------------------------------


async def test_identity_center_users_are_principals_with_their_groups(
    aws_settings: AwsSettings, idc: tuple[Any, str]
) -> None:
    stem = aws_settings.get("name_stem")
    user_id = await _user(idc, f"{stem}-alice", f"{stem}-eng")
    store = await IdentityCenterStore.open(_with(aws_settings, identity_default_tenant="acme"))
    try:
        pid = f"identity_center|{idc[1]}|{stem}-alice"
        got = await store.get_principal(pid)
        assert got is not None
        assert (got.tenant_id, got.principal_type, got.source) == ("acme", USER, "identity_center")
        assert (got.display_name, got.active) == (f"{stem}-alice".title(), True)
        assert _groups(got) == [f"{stem}-eng"] and store.groups(pid) == (f"{stem}-eng",)
        listed = await store.list_principals(tenant_id="acme", limit=1000)
        assert pid in [p.principal_id for p in listed.items]

        # A membership added in Identity Center, bypassing the Host, shows within the interval.
        before = await store.revision()
        await _join(idc, user_id, f"{stem}-ops")

        async def has_ops() -> bool:
            return f"{stem}-ops" in _groups(await store.get_principal(pid))

        took = await _eventually(has_ops, within=5)
        assert took < 2 * aws_settings.sync_interval_s + 1.0, f"seen only after {took:.2f} s"
        assert store.groups(pid) == tuple(sorted((f"{stem}-eng", f"{stem}-ops")))
        assert await store.revision() > before, "an Identity Center change kept the revision"

        # The user deleted in Identity Center is no longer a principal.
        await asyncio.to_thread(idc[0].delete_user, IdentityStoreId=idc[1], UserId=user_id)

        async def gone() -> bool:
            return await store.get_principal(pid) is None

        await _eventually(gone, within=5)
    finally:
        await store.close()


async def test_an_aesp_record_completes_an_identity_center_user(
    aws: Aws, aws_settings: AwsSettings, idc: tuple[Any, str]
) -> None:
    stem = aws_settings.get("name_stem")
    user_id = await _user(idc, f"{stem}-bob", f"{stem}-research")
    store = await IdentityCenterStore.open(aws)
    try:
        pid = f"identity_center|{idc[1]}|{stem}-bob"
        assert await store.get_principal(pid) is None, "no default tenant: no principal yet"
        record = principal(pid, "t1", security_clearance="CONFIDENTIAL", metadata={"k": "v"})
        await store.put_principal(record)
        got = await store.get_principal(pid)
        assert got is not None and (got.tenant_id, got.security_clearance) == ("t1", "CONFIDENTIAL")
        assert got.metadata["k"] == "v" and _groups(got) == [f"{stem}-research"]
        assert got.metadata[USER_ID_KEY] == user_id
        # Derived keys are never stored: a record read and written back stays clean.
        await store.put_principal(got)
        item = await aws.call(
            "dynamodb",
            "get_item",
            TableName=aws_settings.table("identity"),
            Key={"pk": {"S": "principal#" + pid}},
            ConsistentRead=True,
        )
        assert json.loads(item["Item"]["metadata"]["S"]) == {"k": "v"}

        # Deleting the user in Identity Center disables the principal (fail closed).
        await asyncio.to_thread(idc[0].delete_user, IdentityStoreId=idc[1], UserId=user_id)

        async def disabled() -> bool:
            current = await store.get_principal(pid)
            return current is not None and not current.active

        await _eventually(disabled, within=5)
        assert pid not in [
            p.principal_id for p in (await store.list_principals(tenant_id="t1")).items
        ]
    finally:
        await store.close()


async def test_the_store_can_be_named_or_switched_off(
    aws_settings: AwsSettings, idc: tuple[Any, str]
) -> None:
    stem = aws_settings.get("name_stem")
    await _user(idc, f"{stem}-carol", f"{stem}-eng")
    named = await IdentityCenterStore.open(
        _with(
            aws_settings,
            identity_store_id=idc[1],
            identity_principal_prefix="saml|https://idp.example|",
            identity_default_tenant="acme",
        )
    )
    off = await IdentityCenterStore.open(
        _with(aws_settings, identity_store_id="off", identity_default_tenant="acme")
    )
    try:
        pid = f"saml|https://idp.example|{stem}-carol"
        assert _groups(await named.get_principal(pid)) == [f"{stem}-eng"]
        assert await off.get_principal(pid) is None and off.groups(pid) == ()
        await off.put_principal(principal(pid, "acme"))  # DynamoDB-only principals still work
        assert await off.get_principal(pid) == principal(pid, "acme")
    finally:
        await named.close()
        await off.close()


# -- two Hosts on the same resources -----------------------------------------------------------


async def test_a_second_host_sees_writes_and_revocations_within_the_interval(
    aws: Aws, aws_settings: AwsSettings
) -> None:
    first = await IdentityCenterStore.open(aws)
    second = await IdentityCenterStore.open(_with(aws_settings))
    try:
        await first.put_principal(principal("u1", display_name="Ann"))
        # The tenant check reads DynamoDB, not the (not yet synced) snapshot.
        with pytest.raises(ValueError, match="tenant cannot change"):
            await second.put_principal(principal("u1", "other"))

        async def second_has_u1() -> bool:
            return await second.get_principal("u1") == principal("u1", display_name="Ann")

        await _eventually(second_has_u1, within=5)
        account, record = service_account("sa1")
        await second.create_service_account(account, record)

        async def first_has_key() -> bool:
            return await first.find_key(account.key.key_id) == account.key

        await _eventually(first_has_key, within=5)
        before = await second.revision()
        await first.revoke_service_account("sa1", at_ms=100)

        async def second_sees_revocation() -> bool:
            key = await second.find_key(account.key.key_id)
            return key is not None and key.revoked_at_ms == 100

        took = await _eventually(second_sees_revocation, within=5)
        assert took < 2 * aws_settings.sync_interval_s + 1.0, f"seen only after {took:.2f} s"
        assert await second.revision() > before
        got = await second.get_principal(record.principal_id)
        assert got is not None and not got.active
    finally:
        await first.close()
        await second.close()


async def test_two_hosts_racing_for_one_name_store_exactly_one(
    aws: Aws, aws_settings: AwsSettings
) -> None:
    stores = [
        await IdentityCenterStore.open(aws),
        await IdentityCenterStore.open(_with(aws_settings)),
    ]
    try:
        attempts = [service_account(f"sa{i}", "acme", "ci") for i in range(6)]
        results = await asyncio.gather(
            *(stores[i % 2].create_service_account(a, p) for i, (a, p) in enumerate(attempts)),
            return_exceptions=True,
        )
        assert sum(r is None for r in results) == 1, results
        assert all(isinstance(r, DuplicateError) for r in results if r is not None), results
        # The losers' verifier secrets were removed: one secret per stored key.
        prefix = f"{aws_settings.table_prefix}/service-accounts/"
        secrets = await aws.call(
            "secretsmanager", "list_secrets", Filters=[{"Key": "name", "Values": [prefix]}]
        )
        assert len(secrets["SecretList"]) == 1
    finally:
        for store in stores:
            await store.close()


# -- the verifier lives in Secrets Manager -----------------------------------------------------


async def test_the_verifier_is_in_secrets_manager_not_in_the_table(
    aws: Aws, aws_settings: AwsSettings
) -> None:
    store = await IdentityCenterStore.open(aws)
    try:
        account, record = service_account("sa1")
        await store.create_service_account(account, record)
        name = f"{aws_settings.table_prefix}/service-accounts/sa1/{account.key.key_id}"
        secret = await aws.call("secretsmanager", "get_secret_value", SecretId=name)
        assert json.loads(secret["SecretString"])["stored_hash"] == account.key.stored_hash
        items = await aws.call("dynamodb", "scan", TableName=aws_settings.table("identity"))
        assert account.key.stored_hash not in json.dumps(items["Items"])
    finally:
        await store.close()


async def test_a_secret_naming_another_key_never_verifies(
    aws: Aws, aws_settings: AwsSettings
) -> None:
    # Someone with write access to the table (not to the secrets) points sa1 at sa2's secret.
    store = await IdentityCenterStore.open(aws)
    await store.create_service_account(*service_account("sa1"))
    await store.create_service_account(*service_account("sa2"))
    await store.close()
    table = aws_settings.table("identity")
    sa2 = await aws.call("dynamodb", "get_item", TableName=table, Key={"pk": {"S": "account#sa2"}})
    await aws.call(
        "dynamodb",
        "update_item",
        TableName=table,
        Key={"pk": {"S": "account#sa1"}},
        UpdateExpression="SET secret_arn = :a, secret_version = :v",
        ExpressionAttributeValues={
            ":a": sa2["Item"]["secret_arn"],
            ":v": sa2["Item"]["secret_version"],
        },
    )
    other_host = await IdentityCenterStore.open(_with(aws_settings))
    try:
        assert await other_host.find_key("key-sa1") is None
        assert await other_host.get_service_account("sa1") is None
        assert await other_host.find_key("key-sa2") is not None
    finally:
        await other_host.close()


# -- AWS unreachable (keep last: it stops the shared moto server) -------------------------------


async def test_an_outage_keeps_reads_answering_and_fails_writes_closed(
    aws: Aws, aws_settings: AwsSettings, moto_server: MotoServer
) -> None:
    store = await IdentityCenterStore.open(aws)
    account, record = service_account("sa1")
    try:
        await store.put_principal(principal("u1"))
        await store.create_service_account(account, record)
        revision = await store.revision()
        moto_server.stop()
        try:
            await asyncio.sleep(3 * aws_settings.sync_interval_s)  # failing syncs keep the snapshot
            assert await store.get_principal("u1") == principal("u1")
            assert await store.find_key(account.key.key_id) == account.key
            listed = await store.list_service_accounts(tenant_id="acme")
            assert [a.service_account_id for a in listed.items] == ["sa1"]
            assert await store.revision() == revision
            with pytest.raises(ExecutionError, match="could not be reached") as refused:
                await store.put_principal(principal("u2"))
            assert refused.value.code == "DEPENDENCY_UNAVAILABLE" and refused.value.retry_allowed
            with pytest.raises(ExecutionError, match="DEPENDENCY_UNAVAILABLE"):
                await store.revoke_service_account("sa1", at_ms=5)
            with pytest.raises(ExecutionError, match="identity store could not read"):
                await store.sync()
        finally:
            moto_server.start()
        assert await store.get_principal("u2") is None
        await store.put_principal(principal("u2"))
        await store.sync()
        assert await store.get_principal("u2") == principal("u2")
        key = await store.find_key(account.key.key_id)
        assert key is not None and key.revoked_at_ms == 0
    finally:
        await store.close()
