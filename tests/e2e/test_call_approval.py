"""Per-call approval end to end (SPEC §3.11 applied to one call, §2.3.5 PENDING, §2.12).

A real Host (TLS 1.3, development PKI, gateway, the local SQLite profile) and a scripted
Runtime of tenant ``acme``. The ``pay`` contract asks for per-call approval by the role
``call-approver``. The caller ``user`` is held; ``approver`` (holding the role) approves with
``aesp approvals approve`` in a separate process or through the governance stub; ``user``
repeats the call presenting the approval id in the ``aesp-approval-request-id`` metadata, and
it runs exactly once.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from aesp.certs import init_dev_pki, issue_into
from aesp.core.config import HostConfig, TlsConfig
from aesp.core.control import AccessConfig
from aesp.core.rbac import RoleDefinition
from aesp.proto.altar.adm.v1 import adm_pb2
from aesp.proto.altar.aesp.v1 import governance_pb2 as gov
from aesp.proto.altar.aesp.v1 import host_pb2, host_pb2_grpc
from aesp.proto.altar.grid.v1 import grid_pb2
from aesp.server.app import start_host
from aesp.testing.harness import write_manifest
from tests.e2e.governance_world import World as GovernanceWorld
from tests.e2e.scripted_runtime import reply

HEADER = "aesp-approval-request-id"
PER_CALL = {"approval": "per_call", "approvers": "role:call-approver"}


def _contract(name: str, *, streaming: bool = False, **governance: str) -> dict[str, Any]:
    return {
        "name": name,
        "description": f"The {name} tool.",
        "contract_version": "1.0.0",
        "security_classification": "PUBLIC",
        "parameters": {"type": "OBJECT", "properties": {"amount": {"type": "INTEGER"}}},
        "supports_streaming": streaming,
        "governance_metadata": {**PER_CALL, **governance},
    }


CONTRACTS = [
    _contract("pay"),
    _contract("quick", approval_ttl_ms="1000"),
    _contract("pay_stream", streaming=True),
]
ACCESS = AccessConfig(
    roles=(
        RoleDefinition("tool-user", ("tool:*:invoke",)),
        RoleDefinition("call-approver", ("aesp:governance:*",)),
    ),
    group_roles={"certificate:client": ("tool-user",), "certificate:runtime": ("tool-user",)},
)
USER = "spiffe://aesp.local/tenant/acme/client/user"
APPROVER = "spiffe://aesp.local/tenant/acme/client/approver"


class World(GovernanceWorld):
    """The governance test Host, with the approver's shortcut."""

    async def approve(self, rid: str) -> None:
        """``approver`` approves ``rid`` through the governance service."""
        decided = await self.governance("approver").AdjudicateApproval(
            gov.AdjudicateApprovalRequest(approval_request_id=rid, decision="APPROVE")
        )
        assert decided.success_details.final_status == "APPROVED", decided


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    pki = init_dev_pki(tmp_path / "pki", tenant="acme", runtimes=("acme",), clients=("user",))
    for name in ("approver", "other"):
        issue_into(pki.directory, "client", name, tenant="acme")
    config = HostConfig(
        manifest_path=write_manifest(tmp_path / "manifest.json", CONTRACTS),
        client_listen="127.0.0.1:0",
        runtime_listen="127.0.0.1:0",
        data_dir=tmp_path / "data",
        tls=TlsConfig(ca=pki.ca, cert=pki.host_cert, key=pki.host_key),
    )
    running = await start_host(config, access=ACCESS)
    control = running.host.control
    for who in (USER, APPROVER):  # the caller holds the role too: it still cannot self-approve
        await control.roles.set_assignment(who, tenant_id="acme", roles=("call-approver",))
    await control.roles_changed()
    handle = World(running, pki, [])
    try:
        yield handle
    finally:
        for channel in handle.channels:
            await channel.close()
        await running.stop(grace=0.2)


def _call(sid: str, name: str, args: dict[str, Any], call_id: str) -> grid_pb2.ToolCall:
    function_call = adm_pb2.FunctionCall(call_id=call_id, name=name, args=json.dumps(args).encode())
    return grid_pb2.ToolCall(session_id=sid, call=function_call)


async def call(
    grid: host_pb2_grpc.GridClientServiceStub,
    sid: str,
    args: dict[str, Any],
    call_id: str,
    approval: str = "",
    name: str = "pay",
) -> host_pb2.ToolCallResponse:
    metadata = ((HEADER, approval),) if approval else None
    return await grid.CallTool(_call(sid, name, args, call_id), metadata=metadata)


def held_id(response: host_pb2.ToolCallResponse) -> str:
    """The approval request id of a held call."""
    assert response.error.type == "EMERGENCY_OVERRIDE_REQUIRED", response
    assert response.error.details["reason"] == "APPROVAL_REQUIRED"
    return response.error.details["approval_request_id"]


def refused(response: host_pb2.ToolCallResponse, reason: str) -> None:
    assert (response.error.type, response.error.details["reason"]) == (
        "PERMISSION_DENIED",
        reason,
    ), response


async def session(grid: host_pb2_grpc.GridClientServiceStub) -> str:
    return (await grid.CreateSession(grid_pb2.CreateSession())).session_id


