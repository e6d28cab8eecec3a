"""The Host's trusted tool contract: ``EnterpriseToolContract`` as a core type (SPEC §3.5.2, C-3).

One contract describes exactly one function; its ``name`` is the ``FunctionCall.name``. The
parameter schema is an ADM root OBJECT schema, validated with the STRICT profile, and compiled
once into an argument validator so that the per-call check costs microseconds.

A contract is identified by name, version and the SHA-256 digest of its canonical JSON
(DESIGN §2 principle 1). The digest covers the contract's *content*; the lifecycle fields
(``approval_status``, ``approved_by``, ``approved_at``) are state, not content, so approving a
contract does not change its digest.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aesp.adm import (
    AdmError,
    FunctionDeclaration,
    Profile,
    compile_validator,
    content_digest,
    validate_name,
    validate_schema,
)
from aesp.core.errors import ValidationError


class ContractStatus(enum.StrEnum):
    """Contract lifecycle (C-4, DESIGN §7). Only ACTIVE is fulfillable and callable."""

    DRAFT = "DRAFT"
    PENDING_APPROVAL = "PENDING_APPROVAL"
    ACTIVE = "ACTIVE"
    REJECTED = "REJECTED"
    DEPRECATED = "DEPRECATED"
    RETIRED = "RETIRED"


# Ordered sensitivity levels (C-32), compared case-insensitively.
CLASSIFICATIONS = ("PUBLIC", "INTERNAL", "CONFIDENTIAL", "RESTRICTED")
RISKS = ("LOW", "MEDIUM", "HIGH")
MAX_DESCRIPTION = 1000  # C-17: rejected above this in strict-contract mode
_SEMVER = re.compile(r"^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$")

_CONTENT_KEYS = (
    "name",
    "contract_version",
    "description",
    "parameters",
    "return_type",
    "supports_streaming",
    "security_classification",
    "required_roles",
    "required_permissions",
    "compliance_tags",
    "risk_assessment",
    "governance_metadata",
)
_STATE_KEYS = ("approval_status", "approved_by", "approved_at")


@dataclass(frozen=True, slots=True)
class ToolContract:
    """A trusted contract. Build it with :meth:`from_json`; never trust a Runtime's copy."""

    name: str
    contract_version: str
    description: str
    parameters: Mapping[str, Any]
    return_type: Mapping[str, Any] | None = None
    supports_streaming: bool = False
    security_classification: str = "INTERNAL"
    required_roles: tuple[str, ...] = ()
    required_permissions: tuple[str, ...] = ()
    approval_status: ContractStatus = ContractStatus.DRAFT
    approved_by: str = ""
    approved_at: int = 0
    compliance_tags: tuple[str, ...] = ()
    risk_assessment: str = "LOW"
    governance_metadata: Mapping[str, str] = field(default_factory=dict)
    digest: str = field(default="", compare=False)
    check_args: Callable[[object], None] = field(default=lambda _v: None, compare=False, repr=False)
    check_result: Callable[[object], None] | None = field(default=None, compare=False, repr=False)

    @property
    def active(self) -> bool:
        """Whether the contract may be fulfilled and called."""
        return self.approval_status is ContractStatus.ACTIVE

    def content_json(self) -> dict[str, Any]:
        """The contract's content, the input of its digest."""
        out: dict[str, Any] = {
            "name": self.name,
            "contract_version": self.contract_version,
            "description": self.description,
            "parameters": self.parameters,
            "supports_streaming": self.supports_streaming,
            "security_classification": self.security_classification,
            "required_roles": list(self.required_roles),
            "required_permissions": list(self.required_permissions),
            "compliance_tags": list(self.compliance_tags),
            "risk_assessment": self.risk_assessment,
            "governance_metadata": dict(self.governance_metadata),
        }
        if self.return_type is not None:
            out["return_type"] = self.return_type
        return out

    def to_json(self) -> dict[str, Any]:
        """Full JSON form (content plus lifecycle state), as stored in a manifest."""
        out = self.content_json()
        out["approval_status"] = self.approval_status.value
        if self.approved_by:
            out["approved_by"] = self.approved_by
        if self.approved_at:
            out["approved_at"] = self.approved_at
        return out

    def declaration(self) -> FunctionDeclaration:
        """The ADM FunctionDeclaration this contract promotes (item 168: lossless)."""
        return FunctionDeclaration(
            name=self.name, description=self.description, parameters=self.parameters
        )

    @classmethod
    def from_json(
        cls, obj: object, *, default_status: ContractStatus = ContractStatus.DRAFT
    ) -> ToolContract:
        """Validate and build a contract (STRICT profile, C-16/C-17).

        Args:
            obj: The JSON object of one contract.
            default_status: Status when the object has no ``approval_status``.

        Raises:
            ValidationError: ``SCHEMA_VIOLATION`` naming the failing field.
        """
        if not isinstance(obj, Mapping):
            raise _invalid("contract", "must be a JSON object")
        unknown = set(obj) - set(_CONTENT_KEYS) - set(_STATE_KEYS)
        unknown = {k for k in unknown if not k.startswith(("x_", "vendor_", "_"))}
        if unknown:
            raise _invalid(sorted(unknown)[0], "is not a field of EnterpriseToolContract")
        name = _string(obj, "name")
        try:
            validate_name(name, "name")
            parameters = obj.get("parameters")
            validate_schema(parameters, profile=Profile.STRICT, path="parameters")
            return_type = obj.get("return_type")
            if return_type is not None:
                validate_schema(return_type, profile=Profile.STRICT, path="return_type")
        except AdmError as exc:
            raise _invalid(exc.path, exc.reason) from None
        if not isinstance(parameters, Mapping) or parameters.get("type") != "OBJECT":
            raise _invalid("parameters", "must be an ADM schema of type OBJECT")
        description = _string(obj, "description")
        if not description.strip():
            raise _invalid("description", "must not be empty")
        if len(description) > MAX_DESCRIPTION:
            raise _invalid("description", f"is longer than {MAX_DESCRIPTION} characters")
        version = _string(obj, "contract_version", "1.0.0")
        if not _SEMVER.match(version):
            raise _invalid("contract_version", "must be a semantic version such as 1.2.0")
        classification = _string(obj, "security_classification", "INTERNAL").upper()
        if classification not in CLASSIFICATIONS:
            raise _invalid(
                "security_classification", f"must be one of {', '.join(CLASSIFICATIONS)}"
            )
        risk = _string(obj, "risk_assessment", "LOW").upper()
        if risk not in RISKS:
            raise _invalid("risk_assessment", f"must be one of {', '.join(RISKS)}")
        status_raw = _string(obj, "approval_status", default_status.value)
        try:
            status = ContractStatus(status_raw)
        except ValueError:
            raise _invalid("approval_status", f"{status_raw!r} is not a lifecycle state") from None
        contract = cls(
            name=name,
            contract_version=version,
            description=description,
            parameters=parameters,
            return_type=return_type,
            supports_streaming=_bool(obj, "supports_streaming"),
            security_classification=classification,
            required_roles=_strings(obj, "required_roles"),
            required_permissions=_strings(obj, "required_permissions"),
            approval_status=status,
            approved_by=_string(obj, "approved_by", ""),
            approved_at=_int(obj, "approved_at"),
            compliance_tags=_strings(obj, "compliance_tags"),
            risk_assessment=risk,
            governance_metadata=_string_map(obj, "governance_metadata"),
        )
        return contract.compiled()

    def compiled(self) -> ToolContract:
        """Return a copy with its digest and compiled validators filled in."""
        check_result = None
        if self.return_type is not None:
            check_result = compile_validator(self.return_type, root_args=False)
        return _replace(
            self,
            digest=content_digest(self.content_json()),
            check_args=compile_validator(self.parameters, profile=Profile.STRICT, root_args=True),
            check_result=check_result,
        )


