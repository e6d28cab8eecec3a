"""The contract lifecycle after ACTIVE (DESIGN §7): DEPRECATE and RETIRE requests are checked
against the manifest, enacted as one manifest swap, rolled back exactly, and replayed in
approval order at restart."""

from __future__ import annotations

from typing import Any

import pytest

from aesp.core.contracts import ContractStatus
from aesp.core.errors import AespError
from aesp.core.governance import Adjudication, NewRequest, restore_contracts
from aesp.core.governance.lifecycle import LifecycleStep, Step, parse_step, replay
from aesp.core.manifest import ManifestStore, parse_manifest
from aesp.core.ports.governance import ApprovalStatus
from tests.unit.governance.conftest import ECHO, World, artifact
from tests.unit.governance.test_governance_enactment import BOB, approved


def step(kind: str, version: str = "1.0.0", **extra: Any) -> NewRequest:
    body = {"lifecycle": kind, "name": "echo", "contract_version": version, **extra}
    return NewRequest("TOOL_CONTRACT_V1", "", artifact(body), required_approvers=("bob",))


def status(world: World) -> ContractStatus:
    held = world.manifest.current.get("echo")
    assert held is not None
    return held.approval_status


async def test_deprecate_then_retire_each_take_effect_only_when_approved(world: World) -> None:
    view = await world.governance.engine.request("alice", "", step("DEPRECATE", reason="old"))
    assert view.request.artifact_id == "echo@1.0.0#deprecate"
    assert status(world) is ContractStatus.ACTIVE  # pending changes nothing
    await world.governance.engine.adjudicate(
        BOB, "", Adjudication(view.request.approval_request_id, "APPROVE")
    )
    assert status(world) is ContractStatus.DEPRECATED
    assert world.manifest.current.active("echo") is None  # only ACTIVE is callable
    await approved(world, step("RETIRE"))
    assert status(world) is ContractStatus.RETIRED


@pytest.mark.parametrize(
    ("first", "request_", "needle"),
    [
        (None, step("RETIRE"), "needs it DEPRECATED"),
        (None, step("DEPRECATE", "2.0.0"), "is at version 1.0.0"),
        ("DEPRECATE", step("DEPRECATE"), "needs it ACTIVE"),
    ],
    ids=["retire-active", "wrong-version", "deprecate-twice"],
)
async def test_a_step_that_does_not_fit_the_state_is_refused_at_request_time(
    world: World, first: str | None, request_: NewRequest, needle: str
) -> None:
    if first:
        await approved(world, step(first))
    with pytest.raises(AespError) as caught:
        await world.governance.engine.request("alice", "", request_)
    assert caught.value.code == "INVALID_STATE" and needle in caught.value.message


async def test_a_step_overtaken_before_approval_is_not_enacted(world: World) -> None:
    first = await world.governance.engine.request("alice", "", step("DEPRECATE"))
    second = await world.governance.engine.request("carol", "", step("DEPRECATE", reason="again"))
    await world.governance.engine.adjudicate(
        BOB, "", Adjudication(first.request.approval_request_id, "APPROVE")
    )
    # The second request names a state the contract has left; approving it changes nothing.
    result = await world.governance.engine.adjudicate(
        BOB, "", Adjudication(second.request.approval_request_id, "APPROVE")
    )
    assert result.final_status is ApprovalStatus.APPROVED
    assert status(world) is ContractStatus.DEPRECATED
    changes = [e for e in world.audit.events() if e.event_type == "CONTRACT_STATE_CHANGE"]
    assert [e.metadata["changed"] for e in changes] == ["true", "false"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"lifecycle": "DELETE", "name": "echo", "contract_version": "1.0.0"}, "lifecycle"),
        ({"lifecycle": "RETIRE", "contract_version": "1.0.0"}, "name"),
        ({"lifecycle": "RETIRE", "name": "echo"}, "contract_version"),
        ({"lifecycle": "RETIRE", "name": "echo", "contract_version": "1", "x": 1}, "artifact_data"),
        ({"lifecycle": "RETIRE", "name": "e", "contract_version": "1", "reason": 5}, "reason"),
    ],
)
def test_a_malformed_step_names_its_field(body: dict[str, Any], field: str) -> None:
    with pytest.raises(AespError) as caught:
        parse_step(body)
    assert caught.value.code == "MALFORMED_REQUEST"
    assert caught.value.details["field"] == field


def test_replay_applies_steps_in_approval_order_and_only_once() -> None:
    manifest = parse_manifest({"manifest_version": "1.0.0", "contracts": [ECHO]})
    contracts = dict(manifest.contracts)
    deprecate = LifecycleStep(Step.DEPRECATE, "echo", "1.0.0")
    retire = LifecycleStep(Step.RETIRE, "echo", "1.0.0")
    other = LifecycleStep(Step.DEPRECATE, "echo", "0.9.0")
    changed = replay(contracts, [(20, retire), (10, deprecate), (5, other)])
    assert changed["echo"].approval_status is ContractStatus.RETIRED
    assert replay(contracts, [(10, deprecate), (20, retire)]) == {}  # idempotent
    # Out of order (RETIRE approved before DEPRECATE cannot happen; if stored so, it is skipped).
    fresh = dict(manifest.contracts)
    assert replay(fresh, [(10, retire), (20, deprecate)])["echo"].approval_status is (
        ContractStatus.DEPRECATED
    )


async def test_restore_replays_lifecycle_steps_over_the_static_manifest(world: World) -> None:
    await approved(world, step("DEPRECATE"))
    restarted = ManifestStore(parse_manifest({"manifest_version": "1.0.0", "contracts": [ECHO]}))
    changed = await restore_contracts(world.store, restarted)
    assert [(c.name, c.approval_status) for c in changed] == [("echo", ContractStatus.DEPRECATED)]
    assert await restore_contracts(world.store, restarted) == []
