"""The Config port in memory, for tests and embedded use; it passes the same kit as SQLite.

No method awaits, so a compare-and-set's check and its append run without another call in
between: atomic under asyncio without a lock. Entries are frozen and hold only immutable
values, so they are handed out as stored.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from aesp.core.ports._config_rules import check_expected_version, describe
from aesp.core.ports._cursors import decode_number, encode_number
from aesp.core.ports._errors import ConcurrentChangeError
from aesp.core.ports._paging import Page, page_limit
from aesp.core.ports.config import ConfigEntry

_Key = tuple[str, str]  # (tenant_id, key)


class InMemoryConfigStore:
    """Every version of every key, plus one log of all writes in revision order."""

    def __init__(self) -> None:
        self._versions: dict[_Key, list[ConfigEntry]] = {}  # index i holds version i + 1
        self._log: list[ConfigEntry] = []  # index i holds revision i + 1

    async def set(self, entry: ConfigEntry, *, expected_version: int) -> ConfigEntry:
        """Append the key's next version if its latest is ``expected_version``.

        Raises:
            ConcurrentChangeError: The latest version differs; nothing is written.
            ValueError: ``expected_version`` is negative.
        """
        check_expected_version(expected_version)
        versions = self._versions.get((entry.tenant_id, entry.key), [])
        if len(versions) != expected_version:
            raise ConcurrentChangeError(
                describe(entry.tenant_id, entry.key),
                expected=expected_version,
                actual=len(versions),
            )
        stored = replace(entry, version=expected_version + 1, revision=len(self._log) + 1)
        self._versions.setdefault((entry.tenant_id, entry.key), versions).append(stored)
        self._log.append(stored)
        return stored

    async def get(self, tenant_id: str, key: str, version: int = 0) -> ConfigEntry | None:
        """One version (0 = latest), or None."""
        versions = self._versions.get((tenant_id, key), [])
        if version == 0:
            return versions[-1] if versions else None
        return versions[version - 1] if 0 < version <= len(versions) else None

    async def history(
        self, tenant_id: str, key: str, *, limit: int = 0, cursor: str = ""
    ) -> Page[ConfigEntry]:
        """Versions newest first; the cursor is the last version handed out.

        Raises:
            ValueError: ``cursor`` was not returned by ``history``.
        """
        size = page_limit(limit)
        before = decode_number(cursor, "history")
        versions = self._versions.get((tenant_id, key), [])
        newer_first = list(reversed(versions[: before - 1] if before else versions))
        items = newer_first[:size]
        more = len(newer_first) > size
        return Page(items, encode_number(items[-1].version) if more else "")

    async def list_keys(
        self, tenant_id: str, *, limit: int = 0, cursor: str = ""
    ) -> Page[ConfigEntry]:
        """The latest version of each key of the tenant, by key; the cursor is the last key."""
        size = page_limit(limit)
        keys = sorted(k for t, k in self._versions if t == tenant_id and k > cursor)
        items = [self._versions[(tenant_id, k)][-1] for k in keys[:size]]
        return Page(items, items[-1].key if len(keys) > size else "")

    async def changes_since(
        self, revision: int, *, tenant_id: str | None = None, limit: int = 0
    ) -> Sequence[ConfigEntry]:
        """Writes after ``revision`` in revision order, at most one page."""
        later = self._log[max(revision, 0) :]
        matching = (e for e in later if tenant_id is None or e.tenant_id == tenant_id)
        return [e for _, e in zip(range(page_limit(limit)), matching, strict=False)]

    async def revision(self) -> int:
        """The revision of the latest write."""
        return len(self._log)

    async def close(self) -> None:
        """Nothing to release."""

    def log(self) -> list[ConfigEntry]:
        """Every write in revision order, for assertions."""
        return list(self._log)
