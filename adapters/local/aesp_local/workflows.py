"""Approval-workflow definitions on SQLite (``data_dir/workflows.sqlite3``).

Replace is compare-and-set inside one ``BEGIN IMMEDIATE`` transaction (:mod:`aesp_local._revision`),
so two Hosts on one file serialise and exactly one writer of a version wins. A trigger keeps a
workflow in its tenant: no statement can move it to another.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aesp.core.governance.workflows import ApprovalWorkflow
from aesp.core.ports._errors import ConcurrentChangeError, DuplicateError, NotFoundError
from aesp.core.ports.governance import ArtifactType
from aesp_local import _revision
from aesp_local._db import Database

__all__ = ["SqliteWorkflowStore"]

MIGRATIONS = (
    """CREATE TABLE approval_workflows (
         workflow_id TEXT PRIMARY KEY,
         tenant_id TEXT NOT NULL,
         artifact_type TEXT NOT NULL,
         required_approvers TEXT NOT NULL,
         min_approvals INTEGER NOT NULL,
         expires_after_ms INTEGER NOT NULL,
         conditions TEXT NOT NULL,
         name TEXT NOT NULL,
         version INTEGER NOT NULL,
         created_at_ms INTEGER NOT NULL,
         updated_at_ms INTEGER NOT NULL,
         updated_by TEXT NOT NULL
       );
       CREATE INDEX approval_workflows_by_tenant ON approval_workflows (tenant_id, workflow_id);
       CREATE TRIGGER approval_workflows_stay BEFORE UPDATE OF workflow_id, tenant_id,
         created_at_ms ON approval_workflows
         BEGIN SELECT RAISE(ABORT, 'a workflow keeps its id, tenant and creation time'); END;
       """
    + _revision.REVISION_TABLE,
)
_COLUMNS = (
    "workflow_id, tenant_id, artifact_type, required_approvers, min_approvals, "
    "expires_after_ms, conditions, name, version, created_at_ms, updated_at_ms, updated_by"
)


def _row(w: ApprovalWorkflow, version: int) -> tuple[object, ...]:
    return (
        *(w.workflow_id, w.tenant_id, w.artifact_type.value),
        json.dumps(list(w.required_approvers)),
        *(w.min_approvals, w.expires_after_ms),
        json.dumps(dict(w.conditions), sort_keys=True),
        *(w.name, version, w.created_at_ms, w.updated_at_ms, w.updated_by),
    )


def _workflow(row: Sequence[Any]) -> ApprovalWorkflow:
    (wid, tenant, kind, approvers, minimum, lifetime, conditions, name) = row[:8]
    version, created, updated, updated_by = row[8:]
    return ApprovalWorkflow(
        workflow_id=str(wid),
        tenant_id=str(tenant),
        artifact_type=ArtifactType(str(kind)),
        required_approvers=tuple(json.loads(str(approvers))),
        min_approvals=int(minimum),
        expires_after_ms=int(lifetime),
        conditions=json.loads(str(conditions)),
        name=str(name),
        version=int(version),
        created_at_ms=int(created),
        updated_at_ms=int(updated),
        updated_by=str(updated_by),
    )


def _select(conn: sqlite3.Connection, workflow_id: str) -> ApprovalWorkflow | None:
    row = conn.execute(
        f"SELECT {_COLUMNS} FROM approval_workflows WHERE workflow_id = ?", (workflow_id,)
    ).fetchone()
    return _workflow(row) if row is not None else None


class SqliteWorkflowStore:
    """Workflow definitions in one SQLite file, shared safely by several Hosts."""

    def __init__(self, path: Path) -> None:
        self._db = Database(path, MIGRATIONS)

    async def create(self, workflow: ApprovalWorkflow) -> ApprovalWorkflow:
        """Store a new workflow at version 1.

        Raises:
            DuplicateError: The id exists (nothing changes).
        """

        def work(conn: sqlite3.Connection) -> ApprovalWorkflow:
            if _select(conn, workflow.workflow_id) is not None:
                raise DuplicateError(f"approval workflow {workflow.workflow_id!r} already exists")
            conn.execute(
                f"INSERT INTO approval_workflows ({_COLUMNS}) VALUES ({', '.join('?' * 12)})",
                _row(workflow, 1),
            )
            _revision.bump(conn)
            stored = _select(conn, workflow.workflow_id)
            assert stored is not None  # written in this transaction
            return stored

        return await _revision.write(self._db, work)

    async def replace(
        self, workflow: ApprovalWorkflow, *, expected_version: int
    ) -> ApprovalWorkflow:
        """Replace the definition at ``expected_version``; tenant and creation time are kept.

        Raises:
            NotFoundError: No such workflow.
            ConcurrentChangeError: The stored version differs (nothing written).
        """

        def work(conn: sqlite3.Connection) -> ApprovalWorkflow:
            current = _select(conn, workflow.workflow_id)
            if current is None:
                raise NotFoundError(f"no approval workflow {workflow.workflow_id!r}")
            if current.version != expected_version:
                raise ConcurrentChangeError(
                    f"approval workflow {workflow.workflow_id!r}",
                    expected=expected_version,
                    actual=current.version,
                )
            conn.execute(
                "UPDATE approval_workflows SET artifact_type = ?, required_approvers = ?, "
                "min_approvals = ?, expires_after_ms = ?, conditions = ?, name = ?, "
                "version = ?, updated_at_ms = ?, updated_by = ? WHERE workflow_id = ?",
                (
                    workflow.artifact_type.value,
                    json.dumps(list(workflow.required_approvers)),
                    workflow.min_approvals,
                    workflow.expires_after_ms,
                    json.dumps(dict(workflow.conditions), sort_keys=True),
                    workflow.name,
                    current.version + 1,
                    workflow.updated_at_ms,
                    workflow.updated_by,
                    workflow.workflow_id,
                ),
            )
            _revision.bump(conn)
            stored = _select(conn, workflow.workflow_id)
            assert stored is not None  # written in this transaction
            return stored

        return await _revision.write(self._db, work)

    async def get(self, workflow_id: str) -> ApprovalWorkflow | None:
        """The workflow, or None."""
        return await self._db.run(lambda conn: _select(conn, workflow_id))

    async def list(
        self, *, tenant_id: str | None, artifact_type: ArtifactType | None = None
    ) -> Sequence[ApprovalWorkflow]:
        """Matching workflows ordered by ``(tenant_id, workflow_id)``."""
        clauses, params = ["1 = 1"], []
        if tenant_id is not None:
            clauses.append("tenant_id = ?")
            params.append(tenant_id)
        if artifact_type is not None:
            clauses.append("artifact_type = ?")
            params.append(ArtifactType(artifact_type).value)
        rows = await self._db.execute(
            f"SELECT {_COLUMNS} FROM approval_workflows WHERE {' AND '.join(clauses)} "
            "ORDER BY tenant_id, workflow_id",
            params,
        )
        return [_workflow(r) for r in rows]

    async def revision(self) -> int:
        """Bumped in the same transaction as every write."""
        return await self._db.run(_revision.current)

    async def close(self) -> None:
        """Close the file."""
        await self._db.close()
