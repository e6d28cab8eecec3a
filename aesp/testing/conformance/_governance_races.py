"""The Governance kit's fixtures, builders and race tests (DESIGN §10: two Hosts, one store).

Each race splits its calls between ``port`` and ``replica``, two handles on one store as two Host
replicas would hold them, and checks that exactly one compare-and-set wins and that the losers
left nothing behind: no decision without its status move, no status move without its decision.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from aesp.core.ports._errors import ConcurrentChangeError, DuplicateError
from aesp.core.ports.governance import (
    ApprovalDecision,
    ApprovalRequest,
    ApprovalStatus,
    ApprovalStore,
    ArtifactType,
    Verdict,
)

PENDING, APPROVED, REJECTED, EXPIRED = ApprovalStatus
RACERS = 20  # concurrent writers per race: enough to interleave, cheap on SQLite


def request(request_id: str = "r1", tenant_id: str = "acme", **fields: Any) -> ApprovalRequest:
    """A valid PENDING request; ``fields`` override any other attribute."""
    values: dict[str, Any] = {
        "artifact_type": ArtifactType.POLICY_V1,
        "artifact_id": f"artifact-{request_id}",
        "artifact_data": b'{"policy_id":"p","version":"1.0.0"}',
        "requester_id": "requester",
        "required_approvers": ("alice",),
        "created_at_ms": 1,
    }
    values.update(fields)
    return ApprovalRequest(approval_request_id=request_id, tenant_id=tenant_id, **values)


def decision(
    request_id: str, approver_id: str, verdict: Verdict = Verdict.APPROVE, **fields: Any
) -> ApprovalDecision:
    """A decision dated 10 unless ``decided_at_ms`` is given."""
    fields.setdefault("decided_at_ms", 10)
    return ApprovalDecision(request_id, approver_id, verdict, **fields)


async def all_pages(
    port: ApprovalStore, *, limit: int, **filters: Any
) -> list[list[ApprovalRequest]]:
    """Every page of ``port.list(**filters)``, checking each respects ``limit``."""
    pages: list[list[ApprovalRequest]] = []
    cursor = ""
    while True:
        page = await port.list(limit=limit, cursor=cursor, **filters)
        pages.append(list(page.items))
        assert len(page.items) <= limit
        assert len(pages) <= 100, "list never returned an empty next_cursor"
        if not page.next_cursor:
            return pages
        cursor = page.next_cursor


class ApprovalStoreRaces:
    """Fixtures and the race tests of the Governance kit."""

    @pytest.fixture
    def port(self) -> Any:  # pragma: no cover - overridden
        """Yield a fresh, empty ApprovalStore."""
        raise AssertionError("the adapter's test class must override the 'port' fixture")

    @pytest.fixture
    def replica(self, port: ApprovalStore) -> ApprovalStore:
        """A second handle on ``port``'s store, as a second Host replica would open it.

        Realisations whose state lives outside the object (a file, a table) override this to
        open one more handle; an in-memory store is its own replica.
        """
        return port

    async def test_racing_decisions_at_one_version_store_exactly_one(
        self, port: ApprovalStore, replica: ApprovalStore
    ) -> None:
        approvers = [f"approver-{i:02d}" for i in range(RACERS)]
        await port.create(request("r1", required_approvers=approvers))
        before = await port.revision()
        attempts = [decision("r1", a) for a in approvers]
        results = await asyncio.gather(
            *(
                (port, replica)[i % 2].record_decision(d, expected_version=1, new_status=PENDING)
                for i, d in enumerate(attempts)
            ),
            return_exceptions=True,
        )
        won = [i for i, r in enumerate(results) if isinstance(r, ApprovalRequest)]
        assert len(won) == 1, results
        assert all(
            isinstance(r, ConcurrentChangeError) for r in results if r is not results[won[0]]
        )
        assert list(await replica.decisions("r1")) == [attempts[won[0]]]
        stored = await port.get("r1")
        assert stored is not None and (stored.version, stored.status) == (2, PENDING)
        assert await port.revision() == before + 1

    async def test_racing_final_decisions_leave_one_consistent_outcome(
        self, port: ApprovalStore, replica: ApprovalStore
    ) -> None:
        # Half approve, half reject, all on version 1: the stored status must be the one winner's
        # and its decision the only one stored, never APPROVED beside a stored REJECT.
        approvers = [f"approver-{i:02d}" for i in range(RACERS)]
        await port.create(request("r1", required_approvers=approvers, min_approvals=1))
        verdicts = [Verdict.APPROVE if i % 2 else Verdict.REJECT for i in range(RACERS)]
        outcome = {Verdict.APPROVE: APPROVED, Verdict.REJECT: REJECTED}
        results = await asyncio.gather(
            *(
                (replica, port)[i % 2].record_decision(
                    decision("r1", a, v), expected_version=1, new_status=outcome[v]
                )
                for i, (a, v) in enumerate(zip(approvers, verdicts, strict=True))
            ),
            return_exceptions=True,
        )
        winners = [r for r in results if isinstance(r, ApprovalRequest)]
        assert len(winners) == 1, results
        assert sum(isinstance(r, ConcurrentChangeError) for r in results) == RACERS - 1
        (stored_decision,) = await port.decisions("r1")
        assert await replica.get("r1") == winners[0]
        assert winners[0].status == outcome[stored_decision.decision]

    async def test_a_decision_racing_an_expiry_one_wins(
        self, port: ApprovalStore, replica: ApprovalStore
    ) -> None:
        for n in range(10):
            rid = f"r{n}"
            await port.create(request(rid, expires_at_ms=1_000))
            results = await asyncio.gather(
                port.record_decision(
                    decision(rid, "alice", decided_at_ms=999),
                    expected_version=1,
                    new_status=APPROVED,
                ),
                replica.expire(rid, expected_version=1, at_ms=1_000),
                return_exceptions=True,
            )
            assert sum(isinstance(r, ApprovalRequest) for r in results) == 1, results
            assert sum(isinstance(r, ConcurrentChangeError) for r in results) == 1, results
            stored = await port.get(rid)
            decided = list(await port.decisions(rid))
            assert stored is not None and stored.version == 2
            assert (stored.status, len(decided)) in ((APPROVED, 1), (EXPIRED, 0))

    async def test_racing_creates_of_one_id_store_it_once(
        self, port: ApprovalStore, replica: ApprovalStore
    ) -> None:
        attempts = [request("r1", justification=f"attempt {i}") for i in range(RACERS)]
        results = await asyncio.gather(
            *((port, replica)[i % 2].create(r) for i, r in enumerate(attempts)),
            return_exceptions=True,
        )
        winners = [r for r in results if isinstance(r, ApprovalRequest)]
        assert len(winners) == 1, results
        assert sum(isinstance(r, DuplicateError) for r in results) == RACERS - 1
        assert await replica.get("r1") == winners[0]
        assert await port.revision() == 1

    async def test_approvers_retrying_on_conflict_reach_m_of_n_exactly(
        self, port: ApprovalStore, replica: ApprovalStore
    ) -> None:
        # The workflow's loop: read, decide on what was read, compare-and-set, re-read on a
        # conflict. With 3 of 6 needed, exactly 3 approvals land and the rest find it decided.
        approvers = [f"approver-{i}" for i in range(6)]
        await port.create(request("r1", required_approvers=approvers, min_approvals=3))

        async def adjudicate(store: ApprovalStore, approver: str) -> bool:
            while True:
                current = await store.get("r1")
                assert current is not None
                if current.status is not PENDING:
                    return False
                approvals = len(await store.decisions("r1")) + 1
                done = approvals >= current.approvals_needed
                try:
                    await store.record_decision(
                        decision("r1", approver),
                        expected_version=current.version,
                        new_status=APPROVED if done else PENDING,
                    )
                    return True
                except ConcurrentChangeError:
                    await asyncio.sleep(0)

        landed = await asyncio.gather(
            *(adjudicate((port, replica)[i % 2], a) for i, a in enumerate(approvers))
        )
        assert sum(landed) == 3
        stored = await port.get("r1")
        assert stored is not None and (stored.status, stored.version) == (APPROVED, 4)
        assert len(await replica.decisions("r1")) == 3

    async def test_concurrent_writes_to_different_requests_lose_nothing(
        self, port: ApprovalStore, replica: ApprovalStore
    ) -> None:
        ids = [f"r{i:02d}" for i in range(RACERS)]
        await asyncio.gather(
            *((port, replica)[i % 2].create(request(r)) for i, r in enumerate(ids))
        )
        await asyncio.gather(
            *(
                (replica, port)[i % 2].record_decision(
                    decision(r, "alice"), expected_version=1, new_status=APPROVED
                )
                for i, r in enumerate(ids)
            )
        )
        for store in (port, replica):
            page = await store.list(tenant_id="acme", status=APPROVED, limit=100)
            assert sorted(r.approval_request_id for r in page.items) == ids
            assert await store.revision() == 2 * RACERS

    async def test_replicas_see_each_others_writes(
        self, port: ApprovalStore, replica: ApprovalStore
    ) -> None:
        created = await port.create(request("r1", required_approvers=("alice", "bob")))
        assert await replica.get("r1") == created
        moved = await replica.record_decision(
            decision("r1", "alice"), expected_version=1, new_status=PENDING
        )
        assert await port.get("r1") == moved
        with pytest.raises(ConcurrentChangeError):  # port's caller still holds version 1
            await port.record_decision(
                decision("r1", "bob"), expected_version=1, new_status=APPROVED
            )
        assert [d.approver_id for d in await port.decisions("r1")] == ["alice"]
        assert await port.revision() == await replica.revision() == 2
