"""Budgets enforced at admission, metering and the cost service on a real Host (SPEC §3.13,
§3.19 step 7, C-37, checklist 184-185 and §4.18).

Everything is real: the Host's gRPC servers with TLS 1.3 and client certificates, the SQLite
Cost port under ``data_dir``, the audit log, and a scripted Runtime over mutual TLS, so each
test sees exactly which calls reached a Runtime. The rate card charges 0.01 USD per call and
nothing else, so a call's maximum cost equals its actual cost and "room for 100 calls" is
exact. Budgets are created over the wire with ``CreateBudget``.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from aesp.certs import DevPki, init_dev_pki, issue_into
from aesp.core.config import CostConfig, GatewayConfig, GovernanceConfig, HostConfig, TlsConfig
from aesp.core.control import AccessConfig
from aesp.core.ids import now_ms
from aesp.core.rbac import RoleDefinition
from aesp.proto.altar.aesp.v1 import cost_pb2 as cp
from aesp.proto.altar.aesp.v1 import cost_pb2_grpc
from aesp.proto.altar.grid.v1 import grid_pb2
from aesp.server.app import start_host
from aesp.testing.harness import HostHandle, write_manifest
from tests.e2e.grid._grid import CONTRACTS, FAST_LIMITS, GridClient, events, fc, success
from tests.e2e.scripted_runtime import Chunk, ScriptedRuntime, chunks, never, reply

ROOT = Path(__file__).resolve().parents[2]
PRICE = CostConfig(price_per_call=0.01)  # a call costs exactly one cent, at most and at least
ACCESS = AccessConfig(
    roles=(
        RoleDefinition("cost-admin", ("aesp:cost:*", "tool:*:invoke")),
        RoleDefinition("tool-user", ("tool:*:invoke",)),
    ),
    group_roles={"certificate:client": ("cost-admin",), "certificate:runtime": ("tool-user",)},
    group_clearance={"certificate:client": "RESTRICTED", "certificate:runtime": "RESTRICTED"},
)
# 200 concurrent calls must meet the budget, not the per-principal rate limit.
ROOMY_GATEWAY = GatewayConfig(
    principal_rate_per_s=5000.0, principal_burst=5000, tenant_rate_per_s=5000.0, tenant_burst=5000
)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> DevPki:
    directory = tmp_path_factory.mktemp("budget-pki")
    made = init_dev_pki(directory, runtimes=("example",), clients=("demo",))
    issue_into(directory, "client", "globex-admin", tenant="globex")
    return made


@asynccontextmanager
async def budget_host(directory: Path, pki: DevPki) -> AsyncIterator[HostHandle]:
    """A Host pricing calls with :data:`PRICE`; its files live in ``directory`` (restartable)."""
    directory.mkdir(parents=True, exist_ok=True)
    config = HostConfig(
        manifest_path=write_manifest(directory / "manifest.json", CONTRACTS),
        client_listen="127.0.0.1:0",
        runtime_listen="127.0.0.1:0",
        data_dir=directory / "data",
        tls=TlsConfig(ca=pki.ca, cert=pki.host_cert, key=pki.host_key),
        limits=FAST_LIMITS,
        gateway=ROOMY_GATEWAY,
        cost=PRICE,
        # Budgets in force at once here; approval: tests/e2e/test_governed_budget.py.
        governance=GovernanceConfig(budget_changes="direct"),
    )
    running = await start_host(config, access=ACCESS)
    try:
        yield HostHandle(running, pki, config)
    finally:
        await running.stop(grace=0.2)


class Caller:
    """One client certificate's GRID and cost stubs."""

    def __init__(self, handle: HostHandle, name: str) -> None:
        self.grid = GridClient(handle.client_target, handle.client_pem(name))
        self.cost = cost_pb2_grpc.EnterpriseCostManagementServiceStub(self.grid.channel)

    async def budget(self, amount: float, **fields: object) -> cp.BudgetDetails:
        request = cp.CreateBudgetRequest(budget=cp.BudgetDefinition(amount=amount, **fields))
        response = await self.cost.CreateBudget(request)
        assert response.WhichOneof("response_type") == "success_details", response
        return response.success_details

    async def close(self) -> None:
        await self.grid.close()


@pytest.fixture
async def host(tmp_path: Path, pki: DevPki) -> AsyncIterator[HostHandle]:
    async with budget_host(tmp_path / "host", pki) as handle:
        yield handle


@pytest.fixture
async def caller(host: HostHandle) -> AsyncIterator[Caller]:
    c = Caller(host, "demo")
    yield c
    await c.close()


