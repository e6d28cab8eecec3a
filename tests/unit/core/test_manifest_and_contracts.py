"""Manifest loading (GRID F1, item 61) and the contract core type (C-3, C-17, C-47)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aesp.core.contracts import ContractStatus, ToolContract, with_status
from aesp.core.errors import AespError, ConfigurationError
from aesp.core.manifest import ManifestStore, load_manifest, parse_manifest

ADD = {
    "name": "add",
    "description": "Add two integers.",
    "parameters": {
        "type": "OBJECT",
        "properties": {"a": {"type": "INTEGER"}, "b": {"type": "INTEGER"}},
        "required": ["a", "b"],
    },
}


def test_item_61_missing_manifest_stops_startup(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as info:
        load_manifest(tmp_path / "absent.json")
    assert info.value.code == "MISSING_MANIFEST"


@pytest.mark.parametrize(
    ("doc", "why"),
    [
        ("{not json", "not valid JSON"),
        ({"manifest_version": "1.0.0-beta", "contracts": [ADD]}, "manifest_version"),
        ({"manifest_version": "1.0.0", "contracts": []}, "non-empty"),
        ({"manifest_version": "1.0.0", "contracts": [ADD, ADD]}, "two contracts"),
        ({"manifest_version": "1.0.0", "contracts": [{**ADD, "name": "2bad"}]}, "name"),
        (
            {"manifest_version": "1.0.0", "contracts": [{**ADD, "parameters": {"type": "string"}}]},
            "type",
        ),
        ({"manifest_version": "1.0.0", "contracts": [ADD], "extra": 1}, "unknown field"),
    ],
)
def test_item_61_invalid_manifest_is_invalid_config(tmp_path: Path, doc: object, why: str) -> None:
    path = tmp_path / "m.json"
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    with pytest.raises(ConfigurationError, match=why) as info:
        load_manifest(path)
    assert info.value.code == "INVALID_CONFIG"


def test_static_manifest_contracts_are_active_by_default() -> None:
    manifest = parse_manifest({"manifest_version": "1.0.0", "contracts": [ADD]})
    assert manifest.active("add") is not None
    assert manifest.active_names() == ["add"]


def test_item_167_only_active_contracts_are_callable() -> None:
    draft = {**ADD, "name": "draft_tool", "approval_status": "DRAFT"}
    manifest = parse_manifest({"manifest_version": "1.0.0", "contracts": [ADD, draft]})
    assert manifest.get("draft_tool") is not None
    assert manifest.active("draft_tool") is None


def test_digest_covers_content_not_lifecycle() -> None:
    contract = ToolContract.from_json(ADD)
    approved = with_status(contract, ContractStatus.ACTIVE, approved_by="bob", approved_at=5)
    assert approved.digest == contract.digest
    changed = ToolContract.from_json({**ADD, "description": "Add two whole numbers."})
    assert changed.digest != contract.digest
    reordered = ToolContract.from_json(dict(reversed(list(ADD.items()))))
    assert reordered.digest == contract.digest


def test_item_168_declaration_is_lossless() -> None:
    decl = ToolContract.from_json(ADD).declaration()
    assert (decl.name, decl.description, dict(decl.parameters)) == (
        ADD["name"],
        ADD["description"],
        ADD["parameters"],
    )


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"description": "x" * 1001}, "description"),
        ({"description": "   "}, "description"),
        ({"security_classification": "SECRET"}, "security_classification"),
        ({"contract_version": "v1"}, "contract_version"),
        ({"approval_status": "APPROVED"}, "approval_status"),
        ({"required_roles": "admin"}, "required_roles"),
        (
            {
                "parameters": {
                    "type": "OBJECT",
                    "properties": {"a": {"type": "INTEGER", "minimum": 1}},
                }
            },
            "minimum",
        ),
        ({"parameters": {"type": "STRING"}}, "parameters"),
    ],
)
def test_strict_contract_validation(patch: dict[str, object], field: str) -> None:
    with pytest.raises(AespError, match=field) as info:
        ToolContract.from_json({**ADD, **patch})
    assert info.value.code == "SCHEMA_VIOLATION"


def test_manifest_swap_is_versioned_and_keeps_old_snapshot() -> None:
    store = ManifestStore(parse_manifest({"manifest_version": "1.0.0", "contracts": [ADD]}))
    seen = []
    store.subscribe(seen.append)
    before = store.current
    new = store.swap({})
    assert new.version == before.version + 1
    assert before.active("add") is not None  # an in-flight call keeps its snapshot (C-10)
    assert store.current.active("add") is None
    assert seen == [new]


def test_compiled_contract_checks_arguments() -> None:
    contract = ToolContract.from_json(ADD)
    contract.check_args({"a": 1, "b": 2})
    with pytest.raises(ValueError, match="args"):
        contract.check_args({"a": 1})
