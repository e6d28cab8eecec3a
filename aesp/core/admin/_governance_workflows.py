"""State of the Governance admin operations and the workflow operations
(``CreateApprovalWorkflow``, ``UpdateApprovalWorkflow``); see :mod:`aesp.core.admin.governance`.

Why a base class: the operations are split over two modules to keep each small; both need the
same control plane, governance component, guard and clock, defined once here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from aesp.core.admin import _governance_support as support
from aesp.core.admin._guard import ADMIN_QUERY, AdminGuard, Done, clip, not_found
from aesp.core.control import ControlPlane
from aesp.core.errors import AespError, StateError
from aesp.core.governance import ApprovalWorkflow, Governance
from aesp.core.governance.workflows import check_workflow
from aesp.core.ids import now_ms
from aesp.core.ports._errors import ConcurrentChangeError, DuplicateError
from aesp.core.principal import Principal
from aesp.core.security import SecurityContext

__all__ = ["GovernanceWorkflows"]


class GovernanceWorkflows:
    """The guard, the ports and the workflow operations of :class:`GovernanceAdmin`.

    Args:
        control: The Host's control plane (permissions, RBAC snapshot, audit).
        governance: The Host's governance component (engine and workflow store).
        clock_ms: Unix milliseconds (workflow times).
    """

    def __init__(
        self, control: ControlPlane, governance: Governance, *, clock_ms: Callable[[], int] = now_ms
    ) -> None:
        self._control = control
        self._governance = governance
        self._engine = governance.engine
        self._guard = AdminGuard(control, service="governance")
        self._clock_ms = clock_ms

    async def context(
        self, principal: Principal, *, rpc: str, correlation_id: str
    ) -> SecurityContext:
        """The caller's context; a refusal is audited (see :meth:`AdminGuard.context`)."""
        return await self._guard.context(principal, rpc=rpc, correlation_id=correlation_id)

    async def record_refusal(
        self, ctx: SecurityContext, rpc: str, exc: AespError, *, correlation_id: str
    ) -> None:
        """Audit a refusal the edge raised for ``rpc`` (an unconvertible request)."""
        event_type = support.EVENT_TYPES.get(rpc, ADMIN_QUERY)
        await self._guard.reject(ctx, rpc, event_type, exc, correlation_id)

    async def create_workflow(
        self,
        ctx: SecurityContext,
        draft: ApprovalWorkflow,
        *,
        tenant_id: str = "",
        justification: str = "",
        correlation_id: str = "",
    ) -> ApprovalWorkflow:
        """``CreateApprovalWorkflow`` in the resolved tenant (``"*"``: for every tenant).

        Raises:
            ValidationError: ``FEATURE_UNAVAILABLE`` without a workflow store;
                ``MALFORMED_REQUEST`` for a malformed definition.
            StateError: ``INVALID_STATE`` when the id is taken.
        """

        async def act(target: str) -> Done[ApprovalWorkflow]:
            store = self._governance.workflows
            if store is None:
                raise support.workflows_unavailable()
            now = self._clock_ms()
            workflow = dataclasses.replace(
                draft,
                workflow_id=support.workflow_id(draft.workflow_id),
                tenant_id=support.stored_scope(target),
                created_at_ms=now,
                updated_at_ms=now,
                updated_by=ctx.principal_id,
            )
            check_workflow(workflow)
            try:
                stored = await store.create(workflow)
            except DuplicateError:
                raise StateError(
                    "INVALID_STATE",
                    f"Workflow '{workflow.workflow_id}' exists; change it with "
                    "UpdateApprovalWorkflow.",
                    details={"field": "workflow_id"},
                ) from None
            return Done(
                stored, f"workflow:{stored.workflow_id}", _workflow_meta(stored, justification)
            )

        return await self._guard.run(
            ctx,
            "CreateApprovalWorkflow",
            support.EVENT_TYPES["CreateApprovalWorkflow"],
            tenant_id=tenant_id,
            correlation_id=correlation_id,
            action=act,
        )

    async def update_workflow(
        self,
        ctx: SecurityContext,
        draft: ApprovalWorkflow,
        *,
        tenant_id: str = "",
        justification: str = "",
        correlation_id: str = "",
    ) -> ApprovalWorkflow:
        """``UpdateApprovalWorkflow``: replace a workflow of the resolved tenant; requests
        already open keep the approvers they were opened with. ``draft.version`` non-zero must
        be the stored version (compare-and-set).

        Raises:
            ValidationError: ``FEATURE_UNAVAILABLE``, ``MALFORMED_REQUEST``, ``NOT_FOUND``.
            StateError: ``INVALID_STATE`` when it changed since the caller read it.
        """

        async def act(target: str) -> Done[ApprovalWorkflow]:
            store = self._governance.workflows
            if store is None:
                raise support.workflows_unavailable()
            scope = support.by_id_scope(target)
            current = await store.get(draft.workflow_id) if draft.workflow_id else None
            if current is None or (scope is not None and current.tenant_id != scope):
                raise not_found(
                    "approval workflow", draft.workflow_id, target, field_name="workflow_id"
                )
            workflow = dataclasses.replace(
                draft,
                tenant_id=current.tenant_id,
                created_at_ms=current.created_at_ms,
                updated_at_ms=self._clock_ms(),
                updated_by=ctx.principal_id,
            )
            check_workflow(workflow)
            try:
                stored = await store.replace(
                    workflow, expected_version=draft.version or current.version
                )
            except ConcurrentChangeError:
                raise StateError(
                    "INVALID_STATE",
                    f"Workflow '{draft.workflow_id}' changed since version {draft.version or current.version}; "
                    "read it again before changing it.",
                    details={"field": "version"},
                ) from None
            meta = _workflow_meta(stored, justification)
            return Done(stored, f"workflow:{stored.workflow_id}", meta)

        return await self._guard.run(
            ctx,
            "UpdateApprovalWorkflow",
            support.EVENT_TYPES["UpdateApprovalWorkflow"],
            tenant_id=tenant_id,
            correlation_id=correlation_id,
            action=act,
        )


def _workflow_meta(workflow: ApprovalWorkflow, justification: str) -> dict[str, str]:
    return {
        "workflow_id": workflow.workflow_id,
        "artifact_type": workflow.artifact_type.value,
        "required_approvers": clip(",".join(workflow.required_approvers)),
        "min_approvals": str(workflow.min_approvals),
        "version": str(workflow.version),
        "justification": clip(justification),
    }
