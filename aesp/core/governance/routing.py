"""Who may decide, and when enough approvals are in (SPEC §3.11 [REC], items 172-176). Pure.

Semantics (docs/protocol-decisions.md):

* A required approver entry is a principal id, satisfied only by that principal, or
  ``role:<name>``, satisfied by any holder of the role *in the request's tenant*.
* An approver may decide only if it can satisfy at least one entry (item 176), and never on
  its own request (separation of duties).
* m of n: each APPROVE counts once, for one entry. The request is APPROVED when a matching of
  distinct approvers to distinct entries covers ``approvals_needed`` entries (all of them when
  ``min_approvals`` is 0). Why a matching: one person holding two required roles must not count
  as two approvers, and the order in which people approve must not decide whether the request
  completes.
* Which entries an approver could satisfy is fixed when it decides (kept under
  :data:`~aesp.core.governance.model.SATISFIES_KEY`), so a later change of its roles neither
  adds nor withdraws an approval already given.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from aesp.core.governance.model import SATISFIES_KEY
from aesp.core.ports.governance import (
    ROLE_PREFIX,
    ApprovalDecision,
    ApprovalRequest,
    ApprovalStatus,
    Verdict,
)

__all__ = ["Tally", "eligible_entries", "next_state", "satisfies_record", "tally"]


def eligible_entries(
    request: ApprovalRequest, principal_id: str, roles: frozenset[str]
) -> tuple[str, ...]:
    """The required approver entries ``principal_id`` (holding ``roles``) could satisfy."""
    return tuple(
        entry
        for entry in request.required_approvers
        if entry == principal_id
        or (entry.startswith(ROLE_PREFIX) and entry.removeprefix(ROLE_PREFIX) in roles)
    )


def satisfies_record(entries: Sequence[str]) -> str:
    """The value stored under ``SATISFIES_KEY`` for an approver's eligible entries."""
    return json.dumps(list(entries), separators=(",", ":"))


def _recorded(request: ApprovalRequest, decision: ApprovalDecision) -> tuple[str, ...]:
    """The entries a stored APPROVE counts for; a decision written without the record (by
    another implementation) counts only for a direct entry naming its approver."""
    raw = decision.conditions.get(SATISFIES_KEY)
    if raw is not None:
        try:
            parsed = json.loads(raw)
        except ValueError:
            parsed = None
        if isinstance(parsed, list):
            return tuple(e for e in parsed if e in request.required_approvers)
    return tuple(e for e in request.required_approvers if e == decision.approver_id)


class Tally:
    """The approvals of one request, matched to its entries.

    Attributes:
        covered: Entries matched to distinct approvers.
        rejected: Whether any decision is a REJECT.
        approvers: Principals that said APPROVE, in decision order.
    """

    def __init__(self, request: ApprovalRequest, decisions: Sequence[ApprovalDecision]) -> None:
        approvals = [
            (d.approver_id, _recorded(request, d))
            for d in decisions
            if d.decision is Verdict.APPROVE
        ]
        self.rejected = any(d.decision is Verdict.REJECT for d in decisions)
        self.approvers = tuple(a for a, _ in approvals)
        self.covered = _max_matching(approvals)
        self._request = request

    @property
    def complete(self) -> bool:
        """Whether enough distinct approvers cover enough entries."""
        return not self.rejected and len(self.covered) >= self._request.approvals_needed

    @property
    def remaining(self) -> tuple[str, ...]:
        """Entries not yet covered, in request order (empty once complete or rejected)."""
        if self.complete or self.rejected:
            return ()
        return tuple(e for e in self._request.required_approvers if e not in self.covered)


def tally(request: ApprovalRequest, decisions: Sequence[ApprovalDecision]) -> Tally:
    """The :class:`Tally` of ``decisions`` on ``request``."""
    return Tally(request, decisions)


def next_state(
    request: ApprovalRequest, decisions: Sequence[ApprovalDecision], new: ApprovalDecision
) -> tuple[ApprovalStatus, Tally]:
    """The status ``request`` moves to if ``new`` is appended to ``decisions``.

    "Any REJECT makes the request REJECTED" (SPEC §3.11, item 173); APPROVED once the tally is
    complete (item 172); PENDING otherwise.
    """
    after = tally(request, [*decisions, new])
    if after.rejected:
        return ApprovalStatus.REJECTED, after
    if after.complete:
        return ApprovalStatus.APPROVED, after
    return ApprovalStatus.PENDING, after


def _max_matching(approvals: Sequence[tuple[str, tuple[str, ...]]]) -> frozenset[str]:
    """Entries covered by a maximum matching of distinct approvers to distinct entries
    (Kuhn's augmenting paths; n is at most a few dozen)."""
    owner: dict[str, int] = {}  # entry -> index of the approval it is matched to
    options = [entries for _, entries in approvals]

    def place(index: int, seen: set[str]) -> bool:
        for entry in options[index]:
            if entry in seen:
                continue
            seen.add(entry)
            if entry not in owner or place(owner[entry], seen):
                owner[entry] = index
                return True
        return False

    distinct: Mapping[str, int] = {approver: i for i, (approver, _) in enumerate(approvals)}
    for index in sorted(set(distinct.values())):
        place(index, set())
    return frozenset(owner)
