"""Google-style docstring parsing for the LATER ``@tool`` decorator (LATER §2.1, checklist 53).

Only two things are extracted: the first paragraph (the tool description) and the entries of
the ``Args:`` section (per-parameter descriptions). Everything else is ignored.
"""

from __future__ import annotations

import inspect
import re
from typing import Final

__all__ = ["parse_docstring"]

_ARGS_HEADERS: Final = frozenset(
    {"Args", "Arguments", "Parameters", "Params", "Keyword Args", "Keyword Arguments"}
)
_SECTION: Final = re.compile(r"^([A-Z][A-Za-z ]*):\s*$")
_ENTRY: Final = re.compile(r"^\*{0,2}([A-Za-z_][A-Za-z0-9_]*)\s*(?:\([^)]*\))?\s*:\s*(.*)$")


def parse_docstring(doc: str | None) -> tuple[str, dict[str, str]]:
    """Split a Google-style docstring into a description and per-parameter descriptions.

    Args:
        doc: The raw docstring (``func.__doc__``), or None.

    Returns:
        ``(description, params)``: the first paragraph joined into one line (empty if there is
        none) and a mapping from parameter name to its one-line description.
    """
    if not doc or not doc.strip():
        return "", {}
    lines = inspect.cleandoc(doc).splitlines()
    return _first_paragraph(lines), _args_section(lines)


def _first_paragraph(lines: list[str]) -> str:
    """Lines up to the first blank line or section header."""
    paragraph: list[str] = []
    for line in lines:
        stripped = line.strip()
        if not stripped or _SECTION.match(stripped):
            break
        paragraph.append(stripped)
    return " ".join(paragraph)


def _args_section(lines: list[str]) -> dict[str, str]:
    """Entries of the Args section; continuation lines are indented deeper than the entry."""
    params: dict[str, str] = {}
    in_args = False
    entry_indent: int | None = None
    current: str | None = None
    for line in lines:
        stripped = line.strip()
        indent = len(line) - len(line.lstrip())
        header = _SECTION.match(stripped)
        if indent == 0 and header:
            in_args = header.group(1) in _ARGS_HEADERS
            entry_indent, current = None, None
            continue
        if not in_args or not stripped:
            continue
        if indent == 0:  # dedent ends the section
            in_args = False
            continue
        if entry_indent is None:
            entry_indent = indent
        match = _ENTRY.match(stripped) if indent == entry_indent else None
        if match:
            current = match.group(1)
            params[current] = match.group(2).strip()
        elif current is not None and indent > entry_indent:
            params[current] = f"{params[current]} {stripped}".strip()
    return params
