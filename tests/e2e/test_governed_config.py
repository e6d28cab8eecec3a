"""Governed configuration and budgets on a real Host over TLS (SPEC §3.11, §3.13, §3.15, C-38).

A sensitive configuration change waits for a second platform operator, with the old value in
force meanwhile, and then applies live (a rate limit the gateway enforces at once); a budget
approved as a ``BUDGET_V1`` artifact is held at admission. Two platform operators of tenant
``ops`` (role ``operator``, assigned platform-wide) govern; a client and a scripted Runtime of
tenant ``acme`` call ``echo``. The ``aesp config`` commands run as separate processes.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import grpc.aio
import pytest

from aesp.certs import DevPki, init_dev_pki, issue_into
from aesp.core.config import CostConfig, HostConfig, TlsConfig
from aesp.core.control import PLATFORM_PERMISSION, AccessConfig
from aesp.core.rbac import RoleDefinition
from aesp.proto.altar.adm.v1 import adm_pb2
from aesp.proto.altar.aesp.v1 import configuration_pb2 as cfg
from aesp.proto.altar.aesp.v1 import configuration_pb2_grpc, governance_pb2_grpc, host_pb2_grpc
from aesp.proto.altar.aesp.v1 import governance_pb2 as gov
from aesp.proto.altar.grid.v1 import grid_pb2
from aesp.server.app import RunningHost, start_host
from aesp.server.tls import channel_credentials
from aesp.testing.harness import write_manifest
from tests.e2e.scripted_runtime import ScriptedRuntime, reply

ROOT = Path(__file__).resolve().parents[2]
ECHO = {
    "name": "echo",
    "description": "Echo a text.",
    "security_classification": "PUBLIC",
    "parameters": {"type": "OBJECT", "properties": {"text": {"type": "STRING"}}},
}
TENANT_RPCS = (
    "GetConfigValue",
    "SetConfigValue",
    "GetConfigHistory",
    "ListConfigKeys",
    "RollbackConfig",
)
ACCESS = AccessConfig(
    roles=(
        RoleDefinition("tool-user", ("tool:*:invoke",)),
        RoleDefinition(
            "tenant-admin", (*(f"aesp:config:{r}" for r in TENANT_RPCS), "tool:*:invoke")
        ),
        RoleDefinition(
            "operator", ("aesp:config:*", "aesp:governance:*", "aesp:cost:*", PLATFORM_PERMISSION)
        ),
    ),
    group_roles={"certificate:client": ("tenant-admin",), "certificate:runtime": ("tool-user",)},
)
OPERATOR = "spiffe://aesp.local/tenant/ops/client/operator"
SECOND = "spiffe://aesp.local/tenant/ops/client/second"
CLI_TIMEOUT_S = 60  # interpreter start-up plus one RPC


@dataclass
class Caller:
    """One client certificate's stubs."""

    config: configuration_pb2_grpc.EnterpriseConfigurationServiceStub
    governance: governance_pb2_grpc.EnterpriseGovernanceServiceStub
    grid: host_pb2_grpc.GridClientServiceStub


