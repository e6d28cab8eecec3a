"""Live configuration on a real Host over TLS (SPEC §3.15, §4.19 items 201-205).

Changes land while calls run: none of them is dropped or fails because of the change, and the
calls after it see the new value. Callers use client certificates: ``admin`` administers tenant
``acme`` (every config RPC but ReadSensitive), ``operator`` is a platform operator (``ops``).
"""

from __future__ import annotations

import asyncio
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
from aesp.core.live_config import start_live_config, stop_live_config
from aesp.core.ports.config import ConfigDataType, ConfigEntry
from aesp.core.rbac import RoleDefinition
from aesp.proto.altar.adm.v1 import adm_pb2
from aesp.proto.altar.aesp.v1 import configuration_pb2 as cfg
from aesp.proto.altar.aesp.v1 import configuration_pb2_grpc, host_pb2_grpc
from aesp.proto.altar.grid.v1 import grid_pb2
from aesp.server.app import RunningHost, start_host
from aesp.server.tls import channel_credentials
from aesp.testing.harness import write_manifest
from aesp.testing.inmemory.config import InMemoryConfigStore
from tests.e2e.scripted_runtime import ScriptedRuntime, reply

ECHO = {
    "name": "echo",
    "description": "Echo a text.",
    "security_classification": "PUBLIC",
    "parameters": {"type": "OBJECT", "properties": {"text": {"type": "STRING"}}},
}
RPCS = ("GetConfigValue", "SetConfigValue", "GetConfigHistory", "ListConfigKeys")
ACCESS = AccessConfig(
    roles=(
        RoleDefinition("tenant-admin", (*(f"aesp:config:{r}" for r in RPCS), "tool:*:invoke")),
        RoleDefinition("tool-user", ("tool:*:invoke",)),
        RoleDefinition("operator", ("aesp:config:*", "tool:*:invoke", PLATFORM_PERMISSION)),
    ),
    group_roles={"certificate:client": ("tenant-admin",), "certificate:runtime": ("tool-user",)},
)
OPERATOR = "spiffe://aesp.local/tenant/ops/client/operator"


@dataclass
class Caller:
    config: configuration_pb2_grpc.EnterpriseConfigurationServiceStub
    grid: host_pb2_grpc.GridClientServiceStub


@dataclass
class World:
    running: RunningHost
    pki: DevPki
    store: InMemoryConfigStore
    channels: list[grpc.aio.Channel] = field(default_factory=list)

    def caller(self, name: str) -> Caller:
        cert, key = self.pki.client(name)
        creds = channel_credentials(self.pki.ca.read_bytes(), cert.read_bytes(), key.read_bytes())
        channel = grpc.aio.secure_channel(f"localhost:{self.running.client_port}", creds)
        self.channels.append(channel)
        return Caller(
            configuration_pb2_grpc.EnterpriseConfigurationServiceStub(channel),
            host_pb2_grpc.GridClientServiceStub(channel),
        )

    def runtime(self) -> ScriptedRuntime:
        cert, key = self.pki.runtime("acme")
        pems = (self.pki.ca.read_bytes(), cert.read_bytes(), key.read_bytes())
        return ScriptedRuntime(f"localhost:{self.running.runtime_port}", pems, runtime_id="rt")


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    pki = init_dev_pki(tmp_path / "pki", tenant="acme", runtimes=("acme",), clients=("admin",))
    issue_into(pki.directory, "client", "operator", tenant="ops")
    config = HostConfig(
        manifest_path=write_manifest(tmp_path / "manifest.json", [ECHO]),
        client_listen="127.0.0.1:0",
        runtime_listen="127.0.0.1:0",
        data_dir=tmp_path / "data",
        tls=TlsConfig(ca=pki.ca, cert=pki.host_cert, key=pki.host_key),
    )
    running = await start_host(config, access=ACCESS)
    await running.host.control.roles.set_assignment(OPERATOR, tenant_id="ops", roles=("operator",))
    await running.host.control.roles_changed()
    store = InMemoryConfigStore()
    assert running.gateway is not None
    await start_live_config(running.host, store=store, gateway=running.gateway.gate)
    handle = World(running, pki, store)
    try:
        yield handle
    finally:
        await stop_live_config(running.host)
        for channel in handle.channels:
            await channel.close()
        await running.stop(grace=0.2)


async def echo(caller: Caller, sid: str, call_id: str) -> grid_pb2.ToolCallResponse:  # type: ignore[name-defined]
    call = adm_pb2.FunctionCall(
        call_id=call_id, name="echo", args=json.dumps({"text": "x"}).encode()
    )
    return await caller.grid.CallTool(grid_pb2.ToolCall(session_id=sid, call=call))


def status(response: object) -> str:
    if response.WhichOneof("outcome") == "result":  # type: ignore[attr-defined]
        return "SUCCESS" if response.result.result.status == adm_pb2.SUCCESS else "FAILED"  # type: ignore[attr-defined]
    return response.error.type  # type: ignore[attr-defined]


async def set_value(
    caller: Caller, key: str, value: str, **kw: object
) -> cfg.SetConfigValueResponse:
    return await caller.config.SetConfigValue(cfg.SetConfigValueRequest(key=key, value=value, **kw))  # type: ignore[arg-type]


