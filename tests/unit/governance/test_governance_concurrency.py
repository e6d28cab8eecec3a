"""Concurrent adjudication: two Hosts (two engines on one store) deciding at once make exactly one
final transition, and an enactment whose approval could not be recorded is undone unless the
request ended APPROVED anyway (docs/protocol-decisions.md, the safe order)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aesp_local.governance import SqliteApprovalStore

from aesp.core.errors import AespError
from aesp.core.governance import (
    Adjudication,
    Approval,
    Approver,
    Enacted,
    ToolContractEnactor,
)
from aesp.core.governance.engine import ApprovalEngine
from aesp.core.ports.governance import ApprovalDecision, ApprovalStatus, ArtifactType, Verdict
from tests.unit.governance.conftest import World, build_world, contract_request


@pytest.fixture
async def hosts(tmp_path: Path) -> AsyncIterator[tuple[World, World]]:
    """Two Hosts, each with its own manifest and engine, on one SQLite approval file."""
    path = tmp_path / "governance.sqlite3"
    first, second = (
        await build_world(SqliteApprovalStore(path)),
        await build_world(SqliteApprovalStore(path)),
    )
    yield first, second
    for world in (first, second):
        await world.governance.stop()
        await world.plane.stop()


async def test_two_approvers_at_once_make_exactly_one_final_transition(
    hosts: tuple[World, World],
) -> None:
    a, b = hosts
    view = await a.governance.engine.request(
        "alice", "", contract_request(("bob", "carol"), min_approvals=1)
    )
    rid = view.request.approval_request_id
    before = await a.store.revision()
    outcomes = await asyncio.gather(
        a.governance.engine.adjudicate(
            Approver.with_roles("bob"), "", Adjudication(rid, "APPROVE")
        ),
        b.governance.engine.adjudicate(
            Approver.with_roles("carol"), "", Adjudication(rid, "APPROVE")
        ),
        return_exceptions=True,
    )
    won = [o for o in outcomes if not isinstance(o, BaseException)]
    lost = [o for o in outcomes if isinstance(o, AespError)]
    assert len(won) == 1 and len(lost) == 1, outcomes
    assert won[0].final_status is ApprovalStatus.APPROVED and won[0].workflow_complete
    assert lost[0].code == "INVALID_STATE"
    assert len(await a.store.decisions(rid)) == 1
    assert await a.store.revision() == before + 1  # one decision with its status move
    winner = a if outcomes[0] in won else b
    assert winner.manifest.current.active("greet") is not None
    assert len(a.events("CONTRACT_STATE_CHANGE")) + len(b.events("CONTRACT_STATE_CHANGE")) == 1
    # The other Host learns of the approval from the store (start-up replay or its sweep).
    loser = b if winner is a else a
    await loser.governance.sync()
    assert loser.manifest.current.active("greet") is not None


class Interleaving:
    """A contract enactor that, while enacting, lets "another Host" decide on the same request
    first: the race the compare-and-set must catch."""

    def __init__(self, world: World, other: ApprovalDecision, status: ApprovalStatus) -> None:
        self.inner = ToolContractEnactor(world.manifest)
        self.world, self.other, self.status = world, other, status

    async def prepare(self, tenant_id: str, artifact_id: str, data: bytes):  # noqa: ANN201
        return await self.inner.prepare(tenant_id, artifact_id, data)

    async def enact(self, approval: Approval) -> Enacted:
        enacted = await self.inner.enact(approval)
        current = await self.world.store.get(approval.request.approval_request_id)
        assert current is not None
        await self.world.store.record_decision(
            self.other, expected_version=current.version, new_status=self.status
        )
        return enacted


def engine_with(world: World, enactor: Interleaving) -> ApprovalEngine:
    world.governance.enactors._enactors.pop(ArtifactType.TOOL_CONTRACT_V1)  # noqa: SLF001
    world.governance.enactors.register(ArtifactType.TOOL_CONTRACT_V1, enactor)
    return world.governance.engine


async def test_an_enactment_is_undone_when_another_host_rejected_meanwhile(world: World) -> None:
    view = await world.governance.engine.request(
        "alice",
        "",
        contract_request(("bob", "carol"), min_approvals=1, version="2.0.0", name="echo"),
    )
    rid = view.request.approval_request_id
    carol_rejects = ApprovalDecision(rid, "carol", Verdict.REJECT, decided_at_ms=world.clock.now)
    engine = engine_with(world, Interleaving(world, carol_rejects, ApprovalStatus.REJECTED))
    with pytest.raises(AespError, match="is REJECTED, not PENDING"):
        await engine.adjudicate(Approver.with_roles("bob"), "", Adjudication(rid, "APPROVE"))
    echo = world.manifest.current.active("echo")
    assert echo is not None and echo.contract_version == "1.0.0"  # the swap was rolled back
    assert world.manifest.current.version == 3  # swapped in, swapped back
    assert [d.approver_id for d in await world.store.decisions(rid)] == ["carol"]
    assert world.events("CONTRACT_STATE_CHANGE") == []


async def test_an_enactment_stands_when_another_host_approved_meanwhile(world: World) -> None:
    view = await world.governance.engine.request(
        "alice", "", contract_request(("bob", "carol"), min_approvals=1)
    )
    rid = view.request.approval_request_id
    carol_approves = ApprovalDecision(rid, "carol", Verdict.APPROVE, decided_at_ms=world.clock.now)
    engine = engine_with(world, Interleaving(world, carol_approves, ApprovalStatus.APPROVED))
    with pytest.raises(AespError, match="is APPROVED, not PENDING"):
        await engine.adjudicate(Approver.with_roles("bob"), "", Adjudication(rid, "APPROVE"))
    assert world.manifest.current.active("greet") is not None  # APPROVED: rightly in force
    stored = await world.store.get(rid)
    assert stored is not None and stored.status is ApprovalStatus.APPROVED


async def test_a_failed_enactment_records_nothing(world: World) -> None:
    engine = world.governance.engine
    view = await engine.request(
        "alice", "", contract_request(("bob",), version="2.0.0", name="echo")
    )
    rid = view.request.approval_request_id
    # A newer version became ACTIVE meanwhile (e.g. approved through another request).
    newer = await engine.request(
        "alice", "", contract_request(("carol",), version="3.0.0", name="echo")
    )
    await engine.adjudicate(
        Approver.with_roles("carol"), "", Adjudication(newer.request.approval_request_id, "APPROVE")
    )
    with pytest.raises(AespError, match="ACTIVE at version 3.0.0") as refused:
        await engine.adjudicate(Approver.with_roles("bob"), "", Adjudication(rid, "APPROVE"))
    assert refused.value.code == "INVALID_STATE"
    stored = await world.store.get(rid)
    assert stored is not None and stored.status is ApprovalStatus.PENDING
    assert list(await world.store.decisions(rid)) == []
