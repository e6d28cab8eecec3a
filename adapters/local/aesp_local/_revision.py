"""Write transactions that bump a store's ``revision`` counter atomically with the write.

Why one helper: the RBAC and Policy ports promise a counter that increases with every write, and
Hosts use it to decide when their in-memory snapshot is stale. If the counter were bumped in a
separate statement, a Host could read the new revision before the write (or the write without
the revision) and keep a stale snapshot forever. ``BEGIN IMMEDIATE`` takes the write lock up
front, so two Hosts on the same file serialise instead of failing to upgrade a read lock.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from typing import TypeVar

from aesp_local._db import Database

T = TypeVar("T")

# Appended to a store's first migration: the one-row counter.
REVISION_TABLE = """CREATE TABLE revision (
         id INTEGER PRIMARY KEY CHECK (id = 1),
         value INTEGER NOT NULL
       );
       INSERT INTO revision (id, value) VALUES (1, 0)"""


def bump(conn: sqlite3.Connection) -> int:
    """Increase the counter inside the caller's transaction and return the new value."""
    conn.execute("UPDATE revision SET value = value + 1 WHERE id = 1")
    return current(conn)


def current(conn: sqlite3.Connection) -> int:
    """The counter's value."""
    (value,) = conn.execute("SELECT value FROM revision WHERE id = 1").fetchone()
    return int(value)


async def write(db: Database, work: Callable[[sqlite3.Connection], T]) -> T:
    """Run ``work`` in one immediate transaction; any exception rolls everything back.

    ``work`` calls :func:`bump` when it changed something. The transaction is shielded from
    cancellation: ``Database.run`` releases its lock when the awaiting task is cancelled while
    the worker thread is still inside the transaction, and another statement on the same
    connection would then join that transaction.
    """

    def transaction(conn: sqlite3.Connection) -> T:
        conn.execute("BEGIN IMMEDIATE")
        try:
            result = work(conn)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return result

    return await asyncio.shield(db.run(transaction))
