"""Field-level helpers shared by the ADM structure parsers (``from_json``).

Each helper reads one field of a JSON object, checks it and raises :class:`AdmError` with the
field's path. Unknown fields go through :func:`collect_extensions`, which implements the C-16
profiles: STRICT keeps extension-prefixed fields and refuses the rest; LENIENT keeps everything.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Final

from ._paths import join_path, json_type_name
from .errors import AdmError, AdmWarning
from .profile import EMPTY_MAPPING, EXTENSION_PREFIXES, Profile, is_extension_key

__all__ = [
    "MAX_DESCRIPTION_LENGTH",
    "as_object",
    "check_description",
    "check_extensions",
    "collect_extensions",
    "optional_field",
    "required_field",
    "to_plain",
]

MAX_DESCRIPTION_LENGTH: Final = 1000  # ADM §4.2.3 recommended maximum, in code points (C-17)


def as_object(obj: object, path: str, what: str) -> Mapping[str, object]:
    """Return ``obj`` as a mapping, or raise if it is not a JSON object.

    Args:
        obj: The candidate.
        path: Its path (``""`` means the document root, reported as ``$``).
        what: Structure name for the message, e.g. ``"FunctionCall"``.

    Returns:
        The same object, typed as a mapping.

    Raises:
        AdmError: If ``obj`` is not a mapping.
    """
    if not isinstance(obj, Mapping):
        raise AdmError(
            path or "$", f"a {what} must be a JSON object, got {json_type_name(obj)}", rule="4.1#1"
        )
    return obj


def required_field(obj: Mapping[str, object], key: str, path: str, rule: str = "4.1#3") -> object:
    """Read a required field; refuse absence and ``null`` (ADM §2.2.2).

    Args:
        obj: The JSON object.
        key: Field name.
        path: Path of ``obj``.
        rule: Checklist item to report.

    Returns:
        The field's value (never None).

    Raises:
        AdmError: If the field is missing or null.
    """
    if key not in obj:
        raise AdmError(join_path(path, key), "required field is missing", rule=rule)
    value = obj[key]
    if value is None:
        raise AdmError(join_path(path, key), "required field must not be null", rule=rule)
    return value


def optional_field(obj: Mapping[str, object], key: str, path: str, profile: Profile) -> object:
    """Read an optional field; ``null`` is refused in STRICT and treated as absent in LENIENT.

    Args:
        obj: The JSON object.
        key: Field name.
        path: Path of ``obj``.
        profile: Validation profile.

    Returns:
        The value, or None when absent (or null in LENIENT).

    Raises:
        AdmError: If the field is null in STRICT.
    """
    value = obj.get(key)
    if value is None and key in obj and profile is Profile.STRICT:
        raise AdmError(
            join_path(path, key),
            "ADM does not use null; omit an unset optional field",
            rule="4.1#2",
        )
    return value


def collect_extensions(
    obj: Mapping[str, object], known: frozenset[str], path: str, profile: Profile, what: str
) -> Mapping[str, object]:
    """Gather fields that are not part of the structure (C-16, checklist 50).

    Args:
        obj: The JSON object.
        known: The structure's own field names.
        path: Path of ``obj``.
        profile: STRICT keeps only extension-prefixed unknown fields; LENIENT keeps all.
        what: Structure name for the message.

    Returns:
        A read-only mapping of the unknown fields, in input order.

    Raises:
        AdmError: For a non-prefixed unknown field in STRICT.
    """
    extra: dict[str, object] = {}
    for key, value in obj.items():
        if key in known:
            continue
        if not isinstance(key, str):
            raise AdmError(
                path or "$", f"field names must be strings, got {json_type_name(key)}", rule="4.1#1"
            )
        if profile is Profile.STRICT and not is_extension_key(key):
            raise AdmError(
                join_path(path, key),
                f"unknown {what} field; allowed fields are {', '.join(sorted(known))}, or an extension "
                f"field starting with {', '.join(EXTENSION_PREFIXES)}",
                rule="C-16",
            )
        extra[key] = value
    return MappingProxyType(extra) if extra else EMPTY_MAPPING


def check_extensions(
    extensions: Mapping[str, object], known: Iterable[str], what: str
) -> Mapping[str, object]:
    """Check an ``extensions`` mapping given to a constructor and freeze it.

    Args:
        extensions: Extra fields to carry.
        known: The structure's own field names, which extensions must not shadow.
        what: Structure name for the message.

    Returns:
        A read-only copy (or the shared empty mapping).

    Raises:
        AdmError: If a key is not a string or shadows a structure field.
    """
    if not extensions:
        return EMPTY_MAPPING
    known_set = frozenset(known)
    for key in extensions:
        if not isinstance(key, str):
            raise AdmError(
                "extensions", f"extension names must be strings, got {json_type_name(key)}"
            )
        if key in known_set:
            raise AdmError(
                join_path("extensions", key), f"extension {key!r} shadows a {what} field"
            )
    if isinstance(extensions, MappingProxyType):
        return extensions
    return MappingProxyType(dict(extensions))


def check_description(
    description: object,
    path: str,
    profile: Profile | None,
    *,
    max_length: int = MAX_DESCRIPTION_LENGTH,
) -> str:
    """Check a FunctionDeclaration description (checklist 26, 27; C-17).

    Args:
        description: The candidate description.
        path: Its path.
        profile: STRICT refuses an over-long description; LENIENT warns; None skips the
            length rule (constructors, which have no profile).
        max_length: Maximum length in Unicode code points.

    Returns:
        The description.

    Raises:
        AdmError: If it is not a string, is blank, or (STRICT) is too long.
    """
    if not isinstance(description, str):
        raise AdmError(
            path, f"description must be a string, got {json_type_name(description)}", rule="4.3#26"
        )
    if not description.strip():
        raise AdmError(path, "description must not be empty or whitespace-only", rule="4.3#26")
    if profile is not None and len(description) > max_length:
        message = f"description is {len(description)} characters long; the maximum is {max_length}"
        if profile is Profile.STRICT:
            raise AdmError(path, message, rule="4.3#27")
        warnings.warn(f"{path}: {message}", AdmWarning, stacklevel=4)
    return description


def to_plain(value: object) -> object:
    """Deep-copy a JSON-like value into plain dicts and lists (for ``to_json``).

    Args:
        value: A JSON-like value; Mappings become dicts and tuples become lists.

    Returns:
        A structure independent of ``value`` that ``json.dumps`` accepts.
    """
    if isinstance(value, Mapping):
        return {key: to_plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [to_plain(item) for item in value]
    return value
