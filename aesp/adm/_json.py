"""The project's canonical JSON form, a strict JSON parser and content digests.

Canonical form (used for digests, audit hashing and signatures across aesp):

* UTF-8 bytes, no insignificant whitespace (separators ``,`` and ``:``), no BOM;
* object keys sorted by their UTF-16 code units, as RFC 8785 (JCS) requires;
* strings escaped minimally (``"``, ``\\``, and control characters; non-ASCII kept as UTF-8);
* ``true``, ``false``, ``null``; integers written exactly as integers; floats written with
  Python's shortest round-trip ``repr``; NaN and ±Infinity are refused.

It is RFC 8785-*like*, and differs from JCS in two honest ways:

1. Numbers. JCS serialises every number as an IEEE-754 double with ECMAScript formatting, so
   ``3.0`` becomes ``3`` and ``1e-7`` stays ``1e-7``. Here floats use Python ``repr`` (``3.0``,
   ``1e-07``, ``1e+22``) and ints keep every digit (so int64 values above 2**53 survive).
   Consequently ``3`` and ``3.0`` have different digests. SPEC C-21 allows exponent forms.
2. Lone surrogates. ECMAScript escapes them as ``\\udxxx``; this encoder refuses them, because
   ADM requires UTF-8 strings. For every well-formed string the escaping is the same as JCS
   (``"``, ``\\``, ``\\b \\f \\n \\r \\t`` and ``\\u00xx`` for other control characters).

Inputs that JSON cannot represent are refused with :class:`~aesp.adm.AdmError`, not coerced:
non-string object keys, NaN/Infinity, lone surrogates, and Python objects other than
``dict``/``Mapping``, ``list``/``tuple``, ``str``, ``int``, ``float``, ``bool`` and ``None``.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping
from typing import Final

from ._paths import Invalid, index_path, json_type_name, key_segment
from .errors import AdmError

__all__ = [
    "MAX_JSON_DEPTH",
    "canonical_json",
    "content_digest",
    "parse_json",
    "validate_json_value",
]

MAX_JSON_DEPTH: Final = 256  # two frames per level stays under CPython's default limit of 1000

_encode_str = json.encoder.encode_basestring  # C-accelerated; keeps non-ASCII as-is
_ROOT: Final = "$"


def _sort_keys(keys: list[str]) -> None:
    """Sort keys in place by UTF-16 code units (RFC 8785 §3.2.3)."""
    if all(k.isascii() for k in keys):
        keys.sort()  # code-point order equals UTF-16 order for ASCII
    else:
        keys.sort(key=lambda k: k.encode("utf-16-be", "surrogatepass"))


def _emit(obj: object, out: list[str], depth: int) -> None:
    """Append the canonical text of ``obj`` to ``out``; raise Invalid on non-JSON input."""
    if isinstance(obj, str):
        out.append(_encode_str(obj))
    elif obj is None:
        out.append("null")
    elif obj is True:
        out.append("true")
    elif obj is False:
        out.append("false")
    elif isinstance(obj, int):
        out.append(int.__repr__(obj))
    elif isinstance(obj, float):
        if not math.isfinite(obj):
            raise Invalid(
                f"{obj!r} is not a valid JSON number (NaN and Infinity are refused)", "4.1#1"
            )
        out.append(float.__repr__(obj))
    elif isinstance(obj, Mapping):
        _emit_object(obj, out, depth)
    elif isinstance(obj, list | tuple):
        _emit_array(obj, out, depth)
    else:
        raise Invalid(f"a {json_type_name(obj)} cannot be serialised as JSON", "4.1#1")


def _emit_object(obj: Mapping[object, object], out: list[str], depth: int) -> None:
    """Emit a JSON object with sorted keys."""
    if depth >= MAX_JSON_DEPTH:
        raise Invalid(
            f"nesting is deeper than {MAX_JSON_DEPTH} levels (or the value is cyclic)", None
        )
    keys: list[str] = []
    for key in obj:
        if not isinstance(key, str):
            raise Invalid(
                f"object keys must be strings, got {json_type_name(key)}", "4.1#1", key_segment(key)
            )
        keys.append(key)
    _sort_keys(keys)
    out.append("{")
    first = True
    for key in keys:
        if not first:
            out.append(",")
        first = False
        out.append(_encode_str(key))
        out.append(":")
        try:
            _emit(obj[key], out, depth + 1)
        except Invalid as exc:
            exc.segments.append(key_segment(key))
            raise
    out.append("}")


def _emit_array(obj: list[object] | tuple[object, ...], out: list[str], depth: int) -> None:
    """Emit a JSON array in order."""
    if depth >= MAX_JSON_DEPTH:
        raise Invalid(
            f"nesting is deeper than {MAX_JSON_DEPTH} levels (or the value is cyclic)", None
        )
    out.append("[")
    for i, item in enumerate(obj):
        if i:
            out.append(",")
        try:
            _emit(item, out, depth + 1)
        except Invalid as exc:
            exc.segments.append(f"[{i}]")
            raise
    out.append("]")


def _find_lone_surrogate(obj: object, path: str) -> str | None:
    """Return the path of the first string (or key) that is not encodable as UTF-8."""
    if isinstance(obj, str):
        try:
            obj.encode("utf-8")
        except UnicodeEncodeError:
            return path
        return None
    if isinstance(obj, Mapping):
        for key, value in obj.items():
            sub = path + key_segment(key)
            found = _find_lone_surrogate(key, sub) or _find_lone_surrogate(value, sub)
            if found:
                return found
    elif isinstance(obj, list | tuple):
        for i, item in enumerate(obj):
            found = _find_lone_surrogate(item, index_path(path, i))
            if found:
                return found
    return None


def _surrogate_error(obj: object, root: str = _ROOT) -> AdmError:
    """Build the error for a string that cannot be UTF-8 encoded."""
    return AdmError(
        _find_lone_surrogate(obj, root) or root,
        "string contains a lone UTF-16 surrogate and cannot be encoded as UTF-8",
        rule="4.1#1",
    )


def _canonical(obj: object, root: str) -> bytes:
    """Serialise ``obj``; report failures with paths rooted at ``root``."""
    out: list[str] = []
    try:
        _emit(obj, out, 0)
    except Invalid as exc:
        raise exc.to_error(root) from None
    except RecursionError:
        raise AdmError(root, "value is nested too deeply to serialise") from None
    try:
        return "".join(out).encode("utf-8")
    except UnicodeEncodeError:
        raise _surrogate_error(obj, root) from None


def canonical_json(obj: object) -> bytes:
    """Serialise a JSON value to the project's canonical bytes (see the module docstring).

    Args:
        obj: A JSON value built from dict/Mapping, list/tuple, str, int, float, bool and None.

    Returns:
        Deterministic UTF-8 bytes: equal values give equal bytes regardless of key order.

    Raises:
        AdmError: If ``obj`` is not representable as JSON (path is JSONPath-like, ``$.a[0]``).
    """
    return _canonical(obj, _ROOT)


def validate_json_value(obj: object, *, path: str = _ROOT) -> None:
    """Check that a Python value is a JSON value that :func:`canonical_json` accepts.

    Args:
        obj: The value to check.
        path: Path to report for ``obj`` itself.

    Raises:
        AdmError: If the value is not JSON-serialisable.
    """
    _canonical(obj, path)


def content_digest(obj: object) -> str:
    """Digest a JSON value as ``"sha256:" + hex(SHA-256(canonical_json(obj)))``.

    Args:
        obj: A JSON value.

    Returns:
        The digest string, e.g. ``sha256:44136f...``; stable under key reordering.

    Raises:
        AdmError: If ``obj`` is not representable as JSON.
    """
    return "sha256:" + hashlib.sha256(canonical_json(obj)).hexdigest()


def _object_pairs(pairs: list[tuple[str, object]]) -> dict[str, object]:
    """Build an object, refusing duplicate keys."""
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise AdmError(
                    _ROOT, f"duplicate object key {key!r}; every key must appear once", rule="4.1#1"
                )
            seen.add(key)
    return result


def _parse_constant(name: str) -> object:
    """Refuse the non-standard NaN/Infinity literals Python's json accepts by default."""
    raise AdmError(
        _ROOT, f"{name} is not valid JSON (RFC 8259 has no NaN or Infinity)", rule="4.1#1"
    )


