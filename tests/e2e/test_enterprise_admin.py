"""EnterpriseIdentityService and EnterprisePolicyService end to end (SPEC §3.7, C-41).

A real Host (TLS 1.3, development PKI, gateway) serves both services on its client port;
every RPC is called through the generated stubs. Administrators authenticate with client
certificates of tenants ``acme`` and ``globex`` (``[access]`` makes every client certificate a
tenant administrator of its own tenant); a service account created over the wire then
authenticates with its API key on the listener without client certificates, and is refused
once revoked (item 152). A scripted Runtime serves ``echo`` so a policy created over the wire
is shown to be enforced on the next call.
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import grpc
import grpc.aio
import pytest

from aesp.certs import DevPki, init_dev_pki, issue_into
from aesp.core.admin import NOT_FOUND_CODE
from aesp.core.config import GovernanceConfig, HostConfig, TlsConfig
from aesp.core.control import AccessConfig
from aesp.core.rbac import RoleDefinition
from aesp.proto.altar.adm.v1 import adm_pb2
from aesp.proto.altar.aesp.v1 import enterprise_pb2 as ent
from aesp.proto.altar.aesp.v1 import host_pb2, host_pb2_grpc, identity_pb2_grpc, policy_pb2_grpc
from aesp.proto.altar.aesp.v1 import identity_pb2 as idp
from aesp.proto.altar.aesp.v1 import policy_pb2 as pol
from aesp.proto.altar.grid.v1 import grid_pb2
from aesp.server.app import RunningHost, start_host
from aesp.server.tls import channel_credentials
from aesp.testing.harness import write_manifest
from tests.e2e.scripted_runtime import ScriptedRuntime

T = TypeVar("T")

ECHO = {
    "name": "echo",
    "description": "Echo a text.",
    "security_classification": "PUBLIC",
    "parameters": {
        "type": "OBJECT",
        "properties": {"text": {"type": "STRING"}},
        "required": ["text"],
    },
}
ACCESS = AccessConfig(
    roles=(
        RoleDefinition("tenant-admin", ("aesp:identity:*", "aesp:policy:*", "tool:*:invoke")),
        RoleDefinition("tool-user", ("tool:*:invoke",)),
    ),
    group_roles={"certificate:client": ("tenant-admin",), "certificate:runtime": ("tool-user",)},
)
ADMIN = "spiffe://aesp.local/tenant/acme/client/admin"


@dataclass
class Stubs:
    """The generated stubs of one caller."""

    identity: identity_pb2_grpc.EnterpriseIdentityServiceStub
    policy: policy_pb2_grpc.EnterprisePolicyServiceStub
    grid: host_pb2_grpc.GridClientServiceStub


@dataclass
class Admin:
    """A running Host and callers of both tenants."""

    running: RunningHost
    pki: DevPki
    channels: list[grpc.aio.Channel] = field(default_factory=list)

    @property
    def ca(self) -> bytes:
        return self.pki.ca.read_bytes()

    def open(self, target: str, cert: bytes | None = None, key: bytes | None = None) -> Stubs:
        channel = grpc.aio.secure_channel(target, channel_credentials(self.ca, cert, key))
        self.channels.append(channel)
        return Stubs(
            identity_pb2_grpc.EnterpriseIdentityServiceStub(channel),
            policy_pb2_grpc.EnterprisePolicyServiceStub(channel),
            host_pb2_grpc.GridClientServiceStub(channel),
        )

    def administrator(self, tenant: str) -> Stubs:
        """Stubs of a client certificate of ``tenant`` (a tenant administrator by [access])."""
        if tenant == "acme":
            cert, key = self.pki.client("admin")
        else:
            cert, key = issue_into(self.pki.directory, "client", f"{tenant}-admin", tenant=tenant)
        target = f"localhost:{self.running.client_port}"
        return self.open(target, cert.read_bytes(), key.read_bytes())

    @functools.cached_property
    def acme(self) -> Stubs:
        """An administrator of tenant ``acme``."""
        return self.administrator("acme")

    @functools.cached_property
    def globex(self) -> Stubs:
        """An administrator of tenant ``globex``."""
        return self.administrator("globex")

    def api_key_caller(self) -> Stubs:
        """Stubs on the listener without client certificates (credentials go in metadata)."""
        return self.open(f"localhost:{self.running.client_tls_port}")


@pytest.fixture
async def admin(tmp_path: Path) -> AsyncIterator[Admin]:
    pki = init_dev_pki(tmp_path / "pki", tenant="acme", runtimes=("example",), clients=("admin",))
    config = HostConfig(
        manifest_path=write_manifest(tmp_path / "manifest.json", [ECHO]),
        client_listen="127.0.0.1:0",
        client_tls_listen="127.0.0.1:0",
        runtime_listen="127.0.0.1:0",
        data_dir=tmp_path / "data",
        tls=TlsConfig(ca=pki.ca, cert=pki.host_cert, key=pki.host_key),
        # Policies in force at once: this test is about the RPCs, not item 165
        # (tests/e2e/test_governed_policy.py covers the approval path).
        governance=GovernanceConfig(policy_changes="direct"),
    )
    running = await start_host(config, access=ACCESS)
    handle = Admin(running, pki)
    try:
        yield handle
    finally:
        for channel in handle.channels:
            await channel.close()
        await running.stop(grace=0.2)


@pytest.fixture
async def runtime(admin: Admin) -> AsyncIterator[ScriptedRuntime]:
    cert, key = admin.pki.runtime("example")
    rt = ScriptedRuntime(
        f"localhost:{admin.running.runtime_port}", (admin.ca, cert.read_bytes(), key.read_bytes())
    )
    await rt.start(["echo"])
    yield rt
    await rt.close()


def api_key(key: str) -> tuple[tuple[str, str]]:
    return (("authorization", f"ApiKey {key}"),)


async def eventually(
    ask: Callable[[], Awaitable[T]], done: Callable[[T], bool], timeout_s: float = 10.0
) -> T:
    """Ask until ``done`` holds (the audit index trails the durable log by a moment)."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        answer = await ask()
        if done(answer) or asyncio.get_running_loop().time() > deadline:
            return answer
        await asyncio.sleep(0.1)


