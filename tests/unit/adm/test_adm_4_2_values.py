"""SPEC §4.2 checklist items 16-24 (value validation) and C-19/C-20 object and number rules."""

from __future__ import annotations

import math
from typing import Any

import pytest

from aesp.adm import INT64_MAX, INT64_MIN, AdmError, Profile, compile_validator, validate_value

STRING = {"type": "STRING"}
ENUM = {"type": "STRING", "enum": ["admin", "user"]}
NUMBER = {"type": "NUMBER"}
INTEGER = {"type": "INTEGER"}
BOOLEAN = {"type": "BOOLEAN"}
ARRAY = {"type": "ARRAY", "items": {"type": "INTEGER"}}
OBJECT = {
    "type": "OBJECT",
    "properties": {"a": {"type": "STRING"}, "b": {"type": "INTEGER"}},
    "required": ["a"],
}


def check(schema: dict[str, Any], value: object, profile: Profile = Profile.STRICT) -> None:
    """Validate a value that is not an args root (path root 'v')."""
    validate_value(schema, value, profile=profile, path="v", root_args=False)


ACCEPTED = [
    ("4_2_16_string", STRING, "hello"),
    ("4_2_16_empty_string", STRING, ""),
    ("4_2_16_unicode_string", STRING, "Zürich ☃"),
    ("4_2_17_enum_member", ENUM, "admin"),
    ("4_2_18_number_int", NUMBER, 3),
    ("4_2_18_number_float", NUMBER, -2.5),
    ("4_2_18_number_zero", NUMBER, 0.0),
    ("4_2_19_integer", INTEGER, 42),
    ("4_2_19_integer_min", INTEGER, INT64_MIN),
    ("4_2_19_integer_max", INTEGER, INT64_MAX),
    ("4_2_20_integral_float", INTEGER, 3.0),
    ("4_2_20_negative_integral_float", INTEGER, -7.0),
    ("4_2_21_true", BOOLEAN, True),
    ("4_2_21_false", BOOLEAN, False),
    ("4_2_22_empty_array", ARRAY, []),
    ("4_2_22_array", ARRAY, [1, 2, 3]),
    ("4_2_22_tuple_as_array", ARRAY, (1, 2)),
    ("4_2_23_object_required_only", OBJECT, {"a": "x"}),
    ("4_2_23_object_all", OBJECT, {"a": "x", "b": 1}),
]


@pytest.mark.parametrize(("schema", "value"), [pytest.param(*c[1:], id=c[0]) for c in ACCEPTED])
def test_4_2_value_is_accepted(schema: dict[str, Any], value: object) -> None:
    check(schema, value)
    check(schema, value, Profile.LENIENT)


