"""The core types of the Policy admin operations (SPEC §3.7 (2), §3.12, C-39).

The policy itself is the engine's :class:`~aesp.core.policy.PolicyDefinition`; these types are
what the operations add around it (store metadata, simulation requests and results), so the
operations stay testable without gRPC (STYLE conventions 3 and 8).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from aesp.core.policy import PolicyDefinition

__all__ = [
    "Evaluation",
    "EvaluationRequest",
    "PolicyDeletion",
    "PolicyTestCase",
    "PolicyTestReport",
    "PolicyTestResult",
    "PolicyValidation",
    "PolicyView",
]


@dataclass(frozen=True, slots=True)
class PolicyView:
    """A stored (or, on a dry run, validated) policy version (``PolicyDetails`` of C-39).

    Attributes:
        definition: The policy; ``definition.tenant_id`` is ``""`` for a platform policy.
        created_at_ms: When its first version was stored (0 on a dry run).
        updated_at_ms: When this version was stored (0 on a dry run).
        created_by: Principal that stored its first version.
        dry_run: Nothing was stored.
        warnings: Non-fatal findings of the compiler.
    """

    definition: PolicyDefinition
    created_at_ms: int = 0
    updated_at_ms: int = 0
    created_by: str = ""
    dry_run: bool = False
    warnings: tuple[str, ...] = ()

    @property
    def tenant_id(self) -> str:
        """Owning tenant; ``""`` for a platform policy."""
        return self.definition.tenant_id


@dataclass(frozen=True, slots=True)
class PolicyDeletion:
    """Outcome of ``DeletePolicy``: the policy stopped being evaluated at ``deleted_at_ms``."""

    policy_id: str
    deleted_at_ms: int


@dataclass(frozen=True, slots=True)
class EvaluationRequest:
    """An ``EvaluatePolicyRequest`` (SPEC §3.7 (2), C-39).

    Attributes:
        policy_id: A stored policy; ``""`` = every enabled policy that applies, deny-overrides.
        principal_id: The principal the request acts for; ``""`` = the caller.
        resource: The tool, ``tool:<name>`` or ``<name>``.
        action: The action; ``""`` = ``invoke``.
        tenant_id: ``""`` = the caller's tenant; ``"*"`` = the platform scope.
        context: Extra activation values (:data:`aesp.core.admin._simulate.CONTEXT_KEYS`).
    """

    policy_id: str = ""
    principal_id: str = ""
    resource: str = ""
    action: str = ""
    tenant_id: str = ""
    context: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Evaluation:
    """A decision that is reported, never enforced (``PolicyEvaluation`` of C-39).

    Attributes:
        matched: Some evaluated condition was true.
        effect: ``ALLOW``, ``DENY`` or ``AUDIT`` (an AUDIT policy matched and nothing denied).
        reason: A sentence a person can act on.
        applied_policies: Ids of the policies evaluated, in order.
        code: ``POLICY_VIOLATION`` or ``POLICY_EVALUATION_FAILED`` on a DENY, else ``""``.
    """

    matched: bool
    effect: str
    reason: str
    applied_policies: tuple[str, ...] = ()
    code: str = ""


@dataclass(frozen=True, slots=True)
class PolicyTestCase:
    """One synthetic request for ``TestPolicy`` (C-39); fields as :class:`EvaluationRequest`.

    Attributes:
        name: Reported with the result.
        principal_id: ``""`` = the caller.
        resource: The tool.
        action: ``""`` = ``invoke``.
        context: Extra activation values.
        expected_effect: ``ALLOW``, ``DENY`` or ``AUDIT``; ``""`` = report only.
    """

    name: str
    resource: str
    principal_id: str = ""
    action: str = ""
    context: Mapping[str, str] = field(default_factory=dict)
    expected_effect: str = ""


@dataclass(frozen=True, slots=True)
class PolicyTestResult:
    """The candidate's decision for one test case; ``passed`` is False only when an expected
    effect was given and differs."""

    name: str
    evaluation: Evaluation
    passed: bool


@dataclass(frozen=True, slots=True)
class PolicyTestReport:
    """Results of ``TestPolicy``.

    Attributes:
        results: One per test case, in order.
        passed: Test cases that passed.
        failed: Test cases that failed.
        replayed_events: Past tool calls the candidate was evaluated against.
        replayed_denials: Of those, the ones it would have denied.
    """

    results: tuple[PolicyTestResult, ...]
    passed: int
    failed: int
    replayed_events: int = 0
    replayed_denials: int = 0


@dataclass(frozen=True, slots=True)
class PolicyValidation:
    """Result of ``ValidatePolicy``: an invalid policy is a successful validation with
    ``valid=False`` and the compiler's sentence in ``errors``."""

    valid: bool
    errors: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