@dataclass
class World:
    running: RunningHost
    pki: DevPki
    channels: list[grpc.aio.Channel] = field(default_factory=list[grpc.aio.Channel])

    @property
    def target(self) -> str:
        return f"localhost:{self.running.client_port}"

    def caller(self, name: str) -> Caller:
        cert, key = self.pki.client(name)
        creds = channel_credentials(self.pki.ca.read_bytes(), cert.read_bytes(), key.read_bytes())
        channel = grpc.aio.secure_channel(self.target, creds)
        self.channels.append(channel)
        return Caller(
            configuration_pb2_grpc.EnterpriseConfigurationServiceStub(channel),
            governance_pb2_grpc.EnterpriseGovernanceServiceStub(channel),
            host_pb2_grpc.GridClientServiceStub(channel),
        )

    def runtime(self) -> ScriptedRuntime:
        cert, key = self.pki.runtime("acme")
        pems = (self.pki.ca.read_bytes(), cert.read_bytes(), key.read_bytes())
        return ScriptedRuntime(f"localhost:{self.running.runtime_port}", pems, runtime_id="rt")

    def events(self, event_type: str) -> list[Any]:
        return [e for e in self.running.host.audit.events() if e.event_type == event_type]

    async def cli(self, *args: str) -> tuple[int, str, str]:
        """``python -m aesp.cli_config config ARGS`` without blocking the Host's event loop."""
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "aesp.cli_config",
            "config",
            *args,
            "--target",
            self.target,
            "--pki",
            str(self.pki.directory),
            cwd=ROOT,
            env={k: v for k, v in os.environ.items() if k != "AESP_API_KEY"},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(), CLI_TIMEOUT_S)
        assert proc.returncode is not None
        return proc.returncode, out.decode(), err.decode()


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    pki = init_dev_pki(tmp_path / "pki", tenant="acme", runtimes=("acme",), clients=("admin",))
    issue_into(pki.directory, "client", "operator", tenant="ops")
    issue_into(pki.directory, "client", "second", tenant="ops")
    config = HostConfig(
        manifest_path=write_manifest(tmp_path / "manifest.json", [ECHO]),
        client_listen="127.0.0.1:0",
        runtime_listen="127.0.0.1:0",
        data_dir=tmp_path / "data",
        tls=TlsConfig(ca=pki.ca, cert=pki.host_cert, key=pki.host_key),
        cost=CostConfig(price_per_call=0.01),  # a call costs exactly one cent
    )
    running = await start_host(config, access=ACCESS)
    control = running.host.control
    for operator in (OPERATOR, SECOND):  # platform-wide: they decide requests of any tenant
        await control.roles.set_assignment(operator, tenant_id="", roles=("operator",))
    await control.roles_changed()
    handle = World(running, pki)
    try:
        yield handle
    finally:
        for channel in handle.channels:
            await channel.close()
        await running.stop(grace=0.2)


async def echo(caller: Caller, sid: str, call_id: str) -> str:
    """Call ``echo``; ``SUCCESS`` or the error code."""
    call = adm_pb2.FunctionCall(call_id=call_id, name="echo", args=b'{"text": "x"}')
    response = await caller.grid.CallTool(grid_pb2.ToolCall(session_id=sid, call=call))
    if response.WhichOneof("outcome") == "result":
        return "SUCCESS" if response.result.result.status == adm_pb2.SUCCESS else "FAILED"
    return str(response.error.type)


async def adjudicate(
    caller: Caller, request_id: str, tenant: str
) -> gov.AdjudicateApprovalResponse:
    return await caller.governance.AdjudicateApproval(
        gov.AdjudicateApprovalRequest(
            approval_request_id=request_id, decision="APPROVE", tenant_id=tenant
        )
    )


async def test_a_sensitive_rate_limit_waits_for_a_second_operator_then_applies_live(
    world: World,
) -> None:
    operator, second, admin = (
        world.caller("operator"),
        world.caller("second"),
        world.caller("admin"),
    )
    rt = world.runtime()
    await rt.start(["echo"])
    rt.on("echo", reply())
    rate = await operator.config.SetConfigValue(
        cfg.SetConfigValueRequest(
            key="gateway.principal_rate_per_s", value="0.01", data_type="JSON"
        )
    )
    assert rate.success_details.version == 1, rate  # not sensitive: applied at once
    pending = await operator.config.SetConfigValue(
        cfg.SetConfigValueRequest(
            key="gateway.principal_burst", value="3", sensitive=True, justification="tighten"
        )
    )
    details = pending.success_details
    assert details.approval_request_id.startswith("apr-"), pending
    assert details.version == 0 and not details.HasField("value")  # the file's value stays
    request_id = details.approval_request_id
    (submitted,) = [
        e
        for e in world.events("GOVERNANCE_APPROVAL_REQUEST")
        if e.metadata.get("approval_request_id") == request_id
    ]
    assert (submitted.principal_id, submitted.metadata["new_value"]) == (OPERATOR, "***")
    running = await operator.config.GetConfigValue(
        cfg.GetConfigValueRequest(key="gateway.principal_burst")
    )
    assert running.success_details.value == "200"  # old value still in force
    sid = (await admin.grid.CreateSession(grid_pb2.CreateSession())).session_id
    assert [await echo(admin, sid, f"a{i}") for i in range(4)] == ["SUCCESS"] * 4
    own = await adjudicate(operator, request_id, "*")
    assert own.error.code == "PERMISSION_DENIED", own  # separation of duties
    assert "separation of duties" in own.error.message
    approved = await adjudicate(second, request_id, "*")
    assert approved.success_details.final_status == "APPROVED", approved
    after = [await echo(admin, sid, f"b{i}") for i in range(4)]
    assert after == ["SUCCESS", "SUCCESS", "SUCCESS", "RATE_LIMIT_EXCEEDED"]
    history = await operator.config.GetConfigHistory(
        cfg.GetConfigHistoryRequest(key="gateway.principal_burst")
    )
    (version,) = history.success_details.items
    assert (version.value.value, version.approval_request_id) == ("3", request_id)
    assert version.value.updated_by == OPERATOR
    (update,) = world.events("CONFIGURATION_UPDATE")[-1:]
    assert update.metadata["approval_request_id"] == request_id
    await rt.close()


