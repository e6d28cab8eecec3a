"""The SQLite Governance and Config stores pass their kits on real files (with a second store
object on the same file as the second Host replica), migrate by ``PRAGMA user_version``, keep
everything across a restart, and refuse to rewrite history even to a raw SQL statement."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from aesp_local import config, governance
from aesp_local.config import SqliteConfigStore
from aesp_local.governance import SqliteApprovalStore

from aesp.core.ports.governance import ApprovalStatus, Verdict
from aesp.testing.conformance._config_races import entry
from aesp.testing.conformance._governance_races import decision, request
from aesp.testing.conformance.config import AbstractConfigStoreConformance
from aesp.testing.conformance.governance import AbstractApprovalStoreConformance

Store = SqliteApprovalStore | SqliteConfigStore
STORES: list[tuple[Callable[[Path], Store], str, tuple[str, ...], set[str]]] = [
    (
        SqliteApprovalStore,
        "governance.sqlite3",
        governance.MIGRATIONS,
        {"approval_requests", "approval_decisions", "revision"},
    ),
    (SqliteConfigStore, "config.sqlite3", config.MIGRATIONS, {"config_versions", "revision"}),
]


class TestSqliteApprovalStore(AbstractApprovalStoreConformance):
    @pytest.fixture
    async def port(self, tmp_path: Path) -> AsyncIterator[SqliteApprovalStore]:
        store = SqliteApprovalStore(tmp_path / "governance.sqlite3")
        yield store
        await store.close()

    @pytest.fixture
    async def replica(
        self, tmp_path: Path, port: SqliteApprovalStore
    ) -> AsyncIterator[SqliteApprovalStore]:
        store = SqliteApprovalStore(tmp_path / "governance.sqlite3")
        yield store
        await store.close()


class TestSqliteConfigStore(AbstractConfigStoreConformance):
    @pytest.fixture
    async def port(self, tmp_path: Path) -> AsyncIterator[SqliteConfigStore]:
        store = SqliteConfigStore(tmp_path / "config.sqlite3")
        yield store
        await store.close()

    @pytest.fixture
    async def replica(
        self, tmp_path: Path, port: SqliteConfigStore
    ) -> AsyncIterator[SqliteConfigStore]:
        store = SqliteConfigStore(tmp_path / "config.sqlite3")
        yield store
        await store.close()


@pytest.mark.parametrize(("factory", "name", "migrations", "tables"), STORES)
async def test_file_is_created_on_first_start_and_schema_versioned(
    tmp_path: Path,
    factory: Callable[[Path], Store],
    name: str,
    migrations: tuple[str, ...],
    tables: set[str],
) -> None:
    path = tmp_path / "sub" / name
    store = factory(path)
    assert await store.revision() == 0
    await store.close()
    assert path.is_file()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == len(migrations)
        found = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert tables <= found


@pytest.mark.parametrize(("factory", "name", "migrations", "tables"), STORES)
async def test_a_newer_schema_is_refused(
    tmp_path: Path,
    factory: Callable[[Path], Store],
    name: str,
    migrations: tuple[str, ...],
    tables: set[str],
) -> None:
    path = tmp_path / name
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {len(migrations) + 1}")
    with pytest.raises(RuntimeError, match="newer than this aesp-local"):
        factory(path)


async def test_approvals_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "governance.sqlite3"
    store = SqliteApprovalStore(path)
    await store.create(request("r1", required_approvers=("alice", "bob"), metadata={"k": "v"}))
    await store.create(request("r2", expires_at_ms=5))
    approve = decision("r1", "alice", conditions={"scope": "read"})
    reject = decision("r1", "bob", Verdict.REJECT)
    await store.record_decision(approve, expected_version=1, new_status=ApprovalStatus.PENDING)
    decided = await store.record_decision(
        reject, expected_version=2, new_status=ApprovalStatus.REJECTED
    )
    expired = await store.expire("r2", expected_version=1, at_ms=5)
    revision = await store.revision()
    await store.close()

    reopened = SqliteApprovalStore(path)
    try:
        assert await reopened.get("r1") == decided
        assert await reopened.get("r2") == expired
        assert list(await reopened.decisions("r1")) == [approve, reject]
        assert await reopened.revision() == revision  # a restart must not look like a change
        await reopened.create(request("r3"))
        assert await reopened.revision() > revision  # ... nor reset the counter
        page = await reopened.list(tenant_id="acme", limit=2)
        assert [r.approval_request_id for r in page.items] == ["r1", "r2"]
        rest = await reopened.list(tenant_id="acme", cursor=page.next_cursor)
        assert [r.approval_request_id for r in rest.items] == ["r3"]  # cursors survive too
    finally:
        await reopened.close()


async def test_config_history_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "config.sqlite3"
    store = SqliteConfigStore(path)
    written = [await store.set(entry(value=f"v{n}"), expected_version=n) for n in range(3)]
    await store.close()

    reopened = SqliteConfigStore(path)
    try:
        assert list((await reopened.history("acme", "gateway.rate_limit")).items) == written[::-1]
        assert list(await reopened.changes_since(1)) == written[1:]
        assert await reopened.revision() == written[-1].revision
        fourth = await reopened.set(entry(value="v3"), expected_version=3)
        assert (fourth.version, fourth.revision) == (4, written[-1].revision + 1)
    finally:
        await reopened.close()


@pytest.mark.parametrize(
    ("name", "statement"),
    [
        ("governance.sqlite3", "UPDATE approval_decisions SET decision = 'APPROVE'"),
        ("governance.sqlite3", "DELETE FROM approval_decisions"),
        ("governance.sqlite3", "DELETE FROM approval_requests"),
        ("governance.sqlite3", "UPDATE approval_requests SET artifact_data = x'00'"),
        ("governance.sqlite3", "UPDATE approval_requests SET required_approvers = '[\"me\"]'"),
        ("governance.sqlite3", "UPDATE approval_requests SET status = 'APPROVED'"),
        ("config.sqlite3", "UPDATE config_versions SET value = 'forged'"),
        ("config.sqlite3", "DELETE FROM config_versions"),
    ],
)
async def test_history_cannot_be_rewritten_even_by_raw_sql(
    tmp_path: Path, name: str, statement: str
) -> None:
    # Defence in depth: the stores never issue these, and the schema refuses them anyway. The
    # status update is refused because r1 is already REJECTED (a decided request is final).
    path = tmp_path / name
    if name == "governance.sqlite3":
        approvals = SqliteApprovalStore(path)
        await approvals.create(request("r1"))
        await approvals.record_decision(
            decision("r1", "alice", Verdict.REJECT),
            expected_version=1,
            new_status=ApprovalStatus.REJECTED,
        )
        await approvals.close()
    else:
        settings = SqliteConfigStore(path)
        await settings.set(entry(), expected_version=0)
        await settings.close()
    with sqlite3.connect(path) as conn, pytest.raises(sqlite3.IntegrityError):
        conn.execute(statement)


async def test_artifact_data_altered_on_disk_is_not_handed_out(tmp_path: Path) -> None:
    # The digest is stored beside the data, so approved content changed behind the store's back
    # (the trigger dropped first, as an attacker with file access could) fails loudly on read.
    path = tmp_path / "governance.sqlite3"
    store = SqliteApprovalStore(path)
    await store.create(request("r1", artifact_data=b"the reviewed policy"))
    with sqlite3.connect(path) as conn:
        conn.execute("DROP TRIGGER approval_requests_frozen")
        conn.execute("UPDATE approval_requests SET artifact_data = x'6576696c'")
    try:
        with pytest.raises(ValueError, match="does not match the artifact data"):
            await store.get("r1")
    finally:
        await store.close()


async def test_a_cancelled_decision_finishes_before_the_next_write(tmp_path: Path) -> None:
    # Cancelling the caller must not leave the connection inside the transaction; the next
    # write would then fail or join it.
    store = SqliteApprovalStore(tmp_path / "governance.sqlite3")
    try:
        for i in range(20):
            await store.create(request(f"r{i:02d}"))
            task = asyncio.create_task(
                store.record_decision(
                    decision(f"r{i:02d}", "alice"),
                    expected_version=1,
                    new_status=ApprovalStatus.APPROVED,
                )
            )
            await asyncio.sleep(0)
            task.cancel()
            await store.create(request(f"s{i:02d}"))
            got = await store.get(f"r{i:02d}")
            assert got is not None and got.status is ApprovalStatus.APPROVED
            assert len(await store.decisions(f"r{i:02d}")) == 1
        assert await store.revision() == 60
    finally:
        await store.close()


async def test_hosts_on_one_config_file_agree_on_one_history(tmp_path: Path) -> None:
    # Three Host replicas on one file, each writing on top of what it last read: every write
    # that wins gets the next version, and all three feeds list the same writes in one order.
    path = tmp_path / "config.sqlite3"
    hosts = [SqliteConfigStore(path) for _ in range(3)]
    try:
        results = await asyncio.gather(
            *(
                hosts[i % 3].set(entry("k", f"v{i}", tenant_id=""), expected_version=0)
                for i in range(30)
            ),
            return_exceptions=True,
        )
        assert sum(not isinstance(r, BaseException) for r in results) == 1
        feeds = [list(await h.changes_since(0)) for h in hosts]
        assert feeds[0] == feeds[1] == feeds[2] and len(feeds[0]) == 1
    finally:
        for host in hosts:
            await host.close()
