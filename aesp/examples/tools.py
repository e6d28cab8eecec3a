"""Example tools a Runtime serves in ``aesp demo``.

``convert_currency`` and ``word_stream`` are contracts in the example manifest, so the Host lets
the Runtime fulfil them. ``delete_all_records`` is *not* in the manifest: a Runtime offering it
cannot make it callable, because the Host, not the Runtime, owns the contracts (DESIGN §2).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

from aesp.later import tool

RATES = {("EUR", "USD"): 1.08, ("USD", "EUR"): 0.93, ("GBP", "USD"): 1.27, ("USD", "GBP"): 0.79}


@tool
def convert_currency(
    amount: float, source: Literal["EUR", "USD", "GBP"], target: Literal["EUR", "USD", "GBP"]
) -> dict[str, object]:
    """Convert an amount between currencies at a fixed demo rate.

    Args:
        amount: The amount to convert.
        source: Currency of the amount.
        target: Currency wanted.
    """
    if source == target:
        return {"amount": amount, "currency": target, "rate": 1.0}
    rate = RATES.get((source, target))
    if rate is None:
        raise ValueError(f"no demo rate from {source} to {target}")
    return {"amount": round(amount * rate, 2), "currency": target, "rate": rate}


@tool
def word_stream(text: str) -> Iterator[str]:
    """Stream the words of a text one by one.

    Args:
        text: The text to split.
    """
    yield from text.split()


@tool
def delete_all_records(table: str) -> str:
    """Delete every record of a table (a tool the Host never approved).

    Args:
        table: The table.
    """
    return f"deleted everything in {table}"