# (id, schema, value, path, message regex)
REJECTED = [
    ("4_2_16_string_rejects_int", STRING, 1, "v", "expected STRING, got integer"),
    ("4_2_16_string_rejects_bool", STRING, True, "v", "expected STRING, got boolean"),
    ("4_2_16_string_rejects_null", STRING, None, "v", "expected STRING, got null"),
    ("4_2_16_string_rejects_array", STRING, ["a"], "v", "expected STRING, got array"),
    ("4_2_16_string_rejects_object", STRING, {"a": 1}, "v", "expected STRING, got object"),
    (
        "4_2_17_enum_is_case_sensitive",
        {"type": "STRING", "enum": ["admin"]},
        "Admin",
        "v",
        "not one of the allowed",
    ),
    ("4_2_17_enum_rejects_non_member", ENUM, "root", "v", "case-sensitive"),
    ("4_2_17_enum_rejects_non_string", ENUM, 1, "v", "expected STRING"),
    ("4_2_18_number_rejects_string", NUMBER, "1", "v", "expected NUMBER, got string"),
    ("4_2_18_number_rejects_true", NUMBER, True, "v", "expected NUMBER, got boolean"),
    ("4_2_18_number_rejects_nan", NUMBER, math.nan, "v", "NaN and Infinity"),
    ("4_2_18_number_rejects_inf", NUMBER, math.inf, "v", "NaN and Infinity"),
    ("4_2_18_number_rejects_minus_inf", NUMBER, -math.inf, "v", "NaN and Infinity"),
    ("4_2_18_number_rejects_huge_int", NUMBER, 10**400, "v", "too large"),
    ("4_2_19_integer_rejects_fraction", INTEGER, 3.5, "v", "non-integral number 3.5"),
    ("4_2_19_integer_rejects_above_int64", INTEGER, INT64_MAX + 1, "v", "64-bit signed range"),
    ("4_2_19_integer_rejects_below_int64", INTEGER, INT64_MIN - 1, "v", "64-bit signed range"),
    ("4_2_19_integer_rejects_float_2_63", INTEGER, 2.0**63, "v", "64-bit signed range"),
    ("4_2_19_integer_rejects_string", INTEGER, "3", "v", "expected INTEGER, got string"),
    ("4_2_19_integer_rejects_true", INTEGER, True, "v", "expected INTEGER, got boolean"),
    ("4_2_19_integer_rejects_false", INTEGER, False, "v", "expected INTEGER, got boolean"),
    ("4_2_19_integer_rejects_nan", INTEGER, math.nan, "v", "non-integral"),
    ("4_2_21_boolean_rejects_string", BOOLEAN, "true", "v", "expected BOOLEAN, got string"),
    ("4_2_21_boolean_rejects_1", BOOLEAN, 1, "v", "expected BOOLEAN, got integer"),
    ("4_2_21_boolean_rejects_0", BOOLEAN, 0, "v", "expected BOOLEAN, got integer"),
    ("4_2_22_array_rejects_object", ARRAY, {"0": 1}, "v", "expected ARRAY, got object"),
    ("4_2_22_array_rejects_string", ARRAY, "123", "v", "expected ARRAY, got string"),
    (
        "4_2_22_array_rejects_bad_element",
        ARRAY,
        [1, 2, "3"],
        "v[2]",
        "expected INTEGER, got string",
    ),
    ("4_2_23_object_rejects_array", OBJECT, [], "v", "expected OBJECT, got array"),
    ("4_2_23_object_rejects_null", OBJECT, None, "v", "expected OBJECT, got null"),
    (
        "4_2_23_object_rejects_missing_required",
        OBJECT,
        {"b": 1},
        "v.a",
        "required property is missing",
    ),
    (
        "4_2_23_object_validates_declared_property",
        OBJECT,
        {"a": "x", "b": "1"},
        "v.b",
        "expected INTEGER",
    ),
    ("4_2_23_object_rejects_python_set", OBJECT, {"a": "x", "b": {1}}, "v.b", "not a JSON value"),
]


@pytest.mark.parametrize("profile", list(Profile), ids=lambda p: p.name)
@pytest.mark.parametrize(
    ("schema", "value", "path", "match"), [pytest.param(*c[1:], id=c[0]) for c in REJECTED]
)
def test_4_2_value_is_rejected(
    schema: Any, value: object, path: str, match: str, profile: Profile
) -> None:
    with pytest.raises(AdmError, match=match) as info:
        check(schema, value, profile)
    assert info.value.path == path
    assert str(info.value) == f"{path}: {info.value.reason}"


NESTED = {
    "type": "OBJECT",
    "properties": {
        "items": {
            "type": "ARRAY",
            "items": {
                "type": "OBJECT",
                "properties": {"name": {"type": "STRING"}, "qty": {"type": "INTEGER"}},
                "required": ["name"],
            },
        },
        "odd key": {"type": "BOOLEAN"},
    },
}


