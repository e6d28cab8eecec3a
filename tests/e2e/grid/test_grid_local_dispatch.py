"""Governed local dispatch: AuthorizeToolCall and LogToolResult (checklist 113-116, 118-123)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import pytest

from aesp.certs import DevPki
from aesp.proto.altar.adm.v1 import adm_pb2
from aesp.proto.altar.grid.v1 import grid_pb2
from aesp.testing.harness import HostHandle
from tests.e2e.grid._grid import (
    FAST_LIMITS,
    GridClient,
    assert_error,
    events,
    eventually,
    fc,
    grid_host,
    success,
)
from tests.e2e.scripted_runtime import ScriptedRuntime

Auth = grid_pb2.AuthorizeToolCallResponse
Log = grid_pb2.LogToolResultResponse


async def _approved(
    client: GridClient, session: str, call: adm_pb2.FunctionCall, cid: str = ""
) -> Auth:
    response = await client.authorize(session, call, correlation_id=cid)
    assert response.status == Auth.APPROVED, response.error
    return response


# ----------------------------------------------------------------------------- items 113-116


async def test_item_113_authorised_valid_call_is_approved_with_ttl(
    host: HostHandle, client: GridClient, runtime: ScriptedRuntime
) -> None:
    session = await client.session()
    first = await _approved(client, session, fc("add", {"a": 1, "b": 2}), "wf-113")
    second = await _approved(client, session, fc("add", {"a": 1, "b": 2}), "wf-113b")
    assert first.invocation_id and second.invocation_id
    assert first.invocation_id != second.invocation_id
    assert first.correlation_id == "wf-113"
    assert first.authorization_ttl_ms == 300_000
    assert first.execution_context["args_sha256"].startswith("sha256:")
    assert not first.HasField("error")
    assert runtime.calls == []  # local dispatch: the Host never executes it


async def test_item_114_invalid_args_denied_schema_violation(
    host: HostHandle, client: GridClient, runtime: ScriptedRuntime
) -> None:
    session = await client.session()
    response = await client.authorize(
        session, fc("add", {"a": "one", "b": 2}), correlation_id="wf-114"
    )
    assert response.status == Auth.DENIED
    assert_error(response.error, "SCHEMA_VIOLATION", retry=False, correlation_id="wf-114")
    assert response.correlation_id == "wf-114"
    assert response.error.details["field"] == "args.a"
    assert runtime.calls == []


async def test_item_115_unauthorised_request_denied_and_audited(
    host: HostHandle, client: GridClient, runtime: ScriptedRuntime
) -> None:
    session = await client.session()
    other = GridClient(host.client_target, host.client_pem("other"))
    response = await other.authorize(session, fc("add", {"a": 1, "b": 2}), correlation_id="wf-115")
    assert response.status == Auth.DENIED
    assert_error(response.error, "PERMISSION_DENIED", retry=False, correlation_id="wf-115")
    [denial] = events(host, "AUTHORIZATION_DENIED", correlation_id="wf-115")
    assert denial.outcome == "DENIED"
    assert denial.metadata["code"] == "PERMISSION_DENIED"
    assert denial.metadata["reason"]
    assert runtime.calls == []
    await other.close()


async def test_item_116_approval_logged_with_principal_tool_args_and_rationale(
    host: HostHandle, client: GridClient
) -> None:
    session = await client.session()
    approved = await _approved(client, session, fc("add", {"a": 1, "b": 2}), "wf-116")
    [record] = events(host, "AUTHORIZATION_SUCCESS", correlation_id="wf-116")
    assert record.principal_id.endswith("/client/demo")
    assert record.resource == "add"
    assert record.metadata["args_sha256"] == approved.execution_context["args_sha256"]
    assert record.metadata["invocation_id"] == approved.invocation_id
    assert record.outcome == "SUCCESS"


async def test_item_116_denial_logged_with_principal_tool_args_and_rationale(
    host: HostHandle, client: GridClient
) -> None:
    session = await client.session()
    other = GridClient(host.client_target, host.client_pem("other"))
    await other.authorize(session, fc("add", {"a": 1, "b": 2}), correlation_id="wf-116d")
    [record] = events(host, "AUTHORIZATION_DENIED", correlation_id="wf-116d")
    await other.close()
    assert record.principal_id.endswith("/client/other")
    assert record.resource == "add"
    assert record.metadata["reason"]
    assert record.metadata["args_sha256"].startswith("sha256:")


# ----------------------------------------------------------------------------- item 118 (C-15)


async def test_item_118_only_approvals_carry_invocation_id_and_ttl(
    host: HostHandle, client: GridClient, runtime: ScriptedRuntime
) -> None:
    session = await client.session()
    approved = await _approved(client, session, fc("add", {"a": 1, "b": 2}))
    assert approved.invocation_id and approved.authorization_ttl_ms > 0
    denials = [
        await client.authorize(session, fc("add", {"a": "x"})),
        await client.authorize("sess-unknown", fc("add", {"a": 1, "b": 2})),
        await client.authorize(session, None),
    ]
    for denied in denials:
        # Never the proto3 zero value: a decoder that skips the status still sees no approval.
        assert denied.status == Auth.DENIED
        assert denied.invocation_id == ""
        assert denied.authorization_ttl_ms == 0
        assert denied.HasField("error")
    assert runtime.calls == []


# ----------------------------------------------------------------------------- items 119-123


async def test_item_119_valid_log_is_logged_with_correlation_id(
    host: HostHandle, client: GridClient
) -> None:
    session = await client.session()
    call = fc("add", {"a": 1, "b": 2})
    auth = await _approved(client, session, call, "wf-119")
    logged = await client.log(
        session,
        auth.invocation_id,
        success(call, b"3"),
        args_sha256=auth.execution_context["args_sha256"],
        correlation_id="wf-119",
    )
    assert logged.status == Log.LOGGED
    assert logged.correlation_id == "wf-119"
    assert not logged.HasField("error")
    [record] = events(host, "TOOL_INVOCATION_COMPLETE", correlation_id="wf-119")
    assert record.metadata["invocation_id"] == auth.invocation_id
    assert record.metadata["mode"] == "governed_local"


async def test_item_120_unknown_invocation_id_rejected_and_security_violation_logged(
    host: HostHandle, client: GridClient
) -> None:
    session = await client.session()
    call = fc("add", {"a": 1, "b": 2})
    logged = await client.log(session, "inv-forged", success(call, b"3"), correlation_id="wf-120")
    assert logged.status == Log.REJECTED
    assert_error(logged.error, "PROTOCOL_VIOLATION", retry=False, correlation_id="wf-120")
    [violation] = events(host, "SECURITY_VIOLATION", correlation_id="wf-120")
    assert violation.outcome == "DENIED"


async def test_item_120_invocation_id_of_another_session_rejected(
    host: HostHandle, client: GridClient
) -> None:
    mine, theirs = await client.session(), await client.session()
    call = fc("add", {"a": 1, "b": 2})
    auth = await _approved(client, theirs, call)
    digest = auth.execution_context["args_sha256"]
    stolen = await client.log(
        mine, auth.invocation_id, success(call, b"3"), args_sha256=digest, correlation_id="wf-120b"
    )
    assert stolen.status == Log.REJECTED
    assert_error(stolen.error, "PROTOCOL_VIOLATION", retry=False, correlation_id="wf-120b")
    assert events(host, "SECURITY_VIOLATION", correlation_id="wf-120b")
    # The stranger did not burn the authorisation: its own session can still log it.
    own = await client.log(theirs, auth.invocation_id, success(call, b"3"), args_sha256=digest)
    assert own.status == Log.LOGGED


async def test_item_121_replayed_log_rejected(host: HostHandle, client: GridClient) -> None:
    session = await client.session()
    call = fc("add", {"a": 1, "b": 2})
    auth = await _approved(client, session, call)
    digest = auth.execution_context["args_sha256"]
    first = await client.log(session, auth.invocation_id, success(call, b"3"), args_sha256=digest)
    replay = await client.log(session, auth.invocation_id, success(call, b"3"), args_sha256=digest)
    assert first.status == Log.LOGGED
    assert replay.status == Log.REJECTED
    assert_error(
        replay.error, "PROTOCOL_VIOLATION", retry=False, correlation_id=client.last_correlation_id
    )


MISMATCHES = {
    "call_id": lambda call, digest: (
        adm_pb2.ToolResult(call_id="other", name=call.name, status=adm_pb2.SUCCESS, content=b"3"),
        digest,
    ),
    "name": lambda call, digest: (
        adm_pb2.ToolResult(call_id=call.call_id, name="echo", status=adm_pb2.SUCCESS, content=b"3"),
        digest,
    ),
    "args_hash": lambda call, digest: (success(call, b"3"), "sha256:" + "0" * 64),
    "args_hash_missing": lambda call, digest: (success(call, b"3"), ""),
}


@pytest.mark.parametrize("kind", sorted(MISMATCHES))
async def test_item_122_result_not_bound_to_the_authorised_call_rejected(
    host: HostHandle, client: GridClient, kind: str
) -> None:
    session = await client.session()
    call = fc("add", {"a": 1, "b": 2})
    auth = await _approved(client, session, call)
    result, digest = MISMATCHES[kind](call, auth.execution_context["args_sha256"])
    logged = await client.log(
        session, auth.invocation_id, result, args_sha256=digest, correlation_id="wf-122"
    )
    assert logged.status == Log.REJECTED
    assert_error(logged.error, "PROTOCOL_VIOLATION", retry=False, correlation_id="wf-122")
    assert await eventually(lambda: events(host, "SECURITY_VIOLATION", correlation_id="wf-122"))


async def test_item_123_log_after_correlation_timeout_rejected(
    tmp_path: Path, grid_pki: DevPki
) -> None:
    limits = replace(FAST_LIMITS, correlation_timeout_ms=300)
    async with grid_host(tmp_path, grid_pki, limits=limits) as handle:
        client = GridClient(handle.client_target, handle.client_pem("demo"))
        session = await client.session()
        call = fc("add", {"a": 1, "b": 2})
        auth = await _approved(client, session, call)
        await asyncio.sleep(0.35)
        late = await client.log(
            session,
            auth.invocation_id,
            success(call, b"3"),
            args_sha256=auth.execution_context["args_sha256"],
        )
        assert late.status == Log.REJECTED
        assert_error(
            late.error, "PROTOCOL_VIOLATION", retry=False, correlation_id=client.last_correlation_id
        )
        assert "deadline" in late.error.message
        await client.close()
