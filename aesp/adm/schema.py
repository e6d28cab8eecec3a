"""Validation of ADM ``Schema`` objects themselves (SPEC §1.3, checklist 5-15, C-16).

This checks that a Schema is well formed; checking *values* against a Schema is the job of
:mod:`aesp.adm.validate`. A valid Schema has exactly the six ADM keywords (``type``,
``description``, ``properties``, ``required``, ``items``, ``enum``) plus, in STRICT, only
extension-prefixed extras; in LENIENT unknown keywords are ignored (and stay in the mapping).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Final

from ._paths import index_path, join_path, json_type_name
from .errors import AdmError, AdmWarning
from .profile import EXTENSION_PREFIXES, Profile, is_extension_key

__all__ = ["MAX_SCHEMA_DEPTH", "SCHEMA_KEYWORDS", "SCHEMA_TYPES", "validate_schema"]

SCHEMA_TYPES: Final = frozenset({"STRING", "NUMBER", "INTEGER", "BOOLEAN", "ARRAY", "OBJECT"})
SCHEMA_KEYWORDS: Final = frozenset(
    {"type", "description", "properties", "required", "items", "enum"}
)
MAX_SCHEMA_DEPTH: Final = 64  # SPEC 4.1#15 [REC]: bounds recursion and rejects runaway nesting

# Keywords that only mean something for one type; elsewhere they would be silently ignored.
_OBJECT_ONLY: Final = frozenset({"properties", "required"})
_ARRAY_ONLY: Final = frozenset({"items"})
_PREFIX_TEXT: Final = ", ".join(EXTENSION_PREFIXES)


def validate_schema(
    schema: object, *, profile: Profile = Profile.STRICT, path: str = "parameters"
) -> None:
    """Check that ``schema`` is a valid ADM Schema, recursively.

    Rules (SPEC §4.1): ``type`` present (5) and one of the six upper-case types (6); ARRAY has
    ``items`` (7); ``enum`` only on STRING (8), non-empty, unique strings (9); ``required``
    entries are keys of ``properties`` (10) without duplicates (11); nested Schemas are checked
    recursively (12); unknown keywords are refused in STRICT unless prefixed (13); a present
    ``description`` is non-empty (14, refused in STRICT, warned in LENIENT); no cycles and at
    most :data:`MAX_SCHEMA_DEPTH` levels (15). In STRICT, ``properties``/``required`` on a
    non-OBJECT and ``items`` on a non-ARRAY are refused too (C-16: no constraint an author
    believes in is silently ignored); LENIENT ignores them.

    Args:
        schema: The candidate Schema (normally a dict from JSON).
        profile: STRICT for Host contracts, LENIENT for SDKs.
        path: Path of ``schema`` for error messages.

    Raises:
        AdmError: On the first violation found, with the path of the offending keyword.
    """
    _check(schema, path, profile, 1, set())


def _check(schema: object, path: str, profile: Profile, depth: int, active: set[int]) -> None:
    """Check one Schema node; ``active`` holds ids of the ancestors being checked."""
    if not isinstance(schema, Mapping):
        raise AdmError(
            path, f"a Schema must be a JSON object, got {json_type_name(schema)}", rule="4.1#12"
        )
    if depth > MAX_SCHEMA_DEPTH:
        raise AdmError(
            path, f"Schema nesting is deeper than {MAX_SCHEMA_DEPTH} levels", rule="4.1#15"
        )
    if id(schema) in active:
        raise AdmError(
            path, "Schema contains itself (a cycle); Schemas must be finite trees", rule="4.1#15"
        )
    active.add(id(schema))
    try:
        schema_type = _check_type(schema, path)
        _check_keywords(schema, schema_type, path, profile)
        _check_description(schema, path, profile)
        if "enum" in schema:
            _check_enum(schema, schema_type, path)
        if schema_type == "OBJECT":
            _check_object(schema, path, profile, depth, active)
        elif schema_type == "ARRAY":
            if "items" not in schema:
                raise AdmError(
                    join_path(path, "items"), "an ARRAY Schema must have 'items'", rule="4.1#7"
                )
            _check(schema["items"], join_path(path, "items"), profile, depth + 1, active)
    finally:
        active.discard(id(schema))


def _check_type(schema: Mapping[object, object], path: str) -> str:
    """Return the Schema's type after checking it is one of the six ADM types."""
    if "type" not in schema:
        raise AdmError(join_path(path, "type"), "a Schema must have a 'type'", rule="4.1#5")
    schema_type = schema["type"]
    if isinstance(schema_type, str) and schema_type in SCHEMA_TYPES:
        return schema_type
    allowed = "STRING, NUMBER, INTEGER, BOOLEAN, ARRAY or OBJECT"
    hint = ""
    if isinstance(schema_type, str) and schema_type.upper() in SCHEMA_TYPES:
        hint = f" (types are case-sensitive: use {schema_type.upper()!r})"
    raise AdmError(
        join_path(path, "type"), f"type {schema_type!r} is not one of {allowed}{hint}", rule="4.1#6"
    )


