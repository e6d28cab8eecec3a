"""Contract lifecycle after ACTIVE: ACTIVE → DEPRECATED → RETIRED, each step approved (DESIGN §7).

A lifecycle change is a TOOL_CONTRACT_V1 artifact of its own, so it goes through the same
workflows, approvers and audit as a new contract version (SPEC §3.9 "version updates require
governance approval"; KR 13 "lifecycle covers deprecation and retirement")::

    {"lifecycle": "DEPRECATE", "name": "crm.lookup", "contract_version": "1.2.0",
     "reason": "replaced by crm.search"}

with ``artifact_id`` ``crm.lookup@1.2.0#deprecate`` (or ``#retire``).

Rules (docs/protocol-decisions.md):

* Only ACTIVE is executable (SPEC §5 resolution of §3.9): a DEPRECATED or RETIRED contract is
  neither listed, fulfilled nor called. Calls already in flight finish on the object they hold
  (C-10). A refused call names the contract's state, so a caller learns why the tool went away.
* DEPRECATE needs the named version ACTIVE; RETIRE needs it DEPRECATED. Both are checked at
  request time and again at enactment (the manifest may have moved in between).
* RETIRED is terminal for that version. A greater version of the same name may be approved later
  (a new contract, its own approval).
* The step survives restarts: :func:`replay` re-applies approved lifecycle steps in the order
  they were approved.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from aesp.adm import AdmError, canonical_json, parse_json
from aesp.core.contracts import ContractStatus, ToolContract, with_status
from aesp.core.errors import StateError, ValidationError
from aesp.core.governance.model import Approval, Enacted, Prepared
from aesp.core.manifest import ManifestStore

__all__ = ["LifecycleStep", "Step", "is_lifecycle", "parse_step", "prepare", "enact", "replay"]

KEY = "lifecycle"
_REASON_MAX = 1024


class Step(enum.StrEnum):
    """A lifecycle transition and the state it leads to."""

    DEPRECATE = "DEPRECATE"
    RETIRE = "RETIRE"

    @property
    def source(self) -> ContractStatus:
        """The state the contract must be in."""
        return ContractStatus.ACTIVE if self is Step.DEPRECATE else ContractStatus.DEPRECATED

    @property
    def target(self) -> ContractStatus:
        """The state the step leads to."""
        return ContractStatus.DEPRECATED if self is Step.DEPRECATE else ContractStatus.RETIRED


@dataclass(frozen=True, slots=True)
class LifecycleStep:
    """One requested lifecycle transition of one contract version."""

    step: Step
    name: str
    contract_version: str
    reason: str = ""

    @property
    def artifact_id(self) -> str:
        """``name@version#deprecate`` or ``name@version#retire``."""
        return f"{self.name}@{self.contract_version}#{self.step.value.lower()}"

    def to_json(self) -> dict[str, str]:
        """The artifact's JSON object."""
        body = {KEY: self.step.value, "name": self.name, "contract_version": self.contract_version}
        if self.reason:
            body["reason"] = self.reason
        return body


def is_lifecycle(obj: Any) -> bool:
    """Whether a parsed TOOL_CONTRACT_V1 artifact is a lifecycle step (not a contract)."""
    return isinstance(obj, Mapping) and KEY in obj


def _malformed(why: str, field: str = "artifact_data") -> ValidationError:
    return ValidationError("MALFORMED_REQUEST", why, details={"field": field})


def parse_step(obj: Mapping[str, Any]) -> LifecycleStep:
    """The lifecycle step in a parsed artifact.

    Raises:
        ValidationError: ``MALFORMED_REQUEST`` naming the bad field.
    """
    unknown = set(obj) - {KEY, "name", "contract_version", "reason"}
    if unknown:
        raise _malformed(f"Unknown field '{sorted(unknown)[0]}' in a lifecycle request.")
    try:
        step = Step(obj.get(KEY))
    except ValueError:
        raise _malformed("'lifecycle' must be DEPRECATE or RETIRE.", "lifecycle") from None
    name, version, reason = obj.get("name"), obj.get("contract_version"), obj.get("reason", "")
    if not isinstance(name, str) or not name:
        raise _malformed("'name' must name the contract.", "name")
    if not isinstance(version, str) or not version:
        raise _malformed("'contract_version' must name the version to change.", "contract_version")
    if not isinstance(reason, str) or len(reason) > _REASON_MAX:
        raise _malformed(
            f"'reason' must be a string of at most {_REASON_MAX} characters.", "reason"
        )
    return LifecycleStep(step, name, version, reason)


