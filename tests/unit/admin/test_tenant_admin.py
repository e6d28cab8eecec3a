"""EnterpriseTenantService as core operations (SPEC §3.4 Tenant Manager, §3.14, C-41).

Every operation is checked for its effect, its permission, its tenant scope and its audit
events, on the in-memory fakes of tests/unit/admin/conftest.py. The fixture here adds tenant
roles to that conftest's roles and an audit log that records which events were appended
durably (suspension must be on stable storage before it is reported done).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass

import pytest

from aesp.core.admin import NOT_FOUND_CODE, TenantAdmin
from aesp.core.audit import AuditEvent, MemoryAuditLog
from aesp.core.control import PLATFORM_PERMISSION, AccessConfig, CallFacts, ControlPlane
from aesp.core.errors import AespError
from aesp.core.manifest import ManifestStore, parse_manifest
from aesp.core.ports.tenancy import TenantStatus
from aesp.core.rbac import RoleDefinition
from aesp.core.security import SecurityContext
from aesp.testing.inmemory import (
    InMemoryIdentityStore,
    InMemoryPolicyStore,
    InMemoryRoleStore,
    InMemoryTenantRegistry,
)
from tests.unit.admin.conftest import GROUPS, LOOKUP, ROLES, TRANSFER, Clock, person

TENANT_ROLES = (
    RoleDefinition("tenant-admin", ("aesp:tenant:*",)),
    RoleDefinition("tenant-reader", ("aesp:tenant:GetTenant",)),
)
TENANT_GROUPS = {"tenant-admins": ("tenant-admin",), "tenant-readers": ("tenant-reader",)}


class DurableAuditLog(MemoryAuditLog):
    """The in-memory log, also remembering the ids of events appended with ``durable=True``."""

    def __init__(self) -> None:
        super().__init__()
        self.durable_ids: set[str] = set()

    async def append(self, event: AuditEvent, *, durable: bool = False) -> None:
        """Record ``event`` and whether the caller waited for stable storage."""
        await super().append(event, durable=durable)
        if durable:
            self.durable_ids.add(event.event_id)


@dataclass
class World:
    """The plane, the tenant operations over it, and what they wrote."""

    plane: ControlPlane
    tenants: TenantAdmin
    audit: DurableAuditLog
    registry: InMemoryTenantRegistry
    clock: Clock
    manifest: ManifestStore

    async def ctx(self, name: str, tenant: str = "acme", *groups: str) -> SecurityContext:
        """The context of ``name@tenant`` (provisions the tenant on first use)."""
        return await self.plane.context(person(name, tenant, *groups), "cid-test")

    async def admin_of(self, tenant: str) -> SecurityContext:
        """A tenant administrator (every ``aesp:tenant:*``, not the platform permission)."""
        return await self.ctx(f"admin-{tenant}", tenant, "tenant-admins")

    async def operator(self, tenant: str = "ops") -> SecurityContext:
        """A platform operator living in ``tenant``."""
        return await self.ctx(f"operator-{tenant}", tenant, "ops")

    def events(self, event_type: str) -> list[AuditEvent]:
        """Audit events of one type, oldest first."""
        return [e for e in self.audit.events() if e.event_type == event_type]


@pytest.fixture
async def world() -> AsyncIterator[World]:
    manifest = ManifestStore(
        parse_manifest({"manifest_version": "1.0.0", "contracts": [TRANSFER, LOOKUP]})
    )
    audit, registry = DurableAuditLog(), InMemoryTenantRegistry()
    plane = ControlPlane(
        identity=InMemoryIdentityStore(),
        roles=InMemoryRoleStore(),
        policies=InMemoryPolicyStore(),
        tenants=registry,
        audit=audit,
        manifest=manifest,
        # A poll interval far beyond the test: every effect seen here is the immediate one.
        access=AccessConfig(
            roles=ROLES + TENANT_ROLES,
            group_roles={**GROUPS, **TENANT_GROUPS},
            refresh_interval_ms=600_000,
        ),
    )
    await plane.start()
    clock = Clock()
    yield World(plane, TenantAdmin(plane, clock_ms=clock), audit, registry, clock, manifest)
    await plane.stop()


async def refused(call: Awaitable[object], code: str) -> AespError:
    with pytest.raises(AespError) as info:
        await call
    assert info.value.code == code, info.value
    return info.value


# ---------------------------------------------------------------- reads


async def test_a_tenant_admin_reads_its_own_tenant(world: World) -> None:
    alice = await world.admin_of("acme")
    tenant = await world.tenants.get_tenant(alice, correlation_id="cid-1")
    assert (tenant.tenant_id, tenant.status) == ("acme", TenantStatus.ACTIVE)
    assert tenant.created_at_ms > 0
    assert await world.tenants.get_tenant(alice, "acme") == tenant
    event = world.events("ADMIN_QUERY")[0]
    assert (event.outcome, event.tenant_id, event.resource) == ("SUCCESS", "acme", "tenant:acme")
    assert event.correlation_id == "cid-1" and event.event_id not in world.audit.durable_ids


async def test_another_tenant_is_refused_alike_whether_it_exists_or_not(world: World) -> None:
    await world.admin_of("globex")  # provisions globex
    alice = await world.admin_of("acme")
    real = await refused(world.tenants.get_tenant(alice, "globex"), "TENANT_ACCESS_DENIED")
    ghost = await refused(world.tenants.get_tenant(alice, "nowhere"), "TENANT_ACCESS_DENIED")
    assert (real.message, real.details) == (ghost.message, ghost.details)
    denials = world.events("AUTHORIZATION_DENIED")
    assert [e.metadata["requested_tenant"] for e in denials] == ["globex", "nowhere"]
    assert {e.tenant_id for e in denials} == {"acme"}  # the prober's trail, not the victim's


async def test_a_platform_operator_reads_any_tenant_and_gets_not_found_for_none(
    world: World,
) -> None:
    await world.admin_of("globex")
    root = await world.operator()
    assert (await world.tenants.get_tenant(root, "globex")).tenant_id == "globex"
    err = await refused(world.tenants.get_tenant(root, "nowhere"), NOT_FOUND_CODE)
    assert err.details == {"reason": "NOT_FOUND", "field": "tenant_id"}
    assert world.events("ADMIN_QUERY")[-1].outcome == "FAILURE"


@pytest.mark.parametrize("rpc", ["get", "suspend", "update"])
async def test_star_names_no_single_tenant(world: World, rpc: str) -> None:
    root = await world.operator()
    calls = {
        "get": lambda: world.tenants.get_tenant(root, "*"),
        "suspend": lambda: world.tenants.suspend_tenant(root, "*"),
        "update": lambda: world.tenants.update_tenant_metadata(root, {}, tenant_id="*"),
    }
    err = await refused(calls[rpc](), "MALFORMED_REQUEST")
    assert err.details["field"] == "tenant_id"
    assert all(t.status is TenantStatus.ACTIVE for t in world.registry.tenants().values())


async def test_a_tenant_admin_lists_only_its_own_tenant(world: World) -> None:
    await world.admin_of("globex")
    alice = await world.admin_of("acme")
    page = await world.tenants.list_tenants(alice)
    assert [t.tenant_id for t in page.items] == ["acme"] and page.next_cursor == ""
    after = await world.tenants.list_tenants(alice, cursor="acme")
    assert list(after.items) == []
    await refused(world.tenants.list_tenants(alice, tenant_id="*"), "TENANT_ACCESS_DENIED")


async def test_a_platform_operator_pages_through_every_tenant(world: World) -> None:
    for tenant in ("acme", "globex", "initech"):
        await world.admin_of(tenant)
    root = await world.operator()
    seen, cursor = [], ""
    for _ in range(10):
        page = await world.tenants.list_tenants(root, tenant_id="*", limit=1, cursor=cursor)
        assert len(page.items) == 1
        seen.append(page.items[0].tenant_id)
        cursor = page.next_cursor
        if not cursor:
            break
    assert seen == ["acme", "globex", "initech", "ops"]
    assert world.events("ADMIN_QUERY")[-1].tenant_id == ""  # a platform-wide read


async def test_each_rpc_needs_its_own_permission(world: World) -> None:
    reader = await world.ctx("rita", "acme", "tenant-readers")
    assert (await world.tenants.get_tenant(reader)).tenant_id == "acme"
    await refused(world.tenants.update_tenant_metadata(reader, {"a": "b"}), "PERMISSION_DENIED")
    await refused(world.tenants.list_tenants(reader), "PERMISSION_DENIED")
    staff = await world.ctx("bob", "acme", "staff")
    await refused(world.tenants.get_tenant(staff), "PERMISSION_DENIED")
    assert world.events("AUTHORIZATION_DENIED")[-1].resource == "aesp:tenant:GetTenant"
    assert world.registry.tenants()["acme"].metadata == {}


# ---------------------------------------------------------------- suspend and resume


async def test_suspension_takes_effect_at_once_and_is_audited_durably(world: World) -> None:
    await world.admin_of("acme")
    await world.admin_of("globex")
    root = await world.operator()
    world.clock.now += 5_000
    tenant = await world.tenants.suspend_tenant(
        root, "acme", justification="incident 42", correlation_id="cid-s"
    )
    assert tenant.status is TenantStatus.SUSPENDED and tenant.updated_at_ms == world.clock.now
    assert world.registry.tenants()["acme"].status is TenantStatus.SUSPENDED
    # No poll has run: the very next admission of acme is refused, globex's is not.
    err = await refused(world.plane.context(person("admin-acme", "acme")), "TENANT_SUSPENDED")
    assert "platform administrator" in err.message
    await refused(
        world.tenants.context(person("admin-acme", "acme"), rpc="ResumeTenant", correlation_id="c"),
        "TENANT_SUSPENDED",
    )
    assert (await world.plane.context(person("admin-globex", "globex"))).tenant_id == "globex"
    (event,) = world.events("TENANT_SUSPEND")
    assert (event.outcome, event.tenant_id, event.principal_id) == (
        "SUCCESS",
        "acme",
        root.principal_id,
    )
    assert event.resource == "tenant:acme" and event.correlation_id == "cid-s"
    assert event.metadata["justification"] == "incident 42"
    assert event.metadata["actor_tenant"] == "ops"
    assert (event.metadata["previous_status"], event.metadata["changed"]) == ("ACTIVE", "true")
    assert event.event_id in world.audit.durable_ids
    # The suspended tenant's own administrator was refused, and that refusal is audited too.
    assert world.events("AUTHORIZATION_DENIED")[-1].metadata["code"] == "TENANT_SUSPENDED"


async def test_suspend_and_resume_are_idempotent(world: World) -> None:
    await world.admin_of("acme")
    root = await world.operator()
    world.clock.now += 1_000
    first = await world.tenants.suspend_tenant(root, "acme")
    world.clock.now += 1_000
    again = await world.tenants.suspend_tenant(root, "acme", justification="still")
    assert again == first  # nothing rewritten, updated_at kept
    assert [e.metadata["changed"] for e in world.events("TENANT_SUSPEND")] == ["true", "false"]
    world.clock.now += 1_000
    resumed = await world.tenants.resume_tenant(root, "acme", justification="fixed")
    assert resumed.status is TenantStatus.ACTIVE and resumed.updated_at_ms == world.clock.now
    assert resumed.created_at_ms == first.created_at_ms
    await world.tenants.resume_tenant(root, "acme")
    assert (await world.plane.context(person("admin-acme", "acme"))).tenant_id == "acme"
    resumes = world.events("TENANT_RESUME")
    assert [e.metadata["changed"] for e in resumes] == ["true", "false"]
    assert resumes[0].metadata["previous_status"] == "SUSPENDED"
    assert all(e.event_id in world.audit.durable_ids for e in resumes)


@pytest.mark.parametrize("rpc", ["suspend_tenant", "resume_tenant"])
async def test_a_tenant_admin_cannot_suspend_or_resume_even_its_own_tenant(
    world: World, rpc: str
) -> None:
    await world.admin_of("globex")
    alice = await world.admin_of("acme")
    operation = getattr(world.tenants, rpc)
    for named in ("", "acme"):
        err = await refused(operation(alice, named), "PERMISSION_DENIED")
        assert err.details["permission"] == PLATFORM_PERMISSION
    await refused(operation(alice, "globex"), "TENANT_ACCESS_DENIED")
    denials = world.events("AUTHORIZATION_DENIED")
    assert [e.metadata["code"] for e in denials] == [
        "PERMISSION_DENIED",
        "PERMISSION_DENIED",
        "TENANT_ACCESS_DENIED",
    ]
    assert {e.tenant_id for e in denials} == {"acme"}
    assert all(t.status is TenantStatus.ACTIVE for t in world.registry.tenants().values())
    kind = "TENANT_SUSPEND" if rpc == "suspend_tenant" else "TENANT_RESUME"
    assert world.events(kind) == []


async def test_a_platform_operator_may_suspend_its_own_tenant_and_another_resumes_it(
    world: World,
) -> None:
    root = await world.operator("ops")
    await world.tenants.suspend_tenant(root, justification="compromised platform tenant")
    await refused(world.plane.context(person("operator-ops", "ops", "ops")), "TENANT_SUSPENDED")
    backup = await world.operator("ops-backup")
    resumed = await world.tenants.resume_tenant(backup, "ops")
    assert resumed.status is TenantStatus.ACTIVE
    assert (await world.operator("ops")).tenant_id == "ops"


async def test_suspending_an_unknown_tenant_is_not_found_and_audited(world: World) -> None:
    root = await world.operator()
    await refused(world.tenants.suspend_tenant(root, "nowhere"), NOT_FOUND_CODE)
    (event,) = world.events("TENANT_SUSPEND")
    assert (event.outcome, event.metadata["code"]) == ("FAILURE", NOT_FOUND_CODE)
    assert "nowhere" not in world.registry.tenants()


# ---------------------------------------------------------------- metadata


async def test_metadata_is_replaced_and_read_by_policies_at_once(world: World) -> None:
    alice = await world.admin_of("acme")
    contract = world.manifest.current.contracts["lookup"]
    first = await world.tenants.update_tenant_metadata(alice, {"region": "eu", "tier": "gold"})
    assert first.metadata == {"region": "eu", "tier": "gold"}
    assert world.plane.activation(alice, contract, CallFacts()).organization == {
        "region": "eu",
        "tier": "gold",
    }
    world.clock.now += 1_000
    second = await world.tenants.update_tenant_metadata(alice, {"region": "us"})
    assert second.metadata == {"region": "us"} and second.updated_at_ms == world.clock.now
    assert world.plane.activation(alice, contract, CallFacts()).organization == {"region": "us"}
    updates = world.events("TENANT_UPDATE")
    assert [e.metadata["keys"] for e in updates] == ["region,tier", "region"]
    assert [e.metadata["removed_keys"] for e in updates] == ["", "tier"]
    assert all(e.event_id in world.audit.durable_ids for e in updates)
    for event in updates:  # keys are recorded, values never are
        assert not {"eu", "us", "gold"} & set(event.metadata.values())


async def test_metadata_of_another_tenant_needs_the_platform(world: World) -> None:
    await world.admin_of("globex")
    alice = await world.admin_of("acme")
    root = await world.operator()
    await refused(
        world.tenants.update_tenant_metadata(alice, {"x": "1"}, tenant_id="globex"),
        "TENANT_ACCESS_DENIED",
    )
    assert world.registry.tenants()["globex"].metadata == {}
    done = await world.tenants.update_tenant_metadata(root, {"x": "1"}, tenant_id="globex")
    assert done.metadata == {"x": "1"}
    event = world.events("TENANT_UPDATE")[-1]
    assert (event.tenant_id, event.metadata["actor_tenant"]) == ("globex", "ops")


@pytest.mark.parametrize(
    "metadata",
    [
        {"": "empty key"},
        {"k" * 129: "v"},
        {"k": "v" * 1025},
        {f"k{i}": "v" for i in range(65)},
    ],
    ids=["empty-key", "long-key", "long-value", "too-many"],
)
async def test_metadata_outside_the_bounds_is_refused(
    world: World, metadata: dict[str, str]
) -> None:
    alice = await world.admin_of("acme")
    await world.tenants.update_tenant_metadata(alice, {"kept": "yes"})
    err = await refused(world.tenants.update_tenant_metadata(alice, metadata), "MALFORMED_REQUEST")
    assert err.details["field"] == "metadata"
    assert world.registry.tenants()["acme"].metadata == {"kept": "yes"}
    assert [e.outcome for e in world.events("TENANT_UPDATE")] == ["SUCCESS", "FAILURE"]


async def test_an_edge_refusal_is_audited_once_with_the_rpcs_event_type(world: World) -> None:
    root = await world.operator()
    exc = AespError("MALFORMED_REQUEST", "bad request", details={"field": "x"})
    await world.tenants.record_refusal(root, "SuspendTenant", exc, correlation_id="c")
    await world.tenants.record_refusal(root, "SuspendTenant", exc, correlation_id="c")
    (event,) = world.events("TENANT_SUSPEND")
    assert (event.outcome, event.metadata["code"]) == ("FAILURE", "MALFORMED_REQUEST")
