"""Helpers of the Governance admin operations (:mod:`aesp.core.admin.governance`).

Pure functions over the caller and the request: who decides (and with which roles), which scope
a tenant field names, and what each operation writes into its audit event.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from aesp.core.admin._guard import ALL_TENANTS, clip
from aesp.core.control import ControlPlane
from aesp.core.errors import AuthorizationError, ValidationError
from aesp.core.governance import ApprovalView, Approver, DecisionResult
from aesp.core.governance.model import public_conditions
from aesp.core.security import SecurityContext

__all__ = [
    "EVENT_TYPES",
    "approver_of",
    "condition_keys",
    "by_id_scope",
    "decision_meta",
    "request_meta",
    "require_self",
    "stored_scope",
    "workflow_id",
    "workflows_unavailable",
]

EVENT_TYPES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "RequestApproval": "GOVERNANCE_APPROVAL_REQUEST",
        "AdjudicateApproval": "GOVERNANCE_APPROVAL_DECISION",
        "CreateApprovalWorkflow": "GOVERNANCE_WORKFLOW_CREATE",
        "UpdateApprovalWorkflow": "GOVERNANCE_WORKFLOW_UPDATE",
    }
)  # event type of each write; the two reads are ADMIN_QUERY
WORKFLOW_ID_BYTES: Final = 8  # a Host-assigned workflow id: "wf-<16 hex>"


def stored_scope(target: str) -> str:
    """The tenant a new object is stored under: ``""`` (platform) for ``"*"`` (decision 37)."""
    return "" if target == ALL_TENANTS else target


def by_id_scope(target: str) -> str | None:
    """Where an object named by id is looked for: ``"*"`` means any tenant (platform callers),
    anything else exactly that tenant."""
    return None if target == ALL_TENANTS else target


def require_self(ctx: SecurityContext, named: str, field_name: str) -> None:
    """Refuse a request that names another principal as the one acting.

    ``requester_id`` and ``approver_id`` are always the verified caller (SPEC §3.19 step 2,
    C-54); a field naming someone else would be a claim to act for them.

    Raises:
        AuthorizationError: ``PERMISSION_DENIED`` when ``named`` is set and is not the caller.
    """
    if named and named != ctx.principal_id:
        raise AuthorizationError(
            "PERMISSION_DENIED",
            f"{field_name} must be empty or your own principal id: governance requests and "
            "decisions are always made in the verified caller's name.",
            details={"field": field_name, "reason": "NOT_THE_CALLER"},
        )


def approver_of(control: ControlPlane, ctx: SecurityContext, principal_id: str = "") -> Approver:
    """The approver ``principal_id`` (the caller when empty), with its roles in any tenant.

    For the caller, roles include those its verified credential's groups map to. For another
    principal (the ``approver_id`` filter of a listing), only the RBAC store's assignments are
    known: group-mapped roles exist only while that principal is calling.
    """
    if not principal_id or principal_id == ctx.principal_id:

        def own_roles(tenant: str) -> frozenset[str]:
            return control.rbac.current.effective_roles(
                ctx.principal_id, tenant_id=tenant or ctx.tenant_id, roles_hint=ctx.roles_hint
            )

        return Approver(ctx.principal_id, own_roles)

    def stored_roles(tenant: str) -> frozenset[str]:
        return control.rbac.current.effective_roles(principal_id, tenant_id=tenant or ctx.tenant_id)

    return Approver(principal_id, stored_roles)


def workflow_id(requested: str) -> str:
    """The id of a new workflow: as requested, or ``wf-<16 hex>``."""
    return requested or f"wf-{secrets.token_hex(WORKFLOW_ID_BYTES)}"


def workflows_unavailable() -> ValidationError:
    """``FEATURE_UNAVAILABLE`` when the profile realises no workflow store."""
    return ValidationError(
        "FEATURE_UNAVAILABLE",
        "This Host's governance profile stores no approval workflows; name the approvers in "
        "each RequestApproval instead, or install a profile that realises a workflow store.",
        details={"field": "workflow"},
    )


def request_meta(view: ApprovalView, justification: str) -> dict[str, str]:
    """Audit metadata of ``GOVERNANCE_APPROVAL_REQUEST`` (public facts, never the artifact)."""
    r = view.request
    return {
        "approval_request_id": r.approval_request_id,
        "artifact_type": r.artifact_type.value,
        "artifact_id": clip(r.artifact_id, 128),
        "artifact_digest": r.artifact_digest,
        "required_approvers": clip(",".join(r.required_approvers)),
        "min_approvals": str(r.min_approvals),
        "expires_at": str(r.expires_at_ms),
        "workflow_id": view.workflow_id,
        "justification": clip(justification),
    }


def decision_meta(result: DecisionResult, verdict: str, comments: str) -> dict[str, str]:
    """Audit metadata of ``GOVERNANCE_APPROVAL_DECISION`` (item 175)."""
    r = result.request
    meta = {
        "approval_request_id": r.approval_request_id,
        "decision": verdict.upper(),
        "final_status": result.final_status.value,
        "workflow_complete": str(result.workflow_complete).lower(),
        "artifact_type": r.artifact_type.value,
        "artifact_id": clip(r.artifact_id, 128),
        "artifact_digest": r.artifact_digest,
        "requester_id": r.requester_id,
        "remaining_approvers": clip(",".join(result.remaining_approvers)),
        "comments": clip(comments),
    }
    if result.enacted is not None:
        meta["enacted"] = result.enacted.resource
    return meta


def condition_keys(conditions: Mapping[str, str]) -> str:
    """The public condition keys of a decision, for its audit event."""
    return clip(",".join(sorted(public_conditions(conditions))))
