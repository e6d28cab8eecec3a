"""EnterpriseGovernanceService end to end: a contract is promoted, approved by a second
administrator and callable at run time without a restart (SPEC §3.9, §3.11, C-10; items 167,
171, 172, 175, 176, 179).

A real Host (TLS 1.3, development PKI, gateway, the local SQLite profile) serves the service on
its client port. Two platform operators of tenant ``ops`` govern contracts (contracts are shared
by every tenant, so their approval is a platform decision); a client and a scripted Runtime of
tenant ``acme`` call and serve tools. The promotion and the approval run through the
``aesp contracts``/``aesp approvals`` commands as separate processes; the refusals through the
generated stubs.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from aesp.certs import init_dev_pki, issue_into
from aesp.core.config import HostConfig, TlsConfig
from aesp.core.control import PLATFORM_PERMISSION, AccessConfig
from aesp.core.rbac import RoleDefinition
from aesp.proto.altar.adm.v1 import adm_pb2
from aesp.proto.altar.aesp.v1 import governance_pb2 as gov
from aesp.proto.altar.aesp.v1 import host_pb2, host_pb2_grpc
from aesp.proto.altar.grid.v1 import grid_pb2
from aesp.server.app import start_host
from aesp.testing.harness import write_manifest
from tests.e2e.governance_world import World
from tests.e2e.scripted_runtime import ScriptedRuntime, reply

ECHO = {
    "name": "echo",
    "description": "Echo a text.",
    "contract_version": "1.0.0",
    "security_classification": "PUBLIC",
    "parameters": {"type": "OBJECT", "properties": {"text": {"type": "STRING"}}},
    "return_type": {"type": "STRING"},
}
GREET = {
    "name": "greet",
    "description": "Greet someone by name.",
    "parameters": {
        "type": "OBJECT",
        "properties": {"who": {"type": "STRING", "description": "Who to greet."}},
        "required": ["who"],
    },
}
ACCESS = AccessConfig(
    roles=(
        RoleDefinition("tool-user", ("tool:*:invoke",)),
        RoleDefinition("platform-operator", ("aesp:governance:*", PLATFORM_PERMISSION)),
    ),
    group_roles={"certificate:client": ("tool-user",), "certificate:runtime": ("tool-user",)},
)
OPERATOR = "spiffe://aesp.local/tenant/ops/client/operator"
SECOND = "spiffe://aesp.local/tenant/ops/client/second"


@asynccontextmanager
async def open_world(tmp_path: Path) -> AsyncIterator[World]:
    """A Host serving ECHO, with two platform operators of tenant ``ops``."""
    pki = init_dev_pki(tmp_path / "pki", tenant="acme", runtimes=("acme",), clients=("user",))
    issue_into(pki.directory, "client", "operator", tenant="ops")
    issue_into(pki.directory, "client", "second", tenant="ops")
    config = HostConfig(
        manifest_path=write_manifest(tmp_path / "manifest.json", [ECHO]),
        client_listen="127.0.0.1:0",
        runtime_listen="127.0.0.1:0",
        data_dir=tmp_path / "data",
        tls=TlsConfig(ca=pki.ca, cert=pki.host_cert, key=pki.host_key),
    )
    running = await start_host(config, access=ACCESS)
    control = running.host.control
    for operator in (OPERATOR, SECOND):
        await control.roles.set_assignment(operator, tenant_id="ops", roles=("platform-operator",))
    await control.roles_changed()
    handle = World(running, pki, [])
    try:
        yield handle
    finally:
        for channel in handle.channels:
            await channel.close()
        await handle.running.stop(grace=0.2)


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async with open_world(tmp_path) as handle:
        yield handle


async def call(
    grid: host_pb2_grpc.GridClientServiceStub,
    session_id: str,
    name: str,
    args: dict[str, Any],
    call_id: str,
) -> host_pb2.ToolCallResponse:
    function_call = adm_pb2.FunctionCall(call_id=call_id, name=name, args=json.dumps(args).encode())
    return await grid.CallTool(grid_pb2.ToolCall(session_id=session_id, call=function_call))


async def contracts_update(rt: ScriptedRuntime, name: str) -> list[str]:
    """Wait for the Host's ContractsUpdate naming ``name``; the names it lists."""
    for _ in range(100):
        for message in rt.messages:
            if (
                message.WhichOneof("kind") == "contracts"
                and name in message.contracts.available_contracts
            ):
                return list(message.contracts.available_contracts)
        await asyncio.sleep(0.05)
    raise AssertionError(f"no ContractsUpdate with {name}: {rt.messages}")


