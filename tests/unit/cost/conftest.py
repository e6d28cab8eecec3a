"""Metering on the in-memory Cost port, with a settable clock and scripted failures.

The fake ledger passes the same conformance kit as the SQLite adapter, so the admission and
settlement rules are checked here against real port behaviour. :class:`CountingLedger` and
:class:`FailingLedger` are subclasses of that fake (real behaviour, plus a count or a scripted
outage), never mocks of the code under test.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from aesp.core.audit import AuditEvent, MemoryAuditLog
from aesp.core.config import CostConfig, ToolPriceConfig
from aesp.core.cost import Budget, UsageRecord
from aesp.core.manifest import parse_manifest
from aesp.core.metering import Metering
from aesp.core.ports.cost import ReserveOutcome
from aesp.core.security import SecurityContext
from aesp.core.sessions import Session
from aesp.testing.inmemory import InMemoryCostLedger

NOV_14 = 1_700_000_000_000  # 2023-11-14T22:13:20Z
DEC_1 = 1_701_388_800_000  # the next MONTHLY period starts here
MAX_RESULT = 64 * 1024

CONTRACTS = parse_manifest(
    {
        "manifest_version": "1.0.0",
        "contracts": [
            {
                "name": name,
                "description": f"{name} tool",
                "parameters": {"type": "OBJECT", "properties": {"x": {"type": "STRING"}}},
            }
            for name in ("lookup", "transfer")
        ],
    }
).contracts


class Clock:
    """A settable Unix-millisecond clock."""

    def __init__(self, now: int = NOV_14) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


class CountingLedger(InMemoryCostLedger):
    """The in-memory ledger, counting the calls the metering makes of it."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: dict[str, int] = {}

    def _count(self, name: str) -> None:
        self.calls[name] = self.calls.get(name, 0) + 1

    async def reserve(
        self, budget_ids: Sequence[str], amount_micros: int, **kw: Any
    ) -> ReserveOutcome:
        self._count("reserve")
        return await super().reserve(budget_ids, amount_micros, **kw)

    async def settle(
        self, reservation_id: str, actual_micros: int, usage: Sequence[UsageRecord]
    ) -> bool:
        self._count("settle")
        return await super().settle(reservation_id, actual_micros, usage)

    async def release(self, reservation_id: str) -> bool:
        self._count("release")
        return await super().release(reservation_id)

    async def record_usage(self, records: Sequence[UsageRecord]) -> int:
        self._count("record_usage")
        return await super().record_usage(records)


class FailingLedger(CountingLedger):
    """Refuses every reservation, as an unreachable store would."""

    async def reserve(
        self, budget_ids: Sequence[str], amount_micros: int, **kw: Any
    ) -> ReserveOutcome:
        raise OSError("database is locked")


@dataclass
class Meter:
    """A Metering, its ports and helpers to call it as the pipeline does."""

    metering: Metering
    ledger: CountingLedger
    audit: MemoryAuditLog
    clock: Clock
    sessions: dict[str, Session] = field(default_factory=dict)

    def ctx(
        self, name: str = "ann", tenant: str = "acme", cost_center: str = ""
    ) -> SecurityContext:
        """The security context of ``name@tenant``."""
        return SecurityContext(
            principal_id=f"{name}@{tenant}",
            tenant_id=tenant,
            cost_center=cost_center,
            business_unit="treasury",
        )

    def session(self, ctx: SecurityContext) -> Session:
        """One session per principal."""
        return self.sessions.setdefault(
            ctx.principal_id,
            Session(f"sess-{ctx.principal_id}", ctx.tenant_id, ctx.principal_id, 0, 2**62),
        )

    async def admit(
        self,
        ctx: SecurityContext | None = None,
        tool: str = "lookup",
        timeout_ms: int = 10_000,
        **kw: Any,
    ) -> Any:
        """Admit a call of ``tool`` with 100 bytes of arguments."""
        ctx = ctx or self.ctx()
        return await self.metering.admit(
            ctx, CONTRACTS[tool], self.session(ctx), timeout_ms, 100, **kw
        )

    async def budget(self, budget_id: str, amount_micros: int, **kw: Any) -> Budget:
        """Store a budget of tenant ``acme`` (unless ``tenant_id`` says otherwise)."""
        budget = Budget(
            budget_id=budget_id,
            tenant_id=kw.pop("tenant_id", "acme"),
            amount_micros=amount_micros,
            **kw,
        )
        await self.ledger.put_budget(budget)
        self.metering.budgets_changed(budget.tenant_id)
        return budget

    def events(self, event_type: str) -> list[AuditEvent]:
        """Audit events of one type."""
        return [e for e in self.audit.events() if e.event_type == event_type]


PRICES = CostConfig(
    price_per_call=0.01,
    price_per_second=0.001,
    price_per_kib=0.0001,
    tools={"transfer": ToolPriceConfig(price_per_call=1.0)},
)


def build(ledger: CountingLedger, clock: Clock, config: CostConfig = PRICES) -> Meter:
    """A Meter over ``ledger``."""
    audit = MemoryAuditLog()
    metering = Metering(
        ledger=ledger,
        audit=audit,
        config=config,
        max_result_bytes=MAX_RESULT,
        refresh_ms=60_000,
        clock=clock,
    )
    return Meter(metering, ledger, audit, clock)


@pytest.fixture
async def meter() -> AsyncIterator[Meter]:
    m = build(CountingLedger(), Clock())
    yield m
    await m.metering.close()
