"""GRID modes and manifest (SPEC §2.2, checklist §4.6 items 61-74), against a real Host."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from aesp.certs import DevPki
from aesp.core.config import HostConfig, TlsConfig, parse_config
from aesp.core.errors import ConfigurationError
from aesp.proto.altar.adm.v1 import adm_pb2
from aesp.proto.altar.aesp.v1 import host_pb2
from aesp.proto.altar.grid.v1 import grid_pb2
from aesp.server.app import start_host
from aesp.testing.harness import HostHandle
from tests.e2e.grid._grid import (
    CONTRACTS,
    FAST_LIMITS,
    MANIFEST_NAMES,
    GridClient,
    assert_error,
    events,
    fc,
    grid_host,
    schema,
)
from tests.e2e.scripted_runtime import ScriptedRuntime, reply

Register = grid_pb2.RegisterToolsResponse


def adm_tool(name: str, parameters: Any = None, *, raw: bytes | None = None) -> adm_pb2.Tool:
    """An ADM Tool with one declaration (``raw`` sends parameter bytes as they are)."""
    params = raw if raw is not None else json.dumps(parameters or schema(x="STRING")).encode()
    return adm_pb2.Tool(
        function_declarations=[
            adm_pb2.FunctionDeclaration(
                name=name, description=f"The {name} tool.", parameters=params
            )
        ]
    )


INVALID_TOOLS = {
    "bad_name": adm_tool("9starts-with-digit"),
    "parameters_not_object": adm_tool("not_object", {"type": "STRING"}),
    "parameters_not_json": adm_tool("not_json", raw=b"{oops"),
    "unknown_type": adm_tool(
        "unknown_type", {"type": "OBJECT", "properties": {"x": {"type": "BLOB"}}}
    ),
}


def _config(tmp_path: Path, pki: DevPki, **changes: Any) -> HostConfig:
    base = HostConfig(
        client_listen="127.0.0.1:0",
        runtime_listen="127.0.0.1:0",
        data_dir=tmp_path / "data",
        tls=TlsConfig(ca=pki.ca, cert=pki.host_cert, key=pki.host_key),
        limits=FAST_LIMITS,
    )
    return replace(base, **changes)


async def _dev_runtime(handle: HostHandle) -> ScriptedRuntime:
    rt = ScriptedRuntime(handle.runtime_target, handle.runtime_pem("example"), runtime_id="dev-rt")
    await rt.announce()
    await rt.connect()
    return rt


# ----------------------------------------------------------------------------- item 61


@pytest.mark.parametrize("compliance", ["AESP", "GRID"])
@pytest.mark.parametrize("where", ["unset", "no_such_file"])
async def test_item_061_strict_host_without_manifest_refuses_to_start_missing_manifest(
    tmp_path: Path, grid_pki: DevPki, compliance: str, where: str
) -> None:
    path = None if where == "unset" else tmp_path / "absent.json"
    config = _config(tmp_path, grid_pki, compliance=compliance, manifest_path=path)
    with pytest.raises(ConfigurationError, match="STRICT Host cannot start") as info:
        await start_host(config)
    assert info.value.code == "MISSING_MANIFEST"


INVALID_MANIFESTS = {
    "not_json": b"{manifest",
    "no_contracts": json.dumps({"manifest_version": "1.0.0", "contracts": []}).encode(),
    "bad_version": json.dumps({"manifest_version": "v1", "contracts": CONTRACTS}).encode(),
    "duplicate_names": json.dumps(
        {"manifest_version": "1.0.0", "contracts": [CONTRACTS[0], CONTRACTS[0]]}
    ).encode(),
    "invalid_schema": json.dumps(
        {
            "manifest_version": "1.0.0",
            "contracts": [{"name": "x", "description": "x", "parameters": {"type": "NOPE"}}],
        }
    ).encode(),
    "unknown_field": json.dumps(
        {"manifest_version": "1.0.0", "contracts": CONTRACTS, "extra": 1}
    ).encode(),
}


@pytest.mark.parametrize("kind", sorted(INVALID_MANIFESTS))
async def test_item_061_strict_host_with_invalid_manifest_refuses_to_start_invalid_config(
    tmp_path: Path, grid_pki: DevPki, kind: str
) -> None:
    path = tmp_path / "manifest.json"
    path.write_bytes(INVALID_MANIFESTS[kind])
    with pytest.raises(ConfigurationError, match="manifest") as info:
        await start_host(_config(tmp_path, grid_pki, manifest_path=path))
    assert info.value.code == "INVALID_CONFIG"


async def test_item_061_strict_host_loads_manifest_at_startup(
    host: HostHandle, client: GridClient
) -> None:
    session = await client.session()
    listed = await client.stub.ListTools(host_pb2.ListToolsRequest(session_id=session))
    assert sorted(t.name for t in listed.tools) == MANIFEST_NAMES
    add = next(t for t in listed.tools if t.name == "add")
    assert json.loads(add.parameters) == schema(a="INTEGER", b="INTEGER")


# ----------------------------------------------------------------------------- item 62


async def test_item_062_strict_host_rejects_register_tools_feature_unavailable(
    host: HostHandle, client: GridClient
) -> None:
    session = await client.session()
    async with await _dev_runtime(host) as rt:
        response = await rt.register([adm_tool("new_one"), adm_tool("new_two")], session_id=session)
        assert response.status == Register.FAILURE
        assert list(response.accepted_tools) == []
        assert list(response.rejected_tools) == ["new_one", "new_two"]
        assert len(response.errors) == 2
        for error in response.errors:
            assert_error(error, "FEATURE_UNAVAILABLE", retry=False)
        # Nothing was registered: not listed, not callable, nothing dispatched.
        listed = await client.stub.ListTools(host_pb2.ListToolsRequest(session_id=session))
        assert sorted(t.name for t in listed.tools) == MANIFEST_NAMES
        refused = await client.call(session, fc("new_one", {"x": "y"}))
        assert_error(
            refused.error,
            "UNSUPPORTED_TOOL",
            retry=False,
            correlation_id=client.last_correlation_id,
        )
        assert rt.calls == []
    [audit] = events(host, "TOOL_REGISTRATION")
    assert audit.outcome == "FAILURE"
    assert audit.metadata["status"] == "FAILURE"


# ----------------------------------------------------------------------------- item 63


async def test_item_063_strict_fulfil_rejects_unknown_tool_partial_success(
    host: HostHandle, client: GridClient
) -> None:
    async with await _dev_runtime(host) as rt:
        response = await rt.fulfil(["add", "not_in_manifest", "echo"], correlation_id="wf-63")
        assert response.status == grid_pb2.FulfillToolsResponse.PARTIAL_SUCCESS
        assert list(response.fulfilled_tools) == ["add", "echo"]
        assert list(response.rejected_tools) == ["not_in_manifest"]
        [error] = response.errors
        assert_error(error, "UNSUPPORTED_TOOL", retry=False, correlation_id="wf-63")
        assert response.correlation_id == "wf-63"
        # The accepted names are really fulfilled.
        rt.on("add", reply(lambda a: a["a"] + a["b"]))
        session = await client.session()
        answer = await client.call(session, fc("add", {"a": 2, "b": 3}))
        assert answer.result.result.content == b"5"


# ----------------------------------------------------------------------------- items 65-68


async def test_item_065_development_registers_all_valid_tools_success(
    dev_host: HostHandle,
) -> None:
    client = GridClient(dev_host.client_target, dev_host.client_pem("demo"))
    session = await client.session()
    async with await _dev_runtime(dev_host) as rt:
        response = await rt.register(
            [adm_tool("dyn_a"), adm_tool("dyn_b", schema(n="INTEGER"))], session_id=session
        )
        assert response.status == Register.SUCCESS
        assert list(response.accepted_tools) == ["dyn_a", "dyn_b"]
        assert list(response.rejected_tools) == []
        assert list(response.errors) == []
        assert response.session_id == session
        answer = await client.call(session, fc("dyn_b", {"n": 7}))
        assert answer.result.result.status == adm_pb2.SUCCESS
        assert [c.call.name for c in rt.calls] == ["dyn_b"]
    await client.close()


async def test_item_066_development_mixed_tools_partial_success_one_error_each(
    dev_host: HostHandle,
) -> None:
    client = GridClient(dev_host.client_target, dev_host.client_pem("demo"))
    session = await client.session()
    async with await _dev_runtime(dev_host) as rt:
        tools = [adm_tool("good_one"), *INVALID_TOOLS.values(), adm_tool("good_two")]
        response = await rt.register(tools, session_id=session)
        assert response.status == Register.PARTIAL_SUCCESS
        assert list(response.accepted_tools) == ["good_one", "good_two"]
        assert len(response.rejected_tools) == len(INVALID_TOOLS)
        assert len(response.errors) == len(response.rejected_tools)
        for error in response.errors:
            assert_error(error, "SCHEMA_VIOLATION", retry=False)
        listed = await client.stub.ListTools(host_pb2.ListToolsRequest(session_id=session))
        names = {t.name for t in listed.tools}
        assert {"good_one", "good_two"} <= names
        assert names.isdisjoint({"not_object", "not_json", "unknown_type"})
    await client.close()


async def test_item_067_development_all_invalid_tools_failure(dev_host: HostHandle) -> None:
    client = GridClient(dev_host.client_target, dev_host.client_pem("demo"))
    session = await client.session()
    async with await _dev_runtime(dev_host) as rt:
        response = await rt.register(list(INVALID_TOOLS.values()), session_id=session)
        assert response.status == Register.FAILURE
        assert list(response.accepted_tools) == []
        assert len(response.rejected_tools) == len(INVALID_TOOLS)
        assert len(response.errors) == len(INVALID_TOOLS)
        listed = await client.stub.ListTools(host_pb2.ListToolsRequest(session_id=session))
        assert sorted(t.name for t in listed.tools) == MANIFEST_NAMES
    await client.close()


async def test_item_068_every_registration_attempt_is_audited(dev_host: HostHandle) -> None:
    client = GridClient(dev_host.client_target, dev_host.client_pem("demo"))
    session = await client.session()
    async with await _dev_runtime(dev_host) as rt:
        await rt.register([adm_tool("ok_tool")], session_id=session)
        await rt.register([adm_tool("ok_two"), INVALID_TOOLS["bad_name"]], session_id=session)
        await rt.register([INVALID_TOOLS["parameters_not_json"]], session_id=session)
        await rt.register([adm_tool("orphaned")], session_id="sess-unknown")
    audited = events(dev_host, "TOOL_REGISTRATION")
    assert [e.metadata["status"] for e in audited] == [
        "SUCCESS",
        "PARTIAL_SUCCESS",
        "FAILURE",
        "FAILURE",
    ]
    assert [e.metadata["accepted"] for e in audited] == ["ok_tool", "ok_two", "", ""]
    assert all(e.principal_id.endswith("/runtime/example") for e in audited)
    assert audited[1].metadata["rejected"] and audited[1].metadata["errors"]
    await client.close()


# ----------------------------------------------------------------------------- items 69-72


async def test_item_069_dynamic_tool_visible_only_in_its_session(dev_host: HostHandle) -> None:
    client = GridClient(dev_host.client_target, dev_host.client_pem("demo"))
    mine, theirs = await client.session(), await client.session()
    async with await _dev_runtime(dev_host) as rt:
        response = await rt.register([adm_tool("private_tool")], session_id=mine)
        assert response.status == Register.SUCCESS
        listed = await client.stub.ListTools(host_pb2.ListToolsRequest(session_id=theirs))
        assert "private_tool" not in {t.name for t in listed.tools}
        refused = await client.call(theirs, fc("private_tool", {"x": "y"}))
        assert_error(
            refused.error,
            "UNSUPPORTED_TOOL",
            retry=False,
            correlation_id=client.last_correlation_id,
        )
        assert rt.calls == []
        listed = await client.stub.ListTools(host_pb2.ListToolsRequest(session_id=mine))
        assert "private_tool" in {t.name for t in listed.tools}
        answer = await client.call(mine, fc("private_tool", {"x": "y"}))
        assert answer.result.result.status == adm_pb2.SUCCESS
    await client.close()


async def test_item_070_dynamic_tools_per_session_are_capped(
    tmp_path: Path, grid_pki: DevPki
) -> None:
    limits = replace(FAST_LIMITS, max_dynamic_tools_per_session=2)
    async with grid_host(
        tmp_path, grid_pki, mode="DEVELOPMENT", compliance="GRID", limits=limits
    ) as handle:
        client = GridClient(handle.client_target, handle.client_pem("demo"))
        session, other = await client.session(), await client.session()
        async with await _dev_runtime(handle) as rt:
            first = await rt.register([adm_tool("d1"), adm_tool("d2")], session_id=session)
            assert first.status == Register.SUCCESS
            over = await rt.register([adm_tool("d3")], session_id=session)
            assert over.status == Register.FAILURE
            assert list(over.rejected_tools) == ["d3"]
            [error] = over.errors
            assert error.details["reason"] == "LIMIT"
            assert error.retry_allowed is False
            # The cap is per session.
            fresh = await rt.register([adm_tool("d3")], session_id=other)
            assert fresh.status == Register.SUCCESS
        await client.close()


async def test_item_071_registration_cannot_override_manifest_contract(
    dev_host: HostHandle,
) -> None:
    client = GridClient(dev_host.client_target, dev_host.client_pem("demo"))
    session = await client.session()
    async with await _dev_runtime(dev_host) as rt:
        response = await rt.register(
            [adm_tool("add", schema(a="STRING", b="STRING"))], session_id=session
        )
        assert response.status == Register.FAILURE
        assert list(response.rejected_tools) == ["add"]
        [error] = response.errors
        assert_error(error, "SCHEMA_VIOLATION", retry=False)
        assert error.details["reason"] == "NAME_CONFLICT"
        listed = await client.stub.ListTools(host_pb2.ListToolsRequest(session_id=session))
        [add] = [t for t in listed.tools if t.name == "add"]
        assert json.loads(add.parameters) == schema(a="INTEGER", b="INTEGER")
    await client.close()


async def test_item_072_call_to_dynamic_tool_validated_against_registered_contract(
    dev_host: HostHandle,
) -> None:
    client = GridClient(dev_host.client_target, dev_host.client_pem("demo"))
    session = await client.session()
    async with await _dev_runtime(dev_host) as rt:
        await rt.register([adm_tool("typed", schema(n="INTEGER"))], session_id=session)
        refused = await client.call(session, fc("typed", {"n": "seven"}), correlation_id="wf-72")
        assert_error(refused.error, "SCHEMA_VIOLATION", retry=False, correlation_id="wf-72")
        assert refused.error.details["field"] == "args.n"
        assert rt.calls == []
        good = fc("typed", {"n": 7})
        answer = await client.call(session, good)
        assert answer.result.result.status == adm_pb2.SUCCESS
        [received] = rt.calls
        assert received.call == good
    await client.close()


# ----------------------------------------------------------------------------- items 73-74


@pytest.mark.parametrize("mode", ["STRICT", "DEVELOPMENT"])
async def test_item_073_level_1_host_supports_both_modes(
    tmp_path: Path, grid_pki: DevPki, mode: str
) -> None:
    async with grid_host(tmp_path, grid_pki, mode=mode, compliance="GRID") as handle:
        assert handle.running.host.config.mode == mode
        client = GridClient(handle.client_target, handle.client_pem("demo"))
        async with ScriptedRuntime(handle.runtime_target, handle.runtime_pem("example")) as rt:
            await rt.start(["add"])
            session = await client.session()
            answer = await client.call(session, fc("add", {"a": 1, "b": 2}))
            assert answer.WhichOneof("outcome") == "result"
            assert len(rt.calls) == 1
        await client.close()


def test_item_074_aesp_host_refuses_development_mode() -> None:
    with pytest.raises(ConfigurationError, match="cannot run in DEVELOPMENT mode") as info:
        HostConfig(mode="DEVELOPMENT", compliance="AESP")
    assert info.value.code == "INCOMPATIBLE_MODE"
    assert info.value.remediation_steps


def test_item_074_aesp_host_refuses_development_mode_from_config_file(tmp_path: Path) -> None:
    raw = {"host": {"mode": "DEVELOPMENT", "compliance": "AESP"}}
    with pytest.raises(ConfigurationError, match="DEVELOPMENT") as info:
        parse_config(raw, base=tmp_path)
    assert info.value.code == "INCOMPATIBLE_MODE"
    # The GRID profile may run DEVELOPMENT (non-production only).
    assert parse_config({"host": {"mode": "DEVELOPMENT", "compliance": "GRID"}}, base=tmp_path)
