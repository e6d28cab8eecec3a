"""Conformance kit for the RBAC port (SPEC §3.4, C-32, checklist 155-159).

The store only keeps what an :class:`~aesp.core.rbac.RbacSnapshot` is built from, so these tests
check storage: every field survives, scopes never mix, and ``revision`` tells a Host reliably
when its snapshot is stale (a missed bump would keep a revoked grant alive).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from aesp.core.ports.rbac import RoleStore
from aesp.core.rbac import RbacSnapshot, RoleDefinition


class AbstractRoleStoreConformance:
    """Behaviour every RoleStore must show. Subclasses provide the ``port`` fixture."""

    @pytest.fixture
    def port(self) -> Any:  # pragma: no cover - overridden
        """Yield a fresh, empty RoleStore."""
        raise AssertionError("the adapter's test class must override the 'port' fixture")

    async def test_is_a_role_store(self, port: RoleStore) -> None:
        assert isinstance(port, RoleStore)

    async def test_a_fresh_store_is_empty(self, port: RoleStore) -> None:
        assert list(await port.roles()) == []
        assert dict(await port.assignments()) == {}

    async def test_role_round_trips_every_field(self, port: RoleStore) -> None:
        # SPEC 4 #157: parents must survive, or inheritance silently disappears.
        role = RoleDefinition(
            name="senior-analyst",
            permissions=("tool:search:invoke", "tool:*:read", "aesp:governance:*"),
            parents=("analyst", "auditor"),
            tenant_id="acme",
        )
        await port.put_role(role)
        assert list(await port.roles()) == [role]

    async def test_order_of_permissions_and_parents_is_kept(self, port: RoleStore) -> None:
        role = RoleDefinition("r", ("z:z:z", "a:a:a", "m:m:m"), ("zeta", "alpha"), "acme")
        await port.put_role(role)
        (got,) = await port.roles()
        assert (got.permissions, got.parents) == (role.permissions, role.parents)

    async def test_a_role_with_no_permissions_or_parents_round_trips(self, port: RoleStore) -> None:
        await port.put_role(RoleDefinition("empty"))
        assert list(await port.roles()) == [RoleDefinition("empty", (), (), "")]

    async def test_put_replaces_the_whole_role(self, port: RoleStore) -> None:
        await port.put_role(RoleDefinition("r", ("tool:a:invoke",), ("p",), "acme"))
        await port.put_role(RoleDefinition("r", ("tool:b:invoke",), (), "acme"))
        assert list(await port.roles()) == [RoleDefinition("r", ("tool:b:invoke",), (), "acme")]

    async def test_roles_are_ordered_by_tenant_then_name(self, port: RoleStore) -> None:
        keys = [("beta", "a"), ("", "z"), ("acme", "m"), ("", "b"), ("acme", "c")]
        for tenant, name in keys:
            await port.put_role(RoleDefinition(name, tenant_id=tenant))
        assert [(r.tenant_id, r.name) for r in await port.roles()] == sorted(keys)

    async def test_platform_and_tenant_roles_with_one_name_coexist(self, port: RoleStore) -> None:
        # C-32 / rbac module: a tenant role shadows (and may extend) the platform role.
        platform = RoleDefinition("analyst", ("tool:search:invoke",))
        tenant = RoleDefinition("analyst", ("tool:export:invoke",), ("analyst",), "acme")
        other = RoleDefinition("analyst", ("tool:delete:invoke",), (), "beta")
        for role in (tenant, platform, other):
            await port.put_role(role)
        assert list(await port.roles()) == [platform, tenant, other]
        assert await port.delete_role("acme", "analyst") is True
        assert list(await port.roles()) == [platform, other]

    async def test_delete_reports_whether_the_role_existed(self, port: RoleStore) -> None:
        await port.put_role(RoleDefinition("r", tenant_id="acme"))
        before = await port.revision()
        assert await port.delete_role("beta", "r") is False  # another tenant's role is untouched
        assert await port.delete_role("", "r") is False  # so is the platform scope
        assert await port.delete_role("acme", "nope") is False
        assert await port.revision() == before  # nothing was deleted, so nothing is stale
        assert await port.delete_role("acme", "r") is True
        assert await port.delete_role("acme", "r") is False
        assert list(await port.roles()) == []

    async def test_assignment_round_trips_sorted_and_unique(self, port: RoleStore) -> None:
        await port.set_assignment("alice", tenant_id="acme", roles=["viewer", "analyst", "viewer"])
        assert dict(await port.assignments()) == {("acme", "alice"): ("analyst", "viewer")}

    async def test_assignment_replaces_and_empty_removes(self, port: RoleStore) -> None:
        await port.set_assignment("alice", tenant_id="acme", roles=["analyst", "admin"])
        await port.set_assignment("alice", tenant_id="acme", roles=["viewer"])
        assert dict(await port.assignments()) == {("acme", "alice"): ("viewer",)}
        await port.set_assignment("alice", tenant_id="acme", roles=[])
        assert dict(await port.assignments()) == {}
        await port.set_assignment("nobody", tenant_id="acme", roles=())  # removing nothing is fine
        assert dict(await port.assignments()) == {}

    async def test_assignment_scopes_never_mix(self, port: RoleStore) -> None:
        # A tenant-scoped grant must never leak to another tenant or to the platform scope.
        await port.set_assignment("alice", tenant_id="", roles=["platform-admin"])
        await port.set_assignment("alice", tenant_id="acme", roles=["analyst"])
        await port.set_assignment("alice", tenant_id="beta", roles=["viewer"])
        await port.set_assignment("bob", tenant_id="acme", roles=["viewer"])
        await port.set_assignment("alice", tenant_id="acme", roles=["admin"])
        await port.set_assignment("alice", tenant_id="beta", roles=[])
        assert dict(await port.assignments()) == {
            ("", "alice"): ("platform-admin",),
            ("acme", "alice"): ("admin",),
            ("acme", "bob"): ("viewer",),
        }

    async def test_what_it_returns_builds_a_snapshot(self, port: RoleStore) -> None:
        # The port exists to feed RbacSnapshot.build; its shapes must fit without conversion.
        await port.put_role(RoleDefinition("analyst", ("tool:search:invoke",)))
        await port.put_role(RoleDefinition("senior", ("tool:export:invoke",), ("analyst",), "acme"))
        await port.set_assignment("alice", tenant_id="acme", roles=["senior"])
        await port.set_assignment("bob", tenant_id="", roles=["analyst"])
        # A platform assignment (tenant "") is a plain principal key in the snapshot.
        assignments: dict[str | tuple[str, str], tuple[str, ...]] = {
            (principal if not tenant else (tenant, principal)): names
            for (tenant, principal), names in (await port.assignments()).items()
        }
        snapshot = RbacSnapshot.build(await port.roles(), assignments, version=1)
        search = "tool:search:invoke"
        assert snapshot.decide("alice", tenant_id="acme", permission=search).allowed
        assert snapshot.decide("alice", tenant_id="acme", permission="tool:export:invoke").allowed
        assert not snapshot.decide("alice", tenant_id="beta", permission=search).allowed
        assert snapshot.decide("bob", tenant_id="beta", permission=search).allowed

    async def test_revision_increases_with_every_write(self, port: RoleStore) -> None:
        seen = [await port.revision()]
        writes = (
            port.put_role(RoleDefinition("r", tenant_id="acme")),
            port.put_role(RoleDefinition("r", ("tool:a:invoke",), tenant_id="acme")),
            port.set_assignment("alice", tenant_id="acme", roles=["r"]),
            port.set_assignment("alice", tenant_id="acme", roles=[]),
            port.delete_role("acme", "r"),
        )
        for write in writes:
            await write
            seen.append(await port.revision())
        assert all(a < b for a, b in zip(seen, seen[1:], strict=False)), seen

    async def test_reads_do_not_change_the_revision(self, port: RoleStore) -> None:
        await port.put_role(RoleDefinition("r"))
        await port.set_assignment("alice", tenant_id="", roles=["r"])
        before = await port.revision()
        await port.roles()
        await port.assignments()
        await port.revision()
        assert await port.revision() == before

    async def test_concurrent_writes_lose_nothing(self, port: RoleStore) -> None:
        before = await port.revision()
        count = 40
        await asyncio.gather(
            *(port.put_role(RoleDefinition(f"r{i:02d}", tenant_id="acme")) for i in range(count)),
            *(
                port.set_assignment(f"p{i:02d}", tenant_id="acme", roles=[f"r{i:02d}"])
                for i in range(count)
            ),
        )
        assert [r.name for r in await port.roles()] == [f"r{i:02d}" for i in range(count)]
        assert dict(await port.assignments()) == {
            ("acme", f"p{i:02d}"): (f"r{i:02d}",) for i in range(count)
        }
        assert await port.revision() >= before + 2 * count
