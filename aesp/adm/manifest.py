"""ADM ``ToolManifest`` (ADM §4.6): the Host's list of trusted contracts.

Contracts are kept as plain mappings: ADM only requires each to have a unique ``name``; the
GRID and AESP layers validate their own contract shapes (SPEC C-3, C-23).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final, Self

from ._fields import (
    as_object,
    check_extensions,
    collect_extensions,
    optional_field,
    required_field,
    to_plain,
)
from ._paths import index_path, join_path, json_type_name
from .errors import AdmError
from .profile import EMPTY_MAPPING, Profile, empty_mapping

__all__ = ["MANIFEST_VERSION_PATTERN", "ToolManifest"]

MANIFEST_VERSION_PATTERN: Final = re.compile(r"[0-9]+\.[0-9]+\.[0-9]+\Z")
"""ADM §4.6.4 ``^\\d+\\.\\d+\\.\\d+$`` with ASCII digits only and no trailing newline."""

_MANIFEST_FIELDS: Final = frozenset({"manifest_version", "contracts", "global_metadata"})


@dataclass(frozen=True)
class ToolManifest:
    """The set of tool contracts a Host trusts (ADM §4.6).

    Attributes:
        manifest_version: Schema version of the manifest, ``MAJOR.MINOR.PATCH`` with no suffix.
        contracts: At least one contract mapping, each with a unique non-empty ``name``.
        global_metadata: String-to-string metadata (keys non-empty; values may be empty).
        extensions: Unknown fields kept from the input.
    """

    manifest_version: str
    contracts: tuple[Mapping[str, object], ...]
    global_metadata: Mapping[str, str] = field(default_factory=empty_mapping)
    extensions: Mapping[str, object] = field(default_factory=empty_mapping)

    def __post_init__(self) -> None:
        """Check every field (manifests are small and built rarely)."""
        _check_version(self.manifest_version, "manifest_version")
        contracts = (
            tuple(self.contracts) if isinstance(self.contracts, Sequence) else self.contracts
        )
        object.__setattr__(self, "contracts", contracts)
        _check_contracts(contracts, "contracts")
        _check_metadata(self.global_metadata, "global_metadata")
        frozen = (
            MappingProxyType(dict(self.global_metadata)) if self.global_metadata else EMPTY_MAPPING
        )
        object.__setattr__(self, "global_metadata", frozen)
        object.__setattr__(
            self, "extensions", check_extensions(self.extensions, _MANIFEST_FIELDS, "ToolManifest")
        )

    @classmethod
    def from_json(cls, obj: object, *, profile: Profile = Profile.STRICT) -> Self:
        """Parse and validate a ToolManifest.

        Args:
            obj: A JSON object.
            profile: Validation profile for unknown fields.

        Returns:
            The manifest.

        Raises:
            AdmError: For a bad version, missing/empty/duplicate contracts or bad metadata
                (checklist 46-49).
        """
        data = as_object(obj, "", "ToolManifest")
        version = required_field(data, "manifest_version", "", rule="4.4#46")
        _check_version(version, "manifest_version")
        contracts = required_field(data, "contracts", "", rule="4.4#47")
        if not isinstance(contracts, list | tuple):
            raise AdmError(
                "contracts",
                f"contracts must be an array, got {json_type_name(contracts)}",
                rule="4.4#47",
            )
        _check_contracts(contracts, "contracts")
        metadata = optional_field(data, "global_metadata", "", profile)
        if metadata is None:
            metadata = EMPTY_MAPPING
        _check_metadata(metadata, "global_metadata")
        assert isinstance(metadata, Mapping)  # _check_metadata checked it
        extensions = collect_extensions(data, _MANIFEST_FIELDS, "", profile, "ToolManifest")
        return cls(str(version), tuple(contracts), metadata, extensions)

    def to_json(self) -> dict[str, object]:
        """Serialise; ``global_metadata`` is omitted when empty.

        Returns:
            A fresh dict.
        """
        out: dict[str, object] = {
            "manifest_version": self.manifest_version,
            "contracts": [to_plain(contract) for contract in self.contracts],
        }
        if self.global_metadata:
            out["global_metadata"] = dict(self.global_metadata)
        out.update({key: to_plain(value) for key, value in self.extensions.items()})
        return out

    def contract(self, name: str) -> Mapping[str, object] | None:
        """Find a contract by exact name.

        Args:
            name: Contract name.

        Returns:
            The contract mapping, or None.
        """
        for contract in self.contracts:
            if contract.get("name") == name:
                return contract
        return None


def _check_version(version: object, path: str) -> None:
    """``MAJOR.MINOR.PATCH`` only: no pre-release or build suffix (4.4#46)."""
    if not isinstance(version, str) or not MANIFEST_VERSION_PATTERN.match(version):
        raise AdmError(
            path,
            f"manifest_version must look like '1.0.0' (digits only, no suffix), got {version!r}",
            rule="4.4#46",
        )


def _check_contracts(contracts: object, path: str) -> None:
    """At least one contract; each an object with a unique non-empty string name (4.4#47, #48)."""
    if not isinstance(contracts, tuple | list) or not contracts:
        raise AdmError(path, "a ToolManifest must contain at least one contract", rule="4.4#47")
    seen: dict[str, int] = {}
    for i, contract in enumerate(contracts):
        where = index_path(path, i)
        if not isinstance(contract, Mapping):
            raise AdmError(
                where,
                f"a contract must be an object, got {json_type_name(contract)}",
                rule="4.4#47",
            )
        name = contract.get("name")
        if not isinstance(name, str) or not name.strip():
            raise AdmError(
                join_path(where, "name"),
                "a contract needs a non-empty string 'name'",
                rule="4.4#48",
            )
        if name in seen:
            raise AdmError(
                join_path(where, "name"),
                f"duplicate contract name {name!r} (also at index {seen[name]})",
                rule="4.4#48",
            )
        seen[name] = i


def _check_metadata(metadata: object, path: str) -> None:
    """Non-empty string keys mapping to string values; empty values allowed (4.4#49)."""
    if not isinstance(metadata, Mapping):
        raise AdmError(
            path,
            f"global_metadata must be an object, got {json_type_name(metadata)}",
            rule="4.4#49",
        )
    for key, value in metadata.items():
        if not isinstance(key, str) or not key:
            raise AdmError(path, "global_metadata keys must be non-empty strings", rule="4.4#49")
        if not isinstance(value, str):
            raise AdmError(
                join_path(path, key),
                f"global_metadata values must be strings, got {json_type_name(value)}",
                rule="4.4#49",
            )
