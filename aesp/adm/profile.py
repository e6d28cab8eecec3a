"""Validation profiles, the MISSING sentinel and the extension-prefix rule (SPEC §5 C-16).

ADM's JSON Schemas say ``additionalProperties: false`` while ADM §5.2.3 says unknown fields
"should be ignored" and extensions "preserved". SPEC resolves this with two profiles:
:attr:`Profile.STRICT` for the Host (contracts and args) and :attr:`Profile.LENIENT` for SDKs.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Final

__all__ = [
    "EMPTY_MAPPING",
    "EXTENSION_PREFIXES",
    "MISSING",
    "MissingType",
    "Profile",
    "empty_mapping",
    "is_extension_key",
]


class Profile(enum.Enum):
    """How strictly ADM input is checked.

    Attributes:
        STRICT: Used by Hosts for contracts and args. Unknown fields and Schema keywords are
            rejected unless they carry an extension prefix; over-long descriptions are
            rejected; nested objects with declared properties reject undeclared keys.
        LENIENT: Used by clients and SDKs. Unknown fields are ignored and preserved; SHOULD
            rules produce an :class:`~aesp.adm.AdmWarning` instead of an error.
    """

    STRICT = "STRICT"
    LENIENT = "LENIENT"


class MissingType(enum.Enum):
    """Type of :data:`MISSING`; an enum so that type checkers can narrow on it."""

    MISSING = "MISSING"

    def __repr__(self) -> str:
        """Return ``"MISSING"``."""
        return "MISSING"

    def __bool__(self) -> bool:
        """MISSING is falsy, like ``None``, but distinct from it."""
        return False


MISSING: Final = MissingType.MISSING
"""Marks ``ToolResult.content`` as absent, as opposed to present with JSON ``null`` (C-18)."""

EXTENSION_PREFIXES: Final[tuple[str, ...]] = ("x_", "vendor_", "grid_", "later_", "_")
"""Field-name prefixes that mark an extension (ADM §5.2; ``_`` covers the reserved ``_adm_*``)."""

EMPTY_MAPPING: Final[Mapping[str, object]] = MappingProxyType({})
"""Shared read-only empty mapping used as a default for optional map fields."""


def empty_mapping() -> Mapping[str, Any]:
    """Return the shared read-only empty mapping (a dataclass ``default_factory``).

    Returns:
        :data:`EMPTY_MAPPING`.
    """
    return EMPTY_MAPPING


def is_extension_key(key: object) -> bool:
    """Tell whether a field name carries an extension prefix.

    Args:
        key: The field name.

    Returns:
        True when ``key`` is a string starting with one of :data:`EXTENSION_PREFIXES`.
    """
    return isinstance(key, str) and key.startswith(EXTENSION_PREFIXES)
