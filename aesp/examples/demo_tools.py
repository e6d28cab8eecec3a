"""The tool ``aesp demo`` promotes, governs and calls: a refund, the kind of action an agent
should only take under rules an operator can read and change.

It moves no money: the refund id is derived from the order id so that the demo's output is the
same on every run and a reader can match a result to its audit entry.
"""

from __future__ import annotations

import hashlib

from aesp.later import tool


@tool
def issue_refund(order_id: str, amount: float, reason: str) -> dict[str, object]:
    """Refund part or all of a customer order.

    Args:
        order_id: The order to refund, e.g. ORD-1042.
        amount: How much to give back, in USD.
        reason: Why, in the customer's words.
    """
    refund_id = "rf-" + hashlib.sha256(order_id.encode()).hexdigest()[:8]
    return {"refund_id": refund_id, "order_id": order_id, "amount": amount, "status": "REFUNDED"}
