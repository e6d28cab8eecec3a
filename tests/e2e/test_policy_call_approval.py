"""A REQUIRE_APPROVAL policy end to end (docs/protocol-decisions.md 102-106).

A real Host (TLS 1.3, development PKI, the local SQLite profile) and a scripted Runtime of
tenant ``acme``. The ``transfer`` contract asks for nothing; a tenant policy requires approval
by the role ``transfer-approver`` when ``request.args.amount > 1000``. Through the Client SDK,
``user`` is held for a large transfer (the Runtime receives nothing), ``approver`` approves
through the governance service, and ``user`` repeats the call with the approval id: it runs
exactly once. A small transfer runs without approval, and the tool stays listed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc.aio
import pytest

from aesp.certs import DevPki, init_dev_pki, issue_into
from aesp.client import AsyncClient
from aesp.client.errors import ApprovalRequired, PermissionDenied
from aesp.core.config import HostConfig, TlsConfig
from aesp.core.control import AccessConfig
from aesp.core.policy import Effect, PolicyDefinition
from aesp.core.rbac import RoleDefinition
from aesp.proto.altar.aesp.v1 import governance_pb2 as gov
from aesp.proto.altar.aesp.v1 import governance_pb2_grpc
from aesp.server.app import RunningHost, start_host
from aesp.server.tls import channel_credentials
from aesp.testing.harness import write_manifest
from tests.e2e.scripted_runtime import ScriptedRuntime, reply

TRANSFER = {
    "name": "transfer",
    "description": "Move money.",
    "contract_version": "1.0.0",
    "security_classification": "PUBLIC",
    "parameters": {
        "type": "OBJECT",
        "properties": {"amount": {"type": "INTEGER"}, "to": {"type": "STRING"}},
    },
}
ACCESS = AccessConfig(
    roles=(
        RoleDefinition("tool-user", ("tool:*:invoke",)),
        RoleDefinition("transfer-approver", ("aesp:governance:*",)),
    ),
    group_roles={"certificate:client": ("tool-user",), "certificate:runtime": ("tool-user",)},
)
USER = "spiffe://aesp.local/tenant/acme/client/user"
APPROVER = "spiffe://aesp.local/tenant/acme/client/approver"
BIG_TRANSFERS = PolicyDefinition(
    policy_id="big-transfers",
    name="Large transfers need approval",
    version="1.0.0",
    tenant_id="acme",
    applies_to=("transfer",),
    effect=Effect.REQUIRE_APPROVAL,
    condition="request.args.amount > 1000",
    parameters={"approvers": "role:transfer-approver", "approval_ttl_ms": "600000"},
)


@dataclass
class World:
    """The running Host, its PKI, and the channels and clients opened on it."""

    running: RunningHost
    pki: DevPki
    channels: list[grpc.aio.Channel]
    clients: list[AsyncClient]

    @property
    def target(self) -> str:
        return f"localhost:{self.running.client_port}"

    def client(self, name: str) -> AsyncClient:
        cert, key = self.pki.client(name)
        made = AsyncClient(
            self.target, ca=self.pki.ca.read_bytes(), cert=cert.read_bytes(), key=key.read_bytes()
        )
        self.clients.append(made)
        return made

    def governance(self, name: str) -> governance_pb2_grpc.EnterpriseGovernanceServiceStub:
        cert, key = self.pki.client(name)
        channel = grpc.aio.secure_channel(
            self.target,
            channel_credentials(self.pki.ca.read_bytes(), cert.read_bytes(), key.read_bytes()),
        )
        self.channels.append(channel)
        return governance_pb2_grpc.EnterpriseGovernanceServiceStub(channel)

    def runtime(self) -> ScriptedRuntime:
        cert, key = self.pki.runtime("acme")
        return ScriptedRuntime(
            f"localhost:{self.running.runtime_port}",
            (self.pki.ca.read_bytes(), cert.read_bytes(), key.read_bytes()),
            runtime_id="rt-acme",
        )

    def events(self, event_type: str) -> list[Any]:
        return [e for e in self.running.host.audit.events() if e.event_type == event_type]


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    pki = init_dev_pki(tmp_path / "pki", tenant="acme", runtimes=("acme",), clients=("user",))
    issue_into(pki.directory, "client", "approver", tenant="acme")
    config = HostConfig(
        manifest_path=write_manifest(tmp_path / "manifest.json", [TRANSFER]),
        client_listen="127.0.0.1:0",
        runtime_listen="127.0.0.1:0",
        data_dir=tmp_path / "data",
        tls=TlsConfig(ca=pki.ca, cert=pki.host_cert, key=pki.host_key),
    )
    running = await start_host(config, access=ACCESS)
    control = running.host.control
    # The caller holds the approver role too: it still cannot approve its own call.
    for who in (USER, APPROVER):
        await control.roles.set_assignment(who, tenant_id="acme", roles=("transfer-approver",))
    await control.roles_changed()
    await control.policies.add_version(BIG_TRANSFERS, created_by="test", at_ms=1)
    await control.policies_changed()
    handle = World(running, pki, [], [])
    try:
        yield handle
    finally:
        for client in handle.clients:
            await client.close()
        for channel in handle.channels:
            await channel.close()
        await running.stop(grace=0.2)


async def test_only_large_transfers_are_held_and_run_once_when_approved(world: World) -> None:
    rt = await world.runtime().start(["transfer"])
    try:
        rt.on("transfer", reply(lambda args: {"moved": args["amount"]}))
        user = world.client("user")
        sid = (await user.create_session()).session_id
        # The tool is listed although some of its calls need approval.
        assert "transfer" in [t.name for t in await user.list_tools(sid)]
        # (1) A small transfer runs without approval.
        small = await user.call(sid, "transfer", {"amount": 10, "to": "bob"})
        assert small.status == "SUCCESS" and len(rt.calls) == 1
        # (2) A large one is held: a request is opened, the Runtime receives nothing.
        big = {"amount": 5000, "to": "mallory"}
        with pytest.raises(ApprovalRequired) as info:
            await user.call(sid, "transfer", big)
        rid = info.value.approval_request_id
        assert rid.startswith("apr-") and info.value.approval_status == "PENDING"
        assert info.value.code == "EMERGENCY_OVERRIDE_REQUIRED"
        assert len(rt.calls) == 1
        (opened,) = world.events("GOVERNANCE_APPROVAL_REQUEST")
        assert opened.metadata["approval_request_id"] == rid
        assert opened.metadata["required_approvers"] == "role:transfer-approver"
        assert opened.metadata["approval_rule"] == "policy:acme/big-transfers@1.0.0"
        # (3) Repeated while PENDING: held again, same request.
        with pytest.raises(ApprovalRequired) as again:
            await user.call(sid, "transfer", big, approval_request_id=rid)
        assert again.value.approval_request_id == rid and len(rt.calls) == 1
        # (4) Another principal approves through the governance service.
        decided = await world.governance("approver").AdjudicateApproval(
            gov.AdjudicateApprovalRequest(approval_request_id=rid, decision="APPROVE")
        )
        assert decided.success_details.final_status == "APPROVED", decided
        # (5) The SDK repeats the same call with the id: it runs, exactly once.
        done = await user.call(sid, "transfer", big, approval_request_id=rid)
        assert done.status == "SUCCESS" and len(rt.calls) == 2
        with pytest.raises(PermissionDenied) as used:
            await user.call(sid, "transfer", big, approval_request_id=rid)
        assert used.value.details["reason"] == "APPROVAL_ALREADY_USED"
        assert len(rt.calls) == 2
        (start,) = [
            e
            for e in world.events("TOOL_INVOCATION_START")
            if e.metadata.get("approval_request_id") == rid
        ]
        assert start.metadata["approval"] == "consumed"
        assert start.metadata["approval_rule"] == "policy:acme/big-transfers@1.0.0"
    finally:
        await rt.close()


async def test_a_deny_policy_overrides_the_approval_policy(world: World) -> None:
    control = world.running.host.control
    cap = dataclasses.replace(
        BIG_TRANSFERS,
        policy_id="cap",
        name="Cap",
        effect=Effect.DENY,
        condition="request.args.amount > 4000",
        parameters={},
    )
    await control.policies.add_version(cap, created_by="test", at_ms=2)
    await control.policies_changed()
    rt = await world.runtime().start(["transfer"])
    try:
        user = world.client("user")
        sid = (await user.create_session()).session_id
        with pytest.raises(PermissionDenied) as info:
            await user.call(sid, "transfer", {"amount": 5000, "to": "x"})
        assert not isinstance(info.value, ApprovalRequired)
        assert info.value.code == "POLICY_VIOLATION" and rt.calls == []
    finally:
        await rt.close()
