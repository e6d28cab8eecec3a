"""SPEC §4.4 checklist items 33-45: FunctionCall, ToolResult and ErrorObject."""

from __future__ import annotations

import warnings
from typing import Any, cast

import pytest
from _adm_samples import CALL, DECLARATION, RESULT_ERR, RESULT_OK, TOOL

from aesp.adm import (
    MISSING,
    AdmError,
    AdmWarning,
    ErrorObject,
    FunctionCall,
    FunctionDeclaration,
    Profile,
    ResultStatus,
    Tool,
    ToolResult,
)


def call(**overrides: Any) -> dict[str, Any]:
    return {**CALL, **overrides}


@pytest.mark.parametrize(
    ("call_id", "match"),
    [
        pytest.param("", "must not be empty", id="empty"),
        pytest.param("x" * 129, "129 characters long; the maximum is 128", id="129-chars"),
        pytest.param("abc\x1f", "outside printable ASCII .* at position 3", id="control-char"),
        pytest.param("abc\x7f", "outside printable ASCII", id="DEL"),
        pytest.param("café", "outside printable ASCII .* at position 3", id="non-ascii"),
        pytest.param("line\n", "outside printable ASCII", id="newline"),
        pytest.param(12, "must be a string", id="number"),
    ],
)
def test_4_4_33_invalid_call_id_is_rejected(call_id: object, match: str) -> None:
    with pytest.raises(AdmError, match=match) as info:
        FunctionCall.from_json(call(call_id=call_id))
    assert info.value.path == "call_id"
    assert info.value.rule == "4.4#33"


def test_4_4_33_missing_call_id_is_rejected() -> None:
    with pytest.raises(AdmError, match="required field is missing") as info:
        FunctionCall.from_json({"name": "f", "args": {}})
    assert info.value.path == "call_id"


@pytest.mark.parametrize(
    "call_id", ["x" * 128, " ", "~!@#$%^&*()"], ids=["128-chars", "space", "symbols"]
)
def test_4_4_33_boundary_call_ids_are_accepted(call_id: str) -> None:
    assert FunctionCall.from_json(call(call_id=call_id)).call_id == call_id


