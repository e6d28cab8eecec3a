"""Conformance kits for the audit query side (SPEC §3.7 (3), checklist 184, 188, 190, 191).

What must hold on every cloud: every filter selects exactly what it says, alone and combined;
a tenant's query never returns another tenant's event (item 184); results come in append order
and page without gaps or repeats even while another Host appends (item 191); re-indexing is
idempotent and never rewrites an event (item 190); and every field comes back exactly.

The expected results are computed here by :func:`expected`, written independently of
:meth:`AuditFilter.matches`, so a wrong reference cannot make a wrong store pass.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence
from typing import Any

import pytest

from aesp.core.audit import AuditEvent
from aesp.core.ports._paging import DEFAULT_PAGE
from aesp.core.ports.audit import AuditFilter, AuditIndex, AuditQuery

T0 = 1_700_000_000_000
TENANTS = ("acme", "beta", "")
TYPES = ("TOOL_INVOCATION_START", "TOOL_INVOCATION_COMPLETE", "AUTHORIZATION_DENIED")
OUTCOMES = ("SUCCESS", "FAILURE", "DENIED", "ERROR")


def event(n: int, **fields: Any) -> AuditEvent:
    """Event number ``n`` of a varied corpus; ``fields`` override any attribute."""
    values: dict[str, Any] = {
        "event_id": f"evt-{n:05d}",
        "timestamp_ms": T0 + (n * 7919) % 1000,  # not monotonic in n: order is append order
        "event_type": TYPES[n % 3],
        "outcome": OUTCOMES[n % 4],
        "action": "invoke",
        "tenant_id": TENANTS[n % 3 if n % 5 else (n + 1) % 3],
        "principal_id": f"user-{n % 4}",
        "session_id": f"s-{n % 6}",
        "correlation_id": f"c-{n // 2}",
        "resource": f"tool:t{n % 2}",
    }
    values.update(fields)
    return AuditEvent(**values)


def expected(events: Sequence[AuditEvent], **want: Any) -> list[str]:
    """Ids of ``events`` with every given attribute equal (``types``: any of; ``start``/``end``:
    the half-open time range), in the given order."""
    out = []
    for e in events:
        ok = all(getattr(e, k) == v for k, v in want.items() if k not in {"types", "start", "end"})
        ok = ok and ("types" not in want or e.event_type in want["types"])
        ok = ok and ("start" not in want or e.timestamp_ms >= want["start"])
        ok = ok and ("end" not in want or e.timestamp_ms < want["end"])
        if ok:
            out.append(e.event_id)
    return out


async def all_pages(port: AuditQuery, flt: AuditFilter, limit: int) -> list[AuditEvent]:
    """Every page of a query, checking each page's size."""
    seen: list[AuditEvent] = []
    cursor = ""
    for _ in range(10_000):
        page = await port.query(flt, limit=limit, cursor=cursor)
        assert len(page.items) <= limit
        seen += page.items
        if not page.next_cursor:
            return seen
        assert page.items, "a page with a next_cursor must not be empty"
        cursor = page.next_cursor
    raise AssertionError("query never returned an empty next_cursor")


def _ids(events: Sequence[AuditEvent]) -> list[str]:
    return [e.event_id for e in events]


# (filter, the same selection as keyword arguments of expected())
FILTERS: list[tuple[AuditFilter, dict[str, Any]]] = [
    (AuditFilter(), {}),
    (AuditFilter(tenant_id="acme"), {"tenant_id": "acme"}),
    (AuditFilter(tenant_id=""), {"tenant_id": ""}),
    (AuditFilter(start_ms=T0 + 300), {"start": T0 + 300}),
    (AuditFilter(end_ms=T0 + 300), {"end": T0 + 300}),
    (AuditFilter(event_types=(TYPES[0], TYPES[2])), {"types": (TYPES[0], TYPES[2])}),
    (AuditFilter(principal_id="user-1"), {"principal_id": "user-1"}),
    (AuditFilter(session_id="s-5"), {"session_id": "s-5"}),
    (AuditFilter(correlation_id="c-7"), {"correlation_id": "c-7"}),
    (AuditFilter(outcome="DENIED"), {"outcome": "DENIED"}),
    (
        AuditFilter("beta", T0 + 100, T0 + 900, (TYPES[1],), "user-3", None, None, "FAILURE"),
        {"tenant_id": "beta", "start": T0 + 100, "end": T0 + 900, "types": (TYPES[1],)}
        | {"principal_id": "user-3", "outcome": "FAILURE"},
    ),
    (
        AuditFilter(tenant_id="acme", session_id="s-2", event_types=TYPES),
        {"tenant_id": "acme", "session_id": "s-2"},
    ),
    (
        AuditFilter(tenant_id="acme", principal_id="nobody"),
        {"tenant_id": "acme", "principal_id": "nobody"},
    ),
    (AuditFilter(start_ms=T0 + 500, end_ms=T0 + 500), {"start": T0 + 500, "end": T0 + 500}),
]


