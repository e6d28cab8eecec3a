"""The promotion path (SPEC §3.9, AESP §6): a LATER tool or an ADM FunctionDeclaration becomes an
``EnterpriseToolContract`` in DRAFT, ready to be submitted for approval.

Step 4 of the path adds "the security classification, risk assessment, compliance tags,
required roles and permissions, and contract version"; item 168 requires that the ``name``,
``description`` and parameter schema come through unchanged. They are copied, never rebuilt,
and :func:`promote` checks that the resulting contract's declaration equals the source.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aesp.adm import AdmError, FunctionDeclaration, Tool, parse_json
from aesp.core.contracts import ContractStatus, ToolContract
from aesp.core.errors import ValidationError
from aesp.later import build_declaration, get_registered

__all__ = [
    "Promotion",
    "declaration_from_callable",
    "declaration_from_file",
    "declaration_from_function",
    "promote",
]


@dataclass(frozen=True, slots=True)
class Promotion:
    """What step 4 adds to a declaration (SPEC §3.5.2 fields 2, 7-9, 13-15).

    Attributes:
        contract_version: SemVer version of the contract.
        security_classification: PUBLIC, INTERNAL, CONFIDENTIAL or RESTRICTED.
        risk_assessment: LOW, MEDIUM or HIGH.
        compliance_tags: e.g. GDPR, HIPAA.
        required_roles: Roles needed to execute (any of them).
        required_permissions: Permissions needed to execute (all of them).
        governance_metadata: Other key/values.
        supports_streaming: Whether results are streamed (a LATER generator tool).
    """

    contract_version: str = "1.0.0"
    security_classification: str = "INTERNAL"
    risk_assessment: str = "LOW"
    compliance_tags: Sequence[str] = ()
    required_roles: Sequence[str] = ()
    required_permissions: Sequence[str] = ()
    governance_metadata: Mapping[str, str] = field(default_factory=dict[str, str])
    supports_streaming: bool = False


def _invalid(why: str) -> ValidationError:
    return ValidationError("MALFORMED_REQUEST", f"{why}.", details={"field": "declaration"})


def declaration_from_function(spec: str) -> tuple[FunctionDeclaration, bool]:
    """The declaration of a LATER tool named ``module:function`` and whether it streams.

    A ``@tool`` function yields the declaration its decorator registered; an undecorated
    function is introspected exactly as ``@tool`` would.

    Raises:
        ValidationError: ``MALFORMED_REQUEST`` when the module or function cannot be found or
            the function cannot be expressed in ADM.
    """
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise _invalid(f"'{spec}' must name a function as module:function")
    try:
        target: Any = importlib.import_module(module_name)
        for part in attribute.split("."):
            target = getattr(target, part)
    except (ImportError, AttributeError) as exc:
        raise _invalid(f"cannot load '{spec}': {exc}") from None
    return declaration_from_callable(target, spec)


def declaration_from_callable(target: object, label: str = "") -> tuple[FunctionDeclaration, bool]:
    """The declaration of a function and whether it streams: the one ``@tool`` registered, or
    the function introspected exactly as ``@tool`` would.

    Raises:
        ValidationError: ``MALFORMED_REQUEST`` when it is not a function ADM can express.
    """
    label = label or repr(target)
    if not callable(target):
        raise _invalid(f"'{label}' is not a function")
    registered = get_registered(target)
    if registered is not None:
        return registered.declaration, registered.streaming
    try:
        return build_declaration(target), False
    except (TypeError, ValueError) as exc:
        raise _invalid(f"'{label}' cannot be expressed as an ADM declaration: {exc}") from None


def declaration_from_file(data: bytes, function: str = "") -> FunctionDeclaration:
    """The declaration in an ADM JSON document: a FunctionDeclaration, or a Tool holding one
    (or several, with ``function`` naming which).

    Raises:
        ValidationError: ``MALFORMED_REQUEST`` naming the problem and its JSON path.
    """
    try:
        obj = parse_json(data)
        if isinstance(obj, Mapping) and "function_declarations" in obj:
            tool = Tool.from_json(obj)
            if function:
                found = tool.get(function)
                if found is None:
                    raise _invalid(f"the Tool declares no function '{function}'")
                return found
            if len(tool.function_declarations) != 1:
                raise _invalid("the Tool declares several functions; name one")
            return tool.function_declarations[0]
        declaration = FunctionDeclaration.from_json(obj)
    except AdmError as exc:
        raise _invalid(f"not an ADM declaration: {exc.path or 'document'}: {exc.reason}") from None
    if function and declaration.name != function:
        raise _invalid(f"the declaration is '{declaration.name}', not '{function}'")
    return declaration


def promote(declaration: FunctionDeclaration, promotion: Promotion) -> dict[str, Any]:
    """The EnterpriseToolContract JSON (status DRAFT) promoting ``declaration``.

    Raises:
        ValidationError: ``SCHEMA_VIOLATION`` when the added fields are invalid (e.g. an
            unknown classification), as :meth:`ToolContract.from_json` reports it.
    """
    contract: dict[str, Any] = {
        # Item 168: copied unchanged from the declaration.
        "name": declaration.name,
        "description": declaration.description,
        "parameters": declaration.parameters,
        # Step 4: what promotion adds.
        "contract_version": promotion.contract_version,
        "security_classification": promotion.security_classification.upper(),
        "risk_assessment": promotion.risk_assessment.upper(),
        "compliance_tags": list(promotion.compliance_tags),
        "required_roles": list(promotion.required_roles),
        "required_permissions": list(promotion.required_permissions),
        "governance_metadata": dict(promotion.governance_metadata),
        "supports_streaming": promotion.supports_streaming,
        "approval_status": ContractStatus.DRAFT.value,
    }
    checked = ToolContract.from_json(contract)
    if checked.declaration() != FunctionDeclaration(
        name=declaration.name,
        description=declaration.description,
        parameters=declaration.parameters,
    ):
        raise _invalid("promotion changed the declaration's name, description or parameters")
    return contract
