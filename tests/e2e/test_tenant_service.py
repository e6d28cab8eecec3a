"""EnterpriseTenantService end to end: suspension governs a real Host (SPEC §3.4, §3.14, C-41).

A real Host (TLS 1.3, development PKI, gateway) serves the service on its client port; every
RPC goes through the generated stubs. Callers authenticate with client certificates:
administrators of tenants ``acme`` and ``globex`` (``[access]`` makes every client certificate a
tenant administrator of its own tenant, ``aesp:tenant:*`` included) and a platform operator of
tenant ``ops`` (the same certificate kind, plus an assignment of the platform role). Each tenant
has a scripted Runtime serving ``echo``, so the tests see exactly which calls reached a Runtime.
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import grpc.aio
import pytest

from aesp.certs import DevPki, init_dev_pki, issue_into
from aesp.core.config import HostConfig, TlsConfig
from aesp.core.control import PLATFORM_PERMISSION, AccessConfig
from aesp.core.rbac import RoleDefinition
from aesp.proto.altar.adm.v1 import adm_pb2
from aesp.proto.altar.aesp.v1 import host_pb2, host_pb2_grpc, tenancy_pb2_grpc
from aesp.proto.altar.aesp.v1 import tenancy_pb2 as ten
from aesp.proto.altar.grid.v1 import grid_pb2
from aesp.server.app import RunningHost, start_host
from aesp.server.tls import channel_credentials
from aesp.testing.harness import write_manifest
from tests.e2e.scripted_runtime import ScriptedRuntime, reply

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
        RoleDefinition("tenant-admin", ("aesp:tenant:*", "tool:*:invoke")),
        RoleDefinition("tool-user", ("tool:*:invoke",)),
        RoleDefinition("platform-operator", ("aesp:tenant:*", PLATFORM_PERMISSION)),
    ),
    group_roles={"certificate:client": ("tenant-admin",), "certificate:runtime": ("tool-user",)},
)
OPERATOR = "spiffe://aesp.local/tenant/ops/client/operator"
ACME_ADMIN = "spiffe://aesp.local/tenant/acme/client/admin"


@dataclass
class Stubs:
    """The generated stubs of one caller."""

    tenants: tenancy_pb2_grpc.EnterpriseTenantServiceStub
    grid: host_pb2_grpc.GridClientServiceStub


@dataclass
class World:
    """A running Host and callers of three tenants."""

    running: RunningHost
    pki: DevPki
    channels: list[grpc.aio.Channel] = field(default_factory=list)

    @property
    def ca(self) -> bytes:
        return self.pki.ca.read_bytes()

    def caller(self, name: str) -> Stubs:
        """Stubs authenticated by the client certificate ``client-<name>``."""
        cert, key = self.pki.client(name)
        channel = grpc.aio.secure_channel(
            f"localhost:{self.running.client_port}",
            channel_credentials(self.ca, cert.read_bytes(), key.read_bytes()),
        )
        self.channels.append(channel)
        return Stubs(
            tenancy_pb2_grpc.EnterpriseTenantServiceStub(channel),
            host_pb2_grpc.GridClientServiceStub(channel),
        )

    @functools.cached_property
    def acme(self) -> Stubs:
        """The administrator of tenant ``acme``."""
        return self.caller("admin")

    @functools.cached_property
    def globex(self) -> Stubs:
        """The administrator of tenant ``globex``."""
        return self.caller("globex-admin")

    @functools.cached_property
    def operator(self) -> Stubs:
        """The platform operator (tenant ``ops``)."""
        return self.caller("operator")

    def runtime(self, name: str) -> ScriptedRuntime:
        """A scripted Runtime with the certificate ``runtime-<name>`` (not yet started)."""
        cert, key = self.pki.runtime(name)
        return ScriptedRuntime(
            f"localhost:{self.running.runtime_port}",
            (self.ca, cert.read_bytes(), key.read_bytes()),
            runtime_id=f"rt-{name}",
        )

    def events(self, event_type: str) -> list[tuple[str, str, str]]:
        """(tenant, outcome, principal) of the Host's audit events of one type."""
        return [
            (e.tenant_id, e.outcome, e.principal_id)
            for e in self.running.host.audit.events()
            if e.event_type == event_type
        ]


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    pki = init_dev_pki(tmp_path / "pki", tenant="acme", runtimes=("acme",), clients=("admin",))
    issue_into(pki.directory, "client", "globex-admin", tenant="globex")
    issue_into(pki.directory, "runtime", "globex", tenant="globex")
    issue_into(pki.directory, "client", "operator", tenant="ops")
    config = HostConfig(
        manifest_path=write_manifest(tmp_path / "manifest.json", [ECHO]),
        client_listen="127.0.0.1:0",
        runtime_listen="127.0.0.1:0",
        data_dir=tmp_path / "data",
        tls=TlsConfig(ca=pki.ca, cert=pki.host_cert, key=pki.host_key),
    )
    running = await start_host(config, access=ACCESS)
    control = running.host.control
    await control.roles.set_assignment(OPERATOR, tenant_id="ops", roles=("platform-operator",))
    await control.roles_changed()
    handle = World(running, pki)
    try:
        yield handle
    finally:
        for channel in handle.channels:
            await channel.close()
        await running.stop(grace=0.2)


