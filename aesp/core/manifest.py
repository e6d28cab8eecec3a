"""The Host's manifest of trusted contracts, loaded at start-up and swapped atomically (C-10).

A :class:`Manifest` is an immutable snapshot. The pipeline reads the current snapshot once per
call, so a call that started on one version finishes on it even if an approved change swaps
in a new manifest meanwhile (C-10, C-47).

The file format is JSON: ``{"manifest_version": "1.0.0", "contracts": [...],
"global_metadata": {...}}`` where each contract is an ``EnterpriseToolContract`` object. A
contract in the operator's static manifest file without ``approval_status`` is ACTIVE: the file
is the vetted list the Host starts from (GRID F1).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from aesp.adm import AdmError, parse_json
from aesp.core.contracts import ContractStatus, ToolContract
from aesp.core.errors import AespError, ConfigurationError

_MANIFEST_VERSION = re.compile(r"^\d+\.\d+\.\d+$")


@dataclass(frozen=True)
class Manifest:
    """An immutable set of contracts keyed by name."""

    manifest_version: str
    contracts: Mapping[str, ToolContract]
    global_metadata: Mapping[str, str] = field(default_factory=dict)
    version: int = 1

    def get(self, name: str) -> ToolContract | None:
        """The contract named ``name`` in any state, or None."""
        return self.contracts.get(name)

    def active(self, name: str) -> ToolContract | None:
        """The ACTIVE contract named ``name``, or None (item 167)."""
        contract = self.contracts.get(name)
        return contract if contract is not None and contract.active else None

    def active_names(self) -> list[str]:
        """Names of every ACTIVE contract, sorted."""
        return sorted(n for n, c in self.contracts.items() if c.active)


def parse_manifest(obj: object, *, source: str = "manifest") -> Manifest:
    """Validate a manifest object (ADM §4.6 plus the AESP contract shape).

    Raises:
        ConfigurationError: ``INVALID_CONFIG`` naming the first problem (item 61).
    """

    def bad(why: str) -> ConfigurationError:
        return ConfigurationError("INVALID_CONFIG", f"The manifest {source} is invalid: {why}.")

    if not isinstance(obj, Mapping):
        raise bad("it must be a JSON object")
    unknown = set(obj) - {"manifest_version", "contracts", "global_metadata"}
    if unknown:
        raise bad(f"unknown field '{sorted(unknown)[0]}'")
    version = obj.get("manifest_version")
    if not isinstance(version, str) or not _MANIFEST_VERSION.match(version):
        raise bad("'manifest_version' must be a version such as 1.0.0 (no suffix)")
    raw_contracts = obj.get("contracts")
    if not isinstance(raw_contracts, list) or not raw_contracts:
        raise bad("'contracts' must be a non-empty list")
    meta = obj.get("global_metadata", {})
    if not isinstance(meta, Mapping) or not all(
        isinstance(k, str) and k and isinstance(v, str) for k, v in meta.items()
    ):
        raise bad("'global_metadata' must map non-empty strings to strings")
    contracts: dict[str, ToolContract] = {}
    for index, raw in enumerate(raw_contracts):
        try:
            contract = ToolContract.from_json(raw, default_status=ContractStatus.ACTIVE)
        except AespError as exc:
            raise bad(f"contracts[{index}]: {exc.message}") from None
        if contract.name in contracts:
            raise bad(f"two contracts are named '{contract.name}'")
        contracts[contract.name] = contract
    return Manifest(version, MappingProxyType(contracts), MappingProxyType(dict(meta)))


def load_manifest(path: Path | None) -> Manifest:
    """Load the manifest file (GRID F1 step 2).

    Raises:
        ConfigurationError: ``MISSING_MANIFEST`` if there is no file, ``INVALID_CONFIG`` if it is
            not a valid manifest (item 61).
    """
    if path is None or not path.is_file():
        raise ConfigurationError(
            "MISSING_MANIFEST",
            f"The manifest file {path} does not exist; a STRICT Host cannot start without one.",
            remediation_steps=("Set host.manifest_path to a JSON manifest of tool contracts.",),
        )
    try:
        obj = parse_json(path.read_bytes())
    except AdmError as exc:
        raise ConfigurationError(
            "INVALID_CONFIG", f"The manifest {path} is not valid JSON: {exc.reason}."
        ) from None
    return parse_manifest(obj, source=str(path))


class ManifestStore:
    """Holds the current snapshot and swaps it atomically; notifies listeners of a swap."""

    def __init__(self, manifest: Manifest) -> None:
        self._current = manifest
        self._listeners: list[Callable[[Manifest], None]] = []

    @property
    def current(self) -> Manifest:
        """The snapshot in force now."""
        return self._current

    def subscribe(self, listener: Callable[[Manifest], None]) -> None:
        """Call ``listener`` with the new snapshot after every swap."""
        self._listeners.append(listener)

    def swap(self, contracts: Mapping[str, ToolContract]) -> Manifest:
        """Install a new contract set as the next version (C-10) and return it."""
        old = self._current
        new = Manifest(
            old.manifest_version,
            MappingProxyType(dict(contracts)),
            old.global_metadata,
            version=old.version + 1,
        )
        self._current = new
        for listener in self._listeners:
            listener(new)
        return new