class AbstractAuditQueryConformance:
    """Behaviour every AuditQuery must show. Subclasses provide ``port`` and :meth:`add`."""

    @pytest.fixture
    def port(self) -> Any:  # pragma: no cover - overridden
        """Yield a fresh, empty store."""
        raise AssertionError("the adapter's test class must override the 'port' fixture")

    @pytest.fixture
    def peer(self, port: Any) -> Any:
        """A second handle on the same store, as another Host replica would open it."""
        return port

    async def add(self, port: Any, events: Sequence[AuditEvent]) -> None:  # pragma: no cover
        """Put ``events`` into the store the way its writer does."""
        raise AssertionError("the adapter's test class must override 'add'")

    async def test_is_an_audit_query(self, port: AuditQuery) -> None:
        assert isinstance(port, AuditQuery)

    async def test_a_fresh_store_is_empty(self, port: AuditQuery) -> None:
        page = await port.query(AuditFilter())
        assert (list(page.items), page.next_cursor) == ([], "")
        assert await port.count(AuditFilter()) == 0

    @pytest.mark.parametrize(("flt", "want"), FILTERS)
    async def test_item_191_every_filter_alone_and_combined(
        self, port: AuditQuery, flt: AuditFilter, want: dict[str, Any]
    ) -> None:
        corpus = [event(n) for n in range(120)]
        await self.add(port, corpus)
        ids = expected(corpus, **want)
        assert _ids(await all_pages(port, flt, limit=7)) == ids
        assert await port.count(flt) == len(ids)

    async def test_item_184_a_tenant_never_sees_another_tenants_events(
        self, port: AuditQuery
    ) -> None:
        corpus = [event(n) for n in range(90)]
        await self.add(port, corpus)
        for tenant in TENANTS:
            for flt in (
                AuditFilter(tenant_id=tenant),
                AuditFilter(tenant_id=tenant, principal_id="user-2"),
                AuditFilter(tenant_id=tenant, correlation_id="c-10"),
            ):
                got = await all_pages(port, flt, limit=9)
                assert {e.tenant_id for e in got} <= {tenant}
                assert await port.count(flt) == len(got)
        everything = await all_pages(port, AuditFilter(), limit=50)
        assert _ids(everything) == _ids(corpus)  # only tenant_id=None spans tenants

    async def test_results_come_in_append_order_not_time_order(self, port: AuditQuery) -> None:
        corpus = [event(n, timestamp_ms=T0 + 1000 - n) for n in range(15)]
        await self.add(port, corpus[:5])
        await self.add(port, corpus[5:])
        assert _ids(await all_pages(port, AuditFilter(), limit=4)) == _ids(corpus)
        window = AuditFilter(start_ms=T0 + 990, end_ms=T0 + 996)
        assert _ids(await all_pages(port, window, limit=2)) == _ids(corpus[5:11])

    async def test_a_zero_limit_means_the_default_page(self, port: AuditQuery) -> None:
        await self.add(port, [event(n) for n in range(DEFAULT_PAGE + 5)])
        page = await port.query(AuditFilter())
        assert len(page.items) == DEFAULT_PAGE and page.next_cursor

    @pytest.mark.parametrize(("flt", "want"), [FILTERS[0], FILTERS[1]])
    async def test_item_191_paging_has_no_gap_or_repeat_while_another_host_appends(
        self, port: AuditQuery, peer: Any, flt: AuditFilter, want: dict[str, Any]
    ) -> None:
        corpus = [event(n) for n in range(260)]
        await self.add(port, corpus[:60])
        before = _ids(await all_pages(port, flt, limit=1000))

        async def writer() -> None:
            for start in range(60, 260, 5):
                await self.add(peer, corpus[start : start + 5])
                await asyncio.sleep(0)

        async def reader() -> list[AuditEvent]:
            seen: list[AuditEvent] = []
            cursor = ""
            while True:
                page = await port.query(flt, limit=3, cursor=cursor)
                seen += page.items
                await asyncio.sleep(0)
                if not page.next_cursor:
                    return seen
                cursor = page.next_cursor

        _, seen = await asyncio.gather(writer(), reader())
        final = _ids(await all_pages(port, flt, limit=1000))
        assert final == expected(corpus, **want)
        assert _ids(seen) == final[: len(seen)]  # no repeat, no gap, nothing out of order
        assert _ids(seen)[: len(before)] == before  # everything there at the start was seen

    async def test_every_field_round_trips_exactly(self, port: AuditQuery) -> None:
        metadata = {f"k{i:04d}": f"v{i}" * (i % 7) for i in range(1000)}
        metadata |= {"ключ": '値 🚀 "quoted"\n\t\\', "nul": "a\x00b", "big": "x" * 200_000}
        original = AuditEvent(
            event_type="POLICY_VIOLATION",
            outcome="SUCCESS",
            action="invoke ✓",
            principal_id="oidc|https://idp.example/|Zoë",
            tenant_id="acme",
            session_id="sess-ünï",
            resource="tool:export\u2028",
            correlation_id="host-1691568000-a7b9c3d2",
            metadata=metadata,
            policy_violations=("pii-guard", "夜間禁止"),
            source_ip="2001:db8::1",
            event_id="evt-ü-1",
            timestamp_ms=2**53 + 1,
        )
        bare = AuditEvent(event_type="SESSION_CREATE", outcome="SUCCESS", action="", event_id="e2")
        await self.add(port, [original, bare])
        got = await all_pages(port, AuditFilter(), limit=10)
        assert got == [original, bare]
        assert dict(got[0].metadata) == metadata
        assert got[0].policy_violations == ("pii-guard", "夜間禁止")
        assert (await port.query(AuditFilter(principal_id=original.principal_id))).items == [
            original
        ]

    @pytest.mark.parametrize("cursor", ["nonsense", "-1", "1.5", "١٢", "[1]"])
    async def test_a_cursor_it_did_not_issue_is_refused(
        self, port: AuditQuery, cursor: str
    ) -> None:
        with pytest.raises(ValueError, match="was not returned by query"):
            await port.query(AuditFilter(), cursor=cursor)


