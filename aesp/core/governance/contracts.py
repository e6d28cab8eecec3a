"""TOOL_CONTRACT_V1: an approved contract becomes ACTIVE in the Host's manifest at run time.

C-10: "The manifest MAY change at run time, but only through an approved TOOL_CONTRACT_V1
decision. That change is an atomic, versioned and audited manifest swap. Invocations already in
flight finish on the contract version they started with." The swap is
:meth:`~aesp.core.manifest.ManifestStore.swap`; a call holds the contract object it started
with, so it finishes on that version (the pipeline reads the snapshot once per call).

Rules (docs/protocol-decisions.md):

* The manifest is shared by every tenant of the Host, so contract requests live in the platform
  scope (tenant ``""``): a tenant administrator cannot change another tenant's tools.
* ``approval_status``, ``approved_by`` and ``approved_at`` sent by a client are ignored (item
  177): the stored artifact says PENDING_APPROVAL without approval fields, and enactment sets
  them from the server's own decisions and clock (item 172).
* A new version needs its own approval, and must be greater (SemVer) than the ACTIVE one, which
  keeps serving until the new one is enacted (items 171, 179; C-47).
* Approved contracts survive a restart: :func:`restore_contracts` replays the approval store.
* The same artifact type carries the lifecycle steps after ACTIVE (DEPRECATE, RETIRE):
  :mod:`aesp.core.governance.lifecycle`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from aesp.adm import AdmError, canonical_json, parse_json
from aesp.core.contracts import ContractStatus, ToolContract, with_status
from aesp.core.errors import AespError, StateError, ValidationError
from aesp.core.governance import lifecycle
from aesp.core.governance._semver import version_key
from aesp.core.governance.model import Approval, Enacted, Prepared, is_call_approval
from aesp.core.governance.routing import tally
from aesp.core.manifest import ManifestStore
from aesp.core.ports.governance import ApprovalStatus, ApprovalStore, ArtifactType, Verdict

__all__ = ["ToolContractEnactor", "parse_contract", "restore_contracts"]

log = logging.getLogger(__name__)

RESTORE_PAGE = 500  # approval requests read per page when replaying at start-up


def _parse(data: bytes) -> object:
    try:
        return parse_json(data)
    except AdmError as exc:
        raise ValidationError(
            "MALFORMED_REQUEST",
            f"artifact_data is not a JSON contract: {exc.reason}.",
            details={"field": "artifact_data"},
        ) from None


def parse_contract(data: bytes) -> ToolContract:
    """The contract in ``data`` (UTF-8 JSON of one EnterpriseToolContract).

    Raises:
        ValidationError: ``MALFORMED_REQUEST`` (not JSON) or ``SCHEMA_VIOLATION`` (not a valid
            contract, with ``details.field``).
    """
    return ToolContract.from_json(_parse(data), default_status=ContractStatus.DRAFT)


def _submitted(contract: ToolContract) -> ToolContract:
    """The contract as stored in a request: PENDING_APPROVAL, no client approval fields."""
    return with_status(contract, ContractStatus.PENDING_APPROVAL, approved_by="", approved_at=0)


class ToolContractEnactor:
    """Checks submitted contracts and swaps approved ones into the manifest.

    Args:
        manifest: The Host's manifest store.
    """

    def __init__(self, manifest: ManifestStore) -> None:
        self._manifest = manifest

    async def prepare(self, tenant_id: str, artifact_id: str, data: bytes) -> Prepared:
        """Normalise a submitted contract (item 169: it is now PENDING_APPROVAL), or check a
        lifecycle step (:func:`aesp.core.governance.lifecycle.prepare`).

        Raises:
            ValidationError: Not the platform scope, malformed, or an ``artifact_id`` other
                than ``name@version``.
            StateError: ``INVALID_STATE`` when the version is not greater than the one held,
                or a lifecycle step does not fit the contract's state.
        """
        if tenant_id:
            raise ValidationError(
                "MALFORMED_REQUEST",
                "Tool contracts are shared by every tenant of the Host: request their approval "
                "in the platform scope (tenant_id '*', which needs aesp:platform:cross-tenant).",
                details={"field": "tenant_id"},
            )
        obj = _parse(data)
        if lifecycle.is_lifecycle(obj):
            return lifecycle.prepare(self._manifest, artifact_id, obj)  # type: ignore[arg-type]
        contract = _submitted(ToolContract.from_json(obj, default_status=ContractStatus.DRAFT))
        expected = f"{contract.name}@{contract.contract_version}"
        if artifact_id and artifact_id != expected:
            raise ValidationError(
                "MALFORMED_REQUEST",
                f"artifact_id must be empty or '{expected}' (the contract's name@version).",
                details={"field": "artifact_id"},
            )
        _check_newer(self._manifest.current.get(contract.name), contract)
        facts = {
            "name": contract.name,
            "contract_version": contract.contract_version,
            "security_classification": contract.security_classification,
            "risk_assessment": contract.risk_assessment,
            "compliance_tags": ",".join(contract.compliance_tags),
        }
        return Prepared(expected, canonical_json(contract.to_json()), facts)

    async def enact(self, approval: Approval) -> Enacted:
        """Swap the approved contract in as ACTIVE (items 172, 179; C-10).

        Raises:
            StateError: ``INVALID_STATE`` when an equal or newer version became ACTIVE since.
        """
        if lifecycle.is_lifecycle(_parse(approval.request.artifact_data)):
            return lifecycle.enact(self._manifest, approval)
        approved = with_status(
            parse_contract(approval.request.artifact_data),
            ContractStatus.ACTIVE,
            approved_by=approval.approved_by,
            approved_at=approval.approved_at_ms,
        )
        name = approved.name
        previous = self._manifest.current.get(name)
        meta = {
            "name": name,
            "contract_version": approved.contract_version,
            "content_digest": approved.digest,
            "approval_status": ContractStatus.ACTIVE.value,
            "previous_version": previous.contract_version if previous is not None else "",
        }
        resource = f"contract:{name}@{approved.contract_version}"
        if _same(previous, approved):
            return Enacted("CONTRACT_STATE_CHANGE", resource, meta, changed=False)
        _check_newer(previous, approved)
        contracts = dict(self._manifest.current.contracts)
        contracts[name] = approved
        swapped = self._manifest.swap(contracts)
        meta["manifest_version"] = str(swapped.version)

        async def rollback() -> None:
            # Undo only our own swap: if someone replaced the contract since, leave theirs.
            if self._manifest.current.get(name) is not approved:
                return
            restored = dict(self._manifest.current.contracts)
            if previous is None:
                restored.pop(name, None)
            else:
                restored[name] = previous
            self._manifest.swap(restored)

        return Enacted("CONTRACT_STATE_CHANGE", resource, meta, rollback)


def _same(current: ToolContract | None, approved: ToolContract) -> bool:
    return (
        current is not None
        and current.active
        and current.contract_version == approved.contract_version
        and current.digest == approved.digest
    )


_HELD = (ContractStatus.ACTIVE, ContractStatus.DEPRECATED, ContractStatus.RETIRED)


def _check_newer(current: ToolContract | None, contract: ToolContract) -> None:
    """Refuse a version that does not follow the one held (C-47: one ACTIVE version; a
    DEPRECATED or RETIRED version is never replaced by an older or equal one)."""
    if current is None or current.approval_status not in _HELD:
        return
    if version_key(contract.contract_version) <= version_key(current.contract_version):
        status = current.approval_status.value
        raise StateError(
            "INVALID_STATE",
            f"Contract '{contract.name}' is {status} at version {current.contract_version}; a "
            "new version needs a greater SemVer version and its own approval.",
            details={"field": "contract_version", "active_version": current.contract_version},
        )


async def restore_contracts(store: ApprovalStore, manifest: ManifestStore) -> list[ToolContract]:
    """Make every approved contract ACTIVE again after a restart, then re-apply the approved
    lifecycle steps in approval order (one manifest swap).

    For each contract name, the highest approved version replaces the manifest's contract of
    that name when it is greater (SemVer) than it: the static manifest file is the operator's
    vetted starting point, approvals move it forward. Approved DEPRECATE and RETIRE steps then
    apply to the version they name (:func:`aesp.core.governance.lifecycle.replay`). Idempotent,
    so a Host may call it at start-up and again whenever the approval store changed (another
    Host approved something). A stored artifact that no longer validates is skipped and logged.

    Returns:
        The contracts installed or changed (empty when the manifest was already current).
    """
    best: dict[str, ToolContract] = {}
    steps: list[tuple[int, lifecycle.LifecycleStep]] = []
    cursor = ""
    while True:
        page = await store.list(
            tenant_id=None,
            status=ApprovalStatus.APPROVED,
            artifact_type=ArtifactType.TOOL_CONTRACT_V1,
            limit=RESTORE_PAGE,
            cursor=cursor,
        )
        for request in page.items:
            if is_call_approval(request):
                continue  # approves one call, not a contract
            decisions = await store.decisions(request.approval_request_id)
            approvals = [d for d in decisions if d.decision is Verdict.APPROVE]
            approved_at = max((d.decided_at_ms for d in approvals), default=0)
            try:
                obj = _parse(request.artifact_data)
                if lifecycle.is_lifecycle(obj):
                    steps.append((approved_at, lifecycle.parse_step(obj)))  # type: ignore[arg-type]
                    continue
                contract = ToolContract.from_json(obj, default_status=ContractStatus.DRAFT)
            except AespError as exc:
                log.error("approved artifact %s cannot be restored: %s", request.artifact_id, exc)
                continue
            restored = with_status(
                contract,
                ContractStatus.ACTIVE,
                approved_by=",".join(tally(request, decisions).approvers),
                approved_at=approved_at,
            )
            held = best.get(restored.name)
            if held is None or version_key(restored.contract_version) > version_key(
                held.contract_version
            ):
                best[restored.name] = restored
        cursor = page.next_cursor
        if not cursor:
            break
    return _install(manifest, best, steps)


def _install(
    manifest: ManifestStore,
    best: Mapping[str, ToolContract],
    steps: list[tuple[int, lifecycle.LifecycleStep]],
) -> list[ToolContract]:
    current = manifest.current
    changes = {
        name: c
        for name, c in best.items()
        if (held := current.get(name)) is None
        or (not _same(held, c) and version_key(c.contract_version) > _key_of(held))
    }
    contracts = dict(current.contracts)
    contracts.update(changes)
    changes.update(lifecycle.replay(contracts, steps))
    if changes:
        manifest.swap(contracts)
    return list(changes.values())


def _key_of(contract: ToolContract) -> tuple[int, int, int, int, str]:
    return version_key(contract.contract_version)
