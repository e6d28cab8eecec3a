"""SPEC §4.1 checklist items 1-15: ADM serialisation and Schema validity."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from _adm_samples import (
    CALL,
    DECLARATION,
    MANIFEST,
    RESULT_ERR,
    RESULT_NULL,
    RESULT_OK,
    TOOL,
    WEATHER_PARAMS,
)

from aesp.adm import (
    MAX_SCHEMA_DEPTH,
    AdmError,
    AdmWarning,
    ErrorObject,
    FunctionCall,
    FunctionDeclaration,
    Profile,
    Tool,
    ToolManifest,
    ToolResult,
    canonical_json,
    parse_json,
    validate_schema,
)

STRUCTURES: list[Any] = [
    pytest.param(FunctionDeclaration, DECLARATION, id="FunctionDeclaration"),
    pytest.param(Tool, TOOL, id="Tool"),
    pytest.param(FunctionCall, CALL, id="FunctionCall"),
    pytest.param(ToolResult, RESULT_OK, id="ToolResult-success"),
    pytest.param(ToolResult, RESULT_NULL, id="ToolResult-null-content"),
    pytest.param(ToolResult, RESULT_ERR, id="ToolResult-error"),
    pytest.param(ErrorObject, {"message": "boom"}, id="ErrorObject"),
    pytest.param(ToolManifest, MANIFEST, id="ToolManifest"),
]


@pytest.mark.parametrize(("cls", "doc"), STRUCTURES)
def test_4_1_01_structure_round_trips_through_utf8_json(cls: Any, doc: dict[str, Any]) -> None:
    obj = cls.from_json(doc)
    data = canonical_json(obj.to_json())
    text = data.decode("utf-8")  # valid UTF-8
    json.loads(text)  # valid JSON for an independent parser
    assert cls.from_json(parse_json(data)) == obj
    assert obj.to_json() == doc


def _nulls(value: object, path: str = "$") -> list[str]:
    if value is None:
        return [path]
    if isinstance(value, dict):
        return [p for k, v in value.items() if k != "content" for p in _nulls(v, f"{path}.{k}")]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _nulls(v, f"{path}[{i}]")]
    return []


@pytest.mark.parametrize(
    ("obj", "absent"),
    [
        pytest.param(ErrorObject("boom"), "type", id="ErrorObject-type"),
        pytest.param(ToolResult.success("c", "f", 1), "error", id="ToolResult-success-error"),
        pytest.param(ToolResult.failure("c", "f", "bad"), "content", id="ToolResult-error-content"),
        pytest.param(
            ToolManifest("1.0.0", ({"name": "a"},)), "global_metadata", id="ToolManifest-metadata"
        ),
        pytest.param(FunctionCall("c", "f", {}), "extensions", id="FunctionCall-no-extensions-key"),
    ],
)
def test_4_1_02_serialiser_omits_unset_optionals(obj: Any, absent: str) -> None:
    out = obj.to_json()
    assert absent not in out
    assert _nulls(out) == []


def test_4_1_02_null_content_is_kept_because_it_is_a_payload() -> None:
    assert ToolResult.success("c", "f", None).to_json()["content"] is None


def _without(doc: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k != key}


def _nulled(doc: dict[str, Any], key: str) -> dict[str, Any]:
    return {**doc, key: None}


REQUIRED_FIELDS = [
    (FunctionDeclaration, DECLARATION, "name"),
    (FunctionDeclaration, DECLARATION, "description"),
    (FunctionDeclaration, DECLARATION, "parameters"),
    (Tool, TOOL, "function_declarations"),
    (FunctionCall, CALL, "call_id"),
    (FunctionCall, CALL, "name"),
    (FunctionCall, CALL, "args"),
    (ToolResult, RESULT_OK, "call_id"),
    (ToolResult, RESULT_OK, "name"),
    (ToolResult, RESULT_OK, "status"),
    (ErrorObject, {"message": "x"}, "message"),
    (ToolManifest, MANIFEST, "manifest_version"),
    (ToolManifest, MANIFEST, "contracts"),
]


@pytest.mark.parametrize(
    ("cls", "doc", "field"),
    [pytest.param(c, d, f, id=f"{c.__name__}.{f}") for c, d, f in REQUIRED_FIELDS],
)
@pytest.mark.parametrize(
    "mutate", [pytest.param(_without, id="missing"), pytest.param(_nulled, id="null")]
)
def test_4_1_03_parser_rejects_missing_or_null_required_field(
    cls: Any, doc: Any, field: str, mutate: Any
) -> None:
    with pytest.raises(AdmError, match=r"required field (is missing|must not be null)") as info:
        cls.from_json(mutate(doc, field))
    assert info.value.path == field


def test_4_1_04_key_order_does_not_matter() -> None:
    a = '{"call_id":"c","name":"f","args":{"x":1,"y":[1,2]}}'
    b = '{"args":{"y":[1,2],"x":1},"name":"f","call_id":"c"}'
    assert FunctionCall.from_json(parse_json(a)) == FunctionCall.from_json(parse_json(b))
    assert canonical_json(parse_json(a)) == canonical_json(parse_json(b))
    reordered = dict(reversed(list(DECLARATION.items())))
    assert FunctionDeclaration.from_json(reordered) == FunctionDeclaration.from_json(DECLARATION)


# (id, schema, expected path, message regex): every case is refused in both profiles.
INVALID_SCHEMAS = [
    ("4_1_05_schema_without_type", {"description": "x"}, "parameters.type", "must have a 'type'"),
    (
        "4_1_05_nested_schema_without_type",
        {"type": "ARRAY", "items": {}},
        "parameters.items.type",
        "must have",
    ),
    (
        "4_1_06_lowercase_string_type",
        {"type": "string"},
        "parameters.type",
        "case-sensitive: use 'STRING'",
    ),
    ("4_1_06_float_type", {"type": "FLOAT"}, "parameters.type", "not one of STRING"),
    ("4_1_06_non_string_type", {"type": 3}, "parameters.type", "not one of"),
    ("4_1_06_null_type", {"type": None}, "parameters.type", "not one of"),
    ("4_1_07_array_without_items", {"type": "ARRAY"}, "parameters.items", "must have 'items'"),
    (
        "4_1_08_enum_on_integer",
        {"type": "INTEGER", "enum": ["1"]},
        "parameters.enum",
        "only valid for STRING",
    ),
    (
        "4_1_08_enum_on_object",
        {"type": "OBJECT", "enum": ["a"]},
        "parameters.enum",
        "only valid for STRING",
    ),
    ("4_1_09_empty_enum", {"type": "STRING", "enum": []}, "parameters.enum", "at least one value"),
    (
        "4_1_09_duplicate_enum",
        {"type": "STRING", "enum": ["a", "a"]},
        "parameters.enum[1]",
        "more than once",
    ),
    (
        "4_1_09_non_string_enum",
        {"type": "STRING", "enum": ["a", 1]},
        "parameters.enum[1]",
        "must be strings",
    ),
    (
        "4_1_09_enum_not_array",
        {"type": "STRING", "enum": "a"},
        "parameters.enum",
        "must be an array",
    ),
    (
        "4_1_10_required_not_in_properties",
        {"type": "OBJECT", "properties": {"a": {"type": "STRING"}}, "required": ["b"]},
        "parameters.required[0]",
        "not defined in properties",
    ),
    (
        "4_1_10_required_without_properties",
        {"type": "OBJECT", "required": ["a"]},
        "parameters.required[0]",
        "not defined in properties",
    ),
    (
        "4_1_11_duplicate_required",
        {"type": "OBJECT", "properties": {"a": {"type": "STRING"}}, "required": ["a", "a"]},
        "parameters.required[1]",
        "more than once",
    ),
    (
        "4_1_12_invalid_nested_property",
        {
            "type": "OBJECT",
            "properties": {"user": {"type": "OBJECT", "properties": {"age": {"type": "int"}}}},
        },
        "parameters.properties.user.properties.age.type",
        "not one of",
    ),
    (
        "4_1_12_invalid_items_schema",
        {"type": "ARRAY", "items": {"type": "ARRAY"}},
        "parameters.items.items",
        "must have 'items'",
    ),
    ("4_1_12_schema_not_an_object", ["STRING"], "parameters", "must be a JSON object"),
    (
        "4_1_12_properties_not_an_object",
        {"type": "OBJECT", "properties": []},
        "parameters.properties",
        "object",
    ),
    (
        "4_1_12_odd_property_key_path",
        {"type": "OBJECT", "properties": {"a b": {"type": "X"}}},
        'parameters.properties["a b"].type',
        "not one of",
    ),
]


@pytest.mark.parametrize("profile", list(Profile), ids=lambda p: p.name)
@pytest.mark.parametrize(
    ("schema", "path", "match"), [pytest.param(*c[1:], id=c[0]) for c in INVALID_SCHEMAS]
)
def test_4_1_05_to_12_invalid_schema_is_rejected(
    schema: Any, path: str, match: str, profile: Profile
) -> None:
    with pytest.raises(AdmError, match=match) as info:
        validate_schema(schema, profile=profile)
    assert info.value.path == path
    assert info.value.rule is not None


@pytest.mark.parametrize(
    "schema",
    [
        pytest.param(WEATHER_PARAMS, id="weather"),
        pytest.param({"type": "OBJECT", "properties": {}, "required": []}, id="no-params"),
        pytest.param({"type": "OBJECT"}, id="object-without-properties"),
        pytest.param({"type": "STRING", "enum": ["a", "A"]}, id="case-distinct-enum"),
        pytest.param({"type": "OBJECT", "properties": {"": {"type": "STRING"}}}, id="empty-key"),
        pytest.param(
            {"type": "ARRAY", "items": {"type": "ARRAY", "items": {"type": "NUMBER"}}},
            id="nested-array",
        ),
    ],
)
def test_4_1_05_to_12_valid_schema_is_accepted(schema: Any) -> None:
    validate_schema(schema)
    validate_schema(schema, profile=Profile.LENIENT)


@pytest.mark.parametrize(
    "keyword", ["minimum", "default", "format", "pattern", "nullable", "returns"]
)
def test_4_1_13_unknown_keyword_rejected_in_strict_ignored_in_lenient(keyword: str) -> None:
    schema = {"type": "OBJECT", "properties": {"n": {"type": "INTEGER", keyword: 1}}}
    with pytest.raises(AdmError, match=f"unknown Schema keyword '{keyword}'") as info:
        validate_schema(schema)
    assert info.value.path == f"parameters.properties.n.{keyword}"
    assert info.value.rule == "4.1#13"
    validate_schema(schema, profile=Profile.LENIENT)


@pytest.mark.parametrize(
    "keyword", ["x_min", "vendor_acme_hint", "grid_route", "later_cache", "_adm_note"]
)
def test_4_1_13_extension_prefixed_keyword_allowed_in_strict(keyword: str) -> None:
    validate_schema({"type": "STRING", keyword: {"any": "thing"}})


@pytest.mark.parametrize(
    ("schema", "path"),
    [
        pytest.param(
            {"type": "STRING", "items": {"type": "STRING"}},
            "parameters.items",
            id="items-on-string",
        ),
        pytest.param(
            {"type": "ARRAY", "items": {"type": "STRING"}, "properties": {}},
            "parameters.properties",
            id="properties-on-array",
        ),
        pytest.param(
            {"type": "INTEGER", "required": []}, "parameters.required", id="required-on-integer"
        ),
    ],
)
def test_4_1_13_misplaced_keyword_rejected_in_strict_only(schema: Any, path: str) -> None:
    with pytest.raises(AdmError, match="applies only to") as info:
        validate_schema(schema)
    assert info.value.path == path
    validate_schema(schema, profile=Profile.LENIENT)


@pytest.mark.parametrize("description", ["", "   ", "\n\t"], ids=["empty", "spaces", "whitespace"])
def test_4_1_14_present_description_must_be_non_empty(description: str) -> None:
    schema = {"type": "OBJECT", "properties": {"a": {"type": "STRING", "description": description}}}
    with pytest.raises(AdmError, match="description must not be empty") as info:
        validate_schema(schema)
    assert info.value.path == "parameters.properties.a.description"
    with pytest.warns(AdmWarning, match="description is empty"):
        validate_schema(schema, profile=Profile.LENIENT)


def test_4_1_14_description_must_be_a_string() -> None:
    with pytest.raises(AdmError, match="description must be a string") as info:
        validate_schema({"type": "STRING", "description": 5}, profile=Profile.LENIENT)
    assert info.value.path == "parameters.description"


def _nested_arrays(depth: int) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "STRING"}
    for _ in range(depth - 1):
        schema = {"type": "ARRAY", "items": schema}
    return schema


def test_4_1_15_depth_64_is_accepted() -> None:
    validate_schema(_nested_arrays(MAX_SCHEMA_DEPTH))


def test_4_1_15_depth_65_is_rejected() -> None:
    with pytest.raises(AdmError, match="deeper than 64 levels") as info:
        validate_schema(_nested_arrays(MAX_SCHEMA_DEPTH + 1))
    assert info.value.path == "parameters" + ".items" * MAX_SCHEMA_DEPTH


def test_4_1_15_cyclic_schema_is_rejected() -> None:
    node: dict[str, Any] = {"type": "OBJECT", "properties": {}}
    node["properties"]["self"] = node
    with pytest.raises(AdmError, match="cycle") as info:
        validate_schema(node)
    assert info.value.path == "parameters.properties.self"
    assert info.value.rule == "4.1#15"


def test_4_1_15_shared_subschema_is_not_a_cycle() -> None:
    shared = {"type": "STRING"}
    validate_schema({"type": "OBJECT", "properties": {"a": shared, "b": shared}})


def test_4_1_12_validation_does_not_mutate_the_schema() -> None:
    schema = copy.deepcopy(WEATHER_PARAMS)
    validate_schema(schema)
    assert schema == WEATHER_PARAMS
