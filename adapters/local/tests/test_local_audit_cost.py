"""The SQLite audit index and cost ledger pass their kits on real files, with a second handle
on the same file standing in for a second Host; they migrate by ``PRAGMA user_version``, keep
everything across a restart, and the audit file refuses any UPDATE or DELETE."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from aesp_local import audit_index, cost
from aesp_local.audit_index import SqliteAuditIndex
from aesp_local.cost import SqliteCostLedger

from aesp.core.ports.audit import AuditFilter
from aesp.testing.conformance.audit import AbstractAuditIndexConformance, event
from aesp.testing.conformance.cost import AbstractCostLedgerConformance, budget, usage

Store = SqliteAuditIndex | SqliteCostLedger
STORES: list[tuple[Callable[[Path], Store], tuple[str, ...]]] = [
    (SqliteAuditIndex, audit_index.MIGRATIONS),
    (SqliteCostLedger, cost.MIGRATIONS),
]
T0 = 1_700_000_000_000


class TestSqliteAuditIndex(AbstractAuditIndexConformance):
    @pytest.fixture
    async def port(self, tmp_path: Path) -> AsyncIterator[SqliteAuditIndex]:
        store = SqliteAuditIndex(tmp_path / "audit_index.sqlite3")
        yield store
        await store.close()

    @pytest.fixture
    async def peer(self, tmp_path: Path, port: SqliteAuditIndex) -> AsyncIterator[SqliteAuditIndex]:
        store = SqliteAuditIndex(tmp_path / "audit_index.sqlite3")
        yield store
        await store.close()


class TestSqliteCostLedger(AbstractCostLedgerConformance):
    @pytest.fixture
    async def port(self, tmp_path: Path) -> AsyncIterator[SqliteCostLedger]:
        store = SqliteCostLedger(tmp_path / "cost.sqlite3")
        yield store
        await store.close()

    @pytest.fixture
    async def peer(self, tmp_path: Path, port: SqliteCostLedger) -> AsyncIterator[SqliteCostLedger]:
        store = SqliteCostLedger(tmp_path / "cost.sqlite3")
        yield store
        await store.close()


@pytest.mark.parametrize(("factory", "migrations"), STORES)
async def test_file_is_created_on_first_start_and_schema_versioned(
    tmp_path: Path, factory: Callable[[Path], Store], migrations: tuple[str, ...]
) -> None:
    path = tmp_path / "sub" / "store.sqlite3"
    store = factory(path)
    await store.close()
    assert path.is_file()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == len(migrations)


@pytest.mark.parametrize(("factory", "migrations"), STORES)
async def test_a_newer_schema_is_refused(
    tmp_path: Path, factory: Callable[[Path], Store], migrations: tuple[str, ...]
) -> None:
    path = tmp_path / "store.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {len(migrations) + 1}")
    with pytest.raises(RuntimeError, match="newer than this aesp-local"):
        factory(path)


async def test_audit_events_survive_a_restart_and_stay_idempotent(tmp_path: Path) -> None:
    path = tmp_path / "audit_index.sqlite3"
    store = SqliteAuditIndex(path)
    corpus = [event(n, metadata={"n": str(n), "ü": "🚀"}) for n in range(30)]
    assert await store.index(corpus) == 30
    await store.close()

    reopened = SqliteAuditIndex(path)
    try:
        assert await reopened.index(corpus[10:]) == 0  # the shipper resends after a restart
        assert await reopened.index([event(30)]) == 1
        page = await reopened.query(AuditFilter(), limit=1000)
        assert list(page.items) == [*corpus, event(30)]  # ... and appends after what was there
    finally:
        await reopened.close()


async def test_the_audit_file_refuses_updates_and_deletes(tmp_path: Path) -> None:
    # Item 190: no API rewrites events, and neither can a stray SQL statement on the file.
    path = tmp_path / "audit_index.sqlite3"
    store = SqliteAuditIndex(path)
    await store.index([event(1)])
    await store.close()
    with sqlite3.connect(path) as conn:
        for statement in ("UPDATE events SET outcome = 'SUCCESS'", "DELETE FROM events"):
            with pytest.raises(sqlite3.IntegrityError, match="append-only"):
                conn.execute(statement)
    reopened = SqliteAuditIndex(path)
    try:
        assert list((await reopened.query(AuditFilter())).items) == [event(1)]
    finally:
        await reopened.close()


async def test_budgets_reservations_and_usage_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "cost.sqlite3"
    store = SqliteCostLedger(path)
    await store.put_budget(budget("b", 10))
    assert (await store.reserve(["b"], 4, reservation_id="done", now_ms=T0, ttl_ms=60_000)).accepted
    assert await store.settle("done", 4, [usage(1)])
    assert (await store.reserve(["b"], 5, reservation_id="open", now_ms=T0, ttl_ms=60_000)).accepted
    await store.close()

    reopened = SqliteCostLedger(path)
    try:
        assert await reopened.get_budget("b", tenant_id="acme") == budget("b", 10)
        status = await reopened.status("b", now_ms=T0)
        assert status is not None and (status.spent_micros, status.reserved_micros) == (4, 5)
        refused = await reopened.reserve(["b"], 2, reservation_id="x", now_ms=T0, ttl_ms=60_000)
        assert (refused.refused_budget_id, refused.remaining_micros) == ("b", 1)
        assert await reopened.settle("done", 4, [usage(1)]) is False  # still settled once
        assert await reopened.settle("open", 5, [usage(2)]) is True
        assert [r.event_id for r in (await reopened.usage(tenant_id="acme")).items] == [
            "u-00001",
            "u-00002",
        ]
    finally:
        await reopened.close()