@pytest.fixture
async def runtime(host: HostHandle) -> AsyncIterator[ScriptedRuntime]:
    rt = ScriptedRuntime(host.runtime_target, host.runtime_pem("example"))
    await rt.start(["echo", "count", "sleep_ms"])
    yield rt
    await rt.close()


async def figures(handle: HostHandle, budget_id: str) -> tuple[int, int]:
    """(spent, reserved) micros of the budget now, once the Host's settlements have landed."""
    await handle.running.host.metering.drain()
    status = await handle.running.host.cost.status(budget_id, now_ms=now_ms())
    assert status is not None
    return status.spent_micros, status.reserved_micros


def quota_denials(handle: HostHandle) -> list[str]:
    return [
        e.resource
        for e in events(handle, "AUTHORIZATION_DENIED")
        if e.metadata.get("code") == "QUOTA_EXCEEDED"
    ]


async def test_item_185_199_200_concurrent_calls_against_room_for_100_run_exactly_100(
    host: HostHandle, caller: Caller, runtime: ScriptedRuntime
) -> None:
    runtime.on("echo", reply(delay_s=0.05))  # keep the admitted calls in flight together
    budget = (await caller.budget(1.00, budget_id="b-hundred", auto_shutdown=True)).budget
    ledger = host.running.host.cost
    session = await caller.grid.session()
    highest, running = 0, True

    async def watch() -> None:  # what the ledger shows while the calls race
        nonlocal highest
        while running:
            status = await ledger.status(budget.budget_id, now_ms=now_ms())
            assert status is not None
            highest = max(highest, status.spent_micros + status.reserved_micros)
            await asyncio.sleep(0.002)

    watcher = asyncio.create_task(watch())
    answers = await asyncio.gather(
        *(
            caller.grid.call(session, fc("echo", {"text": f"t{i}"}), deadline_s=60)
            for i in range(200)
        )
    )
    running = False
    await watcher
    ran = [a for a in answers if a.WhichOneof("outcome") == "result"]
    refused = [a.error for a in answers if a.WhichOneof("outcome") == "error"]
    assert (len(ran), len(refused)) == (100, 100)
    assert len(runtime.calls) == 100  # the refused hundred never reached the Runtime
    assert {e.type for e in refused} == {"QUOTA_EXCEEDED"}
    assert all(
        e.retry_allowed and e.retry_after_ms > 0 and "b-hundred" in e.message for e in refused
    )
    assert highest <= 1_000_000, f"the ledger showed {highest} micros against a limit of 1000000"
    assert await figures(host, "b-hundred") == (1_000_000, 0)
    assert len(quota_denials(host)) == 100  # each refusal audited, AUTHORIZATION_DENIED
    [exceeded] = events(host, "BUDGET_EXCEEDED")
    assert (exceeded.resource, exceeded.tenant_id) == ("budget:b-hundred", "default")
    usage = await host.running.host.cost.usage(
        tenant_id="default", resource_types=["API_CALL"], limit=1000
    )
    assert len(usage.items) == 100  # item 195: every completed call is metered


async def test_item_199_a_soft_budget_only_alerts(
    host: HostHandle, caller: Caller, runtime: ScriptedRuntime
) -> None:
    await caller.budget(0.03, budget_id="b-soft", auto_shutdown=False, alert_thresholds=["50%"])
    session = await caller.grid.session()
    for i in range(5):
        answer = await caller.grid.call(session, fc("echo", {"text": f"s{i}"}))
        assert answer.WhichOneof("outcome") == "result", answer
    assert len(runtime.calls) == 5 and not quota_denials(host)
    assert await figures(host, "b-soft") == (50_000, 0)  # 166% of the budget: only reported
    alerts = [e.metadata["threshold"] for e in events(host, "BUDGET_THRESHOLD_ALERT")]
    assert alerts == ["50%", "100%"] and not events(host, "BUDGET_EXCEEDED")


async def test_item_198_thresholds_are_audited_once_per_period_across_a_restart(
    tmp_path: Path, pki: DevPki
) -> None:
    async def calls(handle: HostHandle, count: int) -> list[str]:
        caller = Caller(handle, "demo")
        rt = ScriptedRuntime(handle.runtime_target, handle.runtime_pem("example"))
        await rt.start(["echo"])
        session = await caller.grid.session()
        for i in range(count):
            assert (await caller.grid.call(session, fc("echo", {"text": str(i)}))).HasField(
                "result"
            )
        await handle.running.host.metering.drain()
        await rt.close()
        await caller.close()
        return [e.metadata["threshold"] for e in events(handle, "BUDGET_THRESHOLD_ALERT")]

    async with budget_host(tmp_path / "h", pki) as first:
        caller = Caller(first, "demo")
        await caller.budget(0.10, budget_id="b-alerts", alert_thresholds=["50%", "80%"])
        await caller.close()
        assert await calls(first, 6) == ["50%"]  # 60%
    async with budget_host(tmp_path / "h", pki) as second:  # same files, empty memory
        assert await calls(second, 3) == ["80%"]  # 90%: 50% is not raised again
        assert await figures(second, "b-alerts") == (90_000, 0)


