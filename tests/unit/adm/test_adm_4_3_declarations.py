"""SPEC §4.3 checklist items 25-32: FunctionDeclaration and Tool."""

from __future__ import annotations

import copy
import warnings
from typing import Any

import pytest
from _adm_samples import DECLARATION, TOOL

from aesp.adm import (
    NAME_PATTERN,
    AdmError,
    AdmWarning,
    FunctionDeclaration,
    Profile,
    Tool,
    validate_name,
)

PARAMS = {"type": "OBJECT", "properties": {}}


def decl(**overrides: Any) -> dict[str, Any]:
    return {**copy.deepcopy(DECLARATION), **overrides}


@pytest.mark.parametrize(
    ("name", "match"),
    [
        pytest.param("2get_data", "must start with a letter or '_'", id="leading-digit"),
        pytest.param("get data", "contains ' ' at position 3", id="space"),
        pytest.param("get@data", "contains '@' at position 3", id="at-sign"),
        pytest.param("", "must not be empty", id="empty"),
        pytest.param("a" * 65, "65 characters long; the maximum is 64", id="65-chars"),
        pytest.param("-dash", "must start with", id="leading-dash"),
        pytest.param("get\n", "contains '\\\\n'", id="trailing-newline"),
        pytest.param("naïve", "contains 'ï'", id="non-ascii"),
        pytest.param(42, "must be a string", id="not-a-string"),
    ],
)
def test_4_3_25_invalid_function_name_is_rejected(name: object, match: str) -> None:
    with pytest.raises(AdmError, match=match) as info:
        FunctionDeclaration.from_json(decl(name=name))
    assert info.value.path == "name"
    assert info.value.rule == "4.3#25"


@pytest.mark.parametrize("name", ["_x", "a-b", "a" * 64, "get_weather", "_private", "A9_-"])
def test_4_3_25_valid_function_name_is_accepted(name: str) -> None:
    assert FunctionDeclaration.from_json(decl(name=name)).name == name
    assert NAME_PATTERN.match(name)


def test_4_3_25_name_pattern_is_anchored_at_the_true_end() -> None:
    assert NAME_PATTERN.match("get\n") is None
    with pytest.raises(AdmError, match="contains") as info:
        validate_name("ok\n", "x.name")
    assert info.value.path == "x.name"


@pytest.mark.parametrize(
    ("description", "match"),
    [
        pytest.param("", "must not be empty", id="empty"),
        pytest.param("  \t\n", "must not be empty", id="whitespace"),
        pytest.param(None, "required field must not be null", id="null"),
        pytest.param(7, "must be a string", id="number"),
    ],
)
def test_4_3_26_missing_or_blank_description_is_rejected(description: object, match: str) -> None:
    with pytest.raises(AdmError, match=match) as info:
        FunctionDeclaration.from_json(decl(description=description))
    assert info.value.path == "description"


def test_4_3_26_absent_description_is_rejected() -> None:
    doc = decl()
    del doc["description"]
    with pytest.raises(AdmError, match="required field is missing") as info:
        FunctionDeclaration.from_json(doc)
    assert info.value.path == "description"


def test_4_3_26_constructor_rejects_blank_description() -> None:
    with pytest.raises(AdmError, match="must not be empty") as info:
        FunctionDeclaration("f", " ", PARAMS)
    assert info.value.path == "description"


def test_4_3_27_long_description_rejected_in_strict() -> None:
    with pytest.raises(AdmError, match="1001 characters long; the maximum is 1000") as info:
        FunctionDeclaration.from_json(decl(description="x" * 1001))
    assert info.value.path == "description"
    assert info.value.rule == "4.3#27"


def test_4_3_27_long_description_warns_in_lenient() -> None:
    with pytest.warns(AdmWarning, match="1001 characters"):
        result = FunctionDeclaration.from_json(
            decl(description="x" * 1001), profile=Profile.LENIENT
        )
    assert len(result.description) == 1001


def test_4_3_27_description_length_counts_code_points() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        FunctionDeclaration.from_json(
            decl(description="é" * 1000)
        )  # 2000 UTF-8 bytes, 1000 code points


def test_4_3_28_declaration_without_parameters_is_rejected() -> None:
    doc = decl()
    del doc["parameters"]
    with pytest.raises(AdmError, match="required field is missing") as info:
        FunctionDeclaration.from_json(doc)
    assert info.value.path == "parameters"
    assert info.value.rule == "4.3#28"


