"""The SQLite RoleStore and PolicyStore pass their conformance kits on real files, migrate by
``PRAGMA user_version``, keep everything across a restart, and stay consistent when two Hosts
write the same file."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from aesp_local import policies, roles
from aesp_local.policies import SqlitePolicyStore
from aesp_local.roles import SqliteRoleStore

from aesp.core.policy.model import Effect
from aesp.core.ports.policy import VersionExistsError
from aesp.core.rbac import RoleDefinition
from aesp.testing.conformance.policy import AbstractPolicyStoreConformance, policy
from aesp.testing.conformance.rbac import AbstractRoleStoreConformance

Store = SqliteRoleStore | SqlitePolicyStore
STORES: list[tuple[Callable[[Path], Store], tuple[str, ...]]] = [
    (SqliteRoleStore, roles.MIGRATIONS),
    (SqlitePolicyStore, policies.MIGRATIONS),
]


class TestSqliteRoleStore(AbstractRoleStoreConformance):
    @pytest.fixture
    async def port(self, tmp_path: Path) -> AsyncIterator[SqliteRoleStore]:
        store = SqliteRoleStore(tmp_path / "roles.sqlite3")
        yield store
        await store.close()


class TestSqlitePolicyStore(AbstractPolicyStoreConformance):
    @pytest.fixture
    async def port(self, tmp_path: Path) -> AsyncIterator[SqlitePolicyStore]:
        store = SqlitePolicyStore(tmp_path / "policies.sqlite3")
        yield store
        await store.close()


@pytest.mark.parametrize(("factory", "migrations"), STORES)
async def test_file_is_created_on_first_start_and_schema_versioned(
    tmp_path: Path, factory: Callable[[Path], Store], migrations: tuple[str, ...]
) -> None:
    path = tmp_path / "sub" / "store.sqlite3"
    store = factory(path)
    assert await store.revision() == 0
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


async def test_roles_and_assignments_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "roles.sqlite3"
    store = SqliteRoleStore(path)
    role = RoleDefinition("senior", ("tool:*:invoke",), ("analyst",), "acme")
    await store.put_role(role)
    await store.set_assignment("alice", tenant_id="", roles=["senior"])
    revision = await store.revision()
    await store.close()

    reopened = SqliteRoleStore(path)
    try:
        assert list(await reopened.roles()) == [role]
        assert dict(await reopened.assignments()) == {("", "alice"): ("senior",)}
        assert await reopened.revision() == revision  # a restart must not look like a change
        await reopened.delete_role("acme", "senior")
        assert await reopened.revision() > revision  # ... nor reset the counter
    finally:
        await reopened.close()


async def test_policy_versions_and_deletions_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "policies.sqlite3"
    store = SqlitePolicyStore(path)
    first = await store.add_version(policy(effect="audit"), created_by="alice", at_ms=1)
    await store.add_version(policy(version="1.1.0"), created_by="bob", at_ms=2)
    await store.delete("acme", "p", at_ms=3)
    revision = await store.revision()
    await store.close()

    reopened = SqlitePolicyStore(path)
    try:
        got = await reopened.get("acme", "p", "1.0.0")
        assert got is not None and got.definition.effect is Effect.AUDIT
        assert got == type(first)(first.definition, first.revision, 1, "alice", deleted=True)
        assert [s.definition.version for s in await reopened.versions("acme", "p")] == [
            "1.0.0",
            "1.1.0",
        ]
        assert list(await reopened.active()) == []
        assert await reopened.revision() == revision
        again = await reopened.add_version(policy(version="2.0.0"), created_by="a", at_ms=4)
        assert again.revision > revision
    finally:
        await reopened.close()


async def test_two_hosts_on_one_role_file_lose_no_write(tmp_path: Path) -> None:
    # Two Hosts share the file: each write and its revision bump must be one transaction, or a
    # Host could miss a change (and keep serving a revoked grant) forever.
    path = tmp_path / "roles.sqlite3"
    one, two = SqliteRoleStore(path), SqliteRoleStore(path)
    try:
        await asyncio.gather(
            *(one.put_role(RoleDefinition(f"a{i:02d}")) for i in range(25)),
            *(two.put_role(RoleDefinition(f"b{i:02d}")) for i in range(25)),
            *(two.set_assignment(f"p{i}", tenant_id="acme", roles=["a00"]) for i in range(10)),
        )
        assert len(await one.roles()) == len(await two.roles()) == 50
        assert len(await one.assignments()) == 10
        assert await one.revision() == await two.revision() == 60
    finally:
        await one.close()
        await two.close()


async def test_hosts_on_one_policy_file_store_every_version_once(tmp_path: Path) -> None:
    # add_version reads (does the version exist?) before it writes; unless the transaction takes
    # the write lock up front, Hosts racing on one file fail with "database is locked".
    path = tmp_path / "policies.sqlite3"
    hosts = [SqlitePolicyStore(path) for _ in range(3)]
    try:
        results = await asyncio.gather(
            *(hosts[i % 3].add_version(policy(), created_by="x", at_ms=1) for i in range(9)),
            *(
                hosts[i % 3].add_version(policy(version=f"2.{i}.0"), created_by="x", at_ms=1)
                for i in range(90)
            ),
            return_exceptions=True,
        )
        failures = [r for r in results if isinstance(r, BaseException)]
        assert len(failures) == 8, failures[:3]
        assert all(isinstance(f, VersionExistsError) for f in failures), failures[:3]
        assert len(await hosts[1].versions("acme", "p")) == 91
        assert {await h.revision() for h in hosts} == {91}
    finally:
        for host in hosts:
            await host.close()


@pytest.mark.parametrize("cursor", ["nonsense", '["only-one"]', "[1, 2]", '{"a": "b"}'])
async def test_a_cursor_it_did_not_issue_is_refused(tmp_path: Path, cursor: str) -> None:
    store = SqlitePolicyStore(tmp_path / "policies.sqlite3")
    try:
        with pytest.raises(ValueError, match="was not returned by list_latest"):
            await store.list_latest(tenant_id=None, cursor=cursor)
    finally:
        await store.close()
