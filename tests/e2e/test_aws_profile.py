"""The ``aws`` profile end to end: real Hosts over mutual TLS whose every port runs on AWS
services (moto in server mode, plus the CloudTrail Lake and AppConfig fakes), issue 5.

* Two Hosts sharing one deployment behave as one: a session created on one is used on the
  other, and a budget is enforced across both with no overspend.
* An AWS outage: calls keep being governed from the snapshots, audit events wait in the local
  durable log and reach CloudTrail Lake once AWS is back, none lost or duplicated.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from aesp.certs import DevPki, init_dev_pki
from aesp.core.audit_export import read_events
from aesp.core.config import (
    CostConfig,
    GatewayConfig,
    GovernanceConfig,
    HostConfig,
    ProfileConfig,
    TlsConfig,
)
from aesp.core.control import AccessConfig
from aesp.core.ids import now_ms
from aesp.core.rbac import RoleDefinition
from aesp.proto.altar.aesp.v1 import cost_pb2 as cp
from aesp.proto.altar.aesp.v1 import cost_pb2_grpc
from aesp.proto.altar.grid.v1 import grid_pb2
from aesp.server.app import RunningHost, start_host
from aesp.testing.harness import HostHandle, write_manifest
from tests.aws_doubles.cloud import FakeAws
from tests.e2e.grid._grid import CONTRACTS, FAST_LIMITS, GridClient, fc
from tests.e2e.scripted_runtime import ScriptedRuntime, reply

ACCESS = AccessConfig(
    roles=(
        RoleDefinition("admin", ("aesp:cost:*", "tool:*:invoke")),
        RoleDefinition("tool-user", ("tool:*:invoke",)),
    ),
    group_roles={"certificate:client": ("admin",), "certificate:runtime": ("tool-user",)},
    group_clearance={"certificate:client": "RESTRICTED", "certificate:runtime": "RESTRICTED"},
    refresh_interval_ms=200,
)


@pytest.fixture
def cloud() -> Iterator[FakeAws]:
    fake = FakeAws().start()
    yield fake
    fake.stop()


@dataclass
class Cluster:
    """Hosts of one deployment, with a Runtime and a client each."""

    hosts: list[HostHandle]
    runtimes: list[ScriptedRuntime]
    clients: list[GridClient]


def _config(tmp_path: Path, pki: DevPki, name: str, table: dict[str, Any]) -> HostConfig:
    return HostConfig(
        manifest_path=write_manifest(tmp_path / "manifest.json", CONTRACTS),
        client_listen="127.0.0.1:0",
        runtime_listen="127.0.0.1:0",
        data_dir=tmp_path / name,
        tls=TlsConfig(ca=pki.ca, cert=pki.host_cert, key=pki.host_key),
        limits=FAST_LIMITS,
        gateway=GatewayConfig(principal_rate_per_s=5000.0, principal_burst=5000),
        cost=CostConfig(price_per_call=0.01),
        governance=GovernanceConfig(budget_changes="direct"),
        profile=ProfileConfig(default="aws"),
        adapters={"aws": table},
    )


async def _cluster(
    stack: AsyncExitStack, tmp_path: Path, cloud: FakeAws, size: int, runtimes: int = -1
) -> Cluster:
    """``size`` Hosts of one deployment; the first ``runtimes`` get a Runtime (-1: all)."""
    pki = init_dev_pki(tmp_path / "pki", runtimes=("example",), clients=("demo",))
    table = cloud.adapter_table()
    cluster = Cluster([], [], [])
    for i in range(size):
        running: RunningHost = await start_host(
            _config(tmp_path, pki, f"host{i}", table), access=ACCESS
        )
        stack.push_async_callback(running.stop, 0.2)
        handle = HostHandle(running, pki, running.host.config)
        if runtimes < 0 or i < runtimes:
            rt = ScriptedRuntime(handle.runtime_target, handle.runtime_pem("example"))
            await rt.start(["echo"])
            rt.on("echo", reply())
            stack.push_async_callback(rt.close)
            cluster.runtimes.append(rt)
        client = GridClient(handle.client_target, handle.client_pem("demo"))
        stack.push_async_callback(client.close)
        cluster.hosts.append(handle)
        cluster.clients.append(client)
    return cluster


@pytest.fixture
async def stack() -> AsyncIterator[AsyncExitStack]:
    async with AsyncExitStack() as exits:
        yield exits


def _ok(answer: Any) -> bool:
    return answer.WhichOneof("outcome") == "result"


async def test_a_session_created_on_one_host_is_used_on_the_other(
    tmp_path: Path, cloud: FakeAws, stack: AsyncExitStack
) -> None:
    cluster = await _cluster(stack, tmp_path, cloud, 2)
    a, b = cluster.clients
    session = await a.session()
    answer = await b.call(session, fc("echo", {"text": "from A's session"}))
    assert _ok(answer), answer
    assert len(cluster.runtimes[1].calls) == 1 and not cluster.runtimes[0].calls
    # Destroyed on B, refused on A once A re-reads the shared record.
    await b.stub.DestroySession(grid_pb2.DestroySession(session_id=session))
    refused = None
    for _ in range(40):
        refused = await a.call(session, fc("echo", {"text": "after destroy"}))
        if not _ok(refused):
            break
        await asyncio.sleep(0.25)
    assert refused is not None and refused.error.type == "INVALID_SESSION", refused


async def test_a_refusal_names_runtimes_held_by_another_replica(
    tmp_path: Path, cloud: FakeAws, stack: AsyncExitStack
) -> None:
    """The runtime registry in the State port: a Host without a Runtime for the tool says that
    Runtimes of the caller's tenant serve it on another replica (and which)."""
    cluster = await _cluster(stack, tmp_path, cloud, 2, runtimes=1)
    holder = cluster.hosts[0].running.host.runtime_directory
    await holder.publish()  # what its background loop does every few seconds
    client = cluster.clients[1]
    session = await client.session()
    answer = None
    for _ in range(40):  # the first refusal starts the background read of the registry
        answer = await client.call(session, fc("echo", {"text": "here?"}))
        if answer.error.details.get("reason") == "FULFILLED_ON_OTHER_REPLICAS":
            break
        await asyncio.sleep(0.25)
    assert answer is not None and answer.error.type == "UNSUPPORTED_TOOL", answer
    assert answer.error.details["replicas"] == holder.host_id
    assert "Connect your runtimes to every Host replica" in answer.error.message
    assert not cluster.runtimes[0].calls  # a refusal reaches no Runtime
    # The holder stops: its records are withdrawn, the refusal is the plain one again.
    await cluster.hosts[0].running.stop(0.2)
    other = cluster.hosts[1].running.host.runtime_directory
    assert await other._state.runtimes("default", now_ms=now_ms()) == []  # noqa: SLF001