async def test_172_176_a_promoted_contract_is_approved_and_callable_without_restart(
    world: World, tmp_path: Path
) -> None:
    rt = await world.runtime().start(["echo"])
    try:
        rt.on("greet", reply(lambda args: f"Hello, {args['who']}!"))
        grid = host_pb2_grpc.GridClientServiceStub(world.channel("user"))
        session = await grid.CreateSession(grid_pb2.CreateSession())
        sid = session.session_id
        # (1) Promote an ADM declaration and submit it (SPEC §3.9 steps 4-5).
        source = tmp_path / "greet.json"
        source.write_text(json.dumps(GREET), encoding="utf-8")
        code, out, err = await world.cli(
            "contracts", "promote", str(source), "--classification", "PUBLIC", "--risk", "LOW",
            "--approvers", SECOND, "--justification", "greeting service", "--json",
            *world.as_pki("operator"),
        )  # fmt: skip
        assert code == 0, err
        opened = json.loads(out)
        rid = opened["approval_request_id"]
        assert (opened["status"], opened["artifact_id"]) == ("PENDING", "greet@1.0.0")
        assert opened["pending_approvers"] == [SECOND]
        # (2) Item 171: nothing is applied while PENDING; the tool is not callable (item 167).
        pending = await call(grid, sid, "greet", {"who": "Ada"}, "c1")
        assert pending.error.type == "UNSUPPORTED_TOOL", pending
        # (3) Item 176: the requester cannot approve its own request.
        own = await world.governance("operator").AdjudicateApproval(
            gov.AdjudicateApprovalRequest(
                approval_request_id=rid, decision="APPROVE", tenant_id="*"
            )
        )
        assert own.error.code == "PERMISSION_DENIED", own
        assert own.error.details["reason"] == "SEPARATION_OF_DUTIES"
        assert own.error.principal_id == OPERATOR
        # (4) The second administrator finds it waiting for them, and approves it: APPROVED,
        # workflow complete (item 172).
        code, out, err = await world.cli(
            "approvals", "list", "--approver", SECOND, "--tenant", "*", "--json",
            *world.as_pki("second"),
        )  # fmt: skip
        assert code == 0, err
        [listed] = json.loads(out)
        assert (listed["approval_request_id"], listed["requester_id"]) == (rid, OPERATOR)
        assert listed["artifact_digest"] == opened["artifact_digest"]
        code, out, err = await world.cli(
            "approvals", "approve", rid, "--tenant", "*", "--comment", "reviewed", "--json",
            *world.as_pki("second"),
        )  # fmt: skip
        assert code == 0, err
        decided = json.loads(out)
        assert (decided["final_status"], decided["workflow_complete"]) == ("APPROVED", True)
        # (5) ACTIVE in the running Host's manifest, approval fields set by the server.
        active = world.running.host.manifest.current.active("greet")
        assert active is not None and active.approved_by == SECOND and active.approved_at > 0
        # (6) The Runtime already connected is told, fulfils it, and the call goes through.
        assert "greet" in await contracts_update(rt, "greet")
        fulfilled = await rt.fulfil(["greet"])
        assert list(fulfilled.fulfilled_tools) == ["greet"], fulfilled
        done = await call(grid, sid, "greet", {"who": "Ada"}, "c2")
        assert done.result.result.status == adm_pb2.SUCCESS, done
        assert json.loads(done.result.result.content) == "Hello, Ada!"
        # (7) Every step is audited (items 170, 175), the refusal too.
        [request_event] = world.events("GOVERNANCE_APPROVAL_REQUEST")
        assert (request_event.principal_id, request_event.outcome) == (OPERATOR, "SUCCESS")
        [decision] = [
            e for e in world.events("GOVERNANCE_APPROVAL_DECISION") if e.outcome == "SUCCESS"
        ]
        assert decision.principal_id == SECOND and decision.metadata["final_status"] == "APPROVED"
        assert decision.metadata["comments"] == "reviewed"
        [change] = world.events("CONTRACT_STATE_CHANGE")
        assert (change.resource, change.metadata["approved_by"]) == ("contract:greet@1.0.0", SECOND)
        denied = [
            e for e in world.events("AUTHORIZATION_DENIED") if e.action == "AdjudicateApproval"
        ]
        assert [(e.principal_id, e.metadata["code"]) for e in denied] == [
            (OPERATOR, "PERMISSION_DENIED")
        ]
        # (8) The history shows the decision.
        history = await world.governance("second").GetApprovalHistory(
            gov.GetApprovalHistoryRequest(approval_request_id=rid, tenant_id="*")
        )
        [item] = history.success_details.items
        assert (item.status, [d.approver_id for d in item.decisions]) == ("APPROVED", [SECOND])
    finally:
        await rt.close()


