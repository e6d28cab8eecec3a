"""Path strings for error messages (``args.items[2].name``), and the internal failure signal.

Validators on the hot path never build a path while a value is valid: they raise
:class:`Invalid` with the innermost segment and each enclosing level appends its own segment
while the exception travels outwards. Only the failure path pays for string building.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

from .errors import AdmError

__all__ = ["Invalid", "index_path", "join_path", "key_segment", "json_type_name"]

_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*\Z")


def key_segment(key: object) -> str:
    """Return the path segment for an object key: ``.name`` or ``["odd key"]``.

    Args:
        key: The object key (normally a string).

    Returns:
        The segment, starting with ``.`` or ``[``.
    """
    if isinstance(key, str):
        if _PLAIN_KEY.match(key):
            return "." + key
        return "[" + json.dumps(key, ensure_ascii=False) + "]"
    return f"[{key!r}]"


def join_path(base: str, key: object) -> str:
    """Append an object key to a path; an empty base gives a bare field name.

    Args:
        base: The parent path, or ``""`` for the root of a structure.
        key: The key to append.

    Returns:
        The joined path.
    """
    segment = key_segment(key)
    if not base:
        return segment[1:] if segment.startswith(".") else segment
    return base + segment


def index_path(base: str, index: int) -> str:
    """Append an array index to a path.

    Args:
        base: The parent path.
        index: Zero-based array index.

    Returns:
        ``base[index]``.
    """
    return f"{base or '$'}[{index}]"


def json_type_name(value: object) -> str:
    """Name the JSON type of a Python value for error messages.

    Args:
        value: Any Python value.

    Returns:
        ``null``, ``boolean``, ``integer``, ``number``, ``string``, ``array``, ``object``, or a
        note that the value is not JSON at all.
    """
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "array"
    if isinstance(value, Mapping):
        return "object"
    return f"Python {type(value).__name__} (not a JSON value)"


class Invalid(Exception):  # noqa: N818 - internal control-flow signal, never escapes the package
    """Internal failure signal carrying reversed path segments; converted to AdmError at the edge."""

    __slots__ = ("reason", "rule", "segments")

    def __init__(self, reason: str, rule: str | None, segment: str | None = None) -> None:
        """Create the signal.

        Args:
            reason: Human-readable explanation.
            rule: SPEC.md rule id, if any.
            segment: Innermost path segment, if the failure is below the current level.
        """
        super().__init__(reason)
        self.reason = reason
        self.rule = rule
        self.segments: list[str] = [] if segment is None else [segment]

    def to_error(self, root: str) -> AdmError:
        """Convert to a public :class:`AdmError` rooted at ``root``.

        Args:
            root: The path of the value that was being checked (``args``, ``$``).

        Returns:
            The error with the full path.
        """
        return AdmError(root + "".join(reversed(self.segments)), self.reason, rule=self.rule)
