"""Checking values against an ADM Schema (SPEC §1.3 "How values are checked", checklist 16-24).

:func:`compile_validator` turns a Schema into a tree of small closures once; calling the result
checks a value with no allocation while the value is valid (paths are only assembled on
failure, see :mod:`aesp.adm._paths`). It sits on the Host's per-call hot path, so the caller
should cache the compiled validator per Schema object.

Rules applied (C-19, C-20): ``bool`` is never a NUMBER or INTEGER; an integral float such as
``3.0`` is an INTEGER; INTEGER is range-checked to int64; NaN and ±Infinity are refused. At the
args root (``root_args=True``) keys not in ``properties`` are refused, so ``properties: {}``
accepts only ``{}``. In nested OBJECTs an absent or empty ``properties`` accepts any keys
(values must still be JSON); a non-empty one refuses undeclared keys in STRICT and allows them
in LENIENT.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from typing import Final

from ._json import validate_json_value
from ._paths import Invalid, json_type_name, key_segment
from .errors import AdmError
from .profile import Profile
from .schema import validate_schema

__all__ = ["INT64_MAX", "INT64_MIN", "Validator", "compile_validator", "validate_value"]

INT64_MIN: Final = -(2**63)
INT64_MAX: Final = 2**63 - 1
_DOUBLE_MAX_INT: Final = int(1.7976931348623157e308)  # larger ints cannot be a JSON double
_MAX_LISTED: Final = 10  # how many allowed values/keys an error message lists

Validator = Callable[[object], None]
"""A compiled validator: returns None for a valid value, raises AdmError otherwise."""
_Check = Callable[[object], None]  # internal: raises Invalid


def _expected(type_name: str, value: object, rule: str) -> Invalid:
    """Build the 'wrong type' failure."""
    return Invalid(f"expected {type_name}, got {json_type_name(value)}", rule)


def _check_string(value: object) -> None:
    """STRING: any str, including the empty string (4.2#16)."""
    if not isinstance(value, str):
        raise _expected("STRING", value, "4.2#16")


def _check_boolean(value: object) -> None:
    """BOOLEAN: exactly True or False, never 1/0 or "true" (4.2#21)."""
    if value is not True and value is not False:
        raise _expected("BOOLEAN", value, "4.2#21")


def _check_number(value: object) -> None:
    """NUMBER: finite float or int (never bool) within the double range (4.2#18)."""
    if isinstance(value, float):
        if math.isfinite(value):
            return
        raise Invalid("NaN and Infinity are not valid NUMBER values", "4.2#18")
    if isinstance(value, int) and type(value) is not bool:  # bool is an int in Python (C-20)
        if -_DOUBLE_MAX_INT <= value <= _DOUBLE_MAX_INT:
            return
        raise Invalid("number is too large to be an IEEE-754 double", "4.2#18")
    raise _expected("NUMBER", value, "4.2#18")


def _check_integer(value: object) -> None:
    """INTEGER: int64 int, or integral float such as 3.0 (never bool) (4.2#19, C-20)."""
    if isinstance(value, int) and type(value) is not bool:  # bool is an int in Python (C-20)
        if INT64_MIN <= value <= INT64_MAX:
            return
        raise Invalid("integer is outside the 64-bit signed range [-2^63, 2^63-1]", "4.2#19")
    if isinstance(value, float):
        if not value.is_integer():
            raise Invalid(f"expected INTEGER, got non-integral number {value!r}", "4.2#19")
        if INT64_MIN <= value <= INT64_MAX:
            return  # C-20: an integral float such as 3.0 is accepted
        raise Invalid("integer is outside the 64-bit signed range [-2^63, 2^63-1]", "4.2#19")
    raise _expected("INTEGER", value, "4.2#19")


def _check_any_json(value: object) -> None:
    """Accept any JSON value (undeclared keys in open objects)."""
    if isinstance(value, str | int | float) or value is None:
        if isinstance(value, float) and not math.isfinite(value):
            raise Invalid("NaN and Infinity are not valid JSON numbers", "4.1#1")
        return
    try:
        validate_json_value(value)
    except AdmError as exc:
        suffix = exc.path[1:]  # drop the "$" root
        failure = Invalid(exc.reason, exc.rule)
        if suffix:
            failure.segments.append(suffix)
        raise failure from None


def _listing(items: list[str]) -> str:
    """Render up to _MAX_LISTED items for an error message."""
    shown = ", ".join(json.dumps(item, ensure_ascii=False) for item in items[:_MAX_LISTED])
    return shown + (f", ... ({len(items)} in all)" if len(items) > _MAX_LISTED else "")


def _compile_string(schema: Mapping[str, object]) -> _Check:
    enum = schema.get("enum")
    if not isinstance(enum, list | tuple):
        return _check_string
    allowed = frozenset(enum)
    shown = _listing([str(e) for e in enum])

    def check_enum(value: object) -> None:
        if not isinstance(value, str):
            raise _expected("STRING", value, "4.2#16")
        if value not in allowed:
            raise Invalid(
                f"{value!r} is not one of the allowed values {shown} (matching is case-sensitive)",
                "4.2#17",
            )

    return check_enum


def _compile_array(schema: Mapping[str, object], profile: Profile) -> _Check:
    items = schema["items"]
    assert isinstance(items, Mapping)  # guaranteed by validate_schema
    check_item = _compile(items, profile, root_args=False)

    def check_array(value: object) -> None:
        if not isinstance(value, list | tuple):
            raise _expected("ARRAY", value, "4.2#22")
        index = 0
        try:
            for item in value:
                check_item(item)
                index += 1
        except Invalid as exc:
            exc.segments.append(f"[{index}]")
            raise

    return check_array


def _compile_object(schema: Mapping[str, object], profile: Profile, root_args: bool) -> _Check:
    properties = schema.get("properties") or {}
    assert isinstance(properties, Mapping)  # guaranteed by validate_schema
    required_raw = schema.get("required") or ()
    assert isinstance(required_raw, list | tuple)
    required: tuple[str, ...] = tuple(str(name) for name in required_raw)
    required_set = frozenset(required)
    table: dict[str, tuple[_Check, str]] = {
        key: (_compile(sub, profile, root_args=False), key_segment(key))
        for key, sub in properties.items()
    }
    lookup = table.get
    # C-19: the args root and (in STRICT) declared nested objects refuse undeclared keys.
    refuse_unknown = root_args or (bool(table) and profile is Profile.STRICT)
    declared = _listing(list(table))
    unknown_rule = "4.4#39" if root_args else "C-19"

    def check_object(value: object) -> None:
        if not isinstance(value, Mapping):
            raise _expected("OBJECT", value, "4.2#23")
        if required_set and not value.keys() >= required_set:
            missing = next(name for name in required if name not in value)
            raise Invalid("required property is missing", "4.2#23", key_segment(missing))
        for key, item in value.items():
            entry = lookup(key)
            if entry is None:
                if refuse_unknown:
                    allowed = (
                        f"declared properties are {declared}"
                        if table
                        else "no properties are declared"
                    )
                    raise Invalid(f"unknown property; {allowed}", unknown_rule, key_segment(key))
                if not isinstance(key, str):
                    raise Invalid(
                        f"object keys must be strings, got {json_type_name(key)}",
                        "4.1#1",
                        key_segment(key),
                    )
                try:
                    _check_any_json(item)
                except Invalid as exc:
                    exc.segments.append(key_segment(key))
                    raise
                continue
            try:
                entry[0](item)
            except Invalid as exc:
                exc.segments.append(entry[1])
                raise

    return check_object


_SCALARS: Final[dict[str, _Check]] = {
    "NUMBER": _check_number,
    "INTEGER": _check_integer,
    "BOOLEAN": _check_boolean,
}


def _compile(schema: Mapping[str, object], profile: Profile, *, root_args: bool) -> _Check:
    """Compile one (already validated) Schema node into a check closure."""
    schema_type = schema["type"]
    if schema_type == "STRING":
        return _compile_string(schema)
    if schema_type == "ARRAY":
        return _compile_array(schema, profile)
    if schema_type == "OBJECT":
        return _compile_object(schema, profile, root_args)
    check = _SCALARS.get(str(schema_type))
    if check is None:  # unreachable after validate_schema; kept as a fail-closed guard (4.2 rule 7)
        raise AdmError("parameters.type", f"unknown Schema type {schema_type!r}", rule="4.1#6")
    return check


def compile_validator(
    schema: Mapping[str, object],
    *,
    profile: Profile = Profile.STRICT,
    root_args: bool = True,
    path: str = "args",
) -> Validator:
    """Compile a Schema into a fast value validator.

    The Schema is first checked with :func:`~aesp.adm.validate_schema` (same profile), so a
    bad Schema fails here, once, rather than on every call.

    Args:
        schema: A valid ADM Schema (normally a FunctionDeclaration's ``parameters``).
        profile: STRICT refuses undeclared keys in nested objects that declare properties;
            LENIENT allows them.
        root_args: Apply the C-19 args-root rule: refuse keys not in ``properties``.
        path: Root of the paths in error messages.

    Returns:
        A callable that returns None for a valid value and raises :class:`AdmError` (with a
        path such as ``args.items[2].name``) for an invalid one.

    Raises:
        AdmError: If ``schema`` itself is invalid.
    """
    validate_schema(schema, profile=profile)
    check = _compile(schema, profile, root_args=root_args)

    def validator(value: object) -> None:
        try:
            check(value)
        except Invalid as exc:
            raise exc.to_error(path) from None

    return validator


def validate_value(
    schema: Mapping[str, object],
    value: object,
    *,
    profile: Profile = Profile.STRICT,
    path: str = "args",
    root_args: bool = True,
) -> None:
    """Check one value against a Schema (compiles each time; cache compile_validator instead).

    Args:
        schema: A valid ADM Schema.
        value: The value to check.
        profile: Validation profile.
        path: Root of the paths in error messages.
        root_args: Apply the C-19 args-root rule (see :func:`compile_validator`).

    Raises:
        AdmError: If the Schema or the value is invalid.
    """
    compile_validator(schema, profile=profile, root_args=root_args, path=path)(value)
