"""Governed policy changes on a real Host over TLS (SPEC §3.11, §3.12, items 163, 165, 171).

The Host runs with the default ``[governance] policy_changes = "approval"``: CreatePolicy,
UpdatePolicy and DeletePolicy answer a pending ``approval_request_id`` and change nothing
until a second administrator approves over ``EnterpriseGovernanceService``; the approval
enforces the change on the next call. Two client certificates of tenant ``acme`` (``admin``
and ``second``) are tenant administrators holding ``aesp:policy:*`` and
``aesp:governance:*``; a scripted Runtime serves ``echo``.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import grpc.aio
import pytest

from aesp.certs import DevPki, init_dev_pki
from aesp.core.config import HostConfig, TlsConfig
from aesp.core.control import AccessConfig
from aesp.core.rbac import RoleDefinition
from aesp.proto.altar.adm.v1 import adm_pb2
from aesp.proto.altar.aesp.v1 import governance_pb2 as gov
from aesp.proto.altar.aesp.v1 import governance_pb2_grpc, host_pb2_grpc, policy_pb2_grpc
from aesp.proto.altar.aesp.v1 import policy_pb2 as pol
from aesp.proto.altar.grid.v1 import grid_pb2
from aesp.server.app import RunningHost, start_host
from aesp.server.tls import channel_credentials
from aesp.testing.harness import write_manifest
from tests.e2e.scripted_runtime import ScriptedRuntime, reply

ECHO = {
    "name": "echo",
    "description": "Echo a text.",
    "security_classification": "PUBLIC",
    "parameters": {"type": "OBJECT", "properties": {"text": {"type": "STRING"}}},
}
ACCESS = AccessConfig(
    roles=(
        RoleDefinition("tenant-admin", ("aesp:policy:*", "aesp:governance:*", "tool:*:invoke")),
        RoleDefinition("tool-user", ("tool:*:invoke",)),
    ),
    group_roles={"certificate:client": ("tenant-admin",), "certificate:runtime": ("tool-user",)},
)


@dataclass
class Caller:
    """One client certificate's stubs."""

    policy: policy_pb2_grpc.EnterprisePolicyServiceStub
    governance: governance_pb2_grpc.EnterpriseGovernanceServiceStub
    grid: host_pb2_grpc.GridClientServiceStub


@dataclass
class World:
    """A running Host with the default (governed) policy changes."""

    running: RunningHost
    pki: DevPki
    channels: list[grpc.aio.Channel] = field(default_factory=list[grpc.aio.Channel])

    def caller(self, name: str) -> Caller:
        cert, key = self.pki.client(name)
        creds = channel_credentials(self.pki.ca.read_bytes(), cert.read_bytes(), key.read_bytes())
        channel = grpc.aio.secure_channel(f"localhost:{self.running.client_port}", creds)
        self.channels.append(channel)
        return Caller(
            policy_pb2_grpc.EnterprisePolicyServiceStub(channel),
            governance_pb2_grpc.EnterpriseGovernanceServiceStub(channel),
            host_pb2_grpc.GridClientServiceStub(channel),
        )

    def runtime(self) -> ScriptedRuntime:
        cert, key = self.pki.runtime("acme")
        pems = (self.pki.ca.read_bytes(), cert.read_bytes(), key.read_bytes())
        return ScriptedRuntime(f"localhost:{self.running.runtime_port}", pems, runtime_id="rt")


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    pki = init_dev_pki(
        tmp_path / "pki", tenant="acme", runtimes=("acme",), clients=("admin", "second")
    )
    config = HostConfig(  # [governance] left at its default: policy_changes = "approval"
        manifest_path=write_manifest(tmp_path / "manifest.json", [ECHO]),
        client_listen="127.0.0.1:0",
        runtime_listen="127.0.0.1:0",
        data_dir=tmp_path / "data",
        tls=TlsConfig(ca=pki.ca, cert=pki.host_cert, key=pki.host_key),
    )
    assert config.governance.policy_changes == "approval"
    running = await start_host(config, access=ACCESS)
    handle = World(running, pki)
    try:
        yield handle
    finally:
        for channel in handle.channels:
            await channel.close()
        await running.stop(grace=0.2)


def deny(text: str, version: str = "1.0.0") -> pol.PolicyDefinition:
    """A DENY policy on ``echo`` for one text."""
    return pol.PolicyDefinition(
        policy_id="no-echo",
        name="no echo",
        version=version,
        applies_to=["tool:echo"],
        enabled=True,
        rule=pol.PolicyRule(condition=f'request.args.text == "{text}"', effect="DENY"),
    )