@pytest.mark.parametrize(
    "call_id", ["req-42", "not-a-uuid", "550e8400-e29b-11d4-a716-446655440000"]
)
def test_4_4_34_non_uuid4_call_id_is_accepted_without_warning(call_id: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        FunctionCall.from_json(call(call_id=call_id))


@pytest.mark.parametrize("name", ["2get", "get data", "", "a" * 65])
def test_4_4_35_call_with_invalid_name_is_rejected(name: str) -> None:
    with pytest.raises(AdmError, match="name") as info:
        FunctionCall.from_json(call(name=name))
    assert info.value.path == "name"
    assert info.value.rule == "4.4#35"


@pytest.mark.parametrize(
    ("args", "match"),
    [
        pytest.param(MISSING, "required field is missing", id="missing"),
        pytest.param(None, "required field must not be null", id="null"),
        pytest.param([], "args must be an object, got array", id="array"),
        pytest.param("{}", "args must be an object, got string", id="string"),
    ],
)
def test_4_4_36_call_without_object_args_is_rejected(args: object, match: str) -> None:
    doc = {k: v for k, v in CALL.items() if k != "args"}
    if args is not MISSING:
        doc["args"] = args
    with pytest.raises(AdmError, match=match) as info:
        FunctionCall.from_json(doc)
    assert info.value.path == "args"
    assert info.value.rule == "4.4#36"


def test_4_4_36_empty_args_is_valid() -> None:
    assert FunctionCall.from_json(call(args={})).args == {}


def test_4_4_37_unknown_function_name_fails_against_tool() -> None:
    tool = Tool.from_json(TOOL)
    with pytest.raises(AdmError, match="no function named 'Get_Weather' is declared") as info:
        FunctionCall.from_json(call(name="Get_Weather")).validate_against(tool)
    assert info.value.path == "name"
    assert info.value.rule == "4.4#37"


def test_4_4_37_name_mismatch_with_declaration_fails() -> None:
    declaration = FunctionDeclaration.from_json(DECLARATION)
    with pytest.raises(AdmError, match="call is for 'other'") as info:
        FunctionCall.from_json(call(name="other")).validate_against(declaration)
    assert info.value.path == "name"


@pytest.mark.parametrize(
    ("args", "path", "match"),
    [
        pytest.param(
            {"days": 1}, "args.city", "required property is missing", id="missing-required"
        ),
        pytest.param({"city": 1}, "args.city", "expected STRING", id="type-mismatch"),
        pytest.param(
            {"city": "x", "unit": "K"},
            "args.unit",
            "not one of the allowed values",
            id="outside-enum",
        ),
        pytest.param(
            {"city": "x", "days": True},
            "args.days",
            "expected INTEGER, got boolean",
            id="bool-for-int",
        ),
    ],
)
def test_4_4_38_args_breaking_schema_fail_validation(
    args: dict[str, Any], path: str, match: str
) -> None:
    with pytest.raises(AdmError, match=match) as info:
        FunctionCall("c", "get_weather", args).validate_against(Tool.from_json(TOOL))
    assert info.value.path == path


def test_4_4_38_valid_args_pass() -> None:
    FunctionCall.from_json(CALL).validate_against(FunctionDeclaration.from_json(DECLARATION))


@pytest.mark.parametrize("profile", list(Profile), ids=lambda p: p.name)
def test_4_4_39_undeclared_root_arg_is_rejected(profile: Profile) -> None:
    with pytest.raises(AdmError, match="unknown property") as info:
        FunctionCall("c", "get_weather", {"city": "x", "country": "CH"}).validate_against(
            FunctionDeclaration.from_json(DECLARATION), profile=profile
        )
    assert info.value.path == "args.country"


def result(**overrides: Any) -> dict[str, Any]:
    base = {"call_id": "c-1", "name": "get_weather"}
    return {**base, **overrides}


@pytest.mark.parametrize("content", [None, 0, "", [], {}, {"a": [1, None]}], ids=repr)
def test_4_4_40_success_requires_content_which_may_be_null(content: object) -> None:
    parsed = ToolResult.from_json(result(status="SUCCESS", content=content))
    assert parsed.content == content
    assert parsed.to_json()["content"] == content


def test_4_4_40_success_without_content_is_rejected() -> None:
    with pytest.raises(AdmError, match="SUCCESS result requires 'content'") as info:
        ToolResult.from_json(result(status="SUCCESS"))
    assert info.value.path == "content"
    assert info.value.rule == "4.4#40"


def test_4_4_40_success_with_error_is_rejected() -> None:
    with pytest.raises(AdmError, match="both 'content' and 'error'") as info:
        ToolResult.from_json(result(status="SUCCESS", content=1, error={"message": "x"}))
    assert info.value.path == "$"


def test_4_4_41_error_requires_error_object() -> None:
    with pytest.raises(AdmError, match="ERROR result requires 'error'") as info:
        ToolResult.from_json(result(status="ERROR"))
    assert info.value.path == "error"
    assert info.value.rule == "4.4#41"


def test_4_4_41_error_with_content_is_rejected() -> None:
    with pytest.raises(AdmError, match="must not carry both") as info:
        ToolResult.from_json(result(status="ERROR", error={"message": "x"}, content=None))
    assert info.value.rule == "4.4#42"
    with pytest.raises(AdmError, match="must not carry 'content'") as info:
        ToolResult("c", "f", ResultStatus.ERROR, content=None, error=None)
    assert info.value.path == "content"


@pytest.mark.parametrize("status", ["PARTIAL", "success", "STREAMING", 1, ""])
def test_4_4_42_unknown_status_is_rejected(status: object) -> None:
    with pytest.raises(AdmError, match="status must be 'SUCCESS' or 'ERROR'") as info:
        ToolResult.from_json(result(status=status, content=1))
    assert info.value.path == "status"
    assert info.value.rule == "4.4#42"


@pytest.mark.parametrize(
    ("overrides", "path"),
    [
        pytest.param({"call_id": ""}, "call_id", id="empty-call-id"),
        pytest.param({"call_id": "x" * 129}, "call_id", id="long-call-id"),
        pytest.param({"name": "bad name"}, "name", id="bad-name"),
    ],
)
def test_4_4_43_result_with_invalid_ids_is_rejected(overrides: dict[str, Any], path: str) -> None:
    with pytest.raises(AdmError, match="call_id|name") as info:
        ToolResult.from_json({**RESULT_OK, **overrides})
    assert info.value.path == path
    assert info.value.rule == "4.4#43"


@pytest.mark.parametrize(
    ("call_obj", "path", "match"),
    [
        pytest.param(
            FunctionCall("c-2", "get_weather", {}),
            "call_id",
            "does not match the call's 'c-2'",
            id="call-id",
        ),
        pytest.param(
            FunctionCall("c-1", "get_Weather", {}),
            "name",
            "does not match the call's 'get_Weather'",
            id="name",
        ),
    ],
)
def test_4_4_43_result_must_match_originating_call(
    call_obj: FunctionCall, path: str, match: str
) -> None:
    with pytest.raises(AdmError, match=match) as info:
        ToolResult.from_json(RESULT_OK).check_matches(call_obj)
    assert info.value.path == path
    ToolResult.from_json(RESULT_OK).check_matches(FunctionCall("c-1", "get_weather", {}))


@pytest.mark.parametrize(
    ("error", "path", "match"),
    [
        pytest.param({}, "error.message", "required field is missing", id="missing-message"),
        pytest.param({"message": "  "}, "error.message", "must not be empty", id="blank-message"),
        pytest.param(
            {"message": "x", "code": 1}, "error.code", "only 'message' and 'type'", id="extra-field"
        ),
        pytest.param(
            {"message": "x", "x_ext": 1},
            "error.x_ext",
            "only 'message' and 'type'",
            id="extension-too",
        ),
        pytest.param(
            {"message": "x", "type": ""}, "error.type", "non-empty string", id="empty-type"
        ),
    ],
)
def test_4_4_44_invalid_error_object_is_rejected(
    error: dict[str, Any], path: str, match: str
) -> None:
    with pytest.raises(AdmError, match=match) as info:
        ToolResult.from_json({**RESULT_ERR, "error": error})
    assert info.value.path == path


def test_4_4_44_error_object_constructor_rejects_blank_message() -> None:
    with pytest.raises(AdmError, match="must not be empty") as info:
        ErrorObject("\n")
    assert info.value.path == "message"


def test_4_4_45_lowercase_error_type_warns() -> None:
    with pytest.warns(AdmWarning, match="should be UPPER_SNAKE_CASE"):
        ErrorObject.from_json({"message": "x", "type": "notFound"})


def test_4_4_45_long_message_warns() -> None:
    with pytest.warns(AdmWarning, match="at most 500"):
        ErrorObject.from_json({"message": "m" * 501})


def test_4_4_45_failure_helper_keeps_messages_within_500_chars() -> None:
    made = ToolResult.failure("c", "f", "m" * 900, "TOOL_EXECUTION_FAILED")
    assert made.error is not None
    assert len(made.error.message) == 500
    assert made.error.type == "TOOL_EXECUTION_FAILED"


def test_4_4_45_upper_snake_type_is_quiet() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ErrorObject.from_json({"message": "x", "type": "PARAMETER_VALIDATION_FAILED"})


def test_c_18_missing_content_differs_from_null_content() -> None:
    ok_null = ToolResult.success("c", "f", None)
    err = ToolResult.failure("c", "f", "no")
    assert ok_null.content is None
    assert err.content is MISSING
    assert not MISSING
    assert repr(MISSING) == "MISSING"
    assert "content" in ok_null.to_json()
    assert "content" not in err.to_json()


def test_result_constructor_enforces_discriminator() -> None:
    with pytest.raises(AdmError, match="SUCCESS result requires 'content'"):
        ToolResult("c", "f", ResultStatus.SUCCESS)
    with pytest.raises(AdmError, match="status must be a ResultStatus"):
        ToolResult("c", "f", cast(Any, "SUCCESS"), content=1)


def test_result_optional_null_error_type_strict_vs_lenient() -> None:
    doc = {**RESULT_ERR, "error": {"message": "x", "type": None}}
    with pytest.raises(AdmError, match="does not use null") as info:
        ToolResult.from_json(doc)
    assert info.value.path == "error.type"
    assert ToolResult.from_json(doc, profile=Profile.LENIENT).error == ErrorObject("x")
