"""The pipeline's approval step on a Host built by ``build_host`` (local profile, no server):
fail closed without a governance gate; held, then admitted once, with one attached."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from aesp.core.audit import MemoryAuditLog
from aesp.core.call_approvals import APPROVAL_ID_KEY
from aesp.core.config import HostConfig
from aesp.core.control import AccessConfig
from aesp.core.errors import AespError
from aesp.core.governance import Adjudication, Approver
from aesp.core.host import Host, build_host
from aesp.core.messages import CallRequest
from aesp.core.principal import Principal
from aesp.core.rbac import RoleDefinition
from aesp.testing.harness import write_manifest

PAY = {
    "name": "pay",
    "description": "Pay someone.",
    "contract_version": "1.0.0",
    "security_classification": "PUBLIC",
    "parameters": {"type": "OBJECT", "properties": {"amount": {"type": "INTEGER"}}},
    "governance_metadata": {"approval": "per_call", "approvers": "p|bob@acme"},
}
ACCESS = AccessConfig(
    roles=(RoleDefinition("tool-user", ("tool:*:invoke",)),),
    group_roles={"certificate:client": ("tool-user",)},
)
ALICE = Principal(
    principal_id="p|alice@acme",
    tenant_id="acme",
    kind="client",
    name="alice",
    groups=("certificate:client",),
)


@pytest.fixture
async def host(tmp_path: Path) -> AsyncIterator[Host]:
    config = HostConfig(
        manifest_path=write_manifest(tmp_path / "manifest.json", [PAY]),
        data_dir=tmp_path / "data",
    )
    built = await build_host(config, audit=MemoryAuditLog(), access=ACCESS)
    try:
        yield built
    finally:
        await built.stop()


async def request(host: Host, approval: str = "") -> CallRequest:
    """A call of ``pay`` in a new session of alice."""
    session = await host.pipeline.create_session(
        ALICE, ttl_seconds=60, metadata={}, correlation_id="cid"
    )
    return CallRequest(
        session_id=session.session_id,
        call_id="c1",
        name="pay",
        args_json=json.dumps({"amount": 5}).encode(),
        correlation_id="cid",
        metadata={APPROVAL_ID_KEY: approval} if approval else {},
    )


async def test_without_a_gate_the_call_is_refused_not_run(host: Host) -> None:
    assert host.pipeline.call_approvals is not None  # build_host attaches the gate
    host.pipeline.call_approvals = None  # a composition that forgot it must fail closed
    with pytest.raises(AespError, match="no governance component") as info:
        await host.pipeline.call(ALICE, await request(host))
    assert info.value.code == "CONFIGURATION_ERROR"


async def test_held_then_authorised_once_with_the_gate(host: Host) -> None:
    assert host.governance is not None
    host.pipeline.call_approvals = host.governance.calls
    with pytest.raises(AespError, match="needs approval") as held:
        await host.pipeline.authorize(ALICE, await request(host))
    rid = held.value.details[APPROVAL_ID_KEY]
    await host.governance.engine.adjudicate(
        Approver.with_roles("p|bob@acme"), "acme", Adjudication(rid, "APPROVE")
    )
    auth = await host.pipeline.authorize(ALICE, await request(host, rid))
    assert auth.invocation_id
    with pytest.raises(AespError, match="already used"):
        await host.pipeline.authorize(ALICE, await request(host, rid))