async def test_a_timeout_change_lands_while_calls_run_and_rolls_back(world: World) -> None:
    operator, admin = world.caller("operator"), world.caller("admin")
    stream = operator.config.SubscribeToChanges(cfg.SubscribeToChangesRequest(keys=["limits.*"]))
    rt = world.runtime()
    await rt.start(["echo"])
    rt.on("echo", reply(delay_s=0.4))
    sid = (await admin.grid.CreateSession(grid_pb2.CreateSession())).session_id
    first = await set_value(operator, "limits.default_timeout_ms", "20000", justification="base")
    assert first.success_details.version == 1, first
    running = [asyncio.create_task(echo(admin, sid, f"c{i}")) for i in range(6)]
    await rt.wait_calls(6)
    changed = await set_value(operator, "limits.default_timeout_ms", "150", justification="tight")
    assert changed.success_details.version == 2, changed
    assert [status(await c) for c in running] == ["SUCCESS"] * 6  # none dropped
    assert status(await echo(admin, sid, "after")) == "TIMEOUT"  # the new value applies
    back = await operator.config.RollbackConfig(
        cfg.RollbackConfigRequest(key="limits.default_timeout_ms", target_version=1)
    )
    assert (back.success_details.version, back.success_details.value.value) == (3, "20000")
    assert status(await echo(admin, sid, "restored")) == "SUCCESS"
    history = await admin.config.GetConfigHistory(
        cfg.GetConfigHistoryRequest(key="limits.default_timeout_ms")
    )
    items = history.success_details.items
    assert [(v.value.version, v.value.value, v.rollback_of_version) for v in items] == [
        (3, "20000", 1),
        (2, "150", 0),
        (1, "20000", 0),
    ]
    events = [await asyncio.wait_for(stream.read(), 5) for _ in range(3)]
    assert [(e.old_value, e.new_value, e.changed_by) for e in events] == [
        ("", "20000", OPERATOR),
        ("20000", "150", OPERATOR),
        ("150", "20000", OPERATOR),
    ]
    assert events[1].change_reason == "tight"
    audit = [
        e for e in world.running.host.audit.events() if e.event_type.startswith("CONFIGURATION_")
    ]
    assert [(e.event_type, e.metadata["new_value"]) for e in audit] == [
        ("CONFIGURATION_UPDATE", "20000"),
        ("CONFIGURATION_UPDATE", "150"),
        ("CONFIGURATION_ROLLBACK", "20000"),
    ]
    stream.cancel()
    await rt.close()


async def test_a_lower_burst_refuses_the_fourth_call_without_failing_running_ones(
    world: World,
) -> None:
    operator, admin = world.caller("operator"), world.caller("admin")
    rt = world.runtime()
    await rt.start(["echo"])
    rt.on("echo", reply(delay_s=0.3))
    sid = (await admin.grid.CreateSession(grid_pb2.CreateSession())).session_id
    running = [asyncio.create_task(echo(admin, sid, f"r{i}")) for i in range(4)]
    await rt.wait_calls(4)
    rate = await set_value(operator, "gateway.principal_rate_per_s", "0.01", data_type="JSON")
    burst = await set_value(operator, "gateway.principal_burst", "3")
    assert rate.HasField("success_details") and burst.HasField("success_details"), (rate, burst)
    assert [status(await c) for c in running] == ["SUCCESS"] * 4
    rt.on("echo", reply())
    after = [status(await echo(admin, sid, f"b{i}")) for i in range(4)]
    assert after == ["SUCCESS", "SUCCESS", "SUCCESS", "RATE_LIMIT_EXCEEDED"]
    await rt.close()


async def test_only_platform_callers_change_host_keys_and_sensitive_values_are_masked(
    world: World,
) -> None:
    operator, admin = world.caller("operator"), world.caller("admin")
    refused = await set_value(admin, "limits.default_timeout_ms", "10")
    assert refused.error.code == "PERMISSION_DENIED", refused
    assert (
        await admin.config.GetConfigValue(
            cfg.GetConfigValueRequest(key="limits.default_timeout_ms")
        )
    ).success_details.value == "30000"
    # A sensitive set needs approval; no workflow is wired, so nothing changes.
    pending = await set_value(admin, "app.token", "s3cret", sensitive=True)
    assert pending.error.code == "FEATURE_UNAVAILABLE", pending
    # A value stored by an approved change reads masked without ReadSensitive.
    entry = ConfigEntry("acme", "app.token", "s3cret", ConfigDataType.STRING, sensitive=True)
    await world.store.set(entry, expected_version=0)
    masked = await admin.config.GetConfigValue(cfg.GetConfigValueRequest(key="app.token"))
    assert (masked.success_details.value, masked.success_details.sensitive) == ("***", True)
    shown = await operator.config.GetConfigValue(
        cfg.GetConfigValueRequest(key="app.token", tenant_id="acme")
    )
    assert shown.success_details.value == "s3cret"
    plain = await set_value(admin, "app.mode", "fast")
    assert plain.success_details.value.value == "fast"
    listed = await admin.config.ListConfigKeys(cfg.ListConfigKeysRequest(prefix="app."))
    assert [(v.key, v.value) for v in listed.success_details.items] == [
        ("app.mode", "fast"),
        ("app.token", "***"),
    ]
    bad = await set_value(admin, "app.n", "1.5", data_type="INTEGER")
    assert bad.error.code == "MALFORMED_REQUEST"
