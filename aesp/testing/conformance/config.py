"""Conformance kit for the Config port (SPEC §3.7 (6), §3.15, C-38, checklist 184, 201-206).

What must hold on every cloud: an entry comes back exactly as written; versions per key run 1,
2, 3, ... and each is written only on top of the version the caller read (the races are in
:mod:`aesp.testing.conformance._config_races`); history is immutable and listed newest first;
tenants and the platform are separate namespaces (item 184); the change feed shows every write
once, in order; ``revision`` moves with writes only.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from aesp.core.ports._errors import ConcurrentChangeError
from aesp.core.ports.config import ConfigDataType, ConfigEntry, ConfigStore
from aesp.testing.conformance._config_races import ConfigStoreRaces, entry, feed

KEY = "gateway.rate_limit"


class AbstractConfigStoreConformance(ConfigStoreRaces):
    """Behaviour every ConfigStore must show. Subclasses provide the ``port`` fixture, and
    ``replica`` when a second handle on the same store is a different object."""

    async def test_is_a_config_store(self, port: ConfigStore) -> None:
        assert isinstance(port, ConfigStore)

    async def test_a_fresh_store_is_empty(self, port: ConfigStore) -> None:
        assert await port.get("acme", KEY) is None
        assert list((await port.history("acme", KEY)).items) == []
        page = await port.list_keys("acme")
        assert (list(page.items), page.next_cursor) == ([], "")
        assert list(await port.changes_since(0)) == []
        assert await port.revision() == 0

    @pytest.mark.parametrize(
        ("data_type", "value"),
        [
            (ConfigDataType.JSON, '{"b": [1, 2.50, null],\n "a": "Zürich — \\u00e9"}  '),
            (ConfigDataType.STRING, "  leading and trailing spaces, a tab\t and \r\n"),
            (ConfigDataType.STRING, ""),
            (ConfigDataType.INTEGER, "-9223372036854775808"),
            (ConfigDataType.BOOLEAN, "not-a-boolean"),  # the core validates, the store must not
        ],
    )
    async def test_an_entry_round_trips_every_field_verbatim(
        self, port: ConfigStore, data_type: ConfigDataType, value: str
    ) -> None:
        written_entry = entry(
            KEY,
            value,
            data_type=data_type,
            sensitive=True,
            changed_by="oidc|https://idp.example|alice",
            change_reason="Raise the limit for the Zürich launch\nOPS-7",
            changed_at_ms=1_700_000_000_123,
            approval_request_id="apr-42",
        )
        stored = await port.set(written_entry, expected_version=0)
        assert stored.version == 1
        assert stored.revision == await port.revision() > 0
        assert stored == replace(written_entry, version=1, revision=stored.revision)
        assert await port.get("acme", KEY) == stored
        assert await port.get("acme", KEY, 1) == stored

    async def test_the_store_assigns_version_and_revision(self, port: ConfigStore) -> None:
        stored = await port.set(entry(version=41, revision=999), expected_version=0)
        assert (stored.version, stored.revision) == (1, 1)
        assert await port.get("acme", KEY, 41) is None

    async def test_versions_run_from_one_per_key_and_tenant(self, port: ConfigStore) -> None:
        names = [("acme", "a"), ("acme", "b"), ("beta", "a"), ("", "a")]
        for round_ in range(3):
            for tenant, key in names:
                stored = await port.set(
                    entry(key, f"{tenant}/{key}/{round_}", tenant_id=tenant),
                    expected_version=round_,
                )
                assert stored.version == round_ + 1
        for tenant, key in names:
            latest = await port.get(tenant, key)
            assert latest is not None and (latest.version, latest.value) == (3, f"{tenant}/{key}/2")

    @pytest.mark.parametrize(("current", "expected"), [(0, 1), (0, 5), (1, 0), (1, 2), (2, 1)])
    async def test_a_set_on_a_stale_version_writes_nothing(
        self, port: ConfigStore, current: int, expected: int
    ) -> None:
        for n in range(current):
            await port.set(entry(value=f"v{n + 1}"), expected_version=n)
        before = (await port.revision(), list((await port.history("acme", KEY)).items))
        with pytest.raises(ConcurrentChangeError, match="changed concurrently") as caught:
            await port.set(entry(value="late"), expected_version=expected)
        assert (caught.value.expected, caught.value.actual) == (expected, current)
        assert (await port.revision(), list((await port.history("acme", KEY)).items)) == before

    async def test_a_negative_expected_version_is_refused(self, port: ConfigStore) -> None:
        with pytest.raises(ValueError, match="expected_version"):
            await port.set(entry(), expected_version=-1)
        assert await port.revision() == 0

    async def test_history_is_immutable_and_newest_first(self, port: ConfigStore) -> None:
        # SPEC §3.15 and 4.19 #203: every change is a new version; rollback copies an old value.
        stored = [await port.set(entry(value=f"v{n}"), expected_version=n) for n in range(7)]
        rollback = await port.set(entry(value="v1", change_reason="roll back"), expected_version=7)
        stored.append(rollback)
        pages: list[list[ConfigEntry]] = []
        cursor = ""
        while True:
            page = await port.history("acme", KEY, limit=3, cursor=cursor)
            pages.append(list(page.items))
            if not (cursor := page.next_cursor):
                break
        assert [[e.version for e in p] for p in pages] == [[8, 7, 6], [5, 4, 3], [2, 1]]
        assert [e for p in pages for e in p] == stored[::-1]
        for s in stored:
            assert await port.get("acme", KEY, s.version) == s
        assert await port.get("acme", KEY, 9) is None
        assert await port.get("acme", KEY, -1) is None

    @pytest.mark.parametrize("cursor", ["nonsense", "-1", "0", "2.5", "٣"])
    async def test_a_history_cursor_it_did_not_issue_is_refused(
        self, port: ConfigStore, cursor: str
    ) -> None:
        with pytest.raises(ValueError, match="was not returned by history"):
            await port.history("acme", KEY, cursor=cursor)

    async def test_item_184_tenants_and_the_platform_never_mix(self, port: ConfigStore) -> None:
        # SPEC 4.16 #184: a tenant's config query returns only that tenant's data.
        for tenant in ("acme", "beta", ""):
            await port.set(entry(KEY, f"{tenant}-1", tenant_id=tenant), expected_version=0)
            await port.set(entry(KEY, f"{tenant}-2", tenant_id=tenant), expected_version=1)
            await port.set(entry(f"only.{tenant}", "x", tenant_id=tenant), expected_version=0)
        for tenant in ("acme", "beta", ""):
            latest = await port.get(tenant, KEY)
            assert latest is not None and latest.value == f"{tenant}-2"
            history = (await port.history(tenant, KEY)).items
            assert [e.value for e in history] == [f"{tenant}-2", f"{tenant}-1"]
            keys = (await port.list_keys(tenant)).items
            assert [(e.tenant_id, e.key) for e in keys] == [
                (tenant, KEY),
                (tenant, f"only.{tenant}"),
            ]
            assert {e.tenant_id for e in await feed(port, tenant_id=tenant)} == {tenant}
            assert len(await feed(port, tenant_id=tenant)) == 3
        assert await port.get("acme", "only.beta") is None
        assert await port.get("gamma", KEY) is None
        assert list((await port.list_keys("gamma")).items) == []

    async def test_list_keys_pages_latest_entries_without_gaps_or_repeats(
        self, port: ConfigStore
    ) -> None:
        keys = [f"k.{(i * 7) % 25:02d}" for i in range(25)] + ["a/b", "a.b", "A", "a b", "é"]
        latest: dict[str, ConfigEntry] = {}
        for i, key in enumerate(keys):
            await port.set(entry(key, "first"), expected_version=0)
            if i % 2:
                latest[key] = await port.set(entry(key, "second"), expected_version=1)
            else:
                got = await port.get("acme", key)
                assert got is not None
                latest[key] = got
        seen: list[ConfigEntry] = []
        cursor, pages = "", 0
        while True:
            page = await port.list_keys("acme", limit=10, cursor=cursor)
            assert len(page.items) <= 10
            seen += page.items
            pages += 1
            if not (cursor := page.next_cursor):
                break
        assert pages == 3
        assert seen == [latest[k] for k in sorted(keys)]

    async def test_the_change_feed_shows_every_write_once_in_order(self, port: ConfigStore) -> None:
        # SPEC 4.19 #201: SubscribeToChanges subscribers see each change with its old value.
        writes = []
        for n in range(12):
            tenant, key = ("acme", "beta", "")[n % 3], ("a", "b")[n % 2]
            current = await port.get(tenant, key)
            writes.append(
                await port.set(
                    entry(key, f"value {n}", tenant_id=tenant),
                    expected_version=current.version if current else 0,
                )
            )
        changes = await feed(port)
        assert changes == writes
        revisions = [c.revision for c in changes]
        assert revisions == sorted(set(revisions)) and revisions[-1] == await port.revision()
        assert await feed(port, writes[4].revision) == writes[5:]
        assert list(await port.changes_since(await port.revision())) == []
        last = changes[-1]
        before = [w for w in writes[:-1] if (w.tenant_id, w.key) == (last.tenant_id, last.key)]
        assert await port.get(last.tenant_id, last.key, last.version - 1) == before[-1]

    async def test_revision_moves_with_writes_only(self, port: ConfigStore) -> None:
        seen = [await port.revision()]
        for n in range(3):
            await port.set(entry(value=str(n)), expected_version=n)
            seen.append(await port.revision())
        assert seen == sorted(set(seen)), seen
        with pytest.raises(ConcurrentChangeError):
            await port.set(entry(), expected_version=0)
        await port.get("acme", KEY)
        await port.history("acme", KEY)
        await port.list_keys("acme")
        await port.changes_since(0)
        assert await port.revision() == seen[-1]