def events(admin: Admin, event_type: str) -> list[str]:
    return [e.outcome for e in admin.running.host.audit.events() if e.event_type == event_type]


async def echo(stubs: Stubs, session_id: str, text: str, call_id: str) -> host_pb2.ToolCallResponse:
    call = adm_pb2.FunctionCall(
        call_id=call_id, name="echo", args=json.dumps({"text": text}).encode()
    )
    return await stubs.grid.CallTool(grid_pb2.ToolCall(session_id=session_id, call=call))


# ---------------------------------------------------------------- identity


async def test_identity_service_end_to_end_with_the_issued_api_key(admin: Admin) -> None:
    ids = admin.acme.identity
    # CreateServiceAccount (item 151): the key once, 0 = never expires.
    created = await ids.CreateServiceAccount(
        idp.CreateServiceAccountRequest(name="etl", permissions=["tool:echo:invoke"])
    )
    assert created.WhichOneof("response_type") == "success_details", created
    details = created.success_details
    key = details.api_key
    assert key.startswith("aesp_") and details.secret == key and details.expires_at == 0
    account_id = details.service_account_id
    principal_id = f"api_key|aesp|{account_id}"
    listed = await ids.ListServiceAccounts(idp.ListServiceAccountsRequest())
    [account] = listed.success_details.items
    assert (account.service_account_id, account.permissions) == (account_id, ["tool:echo:invoke"])
    assert key not in listed.SerializeToString().decode("latin-1")
    # The key authenticates at the gateway, and grants only what was asked.
    robot = admin.api_key_caller()
    session = await robot.grid.CreateSession(grid_pb2.CreateSession(), metadata=api_key(key))
    assert session.session_id and not session.HasField("error"), session
    refused = await robot.identity.ListPrincipals(
        idp.ListPrincipalsRequest(), metadata=api_key(key)
    )
    assert refused.error.code == "PERMISSION_DENIED"
    assert (refused.error.principal_id, refused.error.tenant_id) == (principal_id, "acme")
    assert refused.error.correlation_id
    # ListPrincipals (item 153): filters by type and pages.
    accounts = await ids.ListPrincipals(
        idp.ListPrincipalsRequest(principal_type=ent.SERVICE_ACCOUNT)
    )
    # (certificate principals are service accounts too, decision 29)
    assert {p.principal_id for p in accounts.success_details.items} == {principal_id, ADMIN}
    users = await ids.ListPrincipals(idp.ListPrincipalsRequest(principal_type=ent.USER))
    assert list(users.success_details.items) == []
    first = await ids.ListPrincipals(idp.ListPrincipalsRequest(limit=1))
    assert len(first.success_details.items) == 1 and first.success_details.next_cursor
    # GetPrincipalDetails with effective permissions and the audit summary, read from the audit
    # index the shipper feeds a moment after each event is durable (decision 101).
    details_request = idp.GetPrincipalDetailsRequest(
        principal_id=principal_id, include_permissions=True, include_audit_summary=True
    )
    got = await eventually(
        lambda: ids.GetPrincipalDetails(details_request),
        lambda r: r.success_details.audit_summary.denied_events == 1,
    )
    assert got.success_details.audit_summary.denied_events == 1
    assert list(got.success_details.effective_permissions) == ["tool:echo:invoke"]
    # UpdatePrincipalRoles (item 154): in force on the key's very next call.
    updated = await ids.UpdatePrincipalRoles(
        idp.UpdatePrincipalRolesRequest(principal_id=principal_id, roles_to_add=["tenant-admin"])
    )
    assert list(updated.success_details.roles) == ["sa-" + account_id, "tenant-admin"]
    now_allowed = await robot.identity.ListPrincipals(
        idp.ListPrincipalsRequest(), metadata=api_key(key)
    )
    assert now_allowed.WhichOneof("response_type") == "success_details", now_allowed
    # GetPrincipalAuditTrail: the account's own events, refusal included.
    trail = await eventually(
        lambda: ids.GetPrincipalAuditTrail(
            idp.GetPrincipalAuditTrailRequest(principal_id=principal_id)
        ),
        lambda r: "AUTHORIZATION_DENIED" in [e.event_type for e in r.success_details.items],
    )
    kinds = [e.event_type for e in trail.success_details.items]
    assert "AUTHORIZATION_DENIED" in kinds and "AUTHENTICATION_SUCCESS" in kinds
    # Another tenant's administrator learns nothing and changes nothing.
    probe = await admin.globex.identity.RevokeServiceAccount(
        idp.RevokeServiceAccountRequest(service_account_id=account_id)
    )
    assert probe.error.code == NOT_FOUND_CODE and probe.error.tenant_id == "globex"
    crossing = await admin.globex.identity.ListPrincipals(
        idp.ListPrincipalsRequest(tenant_id="acme")
    )
    assert crossing.error.code == "TENANT_ACCESS_DENIED"
    # RevokeServiceAccount (item 152): the key is refused from now on.
    revoked = await ids.RevokeServiceAccount(
        idp.RevokeServiceAccountRequest(service_account_id=account_id, reason="rotated")
    )
    assert revoked.success_details.revoked and revoked.success_details.revoked_at > 0
    after = await robot.grid.CreateSession(grid_pb2.CreateSession(), metadata=api_key(key))
    assert after.error.type == "INVALID_CREDENTIALS", after
    assert events(admin, "IDENTITY_CREATE_SERVICE_ACCOUNT") == ["SUCCESS"]
    assert events(admin, "IDENTITY_ASSIGN_ROLE") == ["SUCCESS"]
    # globex's probe is recorded in globex's trail, the revocation in acme's.
    revocations = [
        (e.tenant_id, e.outcome)
        for e in admin.running.host.audit.events()
        if e.event_type == "IDENTITY_REVOKE_SERVICE_ACCOUNT"
    ]
    assert revocations == [("globex", "FAILURE"), ("acme", "SUCCESS")]
    for event in admin.running.host.audit.events():
        assert key.rsplit("_", 1)[1] not in json.dumps(event.to_json())