class AbstractAuditIndexConformance(AbstractAuditQueryConformance):
    """Everything an AuditQuery shows, plus idempotent, insert-only ``index``."""

    async def add(self, port: Any, events: Sequence[AuditEvent]) -> None:
        await port.index(events)

    async def test_is_an_audit_index(self, port: AuditIndex) -> None:
        assert isinstance(port, AuditIndex)

    async def test_reindexing_the_same_events_is_idempotent(self, port: AuditIndex) -> None:
        corpus = [event(n) for n in range(20)]
        assert await port.index(corpus[:12]) == 12
        assert await port.index(corpus) == 8  # at-least-once shipping resends a batch
        assert await port.index(corpus[3:9]) == 0
        assert await port.index([]) == 0
        assert await port.index([corpus[0], corpus[0], event(99), event(99)]) == 1
        assert _ids(await all_pages(port, AuditFilter(), limit=6)) == _ids([*corpus, event(99)])
        assert await port.count(AuditFilter()) == 21

    async def test_item_190_a_taken_event_id_never_rewrites_the_event(
        self, port: AuditIndex
    ) -> None:
        original = event(1, metadata={"amount": "10"})
        await port.index([original, event(2)])
        forged = dataclasses.replace(original, outcome="SUCCESS", metadata={"amount": "0"})
        assert await port.index([forged, event(3)]) == 1
        assert list((await port.query(AuditFilter())).items) == [original, event(2), event(3)]

    async def test_two_hosts_indexing_overlapping_batches_store_each_event_once(
        self, port: AuditIndex, peer: AuditIndex
    ) -> None:
        corpus = [event(n) for n in range(200)]
        batches = [corpus[i : i + 30] for i in range(0, 200, 20)]  # each overlaps the next
        added = await asyncio.gather(
            *(
                (port if i % 2 else peer).index(batch)
                for i, batch in enumerate(batches + batches[::-1])
            )
        )
        assert sum(added) == 200
        got = _ids(await all_pages(port, AuditFilter(), limit=1000))
        assert sorted(got) == _ids(corpus)
        assert await peer.count(AuditFilter()) == 200