def _check_keywords(
    schema: Mapping[object, object], schema_type: str, path: str, profile: Profile
) -> None:
    """Refuse unknown or misplaced keywords in STRICT (C-16)."""
    for key in schema:
        if not isinstance(key, str):
            raise AdmError(
                path, f"Schema keys must be strings, got {json_type_name(key)}", rule="4.1#1"
            )
        if profile is not Profile.STRICT:
            continue
        if key not in SCHEMA_KEYWORDS:
            if is_extension_key(key):
                continue
            raise AdmError(
                join_path(path, key),
                f"unknown Schema keyword {key!r}; ADM v1.0 allows only type, description, properties, "
                f"required, items and enum (extensions must start with {_PREFIX_TEXT})",
                rule="4.1#13",
            )
        if key in _OBJECT_ONLY and schema_type != "OBJECT":
            raise AdmError(
                join_path(path, key),
                f"{key!r} applies only to OBJECT, not {schema_type}",
                rule="C-16",
            )
        if key in _ARRAY_ONLY and schema_type != "ARRAY":
            raise AdmError(
                join_path(path, key),
                f"'items' applies only to ARRAY, not {schema_type}",
                rule="C-16",
            )


def _check_description(schema: Mapping[object, object], path: str, profile: Profile) -> None:
    """A present description must be a non-empty string (refused in STRICT, warned in LENIENT)."""
    if "description" not in schema:
        return
    description = schema["description"]
    where = join_path(path, "description")
    if not isinstance(description, str):
        raise AdmError(
            where, f"description must be a string, got {json_type_name(description)}", rule="4.1#14"
        )
    if description.strip():
        return
    if profile is Profile.STRICT:
        raise AdmError(where, "description must not be empty; omit it instead", rule="4.1#14")
    warnings.warn(f"{where}: description is empty; omit it instead", AdmWarning, stacklevel=4)


def _check_enum(schema: Mapping[object, object], schema_type: str, path: str) -> None:
    """``enum`` is only for STRING and must hold at least one unique string."""
    where = join_path(path, "enum")
    if schema_type != "STRING":
        raise AdmError(where, f"'enum' is only valid for STRING, not {schema_type}", rule="4.1#8")
    values = schema["enum"]
    if not isinstance(values, list | tuple):
        raise AdmError(
            where, f"enum must be an array of strings, got {json_type_name(values)}", rule="4.1#9"
        )
    if not values:
        raise AdmError(where, "enum must contain at least one value", rule="4.1#9")
    seen: set[str] = set()
    for i, value in enumerate(values):
        if not isinstance(value, str):
            raise AdmError(
                index_path(where, i),
                f"enum values must be strings, got {json_type_name(value)}",
                rule="4.1#9",
            )
        if value in seen:
            raise AdmError(
                index_path(where, i), f"enum value {value!r} appears more than once", rule="4.1#9"
            )
        seen.add(value)


def _check_object(
    schema: Mapping[object, object], path: str, profile: Profile, depth: int, active: set[int]
) -> None:
    """Check ``properties`` recursively and ``required`` against it."""
    properties = schema.get("properties", {})
    where = join_path(path, "properties")
    if not isinstance(properties, Mapping):
        raise AdmError(
            where, f"properties must be an object, got {json_type_name(properties)}", rule="4.1#12"
        )
    for key, sub in properties.items():
        if not isinstance(key, str):
            raise AdmError(
                where, f"property names must be strings, got {json_type_name(key)}", rule="4.1#1"
            )
        _check(sub, join_path(where, key), profile, depth + 1, active)
    if "required" not in schema:
        return
    required = schema["required"]
    where = join_path(path, "required")
    if not isinstance(required, list | tuple):
        raise AdmError(
            where,
            f"required must be an array of strings, got {json_type_name(required)}",
            rule="4.1#10",
        )
    seen: set[str] = set()
    for i, name in enumerate(required):
        if not isinstance(name, str):
            raise AdmError(
                index_path(where, i),
                f"required entries must be strings, got {json_type_name(name)}",
                rule="4.1#10",
            )
        if name in seen:
            raise AdmError(
                index_path(where, i),
                f"{name!r} is listed in required more than once",
                rule="4.1#11",
            )
        if name not in properties:
            raise AdmError(
                index_path(where, i),
                f"required property {name!r} is not defined in properties",
                rule="4.1#10",
            )
        seen.add(name)
