"""Conformance kit for the Identity port (SPEC §3.7 (1), checklist 150-153).

Every adapter (SQLite, and the cloud ones to come) and the in-memory fake run these tests, so a
Host behaves the same on each: unknown ids are None, a principal's tenant never changes, a
service account and its principal are stored together or not at all, a revoked key stays revoked
from its first revocation time, listings filter and page without gaps, tenants never mix, and
``revision`` moves on every write.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

import pytest

from aesp.core.ports._paging import DEFAULT_PAGE
from aesp.core.ports.identity import (
    DuplicateError,
    IdentityStore,
    PrincipalRecord,
    PrincipalType,
    ServiceAccount,
)
from aesp.identity.apikeys import ApiKeyRecord

USER = PrincipalType.USER
SA = PrincipalType.SERVICE_ACCOUNT


def principal(principal_id: str, tenant_id: str = "acme", **fields: Any) -> PrincipalRecord:
    """A principal record with the given fields (the rest default)."""
    return PrincipalRecord(principal_id=principal_id, tenant_id=tenant_id, **fields)


def service_account(
    service_account_id: str,
    tenant_id: str = "acme",
    name: str = "",
    *,
    key_id: str = "",
    **fields: Any,
) -> tuple[ServiceAccount, PrincipalRecord]:
    """An account, its key and its principal, all consistent (name and key id derive from the
    account id unless given)."""
    key = ApiKeyRecord(
        key_id=key_id or f"key-{service_account_id}",
        service_account_id=service_account_id,
        tenant_id=tenant_id,
        stored_hash=f"hmac-sha256:{service_account_id}",
        created_at_ms=1_000,
    )
    account = ServiceAccount(
        service_account_id=service_account_id,
        tenant_id=tenant_id,
        name=name or f"name-{service_account_id}",
        key=key,
        **fields,
    )
    record = principal(f"api_key|aesp|{service_account_id}", tenant_id, principal_type=SA)
    return account, record


async def all_pages(fetch: Callable[[str], Awaitable[Any]]) -> list[Any]:
    """Every item from a paged listing, following ``next_cursor`` until it is empty."""
    seen: list[Any] = []
    cursor = ""
    for _ in range(10_000):  # a listing that never ends is a failure, not a hang
        page = await fetch(cursor)
        seen += page.items
        if not page.next_cursor:
            return seen
        cursor = page.next_cursor
    raise AssertionError("the listing never returned an empty next_cursor")


class AbstractIdentityStoreConformance:
    """Behaviour every IdentityStore must show. Subclasses provide the ``port`` fixture."""

    @pytest.fixture
    def port(self) -> Any:  # pragma: no cover - overridden
        """Yield a fresh, empty IdentityStore."""
        raise AssertionError("the adapter's test class must override the 'port' fixture")

    # -- basics --------------------------------------------------------------------------------

    async def test_is_an_identity_store(self, port: IdentityStore) -> None:
        assert isinstance(port, IdentityStore)

    async def test_unknown_ids_are_none(self, port: IdentityStore) -> None:
        assert await port.get_principal("nobody") is None
        assert await port.get_service_account("nobody") is None
        assert await port.find_key("nobody") is None
        assert await port.revoke_service_account("nobody", at_ms=5) is None

    async def test_empty_store_lists_nothing(self, port: IdentityStore) -> None:
        principals = await port.list_principals(tenant_id=None, include_inactive=True)
        accounts = await port.list_service_accounts(tenant_id=None, include_revoked=True)
        assert (list(principals.items), principals.next_cursor) == ([], "")
        assert (list(accounts.items), accounts.next_cursor) == ([], "")

    # -- principals ----------------------------------------------------------------------------

    async def test_principal_round_trips_every_field(self, port: IdentityStore) -> None:
        record = PrincipalRecord(
            principal_id="oidc|https://idp.example|alice",
            tenant_id="acme",
            principal_type=PrincipalType.SYSTEM_ACCOUNT,
            display_name="Alice Ærø",
            active=False,
            security_clearance="RESTRICTED",
            data_classification="CONFIDENTIAL",
            organization_id="org-1",
            business_unit="Research",
            cost_center="cc-42",
            source="oidc",
            created_at_ms=1_700_000_000_000,
            updated_at_ms=1_700_000_000_500,
            metadata={"team": "ml", "emoji": "🔐", "quote": "a \"b\" 'c'"},
        )
        await port.put_principal(record)
        assert await port.get_principal(record.principal_id) == record

    async def test_principal_defaults_round_trip(self, port: IdentityStore) -> None:
        record = principal("u1")
        await port.put_principal(record)
        got = await port.get_principal("u1")
        assert got == record
        assert got is not None and got.principal_type is PrincipalType.USER and got.active

    async def test_put_principal_replaces_and_keeps_creation_time(
        self, port: IdentityStore
    ) -> None:
        await port.put_principal(principal("u1", display_name="A", created_at_ms=10))
        await port.put_principal(
            principal("u1", display_name="B", active=False, created_at_ms=99, updated_at_ms=20)
        )
        got = await port.get_principal("u1")
        assert got is not None
        assert (got.display_name, got.active) == ("B", False)
        assert (got.created_at_ms, got.updated_at_ms) == (10, 20)

    async def test_a_principal_tenant_never_changes(self, port: IdentityStore) -> None:
        # Tenants never mix (DESIGN §2.4): moving a principal would carry its grants across.
        await port.put_principal(principal("u1", "acme", display_name="A"))
        with pytest.raises(ValueError, match="tenant cannot change"):
            await port.put_principal(principal("u1", "other", display_name="B"))
        got = await port.get_principal("u1")
        assert got is not None and (got.tenant_id, got.display_name) == ("acme", "A")

    async def test_empty_ids_are_refused(self, port: IdentityStore) -> None:
        with pytest.raises(ValueError, match="principal_id must not be empty"):
            await port.put_principal(principal(""))
        with pytest.raises(ValueError, match="tenant_id must not be empty"):
            await port.put_principal(principal("u1", ""))
        assert await port.get_principal("") is None
        assert await port.get_principal("u1") is None

    async def test_stored_metadata_is_not_the_callers_dict(self, port: IdentityStore) -> None:
        metadata = {"k": "v"}
        await port.put_principal(principal("u1", metadata=metadata))
        metadata["k"] = "changed"
        got = await port.get_principal("u1")
        assert got is not None and dict(got.metadata) == {"k": "v"}
        if isinstance(got.metadata, dict):  # an adapter may also hand out a read-only view
            got.metadata["k"] = "changed"
        again = await port.get_principal("u1")
        assert again is not None and dict(again.metadata) == {"k": "v"}

    # -- listing principals (SPEC 4 #153) ------------------------------------------------------

    async def test_list_principals_filters_by_tenant(self, port: IdentityStore) -> None:
        for pid, tenant in (("a1", "a"), ("b1", "b"), ("a2", "a"), ("b2", "b")):
            await port.put_principal(principal(pid, tenant))
        only_a = await port.list_principals(tenant_id="a")
        assert [p.principal_id for p in only_a.items] == ["a1", "a2"]
        everyone = await port.list_principals(tenant_id=None)
        assert [p.principal_id for p in everyone.items] == ["a1", "a2", "b1", "b2"]
        assert list((await port.list_principals(tenant_id="nobody")).items) == []

    async def test_list_principals_filters_by_type(self, port: IdentityStore) -> None:
        await port.put_principal(principal("u1", principal_type=USER))
        await port.put_principal(principal("s1", principal_type=SA))
        await port.put_principal(principal("y1", principal_type=PrincipalType.SYSTEM_ACCOUNT))
        users = await port.list_principals(tenant_id="acme", principal_type=USER)
        accounts = await port.list_principals(tenant_id="acme", principal_type=SA)
        assert [p.principal_id for p in users.items] == ["u1"]
        assert [p.principal_id for p in accounts.items] == ["s1"]

    async def test_list_principals_excludes_inactive_unless_asked(
        self, port: IdentityStore
    ) -> None:
        await port.put_principal(principal("on"))
        await port.put_principal(principal("off", active=False))
        default = await port.list_principals(tenant_id="acme")
        every = await port.list_principals(tenant_id="acme", include_inactive=True)
        assert [p.principal_id for p in default.items] == ["on"]
        assert [p.principal_id for p in every.items] == ["off", "on"]

    async def test_list_principals_pages_filtered_results_in_id_order(
        self, port: IdentityStore
    ) -> None:
        # Interleaved tenants and inactive records: the filter applies before the page is cut.
        for i in reversed(range(60)):  # stored out of order; listed in id order
            tenant = "a" if i % 2 == 0 else "b"
            await port.put_principal(principal(f"p{i:03d}", tenant, active=i % 3 != 0))
        expected = [f"p{i:03d}" for i in range(60) if i % 2 == 0 and i % 3 != 0]
        pages: list[int] = []

        async def fetch(cursor: str) -> Any:
            page = await port.list_principals(tenant_id="a", limit=7, cursor=cursor)
            pages.append(len(page.items))
            return page

        assert [p.principal_id for p in await all_pages(fetch)] == expected
        assert max(pages) <= 7 < len(expected), "a page exceeded the limit"

    async def test_list_principals_default_page_size(self, port: IdentityStore) -> None:
        await asyncio.gather(
            *(port.put_principal(principal(f"p{i:04d}")) for i in range(DEFAULT_PAGE + 1))
        )
        first = await port.list_principals(tenant_id="acme", limit=0)
        assert 0 < len(first.items) <= DEFAULT_PAGE and first.next_cursor

        async def fetch(cursor: str) -> Any:
            return await port.list_principals(tenant_id="acme", cursor=cursor)

        listed = [p.principal_id for p in await all_pages(fetch)]
        assert listed == [f"p{i:04d}" for i in range(DEFAULT_PAGE + 1)]

    async def test_paging_has_no_gaps_or_repeats_under_concurrent_inserts(
        self, port: IdentityStore
    ) -> None:
        seeded = [f"p{i:03d}" for i in range(0, 80, 2)]
        for pid in seeded:
            await port.put_principal(principal(pid))

        async def insert_more() -> None:
            for i in range(1, 80, 2):
                await port.put_principal(principal(f"p{i:03d}"))
                await asyncio.sleep(0)

        async def read_all() -> list[str]:
            async def fetch(cursor: str) -> Any:
                await asyncio.sleep(0)
                return await port.list_principals(tenant_id="acme", limit=5, cursor=cursor)

            return [p.principal_id for p in await all_pages(fetch)]

        seen, _ = await asyncio.gather(read_all(), insert_more())
        assert seen == sorted(set(seen)), "a page repeated or reordered an id"
        assert set(seeded) <= set(seen), "an id present throughout was skipped"

    # -- service accounts (SPEC 4 #151, #152) --------------------------------------------------

    async def test_service_account_round_trips_every_field(self, port: IdentityStore) -> None:
        account, record = service_account(
            "sa1", description="CI runner", created_by="oidc|idp|alice", metadata={"env": "ci"}
        )
        account = replace(account, key=replace(account.key, expires_at_ms=9_000))
        record = replace(record, display_name="CI", created_at_ms=1_000, metadata={"a": "b"})
        await port.create_service_account(account, record)
        assert await port.get_service_account("sa1") == account
        assert await port.get_principal(record.principal_id) == record
        assert await port.find_key(account.key.key_id) == account.key

    async def test_find_key_finds_by_key_id_only(self, port: IdentityStore) -> None:
        for sid in ("sa1", "sa2"):
            await port.create_service_account(*service_account(sid))
        found = await port.find_key("key-sa2")
        assert found is not None and found.service_account_id == "sa2"
        assert await port.find_key("sa2") is None
        assert await port.find_key("hmac-sha256:sa2") is None

    async def test_duplicate_name_in_a_tenant_is_refused_and_nothing_stored(
        self, port: IdentityStore
    ) -> None:
        await port.create_service_account(*service_account("sa1", "acme", "ci"))
        before = await port.revision()
        account, record = service_account("sa2", "acme", "ci")
        with pytest.raises(DuplicateError, match="already has a service account named 'ci'"):
            await port.create_service_account(account, record)
        await self._assert_nothing_of(port, account, record)
        assert await port.revision() == before, "a refused write moved the revision"

    async def test_same_name_in_another_tenant_is_allowed(self, port: IdentityStore) -> None:
        await port.create_service_account(*service_account("sa1", "acme", "ci"))
        await port.create_service_account(*service_account("sa2", "other", "ci"))
        a, b = await port.get_service_account("sa1"), await port.get_service_account("sa2")
        assert a is not None and b is not None
        assert (a.tenant_id, b.tenant_id) == ("acme", "other")

    async def test_every_other_unique_key_is_refused(self, port: IdentityStore) -> None:
        # Each attempt collides on exactly one unique key, so the message is unambiguous.
        await port.create_service_account(*service_account("sa1", key_id="k1"))
        squatter = principal("api_key|aesp|sa3", principal_type=SA)
        await port.put_principal(squatter)
        same_id, same_id_principal = service_account("sa1", name="fresh", key_id="k9")
        clashes = (
            (
                same_id,
                replace(same_id_principal, principal_id="api_key|aesp|fresh"),
                "service account 'sa1' already exists",
            ),
            (*service_account("sa2", key_id="k1"), "API key id 'k1' is already in use"),
            (*service_account("sa3"), r"principal 'api_key\|aesp\|sa3' already exists"),
        )
        for account, record, message in clashes:
            with pytest.raises(DuplicateError, match=message):
                await port.create_service_account(account, record)
        await self._assert_nothing_of(port, *service_account("sa2", key_id="k1"))
        assert await port.get_service_account("sa3") is None
        assert await port.get_principal("api_key|aesp|fresh") is None
        assert await port.get_principal("api_key|aesp|sa3") == squatter
        kept = await port.get_service_account("sa1")
        assert kept is not None and (kept.name, kept.key.key_id) == ("name-sa1", "k1")

    async def test_concurrent_creates_of_one_name_store_exactly_one(
        self, port: IdentityStore
    ) -> None:
        attempts = [service_account(f"sa{i}", "acme", "ci") for i in range(5)]
        results = await asyncio.gather(
            *(port.create_service_account(a, p) for a, p in attempts), return_exceptions=True
        )
        assert sum(r is None for r in results) == 1
        assert all(isinstance(r, DuplicateError) for r in results if r is not None)
        listed = await port.list_service_accounts(tenant_id="acme")
        assert [a.name for a in listed.items] == ["ci"]
        principals = await port.list_principals(tenant_id="acme")
        assert len(principals.items) == 1

    async def test_inconsistent_accounts_are_refused(self, port: IdentityStore) -> None:
        # A key or principal naming another tenant would authenticate into that tenant.
        account, record = service_account("sa1", "acme")
        bad = (
            (replace(account, key=replace(account.key, tenant_id="other")), record, "tenant"),
            (account, replace(record, tenant_id="other"), "tenant"),
            (replace(account, key=replace(account.key, service_account_id="x")), record, "names"),
            (account, replace(record, principal_type=USER), "SERVICE_ACCOUNT"),
            (replace(account, name=""), record, "name must not be empty"),
        )
        for bad_account, bad_record, message in bad:
            with pytest.raises(ValueError, match=message):
                await port.create_service_account(bad_account, bad_record)
        await self._assert_nothing_of(port, account, record)
        assert await port.get_principal(replace(record, tenant_id="other").principal_id) is None

    # -- revocation (SPEC 4 #152) --------------------------------------------------------------

    async def test_revoke_revokes_the_key_and_deactivates_the_principal(
        self, port: IdentityStore
    ) -> None:
        account, record = service_account("sa1")
        await port.create_service_account(account, replace(record, updated_at_ms=5))
        revoked = await port.revoke_service_account("sa1", at_ms=100)
        assert revoked is not None and revoked.revoked
        assert revoked == replace(account, key=replace(account.key, revoked_at_ms=100))
        assert await port.get_service_account("sa1") == revoked
        assert await port.find_key(account.key.key_id) == revoked.key
        got = await port.get_principal(record.principal_id)
        assert got is not None and (got.active, got.updated_at_ms) == (False, 100)

    async def test_revoke_is_idempotent_and_keeps_the_first_time(self, port: IdentityStore) -> None:
        await port.create_service_account(*service_account("sa1"))
        await port.revoke_service_account("sa1", at_ms=100)
        again = await port.revoke_service_account("sa1", at_ms=200)
        assert again is not None and again.key.revoked_at_ms == 100
        stored = await port.get_service_account("sa1")
        assert stored is not None and stored.key.revoked_at_ms == 100

    async def test_a_revocation_time_never_moves_later(self, port: IdentityStore) -> None:
        # With clock skew between Hosts a second revocation may carry an earlier time; the key
        # must then count as revoked from that earlier time.
        await port.create_service_account(*service_account("sa1"))
        await port.revoke_service_account("sa1", at_ms=500)
        again = await port.revoke_service_account("sa1", at_ms=300)
        assert again is not None and again.key.revoked_at_ms == 300

    async def test_revoke_needs_a_positive_time(self, port: IdentityStore) -> None:
        await port.create_service_account(*service_account("sa1"))
        for at_ms in (0, -1):
            with pytest.raises(ValueError, match="positive"):
                await port.revoke_service_account("sa1", at_ms=at_ms)
        stored = await port.get_service_account("sa1")
        assert stored is not None and not stored.revoked

    async def test_revoke_touches_only_its_account(self, port: IdentityStore) -> None:
        a, pa = service_account("sa1")
        b, pb = service_account("sa2")
        await port.create_service_account(a, pa)
        await port.create_service_account(b, pb)
        await port.revoke_service_account("sa1", at_ms=100)
        assert await port.get_service_account("sa2") == b
        assert await port.get_principal(pb.principal_id) == pb

    # -- listing service accounts --------------------------------------------------------------

    async def test_list_service_accounts_filters_revoked_and_tenant(
        self, port: IdentityStore
    ) -> None:
        for sid, tenant in (("sa1", "a"), ("sa2", "a"), ("sa3", "b"), ("sa4", "a")):
            await port.create_service_account(*service_account(sid, tenant))
        await port.revoke_service_account("sa2", at_ms=100)

        async def ids(tenant_id: str | None, include_revoked: bool) -> list[str]:
            page = await port.list_service_accounts(
                tenant_id=tenant_id, include_revoked=include_revoked
            )
            return [a.service_account_id for a in page.items]

        assert await ids("a", False) == ["sa1", "sa4"]
        assert await ids("a", True) == ["sa1", "sa2", "sa4"]
        assert await ids("b", True) == ["sa3"]
        assert await ids(None, False) == ["sa1", "sa3", "sa4"]
        assert await ids(None, True) == ["sa1", "sa2", "sa3", "sa4"]

    async def test_list_service_accounts_pages_in_id_order(self, port: IdentityStore) -> None:
        # Names sort against the ids, so an adapter ordering by its (tenant, name) index fails.
        ids = [f"sa{i:03d}" for i in range(23)]
        await asyncio.gather(
            *(
                port.create_service_account(*service_account(sid, name=f"n{99 - i}"))
                for i, sid in reversed(list(enumerate(ids)))
            )
        )
        await port.revoke_service_account("sa005", at_ms=1)

        async def fetch(cursor: str) -> Any:
            page = await port.list_service_accounts(tenant_id="acme", limit=4, cursor=cursor)
            assert len(page.items) <= 4
            return page

        listed = [a.service_account_id for a in await all_pages(fetch)]
        assert listed == [i for i in ids if i != "sa005"]

    # -- revision ------------------------------------------------------------------------------

    async def test_revision_rises_on_every_write_and_not_on_reads(
        self, port: IdentityStore
    ) -> None:
        account, record = service_account("sa1")
        writes: list[Callable[[], Awaitable[object]]] = [
            lambda: port.put_principal(principal("u1")),
            lambda: port.put_principal(principal("u1", display_name="again")),
            lambda: port.create_service_account(account, record),
            lambda: port.revoke_service_account("sa1", at_ms=100),
        ]
        last = await port.revision()
        for write in writes:
            await write()
            await self._assert_reads_keep(port, account)
            now = await port.revision()
            assert now > last, "a write did not raise the revision"
            last = now
        assert await port.revoke_service_account("unknown", at_ms=1) is None
        assert await port.revision() == last

    # -- tenants never mix ---------------------------------------------------------------------

    async def test_tenants_never_mix(self, port: IdentityStore) -> None:
        for tenant in ("a", "b"):
            await port.put_principal(principal(f"user-{tenant}", tenant))
            await port.create_service_account(*service_account(f"sa-{tenant}", tenant, "ci"))
        await port.revoke_service_account("sa-a", at_ms=100)
        for tenant in ("a", "b"):
            people = await port.list_principals(tenant_id=tenant, include_inactive=True)
            accounts = await port.list_service_accounts(tenant_id=tenant, include_revoked=True)
            assert {p.tenant_id for p in people.items} == {tenant}
            assert {a.tenant_id for a in accounts.items} == {tenant}
            assert {a.key.tenant_id for a in accounts.items} == {tenant}
            assert {p.principal_id for p in people.items} == {
                f"user-{tenant}",
                f"api_key|aesp|sa-{tenant}",
            }
        b = await port.get_service_account("sa-b")
        assert b is not None and not b.revoked
        b_principal = await port.get_principal("api_key|aesp|sa-b")
        assert b_principal is not None and b_principal.active

    # -- helpers -------------------------------------------------------------------------------

    @staticmethod
    async def _assert_nothing_of(
        port: IdentityStore, account: ServiceAccount, record: PrincipalRecord
    ) -> None:
        """Nothing of a refused account was stored: not the account, its principal or its key."""
        assert await port.get_service_account(account.service_account_id) is None
        assert await port.get_principal(record.principal_id) is None
        found = await port.find_key(account.key.key_id)
        assert found is None or found.service_account_id != account.service_account_id

    @staticmethod
    async def _assert_reads_keep(port: IdentityStore, account: ServiceAccount) -> None:
        """Every read leaves the revision where it was."""
        before = await port.revision()
        await port.get_principal("u1")
        await port.get_service_account(account.service_account_id)
        await port.find_key(account.key.key_id)
        await port.list_principals(tenant_id=None, include_inactive=True)
        await port.list_service_accounts(tenant_id=None, include_revoked=True)
        assert await port.revision() == before, "a read moved the revision"
