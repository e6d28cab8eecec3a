"""Governed budget changes on a real Host over TLS (SPEC §3.11, §3.13, item 171).

The Host runs with the default ``[governance] budget_changes = "approval"``: ``CreateBudget``
validates the budget and answers a pending ``approval_request_id``; no call is held to the
budget until a second administrator approves it over ``EnterpriseGovernanceService``, and the
requester cannot approve its own request. Two client certificates of tenant ``default``
(``demo`` and ``second``) hold ``aesp:cost:*`` and ``aesp:governance:*``; a call costs 0.01 USD.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from aesp.certs import init_dev_pki
from aesp.core.config import CostConfig, GatewayConfig, HostConfig, TlsConfig
from aesp.core.control import AccessConfig
from aesp.core.ids import now_ms
from aesp.core.rbac import RoleDefinition
from aesp.proto.altar.aesp.v1 import cost_pb2 as cp
from aesp.proto.altar.aesp.v1 import cost_pb2_grpc, governance_pb2_grpc
from aesp.proto.altar.aesp.v1 import governance_pb2 as gov
from aesp.server.app import start_host
from aesp.testing.harness import HostHandle, write_manifest
from tests.e2e.grid._grid import CONTRACTS, FAST_LIMITS, GridClient, fc
from tests.e2e.scripted_runtime import ScriptedRuntime, reply

ACCESS = AccessConfig(
    roles=(
        RoleDefinition("admin", ("aesp:cost:*", "aesp:governance:*", "tool:*:invoke")),
        RoleDefinition("tool-user", ("tool:*:invoke",)),
    ),
    group_roles={"certificate:client": ("admin",), "certificate:runtime": ("tool-user",)},
    group_clearance={"certificate:client": "RESTRICTED", "certificate:runtime": "RESTRICTED"},
)


class Caller:
    """One client certificate's GRID, cost and governance stubs."""

    def __init__(self, handle: HostHandle, name: str) -> None:
        self.grid = GridClient(handle.client_target, handle.client_pem(name))
        self.cost = cost_pb2_grpc.EnterpriseCostManagementServiceStub(self.grid.channel)
        self.governance = governance_pb2_grpc.EnterpriseGovernanceServiceStub(self.grid.channel)

    async def approve(self, request_id: str) -> gov.AdjudicateApprovalResponse:
        return await self.governance.AdjudicateApproval(
            gov.AdjudicateApprovalRequest(approval_request_id=request_id, decision="APPROVE")
        )


@pytest.fixture
async def host(tmp_path: Path) -> AsyncIterator[HostHandle]:
    pki = init_dev_pki(tmp_path / "pki", runtimes=("example",), clients=("demo", "second"))
    config = HostConfig(  # [governance] left at its default: budget_changes = "approval"
        manifest_path=write_manifest(tmp_path / "manifest.json", CONTRACTS),
        client_listen="127.0.0.1:0",
        runtime_listen="127.0.0.1:0",
        data_dir=tmp_path / "data",
        tls=TlsConfig(ca=pki.ca, cert=pki.host_cert, key=pki.host_key),
        limits=FAST_LIMITS,
        gateway=GatewayConfig(principal_rate_per_s=1000.0, principal_burst=1000),
        cost=CostConfig(price_per_call=0.01),
    )
    assert config.governance.budget_changes == "approval"
    running = await start_host(config, access=ACCESS)
    try:
        yield HostHandle(running, pki, config)
    finally:
        await running.stop(grace=0.2)


async def test_create_budget_waits_for_a_second_administrator(host: HostHandle) -> None:
    demo, second = Caller(host, "demo"), Caller(host, "second")
    rt = ScriptedRuntime(host.runtime_target, host.runtime_pem("example"))
    await rt.start(["echo", "count", "sleep_ms"])
    rt.on("echo", reply())
    try:
        definition = cp.BudgetDefinition(budget_id="b-two", amount=0.02, auto_shutdown=True)
        created = await demo.cost.CreateBudget(
            cp.CreateBudgetRequest(budget=definition, justification="cap echo")
        )
        assert created.WhichOneof("response_type") == "success_details", created
        details = created.success_details
        request_id = details.approval_request_id
        assert request_id.startswith("apr-"), created
        assert details.budget.budget_id == "b-two" and not details.active
        # Pending: nothing stored, calls are not limited yet (3 calls > 0.02 USD).
        ledger = host.running.host.cost
        assert await ledger.get_budget("b-two", tenant_id="default") is None
        session = await demo.grid.session()
        for i in range(3):
            answer = await demo.grid.call(session, fc("echo", {"text": f"p{i}"}))
            assert answer.WhichOneof("outcome") == "result", answer
        # The requester never approves its own request (item 171).
        own = await demo.approve(request_id)
        assert own.error.code == "PERMISSION_DENIED", own
        assert await ledger.get_budget("b-two", tenant_id="default") is None
        # A second administrator approves: the budget is in force for the next admission.
        done = await second.approve(request_id)
        assert done.success_details.workflow_complete, done
        stored = await ledger.get_budget("b-two", tenant_id="default")
        assert stored is not None and stored.hard_limit
        assert stored.amount_micros == 20_000
        await host.running.host.metering.drain()
        status = await ledger.status("b-two", now_ms=now_ms())
        assert status is not None and status.in_force
        outcomes = []
        for i in range(3):
            answer = await demo.grid.call(session, fc("echo", {"text": f"a{i}"}))
            outcomes.append(
                "SUCCESS" if answer.WhichOneof("outcome") == "result" else answer.error.type
            )
        # Room for two calls of 0.01 (spend before approval was charged to no budget).
        assert outcomes == ["SUCCESS", "SUCCESS", "QUOTA_EXCEEDED"], outcomes
        # Audit: submitted as GOVERNANCE_APPROVAL_REQUEST, stored by the enactment.
        events = host.running.host.audit.events()
        submitted = [
            e.metadata.get("approval_request_id")
            for e in events
            if e.event_type == "GOVERNANCE_APPROVAL_REQUEST"
            and e.metadata.get("operation") == "CreateBudget"
        ]
        assert submitted == [request_id]
        assert [e.resource for e in events if e.event_type == "BUDGET_CREATE"] == ["budget:b-two"]
    finally:
        await rt.close()
        await demo.grid.close()
        await second.grid.close()
