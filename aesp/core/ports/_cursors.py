"""Cursors of the ports' listings: one positive integer (a sequence or a version number), or
a pair of ids (``(tenant_id, policy_id)``), whichever the listing is ordered by.

Why checked: a cursor the store did not issue (a typo, a cursor of another listing) must be
refused, not silently read as "from the start", which would repeat items to the caller.
"""

from __future__ import annotations

import json


def encode_number(number: int) -> str:
    """The cursor after the item numbered ``number``."""
    return str(number)


def decode_number(cursor: str, method: str) -> int:
    """The number a cursor encodes, 0 for the first page (an empty cursor).

    Raises:
        ValueError: Not a cursor ``method`` returned.
    """
    if not cursor:
        return 0
    if not (cursor.isascii() and cursor.isdigit() and int(cursor) > 0):
        raise ValueError(f"cursor {cursor!r} was not returned by {method}")
    return int(cursor)


def encode_pair_cursor(first: str, second: str) -> str:
    """An opaque cursor after ``(first, second)``: JSON, so no separator inside an id is
    ambiguous."""
    return json.dumps([first, second], separators=(",", ":"))


def decode_pair_cursor(cursor: str, method: str) -> tuple[str, str] | None:
    """The pair :func:`encode_pair_cursor` made, None for the first page (``""``).

    Raises:
        ValueError: Not a cursor ``method`` returned.
    """
    if not cursor:
        return None
    try:
        pair = json.loads(cursor)
    except ValueError:
        pair = None
    if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(p, str) for p in pair)):
        raise ValueError(f"cursor {cursor!r} was not returned by {method}")
    return pair[0], pair[1]
