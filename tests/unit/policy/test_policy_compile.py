"""compile_policy: definitions, syntax (item 162) and static checks against C-33 and contracts."""

from __future__ import annotations

import cel
import pytest
from _policy_samples import SCHEMAS, policy

from aesp.core.errors import ValidationError
from aesp.core.policy import NATIVE_FUNCTIONS, Effect, compile_policy


def compile_(condition: str, **kw: object) -> object:
    return compile_policy(policy(condition, **kw), contract_schemas=SCHEMAS)  # type: ignore[arg-type]


# ---------------------------------------------------------------- definition shape


@pytest.mark.parametrize(
    ("kw", "field", "message"),
    [
        ({"policy_id": ""}, "policy_id", "policy_id must be"),
        ({"policy_id": "has space"}, "policy_id", "policy_id must be"),
        ({"version": "1.0"}, "version", "not SemVer"),
        ({"version": "v1.0.0"}, "version", "not SemVer"),
        ({"version": "01.0.0"}, "version", "not SemVer"),
        ({"effect": "PERMIT"}, "effect", "not ALLOW, DENY, AUDIT or REQUIRE_APPROVAL"),
        ({"applies_to": ()}, "applies_to", "at least one tool"),
        ({"applies_to": ("bad tool",)}, "applies_to", "neither '\\*' nor a tool name"),
        ({"actions": ("in voke",)}, "actions", "actions must be names"),
    ],
)
def test_malformed_definitions_are_rejected(
    kw: dict[str, object], field: str, message: str
) -> None:
    with pytest.raises(ValidationError, match=message) as info:
        compile_("true", **kw)
    assert info.value.code == "MALFORMED_REQUEST"
    assert info.value.details == {
        "stage": "definition",
        "policy_id": kw.get("policy_id", "p1"),
        "field": field,
    }


def test_effect_and_scope_are_normalised() -> None:
    compiled = compile_policy(
        policy("true", effect="audit", applies_to=("tool:transfer", "search"), actions=("invoke",)),
        contract_schemas=SCHEMAS,
    )
    assert compiled.effect is Effect.AUDIT
    assert compiled.tools == {"transfer", "search"}
    assert compiled.actions == {"invoke"}
    everything = compile_policy(
        policy("true", applies_to=("tool:*",), actions=("*",)), contract_schemas=SCHEMAS
    )
    assert (everything.tools, everything.actions) == (None, None)


# ---------------------------------------------------------------- syntax (item 162)


@pytest.mark.parametrize(
    "condition",
    [
        "request.user.id ==",
        "1 +",
        "(request.action",
        "'unterminated",
        "request.args.amount >> 2",
        "a.b(",
    ],
)
def test_item_162_syntax_errors_are_rejected_at_stage_compile(condition: str) -> None:
    with pytest.raises(ValidationError, match="is not valid CEL") as info:
        compile_(condition)
    assert info.value.code == "POLICY_EVALUATION_FAILED"
    assert info.value.details["stage"] == "compile"
    assert info.value.details["policy_id"] == "p1"


@pytest.mark.parametrize(
    ("condition", "message"),
    [("", "is empty"), ("   ", "is empty"), ("true || " * 600 + "true", "longer than 4096")],
)
def test_empty_and_oversized_conditions_are_rejected(condition: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message) as info:
        compile_(condition)
    assert info.value.details["stage"] == "compile"


# ---------------------------------------------------------------- names


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        ("requst.user.id == 'a'", "unknown variable 'requst'"),
        ("principal.id == 'a'", "unknown variable 'principal'"),
        ("lowerAscii(request.user.id) == 'a'", "function 'lowerAscii' is not available"),
        ("max(1, 2) == 2", "function 'max' is not available"),
        ("request.user.roles.contains('x')", "contains\\(\\) needs STRING"),  # lists: use 'in'
        ("request.time.getHours('Europe/Paris') > 3", "time zone is not supported"),
        ("request.user.id.matches('(unclosed')", "is not a valid RE2 expression"),
        ("matches(request.user.id, r'[z-a]')", "is not a valid RE2 expression"),
        (
            "request.user.roles.exists(r, request.user.permissions.exists(p, p == r))",
            "may not be nested",
        ),
    ],
)
def test_unknown_names_and_unsupported_constructs_are_rejected(
    condition: str, message: str
) -> None:
    with pytest.raises(ValidationError, match=message) as info:
        compile_(condition)
    assert (info.value.code, info.value.details["stage"]) == ("POLICY_EVALUATION_FAILED", "check")


