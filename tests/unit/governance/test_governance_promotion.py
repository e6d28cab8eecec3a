"""The promotion path (SPEC §3.9): a LATER tool or an ADM declaration becomes a DRAFT
EnterpriseToolContract with name, description and parameters unchanged (item 168)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aesp import cli_governance
from aesp.adm import FunctionDeclaration
from aesp.core.contracts import ContractStatus, ToolContract
from aesp.core.errors import AespError
from aesp.core.governance.promotion import (
    Promotion,
    declaration_from_file,
    declaration_from_function,
    promote,
)
from aesp.examples import tools as example_tools
from aesp.later import get_registered

DECLARATION = {
    "name": "lookup_order",
    "description": "Find an order by its number.",
    "parameters": {
        "type": "OBJECT",
        "properties": {"number": {"type": "INTEGER", "description": "Order number."}},
        "required": ["number"],
    },
}
PROMOTION = Promotion(
    contract_version="2.1.0",
    security_classification="confidential",
    risk_assessment="medium",
    compliance_tags=("GDPR",),
    required_roles=("support",),
    required_permissions=("orders:lookup:read",),
)


def test_168_a_later_tool_keeps_name_description_and_schema() -> None:
    declaration, streaming = declaration_from_function("aesp.examples.tools:convert_currency")
    registered = get_registered(example_tools.convert_currency)
    assert registered is not None and declaration is registered.declaration and not streaming
    contract = ToolContract.from_json(promote(declaration, PROMOTION))
    assert contract.declaration() == declaration  # item 168
    assert contract.approval_status is ContractStatus.DRAFT
    assert (contract.contract_version, contract.security_classification) == (
        "2.1.0",
        "CONFIDENTIAL",
    )
    assert (contract.risk_assessment, contract.compliance_tags) == ("MEDIUM", ("GDPR",))
    assert (contract.required_roles, contract.required_permissions) == (
        ("support",),
        ("orders:lookup:read",),
    )
    _, streams = declaration_from_function("aesp.examples.tools:word_stream")
    assert streams


def test_168_an_adm_declaration_file_keeps_name_description_and_schema() -> None:
    declaration = declaration_from_file(json.dumps(DECLARATION).encode())
    promoted = promote(declaration, PROMOTION)
    assert {k: promoted[k] for k in ("name", "description", "parameters")} == DECLARATION
    tool = {"function_declarations": [DECLARATION, {**DECLARATION, "name": "cancel_order"}]}
    picked = declaration_from_file(json.dumps(tool).encode(), "cancel_order")
    assert picked.name == "cancel_order" and picked.parameters == DECLARATION["parameters"]
    with pytest.raises(AespError, match="several functions"):
        declaration_from_file(json.dumps(tool).encode())


def test_promotion_refuses_what_a_contract_cannot_be() -> None:
    declaration = FunctionDeclaration.from_json(DECLARATION)
    with pytest.raises(AespError) as bad:
        promote(declaration, Promotion(security_classification="SECRET"))
    assert bad.value.code == "SCHEMA_VIOLATION"
    with pytest.raises(AespError, match="module:function"):
        declaration_from_function("aesp.examples.tools")
    with pytest.raises(AespError, match="cannot load"):
        declaration_from_function("aesp.examples.tools:nothing_here")
    with pytest.raises(AespError, match="not an ADM declaration"):
        declaration_from_file(b'{"name": "x"}')


def test_the_cli_prints_the_promoted_contract_on_a_dry_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "lookup.json"
    source.write_text(json.dumps(DECLARATION), encoding="utf-8")
    code = cli_governance.main(
        [
            "contracts",
            "promote",
            str(source),
            "--classification",
            "internal",
            "--risk",
            "high",
            "--roles",
            "support, ops",
            "--compliance-tags",
            "GDPR,SOX",
            "--dry-run",
        ]
    )
    assert code == 0
    printed = json.loads(capsys.readouterr().out)
    assert {k: printed[k] for k in ("name", "description", "parameters")} == DECLARATION
    assert printed["required_roles"] == ["support", "ops"]
    assert (printed["risk_assessment"], printed["approval_status"]) == ("HIGH", "DRAFT")
    assert (
        cli_governance.main(
            [
                "contracts",
                "promote",
                str(source),
                "--classification",
                "NOPE",
                "--risk",
                "LOW",
                "--dry-run",
            ]
        )
        == 2
    )