async def test_a_failed_call_releases_its_reservation_and_a_dispatched_one_is_charged(
    host: HostHandle, caller: Caller, runtime: ScriptedRuntime
) -> None:
    await caller.budget(0.02, budget_id="b-two", auto_shutdown=True)
    session = await caller.grid.session()
    # Refused after admission (no Runtime serves `orphan`): released, nothing spent.
    orphan = await caller.grid.call(session, fc("orphan", {"x": "y"}))
    assert orphan.error.type == "UNSUPPORTED_TOOL"
    assert await figures(host, "b-two") == (0, 0)
    # Dispatched and timed out: the Runtime may have worked, so it is charged.
    runtime.next_call(never())
    timed_out = await caller.grid.call(session, fc("sleep_ms", {"ms": 1}), timeout_ms=100)
    assert timed_out.error.type == "TIMEOUT"
    assert await figures(host, "b-two") == (10_000, 0)
    assert (await caller.grid.call(session, fc("echo", {"text": "last"}))).HasField("result")
    refused = await caller.grid.call(session, fc("echo", {"text": "one too many"}))
    assert refused.error.type == "QUOTA_EXCEEDED"
    assert len(runtime.calls) == 2


async def test_a_streamed_call_is_admitted_and_settled(
    host: HostHandle, caller: Caller, runtime: ScriptedRuntime
) -> None:
    await caller.budget(0.01, budget_id="b-stream", auto_shutdown=True)
    runtime.on("count", chunks([Chunk(0, b"1"), Chunk(1, b"2", is_final=True)]))
    session = await caller.grid.session()
    streamed = await caller.grid.stream(session, fc("count", {"n": 2}))
    assert streamed[-1].is_final and await figures(host, "b-stream") == (10_000, 0)
    refused = await caller.grid.stream(session, fc("count", {"n": 2}))
    assert [c.error.type for c in refused] == ["QUOTA_EXCEEDED"]
    assert len(runtime.calls) == 1


async def test_governed_local_dispatch_reserves_at_authorisation_and_settles_at_log(
    host: HostHandle, caller: Caller
) -> None:
    await caller.budget(0.02, budget_id="b-local", auto_shutdown=True)
    session = await caller.grid.session()
    call = fc("echo", {"text": "local"})
    first = await caller.grid.authorize(session, call)
    assert first.status == grid_pb2.AuthorizeToolCallResponse.APPROVED, first.error
    assert await figures(host, "b-local") == (0, 10_000)  # held, not yet spent
    sha = first.execution_context["args_sha256"]
    logged = await caller.grid.log(
        session, first.invocation_id, success(call, b'"local"'), args_sha256=sha
    )
    assert not logged.HasField("error"), logged.error
    assert await figures(host, "b-local") == (10_000, 0)  # settled at LogToolResult
    second = await caller.grid.authorize(session, fc("echo", {"text": "unused"}))
    assert second.status == grid_pb2.AuthorizeToolCallResponse.APPROVED
    third = await caller.grid.authorize(session, fc("echo", {"text": "over"}))
    assert third.status == grid_pb2.AuthorizeToolCallResponse.DENIED
    assert third.error.type == "QUOTA_EXCEEDED"
    destroyed = await caller.grid.stub.DestroySession(
        grid_pb2.DestroySession(session_id=session, force=True)
    )
    assert destroyed.destroyed, destroyed
    assert await figures(host, "b-local") == (10_000, 0)  # the unused authorisation gave it back
    records = await host.running.host.cost.usage(tenant_id="default")
    assert {r.metadata["mode"] for r in records.items} == {"governed_local"}


