"""Conformance kit for the Policy port (SPEC §3.12, C-33, checklist 160-164).

What must hold on every cloud: versions are immutable and stay readable (item 164), the latest
version is the most recent write, a tenant only ever finds its own policies (C-33), a deleted or
disabled policy is never handed to the engine, and ``revision`` moves with every write so Hosts
recompile (item 160: every call is evaluated against the current set).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from aesp.core.policy.model import Effect, PolicyDefinition
from aesp.core.ports.policy import PolicyStore, StoredPolicy, VersionExistsError


def policy(
    policy_id: str = "p", version: str = "1.0.0", tenant_id: str = "acme", **fields: Any
) -> PolicyDefinition:
    """A valid definition; ``fields`` override any other attribute."""
    values: dict[str, Any] = {
        "name": f"{policy_id} policy",
        "applies_to": ("search",),
        "effect": Effect.DENY,
        "condition": "request.user.mfa_verified == false",
    }
    values.update(fields)
    return PolicyDefinition(policy_id=policy_id, version=version, tenant_id=tenant_id, **values)


async def _all_pages(
    port: PolicyStore, *, tenant_id: str | None, limit: int, include_deleted: bool = False
) -> list[list[StoredPolicy]]:
    pages: list[list[StoredPolicy]] = []
    cursor = ""
    while True:
        page = await port.list_latest(
            tenant_id=tenant_id, include_deleted=include_deleted, limit=limit, cursor=cursor
        )
        pages.append(list(page.items))
        assert len(page.items) <= limit
        assert len(pages) <= 100, "list_latest never returned an empty next_cursor"
        if not page.next_cursor:
            return pages
        cursor = page.next_cursor


def _keys(items: list[StoredPolicy]) -> list[tuple[str, str]]:
    return [(s.definition.tenant_id, s.definition.policy_id) for s in items]


class AbstractPolicyStoreConformance:
    """Behaviour every PolicyStore must show. Subclasses provide the ``port`` fixture."""

    @pytest.fixture
    def port(self) -> Any:  # pragma: no cover - overridden
        """Yield a fresh, empty PolicyStore."""
        raise AssertionError("the adapter's test class must override the 'port' fixture")

    async def test_is_a_policy_store(self, port: PolicyStore) -> None:
        assert isinstance(port, PolicyStore)

    async def test_a_fresh_store_is_empty(self, port: PolicyStore) -> None:
        assert await port.get("acme", "p") is None
        assert list(await port.versions("acme", "p")) == []
        page = await port.list_latest(tenant_id=None, include_deleted=True)
        assert (list(page.items), page.next_cursor) == ([], "")
        assert list(await port.active()) == []

    async def test_a_version_round_trips_every_field(self, port: PolicyStore) -> None:
        definition = policy(
            "pii-guard",
            "2.3.4",
            "acme",
            name="PII guard — Zürich",
            applies_to=("tool:export", "search"),
            actions=("invoke", "stream"),
            effect=Effect.AUDIT,
            condition='request.resource.name == "export" && "PII" in request.resource.compliance_tags',
            enabled=False,
            description="Audits exports of PII; owner: ops@acme.example",
        )
        stored = await port.add_version(definition, created_by="alice", at_ms=1_700_000_000_123)
        assert stored.definition == definition
        assert (stored.created_by, stored.created_at_ms, stored.deleted) == (
            "alice",
            1_700_000_000_123,
            False,
        )
        assert await port.get("acme", "pii-guard", "2.3.4") == stored
        assert await port.get("acme", "pii-guard") == stored
        assert list(await port.versions("acme", "pii-guard")) == [stored]

    async def test_require_approval_and_its_parameters_round_trip(self, port: PolicyStore) -> None:
        # REQUIRE_APPROVAL reads its approvers from parameters: losing them would hold every
        # matching call with no one able to approve it.
        parameters = {
            "approvers": "p|bob@acme, role:finance",
            "min_approvals": "1",
            "approval_ttl_ms": "60000",
            "note": 'Zürich — "quoted", {braces}',
        }
        definition = policy(
            "big-transfers",
            effect="require_approval",
            condition="request.action == 'invoke'",
            parameters=parameters,
        )
        stored = await port.add_version(definition, created_by="alice", at_ms=1)
        parameters["approvers"] = "mallory"  # the caller's dict changes after the write
        got = await port.get("acme", "big-transfers")
        (active,) = await port.active()
        page = await port.list_latest(tenant_id="acme")
        for d in (stored.definition, got and got.definition, active, page.items[0].definition):
            assert d is not None and d.effect is Effect.REQUIRE_APPROVAL
            assert dict(d.parameters) == {
                "approvers": "p|bob@acme, role:finance",
                "min_approvals": "1",
                "approval_ttl_ms": "60000",
                "note": 'Zürich — "quoted", {braces}',
            }

    async def test_a_policy_without_parameters_reads_back_empty(self, port: PolicyStore) -> None:
        await port.add_version(policy(), created_by="alice", at_ms=1)
        got = await port.get("acme", "p")
        assert got is not None and dict(got.definition.parameters) == {}

    async def test_a_string_effect_comes_back_as_an_effect(self, port: PolicyStore) -> None:
        # The engine compiles "deny" as DENY; readers must get one type back whatever was given.
        stored = await port.add_version(policy(effect="deny"), created_by="alice", at_ms=1)
        got = await port.get("acme", "p")
        (active,) = await port.active()
        assert stored.definition.effect is Effect.DENY
        assert got is not None and got.definition.effect is Effect.DENY
        assert active.effect is Effect.DENY
        assert got.definition == policy(effect=Effect.DENY)

    async def test_an_unknown_effect_is_refused_and_nothing_stored(self, port: PolicyStore) -> None:
        before = await port.revision()
        with pytest.raises(ValueError, match="effect"):
            await port.add_version(policy(effect="BLOCK"), created_by="alice", at_ms=1)
        assert await port.get("acme", "p") is None
        assert await port.revision() == before

    async def test_versions_are_immutable(self, port: PolicyStore) -> None:
        # SPEC 4 #164: "UpdatePolicy creates a new version. The old version is kept".
        first = await port.add_version(policy(condition="true"), created_by="alice", at_ms=1)
        before = await port.revision()
        with pytest.raises(VersionExistsError, match="1.0.0"):
            await port.add_version(policy(condition="false"), created_by="mallory", at_ms=2)
        assert await port.get("acme", "p", "1.0.0") == first
        assert list(await port.versions("acme", "p")) == [first]
        assert await port.revision() == before

    async def test_one_version_string_is_distinct_per_policy_and_tenant(
        self, port: PolicyStore
    ) -> None:
        for tenant, policy_id in (("acme", "p"), ("acme", "q"), ("beta", "p"), ("", "p")):
            await port.add_version(policy(policy_id, "1.0.0", tenant), created_by="a", at_ms=1)
        for tenant, policy_id in (("acme", "p"), ("acme", "q"), ("beta", "p"), ("", "p")):
            got = await port.get(tenant, policy_id, "1.0.0")
            assert got is not None
            assert (got.definition.tenant_id, got.definition.policy_id) == (tenant, policy_id)

    async def test_latest_is_the_most_recent_write_not_the_highest_version(
        self, port: PolicyStore
    ) -> None:
        # A rollback is published as a new write of older content (SPEC §3.15), so recency wins.
        await port.add_version(policy(version="2.0.0"), created_by="a", at_ms=1)
        rollback = await port.add_version(policy(version="1.5.0"), created_by="a", at_ms=2)
        assert await port.get("acme", "p") == rollback
        page = await port.list_latest(tenant_id="acme")
        assert list(page.items) == [rollback]
        assert list(await port.active()) == [rollback.definition]

    async def test_versions_are_listed_oldest_first(self, port: PolicyStore) -> None:
        order = ["1.0.0", "0.9.0", "2.0.0", "1.1.0"]
        stored = [
            await port.add_version(policy(version=v), created_by="a", at_ms=10 - i)
            for i, v in enumerate(order)
        ]
        versions = list(await port.versions("acme", "p"))
        assert versions == stored
        assert [s.definition.version for s in versions] == order
        revisions = [s.revision for s in versions]
        assert revisions == sorted(set(revisions))
        for s in stored:
            assert await port.get("acme", "p", s.definition.version) == s
        assert await port.get("acme", "p", "9.9.9") is None

    async def test_another_tenants_policy_is_not_found(self, port: PolicyStore) -> None:
        # C-33: policies are tenant-scoped; a wrong tenant gets "not found", never the policy.
        await port.add_version(policy("p", tenant_id="acme"), created_by="a", at_ms=1)
        await port.add_version(policy("shared", tenant_id=""), created_by="a", at_ms=1)
        for tenant, policy_id in (("beta", "p"), ("", "p"), ("acme", "shared")):
            assert await port.get(tenant, policy_id) is None
            assert await port.get(tenant, policy_id, "1.0.0") is None
            assert list(await port.versions(tenant, policy_id)) == []
            assert await port.delete(tenant, policy_id, at_ms=2) is False
        assert list((await port.list_latest(tenant_id="beta")).items) == []
        got = await port.get("acme", "p")
        assert got is not None and got.deleted is False

    async def test_list_pages_without_gaps_or_repeats(self, port: PolicyStore) -> None:
        keys = [(("", "acme", "beta")[i % 3], f"policy-{i:02d}") for i in range(25)]
        await asyncio.gather(
            *(port.add_version(policy(p, tenant_id=t), created_by="a", at_ms=1) for t, p in keys)
        )
        pages = await _all_pages(port, tenant_id=None, limit=10)
        assert [len(p) for p in pages] == [10, 10, 5]
        assert [k for page in pages for k in _keys(page)] == sorted(keys)

    async def test_list_filters_by_tenant(self, port: PolicyStore) -> None:
        keys = [(("", "acme", "beta")[i % 3], f"policy-{i:02d}") for i in range(25)]
        for t, p in keys:
            await port.add_version(policy(p, tenant_id=t), created_by="a", at_ms=1)
        for tenant in ("", "acme", "beta"):
            pages = await _all_pages(port, tenant_id=tenant, limit=3)
            assert [k for page in pages for k in _keys(page)] == sorted(
                k for k in keys if k[0] == tenant
            )
        assert list((await port.list_latest(tenant_id="nobody")).items) == []

    async def test_cursor_is_unambiguous_for_ids_with_separators(self, port: PolicyStore) -> None:
        # Policy ids may contain ':' (compile_policy allows it); a cursor that joins the pair with
        # a separator would confuse ("a", "b:c") with ("a:b", "c") and skip or repeat policies.
        keys = [("a", "b:c"), ("a:b", "c"), ("a", "b"), ("a:b", "a"), ("a", "b/c"), ("a/b", "c")]
        for t, p in keys:
            await port.add_version(policy(p, tenant_id=t), created_by="a", at_ms=1)
        pages = await _all_pages(port, tenant_id=None, limit=1)
        assert [k for page in pages for k in _keys(page)] == sorted(keys)

    async def test_list_shows_the_latest_version_of_each_policy(self, port: PolicyStore) -> None:
        await port.add_version(policy("p", "1.0.0"), created_by="a", at_ms=1)
        latest_p = await port.add_version(policy("p", "1.1.0"), created_by="a", at_ms=2)
        latest_q = await port.add_version(policy("q", "3.0.0"), created_by="a", at_ms=3)
        page = await port.list_latest(tenant_id="acme")
        assert list(page.items) == [latest_p, latest_q]

    async def test_delete_hides_the_policy_but_keeps_every_version(self, port: PolicyStore) -> None:
        await port.add_version(policy(version="1.0.0"), created_by="a", at_ms=1)
        await port.add_version(policy(version="1.1.0"), created_by="a", at_ms=2)
        await port.add_version(policy("q"), created_by="a", at_ms=3)
        assert await port.delete("acme", "p", at_ms=4) is True
        assert _keys(list((await port.list_latest(tenant_id="acme")).items)) == [("acme", "q")]
        assert [d.policy_id for d in await port.active()] == ["q"]
        with_deleted = (await port.list_latest(tenant_id="acme", include_deleted=True)).items
        assert [(s.definition.version, s.deleted) for s in with_deleted] == [
            ("1.1.0", True),
            ("1.0.0", False),
        ]
        versions = await port.versions("acme", "p")
        assert [(s.definition.version, s.deleted) for s in versions] == [
            ("1.0.0", True),
            ("1.1.0", True),
        ]
        latest, old = await port.get("acme", "p"), await port.get("acme", "p", "1.0.0")
        assert latest is not None and (latest.definition.version, latest.deleted) == ("1.1.0", True)
        assert old is not None and old.deleted is True

    async def test_delete_reports_whether_it_changed_anything(self, port: PolicyStore) -> None:
        await port.add_version(policy(), created_by="a", at_ms=1)
        assert await port.delete("acme", "unknown", at_ms=2) is False
        assert await port.delete("acme", "p", at_ms=2) is True
        before = await port.revision()
        assert await port.delete("acme", "p", at_ms=3) is False
        assert await port.revision() == before

    async def test_paging_skips_deleted_policies_without_gaps(self, port: PolicyStore) -> None:
        ids = [f"p{i:02d}" for i in range(12)]
        for p in ids:
            await port.add_version(policy(p), created_by="a", at_ms=1)
        for p in ids[::3]:
            assert await port.delete("acme", p, at_ms=2)
        live = await _all_pages(port, tenant_id="acme", limit=2)
        assert [k[1] for page in live for k in _keys(page)] == [p for p in ids if p not in ids[::3]]
        everything = await _all_pages(port, tenant_id="acme", limit=5, include_deleted=True)
        assert [k[1] for page in everything for k in _keys(page)] == ids

    async def test_adding_a_version_undeletes_the_policy(self, port: PolicyStore) -> None:
        await port.add_version(policy(version="1.0.0"), created_by="a", at_ms=1)
        await port.delete("acme", "p", at_ms=2)
        revived = await port.add_version(policy(version="2.0.0"), created_by="b", at_ms=3)
        assert revived.deleted is False
        assert await port.get("acme", "p") == revived
        assert [s.deleted for s in await port.versions("acme", "p")] == [False, False]
        assert list((await port.list_latest(tenant_id="acme")).items) == [revived]
        assert list(await port.active()) == [revived.definition]

    async def test_a_refused_duplicate_does_not_undelete(self, port: PolicyStore) -> None:
        await port.add_version(policy(), created_by="a", at_ms=1)
        await port.delete("acme", "p", at_ms=2)
        with pytest.raises(VersionExistsError):
            await port.add_version(policy(), created_by="a", at_ms=3)
        got = await port.get("acme", "p")
        assert got is not None and got.deleted is True
        assert list(await port.active()) == []

    async def test_active_is_the_latest_live_enabled_version_of_each(
        self, port: PolicyStore
    ) -> None:
        # A disabled latest version switches the policy off: the older enabled version must NOT
        # come back, or disabling a policy would silently re-enable its predecessor.
        await port.add_version(policy("p", "1.0.0"), created_by="a", at_ms=1)
        disabled = await port.add_version(
            policy("p", "1.1.0", enabled=False), created_by="a", at_ms=2
        )
        q = await port.add_version(policy("q"), created_by="a", at_ms=3)
        await port.add_version(policy("r"), created_by="a", at_ms=4)
        await port.delete("acme", "r", at_ms=5)
        platform = await port.add_version(policy("s", tenant_id=""), created_by="a", at_ms=6)
        other = await port.add_version(policy("t", tenant_id="beta"), created_by="a", at_ms=7)
        expected = [platform.definition, q.definition, other.definition]
        assert sorted(await port.active(), key=_order) == expected
        # Disabled policies are still listed for administrators; only evaluation skips them.
        assert disabled in (await port.list_latest(tenant_id="acme")).items
        enabled = await port.add_version(policy("p", "1.2.0"), created_by="a", at_ms=8)
        assert enabled.definition in await port.active()

    async def test_revision_increases_with_every_write(self, port: PolicyStore) -> None:
        seen = [await port.revision()]
        stored: list[StoredPolicy] = []
        for write in (
            lambda: port.add_version(policy(version="1.0.0"), created_by="a", at_ms=1),
            lambda: port.add_version(policy(version="1.1.0"), created_by="a", at_ms=2),
            lambda: port.delete("acme", "p", at_ms=3),
            lambda: port.add_version(policy(version="1.2.0"), created_by="a", at_ms=4),
            lambda: port.add_version(policy("q", tenant_id=""), created_by="a", at_ms=5),
        ):
            result = await write()
            if isinstance(result, StoredPolicy):
                stored.append(result)
            seen.append(await port.revision())
        assert all(a < b for a, b in zip(seen, seen[1:], strict=False)), seen
        revisions = [s.revision for s in stored]
        assert all(a < b for a, b in zip(revisions, revisions[1:], strict=False)), revisions

    async def test_reads_do_not_change_the_revision(self, port: PolicyStore) -> None:
        await port.add_version(policy(), created_by="a", at_ms=1)
        before = await port.revision()
        await port.get("acme", "p")
        await port.get("acme", "p", "1.0.0")
        await port.versions("acme", "p")
        await port.list_latest(tenant_id=None, include_deleted=True)
        await port.active()
        assert await port.revision() == before

    async def test_concurrent_writes_lose_nothing(self, port: PolicyStore) -> None:
        before = await port.revision()
        versions = [f"1.{i}.0" for i in range(30)]
        results = await asyncio.gather(
            *(port.add_version(policy(version=v), created_by="a", at_ms=1) for v in versions),
            *(port.add_version(policy(f"q{i}"), created_by="a", at_ms=1) for i in range(10)),
        )
        stored = list(await port.versions("acme", "p"))
        assert sorted(s.definition.version for s in stored) == sorted(versions)
        assert len({r.revision for r in results}) == len(results)
        assert await port.get("acme", "p") == max(results[:30], key=lambda s: s.revision)
        assert len((await port.list_latest(tenant_id="acme")).items) == 11
        assert await port.revision() >= before + len(results)

    async def test_concurrent_adds_of_one_version_store_it_once(self, port: PolicyStore) -> None:
        results = await asyncio.gather(
            *(
                port.add_version(policy(description=f"by {i}"), created_by=f"u{i}", at_ms=i)
                for i in range(10)
            ),
            return_exceptions=True,
        )
        winners = [r for r in results if isinstance(r, StoredPolicy)]
        losers = [r for r in results if isinstance(r, VersionExistsError)]
        assert (len(winners), len(losers)) == (1, 9)
        assert list(await port.versions("acme", "p")) == winners


def _order(definition: PolicyDefinition) -> tuple[str, str]:
    return definition.tenant_id, definition.policy_id