def test_every_allowed_function_runs_natively() -> None:
    """NATIVE_FUNCTIONS is what the engine evaluates; a name here the library lacks is a bug."""
    import datetime as dt

    samples = {
        "size": "size('ab') == 2",
        "contains": "'abc'.contains('b')",
        "startsWith": "'abc'.startsWith('a')",
        "endsWith": "'abc'.endsWith('c')",
        "matches": "'abc'.matches('^a.c$')",
        "string": "string(1) == '1'",
        "int": "int('2') == 2",
        "uint": "uint(2) == 2u",
        "double": "double(1) == 1.0",
        "bytes": "bytes('a') == b'a'",
        "timestamp": "timestamp('2020-01-01T00:00:00Z') < t",
        "duration": "duration('1h') > duration('1m')",
        "dyn": "dyn(1) == 1",
        "type": "type(1) == int",
    }
    for getter in NATIVE_FUNCTIONS - samples.keys():
        samples[getter] = f"t.{getter}() >= 0"
    context = {"t": dt.datetime(2024, 5, 6, 7, 8, 9, tzinfo=dt.UTC)}
    for name, expression in samples.items():
        assert cel.compile(expression).execute(context) is True, name
    assert set(samples) == NATIVE_FUNCTIONS


# ---------------------------------------------------------------- C-33 fields


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        ("request.usr.id == 'a'", "request has no field 'usr'"),
        ("request.user.mfa == true", "request.user has no field 'mfa'"),
        ("request.user.mfa_verified == 'true'", "is BOOLEAN but is compared with a string"),
        ("request.resource.classification == 'SECRET'", "can never equal 'SECRET'"),
        ("request.resource.risk in ['HIGH', 'CRITICAL']", "can never equal 'CRITICAL'"),
        ("request.resource.estimated_cost > '5'", "is NUMBER but is compared with a string"),
        ("request.resource.estimated_cost + 1 > 5.0", "write 1.0, not 1"),
        ("request.time == '2024-01-01'", "is TIMESTAMP but is compared with a string"),
        ("request.source_ip.getHours() > 1", "getHours\\(\\) needs TIMESTAMP"),
        ("request.user.id.exists(c, c == 'a')", "exists\\(\\) needs ARRAY or OBJECT"),
        ("request.user.roles && true", "is used as a condition"),
        ("request.user.roles.name == 'x'", "is ARRAY, so it has no field 'name'"),
        ("request.user.id == null", "compared with null"),
        ("'admin' in request.user.id", "needs a list or a map"),
        ("1 in request.user.roles", "holds STRING elements, never an int"),
    ],
)
def test_c33_fields_are_checked(condition: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message) as info:
        compile_(condition)
    assert info.value.details["stage"] == "check"
    assert info.value.details["tool"] == ""


@pytest.mark.parametrize(
    "condition",
    [
        "request.time.getHours() < 6 || request.time.getDayOfWeek() == 0",
        "request.user.roles.exists(r, r == 'admin') && request.resource.risk != 'HIGH'",
        "request.resource.classification == 'RESTRICTED' && !request.user.mfa_verified",
        "request.user.security_clearance in ['CONFIDENTIAL', 'RESTRICTED']",
        "!(request.tenant.cost_center in organization.approved_cost_centers)",
        "request.resource.estimated_cost > request.user.spending_limit",
        "request.resource.estimated_cost * 2.0 > 10.0",
        "request.session.expires_at - request.time < duration('5m')",
        "'PII' in request.resource.compliance_tags",
        "request.source_ip.startsWith('10.') && request.action == 'invoke'",
        "size(request.user.roles) == 0",
        "request.user['roles'].size() > 0",
        "has(organization.tier) && organization.tier == 'gold'",
        "request.user.roles[0] == 'analyst'",
        "request.user.id.matches('^oidc\\\\|') && matches(request.source_ip, '^10\\\\.')",
        "// a comment mentioning request.bogus\nrequest.action == 'invoke'",
        "'request.bogus == 1' != request.action",  # text inside strings is not a reference
    ],
)
def test_realistic_conditions_compile(condition: str) -> None:
    compiled = compile_policy(policy(condition, applies_to=("*",)), contract_schemas=SCHEMAS)
    assert compiled.policy_id == "p1"


# ---------------------------------------------------------------- request.args against contracts


