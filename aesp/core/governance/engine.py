"""The approval workflow engine over the Governance port (SPEC §3.7 (4), §3.11, 169-179).

The port stores requests and decisions and makes "append a decision and move the status"
atomic (compare-and-set on the request's version). This engine decides everything else: who
may decide, when m of n approvals are in, and enacting the artifact when they are.

Safe order of an approval that completes a request (docs/protocol-decisions.md):

    (a) enact the artifact (the enactor is idempotent and returns how to undo it);
    (b) record the decision with status APPROVED, compare-and-set on the version read;
    (c) if (b) fails, undo (a) — unless the request is APPROVED after all (another Host's
        approval completed it and enacted the same artifact), then re-read and re-decide.

So a request is never APPROVED without its artifact in force, and an artifact is never left in
force for a request that is not APPROVED. Decisions on one Host are serialised by a lock, so (c)
only happens between Hosts sharing a store.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from typing import Final

from aesp.core.audit import AuditEvent, AuditLog
from aesp.core.errors import AuthorizationError, StateError
from aesp.core.governance import _checks
from aesp.core.governance.enactors import EnactorRegistry, artifact_type
from aesp.core.governance.expiry import ExpiryMixin
from aesp.core.governance.model import (
    SATISFIES_KEY,
    WORKFLOW_KEY,
    Adjudication,
    Approval,
    ApprovalView,
    Approver,
    DecisionResult,
    Enacted,
    NewRequest,
    is_call_approval,
    verdict,
)
from aesp.core.governance.routing import eligible_entries, next_state, satisfies_record
from aesp.core.governance.views import ViewsMixin
from aesp.core.governance.workflows import WorkflowStore, apply_workflow, select_workflow
from aesp.core.ids import now_ms
from aesp.core.ports._errors import ConcurrentChangeError, DuplicateError, NotFoundError
from aesp.core.ports.governance import (
    ApprovalDecision,
    ApprovalRequest,
    ApprovalStatus,
    ApprovalStore,
    ArtifactType,
    NotPendingError,
)

__all__ = ["ApprovalEngine"]

ID_BYTES: Final = 8  # "apr-<16 hex>": unguessable enough that ids reveal nothing
MAX_ATTEMPTS: Final = 5  # compare-and-set retries before asking the caller to try again


class ApprovalEngine(ViewsMixin, ExpiryMixin):
    """Opens, decides, lists and expires approval requests, and enacts approved artifacts.

    Args:
        store: The Governance port.
        enactors: Enactor of each artifact type (a type without one is refused).
        audit: Where enactments and expiries are recorded (requests and decisions are
            audited by the admin frame that calls the engine).
        workflows: Workflow definitions; None when this Host's profile has no workflow store.
        clock_ms: Unix milliseconds (decision times, expiry).
    """

    def __init__(
        self,
        *,
        store: ApprovalStore,
        enactors: EnactorRegistry,
        audit: AuditLog,
        workflows: WorkflowStore | None = None,
        clock_ms: Callable[[], int] = now_ms,
    ) -> None:
        self.store = store
        self.enactors = enactors
        self.workflows = workflows
        self._audit = audit
        self._clock_ms = clock_ms
        self._lock = asyncio.Lock()  # one decision at a time on this Host

    async def request(self, requester_id: str, tenant_id: str, new: NewRequest) -> ApprovalView:
        """``RequestApproval``: open a PENDING request (item 170). Nothing is applied (171).

        Steps: (1) the artifact type has an enactor, else ``FEATURE_UNAVAILABLE``; (2) bounds;
        (3) the enactor checks and normalises the artifact; (4) the workflow, if any, adds its
        approvers (:func:`apply_workflow`); (5) the deadline; (6) store.

        Args:
            requester_id: The verified caller (never a request field).
            tenant_id: The resolved scope (``""``: platform).
            new: What is asked for.

        Raises:
            AespError: ``FEATURE_UNAVAILABLE``, ``MALFORMED_REQUEST``, ``SCHEMA_VIOLATION``,
                ``INVALID_STATE`` (e.g. a contract version not newer than the ACTIVE one).
        """
        kind = artifact_type(new.artifact_type)
        enactor = self.enactors.require(kind)  # (1)
        _checks.check_request(new)  # (2)
        prepared = await enactor.prepare(tenant_id, new.artifact_id, new.artifact_data)  # (3)
        workflow = None
        if self.workflows is not None:  # (4)
            candidates = await self.workflows.list(tenant_id=None, artifact_type=kind)
            workflow = select_workflow(candidates, tenant_id, {**new.metadata, **prepared.facts})
        approvers, needed = apply_workflow(
            workflow, new.required_approvers, new.min_approvals, requester_id
        )
        now = self._clock_ms()
        expires = _checks.deadline(new.expires_at_ms, workflow, now)  # (5)
        metadata = dict(new.metadata)
        if workflow is not None:
            metadata[WORKFLOW_KEY] = workflow.workflow_id
        stored = await self.store.create(  # (6)
            ApprovalRequest(
                approval_request_id=f"apr-{secrets.token_hex(ID_BYTES)}",
                tenant_id=tenant_id,
                artifact_type=kind,
                artifact_id=prepared.artifact_id,
                artifact_data=prepared.artifact_data,
                requester_id=requester_id,
                required_approvers=approvers,
                justification=new.justification,
                min_approvals=needed,
                created_at_ms=now,
                expires_at_ms=expires,
                metadata=metadata,
            )
        )
        return await self.view(stored)

    async def adjudicate(
        self, approver: Approver, scope: str | None, adjudication: Adjudication
    ) -> DecisionResult:
        """``AdjudicateApproval``: record one decision; enact the artifact when it completes.

        Steps, repeated from (2) when another Host changed the request meanwhile:
            (1) the decision is APPROVE or REJECT and its conditions are bounded;
            (2) read the request in ``scope`` (``NOT_FOUND`` otherwise, item 184);
            (3) it is PENDING and not past its deadline (item 174: else ``INVALID_STATE``);
            (4) the approver is not the requester, and is listed directly or holds a listed
                role (item 176: else ``PERMISSION_DENIED``), and has not decided yet;
            (5) the new status: any REJECT → REJECTED (173); enough approvals → APPROVED (172);
            (6) APPROVED: enact, record, undo on failure (module docstring); else record.

        Raises:
            AespError: As the steps say; nothing is changed when one is raised.
        """
        wanted = verdict(adjudication.decision)  # (1)
        conditions = _checks.check_decision(adjudication, wanted)
        async with self._lock:
            for _ in range(MAX_ATTEMPTS):
                request = await self.find(adjudication.approval_request_id, scope)  # (2)
                decisions = tuple(await self.store.decisions(request.approval_request_id))
                now = self._clock_ms()
                await self._refuse_closed(request, now)  # (3)
                entries = self._check_approver(request, decisions, approver)  # (4)
                decision = ApprovalDecision(
                    approval_request_id=request.approval_request_id,
                    approver_id=approver.principal_id,
                    decision=wanted,
                    comments=adjudication.comments,
                    conditions={**conditions, SATISFIES_KEY: satisfies_record(entries)},
                    decided_at_ms=now,
                )
                status, after = next_state(request, decisions, decision)  # (5)
                approval = Approval(request, after.approvers, now, (*decisions, decision))
                # A per-call approval enacts nothing: the approved call is its enactment, and
                # it consumes the approval (aesp.core.call_approvals).
                enact = status is ApprovalStatus.APPROVED and not is_call_approval(request)
                enacted = await self._enact(approval) if enact else None
                try:  # (6)
                    stored = await self.store.record_decision(
                        decision, expected_version=request.version, new_status=status
                    )
                except ConcurrentChangeError:
                    await self._undo_unless_approved(enacted, request)
                    continue
                except (NotPendingError, DuplicateError, NotFoundError) as exc:
                    await self._undo_unless_approved(enacted, request)
                    raise _checks.state_error(request, exc) from None
                except BaseException:
                    await self._undo_unless_approved(enacted, request)
                    raise
                if enacted is not None:
                    await self._audit_enactment(stored, enacted, approval)
                return DecisionResult(
                    stored, status, status is ApprovalStatus.APPROVED, after.remaining, enacted
                )
        raise StateError(
            "INVALID_STATE",
            f"Approval request '{adjudication.approval_request_id}' kept changing while this "
            "decision was made (other Hosts are deciding on it); read it again and retry.",
            retry_after_ms=200,
        )

    async def _enact(self, approval: Approval) -> Enacted:
        return await self.enactors.require(approval.request.artifact_type).enact(approval)

    async def _refuse_closed(self, request: ApprovalRequest, now: int) -> None:
        if request.status is not ApprovalStatus.PENDING:
            raise _checks.state_error(
                request, NotPendingError(request.approval_request_id, request.status)
            )
        if request.expires_at_ms and now >= request.expires_at_ms:
            await self.expire(request, now)
            raise _checks.state_error(
                request, NotPendingError(request.approval_request_id, ApprovalStatus.EXPIRED)
            )

    @staticmethod
    def _check_approver(
        request: ApprovalRequest, decisions: tuple[ApprovalDecision, ...], approver: Approver
    ) -> tuple[str, ...]:
        # Separation of duties (SPEC §3.11): "The requester cannot approve their own request."
        if approver.principal_id == request.requester_id:
            raise AuthorizationError(
                "PERMISSION_DENIED",
                f"You requested approval request '{request.approval_request_id}', so you cannot "
                "decide on it (separation of duties); another approver must.",
                details={"reason": "SEPARATION_OF_DUTIES"},
            )
        entries = eligible_entries(
            request, approver.principal_id, approver.roles_in(request.tenant_id)
        )
        if not entries:
            raise AuthorizationError(
                "PERMISSION_DENIED",
                f"Approval request '{request.approval_request_id}' needs a decision from "
                f"{', '.join(request.required_approvers)}; you are not listed and hold none of "
                "those roles in its tenant.",
                details={"reason": "NOT_AN_APPROVER"},
            )
        if any(d.approver_id == approver.principal_id for d in decisions):
            raise StateError(
                "INVALID_STATE",
                f"You already decided on approval request '{request.approval_request_id}'; "
                "decisions are final.",
                details={"reason": "ALREADY_DECIDED"},
            )
        return entries

    async def _undo_unless_approved(
        self, enacted: Enacted | None, request: ApprovalRequest
    ) -> None:
        """Undo an enactment whose approval could not be recorded, unless the request is
        APPROVED anyway (then the artifact is rightly in force). If the store cannot even be
        read, undo: an artifact without a recorded approval is the worse outcome."""
        if enacted is None or not enacted.changed:
            return
        try:
            fresh = await self.store.get(request.approval_request_id)
        except Exception:  # noqa: BLE001 - fail safe, see above
            fresh = None
        if fresh is None or fresh.status is not ApprovalStatus.APPROVED:
            await enacted.rollback()

    async def _audit_enactment(
        self, request: ApprovalRequest, enacted: Enacted, approval: Approval
    ) -> None:
        meta = {
            "approval_request_id": request.approval_request_id,
            "artifact_type": request.artifact_type.value,
            "artifact_digest": request.artifact_digest,
            "approved_by": approval.approved_by[:300],
            "approved_at": str(approval.approved_at_ms),
            "changed": str(enacted.changed).lower(),
            **enacted.metadata,
        }
        await self._audit.append(
            AuditEvent(
                event_type=enacted.event_type,
                outcome="SUCCESS",
                action="governance_enact",
                principal_id=approval.approvers[-1] if approval.approvers else "",
                tenant_id=request.tenant_id,
                resource=enacted.resource,
                metadata=meta,
            ),
            durable=True,
        )

    def supports(self, kind: ArtifactType) -> bool:
        """Whether approved artifacts of ``kind`` can be enacted on this Host."""
        return self.enactors.get(kind) is not None
