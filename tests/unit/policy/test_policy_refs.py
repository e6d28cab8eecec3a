"""The reference scanner and the flattening rewrite: what is caught, and that results never change."""

from __future__ import annotations

from typing import Any

import cel
import pytest
from _policy_samples import SCHEMAS, activation, policy
from hypothesis import given, settings
from hypothesis import strategies as st

from aesp.core.policy import Activation, compile_policy
from aesp.core.policy.activation import coercers_for, plan, project
from aesp.core.policy.flatten import readable, variable_name, variable_path
from aesp.core.policy.refs import Usage, scan, tokenize

# ---------------------------------------------------------------- tokenizer


@pytest.mark.parametrize(
    "source",
    [
        "'request.args.x' == request.action",
        '"request.args.x" == request.action',
        "'''request.args.x ' \" ''' == request.action",
        '"""request.args.x " \' """ == request.action',
        "r'request.args.x\\' == request.action",
        "b'request.args.x' == b'' && request.action == 'a'",
        "'\\'request.args.x' == request.action",
        "request.action == 'a' // request.args.x in a comment",
    ],
)
def test_string_literals_and_comments_hide_references(source: str) -> None:
    cel.compile(source)  # every sample is valid CEL
    assert [(r.root, r.path) for r in scan(source).references] == [("request", ("action",))]


def test_escapes_in_index_keys_are_decoded() -> None:
    refs = scan(
        r"request.args['my\x2dkey'] == 'a' && request.args[r'raw\n'] == 'b' && request.args['\u00e9'] == 'c'"
    ).references
    assert [r.path for r in refs] == [("args", "my-key"), ("args", "raw\\n"), ("args", "é")]


def test_characters_outside_cel_are_reported_with_their_column() -> None:
    with pytest.raises(ValueError, match="unexpected character '#' at column 3"):
        tokenize("1 # 2")


@pytest.mark.parametrize(
    ("source", "path", "dynamic", "in_has"),
    [
        ("request.args.items[0].name == 'x'", ("args", "items", "[]", "name"), False, False),
        ("request['args']['k'] == 'x'", ("args", "k"), False, False),
        ("request.args[k] == 1", ("args",), True, False),
        ("has(request.args.note)", ("args", "note"), False, True),
        ("request . user . id == 'x'", ("user", "id"), False, False),
        ("(request).user.id == 'x'", (), False, False),
        ("request.time.getHours() > 3", ("time",), False, False),
    ],
)
def test_chains(source: str, path: tuple[str, ...], dynamic: bool, in_has: bool) -> None:
    [ref] = [r for r in scan(source).references if r.root == "request"]
    assert (ref.path, ref.dynamic, ref.in_has) == (path, dynamic, in_has)


@pytest.mark.parametrize(
    ("source", "usage"),
    [
        ("request.args.a == 'x'", Usage("compare", "==", ("STRING",), ("x",))),
        ("'x' != request.args.a", Usage("compare", "!=", ("STRING",), ("x",))),
        ("request.args.a > -5", Usage("compare", ">", ("INT",))),
        ("request.args.a <= 2.5", Usage("compare", "<=", ("DOUBLE",))),
        ("request.args.a == 2u", Usage("compare", "==", ("UINT",))),
        ("request.args.a == true", Usage("compare", "==", ("BOOL",))),
        ("request.args.a in ['x', 'y']", Usage("in_list", "in", ("STRING", "STRING"), ("x", "y"))),
        ("'x' in request.args.a", Usage("contains", "in", ("STRING",), ("x",))),
        ("request.args.a + 1 > 2", Usage("arith", "+", ("INT",))),
        ("2.0 * request.args.a > 2.0", Usage("arith", "*", ("DOUBLE",))),
        ("-request.args.a > 2", Usage("arith", "-")),
        ("request.args.a.startsWith('x')", Usage("method", "startsWith", has_arguments=True)),
        ("size(request.args.a) > 2", Usage("method", "size")),
        ("request.args.a.exists(x, x == 1)", Usage("method", "exists", has_arguments=True)),
        ("!request.args.a", Usage("logic", "!")),
        ("request.args.a", Usage("logic", "&&")),
        ("request.args.a ? 1 == 1 : false", Usage("logic", "?")),
        # Not inferred (documented limits): another reference, a computed operand, chained relations.
        ("request.args.a == request.args.b", None),
        ("request.args.a == 'x'.size()", None),
        ("1 < 2 == request.args.a", None),
        ("request.args.a + request.args.b > 2", None),
        # Relations are left-associative: ('x' in a) == true, (1 < a) == true.
        ("'x' in request.args.a == true", Usage("contains", "in", ("STRING",), ("x",))),
        ("1 < request.args.a == true", Usage("compare", "<", ("INT",))),
        ("request.args.a in ['x'] == true", Usage("in_list", "in", ("STRING",), ("x",))),
    ],
)
def test_usage_inference(source: str, usage: Usage | None) -> None:
    assert scan(source).references[0].usage == usage


