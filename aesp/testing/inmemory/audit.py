"""The audit query index in memory, for tests and embedded use (it passes the same kit).

Events are kept in a list in the order they were first indexed, with a set of their ids: the
list gives append order and stable cursors, the set makes re-indexing idempotent.
"""

from __future__ import annotations

from collections.abc import Sequence

from aesp.core.audit import AuditEvent, page_in_append_order
from aesp.core.ports._paging import Page
from aesp.core.ports.audit import AuditFilter


class InMemoryAuditIndex:
    """An :class:`~aesp.core.ports.audit.AuditIndex` over a list; nothing is ever removed."""

    def __init__(self) -> None:
        self._events: list[AuditEvent] = []
        self._ids: set[str] = set()

    async def index(self, events: Sequence[AuditEvent]) -> int:
        """Add the events not indexed yet, in order; the first version of an id is kept."""
        added = 0
        for event in events:
            if event.event_id not in self._ids:
                self._ids.add(event.event_id)
                self._events.append(event)
                added += 1
        return added

    async def query(
        self, flt: AuditFilter, *, limit: int = 0, cursor: str = ""
    ) -> Page[AuditEvent]:
        """A page of the selected events in append order.

        Raises:
            ValueError: ``cursor`` was not returned by this index.
        """
        return page_in_append_order(self._events, flt, limit=limit, cursor=cursor)

    async def count(self, flt: AuditFilter) -> int:
        """How many events ``flt`` selects."""
        return sum(1 for event in self._events if flt.matches(event))

    async def close(self) -> None:
        """Nothing to release."""

    def indexed(self) -> list[AuditEvent]:
        """Everything indexed, in append order, for assertions."""
        return list(self._events)
