"""EnterprisePolicyService: the gRPC edge of :class:`aesp.core.admin.PolicyAdmin`.

Thin (STYLE convention 8): convert, call the core operation, convert back; refusals travel
in-band as the response's ``EnterpriseError`` (item 147). ``PolicyRule.parameters`` carry the
settings of a ``REQUIRE_APPROVAL`` policy (approvers, ``min_approvals``, ``approval_ttl_ms``);
the core validates them when the policy is compiled.
"""

from __future__ import annotations

import grpc

from aesp.core.admin import (
    Evaluation,
    EvaluationRequest,
    PolicyAdmin,
    PolicyTestCase,
    PolicyView,
)
from aesp.core.admin.policy import PendingDeletion, PendingPolicy, PolicyApprovals
from aesp.core.errors import ValidationError
from aesp.core.host import Host
from aesp.core.policy import PolicyDefinition
from aesp.core.security import SecurityContext
from aesp.proto.altar.aesp.v1 import policy_pb2 as _policy_pb2
from aesp.proto.altar.aesp.v1 import policy_pb2_grpc as _policy_pb2_grpc
from aesp.server.servicers.identity import serve

__all__ = ["PolicyServicer"]


def definition(message: _policy_pb2.PolicyDefinition, present: bool) -> PolicyDefinition:
    """The core definition of a wire policy; its tenant is decided by the core, never here.

    Raises:
        ValidationError: ``MALFORMED_REQUEST`` when the policy is missing.
    """
    if not present:
        raise ValidationError(
            "MALFORMED_REQUEST", "The request has no 'policy'.", details={"field": "policy"}
        )
    rule = message.rule
    return PolicyDefinition(
        policy_id=message.policy_id,
        name=message.name,
        version=message.version,
        tenant_id="",
        applies_to=tuple(message.applies_to),
        effect=rule.effect,
        condition=rule.condition,
        actions=tuple(rule.actions),
        enabled=message.enabled,
        description=message.description,
        parameters=dict(rule.parameters),
    )


def details_message(view: PolicyView) -> _policy_pb2.PolicyDetails:
    """A stored, validated or pending policy; ``approval_request_id`` is set only while the
    change waits for governance approval (item 165)."""
    d = view.definition
    return _policy_pb2.PolicyDetails(
        policy=_policy_pb2.PolicyDefinition(
            policy_id=d.policy_id,
            name=d.name,
            description=d.description,
            version=d.version,
            rule=_policy_pb2.PolicyRule(
                condition=d.condition,
                effect=str(d.effect).upper(),
                actions=d.actions,
                parameters=dict(d.parameters),
            ),
            applies_to=d.applies_to,
            enabled=d.enabled,
            created_at=view.created_at_ms,
            updated_at=view.updated_at_ms,
            created_by=view.created_by,
        ),
        tenant_id=view.tenant_id,
        dry_run=view.dry_run,
        warnings=view.warnings,
        approval_request_id=view.approval_request_id if isinstance(view, PendingPolicy) else "",
    )


def evaluation_message(found: Evaluation) -> _policy_pb2.PolicyEvaluation:
    """A reported decision (C-39: matched, effect, decision_reason, applied policies)."""
    return _policy_pb2.PolicyEvaluation(
        matched=found.matched,
        effect=found.effect,
        decision_reason=found.reason,
        applied_policies=found.applied_policies,
    )