def _load(data: bytes) -> LifecycleStep:
    try:
        obj = parse_json(data)
    except AdmError as exc:
        raise _malformed(f"artifact_data is not JSON: {exc.reason}.") from None
    if not is_lifecycle(obj):
        raise _malformed("artifact_data is not a lifecycle request.")
    return parse_step(obj)


def _check(current: ToolContract | None, step: LifecycleStep) -> ToolContract:
    """The contract ``step`` applies to, in the state the step needs.

    Raises:
        StateError: ``INVALID_STATE`` naming the state found.
    """
    if current is None:
        raise StateError(
            "INVALID_STATE",
            f"The Host has no contract named '{step.name}'; only a contract in the manifest can "
            f"be {step.step.target.value.lower()}.",
            details={"field": "name"},
        )
    if current.contract_version != step.contract_version:
        raise StateError(
            "INVALID_STATE",
            f"Contract '{step.name}' is at version {current.contract_version}, not "
            f"{step.contract_version}; name the version the Host holds.",
            details={"field": "contract_version", "current_version": current.contract_version},
        )
    if current.approval_status is not step.step.source:
        raise StateError(
            "INVALID_STATE",
            f"Contract '{step.name}@{step.contract_version}' is "
            f"{current.approval_status.value}; {step.step.value} needs it "
            f"{step.step.source.value}.",
            details={"field": KEY, "current_status": current.approval_status.value},
        )
    return current


def prepare(manifest: ManifestStore, artifact_id: str, obj: Mapping[str, Any]) -> Prepared:
    """Check a lifecycle request against the manifest in force (RequestApproval time).

    Raises:
        ValidationError: Malformed, or an ``artifact_id`` other than the derived one.
        StateError: ``INVALID_STATE`` when the contract is not in the step's source state.
    """
    step = parse_step(obj)
    if artifact_id and artifact_id != step.artifact_id:
        raise _malformed(
            f"artifact_id must be empty or '{step.artifact_id}' (name@version#step).",
            "artifact_id",
        )
    current = _check(manifest.current.get(step.name), step)
    facts = {
        "name": step.name,
        "contract_version": step.contract_version,
        "lifecycle": step.step.value,
        "security_classification": current.security_classification,
        "risk_assessment": current.risk_assessment,
        "compliance_tags": ",".join(current.compliance_tags),
    }
    return Prepared(step.artifact_id, canonical_json(step.to_json()), facts)


def enact(manifest: ManifestStore, approval: Approval) -> Enacted:
    """Swap the contract into the step's target state (C-10: one atomic manifest swap).

    Raises:
        StateError: ``INVALID_STATE`` when the contract left the source state since the request.
    """
    step = _load(approval.request.artifact_data)
    resource = f"contract:{step.name}@{step.contract_version}"
    meta = {
        "name": step.name,
        "contract_version": step.contract_version,
        "lifecycle": step.step.value,
        "approval_status": step.step.target.value,
        "reason": step.reason,
    }
    held = manifest.current.get(step.name)
    if (
        held is not None
        and held.contract_version == step.contract_version
        and held.approval_status is step.step.target
    ):
        return Enacted("CONTRACT_STATE_CHANGE", resource, meta, changed=False)
    previous = _check(held, step)
    changed = with_status(previous, step.step.target)
    contracts = dict(manifest.current.contracts)
    contracts[step.name] = changed
    meta["manifest_version"] = str(manifest.swap(contracts).version)

    async def rollback() -> None:
        if manifest.current.get(step.name) is not changed:
            return  # someone changed it since: leave theirs
        restored = dict(manifest.current.contracts)
        restored[step.name] = previous
        manifest.swap(restored)

    return Enacted("CONTRACT_STATE_CHANGE", resource, meta, rollback)


def replay(
    contracts: dict[str, ToolContract], steps: Iterable[tuple[int, LifecycleStep]]
) -> dict[str, ToolContract]:
    """Apply approved lifecycle steps, ordered by approval time, to ``contracts`` (restart).

    A step whose contract is at another version, or not in the step's source state (already
    applied, or superseded), is skipped: replaying twice changes nothing.

    Args:
        contracts: Name → contract, as the manifest will hold them; updated in place.
        steps: ``(approved_at_ms, step)`` pairs in any order.

    Returns:
        The contracts whose state changed, by name.
    """
    changed: dict[str, ToolContract] = {}
    for _, step in sorted(steps, key=lambda pair: pair[0]):
        held = contracts.get(step.name)
        if (
            held is None
            or held.contract_version != step.contract_version
            or held.approval_status is not step.step.source
        ):
            continue
        contracts[step.name] = changed[step.name] = with_status(held, step.step.target)
    return changed