async def test_escalation_and_bad_requests_are_refused_in_band(admin: Admin) -> None:
    ids = admin.acme.identity
    escalate = await ids.CreateServiceAccount(
        idp.CreateServiceAccountRequest(name="root", permissions=["aesp:platform:cross-tenant"])
    )
    assert escalate.error.code == "PERMISSION_DENIED"
    assert escalate.error.details["permission"] == "aesp:platform:cross-tenant"
    bad_type = await ids.ListPrincipals(idp.ListPrincipalsRequest(principal_type=42))
    assert bad_type.error.code == "MALFORMED_REQUEST"
    assert escalate.error.principal_id == ADMIN and bad_type.error.tenant_id == "acme"
    assert events(admin, "ADMIN_QUERY")[-1] == "FAILURE"  # the edge's refusal is audited too


# ---------------------------------------------------------------- policy


async def test_policy_service_end_to_end_enforced_on_the_next_call(
    admin: Admin, runtime: ScriptedRuntime
) -> None:
    policies = admin.acme.policy
    rule = pol.PolicyRule(condition='request.args.text == "forbidden"', effect="DENY")
    policy = pol.PolicyDefinition(
        policy_id="no-forbidden",
        name="No forbidden words",
        version="1.0.0",
        rule=rule,
        applies_to=["tool:echo"],
        enabled=True,
    )
    # Item 162: invalid CEL is refused at the compile stage.
    broken = pol.PolicyDefinition()
    broken.CopyFrom(policy)
    broken.rule.condition = "request.args.text =="
    invalid = await policies.CreatePolicy(pol.CreatePolicyRequest(policy=broken))
    assert invalid.error.code == "POLICY_EVALUATION_FAILED"
    assert invalid.error.details["stage"] == "compile"
    # Item 163: a dry run stores nothing.
    dry = await policies.CreatePolicy(pol.CreatePolicyRequest(policy=policy, dry_run=True))
    assert dry.success_details.dry_run
    empty = await policies.ListPolicies(pol.ListPoliciesRequest())
    assert list(empty.success_details.items) == []
    # CreatePolicy: in force on the next call.
    created = await policies.CreatePolicy(pol.CreatePolicyRequest(policy=policy))
    assert created.success_details.tenant_id == "acme", created
    session = await admin.acme.grid.CreateSession(grid_pb2.CreateSession())
    sid = session.session_id
    denied = await echo(admin.acme, sid, "forbidden", "c1")
    assert denied.error.type == "POLICY_VIOLATION", denied
    allowed = await echo(admin.acme, sid, "fine", "c2")
    assert allowed.result.result.status == adm_pb2.SUCCESS, allowed
    # Item 164: a new version; the old one stays retrievable.
    newer = pol.PolicyDefinition()
    newer.CopyFrom(policy)
    newer.version = "1.1.0"
    newer.rule.condition = 'request.args.text == "blocked"'
    updated = await policies.UpdatePolicy(
        pol.UpdatePolicyRequest(policy=newer, expected_version="1.0.0", justification="rename")
    )
    assert updated.success_details.policy.version == "1.1.0", updated
    old = await policies.GetPolicy(pol.GetPolicyRequest(policy_id="no-forbidden", version="1.0.0"))
    assert old.success_details.policy.rule.condition == rule.condition
    latest = await policies.ListPolicies(pol.ListPoliciesRequest(resource="tool:echo"))
    assert [p.policy.version for p in latest.success_details.items] == ["1.1.0"]
    assert (await echo(admin.acme, sid, "blocked", "c3")).error.type == "POLICY_VIOLATION"
    # EvaluatePolicy, TestPolicy, ValidatePolicy: decisions without enforcement.
    evaluated = await policies.EvaluatePolicy(
        pol.EvaluatePolicyRequest(
            policy_id="no-forbidden", resource="tool:echo", context={"args.text": '"blocked"'}
        )
    )
    assert (evaluated.success_details.effect, evaluated.success_details.matched) == ("DENY", True)
    tested = await policies.TestPolicy(
        pol.TestPolicyRequest(
            policy=policy,
            test_cases=[
                pol.PolicyTestCase(
                    name="hit",
                    resource="echo",
                    context={"args.text": '"forbidden"'},
                    expected_effect="DENY",
                ),
                pol.PolicyTestCase(name="miss", resource="echo", context={"args.text": '"x"'}),
            ],
        )
    )
    assert (tested.success_details.passed, tested.success_details.failed) == (2, 0), tested
    validated = await policies.ValidatePolicy(pol.ValidatePolicyRequest(policy=broken))
    assert not validated.success_details.valid and validated.success_details.errors
    # Another tenant sees nothing; the platform scope is not a tenant administrator's.
    foreign = await admin.globex.policy.GetPolicy(pol.GetPolicyRequest(policy_id="no-forbidden"))
    assert foreign.error.code == "POLICY_NOT_FOUND"
    platform = await admin.globex.policy.CreatePolicy(
        pol.CreatePolicyRequest(policy=policy, tenant_id="*")
    )
    assert platform.error.code == "TENANT_ACCESS_DENIED"
    # DeletePolicy: no longer enforced.
    deleted = await policies.DeletePolicy(pol.DeletePolicyRequest(policy_id="no-forbidden"))
    assert deleted.success_details.deleted_at > 0, deleted
    assert (await echo(admin.acme, sid, "blocked", "c4")).result.result.status == adm_pb2.SUCCESS
    assert events(admin, "POLICY_CREATE") == ["FAILURE", "SUCCESS"]
    assert events(admin, "POLICY_UPDATE") == ["SUCCESS"]
    assert events(admin, "POLICY_DELETE") == ["SUCCESS"]


