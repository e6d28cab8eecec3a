"""Conformance kit for the Governance port (SPEC §3.7 (4), §3.11, checklist 169-179, 184).

What must hold on every cloud: a request and its decisions come back exactly as stored; a
request is created PENDING at version 1 and its id is unique; a decision and its status move
happen together, only at the version the caller read (the races are in
:mod:`aesp.testing.conformance._governance_races`); an approver decides once; a decided or
expired request takes no decision (item 174); listings page in creation order without gaps or
repeats and never mix tenants (items 178, 184); ``revision`` moves with writes only.
"""

from __future__ import annotations

import pytest

from aesp.core.ports._errors import ConcurrentChangeError, DuplicateError, NotFoundError
from aesp.core.ports.governance import (
    ApprovalStatus,
    ApprovalStore,
    ArtifactType,
    NotPendingError,
    Verdict,
    artifact_digest,
)
from aesp.testing.conformance._governance_races import (
    ApprovalStoreRaces,
    all_pages,
    decision,
    request,
)

PENDING, APPROVED, REJECTED, EXPIRED = ApprovalStatus


class AbstractApprovalStoreConformance(ApprovalStoreRaces):
    """Behaviour every ApprovalStore must show. Subclasses provide the ``port`` fixture, and
    ``replica`` when a second handle on the same store is a different object."""

    async def test_is_an_approval_store(self, port: ApprovalStore) -> None:
        assert isinstance(port, ApprovalStore)

    async def test_a_fresh_store_is_empty(self, port: ApprovalStore) -> None:
        assert await port.get("r1") is None
        assert list(await port.decisions("r1")) == []
        page = await port.list(tenant_id=None)
        assert (list(page.items), page.next_cursor) == ([], "")

    async def test_a_request_round_trips_every_field(self, port: ApprovalStore) -> None:
        data = b'{"name":"export"}\x00\xff\xfe binary, not UTF-8'
        original = request(
            "r1",
            "acme",
            artifact_type=ArtifactType.TOOL_CONTRACT_V1,
            artifact_id="export@2.0.0",
            artifact_data=data,
            requester_id="oidc|https://idp.example|alice",
            justification="Ship the exporter — needed by Zürich ops\nticket OPS-7",
            required_approvers=("role:security", "bob", "api_key|acme|sa1"),
            min_approvals=2,
            created_at_ms=1_700_000_000_123,
            expires_at_ms=1_700_086_400_123,
            metadata={"risk": "high", "ticket": "OPS-7"},
        )
        created = await port.create(original)
        assert created == original
        assert created.artifact_digest == artifact_digest(data)
        assert created.artifact_digest.startswith("sha256:")
        assert (created.version, created.status) == (1, PENDING)
        assert await port.get("r1") == created

    async def test_create_owns_the_version(self, port: ApprovalStore) -> None:
        created = await port.create(request("r1", version=7))
        assert created.version == 1
        got = await port.get("r1")
        assert got is not None and got.version == 1

    async def test_a_duplicate_id_is_refused_and_nothing_changes(self, port: ApprovalStore) -> None:
        first = await port.create(request("r1", "acme", justification="first"))
        before = await port.revision()
        with pytest.raises(DuplicateError, match="'r1' already exists"):
            await port.create(request("r1", "beta", justification="second"))
        assert await port.get("r1") == first
        assert len((await port.list(tenant_id=None)).items) == 1
        assert await port.revision() == before

    @pytest.mark.parametrize("status", [APPROVED, REJECTED, EXPIRED])
    async def test_only_a_pending_request_can_be_created(
        self, port: ApprovalStore, status: ApprovalStatus
    ) -> None:
        # SPEC 4.15 #171: a change needs explicit adjudication; nobody stores it pre-approved.
        with pytest.raises(ValueError, match="must be created PENDING"):
            await port.create(request("r1", status=status))
        assert await port.get("r1") is None
        assert await port.revision() == 0

    async def test_decisions_append_and_move_the_status_together(self, port: ApprovalStore) -> None:
        await port.create(request("r1", required_approvers=("alice", "bob")))
        first = decision("r1", "alice", comments="ok", conditions={"window": "weekend"})
        after_first = await port.record_decision(first, expected_version=1, new_status=PENDING)
        assert (after_first.status, after_first.version) == (PENDING, 2)
        assert list(await port.decisions("r1")) == [first]
        second = decision("r1", "bob", decided_at_ms=20)
        after_second = await port.record_decision(second, expected_version=2, new_status=APPROVED)
        assert (after_second.status, after_second.version) == (APPROVED, 3)
        assert await port.get("r1") == after_second
        assert list(await port.decisions("r1")) == [first, second]  # oldest first

    async def test_a_decision_round_trips_every_field(self, port: ApprovalStore) -> None:
        await port.create(request("r1"))
        stored = decision(
            "r1",
            "oidc|https://idp.example|bob",
            Verdict.REJECT,
            comments="Nein — the scope is too wide.\nSee OPS-7",
            conditions={"expires": "2025-01-01", "scope": "read-only"},
            decided_at_ms=1_700_000_000_999,
        )
        await port.record_decision(stored, expected_version=1, new_status=REJECTED)
        assert list(await port.decisions("r1")) == [stored]

    async def test_decisions_are_kept_per_request(self, port: ApprovalStore) -> None:
        for request_id in ("r1", "r2"):
            await port.create(request(request_id))
        one = decision("r1", "alice")
        await port.record_decision(one, expected_version=1, new_status=PENDING)
        assert list(await port.decisions("r1")) == [one]
        assert list(await port.decisions("r2")) == []
        assert list(await port.decisions("unknown")) == []

    @pytest.mark.parametrize("stale", [0, 2, 99])
    async def test_a_stale_version_is_refused_and_nothing_is_written(
        self, port: ApprovalStore, stale: int
    ) -> None:
        created = await port.create(request("r1"))
        before = await port.revision()
        with pytest.raises(ConcurrentChangeError, match="changed concurrently") as caught:
            await port.record_decision(
                decision("r1", "alice"), expected_version=stale, new_status=APPROVED
            )
        assert (caught.value.expected, caught.value.actual) == (stale, 1)
        with pytest.raises(ConcurrentChangeError):
            await port.expire("r1", expected_version=stale, at_ms=10**12)
        assert await port.get("r1") == created
        assert list(await port.decisions("r1")) == []
        assert await port.revision() == before

    async def test_an_approver_decides_once(self, port: ApprovalStore) -> None:
        await port.create(request("r1", required_approvers=("alice", "bob")))
        first = decision("r1", "alice")
        await port.record_decision(first, expected_version=1, new_status=PENDING)
        before = await port.revision()
        with pytest.raises(DuplicateError, match="'alice' already decided"):
            await port.record_decision(
                decision("r1", "alice", Verdict.REJECT), expected_version=2, new_status=REJECTED
            )
        got = await port.get("r1")
        assert got is not None and (got.status, got.version) == (PENDING, 2)
        assert list(await port.decisions("r1")) == [first]
        assert await port.revision() == before

    @pytest.mark.parametrize("final", [APPROVED, REJECTED, EXPIRED])
    async def test_item_174_a_decided_request_takes_no_decision(
        self, port: ApprovalStore, final: ApprovalStatus
    ) -> None:
        # SPEC 4.15 #174 and §3.11: "Adjudicating a request that is not PENDING is an error".
        await port.create(request("r1", required_approvers=("alice", "bob"), expires_at_ms=100))
        if final is EXPIRED:
            await port.expire("r1", expected_version=1, at_ms=100)
        else:
            verdict = Verdict.APPROVE if final is APPROVED else Verdict.REJECT
            await port.record_decision(
                decision("r1", "alice", verdict), expected_version=1, new_status=final
            )
        decided = await port.get("r1")
        before = (await port.revision(), list(await port.decisions("r1")))
        with pytest.raises(NotPendingError, match=f"is {final.value}, not PENDING") as caught:
            await port.record_decision(
                decision("r1", "bob"), expected_version=2, new_status=APPROVED
            )
        assert caught.value.status is final
        with pytest.raises(NotPendingError):
            await port.expire("r1", expected_version=2, at_ms=200)
        assert await port.get("r1") == decided
        assert (await port.revision(), list(await port.decisions("r1"))) == before

    async def test_a_decision_dated_at_the_deadline_is_refused(self, port: ApprovalStore) -> None:
        # SPEC 4.15 #174: even before an expiry sweep records EXPIRED, a late decision fails.
        await port.create(request("r1", required_approvers=("a", "b"), expires_at_ms=1_000))
        with pytest.raises(NotPendingError, match="expired at 1000") as caught:
            await port.record_decision(
                decision("r1", "a", decided_at_ms=1_000), expected_version=1, new_status=PENDING
            )
        assert caught.value.status is EXPIRED
        assert list(await port.decisions("r1")) == []
        on_time = decision("r1", "b", decided_at_ms=999)
        await port.record_decision(on_time, expected_version=1, new_status=PENDING)
        assert list(await port.decisions("r1")) == [on_time]

    async def test_impossible_statuses_are_refused(self, port: ApprovalStore) -> None:
        await port.create(request("r1"))
        with pytest.raises(ValueError, match="expire"):
            await port.record_decision(
                decision("r1", "alice"), expected_version=1, new_status=EXPIRED
            )
        with pytest.raises(ValueError, match="REJECT decision cannot approve"):
            await port.record_decision(
                decision("r1", "alice", Verdict.REJECT), expected_version=1, new_status=APPROVED
            )
        got = await port.get("r1")
        assert got is not None and (got.status, got.version) == (PENDING, 1)
        assert list(await port.decisions("r1")) == []
        assert await port.revision() == 1

    async def test_an_unknown_request_cannot_be_written(self, port: ApprovalStore) -> None:
        with pytest.raises(NotFoundError, match="'nope'"):
            await port.record_decision(
                decision("nope", "alice"), expected_version=1, new_status=PENDING
            )
        with pytest.raises(NotFoundError, match="'nope'"):
            await port.expire("nope", expected_version=1, at_ms=1)
        assert list(await port.decisions("nope")) == []
        assert await port.revision() == 0

    async def test_expiry_needs_a_passed_deadline(self, port: ApprovalStore) -> None:
        await port.create(request("never"))
        await port.create(request("r1", expires_at_ms=1_000))
        with pytest.raises(ValueError, match="never expires"):
            await port.expire("never", expected_version=1, at_ms=10**13)
        with pytest.raises(ValueError, match="expires at 1000, not yet at 999"):
            await port.expire("r1", expected_version=1, at_ms=999)
        assert await port.revision() == 2
        expired = await port.expire("r1", expected_version=1, at_ms=1_000)
        assert (expired.status, expired.version) == (EXPIRED, 2)
        assert await port.get("r1") == expired
        assert await port.revision() == 3

    async def test_list_pages_in_creation_order_without_gaps_or_repeats(
        self, port: ApprovalStore
    ) -> None:
        ids = [f"r{(i * 7) % 25:02d}" for i in range(25)]  # creation order is not id order
        for i, request_id in enumerate(ids):
            await port.create(request(request_id, ("acme", "beta", "")[i % 3]))
        pages = await all_pages(port, limit=10, tenant_id=None)
        assert [len(p) for p in pages] == [10, 10, 5]
        assert [r.approval_request_id for page in pages for r in page] == ids

    async def test_item_178_184_filters_never_mix(self, port: ApprovalStore) -> None:
        # SPEC 4.15 #178 (filters and paging) and 4.16 #184 (a tenant sees only its own).
        types = list(ArtifactType)
        expected: dict[str, tuple[str, ArtifactType, ApprovalStatus]] = {}
        for i in range(30):
            tenant, kind = ("acme", "beta", "")[i % 3], types[i % len(types)]
            await port.create(request(f"r{i:02d}", tenant, artifact_type=kind))
            status = PENDING
            if i % 4 == 1:
                status = REJECTED
                await port.record_decision(
                    decision(f"r{i:02d}", "alice", Verdict.REJECT),
                    expected_version=1,
                    new_status=status,
                )
            expected[f"r{i:02d}"] = (tenant, kind, status)
        for tenant in ("acme", "beta", "", None):
            for status in (None, PENDING, REJECTED, APPROVED):
                for kind in (None, ArtifactType.POLICY_V1, ArtifactType.BUDGET_V1):
                    pages = await all_pages(
                        port, limit=2, tenant_id=tenant, status=status, artifact_type=kind
                    )
                    got = [r.approval_request_id for page in pages for r in page]
                    assert got == [
                        rid
                        for rid, (t, k, s) in expected.items()
                        if tenant in (None, t) and status in (None, s) and kind in (None, k)
                    ], (tenant, status, kind)
        assert list((await port.list(tenant_id="nobody")).items) == []

    @pytest.mark.parametrize("cursor", ["nonsense", "-1", "0", "1.5", "٣"])
    async def test_a_cursor_it_did_not_issue_is_refused(
        self, port: ApprovalStore, cursor: str
    ) -> None:
        with pytest.raises(ValueError, match="was not returned by list"):
            await port.list(tenant_id=None, cursor=cursor)

    async def test_revision_moves_with_writes_only(self, port: ApprovalStore) -> None:
        seen = [await port.revision()]
        await port.create(request("r1", required_approvers=("a", "b")))
        seen.append(await port.revision())
        await port.create(request("r2", expires_at_ms=5))
        seen.append(await port.revision())
        await port.record_decision(decision("r1", "a"), expected_version=1, new_status=PENDING)
        seen.append(await port.revision())
        await port.expire("r2", expected_version=1, at_ms=5)
        seen.append(await port.revision())
        assert all(a < b for a, b in zip(seen, seen[1:], strict=False)), seen
        await port.get("r1")
        await port.list(tenant_id=None, status=PENDING)
        await port.decisions("r1")
        assert await port.revision() == seen[-1]

    async def test_stored_records_are_not_aliased(self, port: ApprovalStore) -> None:
        metadata, conditions = {"k": "v"}, {"c": "1"}
        await port.create(request("r1", metadata=metadata))
        await port.record_decision(
            decision("r1", "alice", conditions=conditions), expected_version=1, new_status=PENDING
        )
        metadata["k"], conditions["c"] = "changed", "changed"
        got = await port.get("r1")
        (stored,) = await port.decisions("r1")
        assert got is not None and dict(got.metadata) == {"k": "v"}
        assert dict(stored.conditions) == {"c": "1"}
