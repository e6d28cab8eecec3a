"""Cursors that encode one positive integer (a sequence or a version number), for the ports
whose listings are ordered by one.

Why checked: a cursor the store did not issue (a typo, a cursor of another listing) must be
refused, not silently read as "from the start", which would repeat items to the caller.
"""

from __future__ import annotations


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
