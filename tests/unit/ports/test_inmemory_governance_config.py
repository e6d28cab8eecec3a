"""The in-memory Governance and Config stores pass the same kits as the real adapters; the
port's records refuse values no store should ever hold."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from aesp.core.ports._errors import DuplicateError
from aesp.core.ports.config import ConfigDataType, ConfigEntry
from aesp.core.ports.governance import (
    ApprovalDecision,
    ApprovalStatus,
    ArtifactType,
    Verdict,
    artifact_digest,
)
from aesp.core.ports.identity import DuplicateError as IdentityDuplicateError
from aesp.testing.conformance._config_races import entry
from aesp.testing.conformance._governance_races import request
from aesp.testing.conformance.config import AbstractConfigStoreConformance
from aesp.testing.conformance.governance import AbstractApprovalStoreConformance
from aesp.testing.inmemory import InMemoryApprovalStore, InMemoryConfigStore


class TestInMemoryApprovalStore(AbstractApprovalStoreConformance):
    @pytest.fixture
    async def port(self) -> AsyncIterator[InMemoryApprovalStore]:
        store = InMemoryApprovalStore()
        yield store
        await store.close()


class TestInMemoryConfigStore(AbstractConfigStoreConformance):
    @pytest.fixture
    async def port(self) -> AsyncIterator[InMemoryConfigStore]:
        store = InMemoryConfigStore()
        yield store
        await store.close()


def test_identity_still_exports_the_shared_duplicate_error() -> None:
    # It moved to aesp.core.ports._errors; code catching the identity name must keep working.
    assert IdentityDuplicateError is DuplicateError


def test_the_digest_is_computed_and_a_wrong_one_refused() -> None:
    built = request(artifact_data=b"payload")
    assert built.artifact_digest == artifact_digest(b"payload")
    assert request(artifact_data=b"payload", artifact_digest=built.artifact_digest) == built
    with pytest.raises(ValueError, match="does not match the artifact data"):
        request(artifact_data=b"payload", artifact_digest=artifact_digest(b"other"))


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"required_approvers": ()}, "at least one required approver"),
        ({"required_approvers": ("alice", "alice")}, "must not repeat"),
        ({"required_approvers": ("alice", "")}, "principal id or 'role:<name>'"),
        ({"required_approvers": ("role:",)}, "principal id or 'role:<name>'"),
        ({"required_approvers": ("a", "b"), "min_approvals": 3}, "min_approvals"),
        ({"min_approvals": -1}, "min_approvals"),
        ({"artifact_id": ""}, "must not be empty"),
        ({"requester_id": ""}, "must not be empty"),
        ({"version": 0}, "version must be at least 1"),
        ({"expires_at_ms": -1}, "times must not be negative"),
        ({"artifact_type": "POLICY"}, "POLICY"),
        ({"status": "DONE"}, "DONE"),
    ],
)
def test_a_request_no_workflow_could_complete_cannot_be_built(
    fields: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        request(**fields)


def test_a_request_normalises_what_readers_get_back() -> None:
    built = request(
        required_approvers=["role:security", "bob"],
        artifact_type="BUDGET_V1",
        status="PENDING",
        artifact_data=bytearray(b"x"),
    )
    assert built.required_approvers == ("role:security", "bob")
    assert built.artifact_type is ArtifactType.BUDGET_V1
    assert built.status is ApprovalStatus.PENDING
    assert type(built.artifact_data) is bytes
    assert built.approvals_needed == 2
    assert request(required_approvers=("a", "b", "c"), min_approvals=2).approvals_needed == 2


def test_a_decision_needs_an_approver_and_a_known_verdict() -> None:
    # A verdict arriving as a plain string (from a proto field) is read as the enum or refused.
    as_text: dict[str, Any] = {"decision": "REJECT"}
    assert ApprovalDecision("r1", "bob", **as_text).decision is Verdict.REJECT
    with pytest.raises(ValueError, match="must not be empty"):
        ApprovalDecision("r1", "", Verdict.APPROVE)
    with pytest.raises(ValueError, match="MAYBE"):
        ApprovalDecision("r1", "bob", **{"decision": "MAYBE"})


def test_a_config_entry_needs_a_key_and_a_known_type() -> None:
    assert entry(data_type="JSON").data_type is ConfigDataType.JSON
    with pytest.raises(ValueError, match="must not be empty"):
        ConfigEntry("acme", "", "v")
    with pytest.raises(ValueError, match="YAML"):
        entry(data_type="YAML")
    with pytest.raises(ValueError, match="must not be negative"):
        entry(version=-1)


async def test_inspection_helpers_show_everything_stored() -> None:
    approvals, config = InMemoryApprovalStore(), InMemoryConfigStore()
    first = await approvals.create(request("r2"))
    second = await approvals.create(request("r1"))
    assert approvals.requests() == [first, second]
    writes = [await config.set(entry(value=str(n)), expected_version=n) for n in range(3)]
    assert config.log() == writes
