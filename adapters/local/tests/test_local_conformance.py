"""The local (SQLite) adapter passes every conformance kit, on real files."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aesp_local.tenancy import MIGRATIONS, SqliteTenantRegistry

from aesp.testing.conformance.tenancy import AbstractTenantRegistryConformance


class TestSqliteTenantRegistry(AbstractTenantRegistryConformance):
    @pytest.fixture
    async def port(self, tmp_path: Path) -> AsyncIterator[SqliteTenantRegistry]:
        registry = SqliteTenantRegistry(tmp_path / "tenants.sqlite3")
        yield registry
        await registry.close()


async def test_file_is_created_on_first_start_and_schema_versioned(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "tenants.sqlite3"
    registry = SqliteTenantRegistry(path)
    await registry.close()
    assert path.is_file()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)


async def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "tenants.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA user_version = 99")
    with pytest.raises(RuntimeError, match="newer than this aesp-local"):
        SqliteTenantRegistry(path)
