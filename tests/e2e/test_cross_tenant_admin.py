"""Tenants never mix on the admin APIs: generated attempts against a real Host (SPEC §3.14, 184).

Tenant ``globex`` (the victim) has a principal, a service account and a policy. An administrator
of tenant ``acme`` (every ``aesp:identity:*`` and ``aesp:policy:*`` permission, but not the
platform one) names them in every Identity and Policy RPC. Hypothesis generates the attempts.
Each must be refused with ``TENANT_ACCESS_DENIED`` or a not-found code, and the answer for the
victim's real object must be exactly the answer for an id that exists nowhere (the attacker
learns nothing, not even existence). Afterwards the victim's objects are unchanged.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import grpc
import grpc.aio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aesp.certs import init_dev_pki, issue_into
from aesp.core.config import GovernanceConfig, HostConfig, TlsConfig
from aesp.core.control import AccessConfig
from aesp.core.rbac import RoleDefinition
from aesp.proto.altar.aesp.v1 import identity_pb2 as idp
from aesp.proto.altar.aesp.v1 import identity_pb2_grpc, policy_pb2_grpc
from aesp.proto.altar.aesp.v1 import policy_pb2 as pol
from aesp.server.app import RunningHost, start_host
from aesp.server.tls import channel_credentials
from aesp.testing.harness import write_manifest

T = TypeVar("T")
VICTIM, ATTACKER = "globex", "acme"
ECHO = {
    "name": "echo",
    "description": "Echo a text.",
    "security_classification": "PUBLIC",
    "parameters": {"type": "OBJECT", "properties": {"text": {"type": "STRING"}}},
}
ACCESS = AccessConfig(
    roles=(RoleDefinition("tenant-admin", ("aesp:identity:*", "aesp:policy:*", "tool:*:invoke")),),
    group_roles={"certificate:client": ("tenant-admin",)},
)
REFUSALS = {"TENANT_ACCESS_DENIED", "NOT_FOUND", "POLICY_NOT_FOUND"}


@dataclass
class Stubs:
    identity: identity_pb2_grpc.EnterpriseIdentityServiceStub
    policy: policy_pb2_grpc.EnterprisePolicyServiceStub


@dataclass
class World:
    """A Host, both tenants' administrators, and the victim's objects."""

    loop: asyncio.AbstractEventLoop
    running: RunningHost
    victim: Stubs
    attacker: Stubs
    principal_id: str = ""
    account_id: str = ""
    policy_id: str = "globex-limit"

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=30)

    def rpc(self, start: Callable[[], Awaitable[T]]) -> T:
        """Start an RPC on the Host's loop (gRPC calls belong to the loop of their channel)."""

        async def call() -> T:
            return await start()

        return self.run(call())


def _stubs(target: str, ca: bytes, cert: Path, key: Path) -> tuple[grpc.aio.Channel, Stubs]:
    channel = grpc.aio.secure_channel(
        target, channel_credentials(ca, cert.read_bytes(), key.read_bytes())
    )
    return channel, Stubs(
        identity_pb2_grpc.EnterpriseIdentityServiceStub(channel),
        policy_pb2_grpc.EnterprisePolicyServiceStub(channel),
    )