async def echo(caller: Caller, sid: str, text: str, call_id: str) -> str:
    """Call ``echo``; ``SUCCESS`` or the error type."""
    call = adm_pb2.FunctionCall(
        call_id=call_id, name="echo", args=json.dumps({"text": text}).encode()
    )
    response = await caller.grid.CallTool(grid_pb2.ToolCall(session_id=sid, call=call))
    if response.WhichOneof("outcome") == "result":
        return "SUCCESS" if response.result.result.status == adm_pb2.SUCCESS else "FAILED"
    return str(response.error.type)


async def approve(caller: Caller, request_id: str) -> gov.AdjudicateApprovalResponse:
    return await caller.governance.AdjudicateApproval(
        gov.AdjudicateApprovalRequest(approval_request_id=request_id, decision="APPROVE")
    )


async def test_165_171_policy_changes_wait_for_a_second_administrator(world: World) -> None:
    admin, second = world.caller("admin"), world.caller("second")
    rt = world.runtime()
    await rt.start(["echo"])
    rt.on("echo", reply())
    try:
        sid = (await admin.grid.CreateSession(grid_pb2.CreateSession())).session_id
        # Item 163: a dry run validates and answers at once, no approval, nothing stored.
        dry = await admin.policy.CreatePolicy(
            pol.CreatePolicyRequest(policy=deny("stop"), dry_run=True)
        )
        assert dry.success_details.dry_run and not dry.success_details.approval_request_id, dry
        # Item 165: CreatePolicy is pending; a call the policy would deny still succeeds.
        created = await admin.policy.CreatePolicy(pol.CreatePolicyRequest(policy=deny("stop")))
        details = created.success_details
        request_id = details.approval_request_id
        assert request_id.startswith("apr-"), created
        assert any(w.startswith("PENDING_APPROVAL") for w in details.warnings)
        assert await echo(admin, sid, "stop", "c1") == "SUCCESS"
        fetched = await admin.policy.GetPolicy(pol.GetPolicyRequest(policy_id="no-echo"))
        assert fetched.error.code == "POLICY_NOT_FOUND", fetched
        # Item 171: the requester never approves its own change.
        own = await approve(admin, request_id)
        assert own.error.code == "PERMISSION_DENIED", own
        assert await echo(admin, sid, "stop", "c2") == "SUCCESS"
        # A second administrator approves: enforced on the very next call.
        done = await approve(second, request_id)
        assert done.success_details.workflow_complete, done
        assert await echo(admin, sid, "stop", "c3") == "POLICY_VIOLATION"
        assert await echo(admin, sid, "go", "c4") == "SUCCESS"
        # UpdatePolicy: pending (the old version is enforced), then applied.
        updated = await admin.policy.UpdatePolicy(
            pol.UpdatePolicyRequest(policy=deny("halt", "2.0.0"), justification="rename")
        )
        update_id = updated.success_details.approval_request_id
        assert update_id.startswith("apr-") and update_id != request_id, updated
        assert await echo(admin, sid, "stop", "c5") == "POLICY_VIOLATION"
        assert await echo(admin, sid, "halt", "c6") == "SUCCESS"
        assert (await approve(second, update_id)).success_details.workflow_complete
        assert await echo(admin, sid, "halt", "c7") == "POLICY_VIOLATION"
        assert await echo(admin, sid, "stop", "c8") == "SUCCESS"
        # DeletePolicy: pending (still enforced, deleted_at = 0), then applied.
        deleted = await admin.policy.DeletePolicy(
            pol.DeletePolicyRequest(policy_id="no-echo", justification="obsolete")
        )
        deletion = deleted.success_details
        assert deletion.approval_request_id.startswith("apr-") and deletion.deleted_at == 0
        assert await echo(admin, sid, "halt", "c9") == "POLICY_VIOLATION"
        assert (
            await approve(second, deletion.approval_request_id)
        ).success_details.workflow_complete
        assert await echo(admin, sid, "halt", "c10") == "SUCCESS"
        gone = await admin.policy.GetPolicy(pol.GetPolicyRequest(policy_id="no-echo"))
        assert gone.error.code == "POLICY_NOT_FOUND", gone
        # Audit: three submissions as GOVERNANCE_APPROVAL_REQUEST, none applied directly.
        events = world.running.host.audit.events()
        submitted = [
            e.metadata.get("operation")
            for e in events
            if e.event_type == "GOVERNANCE_APPROVAL_REQUEST" and e.metadata.get("operation")
        ]
        assert submitted == ["CreatePolicy", "UpdatePolicy", "DeletePolicy"]
    finally:
        await rt.close()
