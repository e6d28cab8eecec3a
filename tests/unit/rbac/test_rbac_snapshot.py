"""RBAC snapshots: validation, inheritance, tenant scoping, atomic swaps (items 155, 157)."""

from __future__ import annotations

import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aesp.core.rbac import RbacSnapshot, RoleDefinition, VersionedSnapshot


def snap(
    *roles: RoleDefinition, assignments: dict[str, tuple[str, ...]] | None = None
) -> RbacSnapshot:
    return RbacSnapshot.build(roles, assignments or {}, version=1)


# ---------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("roles", "message"),
    [
        ([RoleDefinition("a", parents=("a",))], r"cycle: a -> a"),
        (
            [RoleDefinition("a", parents=("b",)), RoleDefinition("b", parents=("a",))],
            r"cycle: a -> b -> a",
        ),
        (
            [
                RoleDefinition("a", parents=("b",)),
                RoleDefinition("b", parents=("c",)),
                RoleDefinition("c", parents=("a",)),
            ],
            r"cycle: a -> b -> c -> a",
        ),
        (
            [
                RoleDefinition("root"),
                RoleDefinition("x", parents=("root", "y")),
                RoleDefinition("y", parents=("z",)),
                RoleDefinition("z", parents=("x",)),
            ],
            r"cycle: x -> y -> z -> x",
        ),
        (
            [
                RoleDefinition("a", parents=("b",), tenant_id="acme"),
                RoleDefinition("b", parents=("a",), tenant_id="acme"),
            ],
            r"cycle: acme/a -> acme/b -> acme/a",
        ),
        ([RoleDefinition("a", parents=("a",), tenant_id="acme")], r"cycle: acme/a -> acme/a"),
        ([RoleDefinition("a", parents=("ghost",))], r"role a names unknown parent role 'ghost'"),
        (
            [RoleDefinition("a", parents=("t",)), RoleDefinition("t", tenant_id="acme")],
            r"role a names unknown parent role 't'",  # a platform role cannot inherit a tenant's
        ),
        ([RoleDefinition("a"), RoleDefinition("a")], r"role a is defined twice"),
        ([RoleDefinition("bad name")], r"role name 'bad name'"),
        ([RoleDefinition("")], r"role name ''"),
        ([RoleDefinition("a", ("tool:x",))], r"role a: permission 'tool:x' must be"),
        ([RoleDefinition("a", ("tool:x:invoke:extra",))], r"must be <resource>:<name>:<action>"),
        ([RoleDefinition("a", ("tool::invoke",))], r"permission 'tool::invoke'"),
        ([RoleDefinition("a", ("tool:get_*:invoke",))], r"each segment a name or '\*'"),
        ([RoleDefinition("a", ("tool:x:invoke ",))], r"must be"),
    ],
)
def test_build_rejects(roles: list[RoleDefinition], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        snap(*roles)


def test_cycle_message_names_the_whole_path() -> None:
    roles = [RoleDefinition(f"r{i}", parents=(f"r{(i + 1) % 4}",)) for i in range(4)]
    with pytest.raises(ValueError, match=r"r0 -> r1 -> r2 -> r3 -> r0"):
        snap(*roles)


def test_a_diamond_is_not_a_cycle() -> None:
    s = snap(
        RoleDefinition("base", ("doc:*:read",)),
        RoleDefinition("left", parents=("base",)),
        RoleDefinition("right", parents=("base",)),
        RoleDefinition("top", parents=("left", "right")),
        assignments={"p": ("top",)},
    )
    assert s.effective_roles("p", tenant_id="t") == {"top", "left", "right", "base"}


# ---------------------------------------------------------------- inheritance (item 157)


def test_item_157_child_role_has_parent_permissions_transitively() -> None:
    s = snap(
        RoleDefinition("viewer", ("tool:get_weather:invoke",)),
        RoleDefinition("analyst", ("tool:search:invoke",), ("viewer",)),
        RoleDefinition("senior-analyst", ("report:q3:read",), ("analyst",)),
        assignments={"alice": ("senior-analyst",), "bob": ("viewer",)},
    )
    assert s.effective_permissions("alice", tenant_id="acme") == (
        "report:q3:read",
        "tool:get_weather:invoke",
        "tool:search:invoke",
    )
    assert s.decide("alice", tenant_id="acme", permission="tool:get_weather:invoke").allowed
    # Inheritance is one-way: the parent does not get the child's permissions.
    bob = s.decide("bob", tenant_id="acme", permission="tool:search:invoke")
    assert (bob.allowed, bob.code, bob.subcode) == (
        False,
        "PERMISSION_DENIED",
        "INSUFFICIENT_PERMISSIONS",
    )


def test_effective_roles_include_ancestors_but_not_descendants() -> None:
    s = snap(
        RoleDefinition("analyst"),
        RoleDefinition("senior-analyst", parents=("analyst",)),
        assignments={"alice": ("senior-analyst",), "bob": ("analyst",)},
    )
    assert s.effective_roles("alice", tenant_id="t") == {"senior-analyst", "analyst"}
    assert s.effective_roles("bob", tenant_id="t") == {"analyst"}


# ---------------------------------------------------------------- tenant scoping


TENANT_ROLES = (
    RoleDefinition("analyst", ("tool:search:invoke",)),  # platform
    RoleDefinition("analyst", ("tool:transfer:invoke",), ("analyst",), tenant_id="acme"),
    RoleDefinition("auditor", ("audit:log:read",), tenant_id="globex"),
)


@pytest.mark.parametrize(
    ("tenant", "permission", "allowed"),
    [
        ("acme", "tool:transfer:invoke", True),  # acme's own analyst role
        ("acme", "tool:search:invoke", True),  # ... which extends the platform analyst
        ("globex", "tool:search:invoke", True),  # platform analyst elsewhere
        ("globex", "tool:transfer:invoke", False),  # acme's grant does not leak
        ("initech", "audit:log:read", False),  # globex's role is invisible to initech
    ],
)
def test_roles_are_tenant_scoped(tenant: str, permission: str, allowed: bool) -> None:
    s = snap(*TENANT_ROLES, assignments={"p": ("analyst", "auditor")})
    decision = s.decide("p", tenant_id=tenant, permission=permission)
    assert decision.allowed is allowed
    if not allowed:
        assert decision.code == "PERMISSION_DENIED"


def test_roles_hint_adds_verified_roles_and_unknown_hints_grant_nothing() -> None:
    s = snap(RoleDefinition("analyst", ("tool:*:invoke",)))
    assert s.decide(
        "idp-user", tenant_id="t", permission="tool:a:invoke", roles_hint=("analyst",)
    ).allowed
    denied = s.decide("idp-user", tenant_id="t", permission="tool:a:invoke", roles_hint=("ghost",))
    assert (denied.allowed, denied.code) == (False, "PERMISSION_DENIED")


def test_empty_snapshot_denies_everything() -> None:
    decision = RbacSnapshot.empty().decide("anyone", tenant_id="t", permission="tool:a:invoke")
    assert (decision.allowed, decision.code, decision.matched_rule) == (
        False,
        "PERMISSION_DENIED",
        "default-deny",
    )
    assert "holds no role" in decision.reason


# ---------------------------------------------------------------- VersionedSnapshot


def test_versioned_snapshot_rejects_stale_versions() -> None:
    holder = VersionedSnapshot(RbacSnapshot.empty(version=5))
    with pytest.raises(ValueError, match="version 5 is not newer than 5"):
        holder.swap(RbacSnapshot.empty(version=5))
    with pytest.raises(ValueError, match="version 4 is not newer than 5"):
        holder.swap(RbacSnapshot.empty(version=4))
    new = RbacSnapshot.build([RoleDefinition("a", ("x:y:z",))], {"p": ("a",)}, version=6)
    assert holder.swap(new).version == 5
    assert holder.current is new


def test_readers_see_whole_snapshots_during_concurrent_swaps() -> None:
    """A reader that took .current decides on one version, never a mix."""
    holder = VersionedSnapshot(RbacSnapshot.empty(version=0))
    errors: list[str] = []

    def writer() -> None:
        for v in range(1, 300):
            perm = "tool:even:invoke" if v % 2 == 0 else "tool:odd:invoke"
            holder.swap(
                RbacSnapshot.build([RoleDefinition("r", (perm,))], {"p": ("r",)}, version=v)
            )

    def reader() -> None:
        for _ in range(3000):
            current = holder.current
            even = current.decide("p", tenant_id="t", permission="tool:even:invoke").allowed
            odd = current.decide("p", tenant_id="t", permission="tool:odd:invoke").allowed
            if current.version and even == odd:
                errors.append(f"version {current.version}: even={even} odd={odd}")

    threads = [threading.Thread(target=writer), threading.Thread(target=reader)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


# ---------------------------------------------------------------- property: random DAGs


@st.composite
def role_dags(draw: st.DrawFn) -> tuple[list[RoleDefinition], int, int]:
    """Random acyclic hierarchies: role i may only inherit from roles with a smaller index."""
    n = draw(st.integers(min_value=1, max_value=12))
    roles = []
    for i in range(n):
        parents = draw(st.sets(st.integers(0, i - 1), max_size=3)) if i else set()
        roles.append(
            RoleDefinition(f"r{i}", (f"perm:r{i}:use",), tuple(f"r{p}" for p in sorted(parents)))
        )
    holder = draw(st.integers(0, n - 1))
    other = draw(st.integers(0, n - 1))
    return roles, holder, other


def _ancestors(roles: list[RoleDefinition], index: int) -> set[int]:
    seen = {index}
    stack = [index]
    while stack:
        for parent in roles[stack.pop()].parents:
            p = int(parent[1:])
            if p not in seen:
                seen.add(p)
                stack.append(p)
    return seen


@settings(max_examples=200, deadline=None)
@given(role_dags())
def test_property_ancestor_permissions_are_exactly_the_effective_ones(
    dag: tuple[list[RoleDefinition], int, int],
) -> None:
    roles, holder, other = dag
    s = RbacSnapshot.build(roles, {"p": (f"r{holder}",)}, version=1)
    decision = s.decide("p", tenant_id="t", permission=f"perm:r{other}:use")
    assert decision.allowed is (other in _ancestors(roles, holder))
    assert s.effective_roles("p", tenant_id="t") == {f"r{i}" for i in _ancestors(roles, holder)}


@settings(max_examples=100, deadline=None)
@given(role_dags(), st.integers(0, 11))
def test_property_any_back_edge_is_rejected_as_a_cycle(
    dag: tuple[list[RoleDefinition], int, int], extra: int
) -> None:
    roles, holder, _ = dag
    # Make an ancestor of `holder` inherit from `holder`: always a cycle (or a self-loop).
    target = sorted(_ancestors(roles, holder))[extra % len(_ancestors(roles, holder))]
    looped = [
        RoleDefinition(r.name, r.permissions, (*r.parents, f"r{holder}"))
        if r.name == f"r{target}"
        else r
        for r in roles
    ]
    with pytest.raises(ValueError, match=r"role inheritance cycle: .* -> "):
        RbacSnapshot.build(looped, {}, version=1)
