"""PolicySet.evaluate: combining, fail closed, tenancy and the index (items 160, 161, 163, 186)."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator

import pytest
from _policy_samples import SCHEMAS, activation, policy
from hypothesis import given, settings
from hypothesis import strategies as st

from aesp.core.errors import AuthorizationError
from aesp.core.policy import (
    Activation,
    ConflictStrategy,
    PolicyDefinition,
    PolicyOutcome,
    PolicySet,
    Verdict,
    compile_policy,
    test_policy,
)


def policy_set(*definitions: PolicyDefinition, version: int = 1, **options: object) -> PolicySet:
    return PolicySet.compile(definitions, contract_schemas=SCHEMAS, version=version, **options)


def decide(ps: PolicySet, act: Activation | None = None) -> PolicyOutcome:
    return ps.evaluate(act or activation())


# ---------------------------------------------------------------- combining (SPEC §3.12 [REC])


def test_item_160_a_true_deny_blocks_with_policy_violation() -> None:
    ps = policy_set(policy("request.args.amount > 5", policy_id="big"), version=4)
    outcome = decide(ps, activation(args={"amount": 50, "currency": "EUR"}))
    assert (outcome.decision, outcome.code, outcome.denied_by, outcome.set_version) == (
        Verdict.DENY,
        "POLICY_VIOLATION",
        "big",
        4,
    )
    assert "name of big" in outcome.reason
    with pytest.raises(AuthorizationError, match="POLICY_VIOLATION") as info:
        outcome.raise_if_denied()
    assert info.value.details == {"policy_id": "big", "policy_set_version": "4"}
    assert decide(ps, activation(args={"amount": 1, "currency": "EUR"})).allowed


@pytest.mark.parametrize("order", list(itertools.permutations(["allow", "deny", "audit"])))
def test_deny_overrides_allow_in_any_order(order: tuple[str, ...]) -> None:
    defs = {
        "allow": policy("true", policy_id="allow", effect="ALLOW"),
        "deny": policy("request.user.mfa_verified == false", policy_id="deny"),
        "audit": policy("true", policy_id="audit", effect="AUDIT"),
    }
    outcome = decide(policy_set(*(defs[k] for k in order)), activation(mfa=False))
    assert (outcome.decision, outcome.denied_by) == (Verdict.DENY, "deny")
    assert outcome.evaluated == ("deny",)  # DENY policies run first and short-circuit


def test_item_161_audit_policies_are_collected_and_do_not_block() -> None:
    ps = policy_set(
        policy("'PII' in request.resource.compliance_tags", policy_id="pii", effect="AUDIT"),
        policy("request.resource.risk == 'HIGH'", policy_id="risky", effect="AUDIT"),
        policy("request.action == 'invoke'", policy_id="explicit", effect="ALLOW"),
        policy("request.args.amount > 1000", policy_id="limit"),
    )
    outcome = decide(ps)
    assert outcome.allowed and outcome.code == ""
    assert outcome.audits == ("pii",)
    assert outcome.allowed_by == ("explicit",)
    assert set(outcome.evaluated) == {"pii", "risky", "explicit", "limit"}
    assert outcome.matched
    outcome.raise_if_denied()


def test_no_applicable_policy_allows_in_deny_overrides_mode() -> None:
    outcome = decide(policy_set(policy("true", applies_to=("search",))))
    assert (outcome.decision, outcome.evaluated, outcome.reason) == (
        Verdict.ALLOW,
        (),
        "No policy applies to this call.",
    )
    assert not outcome.matched


@pytest.mark.parametrize(
    ("definitions", "allowed"),
    [
        ((), False),  # an empty selection denies under require_allow (STYLE 11)
        ((policy("false", effect="ALLOW"),), False),
        ((policy("false", effect="ALLOW"), policy("true", policy_id="p2", effect="ALLOW")), True),
        ((policy("true", effect="ALLOW"), policy("true", policy_id="d")), False),
    ],
)
def test_require_allow_needs_a_true_allow_policy(
    definitions: tuple[PolicyDefinition, ...], allowed: bool
) -> None:
    outcome = decide(policy_set(*definitions, require_allow=True))
    assert outcome.allowed is allowed
    if not allowed:
        assert outcome.code == "POLICY_VIOLATION"


# ---------------------------------------------------------------- fail closed (item 161)


@pytest.mark.parametrize(
    ("condition", "act", "fragment"),
    [
        # A missing optional argument: the flat variable is unbound.
        ("request.args.note == 'x'", activation(), "request.args.note"),
        # An argument of the wrong type at run time (arguments are not schema-checked yet).
        (
            "request.args.amount > 5",
            activation(args={"amount": "lots", "currency": "EUR"}),
            "TypeError",
        ),
        ("request.args.amount / 0 > 1", activation(), "division by zero"),
        ("request.args.amount % 0 > 1", activation(), "modulo by zero"),
        ("request.args.amount + 9223372036854775807 > 1", activation(), "OverflowError"),
        # A tenant without the organization data a policy reads.
        ("'x' in organization.approved_regions", activation(), "organization.approved_regions"),
        # A condition that does not yield a bool.
        (
            "request.args.extra.level",
            activation(args={"amount": 1, "currency": "EUR", "extra": {"level": 3}}),
            "not a bool",
        ),
        (
            "request.args.tags[5] == 'x'",
            activation(args={"amount": 1, "currency": "EUR", "tags": ["a"]}),
            "IndexError",
        ),
    ],
)
@pytest.mark.parametrize("effect", ["DENY", "AUDIT", "ALLOW"])
def test_item_161_evaluation_errors_deny_naming_the_policy(
    condition: str, act: Activation, fragment: str, effect: str
) -> None:
    outcome = decide(policy_set(policy(condition, policy_id="fragile", effect=effect)), act)
    assert (outcome.decision, outcome.code, outcome.denied_by) == (
        Verdict.DENY,
        "POLICY_EVALUATION_FAILED",
        "fragile",
    )
    assert "Policy 'fragile' could not be evaluated" in outcome.reason
    assert fragment in outcome.reason
    assert "aesp__" not in outcome.reason  # flat variable names are mapped back
    with pytest.raises(AuthorizationError, match="POLICY_EVALUATION_FAILED"):
        outcome.raise_if_denied()


def test_an_error_stops_evaluation_even_after_audits_matched() -> None:
    ps = policy_set(
        policy("true", policy_id="a1", effect="AUDIT"),
        policy("request.args.note == 'x'", policy_id="a2", effect="AUDIT"),
    )
    outcome = decide(ps)
    assert (outcome.code, outcome.denied_by) == ("POLICY_EVALUATION_FAILED", "a2")


def test_timeout_budget_is_measured_after_each_policy() -> None:
    """C-33: 100 ms. The clock is faked: each reading advances 60 ms."""
    ticks: Iterator[float] = itertools.count(0.0, 0.060)
    ps = policy_set(
        policy("false", policy_id="a"),
        policy("false", policy_id="b"),
        policy("false", policy_id="c"),
        clock=lambda: next(ticks),
    )
    outcome = decide(ps)
    assert (outcome.code, outcome.denied_by) == ("POLICY_EVALUATION_FAILED", "b")
    assert "exceeded the 100 ms budget" in outcome.reason
    assert outcome.evaluated == ("a", "b")


def test_oversized_activations_are_refused_before_cel_runs() -> None:
    ps = policy_set(policy("size(request.args.tags) > 100"), max_activation_elements=50)
    big = activation(args={"amount": 1, "currency": "EUR", "tags": ["t"] * 60})
    outcome = decide(ps, big)
    assert (outcome.code, outcome.evaluated) == ("POLICY_EVALUATION_FAILED", ())
    assert "too many list or map elements (limit 50)" in outcome.reason
    small = activation(args={"amount": 1, "currency": "EUR", "tags": ["t"] * 10})
    assert decide(ps, small).allowed


def test_unconvertible_activation_values_fail_closed() -> None:
    ps = policy_set(policy("request.args.extra.x == 1"))
    weird = activation(args={"amount": 1, "currency": "EUR", "extra": {"x": object()}})
    outcome = decide(ps, weird)
    assert outcome.code == "POLICY_EVALUATION_FAILED"
    assert "cannot be converted" in outcome.reason


# ---------------------------------------------------------------- tenancy and the index (item 186)


def test_item_186_same_role_allowed_in_tenant_a_denied_in_tenant_b() -> None:
    ps = policy_set(
        policy(
            "'contractor' in request.user.roles", policy_id="no-contractors", tenant_id="globex"
        ),
    )
    contractor = {"roles": ("contractor",)}
    assert decide(ps, activation(tenant="acme", **contractor)).allowed
    denied = decide(ps, activation(tenant="globex", **contractor))
    assert (denied.code, denied.denied_by) == ("POLICY_VIOLATION", "no-contractors")


def test_platform_policies_apply_to_every_tenant() -> None:
    ps = policy_set(
        policy(
            "request.user.mfa_verified == false", policy_id="mfa", tenant_id="", applies_to=("*",)
        )
    )
    for tenant in ("acme", "globex", "initech"):
        for tool in ("transfer", "search", "weather"):
            outcome = decide(ps, activation(tenant=tenant, tool=tool, mfa=False))
            assert outcome.denied_by == "mfa", (tenant, tool)


def test_the_index_selects_only_applicable_policies_in_precedence_order() -> None:
    defs = [
        policy("false", policy_id="plat-any", tenant_id="", applies_to=("*",)),
        policy("false", policy_id="plat-transfer", tenant_id="", applies_to=("transfer",)),
        policy("false", policy_id="plat-search", tenant_id="", applies_to=("search",)),
        policy("false", policy_id="acme-any", applies_to=("*",)),
        policy("false", policy_id="acme-transfer-old", applies_to=("transfer",), version="1.0.0"),
        policy("false", policy_id="acme-transfer-new", applies_to=("transfer",), version="2.1.0"),
        policy(
            "false", policy_id="acme-transfer-stream", applies_to=("transfer",), actions=("stream",)
        ),
        policy("false", policy_id="acme-disabled", enabled=False),
        policy("false", policy_id="globex-any", tenant_id="globex", applies_to=("*",)),
        policy("false", policy_id="globex-transfer", tenant_id="globex"),
    ]
    ps = policy_set(*defs)
    assert decide(ps).evaluated == (
        "acme-transfer-new",  # tenant + tool, newest first
        "acme-transfer-old",
        "acme-any",  # tenant + '*'
        "plat-transfer",  # platform + tool
        "plat-any",  # platform + '*'
    )
    stream = decide(ps, activation(action="stream")).evaluated
    assert "acme-transfer-stream" in stream
    assert [p.policy_id for p in ps.applicable("initech", "search", "invoke")] == [
        "plat-search",
        "plat-any",
    ]
    assert len(ps.policies) == 9  # the disabled one is not in the set


def test_conflicting_versions_fail_fast_or_use_latest() -> None:
    old = policy("request.args.amount > 10", version="1.2.0")
    new = policy("request.args.amount > 1000", version="1.10.0")
    with pytest.raises(ValueError, match="enabled in versions 1.2.0 and 1.10.0"):
        policy_set(old, new)
    latest = policy_set(old, new, conflicts=ConflictStrategy.USE_LATEST)
    assert [p.definition.version for p in latest.policies] == ["1.10.0"]
    assert decide(latest, activation(args={"amount": 50, "currency": "EUR"})).allowed
    # The same id in two tenants is two policies.
    assert len(policy_set(old, policy("true", tenant_id="globex")).policies) == 2


# ---------------------------------------------------------------- activation semantics


def test_number_and_integer_arguments_reach_cel_as_the_schema_says() -> None:
    ps = policy_set(
        policy("request.args.price * 2.0 > 3.0", policy_id="price"),  # JSON 2 is an int in Python
        policy("request.args.amount + 1 == 4", policy_id="amount", effect="AUDIT"),  # JSON 3.0
    )
    outcome = decide(ps, activation(args={"amount": 3.0, "currency": "EUR", "price": 2}))
    assert (outcome.denied_by, outcome.code) == ("price", "POLICY_VIOLATION")
    outcome = decide(ps, activation(args={"amount": 3.0, "currency": "EUR", "price": 1}))
    assert outcome.audits == ("amount",)


def test_c33_activation_values() -> None:
    ps = policy_set(
        policy(
            "request.time.getHours() == 22 && request.time.getFullYear() == 2023",
            policy_id="t",
            effect="AUDIT",
        ),
        policy(
            "request.session.expires_at - request.time == duration('600s')",
            policy_id="s",
            effect="AUDIT",
        ),
        policy("request.resource.classification == 'CONFIDENTIAL'", policy_id="c", effect="AUDIT"),
        policy("request.user.data_classification == 'INTERNAL'", policy_id="d", effect="AUDIT"),
        policy(
            "request.resource.type == 'tool' && request.resource.name == 'transfer'",
            policy_id="r",
            effect="AUDIT",
        ),
        policy(
            "request.tenant.cost_center in organization.approved_cost_centers",
            policy_id="o",
            effect="AUDIT",
        ),
        policy("request.resource.estimated_cost + 0.5 == 2.0", policy_id="e", effect="AUDIT"),
    )
    assert set(decide(ps).audits) == {"t", "s", "c", "d", "r", "o", "e"}


def test_has_guards_optional_arguments() -> None:
    ps = policy_set(policy("has(request.args.note) && request.args.note.contains('refund')"))
    assert decide(ps).allowed
    refund = activation(args={"amount": 1, "currency": "EUR", "note": "refund please"})
    assert decide(ps, refund).code == "POLICY_VIOLATION"


def test_activation_needs_tenant_tool_and_action() -> None:
    with pytest.raises(ValueError, match="needs request.tenant.id, resource.name and action"):
        Activation(request={"tenant": {"id": "acme"}, "action": "invoke"})


# ---------------------------------------------------------------- TestPolicy (item 163)


def test_item_163_test_policy_simulates_without_a_set() -> None:
    candidate = policy("request.args.amount > 100", policy_id="cap", enabled=False)
    outcomes = test_policy(
        candidate,
        [activation(args={"amount": 500, "currency": "EUR"}), activation()],
        contract_schemas=SCHEMAS,
    )
    assert [o.code for o in outcomes] == ["POLICY_VIOLATION", ""]
    assert outcomes[0].denied_by == "cap"


def test_test_policy_replaces_its_namesake_in_a_base_set() -> None:
    base = policy_set(
        policy("request.args.amount > 1", policy_id="cap"), policy("false", policy_id="other")
    )
    relaxed = policy("request.args.amount > 1000", policy_id="cap")
    [outcome] = test_policy(relaxed, [activation()], contract_schemas=SCHEMAS, base=base)
    assert outcome.allowed and set(outcome.evaluated) == {"cap", "other"}
    assert decide(base).code == "POLICY_VIOLATION"  # the base set itself is unchanged


def test_test_policy_rejects_invalid_candidates() -> None:
    from aesp.core.errors import ValidationError

    with pytest.raises(ValidationError, match="is not valid CEL"):
        test_policy(policy("request.args.amount >"), [activation()], contract_schemas=SCHEMAS)


# ---------------------------------------------------------------- reuse and concurrency


def test_reused_contexts_never_serve_stale_values() -> None:
    """The per-bucket context is updated for every changed value, whatever its type."""
    ps = policy_set(
        policy("request.user.mfa_verified == false", policy_id="mfa"),
        policy("request.args.amount > 100", policy_id="cap"),
        policy("request.time.getHours() == 22", policy_id="late", effect="AUDIT"),
        policy("request.user.spending_limit < 0.0", policy_id="neg", effect="AUDIT"),
    )
    cases = [
        (activation(mfa=True), ""),
        (activation(mfa=False), "mfa"),
        (activation(mfa=True, args={"amount": 500, "currency": "EUR"}), "cap"),
        (activation(mfa=True, args={"amount": 5, "currency": "EUR"}), ""),
        (activation(args={"amount": "5", "currency": "EUR"}), "cap"),  # str: TypeError
        (activation(), ""),
    ]
    for act, denied_by in cases * 3:
        assert decide(ps, act).denied_by == denied_by
    # Same instant, other offset: CEL keeps the offset, so getHours() differs.
    import datetime as dt

    utc = activation()
    shifted = dict(utc.request)
    shifted["time"] = utc.request["time"].astimezone(dt.timezone(dt.timedelta(hours=2)))
    assert decide(ps, utc).audits == ("late",)
    assert decide(ps, Activation(request=shifted, organization=utc.organization)).audits == ()
    assert decide(ps, activation(spending_limit=-0.0)).audits == ("late",)
    assert decide(ps, activation(spending_limit=-1.0)).audits == ("late", "neg")


def test_threads_decide_independently() -> None:
    ps = policy_set(policy("request.args.amount > 100", policy_id="cap"))
    acts = [
        (activation(args={"amount": a, "currency": "EUR"}), a > 100) for a in (5, 500, 50, 5000)
    ]
    errors: list[str] = []

    def run() -> None:
        for _ in range(300):
            for act, deny in acts:
                if (decide(ps, act).code == "POLICY_VIOLATION") is not deny:
                    errors.append(str(act.request["args"]))

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


# ---------------------------------------------------------------- property: random policy sets


# Conditions with a known truth value on activation(roles=("analyst",), mfa=False).
TRUTHS: list[tuple[str, bool]] = [
    ("request.user.mfa_verified == false", True),
    ("'analyst' in request.user.roles", True),
    ("request.args.amount > 5", True),
    ("request.args.currency == 'EUR'", True),
    ("request.time.getHours() == 22", True),
    ("request.resource.estimated_cost < 2.0", True),
    ("request.user.mfa_verified", False),
    ("'admin' in request.user.roles", False),
    ("request.args.amount > 5000", False),
    ("request.args.currency == 'USD'", False),
    ("request.tenant.cost_center == 'cc-9'", False),
    ("has(request.args.note)", False),
]


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(range(len(TRUTHS))),
            st.sampled_from(["DENY", "AUDIT", "ALLOW"]),
            st.sampled_from(["acme", ""]),
        ),
        max_size=12,
    )
)
def test_property_any_true_deny_denies_and_true_audits_are_collected(
    picks: list[tuple[int, str, str]],
) -> None:
    defs = [
        policy(TRUTHS[i][0], policy_id=f"p{n}", effect=effect, tenant_id=tenant)
        for n, (i, effect, tenant) in enumerate(picks)
    ]
    outcome = decide(
        policy_set(*defs), activation(mfa=False, args={"amount": 10, "currency": "EUR"})
    )
    deny = any(TRUTHS[i][1] and effect == "DENY" for i, effect, _ in picks)
    assert outcome.decision is (Verdict.DENY if deny else Verdict.ALLOW)
    if deny:
        assert outcome.code == "POLICY_VIOLATION"
        assert TRUTHS[picks[int(outcome.denied_by[1:])][0]][1]
    else:
        expected = {
            f"p{n}" for n, (i, effect, _) in enumerate(picks) if effect == "AUDIT" and TRUTHS[i][1]
        }
        assert set(outcome.audits) == expected
        assert len(outcome.evaluated) == len(picks)


def test_compiled_policies_are_shared_between_sets() -> None:
    compiled = compile_policy(policy("request.args.amount > 5"), contract_schemas=SCHEMAS)
    one = PolicySet.build([compiled], version=1)
    two = PolicySet.build([compiled], version=2)
    assert decide(one).denied_by == decide(two).denied_by == "p1"


# ---------------------------------------------------------------- context reuse: snapshots


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("x", "x", True),
        ("x", "y", False),
        (1, True, False),  # bool is not int to CEL
        (1, 1.0, False),
        (0.0, -0.0, False),
        (["a", "b"], ["a", "b"], True),
        (["a", "b"], ("a", "b"), False),
        ([1], [True], False),
        (None, None, True),
    ],
)
def test_context_snapshots_compare_exact_type_and_value(a: object, b: object, same: bool) -> None:
    from aesp.core.policy.contexts import _snapshot

    assert (_snapshot(a) == _snapshot(b)) is same


@pytest.mark.parametrize(
    "value", [{"k": "v"}, [["nested"]], type("S", (str,), {})("sub"), object()]
)
def test_values_without_a_snapshot_are_always_reconverted(value: object) -> None:
    from aesp.core.policy.contexts import _snapshot

    assert _snapshot(value) is None


ARG_VALUES = st.one_of(
    st.integers(-3, 3),
    st.booleans(),
    st.floats(-2, 2, allow_nan=False),
    st.sampled_from(["EUR", "USD", "refund", ""]),
    st.lists(st.sampled_from(["vip", "x"]), max_size=2),
)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.dictionaries(
                st.sampled_from(["amount", "currency", "note", "tags", "price"]), ARG_VALUES
            ),
            st.booleans(),
            st.sampled_from(["acme", "globex"]),
        ),
        min_size=1,
        max_size=8,
    )
)
def test_property_a_reused_context_decides_like_a_fresh_one(
    calls: list[tuple[dict[str, object], bool, str]],
) -> None:
    defs = (
        policy(
            "has(request.args.amount) && request.args.amount > 1",
            policy_id="a",
            effect="AUDIT",
            tenant_id="",
        ),
        policy(
            "has(request.args.note) && request.args.note == 'refund'",
            policy_id="n",
            effect="AUDIT",
            tenant_id="",
        ),
        policy(
            "has(request.args.tags) && 'vip' in request.args.tags",
            policy_id="t",
            effect="AUDIT",
            tenant_id="",
        ),
        policy("request.user.mfa_verified", policy_id="m", effect="AUDIT", tenant_id=""),
        policy(
            "has(request.args.price) && request.args.price > 0.5",
            policy_id="p",
            effect="AUDIT",
            tenant_id="",
        ),
    )
    reused = policy_set(*defs)
    for args, mfa, tenant in calls:
        act = activation(args=args, mfa=mfa, tenant=tenant)
        fresh = PolicySet.build(reused.policies, version=1).evaluate(act)
        got = reused.evaluate(act)
        assert (got.decision, got.code, got.audits, got.denied_by) == (
            fresh.decision,
            fresh.code,
            fresh.audits,
            fresh.denied_by,
        )
