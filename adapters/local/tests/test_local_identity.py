"""The local (SQLite) Identity store passes the kit on real files, and keeps its data there."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import cast

import pytest
from aesp_local.identity import MIGRATIONS, SqliteIdentityStore

from aesp.core.ports.identity import DuplicateError
from aesp.testing.conformance.identity import (
    AbstractIdentityStoreConformance,
    principal,
    service_account,
)


class TestSqliteIdentityStore(AbstractIdentityStoreConformance):
    @pytest.fixture
    async def port(self, tmp_path: Path) -> AsyncIterator[SqliteIdentityStore]:
        store = SqliteIdentityStore(tmp_path / "identity.sqlite3")
        yield store
        await store.close()


async def test_file_is_created_on_first_start_and_schema_versioned(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "identity.sqlite3"
    store = SqliteIdentityStore(path)
    await store.close()
    assert path.is_file()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"principals", "service_accounts", "revision"} <= tables


async def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "identity.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA user_version = 99")
    with pytest.raises(RuntimeError, match="newer than this aesp-local"):
        SqliteIdentityStore(path)


async def test_data_survives_reopening_the_file(tmp_path: Path) -> None:
    path = tmp_path / "identity.sqlite3"
    account, record = service_account("sa1", metadata={"env": "ci"})
    user = principal("u1", display_name="Alice", metadata={"team": "ml"})
    store = SqliteIdentityStore(path)
    await store.put_principal(user)
    await store.create_service_account(account, record)
    revoked = await store.revoke_service_account("sa1", at_ms=100)
    revision = await store.revision()
    await store.close()

    reopened = SqliteIdentityStore(path)
    try:
        assert await reopened.get_principal("u1") == user
        assert await reopened.get_service_account("sa1") == revoked
        assert revoked is not None and revoked.revoked
        assert await reopened.find_key(account.key.key_id) == revoked.key
        assert await reopened.revision() == revision
    finally:
        await reopened.close()


async def test_two_stores_on_one_file_see_each_others_writes(tmp_path: Path) -> None:
    path = tmp_path / "identity.sqlite3"
    first, second = SqliteIdentityStore(path), SqliteIdentityStore(path)
    try:
        await first.put_principal(principal("u1"))
        assert await second.get_principal("u1") == principal("u1")
        before = await first.revision()
        await second.create_service_account(*service_account("sa1"))
        assert await first.get_service_account("sa1") is not None
        assert await first.revision() > before
        with pytest.raises(ValueError, match="tenant cannot change"):
            await second.put_principal(principal("u1", "other"))
    finally:
        await first.close()
        await second.close()


async def test_two_stores_racing_for_one_name_store_exactly_one(tmp_path: Path) -> None:
    # Two Hosts on one file: the duplicate check and the insert happen under one write lock.
    path = tmp_path / "identity.sqlite3"
    stores = [SqliteIdentityStore(path) for _ in range(2)]
    try:
        attempts = [service_account(f"sa{i}", "acme", "ci") for i in range(6)]
        results = await asyncio.gather(
            *(stores[i % 2].create_service_account(a, p) for i, (a, p) in enumerate(attempts)),
            return_exceptions=True,
        )
        assert sum(r is None for r in results) == 1
        assert all(isinstance(r, DuplicateError) for r in results if r is not None)
        page = await stores[0].list_principals(tenant_id="acme")
        assert len(page.items) == 1
    finally:
        for store in stores:
            await store.close()


async def test_a_failing_second_insert_rolls_back_the_first(tmp_path: Path) -> None:
    # The account row is refused by NOT NULL after the principal row went in: the whole
    # transaction, the principal and the revision bump included, must be undone.
    store = SqliteIdentityStore(tmp_path / "identity.sqlite3")
    try:
        account, record = service_account("sa1")
        broken = replace(account, key=replace(account.key, stored_hash=cast(str, None)))
        before = await store.revision()
        with pytest.raises(sqlite3.IntegrityError, match="NOT NULL"):
            await store.create_service_account(broken, record)
        assert await store.get_principal(record.principal_id) is None
        assert await store.revision() == before
        await store.create_service_account(account, record)  # the connection is usable again
        assert await store.get_service_account("sa1") == account
    finally:
        await store.close()


async def test_a_cancelled_write_finishes_before_the_next_one_starts(tmp_path: Path) -> None:
    # Cancelling the caller must not release the connection mid-transaction: the next write
    # would then start inside it ("cannot start a transaction within a transaction").
    store = SqliteIdentityStore(tmp_path / "identity.sqlite3")
    try:
        for i in range(20):
            account, record = service_account(f"sa{i:02d}")
            task = asyncio.create_task(store.create_service_account(account, record))
            await asyncio.sleep(0)
            task.cancel()
            await store.put_principal(principal(f"u{i:02d}"))
            assert await store.get_service_account(account.service_account_id) == account
        assert await store.revision() == 40
    finally:
        await store.close()
