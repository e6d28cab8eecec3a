"""Simulation operations of ``EnterprisePolicyService``: evaluate, test, validate.

None of them changes anything or is enforced; all are audited ``ADMIN_QUERY``. How a simulated
request is built is in :mod:`aesp.core.admin._simulate`; the decisions they follow are listed
in :mod:`aesp.core.admin.policy`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from aesp.core.admin._guard import ADMIN_QUERY, ALL_TENANTS, Done
from aesp.core.admin._policy_base import PolicyBase
from aesp.core.admin._policy_support import matches_resource, prepare, stored_tenant
from aesp.core.admin._replay import replay_activations
from aesp.core.admin._simulate import activation, contract_for, evaluation, subject
from aesp.core.admin.policy_types import (
    Evaluation,
    EvaluationRequest,
    PolicyTestCase,
    PolicyTestReport,
    PolicyTestResult,
    PolicyValidation,
)
from aesp.core.errors import AespError, ValidationError
from aesp.core.policy import PLATFORM, Activation, PolicyDefinition, PolicySet, Verdict
from aesp.core.policy import test_policy as simulate
from aesp.core.policy.model import PolicyOutcome
from aesp.core.security import SecurityContext

__all__ = ["MAX_TEST_CASES", "PolicySimulations"]

MAX_TEST_CASES: Final = 100  # bounds one TestPolicy request's work


def _covers(definition: PolicyDefinition, tenant: str, tool: str) -> bool:
    return definition.tenant_id in (PLATFORM, tenant) and matches_resource(definition, tool)


class PolicySimulations(PolicyBase):
    """``EvaluatePolicy``, ``TestPolicy``, ``ValidatePolicy``."""

    async def _activation(
        self,
        ctx: SecurityContext,
        tenant: str,
        *,
        principal_id: str,
        resource: str,
        action: str,
        context: dict[str, str],
    ) -> Activation:
        who = await subject(self._control, ctx, tenant, principal_id)
        contract = contract_for(self._manifest, resource)
        record = await self._control.tenants.get(tenant)
        return activation(
            who,
            contract,
            action=action,
            context=context,
            organization=dict(record.metadata) if record is not None else {},
            now_ms=self._clock_ms(),
        )

    def _enforced(self, tenant: str, act: Activation) -> PolicyOutcome:
        """What the Host's policy set decides now (as :meth:`ControlPlane.evaluate_policies`:
        a stored policy that no longer compiles fails closed)."""
        for definition, problem in self._control.broken_policies:
            if _covers(definition, tenant, act.tool):
                return PolicyOutcome(
                    Verdict.DENY,
                    "POLICY_EVALUATION_FAILED",
                    f"Policy '{definition.policy_id}' no longer compiles ({problem}); calls of "
                    f"'{act.tool}' fail closed.",
                    denied_by=definition.policy_id,
                )
        policy_set: PolicySet = self._control.policy.current
        return policy_set.evaluate(act)

    async def evaluate_policy(
        self, ctx: SecurityContext, request: EvaluationRequest, *, correlation_id: str = ""
    ) -> Evaluation:
        """``EvaluatePolicy``: decide, never enforce. With a ``policy_id`` that policy alone
        (even disabled); without, every enabled policy that applies, deny-overrides."""

        async def act(target: str) -> Done[Evaluation]:
            tenant = ctx.tenant_id if target == ALL_TENANTS else target
            built = await self._activation(
                ctx,
                tenant,
                principal_id=request.principal_id,
                resource=request.resource,
                action=request.action,
                context=dict(request.context),
            )
            if not request.policy_id:
                return Done(evaluation(self._enforced(tenant, built)), f"tool:{built.tool}")
            stored = await self._find(target, request.policy_id)
            try:
                outcome = simulate(
                    stored.definition,
                    [built],
                    contract_schemas=self._control.contract_schemas(),
                )[0]
            except AespError as exc:  # a stored policy the contracts outgrew: fail closed
                outcome = PolicyOutcome(
                    Verdict.DENY, "POLICY_EVALUATION_FAILED", exc.message, request.policy_id
                )
            return Done(evaluation(outcome), f"policy:{request.policy_id}")

        return await self._guard.run(
            ctx,
            "EvaluatePolicy",
            ADMIN_QUERY,
            tenant_id=request.tenant_id,
            correlation_id=correlation_id,
            action=act,
        )

    async def test_policy(
        self,
        ctx: SecurityContext,
        definition: PolicyDefinition,
        cases: Sequence[PolicyTestCase],
        *,
        tenant_id: str = "",
        replay_start_ms: int = 0,
        replay_end_ms: int = 0,
        correlation_id: str = "",
    ) -> PolicyTestReport:
        """``TestPolicy`` (item 163): the unsaved candidate alone against each case and, with a
        replay window, against this tenant's past calls (:mod:`aesp.core.admin._replay`)."""

        async def act(target: str) -> Done[PolicyTestReport]:
            if len(cases) > MAX_TEST_CASES:
                raise ValidationError(
                    "MALFORMED_REQUEST",
                    f"At most {MAX_TEST_CASES} test cases per request.",
                    details={"field": "test_cases"},
                )
            candidate = prepare(definition, stored_tenant(target), creating=True)
            compiled = self._compile(candidate)
            tenant = ctx.tenant_id if target == ALL_TENANTS else target
            built = [await self._case(ctx, tenant, case) for case in cases]
            schemas = self._control.contract_schemas()
            results = []
            outcomes = simulate(candidate, built, contract_schemas=schemas) if built else []
            for case, outcome in zip(cases, outcomes, strict=True):
                found = evaluation(outcome)
                expected = case.expected_effect.upper()
                results.append(PolicyTestResult(case.name, found, expected in ("", found.effect)))
            replayed: list[Activation] = []
            if replay_start_ms or replay_end_ms:
                scope = None if target == ALL_TENANTS else target
                replayed = await replay_activations(
                    self._control,
                    self._manifest,
                    compiled,
                    tenant=scope,
                    start_ms=replay_start_ms,
                    end_ms=replay_end_ms,
                )
            denials = (
                sum(not o.allowed for o in simulate(candidate, replayed, contract_schemas=schemas))
                if replayed
                else 0
            )
            passed = sum(1 for r in results if r.passed)
            report = PolicyTestReport(
                tuple(results), passed, len(results) - passed, len(replayed), denials
            )
            meta = {"cases": str(len(results)), "passed": str(passed)}
            return Done(report, f"policy:{candidate.policy_id}@{candidate.version}", meta)

        return await self._guard.run(
            ctx,
            "TestPolicy",
            ADMIN_QUERY,
            tenant_id=tenant_id,
            correlation_id=correlation_id,
            action=act,
        )

    async def _case(self, ctx: SecurityContext, tenant: str, case: PolicyTestCase) -> Activation:
        """One case's activation; a refusal names the case."""
        try:
            return await self._activation(
                ctx,
                tenant,
                principal_id=case.principal_id,
                resource=case.resource,
                action=case.action,
                context=dict(case.context),
            )
        except AespError as exc:
            raise type(exc)(
                exc.code,
                f"Test case '{case.name[:64]}': {exc.message}",
                details={**exc.details, "test_case": case.name[:64]},
            ) from None

    async def validate_policy(
        self,
        ctx: SecurityContext,
        definition: PolicyDefinition,
        *,
        tenant_id: str = "",
        correlation_id: str = "",
    ) -> PolicyValidation:
        """``ValidatePolicy``: compile without storing (SPEC §3.12 lifecycle step 1). An
        invalid policy is a successful validation with ``valid=False``."""

        async def act(target: str) -> Done[PolicyValidation]:
            try:
                candidate = prepare(definition, stored_tenant(target), creating=True)
                compiled = self._compile(candidate)
            except ValidationError as exc:
                stage = exc.details.get("stage", "definition")
                result = PolicyValidation(False, errors=(exc.message,))
                return Done(result, metadata={"valid": "false", "stage": stage})
            result = PolicyValidation(True, warnings=compiled.warnings)
            return Done(result, f"policy:{candidate.policy_id}", {"valid": "true"})

        return await self._guard.run(
            ctx,
            "ValidatePolicy",
            ADMIN_QUERY,
            tenant_id=tenant_id,
            correlation_id=correlation_id,
            action=act,
        )
