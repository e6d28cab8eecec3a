"""The contract lifecycle after ACTIVE, end to end: ACTIVE → DEPRECATED → RETIRED, each step
approved by a second operator, applied at run time and kept across a restart (DESIGN §7,
SPEC §3.9: only ACTIVE is executable).

The Host, its operators and the scripted Runtime are those of tests/e2e/test_governance.py.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from aesp.core.contracts import ContractStatus
from aesp.proto.altar.adm.v1 import adm_pb2
from aesp.proto.altar.aesp.v1 import governance_pb2 as gov
from aesp.proto.altar.aesp.v1 import host_pb2
from aesp.proto.altar.grid.v1 import grid_pb2
from aesp.server.app import start_host
from tests.e2e.governance_world import World
from tests.e2e.scripted_runtime import reply
from tests.e2e.test_governance import ACCESS, ECHO, SECOND, call, open_world


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async with open_world(tmp_path) as handle:
        yield handle


async def _step(world: World, verb: str, version: str = "1.0.0") -> str:
    """``aesp contracts <verb> echo`` by the operator, approved by the second operator."""
    code, out, err = await world.cli(
        "contracts", verb, "echo", "--contract-version", version, "--reason", "use echo2",
        "--approvers", SECOND, "--json", *world.as_pki("operator"),
    )  # fmt: skip
    assert code == 0, err
    opened = json.loads(out)
    assert opened["artifact_id"] == f"echo@{version}#{verb}"
    assert opened["status"] == "PENDING"
    return str(opened["approval_request_id"])


async def _approve(world: World, rid: str) -> None:
    decided = await world.governance("second").AdjudicateApproval(
        gov.AdjudicateApprovalRequest(approval_request_id=rid, decision="APPROVE", tenant_id="*")
    )
    assert decided.success_details.final_status == "APPROVED", decided


def _status(world: World) -> ContractStatus:
    held = world.running.host.manifest.current.get("echo")
    assert held is not None
    return held.approval_status


async def test_a_contract_is_deprecated_then_retired_through_approvals(world: World) -> None:
    rt = await world.runtime().start(["echo"])
    rt.default = reply(lambda args: args["text"])
    try:
        grid = world.grid("user")
        sid = (await grid.CreateSession(grid_pb2.CreateSession())).session_id
        ok = await call(grid, sid, "echo", {"text": "before"}, "l1")
        assert ok.result.result.status == adm_pb2.SUCCESS, ok
        before = await grid.ListTools(host_pb2.ListToolsRequest(session_id=sid))
        assert "echo" in [t.name for t in before.tools]
        # RETIRE needs DEPRECATED first: refused at request time, nothing opened.
        premature = await world.governance("operator").RequestApproval(
            gov.RequestApprovalRequest(
                artifact_type="TOOL_CONTRACT_V1",
                artifact_data=json.dumps(
                    {"lifecycle": "RETIRE", "name": "echo", "contract_version": "1.0.0"}
                ).encode(),
                tenant_id="*",
                required_approvers=[SECOND],
            )
        )
        assert premature.error.code == "INVALID_STATE", premature
        assert "needs it DEPRECATED" in premature.error.message
        # A deprecation of a version the Host does not hold is refused too.
        code, _, err = await world.cli(
            "contracts", "deprecate", "echo", "--contract-version", "9.0.0",
            *world.as_pki("operator"),
        )  # fmt: skip
        assert code == 1 and "INVALID_STATE" in err and "is at version 1.0.0" in err
        # DEPRECATE: pending changes nothing; approved, calls are refused with the reason and
        # never reach the Runtime, while an in-flight call finishes (C-10).
        rid = await _step(world, "deprecate")
        assert _status(world) is ContractStatus.ACTIVE
        still = await call(grid, sid, "echo", {"text": "pending"}, "l2")
        assert still.result.result.status == adm_pb2.SUCCESS, still
        rt.next_call(reply(lambda args: args["text"], delay_s=0.6))
        in_flight = asyncio.create_task(call(grid, sid, "echo", {"text": "flying"}, "l3"))
        await rt.wait_calls(3)
        await _approve(world, rid)
        assert _status(world) is ContractStatus.DEPRECATED
        finished = await in_flight
        assert finished.result.result.status == adm_pb2.SUCCESS, finished
        refused = await call(grid, sid, "echo", {"text": "after"}, "l4")
        assert refused.error.type == "UNSUPPORTED_TOOL", refused
        assert "is DEPRECATED" in refused.error.message
        assert len(rt.calls) == 3
        listed = await grid.ListTools(host_pb2.ListToolsRequest(session_id=sid))
        assert "echo" not in [t.name for t in listed.tools]
        # RETIRE from DEPRECATED; RETIRED is terminal, an older or equal version cannot return.
        await _approve(world, await _step(world, "retire"))
        assert _status(world) is ContractStatus.RETIRED
        again = await world.governance("operator").RequestApproval(
            gov.RequestApprovalRequest(
                artifact_type="TOOL_CONTRACT_V1",
                artifact_data=json.dumps(ECHO).encode(),
                tenant_id="*",
                required_approvers=[SECOND],
            )
        )
        assert again.error.code == "INVALID_STATE" and "RETIRED" in again.error.message
        changes = [
            (e.resource, e.metadata["approval_status"])
            for e in world.events("CONTRACT_STATE_CHANGE")
        ]
        assert changes == [
            ("contract:echo@1.0.0", "DEPRECATED"),
            ("contract:echo@1.0.0", "RETIRED"),
        ]
    finally:
        await rt.close()


async def test_lifecycle_steps_survive_a_restart(world: World, tmp_path: Path) -> None:
    await _approve(world, await _step(world, "deprecate"))
    assert _status(world) is ContractStatus.DEPRECATED
    config = world.running.host.config
    await world.running.stop(grace=0.2)
    # The static manifest still says ACTIVE; the approval store moves it to DEPRECATED again.
    restarted = await start_host(
        replace(config, client_listen="127.0.0.1:0", runtime_listen="127.0.0.1:0"),
        access=ACCESS,
    )
    world.running = restarted  # the fixture stops this one
    held = restarted.host.manifest.current.get("echo")
    assert held is not None and held.approval_status is ContractStatus.DEPRECATED