def _parse_float(text: str) -> float:
    """Parse a JSON number with a fraction or exponent; refuse overflow to infinity."""
    value = float(text)
    if not math.isfinite(value):
        raise AdmError(_ROOT, f"number {text} is outside the IEEE-754 double range", rule="4.1#1")
    return value


_DECODER: Final = json.JSONDecoder(
    object_pairs_hook=_object_pairs, parse_constant=_parse_constant, parse_float=_parse_float
)
_MAYBE_SURROGATE: Final = re.compile(r"\\u[dD][89a-fA-F]")


def parse_json(data: bytes | bytearray | memoryview | str) -> object:
    """Parse one JSON document strictly (RFC 8259).

    Refuses: bytes that are not UTF-8, a byte order mark, NaN/Infinity literals, numbers that
    overflow a double, duplicate object keys, lone surrogate escapes (``"\\ud800"``), trailing
    data and control characters inside strings. Nesting depth is bounded by the interpreter's
    recursion guard (about 1000 levels); note that :func:`canonical_json` accepts at most
    :data:`MAX_JSON_DEPTH` levels.

    Args:
        data: The document as UTF-8 bytes or as text.

    Returns:
        The parsed value (dict, list, str, int, float, bool or None).

    Raises:
        AdmError: With path ``$`` and a reason naming the line and column where possible.
        TypeError: If ``data`` is neither bytes-like nor str.
    """
    if isinstance(data, bytes | bytearray | memoryview):
        raw = bytes(data)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise AdmError(
                _ROOT, f"document is not valid UTF-8 (bad byte at offset {exc.start})", rule="4.1#1"
            ) from None
    elif isinstance(data, str):
        text = data
    else:
        raise TypeError(f"parse_json expects bytes or str, not {type(data).__name__}")
    if text.startswith("\ufeff"):
        raise AdmError(
            _ROOT, "document starts with a byte order mark; send JSON without a BOM", rule="4.1#1"
        )
    try:
        value = _DECODER.decode(text)
    except AdmError:
        raise
    except json.JSONDecodeError as exc:
        raise AdmError(
            _ROOT, f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}", rule="4.1#1"
        ) from None
    except RecursionError:
        raise AdmError(_ROOT, "document is nested too deeply to parse") from None
    except ValueError as exc:  # e.g. an integer with more digits than int_max_str_digits
        raise AdmError(_ROOT, f"invalid JSON number: {exc}", rule="4.1#1") from None
    if _MAYBE_SURROGATE.search(text) and _find_lone_surrogate(value, _ROOT) is not None:
        raise _surrogate_error(value)
    return value
