"""Dynamic tool registration (GRID F5), allowed only on a DEVELOPMENT-mode GRID Host.

A STRICT Host refuses every registration (item 62). A DEVELOPMENT Host validates each ADM Tool
on its own: valid ones are registered for the one session named (item 69), invalid ones are
reported with one error each (items 65-67). A registration can never shadow a manifest contract
(item 71) and a session holds at most ``max_dynamic_tools_per_session`` of them (item 70).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from aesp.adm import AdmError, Profile, Tool
from aesp.core.contracts import ContractStatus, ToolContract
from aesp.core.errors import AespError, ValidationError
from aesp.core.manifest import Manifest
from aesp.core.sessions import Session


@dataclass
class RegistrationOutcome:
    """Names accepted, names rejected and one error per rejected entry."""

    accepted: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    errors: list[AespError] = field(default_factory=list)

    @property
    def status(self) -> str:
        """SUCCESS, PARTIAL_SUCCESS or FAILURE (C-15: SUCCESS needs accepted names)."""
        if self.accepted and not self.rejected:
            return "SUCCESS"
        return "PARTIAL_SUCCESS" if self.accepted else "FAILURE"

    def reject(self, name: str, error: AespError) -> None:
        """Record one rejected entry."""
        self.rejected.append(name)
        self.errors.append(error)


def refuse_all(tools: Sequence[Mapping[str, object]], error: AespError) -> RegistrationOutcome:
    """Reject every tool with the same error (STRICT mode, unknown session, ...)."""
    outcome = RegistrationOutcome()
    for index, tool in enumerate(tools):
        outcome.reject(_label(tool, index), error)
    return outcome


def register(
    session: Session,
    manifest: Manifest,
    tools: Sequence[Mapping[str, object]],
    *,
    limit: int,
) -> tuple[RegistrationOutcome, list[ToolContract]]:
    """Validate ``tools`` (ADM Tool JSON objects) and return the outcome and the new contracts.

    The caller installs the returned contracts in ``session.dynamic_contracts``.
    """
    outcome = RegistrationOutcome()
    added: list[ToolContract] = []
    taken = set(session.dynamic_contracts)
    for index, raw in enumerate(tools):
        label = _label(raw, index)
        try:
            tool = Tool.from_json(raw, profile=Profile.STRICT)
        except AdmError as exc:
            outcome.reject(
                label,
                ValidationError(
                    "SCHEMA_VIOLATION",
                    f"Tool {label} is invalid: {exc}.",
                    details={"field": exc.path},
                ),
            )
            continue
        names = [d.name for d in tool.function_declarations]
        clash = [n for n in names if manifest.get(n) is not None]
        if clash:
            outcome.reject(
                label,
                ValidationError(
                    "SCHEMA_VIOLATION",
                    f"'{clash[0]}' is a manifest contract; a registration cannot replace it.",
                    details={"reason": "NAME_CONFLICT", "name": clash[0]},
                ),
            )
            continue
        if len(taken | set(names)) > limit:
            outcome.reject(
                label,
                ValidationError(
                    "FEATURE_UNAVAILABLE",
                    f"The session already holds its maximum of {limit} dynamic tools.",
                    details={"reason": "LIMIT"},
                ),
            )
            continue
        for decl in tool.function_declarations:
            contract = ToolContract(
                name=decl.name,
                contract_version="0.0.0-dev",
                description=decl.description,
                parameters=decl.parameters,
                approval_status=ContractStatus.ACTIVE,
                governance_metadata={"origin": "dynamic-registration"},
            ).compiled()
            added.append(contract)
            taken.add(decl.name)
            outcome.accepted.append(decl.name)
    return outcome, added


def _label(tool: Mapping[str, object], index: int) -> str:
    decls = tool.get("function_declarations") if isinstance(tool, Mapping) else None
    if isinstance(decls, list):
        names = [d.get("name") for d in decls if isinstance(d, Mapping)]
        if names and all(isinstance(n, str) and n for n in names):
            return ",".join(str(n) for n in names)
    return f"tools[{index}]"
