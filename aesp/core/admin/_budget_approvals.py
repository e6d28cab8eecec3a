"""Budget changes submitted to governance instead of stored (SPEC §3.11, §3.13).

With ``[governance] budget_changes = "approval"`` (the default) the cost servicer builds
:class:`~aesp.core.admin.cost.CostAdmin` with a :class:`BudgetApprovals`: ``CreateBudget`` and
``SetBudgetAlerts`` validate the change exactly as before, then :meth:`BudgetApprovals.submit`
opens a PENDING ``BUDGET_V1`` request in the budget's tenant, in the caller's name, and no call
is held to it until it is approved. The
:class:`~aesp.core.governance.enactors_budget.BudgetEnactor` stores the budget and tells the
Host's metering when the request completes.

Approvers are those of policy changes (:mod:`aesp.core.admin._policy_approvals`): every role
that grants ``aesp:governance:AdjudicateApproval`` in the budget's tenant, any one holder other
than the requester; a workflow that routes ``BUDGET_V1`` requests of the tenant adds its own
approvers instead. No qualifying role and no workflow means no one could approve: refused,
fail closed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from aesp.core._live_approvals import ADJUDICATE, GovernedConfigApprovals
from aesp.core.cost import Budget
from aesp.core.errors import ValidationError
from aesp.core.governance.enactors_budget import MICROS, budget_artifact
from aesp.core.governance.model import NewRequest
from aesp.core.governance.workflows import select_workflow
from aesp.core.ports.governance import ArtifactType

if TYPE_CHECKING:
    from aesp.core.governance.service import Governance

__all__ = ["KIND", "BudgetApprovals"]

KIND: Final = ArtifactType.BUDGET_V1


class BudgetApprovals:
    """Submits budget changes as ``BUDGET_V1`` approval requests.

    Args:
        governance: The Host's governance component; None on a Host without one, where every
            submission is refused with ``FEATURE_UNAVAILABLE`` (fail closed: nothing is stored
            nor queued).
    """

    def __init__(self, governance: Governance | None) -> None:
        self._governance = governance

    async def submit(self, requester_id: str, budget: Budget, justification: str) -> str:
        """Ask approval to store ``budget`` (new, or replacing the tenant's budget of that id);
        return the approval request id.

        Raises:
            AespError: ``FEATURE_UNAVAILABLE`` when no one could approve it, or the engine's
                refusal (``MALFORMED_REQUEST``, ``INVALID_STATE``).
        """
        governance = self._governance
        tenant_id = budget.tenant_id
        if governance is None:
            raise _nobody(budget.budget_id, tenant_id, "this Host has no governance component")
        named: tuple[str, ...] = ()
        if not await self._routed(governance, budget):
            roles = GovernedConfigApprovals(engine=governance.engine, control=governance.control)
            named = await roles.default_approvers(tenant_id)
            if not named:
                raise _nobody(budget.budget_id, tenant_id, f"no role grants {ADJUDICATE} there")
        new = NewRequest(
            artifact_type=KIND.value,
            artifact_id=budget.budget_id,
            artifact_data=budget_artifact(budget),
            justification=justification or f"store budget {budget.budget_id}",
            required_approvers=named,
            min_approvals=1 if named else 0,
        )
        view = await governance.engine.request(requester_id, tenant_id, new)
        return view.request.approval_request_id

    @staticmethod
    async def _routed(governance: Governance, budget: Budget) -> bool:
        """True when a workflow routes this request (its approvers then apply instead)."""
        workflows = governance.engine.workflows
        if workflows is None:
            return False
        candidates = await workflows.list(tenant_id=None, artifact_type=KIND)
        facts = {
            "budget_scope": budget.scope.value,
            "amount": str(budget.amount_micros // MICROS),
        }
        return select_workflow(candidates, budget.tenant_id, facts) is not None


def _nobody(budget_id: str, tenant_id: str, why: str) -> ValidationError:
    return ValidationError(
        "FEATURE_UNAVAILABLE",
        f"Changing budget '{budget_id[:64]}' in tenant '{tenant_id}' needs governance approval "
        f"(SPEC §3.13, BUDGET_V1), but {why}, so no one could approve it; nothing was changed.",
        details={"field": "budget.budget_id", "reason": "NO_APPROVERS"},
        remediation_steps=(
            f"Give a role holding {ADJUDICATE} to a second administrator, or create an "
            "approval workflow for BUDGET_V1.",
        ),
    )