def _policy(policy_id: str, version: str = "1.0.0") -> pol.PolicyDefinition:
    return pol.PolicyDefinition(
        policy_id=policy_id,
        name="limit",
        version=version,
        rule=pol.PolicyRule(condition='request.args.text == "x"', effect="DENY"),
        applies_to=["tool:echo"],
        enabled=True,
    )


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root: Path = tmp_path_factory.mktemp("admin-tenants")
    pki = init_dev_pki(root / "pki", tenant=VICTIM, runtimes=("rt",), clients=("boss",))
    issue_into(root / "pki", "client", "intruder", tenant=ATTACKER)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    stack = AsyncExitStack()
    channels: list[grpc.aio.Channel] = []

    async def start() -> World:
        config = HostConfig(
            manifest_path=write_manifest(root / "manifest.json", [ECHO]),
            client_listen="127.0.0.1:0",
            runtime_listen="127.0.0.1:0",
            data_dir=root / "data",
            tls=TlsConfig(ca=pki.ca, cert=pki.host_cert, key=pki.host_key),
            # Policies in force at once: this test is about the RPCs, not item 165
            # (tests/e2e/test_governed_policy.py covers the approval path).
            governance=GovernanceConfig(policy_changes="direct"),
        )
        running = await start_host(config, access=ACCESS)
        stack.push_async_callback(running.stop, 0.2)
        target, ca = f"localhost:{running.client_port}", pki.ca.read_bytes()
        victim_channel, victim = _stubs(target, ca, *pki.client("boss"))
        attacker_channel, attacker = _stubs(target, ca, *pki.client("intruder"))
        channels.extend((victim_channel, attacker_channel))
        w = World(loop, running, victim, attacker)
        w.principal_id = f"spiffe://aesp.local/tenant/{VICTIM}/client/boss"
        created = await victim.identity.CreateServiceAccount(
            idp.CreateServiceAccountRequest(name="etl", permissions=["tool:echo:invoke"])
        )
        assert created.HasField("success_details"), created
        w.account_id = created.success_details.service_account_id
        policy = await victim.policy.CreatePolicy(
            pol.CreatePolicyRequest(policy=_policy(w.policy_id))
        )
        assert policy.HasField("success_details"), policy
        return w

    async def stop() -> None:
        for channel in channels:
            await channel.close()
        await stack.aclose()

    built = asyncio.run_coroutine_threadsafe(start(), loop).result(timeout=60)
    try:
        yield built
    finally:
        asyncio.run_coroutine_threadsafe(stop(), loop).result(timeout=60)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)


Attempt = Callable[[Stubs, str, str, str], Awaitable[Any]]
"""(stubs, principal id, service account id or policy id, tenant_id field) -> response."""

BY_ID: dict[str, Attempt] = {
    "GetPrincipalDetails": lambda s, p, _o, t: s.identity.GetPrincipalDetails(
        idp.GetPrincipalDetailsRequest(principal_id=p, tenant_id=t, include_permissions=True)
    ),
    "UpdatePrincipalRoles": lambda s, p, _o, t: s.identity.UpdatePrincipalRoles(
        idp.UpdatePrincipalRolesRequest(principal_id=p, tenant_id=t, roles_to_add=["tenant-admin"])
    ),
    "GetPrincipalAuditTrail": lambda s, p, _o, t: s.identity.GetPrincipalAuditTrail(
        idp.GetPrincipalAuditTrailRequest(principal_id=p, tenant_id=t)
    ),
    "RevokeServiceAccount": lambda s, _p, o, t: s.identity.RevokeServiceAccount(
        idp.RevokeServiceAccountRequest(service_account_id=o, tenant_id=t)
    ),
    "GetPolicy": lambda s, _p, o, t: s.policy.GetPolicy(
        pol.GetPolicyRequest(policy_id=o, tenant_id=t)
    ),
    "UpdatePolicy": lambda s, _p, o, t: s.policy.UpdatePolicy(
        pol.UpdatePolicyRequest(policy=_policy(o, "2.0.0"), tenant_id=t)
    ),
    "DeletePolicy": lambda s, _p, o, t: s.policy.DeletePolicy(
        pol.DeletePolicyRequest(policy_id=o, tenant_id=t)
    ),
    "EvaluatePolicy": lambda s, _p, o, t: s.policy.EvaluatePolicy(
        pol.EvaluatePolicyRequest(policy_id=o, resource="echo", action="invoke", tenant_id=t)
    ),
}
BY_TENANT: dict[str, Callable[[Stubs], Awaitable[Any]]] = {
    "ListPrincipals": lambda s: s.identity.ListPrincipals(
        idp.ListPrincipalsRequest(tenant_id=VICTIM)
    ),
    "ListServiceAccounts": lambda s: s.identity.ListServiceAccounts(
        idp.ListServiceAccountsRequest(tenant_id=VICTIM)
    ),
    "CreateServiceAccount": lambda s: s.identity.CreateServiceAccount(
        idp.CreateServiceAccountRequest(name="mole", tenant_id=VICTIM)
    ),
    "ListPolicies": lambda s: s.policy.ListPolicies(pol.ListPoliciesRequest(tenant_id=VICTIM)),
    "CreatePolicy": lambda s: s.policy.CreatePolicy(
        pol.CreatePolicyRequest(policy=_policy("planted"), tenant_id=VICTIM)
    ),
}


