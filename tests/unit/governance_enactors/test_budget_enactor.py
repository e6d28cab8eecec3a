"""BUDGET_V1: an approved budget is stored through the Cost port and held at admission
(SPEC §3.11, §3.13; :mod:`aesp.core.governance.enactors_budget`).

The governance world of ``tests/unit/governance`` with the in-memory Cost port; a recorder
stands for the metering's budget cache (admission itself: tests/e2e/test_governed_config.py).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from aesp.core.cost import Budget
from aesp.core.errors import AespError
from aesp.core.governance import Adjudication, Approval, Approver, NewRequest
from aesp.core.governance.enactors_budget import BudgetEnactor
from aesp.core.ports.governance import ApprovalStatus, ArtifactType
from aesp.testing.inmemory import InMemoryCostLedger
from tests.unit.governance.conftest import World, build_world, pid

ALICE, BOB = pid("alice"), pid("bob")


@dataclass
class Changes:
    """Records which tenants' budgets were reported changed."""

    tenants: list[str] = field(default_factory=list[str])

    def budgets_changed(self, tenant_id: str) -> None:
        self.tenants.append(tenant_id)


@dataclass
class Budgets:
    world: World
    ledger: InMemoryCostLedger
    changes: Changes

    async def request(self, tenant: str = "acme", **budget: Any) -> str:
        new = NewRequest(
            artifact_type="BUDGET_V1",
            artifact_id="",
            artifact_data=json.dumps(budget).encode(),
            justification="cap spend",
            required_approvers=("role:legal",),
        )
        view = await self.world.governance.engine.request(ALICE, tenant, new)
        return view.request.approval_request_id

    async def approve(self, request_id: str, who: str = BOB) -> None:
        await self.world.governance.engine.adjudicate(
            Approver.with_roles(who, ("legal",)), None, Adjudication(request_id, "APPROVE")
        )


@pytest.fixture
async def budgets() -> AsyncIterator[Budgets]:
    world = await build_world()
    ledger, changes = InMemoryCostLedger(), Changes()
    enactor = BudgetEnactor(ledger=ledger, metering=changes, currency="USD")
    world.governance.enactors.register(ArtifactType.BUDGET_V1, enactor)
    yield Budgets(world, ledger, changes)
    await world.governance.stop()
    await world.plane.stop()


async def test_an_approved_budget_is_stored_and_the_metering_told(budgets: Budgets) -> None:
    request_id = await budgets.request(budget_id="b-1", amount=1.25, auto_shutdown=True)
    assert await budgets.ledger.get_budget("b-1", tenant_id="acme") is None  # not yet approved
    with pytest.raises(AespError, match="separation of duties"):
        await budgets.approve(request_id, ALICE)
    await budgets.approve(request_id)
    stored = await budgets.ledger.get_budget("b-1", tenant_id="acme")
    assert stored == Budget("b-1", "acme", 1_250_000, currency="USD", hard_limit=True)
    assert budgets.changes.tenants == ["acme"]
    (event,) = budgets.world.events("BUDGET_CREATE")
    assert (event.resource, event.metadata["amount"]) == ("budget:b-1", "1.25 USD")
    view = await budgets.world.governance.engine.find(request_id, "acme")
    assert view.status is ApprovalStatus.APPROVED


async def test_prepare_assigns_an_id_and_refuses_what_create_budget_refuses(
    budgets: Budgets,
) -> None:
    enactor = budgets.world.governance.enactors.require(ArtifactType.BUDGET_V1)
    prepared = await enactor.prepare("acme", "", json.dumps({"amount": 5}).encode())
    assert prepared.artifact_id.startswith("bud-")
    body = json.loads(prepared.artifact_data)
    assert (body["budget_id"], body["amount"], body["currency"]) == (
        prepared.artifact_id,
        5.0,
        "USD",
    )
    await budgets.ledger.put_budget(Budget("taken", "globex", 1))
    for tenant, data, code, why in (
        ("", {"amount": 1}, "MALFORMED_REQUEST", "limits one tenant"),
        ("acme", {"amount": "1"}, "MALFORMED_REQUEST", "must be a number"),
        ("acme", {"amount": 1, "tenant_id": "x"}, "MALFORMED_REQUEST", "'tenant_id' is not"),
        ("acme", {"amount": 1, "currency": "EUR"}, "MALFORMED_REQUEST", "must be USD"),
        ("acme", {"amount": -1}, "MALFORMED_REQUEST", "non-negative"),
        ("acme", {"amount": 1, "budget_id": "taken"}, "INVALID_STATE", "cannot be used"),
    ):
        with pytest.raises(AespError, match=why) as refused:
            await enactor.prepare(tenant, "", json.dumps(data).encode())
        assert refused.value.code == code


async def test_enactment_is_idempotent_and_undo_restores_or_removes(budgets: Budgets) -> None:
    enactor = budgets.world.governance.enactors.require(ArtifactType.BUDGET_V1)
    first_id = await budgets.request(budget_id="b-2", amount=2)
    request = await budgets.world.governance.engine.find(first_id, "acme")
    created = await enactor.enact(Approval(request, (BOB,), 1))
    again = await enactor.enact(Approval(request, (BOB,), 1))
    assert (created.changed, again.changed, again.event_type) == (True, False, "BUDGET_UPDATE")
    await created.rollback()
    assert await budgets.ledger.get_budget("b-2", tenant_id="acme") is None
    await budgets.ledger.put_budget(Budget("b-2", "acme", 9_000_000))
    raised = await enactor.enact(Approval(request, (BOB,), 1))
    assert raised.event_type == "BUDGET_UPDATE"
    await raised.rollback()
    kept = await budgets.ledger.get_budget("b-2", tenant_id="acme")
    assert kept is not None and kept.amount_micros == 9_000_000
