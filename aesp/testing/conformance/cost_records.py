"""Conformance kit for the Cost port's records: budgets and the usage ledger (items 184, 195-197).

The base of :class:`~aesp.testing.conformance.cost.AbstractCostLedgerConformance`; adapters
subclass that one. What must hold: budgets round-trip and belong to one tenant (item 184: a
tenant never reads, replaces or deletes another's); usage is recorded once per ``event_id``,
comes back exactly, filters by tenant, time and resource type (item 197), and pages without
gaps or repeats while another Host records.
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import pytest

from aesp.core.cost import BudgetPeriod, BudgetScope, UsageRecord
from aesp.core.ports.cost import BudgetOwnershipError, CostLedger
from aesp.testing.conformance._cost_data import DEC_1, NOV_1, T0, TTL, budget, usage

TENANTS = ("acme", "beta", "")
TYPES = ("API_CALL", "CPU", "STORAGE")


def _corpus(count: int) -> list[UsageRecord]:
    return [
        usage(
            n, tenant_id=TENANTS[n % 3], resource_type=TYPES[n // 3 % 3], timestamp_ms=T0 + 10 * n
        )
        for n in range(count)
    ]


async def _all_usage(port: CostLedger, limit: int, **selection: Any) -> list[UsageRecord]:
    seen: list[UsageRecord] = []
    cursor = ""
    for _ in range(10_000):
        page = await port.usage(limit=limit, cursor=cursor, **selection)
        assert len(page.items) <= limit
        seen += page.items
        if not page.next_cursor:
            return seen
        cursor = page.next_cursor
    raise AssertionError("usage never returned an empty next_cursor")


class CostRecordsConformance:
    """Budget and usage behaviour every CostLedger must show."""

    @pytest.fixture
    def port(self) -> Any:  # pragma: no cover - overridden
        """Yield a fresh, empty CostLedger."""
        raise AssertionError("the adapter's test class must override the 'port' fixture")

    @pytest.fixture
    def peer(self, port: Any) -> Any:
        """A second handle on the same store, as another Host replica would open it."""
        return port

    async def test_a_budget_round_trips_every_field(self, port: CostLedger) -> None:
        b = budget(
            "b-ü",
            12_345_678_901,
            name="Équipe données — Zürich",
            currency="EUR",
            period=BudgetPeriod.QUARTERLY,
            alert_thresholds=("50%", "80%", "100%", "12.5%"),
            hard_limit=False,
            scope=BudgetScope.TOOL,
            scope_value="tool:export",
            start_date_ms=NOV_1,
            end_date_ms=DEC_1 * 2,
        )
        await port.put_budget(b)
        assert await port.get_budget("b-ü", tenant_id="acme") == b
        assert await port.get_budget("b-ü", tenant_id=None) == b
        assert await port.get_budget("nope", tenant_id=None) is None
        replaced = dataclasses.replace(b, amount_micros=1, scope=BudgetScope.TENANT, scope_value="")
        await port.put_budget(replaced)
        await port.put_budget(replaced)
        assert await port.get_budget("b-ü", tenant_id="acme") == replaced

    async def test_a_new_limit_applies_to_the_next_reserve(self, port: CostLedger) -> None:
        await port.put_budget(budget("b", 10))
        assert (await port.reserve(["b"], 10, reservation_id="r1", now_ms=T0, ttl_ms=TTL)).accepted
        await port.put_budget(budget("b", 15))
        outcome = await port.reserve(["b"], 6, reservation_id="r2", now_ms=T0, ttl_ms=TTL)
        assert (outcome.refused_budget_id, outcome.remaining_micros) == ("b", 5)
        assert (await port.reserve(["b"], 5, reservation_id="r3", now_ms=T0, ttl_ms=TTL)).accepted

    async def test_item_184_a_budget_belongs_to_one_tenant(self, port: CostLedger) -> None:
        await port.put_budget(budget("b", 10, "acme"))
        with pytest.raises(BudgetOwnershipError, match="another tenant"):
            await port.put_budget(budget("b", 999, "beta"))
        assert await port.get_budget("b", tenant_id="beta") is None
        assert await port.delete_budget("b", tenant_id="beta") is False
        assert list((await port.list_budgets(tenant_id="beta")).items) == []
        assert await port.get_budget("b", tenant_id="acme") == budget("b", 10, "acme")
        assert await port.delete_budget("b", tenant_id="acme") is True
        assert await port.delete_budget("b", tenant_id="acme") is False
        await port.put_budget(budget("b", 5, "beta"))  # a deleted id is free again
        assert await port.get_budget("b", tenant_id="beta") == budget("b", 5, "beta")

    async def test_list_budgets_pages_by_id_and_filters_by_tenant(self, port: CostLedger) -> None:
        ids = [f"b{i:02d}" for i in range(25)]
        await asyncio.gather(
            *(port.put_budget(budget(i, 1, TENANTS[n % 3])) for n, i in enumerate(ids))
        )
        for tenant in (None, *TENANTS):
            seen: list[str] = []
            cursor = ""
            while True:
                page = await port.list_budgets(tenant_id=tenant, limit=4, cursor=cursor)
                assert len(page.items) <= 4
                seen += [b.budget_id for b in page.items]
                assert all(tenant is None or b.tenant_id == tenant for b in page.items)
                if not page.next_cursor:
                    break
                cursor = page.next_cursor
            assert seen == [i for n, i in enumerate(ids) if tenant in (None, TENANTS[n % 3])]

    async def test_deleting_a_budget_does_not_reset_its_spend(self, port: CostLedger) -> None:
        await port.put_budget(budget("b", 10))
        await port.reserve(["b"], 10, reservation_id="r1", now_ms=T0, ttl_ms=TTL)
        await port.settle("r1", 10, [])
        assert await port.delete_budget("b", tenant_id=None) is True
        await port.put_budget(budget("b", 10))
        outcome = await port.reserve(["b"], 1, reservation_id="r2", now_ms=T0, ttl_ms=TTL)
        assert (outcome.accepted, await port.spent("b", NOV_1, DEC_1)) == (False, 10)

    async def test_record_usage_is_idempotent_and_keeps_the_first(self, port: CostLedger) -> None:
        corpus = _corpus(12)
        assert await port.record_usage(corpus[:8]) == 8
        assert await port.record_usage(corpus) == 4  # at-least-once delivery resends a batch
        assert await port.record_usage([]) == 0
        forged = dataclasses.replace(corpus[0], total_cost_micros=0, unit_cost=0.0)
        assert await port.record_usage([forged, corpus[0], usage(99), usage(99)]) == 1
        got = await _all_usage(port, 5, tenant_id=None)
        assert got == [*corpus, usage(99)]

    async def test_usage_round_trips_every_field_exactly(self, port: CostLedger) -> None:
        records = [
            usage(
                1,
                tenant_id="",
                principal_id="oidc|https://idp/|Zoë",
                session_id="s-ü",
                resource_type="CPU",
                quantity=0.1 + 0.2,
                unit="seconds",
                unit_cost=1e-12,
                total_cost_micros=2**62,
                cost_center="R&D — 研究",
                project_id='p"1\n',
                metadata={"tool_name": "export", "ключ": "値 🚀", "big": "x" * 100_000},
                tool="tool:export",
            ),
            usage(2, quantity=123456789.12345679, unit_cost=0.0, total_cost_micros=-5, metadata={}),
        ]
        await port.record_usage(records)
        assert await _all_usage(port, 10, tenant_id=None) == records

    @pytest.mark.parametrize(
        "selection",
        [
            {"tenant_id": None},
            {"tenant_id": "acme"},
            {"tenant_id": ""},
            {"tenant_id": None, "start_ms": T0 + 200},
            {"tenant_id": None, "end_ms": T0 + 200},
            {"tenant_id": None, "resource_types": ("CPU", "STORAGE")},
            {
                "tenant_id": "beta",
                "start_ms": T0 + 100,
                "end_ms": T0 + 500,
                "resource_types": ("CPU",),
            },
            {"tenant_id": "nobody"},
        ],
    )
    async def test_item_197_usage_filters_and_item_184_tenants_never_mix(
        self, port: CostLedger, selection: dict[str, Any]
    ) -> None:
        corpus = _corpus(90)
        await port.record_usage(corpus[:40])
        await port.record_usage(corpus[40:])
        tenant, start, end = (
            selection["tenant_id"],
            selection.get("start_ms"),
            selection.get("end_ms"),
        )
        types = selection.get("resource_types", ())
        want = [
            r
            for r in corpus
            if (tenant is None or r.tenant_id == tenant)
            and (start is None or r.timestamp_ms >= start)
            and (end is None or r.timestamp_ms < end)
            and (not types or r.resource_type in types)
        ]
        assert await _all_usage(port, 7, **selection) == want

    async def test_usage_pages_without_gaps_while_another_host_records(
        self, port: CostLedger, peer: CostLedger
    ) -> None:
        corpus = _corpus(240)
        await port.record_usage(corpus[:60])

        async def writer() -> None:
            for start in range(60, 240, 6):
                await peer.record_usage(corpus[start : start + 6])
                await asyncio.sleep(0)

        async def reader() -> list[UsageRecord]:
            seen: list[UsageRecord] = []
            cursor = ""
            while True:
                page = await port.usage(tenant_id="acme", limit=4, cursor=cursor)
                seen += page.items
                await asyncio.sleep(0)
                if not page.next_cursor:
                    return seen
                cursor = page.next_cursor

        _, seen = await asyncio.gather(writer(), reader())
        final = [r for r in corpus if r.tenant_id == "acme"]
        assert await _all_usage(port, 1000, tenant_id="acme") == final
        assert seen == final[: len(seen)] and len(seen) >= 20

    @pytest.mark.parametrize("cursor", ["nonsense", "-1", "1.5", "١٢"])
    async def test_a_usage_cursor_it_did_not_issue_is_refused(
        self, port: CostLedger, cursor: str
    ) -> None:
        with pytest.raises(ValueError, match="was not returned by usage"):
            await port.usage(tenant_id=None, cursor=cursor)

    async def test_a_bare_string_of_resource_types_is_refused(self, port: CostLedger) -> None:
        # "CPU" as a sequence is "C", "P", "U": it would silently select nothing.
        with pytest.raises(TypeError, match="not a string"):
            await port.usage(tenant_id=None, resource_types="CPU")