def test_binders_and_nesting() -> None:
    found = scan("request.user.roles.exists(r, r == 'a') && [1].all(x, [2].exists(y, x == y))")
    assert found.binders == {"r", "x", "y"}
    assert found.max_nesting == 2


# ---------------------------------------------------------------- flat variable names


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.text(min_size=1, max_size=8), min_size=1, max_size=3),
    st.lists(st.text(min_size=1, max_size=8), min_size=1, max_size=3),
)
def test_property_variable_names_are_injective_and_reversible(a: list[str], b: list[str]) -> None:
    name_a = variable_name("request", tuple(a))
    assert variable_path(name_a) == ".".join(["request", *a])
    assert cel.compile(f"{name_a} == 1")  # a valid identifier
    if a != b:
        assert name_a != variable_name("request", tuple(b))


def test_readable_maps_names_back_in_error_texts() -> None:
    name = variable_name("request", ("args", "my-key"))
    assert readable(f"Undefined variable or function: '{name}'") == (
        "Undefined variable or function: 'request.args.my-key'"
    )


# ---------------------------------------------------------------- the rewrite changes no result


CONDITIONS = [
    "request.args.amount > 5 && request.args.currency == 'EUR'",
    "has(request.args.note) && request.args.note.startsWith('r')",
    "request.args.note == 'x'",  # fails when note is absent: it must fail in both forms
    "request.args['my-key'] == 'k'",
    "'vip' in request.args.tags",
    "request.args.tags[0] == 'vip'",
    "request.args.beneficiary.iban.startsWith('DE')",
    "has(request.args.beneficiary.country)",
    "size(request.args) > 2",
    "request.args.extra.level > 2",
    "'extra' in request.args",
    "request.user.roles.exists(r, r == 'analyst') && request.user.mfa_verified",
    "request.time.getHours() == 22 && request.session.expires_at > request.time",
    "request.tenant.cost_center in organization.approved_cost_centers",
    "has(organization.tier) && organization.tier == 'gold'",
    "request.resource.estimated_cost * 2.0 > request.user.spending_limit",
    "request.user['roles'].size() == 1",
    "has(request.user.mfa_verified) && has(request.time)",
    "request.action == 'invoke' && request.source_ip.startsWith('10.')",
    "request.args.price * 2.0 > 3.0",
]


def _run(program: cel.Program, variables: dict[str, Any]) -> object:
    try:
        return program.execute(cel.Context(variables))
    except Exception:  # noqa: BLE001 - both forms must fail alike; the message may differ
        return "error"


def _both(condition: str, act: Activation) -> tuple[object, object]:
    compiled = compile_policy(policy(condition), contract_schemas=SCHEMAS)
    assert compiled.executed_source != condition  # it was flattened
    coercers = coercers_for(compiled.arg_schemas.get("transfer", {}))
    flat = project(act, plan(compiled.needs), coercers)
    args = act.request["args"]
    coerced = (
        {k: (coercers[k](v) if k in coercers else v) for k, v in args.items()}
        if isinstance(args, dict)
        else args
    )
    full = {"request": {**act.request, "args": coerced}, "organization": act.organization}
    return _run(compiled.program, flat), _run(cel.compile(condition), full)


@pytest.mark.parametrize("condition", CONDITIONS)
@pytest.mark.parametrize(
    "args",
    [
        {"amount": 10, "currency": "EUR"},
        {
            "amount": 1,
            "currency": "USD",
            "note": "refund",
            "my-key": "k",
            "tags": ["vip"],
            "beneficiary": {"iban": "DE00", "country": "DE"},
            "extra": {"level": 3},
            "price": 2,
        },
        {
            "amount": "ten",
            "currency": 5,
            "tags": "vip",
            "beneficiary": "x",
            "extra": [],
            "price": "p",
        },
    ],
)
def test_flattened_and_original_programs_agree(condition: str, args: dict[str, Any]) -> None:
    flat, original = _both(
        condition,
        activation(args=args, organization={"approved_cost_centers": ["cc-1"], "tier": "gold"}),
    )
    assert flat == original


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-5, 5)
    | st.floats(-3, 3)
    | st.sampled_from(["EUR", "DE1", "refund", "vip", "k"]),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(["iban", "country", "level"]), inner, max_size=3)
    ),
    max_leaves=6,
)


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from(CONDITIONS),
    st.dictionaries(
        st.sampled_from(
            ["amount", "currency", "note", "my-key", "tags", "beneficiary", "extra", "price"]
        ),
        JSON,
        max_size=8,
    ),
    st.dictionaries(st.sampled_from(["approved_cost_centers", "tier"]), JSON, max_size=2),
)
def test_property_flattening_never_changes_a_result(
    condition: str, args: dict[str, Any], organization: dict[str, Any]
) -> None:
    flat, original = _both(condition, activation(args=args, organization=organization))
    assert flat == original
