"""SPEC §4.4 checklist items 46-50: ToolManifest and extension fields."""

from __future__ import annotations

import copy
from typing import Any, cast

import pytest
from _adm_samples import CALL, DECLARATION, MANIFEST, RESULT_OK, TOOL

from aesp.adm import (
    AdmError,
    FunctionCall,
    FunctionDeclaration,
    Profile,
    Tool,
    ToolManifest,
    ToolResult,
    canonical_json,
    parse_json,
)


def manifest(**overrides: Any) -> dict[str, Any]:
    return {**copy.deepcopy(MANIFEST), **overrides}


@pytest.mark.parametrize(
    "version",
    ["1.0.0-beta", "1.0", "v1.0.0", "1.0.0+build", "1.0.0\n", "١.٠.٠", "", "1.0.0.0"],
    ids=[
        "pre-release",
        "two-parts",
        "v-prefix",
        "build",
        "newline",
        "arabic-digits",
        "empty",
        "four-parts",
    ],
)
def test_4_4_46_bad_manifest_version_is_rejected(version: str) -> None:
    with pytest.raises(AdmError, match="manifest_version must look like '1.0.0'") as info:
        ToolManifest.from_json(manifest(manifest_version=version))
    assert info.value.path == "manifest_version"
    assert info.value.rule == "4.4#46"


def test_4_4_46_missing_manifest_version_is_rejected() -> None:
    doc = manifest()
    del doc["manifest_version"]
    with pytest.raises(AdmError, match="required field is missing") as info:
        ToolManifest.from_json(doc)
    assert info.value.path == "manifest_version"


@pytest.mark.parametrize("version", ["1.0.0", "10.20.30", "0.0.1"])
def test_4_4_46_semver_core_is_accepted(version: str) -> None:
    assert ToolManifest.from_json(manifest(manifest_version=version)).manifest_version == version


@pytest.mark.parametrize(
    ("contracts", "match"),
    [
        pytest.param([], "at least one contract", id="empty"),
        pytest.param(None, "required field must not be null", id="null"),
        pytest.param({}, "must be an array", id="object"),
    ],
)
def test_4_4_47_empty_or_missing_contracts_are_rejected(contracts: object, match: str) -> None:
    with pytest.raises(AdmError, match=match) as info:
        ToolManifest.from_json(manifest(contracts=contracts))
    assert info.value.path == "contracts"


def test_4_4_47_contract_must_be_an_object() -> None:
    with pytest.raises(AdmError, match="a contract must be an object") as info:
        ToolManifest.from_json(manifest(contracts=["weather"]))
    assert info.value.path == "contracts[0]"


def test_4_4_48_duplicate_contract_names_are_rejected() -> None:
    with pytest.raises(AdmError, match="duplicate contract name 'a' \\(also at index 0\\)") as info:
        ToolManifest.from_json(manifest(contracts=[{"name": "a"}, {"name": "b"}, {"name": "a"}]))
    assert info.value.path == "contracts[2].name"
    assert info.value.rule == "4.4#48"


@pytest.mark.parametrize(
    "contract", [{}, {"name": ""}, {"name": 3}], ids=["no-name", "empty-name", "int-name"]
)
def test_4_4_48_contract_needs_a_name(contract: dict[str, Any]) -> None:
    with pytest.raises(AdmError, match="non-empty string 'name'") as info:
        ToolManifest.from_json(manifest(contracts=[contract]))
    assert info.value.path == "contracts[0].name"


@pytest.mark.parametrize(
    ("metadata", "path", "match"),
    [
        pytest.param(
            {"": "x"}, "global_metadata", "keys must be non-empty strings", id="empty-key"
        ),
        pytest.param(
            {"owner": 1}, "global_metadata.owner", "values must be strings", id="int-value"
        ),
        pytest.param(
            {"owner": None}, "global_metadata.owner", "values must be strings", id="null-value"
        ),
        pytest.param(["owner"], "global_metadata", "must be an object", id="array"),
    ],
)
def test_4_4_49_bad_global_metadata_is_rejected(metadata: object, path: str, match: str) -> None:
    with pytest.raises(AdmError, match=match) as info:
        ToolManifest.from_json(manifest(global_metadata=metadata))
    assert info.value.path == path
    assert info.value.rule == "4.4#49"


def test_4_4_49_empty_metadata_values_are_allowed() -> None:
    parsed = ToolManifest.from_json(manifest(global_metadata={"owner": "", "approved_by": "x"}))
    assert parsed.global_metadata == {"owner": "", "approved_by": "x"}
    assert parsed.contract("weather") is parsed.contracts[0]
    assert parsed.contract("nope") is None


EXT = {
    "x_trace": {"id": [1, 2]},
    "vendor_acme_tier": "gold",
    "grid_route": "eu",
    "later_cache": True,
}


@pytest.mark.parametrize("profile", list(Profile), ids=lambda p: p.name)
@pytest.mark.parametrize(
    ("cls", "doc"),
    [
        pytest.param(FunctionDeclaration, DECLARATION, id="FunctionDeclaration"),
        pytest.param(Tool, TOOL, id="Tool"),
        pytest.param(FunctionCall, CALL, id="FunctionCall"),
        pytest.param(ToolResult, RESULT_OK, id="ToolResult"),
        pytest.param(ToolManifest, MANIFEST, id="ToolManifest"),
    ],
)
def test_4_4_50_extension_fields_survive_round_trip(
    cls: Any, doc: dict[str, Any], profile: Profile
) -> None:
    source = {**doc, **EXT}
    parsed = cls.from_json(parse_json(canonical_json(source)), profile=profile)
    assert dict(parsed.extensions) == EXT
    assert canonical_json(parsed.to_json()) == canonical_json(source)


def test_4_4_50_unprefixed_unknown_field_rejected_in_strict_kept_in_lenient() -> None:
    source = {**CALL, "priority": "high"}
    with pytest.raises(AdmError, match="unknown FunctionCall field") as info:
        FunctionCall.from_json(source)
    assert info.value.path == "priority"
    assert info.value.rule == "C-16"
    assert FunctionCall.from_json(source, profile=Profile.LENIENT).to_json() == source


def test_4_4_50_extension_cannot_shadow_a_field() -> None:
    with pytest.raises(AdmError, match="shadows a FunctionCall field") as info:
        FunctionCall("c", "f", {}, extensions={"name": "x"})
    assert info.value.path == "extensions.name"


def test_4_4_50_extensions_are_read_only_copies() -> None:
    source = {"x_a": 1}
    made = FunctionCall("c", "f", {}, extensions=source)
    source["x_a"] = 2
    assert made.extensions == {"x_a": 1}
    with pytest.raises(TypeError):
        cast(Any, made.extensions)["x_b"] = 1
