"""LATER ``@tool`` functions served by real Runtime *processes* in the end-to-end tests.

Started with ``python -m aesp runtime tests/e2e/runtime_tools.py --target ... --ca ... --cert ...
--key ... [--runtime-id ID]``. Until that CLI exists the module runs itself with the same flags
(``python tests/e2e/runtime_tools.py --target ...``), through the same Runtime SDK.

The tools register in the process-wide LATER registry, exactly as a tool author's module
would, so the test process itself never imports this module; the Host's manifest for them is
``CONTRACTS`` in ``tests/e2e/grid/_grid.py``.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterator
from pathlib import Path

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


def main(argv: list[str] | None = None) -> None:
    """Serve these tools with the Runtime SDK (the flags of ``aesp runtime``)."""
    from aesp.runtime import run

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--target", required=True)
    parser.add_argument("--ca", required=True, type=Path)
    parser.add_argument("--cert", required=True, type=Path)
    parser.add_argument("--key", required=True, type=Path)
    parser.add_argument("--runtime-id")
    args = parser.parse_args(argv)
    run(target=args.target, ca=args.ca, cert=args.cert, key=args.key, runtime_id=args.runtime_id)


if __name__ == "__main__":
    main()
