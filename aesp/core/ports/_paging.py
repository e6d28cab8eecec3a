"""Paging shared by every port that lists (C-39: ``limit`` + opaque ``cursor``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")

MAX_PAGE = 1000  # bounds one response; callers page for more
DEFAULT_PAGE = 100


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of results; ``next_cursor`` is empty on the last page."""

    items: Sequence[T]
    next_cursor: str = ""


def page_limit(limit: int) -> int:
    """Clamp a requested page size to [1, MAX_PAGE]; 0 means the default."""
    if limit <= 0:
        return DEFAULT_PAGE
    return min(limit, MAX_PAGE)