def _answer(response: Any, *secrets: str) -> tuple[str, str, dict[str, str]]:
    """The refusal with the ids the attacker sent blanked out (echoing input leaks nothing).

    An audit-trail query is a filter, not a look-up: for a principal outside the caller's
    tenant it answers an empty page, exactly as for a principal that does not exist.
    """
    if response.WhichOneof("response_type") == "success_details":
        assert list(response.success_details.items) == [], response
        return "EMPTY", "", {}
    assert response.WhichOneof("response_type") == "error", response
    error = response.error
    message = error.message
    details = dict(error.details)
    for secret in secrets:
        message = message.replace(secret, "<id>")
        details = {k: v.replace(secret, "<id>") for k, v in details.items()}
    assert VICTIM not in message and VICTIM not in str(details), message
    assert error.tenant_id in ("", ATTACKER)
    return error.code, message, details


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(rpc=st.sampled_from(sorted(BY_ID)), tenant_field=st.sampled_from(["", ATTACKER]))
def test_item_184_victim_objects_look_exactly_like_missing_ones(
    world: World, rpc: str, tenant_field: str
) -> None:
    attempt = BY_ID[rpc]
    real_object = world.policy_id if "Policy" in rpc else world.account_id
    fake_principal = f"spiffe://aesp.local/tenant/{VICTIM}/client/nobody"
    fake_object = "pol-0000000000000000" if "Policy" in rpc else "sa-does-not-exist"
    real = world.rpc(lambda: attempt(world.attacker, world.principal_id, real_object, tenant_field))
    fake = world.rpc(lambda: attempt(world.attacker, fake_principal, fake_object, tenant_field))
    real_answer = _answer(real, world.principal_id, real_object)
    fake_answer = _answer(fake, fake_principal, fake_object)
    allowed = REFUSALS | ({"EMPTY"} if rpc == "GetPrincipalAuditTrail" else set())
    assert real_answer[0] in allowed, real_answer
    assert real_answer == fake_answer


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(rpc=st.sampled_from(sorted(BY_ID)), naming=st.just(VICTIM))
def test_naming_the_victim_tenant_is_tenant_access_denied(
    world: World, rpc: str, naming: str
) -> None:
    real_object = world.policy_id if "Policy" in rpc else world.account_id
    response = world.rpc(
        lambda: BY_ID[rpc](world.attacker, world.principal_id, real_object, naming)
    )
    code, _message, _details = _answer(response, world.principal_id, real_object)
    assert code == "TENANT_ACCESS_DENIED"


@pytest.mark.parametrize("rpc", sorted(BY_TENANT))
def test_listing_or_creating_in_the_victim_tenant_is_denied(world: World, rpc: str) -> None:
    response = world.rpc(lambda: BY_TENANT[rpc](world.attacker))
    code, _message, _details = _answer(response)
    assert code == "TENANT_ACCESS_DENIED"


def test_the_victims_objects_are_unchanged(world: World) -> None:
    async def look() -> tuple[Any, Any, Any]:
        account = await world.victim.identity.ListServiceAccounts(
            idp.ListServiceAccountsRequest(include_revoked=True)
        )
        policy = await world.victim.policy.GetPolicy(pol.GetPolicyRequest(policy_id="globex-limit"))
        assignments = await world.running.host.control.roles.assignments()
        return account, policy, assignments

    account, policy, assignments = world.run(look())
    [only] = account.success_details.items
    assert only.service_account_id == world.account_id and not only.revoked
    assert policy.success_details.policy.version == "1.0.0"
    assert (VICTIM, world.principal_id) not in assignments  # no role was planted
    planted = [
        e
        for e in world.running.host.audit.events()
        if e.tenant_id == VICTIM and e.principal_id.endswith("/intruder")
    ]
    assert planted == []  # every refusal is recorded in the attacker's own tenant