async def test_rule_parameters_round_trip_and_are_validated(admin: Admin) -> None:
    rule = pol.PolicyRule(
        condition='request.args.text == "wire"',
        effect="REQUIRE_APPROVAL",
        parameters={"approvers": "role:tenant-admin", "approval_ttl_ms": "60000"},
    )
    policy = pol.PolicyDefinition(
        policy_id="needs-ok", version="1.0.0", rule=rule, applies_to=["tool:echo"], enabled=True
    )
    created = await admin.acme.policy.CreatePolicy(pol.CreatePolicyRequest(policy=policy))
    assert created.WhichOneof("response_type") == "success_details", created
    got = await admin.acme.policy.GetPolicy(pol.GetPolicyRequest(policy_id="needs-ok"))
    assert dict(got.success_details.policy.rule.parameters) == dict(rule.parameters)
    broken = pol.PolicyDefinition()
    broken.CopyFrom(policy)
    broken.policy_id = "no-approvers"
    del broken.rule.parameters["approvers"]
    answer = await admin.acme.policy.CreatePolicy(pol.CreatePolicyRequest(policy=broken))
    assert answer.error.code == "MALFORMED_REQUEST"
    assert answer.error.details["field"] == "parameters"
    missing = await admin.acme.policy.ValidatePolicy(pol.ValidatePolicyRequest())
    assert missing.error.code == "MALFORMED_REQUEST"
    assert events(admin, "POLICY_CREATE") == ["SUCCESS", "FAILURE"]


async def test_a_caller_without_a_credential_is_refused_by_the_gateway(admin: Admin) -> None:
    anonymous = admin.api_key_caller()
    answer = await anonymous.identity.ListServiceAccounts(idp.ListServiceAccountsRequest())
    assert answer.error.code == "AUTHENTICATION_FAILED"
    answer = await anonymous.policy.ListPolicies(pol.ListPoliciesRequest())
    assert answer.error.code == "AUTHENTICATION_FAILED"