class PolicyServicer(_policy_pb2_grpc.EnterprisePolicyServiceServicer):
    """Serves EnterprisePolicyService from a :class:`~aesp.core.host.Host`."""

    def __init__(self, host: Host) -> None:
        # [governance] policy_changes: "approval" (AESP, item 165) submits writes to the
        # Host's governance; "direct" applies them at once (development Hosts only).
        approvals = (
            PolicyApprovals(host.governance)
            if host.config.governance.policy_changes == "approval"
            else None
        )
        self._admin = PolicyAdmin(host.control, host.manifest, approvals=approvals)

    async def CreatePolicy(
        self, request: _policy_pb2.CreatePolicyRequest, context: grpc.aio.ServicerContext
    ) -> _policy_pb2.CreatePolicyResponse:
        """Create a policy: pending approval, or with ``policy_changes = "direct"`` in force at
        once; with ``dry_run`` only validate (items 163, 165)."""

        async def respond(ctx: SecurityContext, cid: str) -> _policy_pb2.CreatePolicyResponse:
            view = await self._admin.create_policy(
                ctx,
                definition(request.policy, request.HasField("policy")),
                tenant_id=request.tenant_id,
                dry_run=request.dry_run,
                correlation_id=cid,
            )
            return _policy_pb2.CreatePolicyResponse(success_details=details_message(view))

        return await serve("CreatePolicy", self._admin, respond, _policy_pb2.CreatePolicyResponse)

    async def UpdatePolicy(
        self, request: _policy_pb2.UpdatePolicyRequest, context: grpc.aio.ServicerContext
    ) -> _policy_pb2.UpdatePolicyResponse:
        """Store a new, greater version; the old ones stay readable (item 164)."""

        async def respond(ctx: SecurityContext, cid: str) -> _policy_pb2.UpdatePolicyResponse:
            view = await self._admin.update_policy(
                ctx,
                definition(request.policy, request.HasField("policy")),
                tenant_id=request.tenant_id,
                dry_run=request.dry_run,
                justification=request.justification,
                expected_version=request.expected_version,
                correlation_id=cid,
            )
            return _policy_pb2.UpdatePolicyResponse(success_details=details_message(view))

        return await serve("UpdatePolicy", self._admin, respond, _policy_pb2.UpdatePolicyResponse)

    async def DeletePolicy(
        self, request: _policy_pb2.DeletePolicyRequest, context: grpc.aio.ServicerContext
    ) -> _policy_pb2.DeletePolicyResponse:
        """Stop evaluating a policy; its versions are kept for audit."""

        async def respond(ctx: SecurityContext, cid: str) -> _policy_pb2.DeletePolicyResponse:
            deletion = await self._admin.delete_policy(
                ctx,
                request.policy_id,
                tenant_id=request.tenant_id,
                justification=request.justification,
                correlation_id=cid,
            )
            return _policy_pb2.DeletePolicyResponse(
                success_details=_policy_pb2.PolicyDeletion(
                    policy_id=deletion.policy_id,
                    deleted_at=deletion.deleted_at_ms,
                    approval_request_id=deletion.approval_request_id
                    if isinstance(deletion, PendingDeletion)
                    else "",
                )
            )

        return await serve("DeletePolicy", self._admin, respond, _policy_pb2.DeletePolicyResponse)

    async def GetPolicy(
        self, request: _policy_pb2.GetPolicyRequest, context: grpc.aio.ServicerContext
    ) -> _policy_pb2.GetPolicyResponse:
        """The latest or a given version."""

        async def respond(ctx: SecurityContext, cid: str) -> _policy_pb2.GetPolicyResponse:
            view = await self._admin.get_policy(
                ctx,
                request.policy_id,
                tenant_id=request.tenant_id,
                version=request.version,
                correlation_id=cid,
            )
            return _policy_pb2.GetPolicyResponse(success_details=details_message(view))

        return await serve("GetPolicy", self._admin, respond, _policy_pb2.GetPolicyResponse)

    async def ListPolicies(
        self, request: _policy_pb2.ListPoliciesRequest, context: grpc.aio.ServicerContext
    ) -> _policy_pb2.ListPoliciesResponse:
        """A page of the tenant's and the platform's policies."""

        async def respond(ctx: SecurityContext, cid: str) -> _policy_pb2.ListPoliciesResponse:
            page = await self._admin.list_policies(
                ctx,
                tenant_id=request.tenant_id,
                resource=request.resource,
                include_disabled=request.include_disabled,
                limit=request.limit,
                cursor=request.cursor,
                correlation_id=cid,
            )
            items = [details_message(v) for v in page.items]
            return _policy_pb2.ListPoliciesResponse(
                success_details=_policy_pb2.PolicyList(items=items, next_cursor=page.next_cursor)
            )

        return await serve("ListPolicies", self._admin, respond, _policy_pb2.ListPoliciesResponse)

    async def EvaluatePolicy(
        self, request: _policy_pb2.EvaluatePolicyRequest, context: grpc.aio.ServicerContext
    ) -> _policy_pb2.EvaluatePolicyResponse:
        """Decide without enforcing: one stored policy, or every applicable one."""

        async def respond(ctx: SecurityContext, cid: str) -> _policy_pb2.EvaluatePolicyResponse:
            found = await self._admin.evaluate_policy(
                ctx,
                EvaluationRequest(
                    policy_id=request.policy_id,
                    principal_id=request.principal_id,
                    resource=request.resource,
                    action=request.action,
                    tenant_id=request.tenant_id,
                    context=dict(request.context),
                ),
                correlation_id=cid,
            )
            return _policy_pb2.EvaluatePolicyResponse(success_details=evaluation_message(found))

        return await serve(
            "EvaluatePolicy", self._admin, respond, _policy_pb2.EvaluatePolicyResponse
        )

    async def TestPolicy(
        self, request: _policy_pb2.TestPolicyRequest, context: grpc.aio.ServicerContext
    ) -> _policy_pb2.TestPolicyResponse:
        """Simulate an unsaved policy against test cases and a replay window (item 163)."""

        async def respond(ctx: SecurityContext, cid: str) -> _policy_pb2.TestPolicyResponse:
            cases = [
                PolicyTestCase(
                    name=c.name,
                    resource=c.resource,
                    principal_id=c.principal_id,
                    action=c.action,
                    context=dict(c.context),
                    expected_effect=c.expected_effect,
                )
                for c in request.test_cases
            ]
            report = await self._admin.test_policy(
                ctx,
                definition(request.policy, request.HasField("policy")),
                cases,
                tenant_id=request.tenant_id,
                replay_start_ms=request.replay_start_time,
                replay_end_ms=request.replay_end_time,
                correlation_id=cid,
            )
            results = [
                _policy_pb2.PolicyTestResult(
                    name=r.name, evaluation=evaluation_message(r.evaluation), passed=r.passed
                )
                for r in report.results
            ]
            return _policy_pb2.TestPolicyResponse(
                success_details=_policy_pb2.PolicyTestReport(
                    results=results,
                    passed=report.passed,
                    failed=report.failed,
                    replayed_events=report.replayed_events,
                    replayed_denials=report.replayed_denials,
                )
            )

        return await serve("TestPolicy", self._admin, respond, _policy_pb2.TestPolicyResponse)

    async def ValidatePolicy(
        self, request: _policy_pb2.ValidatePolicyRequest, context: grpc.aio.ServicerContext
    ) -> _policy_pb2.ValidatePolicyResponse:
        """Compile without storing; an invalid policy is ``valid = false`` with its errors."""

        async def respond(ctx: SecurityContext, cid: str) -> _policy_pb2.ValidatePolicyResponse:
            result = await self._admin.validate_policy(
                ctx,
                definition(request.policy, request.HasField("policy")),
                tenant_id=request.tenant_id,
                correlation_id=cid,
            )
            return _policy_pb2.ValidatePolicyResponse(
                success_details=_policy_pb2.PolicyValidation(
                    valid=result.valid, errors=result.errors, warnings=result.warnings
                )
            )

        return await serve(
            "ValidatePolicy", self._admin, respond, _policy_pb2.ValidatePolicyResponse
        )
