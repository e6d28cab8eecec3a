"""Enactment of each artifact type when a request is APPROVED (SPEC §3.11, C-10, C-47, items
172, 177, 179), the restart replay of approved contracts, and the enactor registry."""

from __future__ import annotations

from pathlib import Path

import pytest
from aesp_local.governance import SqliteApprovalStore

from aesp.adm import parse_json
from aesp.core.contracts import ContractStatus
from aesp.core.errors import AespError
from aesp.core.governance import (
    Adjudication,
    Approval,
    Approver,
    Enacted,
    NewRequest,
    Prepared,
    restore_contracts,
)
from aesp.core.manifest import ManifestStore, parse_manifest
from aesp.core.ports.governance import ApprovalStatus, ArtifactType
from aesp.core.rbac import RoleDefinition
from tests.unit.governance.conftest import ECHO, World, artifact, build_world, contract_request

BOB = Approver.with_roles("bob")


async def approved(world: World, new: NewRequest, tenant: str = "") -> str:
    """Open ``new`` as alice and let bob approve it; the request id."""
    view = await world.governance.engine.request("alice", tenant, new)
    rid = view.request.approval_request_id
    result = await world.governance.engine.adjudicate(BOB, tenant, Adjudication(rid, "APPROVE"))
    assert result.final_status is ApprovalStatus.APPROVED
    return rid


async def test_177_client_supplied_approval_fields_are_ignored(world: World) -> None:
    forged = contract_request(
        ("bob",), approval_status="ACTIVE", approved_by="mallory", approved_at=123
    )
    view = await world.governance.engine.request("alice", "", forged)
    stored = parse_json(view.request.artifact_data)
    assert stored["approval_status"] == "PENDING_APPROVAL"  # item 169
    assert "approved_by" not in stored and "approved_at" not in stored
    assert world.manifest.current.get("greet") is None
    world.clock.now += 5
    await world.governance.engine.adjudicate(
        BOB, "", Adjudication(view.request.approval_request_id, "APPROVE")
    )
    active = world.manifest.current.active("greet")
    assert active is not None and (active.approved_by, active.approved_at) == (
        "bob",
        world.clock.now,
    )


async def test_179_a_new_version_needs_its_own_approval_and_the_old_one_serves_until_then(
    world: World,
) -> None:
    v1 = world.manifest.current.active("echo")
    assert v1 is not None and v1.contract_version == "1.0.0"
    in_flight = world.manifest.current  # what a call that started now holds (C-10)
    view = await world.governance.engine.request(
        "alice", "", contract_request(("bob",), name="echo", version="1.1.0")
    )
    assert world.manifest.current.active("echo") is v1  # still serving while PENDING
    await world.governance.engine.adjudicate(
        BOB, "", Adjudication(view.request.approval_request_id, "APPROVE")
    )
    v2 = world.manifest.current.active("echo")
    assert v2 is not None and v2.contract_version == "1.1.0" and v2.digest != v1.digest
    assert in_flight.active("echo") is v1  # the old snapshot is untouched
    assert world.manifest.current.version == in_flight.version + 1
    for version in ("1.1.0", "1.0.5"):
        with pytest.raises(AespError, match="ACTIVE at version 1.1.0") as stale:
            await world.governance.engine.request(
                "alice", "", contract_request(("bob",), name="echo", version=version)
            )
        assert stale.value.code == "INVALID_STATE"


async def test_contracts_are_platform_artifacts(world: World) -> None:
    with pytest.raises(AespError, match="shared by every tenant"):
        await world.governance.engine.request("alice", "acme", contract_request(("bob",)))
    with pytest.raises(AespError, match="name@version"):
        await world.governance.engine.request(
            "alice",
            "",
            NewRequest("TOOL_CONTRACT_V1", "other@1", artifact(ECHO), required_approvers=("bob",)),
        )
    with pytest.raises(AespError) as bad:
        await world.governance.engine.request(
            "alice", "", contract_request(("bob",), security_classification="SECRET")
        )
    assert bad.value.code == "SCHEMA_VIOLATION"


async def test_approved_contracts_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "governance.sqlite3"
    first = await build_world(SqliteApprovalStore(path))
    try:
        await approved(first, contract_request(("bob",)))
        await approved(first, contract_request(("bob",), name="echo", version="2.0.0"))
        with pytest.raises(AespError, match="ACTIVE at version 2.0.0"):
            await approved(first, contract_request(("bob",), name="echo", version="1.5.0"))
    finally:
        await first.governance.stop()
        await first.plane.stop()
    # A new Host process: the static manifest again, then the replay.
    store = SqliteApprovalStore(path)
    manifest = ManifestStore(parse_manifest({"manifest_version": "1.0.0", "contracts": [ECHO]}))
    try:
        installed = await restore_contracts(store, manifest)
        assert sorted((c.name, c.contract_version) for c in installed) == [
            ("echo", "2.0.0"),
            ("greet", "1.0.0"),
        ]
        greet = manifest.current.active("greet")
        assert greet is not None and greet.approved_by == "bob" and greet.approved_at > 0
        assert greet.approval_status is ContractStatus.ACTIVE
        version = manifest.current.version
        assert await restore_contracts(store, manifest) == []  # idempotent
        assert manifest.current.version == version
    finally:
        await store.close()


