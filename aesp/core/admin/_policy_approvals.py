"""Policy changes submitted to governance instead of applied (SPEC §3.11, §3.12, item 165).

With ``[governance] policy_changes = "approval"`` (the default) the Host builds
:class:`~aesp.core.admin.policy.PolicyAdmin` with a :class:`PolicyApprovals`: ``CreatePolicy``,
``UpdatePolicy`` and ``DeletePolicy`` validate the change exactly as before, then
:meth:`PolicyApprovals.submit` opens a PENDING ``POLICY_V1`` request in the policy's scope, in
the caller's name, and nothing is enforced until it is approved. The
:class:`~aesp.core.governance.store_enactors.PolicyEnactor` stores (or deletes) the policy and
recompiles the Host's policy set when the request completes.

Approvers are those of configuration changes (decision 76,
:meth:`~aesp.core._live_approvals.GovernedConfigApprovals.default_approvers`): every role that
grants ``aesp:governance:AdjudicateApproval`` in the policy's tenant (and, for a platform
policy, ``aesp:platform:cross-tenant`` too), any one holder other than the requester; a
workflow that routes ``POLICY_V1`` requests of the scope adds its own approvers (the engine's
rules). No qualifying role and no workflow means no one could approve: refused, fail closed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from aesp.core._live_approvals import ADJUDICATE, GovernedConfigApprovals
from aesp.core.admin.policy_types import PolicyDeletion, PolicyView
from aesp.core.errors import ValidationError
from aesp.core.governance.model import NewRequest
from aesp.core.governance.store_enactors import encode_deletion, encode_policy
from aesp.core.governance.workflows import select_workflow
from aesp.core.policy import PolicyDefinition
from aesp.core.ports.governance import ArtifactType

if TYPE_CHECKING:
    from aesp.core.governance.service import Governance

__all__ = ["KIND", "PendingDeletion", "PendingPolicy", "PolicyApprovals", "pending_note"]

KIND: Final = ArtifactType.POLICY_V1


class PolicyApprovals:
    """Submits policy changes as ``POLICY_V1`` approval requests.

    Args:
        governance: The Host's governance component; None on a Host without one, where every
            submission is refused with ``FEATURE_UNAVAILABLE`` (fail closed: the change is
            neither applied nor queued).
    """

    def __init__(self, governance: Governance | None) -> None:
        self._governance = governance

    async def submit_policy(
        self, requester_id: str, definition: PolicyDefinition, justification: str
    ) -> str:
        """Ask approval to store ``definition`` (a new policy or a new version); return the id.

        Raises:
            AespError: ``FEATURE_UNAVAILABLE`` when no one could approve it, or the engine's
                refusal (``MALFORMED_REQUEST``, ``INVALID_STATE``, ``POLICY_EVALUATION_FAILED``).
        """
        return await self._submit(
            requester_id,
            definition.tenant_id,
            definition.policy_id,
            f"{definition.policy_id}@{definition.version}",
            encode_policy(definition),
            justification or f"store policy {definition.policy_id}@{definition.version}",
            str(definition.effect),
        )

    async def submit_deletion(
        self, requester_id: str, tenant_id: str, policy_id: str, justification: str
    ) -> str:
        """Ask approval to delete ``policy_id`` in ``tenant_id`` (``""``: platform); return the id.

        Raises:
            AespError: As :meth:`submit_policy`; ``POLICY_NOT_FOUND`` when it is not live.
        """
        return await self._submit(
            requester_id,
            tenant_id,
            policy_id,
            f"{policy_id}@delete",
            encode_deletion(policy_id),
            justification or f"delete policy {policy_id}",
            "DELETE",
        )

    async def _submit(
        self,
        requester_id: str,
        tenant_id: str,
        policy_id: str,
        artifact_id: str,
        data: bytes,
        justification: str,
        effect: str,
    ) -> str:
        governance = self._governance
        if governance is None:
            raise _nobody(policy_id, tenant_id, "this Host has no governance component")
        roles = GovernedConfigApprovals(engine=governance.engine, control=governance.control)
        named: tuple[str, ...] = ()
        if not await self._routed(governance, tenant_id, policy_id, effect):
            named = await roles.default_approvers(tenant_id)
            if not named:
                raise _nobody(policy_id, tenant_id, f"no role grants {ADJUDICATE} there")
        new = NewRequest(
            artifact_type=KIND.value,
            artifact_id=artifact_id,
            artifact_data=data,
            justification=justification,
            required_approvers=named,
            min_approvals=1 if named else 0,
        )
        view = await governance.engine.request(requester_id, tenant_id, new)
        return view.request.approval_request_id

    @staticmethod
    async def _routed(governance: Governance, tenant_id: str, policy_id: str, effect: str) -> bool:
        """True when a workflow routes this request (its approvers then apply instead)."""
        workflows = governance.engine.workflows
        if workflows is None:
            return False
        candidates = await workflows.list(tenant_id=None, artifact_type=KIND)
        facts = {"policy_id": policy_id, "effect": effect}
        return select_workflow(candidates, tenant_id, facts) is not None


def _nobody(policy_id: str, tenant_id: str, why: str) -> ValidationError:
    where = f"tenant '{tenant_id}'" if tenant_id else "the platform scope"
    return ValidationError(
        "FEATURE_UNAVAILABLE",
        f"Changing policy '{policy_id[:128]}' in {where} needs governance approval (item 165), "
        f"but {why}, so no one could approve it; nothing was changed.",
        details={"field": "policy_id", "reason": "NO_APPROVERS"},
        remediation_steps=(
            f"Give a role holding {ADJUDICATE} to a second administrator, or create an "
            "approval workflow for POLICY_V1.",
        ),
    )


@dataclass(frozen=True, slots=True)
class PendingPolicy(PolicyView):
    """A validated policy change waiting for approval; nothing was stored (item 165).

    Attributes:
        approval_request_id: The ``POLICY_V1`` request that must approve it.
    """

    approval_request_id: str = ""


@dataclass(frozen=True, slots=True)
class PendingDeletion(PolicyDeletion):
    """A deletion waiting for approval; ``deleted_at_ms`` is 0 and the policy is still in force.

    Attributes:
        approval_request_id: The ``POLICY_V1`` request that must approve it.
    """

    approval_request_id: str = ""


def pending_note(request_id: str) -> str:
    """The warning that tells the caller the change is pending, not in force."""
    return (
        f"PENDING_APPROVAL: submitted as governance request {request_id}; not in force until "
        "another administrator approves it (AdjudicateApproval)."
    )
