"""The governed call end to end over mTLS: each refusal class of SPEC §3.19, and nothing leaks.

A real Host (TLS 1.3, certificates from one development PKI) with the local SQLite ports, a
scripted runtime serving every tool, and raw GridClientService calls. Roles are granted through
the RBAC port exactly as an administrator's write would be, then each refusal is checked for
its code, its audit event, and that the runtime received nothing.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from aesp.certs import DevPki, init_dev_pki
from aesp.core.control import AccessConfig
from aesp.core.policy import Effect, PolicyDefinition
from aesp.core.ports.tenancy import Tenant, TenantStatus
from aesp.core.rbac import RoleDefinition
from aesp.proto.altar.aesp.v1 import host_pb2
from aesp.proto.altar.grid.v1 import grid_pb2
from aesp.testing.harness import HostHandle
from tests.e2e.grid._grid import GridClient, assert_error, events, fc, grid_host, schema
from tests.e2e.scripted_runtime import ScriptedRuntime

CONTRACTS: list[dict[str, Any]] = [
    {
        "name": "lookup",
        "description": "Look a word up.",
        "parameters": schema(q="STRING"),
        "security_classification": "PUBLIC",
    },
    {
        "name": "transfer",
        "description": "Move money.",
        "parameters": schema(amount="INTEGER", to="STRING"),
        "security_classification": "CONFIDENTIAL",
        "required_roles": ["treasurer"],
        "required_permissions": ["ledger:main:write"],
    },
    {
        "name": "count",
        "description": "Count up to n.",
        "supports_streaming": True,
        "parameters": schema(n="INTEGER"),
        "security_classification": "PUBLIC",
    },
    {
        "name": "vault",
        "description": "Read the vault.",
        "parameters": schema(key="STRING"),
        "security_classification": "RESTRICTED",
    },
]
ROLES = (
    RoleDefinition("reader", ("tool:lookup:invoke", "tool:count:invoke", "tool:vault:invoke")),
    RoleDefinition("treasurer", ("tool:transfer:invoke", "ledger:main:write"), ("reader",)),
    RoleDefinition("clerk", ("tool:transfer:invoke", "ledger:main:write")),
)
ACCESS = AccessConfig(roles=ROLES, group_clearance={"certificate:client": "CONFIDENTIAL"})
DEMO = "spiffe://aesp.local/tenant/default/client/demo"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> DevPki:
    return init_dev_pki(tmp_path_factory.mktemp("pki"), runtimes=("example",), clients=("demo",))


@pytest.fixture
async def host(tmp_path: Path, pki: DevPki) -> AsyncIterator[HostHandle]:
    async with grid_host(tmp_path / "host", pki, CONTRACTS, access=ACCESS) as handle:
        yield handle


@pytest.fixture
async def client(host: HostHandle) -> AsyncIterator[GridClient]:
    c = GridClient(host.client_target, host.client_pem("demo"))
    yield c
    await c.close()


@pytest.fixture
async def runtime(host: HostHandle) -> AsyncIterator[ScriptedRuntime]:
    rt = ScriptedRuntime(host.runtime_target, host.runtime_pem("example"))
    await rt.start([c["name"] for c in CONTRACTS])
    yield rt
    await rt.close()


async def grant(host: HostHandle, principal_id: str, *roles: str, tenant: str = "default") -> None:
    control = host.running.host.control
    await control.roles.set_assignment(principal_id, tenant_id=tenant, roles=roles)
    await control.roles_changed()


async def add_policy(host: HostHandle, condition: str, effect: Effect = Effect.DENY) -> None:
    control = host.running.host.control
    definition = PolicyDefinition(
        policy_id="limit",
        name="limit",
        version="1.0.0",
        tenant_id="default",
        applies_to=("transfer",),
        effect=effect,
        condition=condition,
    )
    await control.policies.add_version(definition, created_by="test", at_ms=1)
    await control.policies_changed()


async def refused(
    client: GridClient, session: str, name: str, args: dict[str, Any], code: str
) -> None:
    response = await client.call(session, fc(name, args))
    assert response.HasField("error"), response
    assert_error(response.error, code, retry=False, correlation_id=client.last_correlation_id)


async def test_allowed_call_succeeds_and_its_start_event_records_the_decision(
    host: HostHandle, client: GridClient, runtime: ScriptedRuntime
) -> None:
    await grant(host, DEMO, "treasurer")
    session = await client.session()
    response = await client.call(session, fc("transfer", {"amount": 5, "to": "bob"}))
    assert not response.HasField("error"), response.error
    assert json.loads(response.result.result.content) == {"amount": 5, "to": "bob"}
    [start] = events(host, "TOOL_INVOCATION_START", resource="transfer")
    assert start.metadata["rbac_rule"].startswith("role treasurer")
    assert [c.call.name for c in runtime.calls] == ["transfer"]


async def test_item_155_no_role_is_permission_denied_and_nothing_is_dispatched(
    host: HostHandle, client: GridClient, runtime: ScriptedRuntime
) -> None:
    session = await client.session()
    await refused(client, session, "lookup", {"q": "x"}, "PERMISSION_DENIED")
    [denied] = events(host, "AUTHORIZATION_DENIED", resource="lookup")
    assert denied.outcome == "DENIED"
    assert denied.metadata["code"] == "PERMISSION_DENIED"
    assert runtime.calls == []


async def test_item_156_required_role_and_permission(
    host: HostHandle, client: GridClient, runtime: ScriptedRuntime
) -> None:
    await grant(host, DEMO, "clerk")  # holds the permissions but not the role
    session = await client.session()
    response = await client.call(session, fc("transfer", {"amount": 5, "to": "bob"}))
    assert_error(response.error, "PERMISSION_DENIED", retry=False)
    assert response.error.details["reason"] == "ROLE_REQUIRED"
    assert runtime.calls == []


async def test_item_157_parent_role_permissions_are_inherited(
    host: HostHandle, client: GridClient, runtime: ScriptedRuntime
) -> None:
    await grant(host, DEMO, "treasurer")  # inherits reader's tool:lookup:invoke
    session = await client.session()
    response = await client.call(session, fc("lookup", {"q": "x"}))
    assert not response.HasField("error"), response.error


async def test_item_158_clearance_and_classification(
    host: HostHandle, client: GridClient, runtime: ScriptedRuntime
) -> None:
    await grant(host, DEMO, "reader")
    session = await client.session()
    await refused(client, session, "vault", {"key": "k"}, "SECURITY_CLEARANCE_INSUFFICIENT")
    control = host.running.host.control
    record = await control.identity.get_principal(DEMO)
    assert record is not None
    await control.identity.put_principal(
        dataclasses.replace(record, security_clearance="RESTRICTED")
    )
    await control.identity_changed()
    await refused(client, session, "vault", {"key": "k"}, "DATA_CLASSIFICATION_MISMATCH")
    assert runtime.calls == []


async def test_item_160_policy_deny_is_policy_violation_and_audited(
    host: HostHandle, client: GridClient, runtime: ScriptedRuntime
) -> None:
    await grant(host, DEMO, "treasurer")
    await add_policy(host, "request.args.amount > 1000")
    session = await client.session()
    ok = await client.call(session, fc("transfer", {"amount": 10, "to": "bob"}))
    assert not ok.HasField("error"), ok.error
    await refused(client, session, "transfer", {"amount": 5000, "to": "bob"}, "POLICY_VIOLATION")
    [violation] = events(host, "POLICY_VIOLATION", outcome="DENIED")
    assert violation.metadata["policy_id"] == "limit"
    assert len(runtime.calls) == 1


async def test_item_161_audit_policy_records_and_lets_the_call_through(
    host: HostHandle, client: GridClient, runtime: ScriptedRuntime
) -> None:
    await grant(host, DEMO, "treasurer")
    await add_policy(host, "request.args.amount > 100", Effect.AUDIT)
    session = await client.session()
    response = await client.call(session, fc("transfer", {"amount": 500, "to": "bob"}))
    assert not response.HasField("error"), response.error
    [audited] = events(host, "POLICY_VIOLATION", outcome="SUCCESS")
    assert audited.metadata["policies"] == "limit"


async def test_item_161_policy_error_fails_closed(
    host: HostHandle, client: GridClient, runtime: ScriptedRuntime
) -> None:
    await grant(host, DEMO, "treasurer")
    await add_policy(host, "request.args.amount / 0 > 1")
    session = await client.session()
    response = await client.call(session, fc("transfer", {"amount": 5, "to": "bob"}))
    assert_error(response.error, "POLICY_EVALUATION_FAILED", retry=False)
    assert runtime.calls == []


async def test_schema_is_checked_after_rbac_so_strangers_learn_nothing(
    host: HostHandle, client: GridClient, runtime: ScriptedRuntime
) -> None:
    session = await client.session()
    await refused(client, session, "transfer", {"nonsense": True}, "PERMISSION_DENIED")
    await grant(host, DEMO, "treasurer")
    await refused(client, session, "transfer", {"nonsense": True}, "SCHEMA_VIOLATION")
    assert runtime.calls == []


async def test_stream_and_governed_local_dispatch_take_the_same_decision(
    host: HostHandle, client: GridClient, runtime: ScriptedRuntime
) -> None:
    session = await client.session()
    [chunk] = await client.stream(session, fc("count", {"n": 2}))
    assert chunk.error.type == "PERMISSION_DENIED"
    authorized = await client.authorize(session, fc("lookup", {"q": "x"}))
    assert_error(authorized.error, "PERMISSION_DENIED", retry=False)
    await grant(host, DEMO, "treasurer")
    await add_policy(host, "request.args.amount > 1000")
    authorized = await client.authorize(session, fc("transfer", {"amount": 5000, "to": "b"}))
    assert_error(authorized.error, "POLICY_VIOLATION", retry=False)
    authorized = await client.authorize(session, fc("transfer", {"amount": 5, "to": "b"}))
    assert not authorized.HasField("error"), authorized.error
    assert runtime.calls == []


async def test_list_tools_shows_only_what_the_caller_may_call(
    host: HostHandle, client: GridClient, runtime: ScriptedRuntime
) -> None:
    session = await client.session()

    async def listed() -> list[str]:
        reply = await client.stub.ListTools(host_pb2.ListToolsRequest(session_id=session))
        return sorted(t.name for t in reply.tools)

    assert await listed() == []
    await grant(host, DEMO, "reader")
    assert await listed() == ["count", "lookup"]  # vault: clearance too low
    await grant(host, DEMO, "treasurer")
    assert await listed() == ["count", "lookup", "transfer"]
    await add_policy(host, "request.args.amount > 1000")  # decided per call: still listed
    assert await listed() == ["count", "lookup", "transfer"]


async def test_suspended_tenant_is_refused_everywhere(
    host: HostHandle, client: GridClient, runtime: ScriptedRuntime
) -> None:
    await grant(host, DEMO, "reader")
    session = await client.session()
    control = host.running.host.control
    await control.tenants.put(Tenant("default", status=TenantStatus.SUSPENDED))
    await control.tenants_changed()
    await refused(client, session, "lookup", {"q": "x"}, "TENANT_SUSPENDED")
    created = await client.stub.CreateSession(grid_pb2.CreateSession(), timeout=5)
    assert created.error.type == "TENANT_SUSPENDED"
    assert runtime.calls == []


async def test_item_150_disabled_principal_is_refused(
    host: HostHandle, client: GridClient, runtime: ScriptedRuntime
) -> None:
    await grant(host, DEMO, "reader")
    session = await client.session()
    control = host.running.host.control
    record = await control.identity.get_principal(DEMO)
    assert record is not None
    await control.identity.put_principal(dataclasses.replace(record, active=False))
    await control.identity_changed()
    await refused(client, session, "lookup", {"q": "x"}, "ACCOUNT_LOCKED")
    assert runtime.calls == []
