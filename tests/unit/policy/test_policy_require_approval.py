"""The REQUIRE_APPROVAL effect: validated at creation, collected by the engine (DENY still
overrides), ignored when listing (docs/protocol-decisions.md 102-104)."""

from __future__ import annotations

import dataclasses

import pytest
from _policy_samples import SCHEMAS, activation, policy

from aesp.core.errors import ValidationError
from aesp.core.policy import (
    ApprovalRequirement,
    Effect,
    PolicyDefinition,
    PolicySet,
    Verdict,
    compile_policy,
)
from aesp.core.policy.model import _ROLE_PREFIX
from aesp.core.ports.governance import ROLE_PREFIX

BIG = {"amount": 5000, "currency": "EUR"}
SMALL = {"amount": 10, "currency": "EUR"}


def approval(
    condition: str = "request.args.amount > 1000",
    *,
    policy_id: str = "big",
    tenant_id: str = "acme",
    version: str = "1.0.0",
    **parameters: str,
) -> PolicyDefinition:
    """A REQUIRE_APPROVAL policy; ``approvers`` defaults to one principal and one role."""
    params = {"approvers": "p|bob@acme, role:finance", **parameters}
    base = policy(
        condition,
        policy_id=policy_id,
        effect="require_approval",
        tenant_id=tenant_id,
        version=version,
    )
    return dataclasses.replace(base, parameters=params)


def policy_set(*definitions: PolicyDefinition, **options: object) -> PolicySet:
    return PolicySet.compile(definitions, contract_schemas=SCHEMAS, version=3, **options)


def test_the_role_prefix_matches_the_governance_port() -> None:
    assert _ROLE_PREFIX == ROLE_PREFIX


def test_a_valid_rule_is_compiled_with_its_source() -> None:
    compiled = compile_policy(
        approval(min_approvals="1", approval_ttl_ms="60000"), contract_schemas=SCHEMAS
    )
    assert compiled.effect is Effect.REQUIRE_APPROVAL
    assert compiled.approval == ApprovalRequirement(
        ("p|bob@acme", "role:finance"), 1, 60_000, "big", "acme", "1.0.0"
    )
    assert compiled.approval.source == "policy:acme/big@1.0.0"
    defaults = compile_policy(approval(), contract_schemas=SCHEMAS).approval
    assert defaults is not None and (defaults.min_approvals, defaults.ttl_ms) == (0, 3_600_000)


def test_other_effects_carry_no_rule() -> None:
    assert compile_policy(policy("true"), contract_schemas=SCHEMAS).approval is None


@pytest.mark.parametrize(
    ("parameters", "why"),
    [
        ({"approvers": ""}, "names no approvers"),
        ({"approvers": " , "}, "names no approvers"),
        ({"approvers": "role:"}, "names no approvers"),
        ({"min_approvals": "3"}, "min_approvals is not between 0 and 2"),
        ({"min_approvals": "-1"}, "min_approvals is not between 0 and 2"),
        ({"min_approvals": "one"}, "not an integer"),
        ({"approval_ttl_ms": "999"}, "approval_ttl_ms is not between"),
        ({"approval_ttl_ms": str(8 * 24 * 3_600_000)}, "approval_ttl_ms is not between"),
    ],
)
def test_an_invalid_rule_is_refused_at_creation(parameters: dict[str, str], why: str) -> None:
    with pytest.raises(ValidationError, match=why) as info:
        compile_policy(approval(**parameters), contract_schemas=SCHEMAS)
    assert info.value.code == "MALFORMED_REQUEST"
    assert info.value.details["field"] == "parameters"
    assert info.value.details["stage"] == "definition"


def test_no_approvers_parameter_at_all_is_refused() -> None:
    bare = dataclasses.replace(approval(), parameters={})
    with pytest.raises(ValidationError, match="REQUIRE_APPROVAL needs parameters approvers"):
        compile_policy(bare, contract_schemas=SCHEMAS)


def test_a_true_condition_reports_the_rule_and_allows() -> None:
    ps = policy_set(approval())
    held = ps.evaluate(activation(args=BIG))
    assert held.allowed and held.matched
    assert [a.policy_id for a in held.approvals] == ["big"]
    assert held.approvals[0].approvers == ("p|bob@acme", "role:finance")
    assert "1 require approval" in held.reason
    small = ps.evaluate(activation(args=SMALL))
    assert small.allowed and small.approvals == () and not small.matched
    assert small.evaluated == ("big",)


def test_deny_overrides_require_approval() -> None:
    ps = policy_set(approval(), policy("request.args.amount > 4000", policy_id="cap"))
    outcome = ps.evaluate(activation(args=BIG))
    assert (outcome.decision, outcome.denied_by, outcome.approvals) == (Verdict.DENY, "cap", ())


def test_every_true_rule_is_reported_in_precedence_order() -> None:
    ps = policy_set(
        approval(policy_id="platform-big", tenant_id=""),
        approval(policy_id="tenant-big"),
        approval("request.args.amount > 100000", policy_id="huge"),
    )
    outcome = ps.evaluate(activation(args=BIG))
    assert [a.policy_id for a in outcome.approvals] == ["tenant-big", "platform-big"]
    assert [a.policy_tenant_id for a in outcome.approvals] == ["acme", ""]


def test_require_approval_is_not_an_allow_under_require_allow() -> None:
    outcome = policy_set(approval("true"), require_allow=True).evaluate(activation(args=BIG))
    assert outcome.decision is Verdict.DENY and outcome.code == "POLICY_VIOLATION"


def test_listing_ignores_require_approval_even_without_args() -> None:
    # "true" reads no arguments; a tool needing approval must still be listed.
    ps = policy_set(approval("true"))
    listed = ps.evaluate(activation(args={}), without_args=True)
    assert listed.allowed and listed.approvals == () and listed.evaluated == ()
    assert [a.policy_id for a in ps.evaluate(activation(args=SMALL)).approvals] == ["big"]


def test_another_tenants_rule_does_not_apply() -> None:
    ps = policy_set(approval(tenant_id="globex"))
    assert ps.evaluate(activation(args=BIG)).approvals == ()
