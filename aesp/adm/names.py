"""Identifier rules shared by ADM structures: function names and call ids.

``NAME_PATTERN`` is ADM §4.2's ``^[a-zA-Z_][a-zA-Z0-9_-]{0,63}$``, compiled with ``\\Z`` in place
of ``$``: in Python ``$`` also matches before a trailing newline, so ``"get\\n"`` would pass a
``$``-anchored ``match``. Call ids follow ADM §4.4.3: 1 to 128 printable ASCII characters.
"""

from __future__ import annotations

import re
from typing import Final

from .errors import AdmError

__all__ = [
    "CALL_ID_PATTERN",
    "MAX_CALL_ID_LENGTH",
    "MAX_NAME_LENGTH",
    "NAME_PATTERN",
    "validate_call_id",
    "validate_name",
]

MAX_NAME_LENGTH: Final = 64  # ADM §4.2.2
MAX_CALL_ID_LENGTH: Final = 128  # ADM §4.4.3

NAME_PATTERN: Final = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_-]{0,63}\Z")
"""ADM function-name rule; use ``NAME_PATTERN.match(s)`` (anchored at both ends)."""

CALL_ID_PATTERN: Final = re.compile(r"^[\x20-\x7e]{1,128}\Z")
"""ADM call-id rule: 1-128 characters in 0x20-0x7E."""

_NAME_START: Final = re.compile(r"[a-zA-Z_]")
_NAME_BAD_CHAR: Final = re.compile(r"[^a-zA-Z0-9_-]")
_CALL_ID_BAD_CHAR: Final = re.compile(r"[^\x20-\x7e]")


def validate_name(name: object, path: str = "name", *, rule: str = "4.3#25") -> None:
    """Check a function name against ADM §4.2.2.

    Args:
        name: The candidate name.
        path: Path to report on failure.
        rule: Checklist item to report (4.3#25 for declarations, 4.4#35 for calls).

    Raises:
        AdmError: If ``name`` is not a string matching :data:`NAME_PATTERN`; the reason says
            which part is wrong.
    """
    if isinstance(name, str) and NAME_PATTERN.match(name):
        return
    if not isinstance(name, str):
        raise AdmError(path, f"name must be a string, got {type(name).__name__}", rule=rule)
    if not name:
        raise AdmError(path, "name must not be empty", rule=rule)
    if len(name) > MAX_NAME_LENGTH:
        raise AdmError(
            path,
            f"name is {len(name)} characters long; the maximum is {MAX_NAME_LENGTH}",
            rule=rule,
        )
    if not _NAME_START.match(name):
        raise AdmError(path, f"name {name!r} must start with a letter or '_'", rule=rule)
    bad = _NAME_BAD_CHAR.search(name)
    where = f"{bad.group()!r} at position {bad.start()}" if bad else "a character"
    raise AdmError(
        path,
        f"name {name!r} contains {where}; only letters, digits, '_' and '-' are allowed",
        rule=rule,
    )


def validate_call_id(call_id: object, path: str = "call_id", *, rule: str = "4.4#33") -> None:
    """Check a call id against ADM §4.4.3 (non-empty, at most 128 printable ASCII characters).

    A call id that is not a UUID v4 is accepted without comment (checklist 34: SHOULD only).

    Args:
        call_id: The candidate call id.
        path: Path to report on failure.
        rule: Checklist item to report.

    Raises:
        AdmError: If the call id is not a string, is empty, too long or has a character
            outside 0x20-0x7E.
    """
    if isinstance(call_id, str) and CALL_ID_PATTERN.match(call_id):
        return
    if not isinstance(call_id, str):
        raise AdmError(path, f"call_id must be a string, got {type(call_id).__name__}", rule=rule)
    if not call_id:
        raise AdmError(path, "call_id must not be empty", rule=rule)
    if len(call_id) > MAX_CALL_ID_LENGTH:
        raise AdmError(
            path,
            f"call_id is {len(call_id)} characters long; the maximum is {MAX_CALL_ID_LENGTH}",
            rule=rule,
        )
    bad = _CALL_ID_BAD_CHAR.search(call_id)
    position = bad.start() if bad else 0
    raise AdmError(
        path,
        f"call_id has a character outside printable ASCII (0x20-0x7E) at position {position}",
        rule=rule,
    )