async def test_usage_report_tenant_costs_forecast_and_invoice_over_the_wire(
    host: HostHandle, caller: Caller, runtime: ScriptedRuntime
) -> None:
    await caller.budget(5.0, budget_id="b-report", alert_thresholds=["80%"])
    session = await caller.grid.session()
    for i in range(3):
        assert (await caller.grid.call(session, fc("echo", {"text": str(i)}))).HasField("result")
    await host.running.host.metering.drain()
    report = (
        await caller.cost.GetUsageReport(cp.GetUsageReportRequest(aggregation="DAILY"))
    ).success_details
    by_type = {b.resource_type: b for b in report.buckets}
    assert (by_type["API_CALL"].event_count, by_type["API_CALL"].quantity) == (3, 3.0)
    assert by_type["CPU"].unit == "seconds" and by_type["NETWORK"].unit == "bytes"
    assert report.total_cost == pytest.approx(0.03) and report.currency == "USD"
    costs = await caller.cost.GetTenantCosts(cp.GetTenantCostsRequest(include_forecast=True))
    details = costs.success_details
    assert details.tenant_id == "default" and details.total_cost == pytest.approx(0.03)
    assert dict(details.cost_by_resource_type) == pytest.approx(
        {"API_CALL": 0.03, "CPU": 0.0, "NETWORK": 0.0}
    )
    [status] = details.budgets
    assert (status.budget_id, status.spent, status.reserved) == (
        "b-report",
        pytest.approx(0.03),
        0.0,
    )
    assert details.forecast.method == "linear" and details.forecast.forecast_cost >= 0
    forecast = await caller.cost.GetCostForecast(cp.GetCostForecastRequest(aggregation="WEEKLY"))
    assert forecast.success_details.points and forecast.success_details.currency == "USD"
    invoice = (await caller.cost.GenerateInvoice(cp.GenerateInvoiceRequest())).success_details
    assert invoice.invoice_id.startswith("INV-") and invoice.total == pytest.approx(0.03)
    listed = (await caller.cost.ListBudgets(cp.ListBudgetsRequest())).success_details
    assert [d.budget.budget_id for d in listed.items] == ["b-report"]
    assert listed.items[0].status.spent == pytest.approx(0.03)


async def test_item_184_another_tenants_budgets_are_denied_or_not_found(
    host: HostHandle, caller: Caller
) -> None:
    await caller.budget(1.0, budget_id="b-default")
    globex = Caller(host, "globex-admin")
    try:
        listing = await globex.cost.ListBudgets(cp.ListBudgetsRequest(tenant_id="default"))
        assert listing.error.code == "TENANT_ACCESS_DENIED"
        report = await globex.cost.GetUsageReport(cp.GetUsageReportRequest(tenant_id="default"))
        assert report.error.code == "TENANT_ACCESS_DENIED"
        alerts = await globex.cost.SetBudgetAlerts(
            cp.SetBudgetAlertsRequest(budget_id="b-default", alert_thresholds=["10%"])
        )
        assert alerts.error.code == "NOT_FOUND" and alerts.error.tenant_id == "globex"
        create = await globex.cost.CreateBudget(
            cp.CreateBudgetRequest(budget=cp.BudgetDefinition(amount=1, tenant_id="default"))
        )
        assert create.error.code == "TENANT_ACCESS_DENIED"
        own = (await globex.cost.ListBudgets(cp.ListBudgetsRequest())).success_details
        assert list(own.items) == []
    finally:
        await globex.close()
    budget = await host.running.host.cost.get_budget("b-default", tenant_id="default")
    assert budget is not None and budget.alert_thresholds == ()  # untouched


async def test_cli_budgets_and_usage(
    host: HostHandle, caller: Caller, runtime: ScriptedRuntime
) -> None:
    async def cli(*args: str) -> tuple[int, str, str]:
        credentials = [
            "--target",
            host.client_target,
            "--pki",
            str(host.pki.directory),
            "--name",
            "demo",
        ]
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "aesp.cli_cost",
            *args,
            *credentials,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=ROOT,
        )
        out, err = await asyncio.wait_for(process.communicate(), 60)
        return process.returncode or 0, out.decode(), err.decode()

    code, out, err = await cli(
        "budgets", "create", "--id", "b-cli", "--amount", "0.01", "--hard", "--alert", "50%"
    )
    assert code == 0, err
    assert "b-cli" in out and "hard: calls are refused at 100%" in out
    session = await caller.grid.session()
    assert (await caller.grid.call(session, fc("echo", {"text": "x"}))).HasField("result")
    await host.running.host.metering.drain()
    code, out, err = await cli("budgets", "list", "--json")
    [listed] = json.loads(out)
    assert (listed["budget_id"], listed["spent"], listed["hard_limit"]) == ("b-cli", 0.01, True)
    code, out, err = await cli("budgets", "status", "b-cli")
    assert code == 0 and "EXCEEDED" in out and "100.0%" in out
    code, out, err = await cli("usage", "--group-by", "tool")
    assert code == 0 and "API_CALL" in out and "echo" in out and "total: 0.01 USD" in out
    code, out, err = await cli("budgets", "status", "b-nope")
    assert code == 1 and "NOT_FOUND" in err
