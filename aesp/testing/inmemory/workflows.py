"""Approval-workflow definitions in memory, for tests and embedded use.

It passes the same kit (:mod:`aesp.testing.conformance.workflows`) as the SQLite store. No
method awaits, so a compare-and-set check and its write are atomic under asyncio; records are
copied in and out, so a caller mutating a conditions dict cannot change the store.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from aesp.core.governance.workflows import ApprovalWorkflow
from aesp.core.ports._errors import ConcurrentChangeError, DuplicateError, NotFoundError
from aesp.core.ports.governance import ArtifactType

__all__ = ["InMemoryWorkflowStore"]


class InMemoryWorkflowStore:
    """Workflows keyed by id."""

    def __init__(self) -> None:
        self._workflows: dict[str, ApprovalWorkflow] = {}
        self._revision = 0

    async def create(self, workflow: ApprovalWorkflow) -> ApprovalWorkflow:
        """Store a new workflow at version 1.

        Raises:
            DuplicateError: The id exists.
        """
        if workflow.workflow_id in self._workflows:
            raise DuplicateError(f"approval workflow {workflow.workflow_id!r} already exists")
        stored = replace(workflow, version=1)
        self._workflows[workflow.workflow_id] = stored
        self._revision += 1
        return replace(stored)

    async def replace(
        self, workflow: ApprovalWorkflow, *, expected_version: int
    ) -> ApprovalWorkflow:
        """Replace the definition at ``expected_version``; tenant and creation time are kept.

        Raises:
            NotFoundError: No such workflow.
            ConcurrentChangeError: The stored version differs.
        """
        current = self._workflows.get(workflow.workflow_id)
        if current is None:
            raise NotFoundError(f"no approval workflow {workflow.workflow_id!r}")
        if current.version != expected_version:
            raise ConcurrentChangeError(
                f"approval workflow {workflow.workflow_id!r}",
                expected=expected_version,
                actual=current.version,
            )
        stored = replace(
            workflow,
            tenant_id=current.tenant_id,
            created_at_ms=current.created_at_ms,
            version=current.version + 1,
        )
        self._workflows[workflow.workflow_id] = stored
        self._revision += 1
        return replace(stored)

    async def get(self, workflow_id: str) -> ApprovalWorkflow | None:
        """The workflow, or None."""
        found = self._workflows.get(workflow_id)
        return replace(found) if found is not None else None

    async def list(
        self, *, tenant_id: str | None, artifact_type: ArtifactType | None = None
    ) -> Sequence[ApprovalWorkflow]:
        """Matching workflows ordered by ``(tenant_id, workflow_id)``."""
        return [
            replace(w)
            for w in sorted(self._workflows.values(), key=lambda w: (w.tenant_id, w.workflow_id))
            if (tenant_id is None or w.tenant_id == tenant_id)
            and (artifact_type is None or w.artifact_type == artifact_type)
        ]

    async def revision(self) -> int:
        """Bumped by every write."""
        return self._revision

    async def close(self) -> None:
        """Nothing to release."""