async def test_a_budget_is_enforced_across_two_hosts_with_no_overspend(
    tmp_path: Path, cloud: FakeAws, stack: AsyncExitStack
) -> None:
    cluster = await _cluster(stack, tmp_path, cloud, 2)
    cost = cost_pb2_grpc.EnterpriseCostManagementServiceStub(cluster.clients[0].channel)
    created = await cost.CreateBudget(
        cp.CreateBudgetRequest(
            budget=cp.BudgetDefinition(budget_id="shared", amount=1.00, auto_shutdown=True)
        )
    )
    assert created.WhichOneof("response_type") == "success_details", created
    await asyncio.sleep(0.6)  # both Hosts' budget caches refresh (refresh_interval_ms=200)
    sessions = [await client.session() for client in cluster.clients]

    async def one(i: int) -> str:
        client, session = cluster.clients[i % 2], sessions[i % 2]
        answer = await client.call(session, fc("echo", {"text": f"c{i}"}), deadline_s=60)
        return "SUCCESS" if _ok(answer) else answer.error.type

    outcomes = await asyncio.gather(*(one(i) for i in range(200)))
    # Room for exactly 100 calls of 0.01 USD in 1.00 USD, whichever Host admits them.
    assert outcomes.count("SUCCESS") == 100, sorted(set(outcomes))
    assert outcomes.count("QUOTA_EXCEEDED") == 100
    assert sum(len(rt.calls) for rt in cluster.runtimes) == 100
    for handle in cluster.hosts:
        await handle.running.host.metering.drain()
    ledger = cluster.hosts[1].running.host.cost
    status = await ledger.status("shared", now_ms=now_ms())
    assert status is not None
    assert status.spent_micros + status.reserved_micros == 1_000_000, status  # 100 x 0.01


async def test_an_aws_outage_delays_the_audit_copy_and_loses_nothing(
    tmp_path: Path, cloud: FakeAws, stack: AsyncExitStack
) -> None:
    cluster = await _cluster(stack, tmp_path, cloud, 1)
    client, rt = cluster.clients[0], cluster.runtimes[0]
    host = cluster.hosts[0].running.host
    session = await client.session()
    assert _ok(await client.call(session, fc("echo", {"text": "before"})))
    cloud.stop()
    try:
        # Governed from the snapshots: identity, roles, policies, tenants, rate limits.
        for i in range(20):
            answer = await client.call(session, fc("echo", {"text": f"during {i}"}))
            assert _ok(answer), answer
        denied = await client.call(session, fc("nope", {}))
        assert denied.error.type == "UNSUPPORTED_TOOL", denied
    finally:
        cloud.start()
    assert len(rt.calls) == 21
    arn = host.config.adapters["aws"]["audit_channel_arn"]
    local = [e["event_id"] for e in read_events(host.audit.path)]
    shipped: list[str] = []
    for _ in range(120):
        shipped = [e.id for e in cloud.cloudtrail.stored(arn)]
        if len(shipped) >= len(local):
            break
        await asyncio.sleep(0.25)
    assert sorted(shipped) == sorted(local)  # every event, once
    assert len(set(shipped)) == len(shipped)