@pytest.mark.parametrize(
    ("args", "path", "match"),
    [
        pytest.param(
            {"items": [{"name": "a"}, {"name": "b"}, {"name": 3}]},
            "args.items[2].name",
            "expected STRING",
            id="array-element-field",
        ),
        pytest.param(
            {"items": [{"name": "a"}, {"qty": 1}]},
            "args.items[1].name",
            "required property is missing",
            id="missing-in-element",
        ),
        pytest.param({"odd key": "yes"}, 'args["odd key"]', "expected BOOLEAN", id="quoted-key"),
        pytest.param(
            {"items": [{"name": "a", "qty": 1.5}]},
            "args.items[0].qty",
            "non-integral",
            id="deep-integer",
        ),
    ],
)
def test_4_2_24_errors_carry_the_failing_path(args: object, path: str, match: str) -> None:
    with pytest.raises(AdmError, match=match) as info:
        compile_validator(NESTED)(args)
    assert info.value.path == path


def test_4_2_24_rule_ids_name_the_checklist_item() -> None:
    with pytest.raises(AdmError) as info:
        check(INTEGER, True)
    assert info.value.rule == "4.2#19"


# C-19: args root and nested additional properties.
ROOT = {
    "type": "OBJECT",
    "properties": {
        "a": {"type": "STRING"},
        "o": {"type": "OBJECT", "properties": {"x": {"type": "INTEGER"}}},
        "free": {"type": "OBJECT"},
    },
}


@pytest.mark.parametrize("profile", list(Profile), ids=lambda p: p.name)
def test_4_4_39_root_rejects_undeclared_key_in_both_profiles(profile: Profile) -> None:
    with pytest.raises(AdmError, match="unknown property; declared properties are") as info:
        compile_validator(ROOT, profile=profile)({"a": "x", "zzz": 1})
    assert info.value.path == "args.zzz"
    assert info.value.rule == "4.4#39"


@pytest.mark.parametrize("profile", list(Profile), ids=lambda p: p.name)
def test_4_4_39_no_parameter_function_accepts_only_empty_args(profile: Profile) -> None:
    validator = compile_validator({"type": "OBJECT", "properties": {}}, profile=profile)
    validator({})
    with pytest.raises(AdmError, match="no properties are declared") as info:
        validator({"x": 1})
    assert info.value.path == "args.x"


def test_c_19_nested_declared_object_rejects_unknown_keys_in_strict() -> None:
    with pytest.raises(AdmError, match="unknown property") as info:
        compile_validator(ROOT)({"o": {"x": 1, "y": 2}})
    assert info.value.path == "args.o.y"
    assert info.value.rule == "C-19"


def test_c_19_nested_declared_object_allows_unknown_keys_in_lenient() -> None:
    compile_validator(ROOT, profile=Profile.LENIENT)({"o": {"x": 1, "y": [True, None]}})


@pytest.mark.parametrize("profile", list(Profile), ids=lambda p: p.name)
def test_c_19_nested_open_object_accepts_any_json(profile: Profile) -> None:
    compile_validator(ROOT, profile=profile)({"free": {"k": [1, {"z": None}], "n": 1.5}})


@pytest.mark.parametrize(
    ("value", "path", "match"),
    [
        pytest.param({"k": math.nan}, "args.free.k", "NaN", id="nan"),
        pytest.param({"k": [1, {2: 3}]}, "args.free.k[1][2]", "keys must be strings", id="int-key"),
        pytest.param({"k": object()}, "args.free.k", "not a JSON value", id="object"),
    ],
)
def test_c_19_open_object_values_must_still_be_json(value: object, path: str, match: str) -> None:
    with pytest.raises(AdmError, match=match) as info:
        compile_validator(ROOT)({"free": value})
    assert info.value.path == path


def test_compile_validator_rejects_invalid_schema_up_front() -> None:
    with pytest.raises(AdmError, match="not one of") as info:
        compile_validator({"type": "OBJECT", "properties": {"a": {"type": "str"}}})
    assert info.value.path == "parameters.properties.a.type"


def test_compile_validator_is_reusable_and_independent_of_value() -> None:
    validator = compile_validator(OBJECT, root_args=False)
    for _ in range(3):
        validator({"a": "x"})
        with pytest.raises(AdmError):
            validator({"a": 1})
