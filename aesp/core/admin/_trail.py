"""A principal's audit trail and summary, read from the events this Host process recorded.

Why only this process's events: the :class:`~aesp.core.audit.AuditLog` port offers
``events()`` (what this process appended, oldest first) and no query; the durable, queryable,
per-tenant log with ``QueryEvents`` comes with the audit issue, and these reads will move onto
it then. Until that, ``GetPrincipalAuditTrail`` and ``include_audit_summary`` see the events
written since this Host started (up to the log's in-memory window).

Tenant scoping: only events whose ``tenant_id`` is the resolved tenant are read, so a trail
can never show another tenant's events (SPEC §3.14 rule 4, item 184).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

from aesp.core.admin.identity_types import AuditSummary, AuditTrailQuery
from aesp.core.audit import AuditEvent
from aesp.core.errors import ValidationError
from aesp.core.ports._paging import Page, page_limit

__all__ = ["principal_events", "summarise", "trail_page"]


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
        raise ValidationError(
            "MALFORMED_REQUEST",
            "The cursor was not returned by GetPrincipalAuditTrail; start again without one.",
            details={"field": "cursor"},
        )
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