def test_4_3_29_parameters_must_be_a_valid_schema() -> None:
    with pytest.raises(AdmError, match="not one of") as info:
        FunctionDeclaration.from_json(
            decl(parameters={"type": "OBJECT", "properties": {"a": {"type": "string"}}})
        )
    assert info.value.path == "parameters.properties.a.type"


def test_4_3_29_non_object_root_rejected_in_strict_warned_in_lenient() -> None:
    doc = decl(parameters={"type": "STRING"})
    with pytest.raises(AdmError, match="should be an OBJECT Schema") as info:
        FunctionDeclaration.from_json(doc)
    assert info.value.path == "parameters.type"
    with pytest.warns(AdmWarning, match="should be an OBJECT"):
        FunctionDeclaration.from_json(doc, profile=Profile.LENIENT)


@pytest.mark.parametrize(
    ("doc", "path", "match"),
    [
        pytest.param(
            {"function_declarations": []},
            "function_declarations",
            "at least one function",
            id="empty",
        ),
        pytest.param({}, "function_declarations", "required field is missing", id="missing"),
        pytest.param(
            {"function_declarations": {}},
            "function_declarations",
            "must be an array",
            id="not-array",
        ),
    ],
)
def test_4_3_30_tool_without_declarations_is_rejected(doc: Any, path: str, match: str) -> None:
    with pytest.raises(AdmError, match=match) as info:
        Tool.from_json(doc)
    assert info.value.path == path


def test_4_3_30_constructor_rejects_empty_tool() -> None:
    with pytest.raises(AdmError, match="at least one function"):
        Tool(())


def test_4_3_31_duplicate_function_names_are_rejected() -> None:
    doc = {"function_declarations": [decl(), decl()]}
    with pytest.raises(
        AdmError, match="duplicate function name 'get_weather' \\(also at index 0\\)"
    ) as info:
        Tool.from_json(doc)
    assert info.value.path == "function_declarations[1].name"
    assert info.value.rule == "4.3#31"


def test_4_3_31_names_differing_in_case_may_coexist() -> None:
    tool = Tool.from_json({"function_declarations": [decl(name="get"), decl(name="Get")]})
    assert [d.name for d in tool.function_declarations] == ["get", "Get"]
    assert tool.get("Get") is tool.function_declarations[1]
    assert tool.get("GET") is None


def test_4_3_32_invalid_declaration_invalidates_tool_and_is_named() -> None:
    bad = decl(
        name="bad_one", parameters={"type": "OBJECT", "properties": {"x": {"type": "ARRAY"}}}
    )
    with pytest.raises(
        AdmError, match="in declaration 'bad_one': an ARRAY Schema must have 'items'"
    ) as info:
        Tool.from_json({"function_declarations": [decl(), bad]})
    assert info.value.path == "function_declarations[1].parameters.properties.x.items"


def test_4_3_32_invalid_name_path_points_into_the_declaration() -> None:
    with pytest.raises(AdmError, match="must start with") as info:
        Tool.from_json({"function_declarations": [decl(name="9x")]})
    assert info.value.path == "function_declarations[0].name"


def test_4_3_tool_round_trip_keeps_order() -> None:
    tool = Tool.from_json(TOOL)
    assert tool.to_json() == TOOL
    assert [d.name for d in tool.function_declarations] == ["get_weather", "no_args"]


@pytest.mark.parametrize("field", ["returns", "metadata", "retrieval_declarations"])
def test_4_3_unknown_declaration_field_rejected_in_strict(field: str) -> None:
    with pytest.raises(AdmError, match="unknown FunctionDeclaration field") as info:
        FunctionDeclaration.from_json(decl(**{field: {}}))
    assert info.value.path == field
    assert FunctionDeclaration.from_json(
        decl(**{field: {}}), profile=Profile.LENIENT
    ).extensions == {field: {}}


def test_args_validator_is_cached_per_profile() -> None:
    declaration = FunctionDeclaration.from_json(DECLARATION)
    assert declaration.args_validator() is declaration.args_validator(Profile.STRICT)
    assert declaration.args_validator(Profile.LENIENT) is not declaration.args_validator()
