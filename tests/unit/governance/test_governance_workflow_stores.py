"""Both approval-workflow stores pass the workflow kit, and the SQLite one keeps what it stored
across a reopen (a Host restart)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aesp_local.workflows import SqliteWorkflowStore

from aesp.testing.conformance.workflows import AbstractWorkflowStoreConformance, workflow
from aesp.testing.inmemory.workflows import InMemoryWorkflowStore


class TestInMemoryWorkflowStore(AbstractWorkflowStoreConformance):
    @pytest.fixture
    async def port(self) -> AsyncIterator[InMemoryWorkflowStore]:
        store = InMemoryWorkflowStore()
        yield store
        await store.close()


class TestSqliteWorkflowStore(AbstractWorkflowStoreConformance):
    @pytest.fixture
    async def port(self, tmp_path: Path) -> AsyncIterator[SqliteWorkflowStore]:
        store = SqliteWorkflowStore(tmp_path / "workflows.sqlite3")
        yield store
        await store.close()


async def test_sqlite_workflows_survive_a_reopen(tmp_path: Path) -> None:
    path = tmp_path / "workflows.sqlite3"
    first = SqliteWorkflowStore(path)
    stored = await first.create(workflow())
    await first.close()
    second = SqliteWorkflowStore(path)
    try:
        assert await second.get("wf-1") == stored
        assert await second.revision() == 1
    finally:
        await second.close()
