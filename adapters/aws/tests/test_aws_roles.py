"""The RBAC port on IAM (moto server): the kit, IAM as the source of truth, two Hosts, outages.

The evaluator and the permission mapping are tested table-driven at the top; the store below.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aesp_aws._aws import Aws
from aesp_aws.iam_documents import (
    Outcome,
    PolicyDocument,
    PolicyDocumentError,
    aesp_request,
    evaluate,
    partition_of,
    to_document,
    translate,
)
from aesp_aws.roles import POLICY_NAME, IamRoleStore, iam_role_name
from aesp_aws.settings import AwsSettings

from aesp.core.contracts import ToolContract
from aesp.core.errors import ConfigurationError, ExecutionError
from aesp.core.rbac import RbacSnapshot, RbacSubject, RoleDefinition
from aesp.testing.conformance.rbac import AbstractRoleStoreConformance
from tests.aws_doubles.moto_server import MotoServer

REGION, ACCOUNT = "us-east-1", "123456789012"
ARN = f"arn:aws:aesp:{REGION}:{ACCOUNT}"


def doc(*statements: dict[str, Any]) -> PolicyDocument:
    return PolicyDocument.parse({"Version": "2012-10-17", "Statement": list(statements)})


def st(effect: str = "Allow", **fields: Any) -> dict[str, Any]:
    return {"Effect": effect, **fields}


# ---------------------------------------------------------------------- the evaluator

EVALUATOR_CASES = [
    # (statements, action, resource, outcome)
    ([], "aesp:InvokeTool", f"{ARN}:contract/search", Outcome.IMPLICIT_DENY),
    (
        [st(Action="aesp:InvokeTool", Resource=f"{ARN}:contract/search")],
        "aesp:InvokeTool",
        f"{ARN}:contract/search",
        Outcome.ALLOW,
    ),
    (  # action names compare case-insensitively, as IAM does
        [st(Action="AESP:invoketool", Resource="*")],
        "aesp:InvokeTool",
        f"{ARN}:contract/search",
        Outcome.ALLOW,
    ),
    (  # ARNs do not
        [st(Action="aesp:*", Resource=f"{ARN}:contract/Search")],
        "aesp:InvokeTool",
        f"{ARN}:contract/search",
        Outcome.IMPLICIT_DENY,
    ),
    (
        [st(Action="aesp:Invoke*", Resource="arn:aws:aesp:*:*:contract/get_*")],
        "aesp:InvokeTool",
        f"{ARN}:contract/get_weather",
        Outcome.ALLOW,
    ),
    (
        [st(Action="aesp:Invoke*", Resource="arn:aws:aesp:*:*:contract/get_*")],
        "aesp:InvokeTool",
        f"{ARN}:contract/set_weather",
        Outcome.IMPLICIT_DENY,
    ),
    (  # '?' is exactly one character
        [st(Action="aesp:?nvokeTool", Resource="arn:aws:aesp:*:*:contract/s?arch")],
        "aesp:InvokeTool",
        f"{ARN}:contract/search",
        Outcome.ALLOW,
    ),
    (
        [st(Action="aesp:InvokeTool", Resource="arn:aws:aesp:*:*:contract/s?arch")],
        "aesp:InvokeTool",
        f"{ARN}:contract/sarch",
        Outcome.IMPLICIT_DENY,
    ),
    (  # explicit deny beats allow
        [
            st(Action="aesp:*", Resource="*"),
            st("Deny", Action="aesp:InvokeTool", Resource=f"{ARN}:contract/delete"),
        ],
        "aesp:InvokeTool",
        f"{ARN}:contract/delete",
        Outcome.EXPLICIT_DENY,
    ),
    (
        [st(Action="aesp:*", Resource="*"), st("Deny", NotAction="aesp:InvokeTool", Resource="*")],
        "aesp:InvokeTool",
        f"{ARN}:contract/x",
        Outcome.ALLOW,
    ),
    (
        [st(Action="aesp:*", Resource="*"), st("Deny", NotAction="aesp:InvokeTool", Resource="*")],
        "aesp:CreatePrincipal",
        f"{ARN}:aesp/identity",
        Outcome.EXPLICIT_DENY,
    ),
    (
        [st(NotAction="s3:*", NotResource=f"{ARN}:contract/secret")],
        "aesp:InvokeTool",
        f"{ARN}:contract/public",
        Outcome.ALLOW,
    ),
    (
        [st(NotAction="s3:*", NotResource=f"{ARN}:contract/secret")],
        "aesp:InvokeTool",
        f"{ARN}:contract/secret",
        Outcome.IMPLICIT_DENY,
    ),
    (  # ARN segments match one by one: another region does not match
        [st(Action="aesp:*", Resource="arn:aws:aesp:eu-west-1:*:*")],
        "aesp:InvokeTool",
        f"{ARN}:contract/x",
        Outcome.IMPLICIT_DENY,
    ),
    (  # a conditional Allow cannot be shown to hold; a conditional Deny is assumed to
        [
            st(
                Action="aesp:*",
                Resource="*",
                Condition={"Bool": {"aws:MultiFactorAuthPresent": "true"}},
            )
        ],
        "aesp:InvokeTool",
        f"{ARN}:contract/x",
        Outcome.IMPLICIT_DENY,
    ),
    (
        [
            st(Action="aesp:*", Resource="*"),
            st("Deny", Action="aesp:*", Resource="*", Condition={"Bool": {"aws:x": "true"}}),
        ],
        "aesp:InvokeTool",
        f"{ARN}:contract/x",
        Outcome.EXPLICIT_DENY,
    ),
]


@pytest.mark.parametrize(("statements", "action", "resource", "outcome"), EVALUATOR_CASES)
def test_evaluator_follows_iam(
    statements: list[dict[str, Any]], action: str, resource: str, outcome: Outcome
) -> None:
    assert evaluate([doc(*statements)], action, resource).outcome is outcome


def test_a_deny_in_another_document_beats_an_allow() -> None:
    # Two roles (or a role and its parent) are two documents; IAM unions them, deny first.
    allow = doc(st(Action="aesp:InvokeTool", Resource="*"))
    deny = doc(st("Deny", Action="aesp:InvokeTool", Resource=f"{ARN}:contract/delete"))
    result = evaluate([allow, deny], "aesp:InvokeTool", f"{ARN}:contract/delete")
    assert (result.outcome, result.allowed) == (Outcome.EXPLICIT_DENY, False)
    assert evaluate([allow, deny], "aesp:InvokeTool", f"{ARN}:contract/search").allowed


def test_statement_may_be_an_object_and_values_strings_or_lists() -> None:
    single = PolicyDocument.parse(
        json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": {"Sid": "One", "Effect": "Allow", "Action": ["aesp:a", "aesp:b"],
                              "Resource": ["*"]},
            }
        )
    )  # fmt: skip
    (statement,) = single.statements
    assert (statement.actions, statement.resources, statement.sid) == (
        ("aesp:a", "aesp:b"),
        ("*",),
        "One",
    )


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("not json", "not JSON"),
        ({"Version": "2010-01-01", "Statement": []}, "Version"),
        ({"Version": "2012-10-17"}, "Statement"),
        ({"Version": "2012-10-17", "Statement": [st("allow", Action="*", Resource="*")]}, "Effect"),
        ({"Version": "2012-10-17", "Statement": [st(Resource="*")]}, "Action and NotAction"),
        (
            {"Version": "2012-10-17", "Statement": [st(Action="*", NotAction="*", Resource="*")]},
            "exactly one",
        ),
        ({"Version": "2012-10-17", "Statement": [st(Action="*")]}, "Resource and NotResource"),
        ({"Version": "2012-10-17", "Statement": [st(Action=[], Resource="*")]}, "non-empty"),
        (
            {"Version": "2012-10-17", "Statement": [st(Action="*", Resource="*", Principal="*")]},
            "Principal",
        ),
    ],
)
def test_malformed_documents_are_refused(raw: Any, message: str) -> None:
    with pytest.raises(PolicyDocumentError, match=message):
        PolicyDocument.parse(raw)


# ---------------------------------------------------------------------- the mapping


@pytest.mark.parametrize(
    ("permission", "action", "resource"),
    [
        ("tool:search:invoke", "aesp:InvokeTool", "arn:aws:aesp:*:*:contract/search"),
        ("tool:*:invoke", "aesp:InvokeTool", "arn:aws:aesp:*:*:contract/*"),
        ("tool:*:read", "aesp:read", "arn:aws:aesp:*:*:contract/*"),
        ("aesp:identity:CreatePrincipal", "aesp:CreatePrincipal", "arn:aws:aesp:*:*:aesp/identity"),
        ("aesp:platform:cross-tenant", "aesp:cross-tenant", "arn:aws:aesp:*:*:aesp/platform"),
        ("aesp:governance:*", "aesp:*", "arn:aws:aesp:*:*:aesp/governance"),
        ("*:*:*", "aesp:*", "arn:aws:aesp:*:*:*/*"),
    ],
)
def test_the_documented_mapping(permission: str, action: str, resource: str) -> None:
    assert aesp_request(permission) == (action, resource)
    document = to_document([permission])
    assert document["Statement"] == [{"Effect": "Allow", "Action": action, "Resource": resource}]
    assert translate(
        PolicyDocument.parse(document), region=REGION, account=ACCOUNT
    ).permissions == (permission,)


def test_round_trip_keeps_order_and_denials() -> None:
    grants = ("z:z:z", "tool:search:invoke", "a:a:a", "tool:*:read", "aesp:governance:*")
    denied = ("tool:delete:invoke", "aesp:*:*")
    got = translate(
        PolicyDocument.parse(to_document(grants, denied)), region=REGION, account=ACCOUNT
    )
    assert (got.permissions, got.denied, got.approximations) == (grants, denied, ())


@pytest.mark.parametrize("bad", ["contract:x:read", "tool:x:InvokeTool", "tool:x:Invoke", "a:b"])
def test_reserved_or_malformed_permissions_are_refused(bad: str) -> None:
    with pytest.raises(PolicyDocumentError):
        to_document([bad])


def test_partition_follows_the_region() -> None:
    assert [partition_of(r) for r in ("eu-west-1", "cn-north-1", "us-gov-west-1")] == [
        "aws",
        "aws-cn",
        "aws-us-gov",
    ]
    assert aesp_request("tool:x:invoke", partition="aws-cn")[1].startswith("arn:aws-cn:aesp:")


TRANSLATION_CASES = [
    # (statement, permissions, denied, approximated)
    (st(Action="s3:*", Resource="*"), (), (), False),  # another service: nothing here
    (st(Action="*", Resource="*"), ("*:*:*",), (), False),
    (st(Action="aesp:InvokeTool", Resource="arn:aws:aesp:*:*:*"), ("*:*:invoke",), (), False),
    (st(Action="aesp:invoketool", Resource=f"{ARN}:contract/a"), ("tool:a:invoke",), (), False),
    (st(Action="aesp:invoke", Resource="*"), (), (), False),  # not InvokeTool: no AESP action
    (st(Action="aesp:read", Resource="arn:aws:aesp:eu-west-1:*:contract/a"), (), (), False),
    (st(Action="aesp:read", Resource="arn:aws:aesp:*:999999999999:contract/a"), (), (), False),
    (st(Action="aesp:read", Resource="arn:aws:aesp:us-*:*:tool/a"), (), (), False),
    (st(Action=["aesp:read", "aesp:Get*"], Resource="*/x"), (), (), False),  # not an ARN
    (
        st(Action=["aesp:read", "aesp:Get*"], Resource="arn:aws:aesp:*:*:*/x"),
        ("*:x:read",),
        (),
        True,
    ),
    (st(Action="aesp:read", Resource=f"{ARN}:contract/get_*"), (), (), True),
    (st("Deny", Action="aesp:read", Resource=f"{ARN}:contract/get_*"), (), ("tool:*:read",), True),
    (st("Deny", Action="aesp:Get?", Resource=f"{ARN}:contract/a"), (), ("tool:a:*",), True),
    (st(NotAction="aesp:*", Resource="*"), (), (), False),  # excludes every AESP action
    (st(NotAction=["s3:*", "iam:*"], Resource="*"), ("*:*:*",), (), False),
    (st(NotAction="aesp:read", Resource="*"), (), (), True),
    (st("Deny", NotAction="aesp:read", Resource="*"), (), ("*:*:*",), True),
    (st(Action="aesp:read", NotResource="*"), (), (), False),
    (st(Action="aesp:read", NotResource="arn:aws:s3:::bucket"), ("*:*:read",), (), False),
    (st("Deny", Action="aesp:read", NotResource=f"{ARN}:contract/a"), (), ("*:*:read",), True),
    (st(Action="aesp:read", Resource="*", Condition={"Bool": {"aws:x": "true"}}), (), (), True),
    (  # a policy variable is substituted by IAM from a request context the Host lacks
        st("Deny", Action="aesp:read", Resource=f"{ARN}:contract/${{aws:username}}"),
        (),
        ("tool:*:read",),
        True,
    ),
    (
        st("Deny", Action="aesp:read", Resource="*", Condition={"Bool": {"aws:x": "true"}}),
        (),
        ("*:*:read",),
        True,
    ),
]


@pytest.mark.parametrize(("statement", "grants", "denied", "approximated"), TRANSLATION_CASES)
def test_translation_is_exact_or_fails_closed(
    statement: dict[str, Any], grants: tuple[str, ...], denied: tuple[str, ...], approximated: bool
) -> None:
    got = translate(doc(statement), region=REGION, account=ACCOUNT)
    assert (got.permissions, got.denied, bool(got.approximations)) == (
        grants,
        denied,
        approximated,
    )


PROBES = [
    "tool:search:invoke",
    "tool:get_x:invoke",
    "tool:get_x:read",
    "tool:a:read",
    "tool:a:Get1",
    "aesp:identity:CreatePrincipal",
    "aesp:platform:cross-tenant",
    "data:x:read",
    "data:a:read",
]


@pytest.mark.parametrize(("statement", "grants", "denied", "approximated"), TRANSLATION_CASES)
def test_the_host_never_allows_what_iam_denies(
    statement: dict[str, Any], grants: tuple[str, ...], denied: tuple[str, ...], approximated: bool
) -> None:
    # Soundness of the whole path: document → translation → core snapshot, against the
    # evaluator, with an allow-all role beside it so denials have something to override.
    everything = doc(st(Action="aesp:*", Resource="*"))
    documents = [doc(statement), everything]
    roles = [
        RoleDefinition("probe", permissions=grants, denied=denied),
        RoleDefinition("all", permissions=("*:*:*",)),
    ]
    snapshot = RbacSnapshot.build(roles, {"p": ("probe", "all")}, version=1)
    alone = RbacSnapshot.build(roles[:1], {"p": ("probe",)}, version=1)
    for permission in PROBES:
        action, resource = aesp_request(permission, region=REGION, account=ACCOUNT)
        iam = evaluate(documents, action, resource).allowed
        iam_alone = evaluate(documents[:1], action, resource).allowed
        host = snapshot.decide("p", tenant_id="t", permission=permission).allowed
        host_alone = alone.decide("p", tenant_id="t", permission=permission).allowed
        assert not (host and not iam), (permission, "allowed by the Host, denied by IAM")
        assert not (host_alone and not iam_alone), permission
        if not approximated:
            assert (host, host_alone) == (iam, iam_alone), permission


# ---------------------------------------------------------------------- the store


def _settings(base: AwsSettings, **options: Any) -> AwsSettings:
    return AwsSettings(
        region=base.region,
        endpoint_url=base.endpoint_url,
        table_prefix=base.table_prefix,
        sync_interval_s=base.sync_interval_s,
        create_resources=True,
        options={**base.options, **options},
    )


@pytest.fixture
async def store(aws: Aws) -> AsyncIterator[IamRoleStore]:
    opened = await IamRoleStore.open(aws)
    yield opened
    await opened.close()


class TestIamRoleStore(AbstractRoleStoreConformance):
    @pytest.fixture
    async def port(self, store: IamRoleStore) -> IamRoleStore:
        return store


async def _eventually(check: Callable[[], Awaitable[bool]], timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not await check():
        assert time.monotonic() < deadline, "condition not met within the timeout"
        await asyncio.sleep(0.05)


def _decide(roles: Any, assignments: Any, permission: str) -> bool:
    snapshot = RbacSnapshot.build(roles, {("acme", "alice"): assignments}, version=1)
    return snapshot.decide("alice", tenant_id="acme", permission=permission).allowed


async def test_roles_live_in_iam_as_documented(store: IamRoleStore, aws: Aws) -> None:
    await store.put_role(
        RoleDefinition(
            "analyst", ("tool:search:invoke",), ("viewer",), "acme", denied=("tool:rm:invoke",)
        )
    )
    await store.put_role(RoleDefinition("viewer", ("tool:*:read",)))
    iam = aws.client("iam")
    prefix = aws.settings.table_prefix
    name = iam_role_name(prefix, "acme", "analyst")
    role = iam.get_role(RoleName=name)["Role"]
    assert role["Path"] == f"/{prefix}/acme/"
    assert len(name) <= 64 and name.startswith(f"{prefix}-analyst-")
    tags = {t["Key"]: t["Value"] for t in iam.list_role_tags(RoleName=name)["Tags"]}
    assert tags == {"aesp:role": "analyst", "aesp:parents": "viewer"}
    document = iam.get_role_policy(RoleName=name, PolicyName=POLICY_NAME)["PolicyDocument"]
    assert document["Statement"] == [
        {"Effect": "Allow", "Action": "aesp:InvokeTool", "Resource": "arn:aws:aesp:*:*:contract/search"},
        {"Effect": "Deny", "Action": "aesp:InvokeTool", "Resource": "arn:aws:aesp:*:*:contract/rm"},
    ]  # fmt: skip
    platform = iam.get_role(RoleName=iam_role_name(prefix, "", "viewer"))["Role"]
    assert platform["Path"] == f"/{prefix}/_platform/"
    trust = platform["AssumeRolePolicyDocument"]
    trust = json.loads(trust) if isinstance(trust, str) else trust
    assert trust["Statement"][0]["Effect"] == "Deny"  # nobody assumes an AESP role
    await store.put_role(RoleDefinition("analyst", ("tool:search:invoke",), (), "acme"))
    tags = {t["Key"]: t["Value"] for t in iam.list_role_tags(RoleName=name)["Tags"]}
    assert tags == {"aesp:role": "analyst"}  # replacing removes the stale parents tag


async def test_many_long_parents_round_trip_through_several_tags(store: IamRoleStore) -> None:
    parents = tuple(f"parent-{i:02d}-" + "x" * 100 for i in range(12))
    role = RoleDefinition("child", ("tool:a:invoke",), parents, "acme")
    await store.put_role(role)
    assert list(await store.roles()) == [role]
    fresh = await IamRoleStore.open(store._aws)  # a second Host reads it from IAM
    try:
        assert list(await fresh.roles()) == [role]
    finally:
        await fresh.close()


async def test_a_deny_added_in_iam_out_of_band_takes_effect(store: IamRoleStore, aws: Aws) -> None:
    await store.put_role(RoleDefinition("analyst", ("tool:*:invoke",), (), "acme"))
    await store.set_assignment("alice", tenant_id="acme", roles=["analyst"])
    assert _decide(await store.roles(), ("analyst",), "tool:delete:invoke")
    before = await store.revision()
    name = iam_role_name(aws.settings.table_prefix, "acme", "analyst")
    started = time.monotonic()
    await asyncio.to_thread(
        aws.client("iam").put_role_policy,
        RoleName=name,
        PolicyName=POLICY_NAME,
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Action": "aesp:InvokeTool", "Resource": "*"},
                    {"Sid": "NoDelete", "Effect": "Deny", "Action": "aesp:invoketool",
                     "Resource": [f"arn:aws:aesp:{REGION}:*:contract/delete"]},
                ],
            }
        ),
    )  # fmt: skip

    async def denied() -> bool:
        roles = await store.roles()
        return not _decide(roles, ("analyst",), "tool:delete:invoke")

    await _eventually(denied)
    elapsed = time.monotonic() - started
    assert elapsed < aws.settings.sync_interval_s * 5 + 1.0, elapsed
    assert await store.revision() > before  # the Host's poll notices the change
    (role,) = await store.roles()
    assert (role.permissions, role.denied) == (("*:*:invoke",), ("tool:delete:invoke",))
    assert _decide(await store.roles(), ("analyst",), "tool:search:invoke")


async def test_a_denying_role_makes_the_host_refuse_even_when_another_allows(
    store: IamRoleStore,
) -> None:
    await store.put_role(RoleDefinition("analyst", ("tool:*:invoke",)))
    await store.put_role(RoleDefinition("quarantined", denied=("tool:*:invoke",)))
    await store.set_assignment("alice", tenant_id="acme", roles=["analyst", "quarantined"])
    snapshot = RbacSnapshot.build(
        await store.roles(),
        {(t, p) if t else p: r for (t, p), r in (await store.assignments()).items()},
        version=1,
    )
    contract = ToolContract(name="search", contract_version="1", description="d", parameters={})
    decision = snapshot.check_contract(
        RbacSubject("alice", "acme", "RESTRICTED", "RESTRICTED"), contract
    )
    assert (decision.allowed, decision.code) == (False, "PERMISSION_DENIED")
    assert decision.matched_rule == "role quarantined: deny tool:*:invoke"


async def test_an_unreadable_or_approximated_document_fails_closed(
    store: IamRoleStore, aws: Aws
) -> None:
    await store.put_role(RoleDefinition("ops", ("tool:*:invoke",), (), "acme"))
    name = iam_role_name(aws.settings.table_prefix, "acme", "ops")
    document = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "aesp:Invoke*", "Resource": "*"},
            {"Effect": "Deny", "Action": "aesp:InvokeTool", "Resource": f"{ARN}:contract/rm_*"},
        ],
    }
    await asyncio.to_thread(
        aws.client("iam").put_role_policy,
        RoleName=name,
        PolicyName=POLICY_NAME,
        PolicyDocument=json.dumps(document),
    )

    async def approximated() -> bool:
        return ("acme", "ops") in store.approximations

    await _eventually(approximated)
    (role,) = await store.roles()
    assert (role.permissions, role.denied) == ((), ("tool:*:invoke",))
    assert len(store.approximations[("acme", "ops")]) == 2


async def test_iam_roles_outside_the_scheme_are_ignored(store: IamRoleStore, aws: Aws) -> None:
    prefix = aws.settings.table_prefix
    iam = aws.client("iam")
    trust = json.dumps({"Version": "2012-10-17", "Statement": []})
    iam.create_role(RoleName=f"{prefix}-untagged", Path=f"/{prefix}/acme/",
                    AssumeRolePolicyDocument=trust)  # fmt: skip
    iam.create_role(RoleName=f"{prefix}-deep", Path=f"/{prefix}/acme/deeper/",
                    AssumeRolePolicyDocument=trust, Tags=[{"Key": "aesp:role", "Value": "x"}])  # fmt: skip
    await store.put_role(RoleDefinition("real", tenant_id="acme"))
    await asyncio.sleep(aws.settings.sync_interval_s * 3)
    assert [r.name for r in await store.roles()] == ["real"]


async def test_writes_of_one_host_reach_another(aws: Aws) -> None:
    first = await IamRoleStore.open(aws)
    second = await IamRoleStore.open(Aws(aws.settings))
    try:
        start = await second.revision()
        await first.put_role(RoleDefinition("analyst", ("tool:search:invoke",), (), "acme"))
        await first.set_assignment("alice", tenant_id="acme", roles=["analyst"])

        async def seen() -> bool:
            return [r.name for r in await second.roles()] == ["analyst"] and dict(
                await second.assignments()
            ) == {("acme", "alice"): ("analyst",)}

        await _eventually(seen)
        assert await second.revision() > start
        assert await second.delete_role("acme", "analyst") is True
        await _eventually(lambda: _empty(first))
        assert await first.delete_role("acme", "analyst") is False
    finally:
        await first.close()
        await second.close()


async def _empty(store: IamRoleStore) -> bool:
    return list(await store.roles()) == []


async def test_bad_configuration_is_refused(aws_settings: AwsSettings) -> None:
    for options in ({"iam_role_path": "aesp"}, {"iam_role_name_prefix": "x" * 40},
                    {"iam_trust_policy": "{nope"}):  # fmt: skip
        with pytest.raises(ConfigurationError, match="adapters.aws"):
            IamRoleStore(Aws(_settings(aws_settings, **options)))


async def test_open_fails_closed_when_aws_is_unreachable(aws_settings: AwsSettings) -> None:
    settings = _settings(aws_settings)
    dead = AwsSettings(
        endpoint_url="http://127.0.0.1:9",
        table_prefix=settings.table_prefix,
        create_resources=False,
    )
    clients = Aws(dead)
    try:
        with pytest.raises(ExecutionError) as caught:
            await IamRoleStore.open(clients)
        assert caught.value.code == "SERVICE_UNAVAILABLE"
    finally:
        clients.close()


async def test_zz_snapshot_keeps_serving_while_aws_is_down(
    store: IamRoleStore, aws: Aws, moto_server: MotoServer
) -> None:
    # Kept last in the file: it stops the session's moto server (and restarts it in finally).
    role = RoleDefinition("analyst", ("tool:search:invoke",), (), "acme")
    await store.put_role(role)
    await store.set_assignment("alice", tenant_id="acme", roles=["analyst"])
    revision = await store.revision()
    moto_server.stop()
    try:
        await asyncio.sleep(aws.settings.sync_interval_s * 3)
        assert list(await store.roles()) == [role]
        assert dict(await store.assignments()) == {("acme", "alice"): ("analyst",)}
        assert await store.revision() == revision
        with pytest.raises(ExecutionError) as caught:
            await store.put_role(RoleDefinition("other", tenant_id="acme"))
        assert caught.value.code == "SERVICE_UNAVAILABLE"
        assert list(await store.roles()) == [role]  # a failed write changes nothing
    finally:
        moto_server.start()