async def test_an_approved_budget_refuses_calls_over_it(world: World) -> None:
    operator, second, admin = (
        world.caller("operator"),
        world.caller("second"),
        world.caller("admin"),
    )
    rt = world.runtime()
    await rt.start(["echo"])
    rt.on("echo", reply())
    budget = {"budget_id": "b-gov", "amount": 0.02, "auto_shutdown": True, "name": "tight"}
    asked = await operator.governance.RequestApproval(
        gov.RequestApprovalRequest(
            artifact_type="BUDGET_V1",
            artifact_data=json.dumps(budget).encode(),
            justification="cap acme",
            required_approvers=["role:operator"],
            tenant_id="acme",
        )
    )
    request_id = asked.success_details.approval_request_id
    assert request_id, asked
    sid = (await admin.grid.CreateSession(grid_pb2.CreateSession())).session_id
    assert await echo(admin, sid, "free") == "SUCCESS"  # no budget yet
    approved = await adjudicate(second, request_id, "acme")
    assert approved.success_details.final_status == "APPROVED", approved
    stored = await world.running.host.cost.get_budget("b-gov", tenant_id="acme")
    assert stored is not None and (stored.amount_micros, stored.hard_limit) == (20_000, True)
    assert [await echo(admin, sid, f"c{i}") for i in range(3)] == [
        "SUCCESS",
        "SUCCESS",
        "QUOTA_EXCEEDED",
    ]
    (created,) = world.events("BUDGET_CREATE")
    assert (created.resource, created.metadata["approval_request_id"]) == (
        "budget:b-gov",
        request_id,
    )
    await rt.close()


async def test_the_config_cli_sets_reads_lists_and_rolls_back(world: World) -> None:
    code, out, err = await world.cli("set", "app.mode", "fast", "--name", "admin", "--reason", "go")
    assert code == 0, err
    assert "applied: app.mode = fast (version 1)" in out
    code, out, err = await world.cli("set", "app.mode", "slow", "--name", "admin")
    assert code == 0, err
    code, out, err = await world.cli("get", "app.mode", "--name", "admin", "--json")
    assert code == 0, err
    assert json.loads(out)["value"] == "slow" and json.loads(out)["version"] == 2
    code, out, err = await world.cli("rollback", "app.mode", "1", "--name", "admin")
    assert code == 0, err
    assert "applied: app.mode = fast (version 3)" in out
    code, out, err = await world.cli("history", "app.mode", "--name", "admin")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["VERSION", "VALUE", "CHANGED"]
    assert [line.split()[:2] for line in lines[1:]] == [["3", "fast"], ["2", "slow"], ["1", "fast"]]
    code, out, err = await world.cli("list", "--prefix", "app.", "--name", "admin", "--json")
    assert code == 0, err
    assert [(v["key"], v["value"]) for v in json.loads(out)] == [("app.mode", "fast")]
    # A sensitive set by an operator waits for approval and says so.
    code, out, err = await world.cli(
        "set", "limits.default_timeout_ms", "9000", "--sensitive", "--name", "operator"
    )
    assert code == 0, err
    assert "pending approval: request apr-" in out
    code, out, err = await world.cli("get", "limits.default_timeout_ms", "--name", "admin")
    assert code == 0, err
    assert "30000" in out
    code, out, err = await world.cli("set", "limits.default_timeout_ms", "1", "--name", "admin")
    assert code == 1
    assert "PERMISSION_DENIED" in err