@pytest.fixture
async def runtimes(world: World) -> AsyncIterator[dict[str, ScriptedRuntime]]:
    started = {tenant: world.runtime(tenant) for tenant in ("acme", "globex")}
    for rt in started.values():
        await rt.start(["echo"])
    yield started
    for rt in started.values():
        await rt.close()


async def echo(stubs: Stubs, session_id: str, text: str, call_id: str) -> host_pb2.ToolCallResponse:
    call = adm_pb2.FunctionCall(
        call_id=call_id, name="echo", args=json.dumps({"text": text}).encode()
    )
    return await stubs.grid.CallTool(grid_pb2.ToolCall(session_id=session_id, call=call))


async def session_of(stubs: Stubs) -> str:
    created = await stubs.grid.CreateSession(grid_pb2.CreateSession())
    assert created.session_id and not created.HasField("error"), created
    return created.session_id


def succeeded(response: host_pb2.ToolCallResponse) -> bool:
    return (
        response.WhichOneof("outcome") == "result"
        and response.result.result.status == adm_pb2.SUCCESS
    )


async def test_a_platform_operator_suspends_and_resumes_a_tenant(
    world: World, runtimes: dict[str, ScriptedRuntime]
) -> None:
    acme_rt, globex_rt = runtimes["acme"], runtimes["globex"]
    acme_sid, globex_sid = await session_of(world.acme), await session_of(world.globex)
    assert succeeded(await echo(world.acme, acme_sid, "before", "a1"))
    listed = await world.operator.tenants.ListTenants(ten.ListTenantsRequest(tenant_id="*"))
    assert [t.tenant_id for t in listed.success_details.items] == ["acme", "globex", "ops"]
    # A call already dispatched when the suspension lands finishes normally.
    acme_rt.next_call(reply(delay_s=0.5))
    in_flight = asyncio.create_task(echo(world.acme, acme_sid, "in flight", "a2"))
    await acme_rt.wait_calls(2)
    suspended = await world.operator.tenants.SuspendTenant(
        ten.SuspendTenantRequest(tenant_id="acme", justification="incident 42")
    )
    assert suspended.WhichOneof("response_type") == "success_details", suspended
    assert (suspended.success_details.tenant_id, suspended.success_details.status) == (
        "acme",
        "SUSPENDED",
    )
    assert succeeded(await in_flight)
    # New sessions and calls of acme are refused; nothing more reaches acme's Runtime.
    refused_session = await world.acme.grid.CreateSession(grid_pb2.CreateSession())
    assert refused_session.error.type == "TENANT_SUSPENDED", refused_session
    refused_call = await echo(world.acme, acme_sid, "after", "a3")
    assert refused_call.error.type == "TENANT_SUSPENDED", refused_call
    own_view = await world.acme.tenants.GetTenant(ten.GetTenantRequest())
    assert own_view.error.code == "TENANT_SUSPENDED"
    assert own_view.error.tenant_id == "acme" and own_view.error.correlation_id
    assert len(acme_rt.calls) == 2
    # Another tenant is unaffected.
    assert succeeded(await echo(world.globex, globex_sid, "still here", "g1"))
    assert len(globex_rt.calls) == 1
    # Idempotent: a second suspension changes nothing and still succeeds.
    again = await world.operator.tenants.SuspendTenant(ten.SuspendTenantRequest(tenant_id="acme"))
    assert again.success_details.updated_at == suspended.success_details.updated_at
    got = await world.operator.tenants.GetTenant(ten.GetTenantRequest(tenant_id="acme"))
    assert got.success_details.status == "SUSPENDED"
    # Resume restores service on the old session and for new ones.
    resumed = await world.operator.tenants.ResumeTenant(
        ten.ResumeTenantRequest(tenant_id="acme", justification="contained")
    )
    assert resumed.success_details.status == "ACTIVE", resumed
    assert succeeded(await echo(world.acme, acme_sid, "back", "a4"))
    assert await session_of(world.acme)
    assert len(acme_rt.calls) == 3
    # Every action is audited in the tenant acted on, by the operator.
    assert world.events("TENANT_SUSPEND") == [("acme", "SUCCESS", OPERATOR)] * 2
    assert world.events("TENANT_RESUME") == [("acme", "SUCCESS", OPERATOR)]
    suspension = next(
        e for e in world.running.host.audit.events() if e.event_type == "TENANT_SUSPEND"
    )
    assert suspension.metadata["justification"] == "incident 42"
    assert suspension.metadata["actor_tenant"] == "ops"
    refusals = [
        (e.event_type, e.outcome)
        for e in world.running.host.audit.events()
        if e.tenant_id == "acme" and e.metadata.get("code") == "TENANT_SUSPENDED"
    ]
    assert ("SESSION_CREATE", "DENIED") in refusals
    assert ("AUTHORIZATION_DENIED", "DENIED") in refusals