async def test_a_held_call_runs_once_after_another_principal_approves(world: World) -> None:
    rt = await world.runtime().start(["pay", "quick", "pay_stream"])
    try:
        rt.on("pay", reply(lambda args: args["amount"]))
        grid = world.grid("user")
        sid = await session(grid)
        # (1) Held: an approval request is opened, and the Runtime receives nothing.
        rid = held_id(await call(grid, sid, {"amount": 5}, "c1"))
        assert rt.calls == []
        # (2) The caller cannot approve its own call, although it holds the approver role.
        own = await world.governance("user").AdjudicateApproval(
            gov.AdjudicateApprovalRequest(approval_request_id=rid, decision="APPROVE")
        )
        assert own.error.code == "PERMISSION_DENIED", own
        assert own.error.details["reason"] == "SEPARATION_OF_DUTIES"
        # (3) Presented while PENDING: still held, with the same request.
        assert held_id(await call(grid, sid, {"amount": 5}, "c2", rid)) == rid
        # (4) The approver finds it waiting and approves it with `aesp approvals approve`.
        pki = ["--pki", str(world.pki.directory), "--name", "approver"]
        code, out, err = await world.cli(
            "approvals", "list", "--approver", APPROVER, "--json", *pki
        )
        assert code == 0, err
        [listed] = json.loads(out)
        assert (listed["approval_request_id"], listed["requester_id"]) == (rid, USER)
        code, out, err = await world.cli("approvals", "approve", rid, "--json", *pki)
        assert code == 0, err
        assert json.loads(out)["final_status"] == "APPROVED"
        # (5) Changed arguments, or another principal: refused, and the approval is not burnt.
        refused(await call(grid, sid, {"amount": 500}, "c3", rid), "APPROVAL_BINDING_MISMATCH")
        other = world.grid("other")
        refused(
            await call(other, await session(other), {"amount": 5}, "o1", rid), "APPROVAL_NOT_YOURS"
        )
        assert rt.calls == []
        # (6) The same caller repeats the same call with the id: it runs, once.
        done = await call(grid, sid, {"amount": 5}, "c4", rid)
        assert done.result.result.status == adm_pb2.SUCCESS, done
        assert json.loads(done.result.result.content) == 5
        assert len(rt.calls) == 1
        # (7) A second use is refused (also in a new session), and nothing more runs.
        refused(await call(grid, sid, {"amount": 5}, "c5", rid), "APPROVAL_ALREADY_USED")
        refused(
            await call(grid, await session(grid), {"amount": 5}, "c6", rid), "APPROVAL_ALREADY_USED"
        )
        assert len(rt.calls) == 1
        # (8) Audited: the request, the decision, every refusal, and the START with the id.
        [opened] = world.events("GOVERNANCE_APPROVAL_REQUEST")
        assert (opened.principal_id, opened.metadata["approval_request_id"]) == (USER, rid)
        assert any(
            e.principal_id == APPROVER and e.outcome == "SUCCESS"
            for e in world.events("GOVERNANCE_APPROVAL_DECISION")
        )
        [start] = [e for e in world.events("TOOL_INVOCATION_START") if e.resource == "pay"]
        assert start.metadata["approval_request_id"] == rid
        denied = [e.metadata.get("reason") for e in world.events("AUTHORIZATION_DENIED")]
        for reason in ("APPROVAL_REQUIRED", "APPROVAL_BINDING_MISMATCH", "APPROVAL_NOT_YOURS"):
            assert reason in denied
        assert denied.count("APPROVAL_ALREADY_USED") == 2
    finally:
        await rt.close()


async def test_expired_approvals_and_held_streams_are_refused(world: World) -> None:
    rt = await world.runtime().start(["pay", "quick", "pay_stream"])
    try:
        grid = world.grid("user")
        sid = await session(grid)
        rid = held_id(await call(grid, sid, {"amount": 1}, "q1", name="quick"))
        await world.approve(rid)
        await asyncio.sleep(1.1)  # quick's approval_ttl_ms is 1000
        refused(await call(grid, sid, {"amount": 1}, "q2", rid, name="quick"), "APPROVAL_EXPIRED")
        chunks = [
            c async for c in grid.CallToolStream(_call(sid, "pay_stream", {"amount": 2}, "s1"))
        ]
        [final] = chunks
        assert final.is_final and final.enhanced_error.type == "EMERGENCY_OVERRIDE_REQUIRED"
        assert final.enhanced_error.details["approval_request_id"].startswith("apr-")
        assert rt.calls == []
    finally:
        await rt.close()


async def test_governed_local_dispatch_is_pending_until_approved(world: World) -> None:
    grid = world.grid("user")
    sid = await session(grid)

    def authorize(approval: str = "", amount: int = 3) -> grid_pb2.AuthorizeToolCallRequest:
        return grid_pb2.AuthorizeToolCallRequest(
            session_id=sid,
            call=adm_pb2.FunctionCall(
                call_id="l1", name="pay", args=json.dumps({"amount": amount}).encode()
            ),
            metadata={"approval_request_id": approval} if approval else {},
        )

    pending = await grid.AuthorizeToolCall(authorize())
    assert pending.status == grid_pb2.AuthorizeToolCallResponse.PENDING, pending
    assert pending.invocation_id == "" and pending.authorization_ttl_ms == 0
    rid = pending.execution_context["approval_request_id"]
    assert pending.error.details["approval_request_id"] == rid
    await world.approve(rid)
    changed = await grid.AuthorizeToolCall(authorize(rid, amount=4))
    assert changed.status == grid_pb2.AuthorizeToolCallResponse.DENIED
    assert changed.error.details["reason"] == "APPROVAL_BINDING_MISMATCH"
    approved = await grid.AuthorizeToolCall(authorize(rid))
    assert approved.status == grid_pb2.AuthorizeToolCallResponse.APPROVED, approved
    assert approved.invocation_id and approved.authorization_ttl_ms > 0
    again = await grid.AuthorizeToolCall(authorize(rid))
    assert again.status == grid_pb2.AuthorizeToolCallResponse.DENIED
    assert again.error.details["reason"] == "APPROVAL_ALREADY_USED"
    [granted] = world.events("AUTHORIZATION_SUCCESS")
    assert granted.metadata["approval_request_id"] == rid
