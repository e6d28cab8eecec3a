"""A principal's audit trail and summary, from the Host's AuditQuery port when it has one.

Two sources:

* **The AuditQuery port** (``host.audit_query``: the index the Host's shipper feeds from the
  durable log, or a log that answers queries itself). ``GetPrincipalAuditTrail`` is one
  :meth:`~aesp.core.ports.audit.AuditQuery.query` page with the principal, tenant, window and
  types as the filter, so it sees every Host's events, across restarts, in append order; the
  cursor is the port's own. The summary's totals are exact ``count`` calls; its
  ``event_type_counts`` and ``last_event_at_ms`` come from reading the principal's events, at
  most :data:`SUMMARY_SCAN_LIMIT` of them (oldest first), a bound on one admin read. Events
  reach the index when the shipper has shipped them, so the last second of activity may be
  missing from both.
* **Without one** (a Host whose profile has no index), the events this Host process recorded
  (``AuditLog.events()``, up to the log's in-memory window), as before.

Tenant scoping: only events whose ``tenant_id`` is the resolved tenant are read, so a trail
can never show another tenant's events (SPEC §3.14 rule 4, item 184).
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Final

from aesp.core.admin.identity_types import AuditSummary, AuditTrailQuery
from aesp.core.audit import AuditEvent
from aesp.core.errors import ValidationError
from aesp.core.ports._paging import MAX_PAGE, Page, page_limit
from aesp.core.ports.audit import AuditFilter, AuditQuery

__all__ = [
    "SUMMARY_SCAN_LIMIT",
    "principal_events",
    "query_summary",
    "query_trail",
    "summarise",
    "trail_page",
]

SUMMARY_SCAN_LIMIT: Final = 100 * MAX_PAGE  # events one summary reads for its type counts


def principal_events(
    events: Iterable[AuditEvent], tenant_id: str, principal_id: str
) -> list[AuditEvent]:
    """The events of ``principal_id`` recorded in ``tenant_id``, oldest first."""
    return [e for e in events if e.principal_id == principal_id and e.tenant_id == tenant_id]


def summarise(events: Sequence[AuditEvent]) -> AuditSummary:
    """Counts by outcome and type, and the time of the latest event."""
    return AuditSummary(
        total_events=len(events),
        denied_events=sum(1 for e in events if e.outcome == "DENIED"),
        failed_events=sum(1 for e in events if e.outcome in ("FAILURE", "ERROR")),
        last_event_at_ms=max((e.timestamp_ms for e in events), default=0),
        event_type_counts=dict(Counter(e.event_type for e in events)),
    )


def _bad_cursor() -> ValidationError:
    return ValidationError(
        "MALFORMED_REQUEST",
        "The cursor was not returned by GetPrincipalAuditTrail; start again without one.",
        details={"field": "cursor"},
    )


async def query_trail(
    source: AuditQuery, tenant_id: str, query: AuditTrailQuery
) -> Page[AuditEvent]:
    """One page of the principal's events in ``tenant_id`` from the AuditQuery port, after the
    query's filters (``start_ms`` inclusive, ``end_ms`` exclusive, ``event_types``).

    Raises:
        ValidationError: ``MALFORMED_REQUEST`` for a cursor the port did not return.
    """
    flt = AuditFilter(
        tenant_id=tenant_id,
        principal_id=query.principal_id,
        start_ms=query.start_ms or None,
        end_ms=query.end_ms or None,
        event_types=query.event_types,
    )
    try:
        return await source.query(flt, limit=page_limit(query.limit), cursor=query.cursor)
    except ValueError:
        raise _bad_cursor() from None


async def query_summary(source: AuditQuery, tenant_id: str, principal_id: str) -> AuditSummary:
    """The principal's summary in ``tenant_id`` from the AuditQuery port (module docstring)."""
    flt = AuditFilter(tenant_id=tenant_id, principal_id=principal_id)
    total = await source.count(flt)
    denied = await source.count(dataclasses.replace(flt, outcome="DENIED"))
    failed = 0
    for outcome in ("FAILURE", "ERROR"):
        failed += await source.count(dataclasses.replace(flt, outcome=outcome))
    types: Counter[str] = Counter()
    last, read, cursor = 0, 0, ""
    while read < SUMMARY_SCAN_LIMIT:
        page = await source.query(flt, limit=MAX_PAGE, cursor=cursor)
        for event in page.items:
            types[event.event_type] += 1
            last = max(last, event.timestamp_ms)
        read += len(page.items)
        cursor = page.next_cursor
        if not cursor or not page.items:
            break
    return AuditSummary(total, denied, failed, last, dict(types))


def _cursor(event: AuditEvent) -> str:
    return f"{event.timestamp_ms}:{event.event_id}"


def _resume(events: Sequence[AuditEvent], cursor: str) -> int:
    """Index of the first event after ``cursor`` (``<timestamp_ms>:<event_id>``).

    When the cursor's event left the in-memory window, the page resumes at the first event
    later than its timestamp.

    Raises:
        ValidationError: ``MALFORMED_REQUEST`` for a cursor this operation did not return.
    """
    if not cursor:
        return 0
    stamp, _, event_id = cursor.partition(":")
    if not stamp.isdigit() or not event_id:
        raise _bad_cursor()
    for index, event in enumerate(events):
        if event.event_id == event_id:
            return index + 1
    after = int(stamp)
    return next((i for i, e in enumerate(events) if e.timestamp_ms > after), len(events))


def trail_page(events: Sequence[AuditEvent], query: AuditTrailQuery) -> Page[AuditEvent]:
    """One page of ``events`` (already scoped to one principal and tenant) after the query's
    filters: ``start_ms`` inclusive, ``end_ms`` exclusive, ``event_types``."""
    wanted = frozenset(query.event_types)
    kept = [
        e
        for e in events
        if (not query.start_ms or e.timestamp_ms >= query.start_ms)
        and (not query.end_ms or e.timestamp_ms < query.end_ms)
        and (not wanted or e.event_type in wanted)
    ]
    start = _resume(kept, query.cursor)
    size = page_limit(query.limit)
    page = kept[start : start + size]
    more = start + size < len(kept)
    return Page(page, _cursor(page[-1]) if more and page else "")
