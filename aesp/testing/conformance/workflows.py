"""Conformance kit for approval-workflow stores (:class:`~aesp.core.governance.WorkflowStore`).

What must hold everywhere: a definition comes back exactly as stored; ids are unique; replace
is compare-and-set on ``version`` and never moves a workflow to another tenant; listings filter
by tenant and artifact type and are ordered by ``(tenant_id, workflow_id)``; ``revision`` moves
with writes only.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from aesp.core.governance.workflows import ApprovalWorkflow, WorkflowStore
from aesp.core.ports._errors import ConcurrentChangeError, DuplicateError, NotFoundError
from aesp.core.ports.governance import ArtifactType

__all__ = ["AbstractWorkflowStoreConformance", "workflow"]


def workflow(
    workflow_id: str = "wf-1", tenant_id: str = "acme", **changes: object
) -> ApprovalWorkflow:
    """A valid workflow definition with ``changes`` applied."""
    base = ApprovalWorkflow(
        workflow_id=workflow_id,
        tenant_id=tenant_id,
        artifact_type=ArtifactType.TOOL_CONTRACT_V1,
        required_approvers=("role:security", "oidc|https://idp|bob"),
        min_approvals=1,
        expires_after_ms=86_400_000,
        conditions={"risk_assessment": "HIGH", "note": "Zürich — ünïcode"},
        name="High-risk contracts",
        created_at_ms=1_700_000_000_000,
        updated_at_ms=1_700_000_000_000,
        updated_by="oidc|https://idp|alice",
    )
    return replace(base, **changes)


async def _get(port: WorkflowStore, workflow_id: str) -> ApprovalWorkflow:
    found = await port.get(workflow_id)
    assert found is not None, workflow_id
    return found


class AbstractWorkflowStoreConformance:
    """Behaviour every WorkflowStore must show. Subclasses provide the ``port`` fixture."""

    async def test_is_a_workflow_store(self, port: WorkflowStore) -> None:
        assert isinstance(port, WorkflowStore)

    async def test_a_fresh_store_is_empty(self, port: WorkflowStore) -> None:
        assert await port.get("wf-1") is None
        assert list(await port.list(tenant_id=None)) == []
        assert await port.revision() == 0

    async def test_a_workflow_round_trips_at_version_1(self, port: WorkflowStore) -> None:
        original = workflow(version=7)
        stored = await port.create(original)
        assert stored == replace(original, version=1)
        assert await port.get("wf-1") == stored
        assert await port.revision() == 1

    async def test_ids_are_unique(self, port: WorkflowStore) -> None:
        await port.create(workflow())
        with pytest.raises(DuplicateError, match="wf-1"):
            await port.create(workflow(tenant_id="globex"))
        assert (await _get(port, "wf-1")).tenant_id == "acme"
        assert await port.revision() == 1

    async def test_replace_is_compare_and_set(self, port: WorkflowStore) -> None:
        await port.create(workflow())
        changed = workflow(min_approvals=2, tenant_id="globex", created_at_ms=5, updated_at_ms=9)
        stored = await port.replace(changed, expected_version=1)
        assert (stored.version, stored.min_approvals) == (2, 2)
        assert (stored.tenant_id, stored.created_at_ms, stored.updated_at_ms) == (
            "acme",
            1_700_000_000_000,
            9,
        )
        assert await port.get("wf-1") == stored
        with pytest.raises(ConcurrentChangeError, match="version 2"):
            await port.replace(workflow(min_approvals=0), expected_version=1)
        assert (await _get(port, "wf-1")).min_approvals == 2
        with pytest.raises(NotFoundError):
            await port.replace(workflow("wf-ghost"), expected_version=1)
        assert await port.revision() == 2

    async def test_concurrent_replaces_let_exactly_one_win(self, port: WorkflowStore) -> None:
        await port.create(workflow())
        outcomes = await asyncio.gather(
            *(port.replace(workflow(min_approvals=n), expected_version=1) for n in (0, 1, 2)),
            return_exceptions=True,
        )
        won = [o for o in outcomes if isinstance(o, ApprovalWorkflow)]
        assert len(won) == 1
        assert all(isinstance(o, ConcurrentChangeError) for o in outcomes if o not in won)
        assert await port.get("wf-1") == won[0]

    async def test_listings_filter_and_order(self, port: WorkflowStore) -> None:
        await port.create(workflow("wf-b", "acme"))
        await port.create(workflow("wf-a", "acme", artifact_type=ArtifactType.POLICY_V1))
        await port.create(workflow("wf-c", ""))
        await port.create(workflow("wf-d", "globex"))
        everyone = [(w.tenant_id, w.workflow_id) for w in await port.list(tenant_id=None)]
        assert everyone == [("", "wf-c"), ("acme", "wf-a"), ("acme", "wf-b"), ("globex", "wf-d")]
        acme = await port.list(tenant_id="acme")
        assert [w.workflow_id for w in acme] == ["wf-a", "wf-b"]
        contracts = await port.list(tenant_id="acme", artifact_type=ArtifactType.TOOL_CONTRACT_V1)
        assert [w.workflow_id for w in contracts] == ["wf-b"]
        assert [w.workflow_id for w in await port.list(tenant_id="")] == ["wf-c"]

    async def test_records_are_copies(self, port: WorkflowStore) -> None:
        stored = await port.create(workflow())
        conditions = stored.conditions
        assert isinstance(conditions, dict)
        conditions["risk_assessment"] = "LOW"
        again = await port.get("wf-1")
        assert again is not None and again.conditions["risk_assessment"] == "HIGH"