@pytest.mark.parametrize(
    ("condition", "applies_to", "message", "tool"),
    [
        ("request.args.missing == 1", ("transfer",), "has no field 'missing'", "transfer"),
        ("request.args['missing'] == 1", ("transfer",), "has no field 'missing'", "transfer"),
        ("has(request.args.missing)", ("transfer",), "has no field 'missing'", "transfer"),
        ("'missing' in request.args", ("transfer",), "has no key 'missing'", "transfer"),
        (
            "request.args.amount == '5'",
            ("transfer",),
            "is INTEGER but is compared with a string",
            "transfer",
        ),
        (
            "'5' == request.args.amount",
            ("transfer",),
            "is INTEGER but is compared with a string",
            "transfer",
        ),
        ("request.args.currency == 'GBP'", ("transfer",), "can never equal 'GBP'", "transfer"),
        (
            "request.args.currency in ['EUR', 'JPY']",
            ("transfer",),
            "can never equal 'JPY'",
            "transfer",
        ),
        (
            "request.args.note > 3",
            ("transfer",),
            "is STRING but is compared with an int",
            "transfer",
        ),
        (
            "request.args.urgent == 1",
            ("transfer",),
            "is BOOLEAN but is compared with an int",
            "transfer",
        ),
        ("request.args.price + 1 > 2.0", ("transfer",), "write 1.0, not 1", "transfer"),
        (
            "request.args.amount * 1.5 > 2.0",
            ("transfer",),
            "CEL arithmetic does not mix",
            "transfer",
        ),
        (
            "request.args.note.startsWith(1) || request.args.amount.startsWith('a')",
            ("transfer",),
            "startsWith\\(\\) needs STRING",
            "transfer",
        ),
        (
            "request.args.beneficiary.bic == 'X'",
            ("transfer",),
            "request.args.beneficiary has no field 'bic'",
            "transfer",
        ),
        (
            "request.args.beneficiary.iban > 3",
            ("transfer",),
            "is STRING but is compared with an int",
            "transfer",
        ),
        (
            "request.args.amount.value == 1",
            ("transfer",),
            "is INTEGER, so it has no field 'value'",
            "transfer",
        ),
        (
            "request.args.tags[0] == 1",
            ("transfer",),
            "is STRING but is compared with an int",
            "transfer",
        ),
        (
            "5 in request.args.tags",
            ("transfer",),
            "holds STRING elements, never an int",
            "transfer",
        ),
        ("request.args.urgent", ("transfer", "search"), "has no field 'urgent'", "search"),
        ("request.args.amount > 5", ("*",), "has no field 'amount'", "weather"),  # every tool
        ("request.args.amount > 5", ("unknown_tool",), "no known parameter schema", "unknown_tool"),
    ],
)
def test_arguments_are_checked_against_every_applicable_schema(
    condition: str, applies_to: tuple[str, ...], message: str, tool: str
) -> None:
    with pytest.raises(ValidationError, match=message) as info:
        compile_(condition, applies_to=applies_to)
    assert info.value.code == "POLICY_EVALUATION_FAILED"
    assert info.value.details["stage"] == "check"
    assert info.value.details["tool"] == tool
    assert info.value.details["reference"].startswith("request.args")


@pytest.mark.parametrize(
    ("condition", "applies_to"),
    [
        ("request.args.amount > 10000", ("transfer", "search")),
        ("request.args.amount > 10000.5", ("transfer",)),  # CEL compares int with double
        ("request.args.amount + 1 > 10", ("transfer",)),
        ("request.args.price * 1.1 > 100.0", ("transfer",)),
        ("request.args.currency == 'USD' && request.args.urgent", ("transfer",)),
        ("request.args['my-key'] == 'x'", ("transfer",)),
        ("request.args.beneficiary.iban.startsWith('DE')", ("transfer",)),
        ("request.args.extra.anything == 1", ("transfer",)),  # OBJECT with no properties: any key
        ("'vip' in request.args.tags", ("transfer",)),
        ("has(request.args.note) && request.args.note.contains('refund')", ("transfer",)),
        ("size(request.args) > 3", ("*",)),  # the whole map: no key to check
        ("request.action == 'invoke'", ("unknown_tool",)),  # no argument read: no schema needed
        ("request.args.tags.exists(t, t == 'x')", ("transfer",)),
    ],
)
def test_argument_references_that_fit_compile(condition: str, applies_to: tuple[str, ...]) -> None:
    compile_(condition, applies_to=applies_to)


def test_optional_arguments_without_has_guard_warn() -> None:
    unguarded = compile_policy(policy("request.args.note == 'x'"), contract_schemas=SCHEMAS)
    assert unguarded.warnings == (
        "request.args.note is optional in tool 'transfer': calls without it are denied "
        "(POLICY_EVALUATION_FAILED); guard it with has().",
    )
    guarded = compile_policy(
        policy("has(request.args.note) && request.args.note == 'x'"), contract_schemas=SCHEMAS
    )
    assert guarded.warnings == ()
    required = compile_policy(policy("request.args.amount > 1"), contract_schemas=SCHEMAS)
    assert required.warnings == ()


def test_disabled_policies_are_checked_too() -> None:
    with pytest.raises(ValidationError, match="has no field 'nope'"):
        compile_("request.args.nope == 1", enabled=False)