async def test_179_an_in_flight_call_finishes_on_the_version_it_started_with(world: World) -> None:
    rt = await world.runtime().start(["echo"])
    rt.default = reply(lambda args: args["text"])
    try:
        grid = host_pb2_grpc.GridClientServiceStub(world.channel("user"))
        sid = (await grid.CreateSession(grid_pb2.CreateSession())).session_id
        # Version 2.0.0 returns an INTEGER; the Runtime keeps answering with the text (a STRING),
        # so only a call checked against version 1.0.0 can succeed.
        v2 = {**ECHO, "contract_version": "2.0.0", "return_type": {"type": "INTEGER"}}
        operator, second = world.governance("operator"), world.governance("second")
        opened = await operator.RequestApproval(
            gov.RequestApprovalRequest(
                artifact_type="TOOL_CONTRACT_V1",
                artifact_data=json.dumps(v2).encode(),
                tenant_id="*",
                required_approvers=[SECOND],
            )
        )
        rid = opened.success_details.approval_request_id
        assert rid, opened
        # Item 179: until approved, version 1.0.0 keeps serving.
        first = await call(grid, sid, "echo", {"text": "one"}, "e1")
        assert first.result.result.status == adm_pb2.SUCCESS, first
        rt.next_call(reply(lambda args: args["text"], delay_s=0.6))
        in_flight = asyncio.create_task(call(grid, sid, "echo", {"text": "two"}, "e2"))
        await rt.wait_calls(2)
        approved = await second.AdjudicateApproval(
            gov.AdjudicateApprovalRequest(
                approval_request_id=rid, decision="APPROVE", tenant_id="*"
            )
        )
        assert approved.success_details.final_status == "APPROVED", approved
        now_active = world.running.host.manifest.current.active("echo")
        assert now_active is not None and now_active.contract_version == "2.0.0"
        finished = await in_flight
        assert finished.result.result.status == adm_pb2.SUCCESS, finished  # checked against 1.0.0
        after = await call(grid, sid, "echo", {"text": "three"}, "e3")
        assert after.error.type == "TOOL_EXECUTION_FAILED", after  # checked against 2.0.0
        digests = [e.metadata["contract_digest"] for e in world.events("TOOL_INVOCATION_START")]
        assert digests[0] == digests[1] != digests[2]
    finally:
        await rt.close()
