"""The governance component of a Host: built from the configured profile, its background duty
expires overdue requests and picks up approvals made by another Host."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
from aesp_local.governance import SqliteApprovalStore
from aesp_local.workflows import SqliteWorkflowStore

from aesp.core.config import HostConfig, ProfileConfig
from aesp.core.errors import AespError
from aesp.core.governance import Adjudication, Approver, Governance, NewRequest, open_governance
from aesp.core.ports.governance import ApprovalStatus
from tests.unit.governance.conftest import World, artifact, build_world, contract_request


async def test_open_governance_builds_the_profiles_store(
    world: World, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="aesp.core.governance.service"):
        built = await open_governance(HostConfig(data_dir=tmp_path), world.plane, world.manifest)
    try:
        assert isinstance(built.approvals, SqliteApprovalStore)
        assert isinstance(built.workflows, SqliteWorkflowStore)  # aesp-local realises both
        assert "realises no approval-workflow store" not in caplog.text
        assert (tmp_path / "governance.sqlite3").is_file()
        assert (tmp_path / "workflows.sqlite3").is_file()
    finally:
        await built.stop()
    missing = HostConfig(data_dir=tmp_path, profile=ProfileConfig(governance="nosuch"))
    with pytest.raises(AespError, match="Profile 'nosuch' is not installed"):
        await open_governance(missing, world.plane, world.manifest)


async def test_the_duty_expires_requests_and_replays_other_hosts_approvals(tmp_path: Path) -> None:
    path = tmp_path / "governance.sqlite3"
    here, there = (
        await build_world(SqliteApprovalStore(path)),
        await build_world(SqliteApprovalStore(path)),
    )
    duty = Governance(
        control=here.plane,
        manifest=here.manifest,
        approvals=here.store,
        clock_ms=here.clock,
        sweep_interval_ms=20,
    )
    try:
        await duty.start()
        soon = NewRequest(
            "TOOL_CONTRACT_V1",
            "",
            artifact({"name": "soon", "description": "x", "parameters": {"type": "OBJECT"}}),
            required_approvers=("bob",),
            expires_at_ms=here.clock.now + 5,
        )
        overdue = await duty.engine.request("alice", "", soon)
        approved = await there.governance.engine.request("alice", "", contract_request(("bob",)))
        await there.governance.engine.adjudicate(
            Approver.with_roles("bob"),
            "",
            Adjudication(approved.request.approval_request_id, "APPROVE"),
        )
        here.clock.now += 5
        for _ in range(100):
            stored = await here.store.get(overdue.request.approval_request_id)
            if (
                stored is not None
                and stored.status is ApprovalStatus.EXPIRED
                and here.manifest.current.active("greet")
            ):
                break
            await asyncio.sleep(0.02)
        assert stored is not None and stored.status is ApprovalStatus.EXPIRED
        greet = here.manifest.current.active("greet")
        assert greet is not None and greet.approved_by == "bob"  # approved on the other Host
    finally:
        await duty.stop()
        for world in (here, there):
            await world.governance.stop()
            await world.plane.stop()
