"""Times, budgets and usage records shared by the Cost kits."""

from __future__ import annotations

from typing import Any

from aesp.core.cost import Budget, UsageRecord

T0 = 1_700_000_000_000  # 2023-11-14T22:13:20Z
NOV_1 = 1_698_796_800_000  # 2023-11-01T00:00:00Z
DEC_1 = 1_701_388_800_000
TTL = 60_000


def budget(budget_id: str = "b", amount: int = 100, tenant_id: str = "acme", **f: Any) -> Budget:
    """A hard monthly budget; ``f`` overrides any other field."""
    return Budget(budget_id=budget_id, tenant_id=tenant_id, amount_micros=amount, **f)


def usage(n: int, **fields: Any) -> UsageRecord:
    """Usage record number ``n``; ``fields`` override any attribute."""
    values: dict[str, Any] = {
        "event_id": f"u-{n:05d}",
        "timestamp_ms": T0 + n,
        "tenant_id": "acme",
        "resource_type": "API_CALL",
        "quantity": 1.0,
        "unit": "calls",
        "unit_cost": 0.25,
        "total_cost_micros": 250_000,
        "principal_id": "alice",
    }
    values.update(fields)
    return UsageRecord(**values)