async def test_a_policy_is_stored_and_in_force_once_approved(world: World) -> None:
    policy = {
        "policy_id": "no-big-echo",
        "version": "1.0.0",
        "applies_to": ["echo"],
        "effect": "DENY",
        "condition": "size(request.args.text) > 3",
    }
    new = NewRequest("POLICY_V1", "", artifact(policy), required_approvers=("bob",))
    view = await world.governance.engine.request("alice", "acme", new)
    assert view.request.artifact_id == "no-big-echo@1.0.0"
    assert await world.policies.get("acme", "no-big-echo") is None  # item 171
    await world.governance.engine.adjudicate(
        BOB, "acme", Adjudication(view.request.approval_request_id, "APPROVE")
    )
    stored = await world.policies.get("acme", "no-big-echo")
    assert stored is not None and stored.created_by == "bob"
    assert [p.definition.policy_id for p in world.plane.policy.current.policies] == ["no-big-echo"]
    assert [e.event_type for e in world.events() if e.resource.startswith("policy:")] == [
        "POLICY_CREATE"
    ]
    broken = NewRequest(
        "POLICY_V1",
        "",
        artifact({**policy, "policy_id": "broken", "condition": "request.args.nope >"}),
        required_approvers=("bob",),
    )
    with pytest.raises(AespError) as refused:
        await world.governance.engine.request("alice", "acme", broken)
    assert refused.value.code in ("POLICY_EVALUATION_FAILED", "MALFORMED_REQUEST")
    same = NewRequest("POLICY_V1", "", artifact(policy), required_approvers=("bob",))
    with pytest.raises(AespError, match="greater SemVer version"):
        await world.governance.engine.request("alice", "acme", same)


async def test_a_role_is_stored_once_the_hierarchy_is_valid(world: World) -> None:
    role = {"name": "auditor", "permissions": ["aesp:audit:QueryEvents"], "parents": ["viewer"]}
    new = NewRequest("ROLE_DEFINITION_V1", "", artifact(role), required_approvers=("bob",))
    view = await world.governance.engine.request("alice", "acme", new)
    assert view.request.artifact_id == "role:auditor"
    await world.governance.engine.adjudicate(
        BOB, "acme", Adjudication(view.request.approval_request_id, "APPROVE")
    )
    assert (
        RoleDefinition("auditor", ("aesp:audit:QueryEvents",), ("viewer",), "acme")
        in await world.roles.roles()
    )
    await world.roles.set_assignment("carol", tenant_id="acme", roles=("auditor",))
    await world.plane.roles_changed()
    decision = world.plane.rbac.current.decide(
        "carol", tenant_id="acme", permission="aesp:governance:ListPendingApprovals"
    )
    assert decision.allowed  # inherited from viewer through the approved role
    cycle = {"name": "viewer", "permissions": [], "parents": ["auditor"]}
    with pytest.raises(
        AespError, match="cycle: acme/auditor -> acme/viewer -> acme/auditor"
    ) as refused:
        await world.governance.engine.request(
            "alice",
            "acme",
            NewRequest("ROLE_DEFINITION_V1", "", artifact(cycle), required_approvers=("bob",)),
        )
    assert refused.value.code == "MALFORMED_REQUEST"


async def test_an_artifact_type_without_an_enactor_is_refused_at_request(world: World) -> None:
    budget = NewRequest("BUDGET_V1", "b1", b'{"limit": 10}', required_approvers=("bob",))
    for kind in ("BUDGET_V1", "CONFIGURATION_KEY_V1"):
        with pytest.raises(AespError, match="does not accept approval requests") as refused:
            await world.governance.engine.request(
                "alice", "acme", NewRequest(kind, "k", b"1", required_approvers=("bob",))
            )
        assert refused.value.code == "FEATURE_UNAVAILABLE"
    assert await world.store.revision() == 0  # nothing was opened

    class BudgetEnactor:
        """What the cost component registers: it records what it applied."""

        applied: list[str] = []

        async def prepare(self, tenant_id: str, artifact_id: str, data: bytes) -> Prepared:
            return Prepared(artifact_id, data, {"tenant": tenant_id})

        async def enact(self, approval: Approval) -> Enacted:
            self.applied.append(approval.request.artifact_id)
            return Enacted("BUDGET_UPDATE", f"budget:{approval.request.artifact_id}")

    enactor = BudgetEnactor()
    world.governance.enactors.register(ArtifactType.BUDGET_V1, enactor)
    with pytest.raises(ValueError, match="already has an enactor"):
        world.governance.enactors.register("BUDGET_V1", enactor)
    await approved(world, budget, "acme")
    assert enactor.applied == ["b1"]
    assert [e.resource for e in world.events("BUDGET_UPDATE")] == ["budget:b1"]