def _replace(contract: ToolContract, **changes: Any) -> ToolContract:
    values = {f: getattr(contract, f) for f in contract.__dataclass_fields__}
    values.update(changes)
    return ToolContract(**values)


def with_status(contract: ToolContract, status: ContractStatus, **changes: Any) -> ToolContract:
    """A copy of ``contract`` in another lifecycle state (digest unchanged)."""
    return _replace(contract, approval_status=status, **changes)


def _invalid(path: str, reason: str) -> ValidationError:
    return ValidationError(
        "SCHEMA_VIOLATION", f"Contract field '{path}' {reason}.", details={"field": path}
    )


def _string(obj: Mapping[str, Any], key: str, default: str | None = None) -> str:
    value = obj.get(key, default)
    if not isinstance(value, str):
        raise _invalid(key, "must be a string" if key in obj else "is required")
    return value


def _bool(obj: Mapping[str, Any], key: str) -> bool:
    value = obj.get(key, False)
    if not isinstance(value, bool):
        raise _invalid(key, "must be true or false")
    return value


def _int(obj: Mapping[str, Any], key: str) -> int:
    value = obj.get(key, 0)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise _invalid(key, "must be a non-negative integer")
    return value


def _strings(obj: Mapping[str, Any], key: str) -> tuple[str, ...]:
    value = obj.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise _invalid(key, "must be a list of non-empty strings")
    return tuple(value)


def _string_map(obj: Mapping[str, Any], key: str) -> dict[str, str]:
    value = obj.get(key, {})
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and k and isinstance(v, str) for k, v in value.items()
    ):
        raise _invalid(key, "must map non-empty strings to strings")
    return dict(value)
