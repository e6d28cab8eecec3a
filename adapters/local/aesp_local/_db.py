"""One SQLite file per port, opened once, migrated by ``PRAGMA user_version``.

SQLite calls block, so every statement runs in a worker thread under one lock per file; WAL
mode lets readers in other processes (a second Host on the same files) proceed while one writes.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


class Database:
    """A SQLite file with forward-only, numbered migrations."""

    def __init__(self, path: Path, migrations: Sequence[str]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.execute("PRAGMA busy_timeout=5000")
        self._lock = asyncio.Lock()
        self._migrate(migrations)

    def _migrate(self, migrations: Sequence[str]) -> None:
        (version,) = self._conn.execute("PRAGMA user_version").fetchone()
        if version > len(migrations):
            raise RuntimeError(
                f"{self.path} has schema version {version}, newer than this aesp-local "
                f"({len(migrations)}); upgrade aesp-local"
            )
        for number, script in enumerate(migrations[version:], start=version + 1):
            self._conn.executescript(f"BEGIN; {script}; PRAGMA user_version = {number}; COMMIT;")

    @property
    def schema_version(self) -> int:
        """The file's schema version."""
        return int(self._conn.execute("PRAGMA user_version").fetchone()[0])

    async def run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``work(connection)`` in a thread, one statement batch at a time.

        Shielded: if the caller is cancelled, the work still finishes *under the lock*, so no
        other statement can run on the connection while the thread is inside a transaction.
        """
        return await asyncio.shield(self._locked(work))

    async def _locked(self, work: Callable[[sqlite3.Connection], T]) -> T:
        async with self._lock:
            return await asyncio.to_thread(work, self._conn)

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Execute one statement and return its rows."""
        return await self.run(lambda c: c.execute(sql, params).fetchall())

    async def close(self) -> None:
        """Close the file."""
        async with self._lock:
            self._conn.close()
