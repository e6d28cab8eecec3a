"""Conformance kit for the Cost port (SPEC §3.13, C-37, checklist 184, 185, 195-199).

What must hold on every cloud: a hard budget admits exactly its amount however many calls race
for it, on however many Host replicas (``peer`` is a second handle on the same store); a
reservation on several budgets is all or nothing; settling charges once; released and expired
reservations give their capacity back; a soft budget never refuses. Usage, budgets and their
listings are tested by the base class, :mod:`aesp.testing.conformance.cost_records`.
"""

from __future__ import annotations

import asyncio

import pytest

from aesp.core.cost import BudgetPeriod
from aesp.core.ports.cost import (
    BudgetNotFoundError,
    CostLedger,
    ReservationConflictError,
    ReservationNotFoundError,
)
from aesp.testing.conformance._cost_data import DEC_1, NOV_1, T0, TTL, budget, usage
from aesp.testing.conformance.cost_records import CostRecordsConformance

__all__ = ["AbstractCostLedgerConformance", "budget", "usage"]


class AbstractCostLedgerConformance(CostRecordsConformance):
    """Everything every CostLedger must show. Subclasses provide ``port`` (and ``peer`` when
    the store can be opened twice)."""

    async def test_is_a_cost_ledger(self, port: CostLedger) -> None:
        assert isinstance(port, CostLedger)

    @pytest.mark.parametrize("settle", [True, False])
    async def test_item_199_racing_reserves_on_two_hosts_admit_exactly_the_budget(
        self, port: CostLedger, peer: CostLedger, settle: bool
    ) -> None:
        await port.put_budget(budget("b", 100))
        breaches: list[int] = []
        done = asyncio.Event()

        async def call(i: int) -> bool:
            host = port if i % 2 else peer
            outcome = await host.reserve(["b"], 1, reservation_id=f"r{i}", now_ms=T0, ttl_ms=TTL)
            if outcome.accepted and settle:
                assert await host.settle(f"r{i}", 1, [usage(i)])
            if not outcome.accepted:
                assert (outcome.refused_budget_id, outcome.remaining_micros) == ("b", 0)
            return outcome.accepted

        async def watch() -> None:
            while not done.is_set():
                status = await peer.status("b", now_ms=T0)
                assert status is not None
                if status.spent_micros + status.reserved_micros > 100:
                    breaches.append(status.spent_micros + status.reserved_micros)
                await asyncio.sleep(0)

        watcher = asyncio.create_task(watch())
        results = await asyncio.gather(*(call(i) for i in range(200)))
        done.set()
        await watcher
        assert (sum(results), breaches) == (100, [])
        status = await port.status("b", now_ms=T0)
        assert status is not None
        figures = (status.spent_micros, status.reserved_micros, status.remaining_micros)
        assert figures == ((100, 0, 0) if settle else (0, 100, 0))

    async def test_racing_reserves_on_overlapping_budgets_are_all_or_nothing(
        self, port: CostLedger, peer: CostLedger
    ) -> None:
        await port.put_budget(budget("a", 50))
        await port.put_budget(budget("b", 100))
        requests = [(["a", "b"] if i % 2 else ["b"]) for i in range(300)]
        outcomes = await asyncio.gather(
            *(
                (port if i % 3 else peer).reserve(
                    ids, 1, reservation_id=f"r{i}", now_ms=T0, ttl_ms=TTL
                )
                for i, ids in enumerate(requests)
            )
        )
        on_both = sum(
            1 for ids, o in zip(requests, outcomes, strict=True) if o.accepted and len(ids) == 2
        )
        a, b = await port.status("a", now_ms=T0), await peer.status("b", now_ms=T0)
        assert a is not None and b is not None
        assert a.reserved_micros == on_both <= 50
        assert b.reserved_micros == 100  # 150 requests on b alone outnumber its capacity

    async def test_a_reservation_on_several_budgets_is_all_or_nothing(
        self, port: CostLedger
    ) -> None:
        await port.put_budget(budget("a", 10))
        await port.put_budget(budget("b", 5))
        refused = await port.reserve(["a", "b"], 6, reservation_id="r1", now_ms=T0, ttl_ms=TTL)
        assert (refused.accepted, refused.refused_budget_id, refused.remaining_micros) == (
            False,
            "b",
            5,
        )
        assert await self._reserved(port, "a") == 0  # nothing held on the budget that agreed
        ok = await port.reserve(["a", "b"], 5, reservation_id="r2", now_ms=T0, ttl_ms=TTL)
        assert ok.reservation is not None and ok.reservation.budget_ids == ("a", "b")
        assert (await self._reserved(port, "a"), await self._reserved(port, "b")) == (5, 5)
        again = await port.reserve(["a", "b"], 1, reservation_id="r3", now_ms=T0, ttl_ms=TTL)
        assert (again.refused_budget_id, again.remaining_micros) == ("b", 0)
        assert await self._reserved(port, "a") == 5
        both_full = await port.reserve(["b", "a"], 99, reservation_id="r4", now_ms=T0, ttl_ms=TTL)
        assert both_full.refused_budget_id == "b"  # the first refusal in the caller's order

    async def test_a_budget_listed_twice_is_held_once(self, port: CostLedger) -> None:
        await port.put_budget(budget("b", 10))
        ok = await port.reserve(["b", "b"], 6, reservation_id="r", now_ms=T0, ttl_ms=TTL)
        assert ok.reservation is not None and ok.reservation.budget_ids == ("b",)
        assert await self._reserved(port, "b") == 6

    async def test_settle_charges_once_and_records_usage_once(self, port: CostLedger) -> None:
        await port.put_budget(budget("b", 100))
        await port.reserve(["b"], 10, reservation_id="r1", now_ms=T0, ttl_ms=TTL)
        assert await port.settle("r1", 7, [usage(1), usage(2)]) is True
        assert await port.settle("r1", 7, [usage(1), usage(2)]) is False
        assert await port.settle("r1", 50, [usage(3)]) is False  # a replay changes nothing
        status = await port.status("b", now_ms=T0)
        assert status is not None and (status.spent_micros, status.reserved_micros) == (7, 0)
        await port.reserve(["b"], 1, reservation_id="r2", now_ms=T0, ttl_ms=TTL)
        assert await port.settle("r2", 1, [usage(2), usage(4)]) is True
        records = (await port.usage(tenant_id="acme")).items
        assert [r.event_id for r in records] == ["u-00001", "u-00002", "u-00004"]
        assert await port.spent("b", NOV_1, DEC_1) == 8

    async def test_settling_an_unknown_reservation_raises_and_records_nothing(
        self, port: CostLedger
    ) -> None:
        with pytest.raises(ReservationNotFoundError, match="nope"):
            await port.settle("nope", 5, [usage(1)])
        assert list((await port.usage(tenant_id=None)).items) == []

    async def test_release_gives_capacity_back(self, port: CostLedger) -> None:
        await port.put_budget(budget("b", 10))
        assert (await port.reserve(["b"], 10, reservation_id="r1", now_ms=T0, ttl_ms=TTL)).accepted
        refused = await port.reserve(["b"], 1, reservation_id="r2", now_ms=T0, ttl_ms=TTL)
        assert (refused.accepted, refused.refused_budget_id, refused.remaining_micros) == (
            False,
            "b",
            0,
        )
        assert await port.release("r1") is True
        assert await port.release("r1") is False
        assert await port.release("unknown") is False
        assert (await port.reserve(["b"], 4, reservation_id="r2", now_ms=T0, ttl_ms=TTL)).accepted
        assert await port.settle("r2", 4, [])
        assert await port.release("r2") is False  # settled: nothing to give back
        assert await port.settle("r1", 3, []) is True  # the call ran after all: it is charged
        assert await port.spent("b", NOV_1, DEC_1) == 7

    async def test_expired_reservations_give_capacity_back(self, port: CostLedger) -> None:
        await port.put_budget(budget("b", 10))
        assert (await port.reserve(["b"], 10, reservation_id="r1", now_ms=T0, ttl_ms=1000)).accepted
        late = await port.reserve(["b"], 1, reservation_id="r2", now_ms=T0 + 999, ttl_ms=TTL)
        assert late.refused_budget_id == "b"
        assert (
            await port.reserve(["b"], 1, reservation_id="r2", now_ms=T0 + 1000, ttl_ms=TTL)
        ).accepted
        assert await port.settle("r1", 10, []) is True  # expired, but the call ran: charged
        status = await port.status("b", now_ms=T0 + 1000)
        assert status is not None and (status.spent_micros, status.reserved_micros) == (10, 1)

    async def test_item_199_a_soft_budget_never_refuses(self, port: CostLedger) -> None:
        await port.put_budget(budget("soft", 1, hard_limit=False))
        outcomes = [
            await port.reserve(["soft"], 5, reservation_id=f"r{i}", now_ms=T0, ttl_ms=TTL)
            for i in range(20)
        ]
        assert all(o.accepted for o in outcomes)
        status = await port.status("soft", now_ms=T0)
        assert status is not None
        assert (status.reserved_micros, status.remaining_micros) == (100, 0)

    async def test_a_budget_at_100_percent_refuses_even_a_free_call(self, port: CostLedger) -> None:
        await port.put_budget(budget("b", 10))
        await port.put_budget(budget("frozen", 0))
        await port.reserve(["b"], 9, reservation_id="r1", now_ms=T0, ttl_ms=TTL)
        assert (await port.reserve(["b"], 0, reservation_id="r2", now_ms=T0, ttl_ms=TTL)).accepted
        assert (await port.reserve(["b"], 1, reservation_id="r3", now_ms=T0, ttl_ms=TTL)).accepted
        assert not (
            await port.reserve(["b"], 0, reservation_id="r4", now_ms=T0, ttl_ms=TTL)
        ).accepted
        refused = await port.reserve(["frozen"], 0, reservation_id="r5", now_ms=T0, ttl_ms=TTL)
        assert refused.refused_budget_id == "frozen"

    async def test_spend_starts_again_each_period(self, port: CostLedger) -> None:
        await port.put_budget(budget("b", 10))
        await port.reserve(["b"], 10, reservation_id="oct", now_ms=NOV_1 - 1, ttl_ms=TTL)
        await port.settle("oct", 10, [])
        await port.reserve(["b"], 10, reservation_id="oct-held", now_ms=NOV_1 - 1, ttl_ms=TTL)
        assert (
            await port.reserve(["b"], 10, reservation_id="nov", now_ms=NOV_1, ttl_ms=TTL)
        ).accepted
        assert await port.spent("b", NOV_1 - 1, NOV_1) == 10  # half-open: [start, end)
        assert await port.spent("b", NOV_1, DEC_1) == 0
        status = await port.status("b", now_ms=NOV_1)
        assert status is not None
        assert (status.period_start_ms, status.period_end_ms, status.reserved_micros) == (
            NOV_1,
            DEC_1,
            10,
        )

    async def test_a_budget_out_of_force_does_not_refuse(self, port: CostLedger) -> None:
        later = budget("later", 0, period=BudgetPeriod.YEARLY, start_date_ms=DEC_1)
        await port.put_budget(later)
        assert (
            await port.reserve(["later"], 5, reservation_id="r", now_ms=T0, ttl_ms=TTL)
        ).accepted
        status = await port.status("later", now_ms=T0)
        assert status is not None and not status.in_force
        status = await port.status("later", now_ms=DEC_1 + 5)
        assert status is not None and status.in_force
        assert (status.period_start_ms, status.period_end_ms) == (DEC_1, 1_704_067_200_000)

    async def test_a_retried_reserve_holds_once(self, port: CostLedger) -> None:
        await port.put_budget(budget("b", 10))
        first = await port.reserve(["b"], 6, reservation_id="r", now_ms=T0, ttl_ms=TTL)
        retry = await port.reserve(["b"], 6, reservation_id="r", now_ms=T0 + 5, ttl_ms=TTL)
        assert retry == first and await self._reserved(port, "b") == 6
        with pytest.raises(ReservationConflictError):
            await port.reserve(["b"], 7, reservation_id="r", now_ms=T0, ttl_ms=TTL)
        await port.settle("r", 6, [])
        with pytest.raises(ReservationConflictError):
            await port.reserve(["b"], 6, reservation_id="r", now_ms=T0, ttl_ms=TTL)

    async def test_invalid_reserves_raise_and_hold_nothing(self, port: CostLedger) -> None:
        await port.put_budget(budget("b", 10))
        await port.put_budget(budget("eur", 10, currency="EUR"))
        with pytest.raises(BudgetNotFoundError, match="ghost"):
            await port.reserve(["b", "ghost"], 1, reservation_id="r1", now_ms=T0, ttl_ms=TTL)
        with pytest.raises(ValueError, match="currency"):
            await port.reserve(["b", "eur"], 1, reservation_id="r2", now_ms=T0, ttl_ms=TTL)
        with pytest.raises(TypeError, match="micro"):
            await port.reserve(["b"], 0.5, reservation_id="r3", now_ms=T0, ttl_ms=TTL)  # type: ignore[arg-type]
        for amount, ttl in ((-1, TTL), (1, 0)):
            with pytest.raises(ValueError):
                await port.reserve(["b"], amount, reservation_id="r4", now_ms=T0, ttl_ms=ttl)
        assert await self._reserved(port, "b") == 0
        empty = await port.reserve([], 5, reservation_id="free", now_ms=T0, ttl_ms=TTL)
        assert empty.accepted and await port.settle("free", 5, [usage(1)])

    @staticmethod
    async def _reserved(port: CostLedger, budget_id: str) -> int:
        status = await port.status(budget_id, now_ms=T0)
        assert status is not None
        return status.reserved_micros
