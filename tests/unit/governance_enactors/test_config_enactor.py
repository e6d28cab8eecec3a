"""CONFIGURATION_KEY_V1: sensitive changes go to governance and apply live when approved
(SPEC §3.11, §3.15; :mod:`aesp.core._live_approvals`, :mod:`...enactors_config`).

The governance world of ``tests/unit/governance`` (in-memory ports, roles in two tenants) with a
:class:`ConfigManager` on the in-memory Config port whose live targets record what they get.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest

from aesp.core._live_apply import HostTargets
from aesp.core._live_approvals import GovernedConfigApprovals, govern_config
from aesp.core._live_keys import LiveValues
from aesp.core.config import GatewayConfig, LimitsConfig
from aesp.core.errors import AespError
from aesp.core.governance import Adjudication, Approval, Approver
from aesp.core.governance.enactors_config import ConfigKeyEnactor, decode_change
from aesp.core.governance.workflows import ApprovalWorkflow
from aesp.core.live_config import ConfigManager
from aesp.core.ports.config import PLATFORM, ConfigDataType, ConfigEntry
from aesp.core.ports.governance import ApprovalStatus, ArtifactType
from aesp.core.ports.state import BucketSpec
from aesp.testing.inmemory.config import InMemoryConfigStore
from tests.unit.governance.conftest import World, build_world, pid

ALICE, BOB = pid("alice"), pid("bob")


@dataclass
class Recorder:
    """A live target recording the limits it is given."""

    limits: list[LimitsConfig] = field(default_factory=list[LimitsConfig])

    def apply_limits(self, limits: LimitsConfig) -> None:
        self.limits.append(limits)

    def apply_rate_limits(self, *, principal: BucketSpec, tenant: BucketSpec) -> None:
        del principal, tenant


@dataclass
class Live:
    world: World
    manager: ConfigManager
    approvals: GovernedConfigApprovals
    recorder: Recorder

    async def submit(self, tenant: str, key: str, value: str, **kw: object) -> str:
        entry = ConfigEntry(tenant, key, value, changed_by=ALICE, change_reason="why", **kw)  # type: ignore[arg-type]
        change, _ = await self.manager.prepare(entry)
        return await self.approvals.submit(change)

    async def decide(self, request_id: str, who: str, role: str, verdict: str = "APPROVE") -> None:
        approver = Approver.with_roles(who, (role,))
        await self.world.governance.engine.adjudicate(
            approver, None, Adjudication(request_id, verdict)
        )


@pytest.fixture
async def live() -> AsyncIterator[Live]:
    world = await build_world()
    recorder = Recorder()
    base = LiveValues(LimitsConfig(), GatewayConfig())
    manager = ConfigManager(
        InMemoryConfigStore(), base=base, targets=HostTargets(limits=(recorder,))
    )
    await manager.start(poll=False)
    approvals = govern_config(world.governance, lambda: manager)
    manager.approvals = approvals
    yield Live(world, manager, approvals, recorder)
    await manager.stop()
    await world.governance.stop()
    await world.plane.stop()


async def test_a_sensitive_change_is_pending_until_a_second_person_approves(live: Live) -> None:
    await live.manager.enact(
        (await live.manager.prepare(ConfigEntry("acme", "app.token", "old")))[0]
    )
    request_id = await live.submit("acme", "app.token", "new", sensitive=True)
    request = await live.world.governance.engine.find(request_id, "acme")
    assert request.status is ApprovalStatus.PENDING
    assert request.artifact_type is ArtifactType.CONFIGURATION_KEY_V1
    assert request.requester_id == ALICE and request.min_approvals == 1
    # Any one holder of a role that may adjudicate in acme completes it.
    assert request.required_approvers == (
        "role:gov-admin",
        "role:legal",
        "role:platform",
        "role:security",
    )
    current = await live.manager.get("acme", "app.token")
    assert current is not None and current.value == "old"  # the old value stays in force
    with pytest.raises(AespError, match="separation of duties") as refused:
        await live.decide(request_id, ALICE, "security")
    assert refused.value.code == "PERMISSION_DENIED"
    await live.decide(request_id, BOB, "legal")
    applied = await live.manager.get("acme", "app.token")
    assert applied is not None
    assert (applied.value, applied.version, applied.sensitive) == ("new", 2, True)
    assert (applied.changed_by, applied.approval_request_id) == (ALICE, request_id)
    (event,) = live.world.events("CONFIGURATION_UPDATE")
    assert event.resource == "config:app.token"
    assert (event.metadata["old_value"], event.metadata["new_value"]) == ("***", "***")


async def test_an_approved_host_key_is_put_in_force_on_the_running_host(live: Live) -> None:
    assert await live.approvals.default_approvers(PLATFORM) == ("role:platform",)
    request_id = await live.submit(
        PLATFORM, "limits.default_timeout_ms", "1234", data_type=ConfigDataType.INTEGER
    )
    assert live.manager.values.limits.default_timeout_ms == LimitsConfig().default_timeout_ms
    with pytest.raises(AespError, match="not listed") as refused:
        await live.decide(request_id, BOB, "security")  # no platform permission
    assert refused.value.code == "PERMISSION_DENIED"
    await live.decide(request_id, BOB, "platform")
    assert live.manager.values.limits.default_timeout_ms == 1234
    assert live.recorder.limits[-1].default_timeout_ms == 1234


async def test_a_rejected_change_never_applies(live: Live) -> None:
    request_id = await live.submit("acme", "app.secret", "x", sensitive=True)
    await live.decide(request_id, BOB, "legal", "REJECT")
    assert await live.manager.get("acme", "app.secret") is None


async def test_approval_of_a_stale_change_is_refused_and_changes_nothing(live: Live) -> None:
    request_id = await live.submit("acme", "app.token", "first", sensitive=True)
    other = ConfigEntry("acme", "app.token", "meanwhile", changed_by=BOB)
    await live.manager.enact((await live.manager.prepare(other))[0])
    with pytest.raises(AespError, match="changed meanwhile") as refused:
        await live.decide(request_id, BOB, "legal")
    assert refused.value.code == "INVALID_STATE"
    request = await live.world.governance.engine.find(request_id, "acme")
    assert request.status is ApprovalStatus.PENDING
    current = await live.manager.get("acme", "app.token")
    assert current is not None and current.value == "meanwhile"


async def test_prepare_refuses_host_keys_outside_the_platform_scope_and_bad_artifacts(
    live: Live,
) -> None:
    enactor = live.world.governance.enactors.require(ArtifactType.CONFIGURATION_KEY_V1)
    host_key = json.dumps({"key": "limits.default_timeout_ms", "value": "5"}).encode()
    with pytest.raises(AespError, match="platform scope") as refused:
        await enactor.prepare("acme", "", host_key)
    assert refused.value.code == "MALFORMED_REQUEST"
    for bad, why in (
        (b"[1]", "JSON object"),
        (json.dumps({"key": "app.a", "value": "1", "who": "x"}).encode(), "'who' is not a field"),
        (json.dumps({"key": "app.a", "value": 1}).encode(), "must be strings"),
        (json.dumps({"key": "app.a", "value": "1", "expected_version": -1}).encode(), "non-neg"),
        (json.dumps({"key": "app.a", "value": "x", "data_type": "INTEGER"}).encode(), "app.a"),
    ):
        with pytest.raises(AespError, match=why):
            await enactor.prepare("acme", "", bad)
    stale = json.dumps({"key": "app.a", "value": "1", "expected_version": 3}).encode()
    with pytest.raises(AespError, match="version 0, not 3"):
        await enactor.prepare("acme", "", stale)
    prepared = await enactor.prepare(
        "acme", "app.a", json.dumps({"key": "app.a", "value": "1"}).encode()
    )
    assert prepared.artifact_id == "app.a"
    assert decode_change(prepared.artifact_data).expected_version == 0
    assert prepared.facts == {"config_key": "app.a", "sensitive": "false"}


async def test_enactment_is_idempotent_and_its_undo_restores_the_old_value(live: Live) -> None:
    await live.manager.enact((await live.manager.prepare(ConfigEntry("acme", "app.k", "old")))[0])
    request_id = await live.submit("acme", "app.k", "new", sensitive=True)
    request = await live.world.governance.engine.find(request_id, "acme")
    enactor = live.world.governance.enactors.require(ArtifactType.CONFIGURATION_KEY_V1)
    first = await enactor.enact(Approval(request, (BOB,), 1))
    again = await enactor.enact(Approval(request, (BOB,), 1))
    assert (first.changed, again.changed) == (True, False)
    await first.rollback()
    restored = await live.manager.get("acme", "app.k")
    assert restored is not None and (restored.value, restored.version) == ("old", 3)
    assert restored.change_reason.startswith(f"undo of approval {request_id}")


async def test_no_one_able_to_approve_is_refused_and_without_live_config_too(live: Live) -> None:
    nobody = GovernedConfigApprovals(
        engine=live.world.governance.engine, control=live.world.plane, approvers=()
    )
    change, _ = await live.manager.prepare(ConfigEntry("acme", "app.t", "v", changed_by=ALICE))
    with pytest.raises(AespError, match="no one could approve") as refused:
        await nobody.submit(change)
    assert refused.value.code == "FEATURE_UNAVAILABLE"
    detached = ConfigKeyEnactor(lambda: None)
    with pytest.raises(AespError, match="not running") as off:
        await detached.prepare("acme", "", json.dumps({"key": "app.a", "value": "1"}).encode())
    assert off.value.code == "FEATURE_UNAVAILABLE"
    # Registering twice keeps the first enactor (live configuration may restart).
    govern_config(live.world.governance, lambda: None)
    kept = live.world.governance.enactors.get(ArtifactType.CONFIGURATION_KEY_V1)
    assert isinstance(kept, ConfigKeyEnactor) and await kept.prepare(
        "acme", "", json.dumps({"key": "app.a", "value": "1"}).encode()
    )


async def test_a_workflow_for_configuration_keys_routes_the_request(live: Live) -> None:
    await live.world.workflows.create(
        ApprovalWorkflow(
            workflow_id="wf-config",
            tenant_id="",
            name="config",
            artifact_type=ArtifactType.CONFIGURATION_KEY_V1,
            required_approvers=("role:security", "role:legal"),
            min_approvals=0,
            conditions={"sensitive": "true"},
        )
    )
    request_id = await live.submit("acme", "app.token", "v", sensitive=True)
    request = await live.world.governance.engine.find(request_id, "acme")
    assert request.required_approvers == ("role:security", "role:legal")
