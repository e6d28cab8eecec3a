"""The Config kit's fixtures, builders and race tests (DESIGN §10: two Hosts, one store).

Each race splits its calls between ``port`` and ``replica``, two handles on one store as two Host
replicas would hold them: exactly one compare-and-set per version wins, the losers leave nothing
behind, and every replica's change feed shows every write once, in one order.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from aesp.core.ports._errors import ConcurrentChangeError
from aesp.core.ports.config import ConfigEntry, ConfigStore

RACERS = 20  # concurrent writers per race: enough to interleave, cheap on SQLite


def entry(key: str = "gateway.rate_limit", value: str = "100", **fields: Any) -> ConfigEntry:
    """An entry of tenant ``acme`` unless ``tenant_id`` is given; ``fields`` override the rest."""
    fields.setdefault("tenant_id", "acme")
    fields.setdefault("changed_by", "alice")
    return ConfigEntry(key=key, value=value, **fields)


def written(e: ConfigEntry) -> tuple[str, str, str]:
    """What identifies a write regardless of the version and revision the store assigned."""
    return e.tenant_id, e.key, e.value


async def feed(port: ConfigStore, after: int = 0, **filters: Any) -> list[ConfigEntry]:
    """Every change after ``after``, polled a small page at a time as a subscriber would."""
    seen: list[ConfigEntry] = []
    for _ in range(1000):
        batch = list(await port.changes_since(after, limit=3, **filters))
        assert len(batch) <= 3
        if not batch:
            return seen
        seen += batch
        after = batch[-1].revision
    raise AssertionError("changes_since never ran dry")


class ConfigStoreRaces:
    """Fixtures and the race tests of the Config kit."""

    @pytest.fixture
    def port(self) -> Any:  # pragma: no cover - overridden
        """Yield a fresh, empty ConfigStore."""
        raise AssertionError("the adapter's test class must override the 'port' fixture")

    @pytest.fixture
    def replica(self, port: ConfigStore) -> ConfigStore:
        """A second handle on ``port``'s store, as a second Host replica would open it.

        Realisations whose state lives outside the object override this to open one more
        handle; an in-memory store is its own replica.
        """
        return port

    async def test_racing_sets_at_one_version_store_exactly_one(
        self, port: ConfigStore, replica: ConfigStore
    ) -> None:
        await port.set(entry(value="base"), expected_version=0)
        attempts = [entry(value=f"racer {i}", changed_by=f"u{i}") for i in range(RACERS)]
        results = await asyncio.gather(
            *((port, replica)[i % 2].set(e, expected_version=1) for i, e in enumerate(attempts)),
            return_exceptions=True,
        )
        winners = [r for r in results if isinstance(r, ConfigEntry)]
        assert len(winners) == 1, results
        losers = [r for r in results if isinstance(r, ConcurrentChangeError)]
        assert len(losers) == RACERS - 1
        assert all((e.expected, e.actual) == (1, 2) for e in losers)
        history = (await replica.history("acme", "gateway.rate_limit")).items
        assert [(h.version, h.value) for h in history] == [(2, winners[0].value), (1, "base")]
        assert await port.revision() == await replica.revision() == 2
        assert [written(e) for e in await feed(replica, 1)] == [written(winners[0])]

    async def test_racing_first_writes_of_a_key_store_exactly_one(
        self, port: ConfigStore, replica: ConfigStore
    ) -> None:
        results = await asyncio.gather(
            *(
                (replica, port)[i % 2].set(entry("new.key", f"v{i}"), expected_version=0)
                for i in range(RACERS)
            ),
            return_exceptions=True,
        )
        winners = [r for r in results if isinstance(r, ConfigEntry)]
        assert len(winners) == 1, results
        assert sum(isinstance(r, ConcurrentChangeError) for r in results) == RACERS - 1
        assert await port.get("acme", "new.key") == winners[0]
        assert list((await port.list_keys("acme")).items) == winners

    async def test_writers_retrying_on_conflict_all_land_in_one_order(
        self, port: ConfigStore, replica: ConfigStore
    ) -> None:
        # The set workflow's loop: read the latest, write on top of it, re-read on a conflict.
        async def write(store: ConfigStore, value: str) -> ConfigEntry:
            while True:
                latest = await store.get("acme", "counter")
                try:
                    return await store.set(
                        entry("counter", value), expected_version=latest.version if latest else 0
                    )
                except ConcurrentChangeError:
                    await asyncio.sleep(0)

        values = [f"value {i}" for i in range(RACERS)]
        stored = await asyncio.gather(
            *(write((port, replica)[i % 2], v) for i, v in enumerate(values))
        )
        assert sorted(e.version for e in stored) == list(range(1, RACERS + 1))
        history = []
        cursor = ""
        while True:
            page = await replica.history("acme", "counter", limit=7, cursor=cursor)
            history += page.items
            if not (cursor := page.next_cursor):
                break
        assert history == sorted(stored, key=lambda e: -e.version)
        assert sorted(e.value for e in history) == sorted(values)
        by_revision = await feed(port)
        assert by_revision == sorted(stored, key=lambda e: e.revision)
        assert [e.version for e in by_revision] == list(range(1, RACERS + 1))

    async def test_concurrent_writes_to_different_keys_lose_nothing(
        self, port: ConfigStore, replica: ConfigStore
    ) -> None:
        keys = [(("acme", "beta", "")[i % 3], f"key.{i:02d}") for i in range(RACERS * 2)]
        stored = await asyncio.gather(
            *(
                (port, replica)[i % 2].set(entry(k, "v", tenant_id=t), expected_version=0)
                for i, (t, k) in enumerate(keys)
            )
        )
        revisions = sorted(e.revision for e in stored)
        assert len(set(revisions)) == len(keys)
        assert await port.revision() == await replica.revision() == revisions[-1]
        for store in (port, replica):
            assert sorted((e.tenant_id, e.key) for e in await feed(store)) == sorted(keys)

    async def test_replicas_see_each_others_writes(
        self, port: ConfigStore, replica: ConfigStore
    ) -> None:
        first = await port.set(entry(value="1"), expected_version=0)
        assert await replica.get("acme", "gateway.rate_limit") == first
        second = await replica.set(entry(value="2"), expected_version=1)
        assert await port.get("acme", "gateway.rate_limit") == second
        with pytest.raises(ConcurrentChangeError):  # port's caller still holds version 1
            await port.set(entry(value="3"), expected_version=1)
        assert await feed(port) == await feed(replica) == [first, second]
