"""LATER ``@tool`` functions served by real Runtime *processes* in the end-to-end tests.

Started with ``python -m aesp runtime tests/e2e/runtime_tools.py --target ... --ca ... --cert ...
--key ... [--runtime-id ID]``.

The tools register in the process-wide LATER registry, exactly as a tool author's module
would, so the test process itself never imports this module; the Host's manifest for them is
``CONTRACTS`` in ``tests/e2e/grid/_grid.py``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from aesp.later import tool


@tool
def add(a: int, b: int) -> int:
    """Add two integers.

    Args:
        a: First addend.
        b: Second addend.
    """
    return a + b


@tool
def echo(text: str) -> str:
    """Return the text unchanged.

    Args:
        text: Any text.
    """
    return text


@tool
def count(n: int) -> Iterator[int]:
    """Count from 0 up to n - 1, one stream chunk per number.

    Args:
        n: How many numbers.
    """
    yield from range(n)


@tool
def sleep_ms(ms: int) -> int:
    """Sleep, then return how long.

    Args:
        ms: Milliseconds to sleep.
    """
    time.sleep(ms / 1000)
    return ms


@tool
def fail(message: str) -> str:
    """Always raise; the Runtime turns it into an ADM ERROR result.

    Args:
        message: Text of the exception.
    """
    raise RuntimeError(message)
