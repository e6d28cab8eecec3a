"""The in-memory audit index, the memory audit log and the in-memory cost ledger pass the same
conformance kits as the SQLite adapters."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest

from aesp.core.audit import AuditEvent, AuditIndex, AuditLog, AuditQuery, MemoryAuditLog
from aesp.core.ports import audit as audit_port
from aesp.testing.conformance.audit import (
    AbstractAuditIndexConformance,
    AbstractAuditQueryConformance,
    event,
)
from aesp.testing.conformance.cost import AbstractCostLedgerConformance
from aesp.testing.inmemory import InMemoryAuditIndex, InMemoryCostLedger


class TestInMemoryAuditIndex(AbstractAuditIndexConformance):
    @pytest.fixture
    async def port(self) -> AsyncIterator[InMemoryAuditIndex]:
        index = InMemoryAuditIndex()
        yield index
        await index.close()


class TestMemoryAuditLogQueries(AbstractAuditQueryConformance):
    @pytest.fixture
    async def port(self) -> AsyncIterator[MemoryAuditLog]:
        log = MemoryAuditLog()
        yield log
        await log.close()

    async def add(self, port: Any, events: Sequence[AuditEvent]) -> None:
        for e in events:
            await port.append(e, durable=True)


class TestInMemoryCostLedger(AbstractCostLedgerConformance):
    @pytest.fixture
    async def port(self) -> AsyncIterator[InMemoryCostLedger]:
        ledger = InMemoryCostLedger()
        yield ledger
        await ledger.close()


def test_the_audit_protocols_are_the_ports_and_still_importable_from_core_audit() -> None:
    # Every existing ``from aesp.core.audit import AuditLog`` must keep getting the port itself.
    assert AuditLog is audit_port.AuditLog
    assert (AuditQuery, AuditIndex) == (audit_port.AuditQuery, audit_port.AuditIndex)
    assert isinstance(MemoryAuditLog(), AuditLog)
    assert isinstance(MemoryAuditLog(), AuditQuery)
    assert not isinstance(MemoryAuditLog(), AuditIndex)  # it is fed by append, not by a shipper


async def test_the_in_memory_index_shows_what_it_indexed_in_order() -> None:
    index = InMemoryAuditIndex()
    await index.index([event(2), event(1), event(2)])
    assert index.indexed() == [event(2), event(1)]