async def test_a_tenant_administrator_manages_only_its_own_tenant(world: World) -> None:
    await session_of(world.globex)  # provisions globex
    # Own tenant: read it and replace its metadata.
    own = await world.acme.tenants.GetTenant(ten.GetTenantRequest())
    assert (own.success_details.tenant_id, own.success_details.status) == ("acme", "ACTIVE")
    first = await world.acme.tenants.UpdateTenantMetadata(
        ten.UpdateTenantMetadataRequest(metadata={"region": "eu", "tier": "gold"})
    )
    assert dict(first.success_details.metadata) == {"region": "eu", "tier": "gold"}, first
    second = await world.acme.tenants.UpdateTenantMetadata(
        ten.UpdateTenantMetadataRequest(metadata={"region": "us"})
    )
    assert dict(second.success_details.metadata) == {"region": "us"}
    listing = await world.acme.tenants.ListTenants(ten.ListTenantsRequest())
    assert [t.tenant_id for t in listing.success_details.items] == ["acme"]
    # Not another tenant, not every tenant, and not suspension, even of its own tenant.
    crossing = await world.acme.tenants.SuspendTenant(ten.SuspendTenantRequest(tenant_id="globex"))
    assert crossing.error.code == "TENANT_ACCESS_DENIED", crossing
    assert (crossing.error.principal_id, crossing.error.tenant_id) == (ACME_ADMIN, "acme")
    everyone = await world.acme.tenants.ListTenants(ten.ListTenantsRequest(tenant_id="*"))
    assert everyone.error.code == "TENANT_ACCESS_DENIED"
    itself = await world.acme.tenants.SuspendTenant(ten.SuspendTenantRequest())
    assert itself.error.code == "PERMISSION_DENIED"
    assert itself.error.details["permission"] == PLATFORM_PERMISSION
    # Another tenant's record answers exactly like a tenant that does not exist.
    real = await world.acme.tenants.GetTenant(ten.GetTenantRequest(tenant_id="globex"))
    ghost = await world.acme.tenants.GetTenant(ten.GetTenantRequest(tenant_id="nowhere"))
    assert (real.error.code, real.error.message) == (ghost.error.code, ghost.error.message)
    assert real.error.code == "TENANT_ACCESS_DENIED"
    # The platform operator sees the truth, and nothing changed for globex.
    globex = await world.operator.tenants.GetTenant(ten.GetTenantRequest(tenant_id="globex"))
    assert globex.success_details.status == "ACTIVE" and not globex.success_details.metadata
    missing = await world.operator.tenants.GetTenant(ten.GetTenantRequest(tenant_id="nowhere"))
    assert missing.error.code == "NOT_FOUND"
    # Every action is audited: the writes, the refusals (in the prober's own tenant) and reads.
    assert world.events("TENANT_UPDATE") == [("acme", "SUCCESS", ACME_ADMIN)] * 2
    denials = [
        (e.action, e.metadata["code"])
        for e in world.running.host.audit.events()
        if e.event_type == "AUTHORIZATION_DENIED" and e.tenant_id == "acme"
    ]
    assert denials == [
        ("SuspendTenant", "TENANT_ACCESS_DENIED"),
        ("ListTenants", "TENANT_ACCESS_DENIED"),
        ("SuspendTenant", "PERMISSION_DENIED"),
        ("GetTenant", "TENANT_ACCESS_DENIED"),
        ("GetTenant", "TENANT_ACCESS_DENIED"),
    ]
    assert world.events("TENANT_SUSPEND") == []
    queries = [e for e in world.events("ADMIN_QUERY") if e[2] == OPERATOR]
    assert queries == [("globex", "SUCCESS", OPERATOR), ("nowhere", "FAILURE", OPERATOR)]


async def test_a_caller_without_a_client_certificate_never_reaches_the_service(
    world: World,
) -> None:
    channel = grpc.aio.secure_channel(
        f"localhost:{world.running.client_port}", channel_credentials(world.ca)
    )
    world.channels.append(channel)
    stub = tenancy_pb2_grpc.EnterpriseTenantServiceStub(channel)
    with pytest.raises(grpc.aio.AioRpcError) as info:  # mutual TLS: no handshake at all
        await stub.ListTenants(ten.ListTenantsRequest(tenant_id="*"), timeout=5)
    assert info.value.code() == grpc.StatusCode.UNAVAILABLE
    assert world.events("ADMIN_QUERY") == []
