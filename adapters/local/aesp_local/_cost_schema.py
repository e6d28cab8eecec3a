"""The cost ledger's schema, and its ``budgets`` and ``usage_records`` rows to and from the
core dataclasses.

Kept apart from :mod:`aesp_local.cost` so the ledger module reads as the transactions it runs.
The column lists are the single source of the column order both directions rely on.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from aesp.core.cost import Budget, BudgetPeriod, BudgetScope, UsageRecord

MIGRATIONS = (
    """CREATE TABLE budgets (
         budget_id TEXT PRIMARY KEY,
         tenant_id TEXT NOT NULL,
         name TEXT NOT NULL,
         amount_micros INTEGER NOT NULL,
         currency TEXT NOT NULL,
         period TEXT NOT NULL,
         alert_thresholds TEXT NOT NULL,
         hard_limit INTEGER NOT NULL,
         scope TEXT NOT NULL,
         scope_value TEXT NOT NULL,
         start_date_ms INTEGER NOT NULL,
         end_date_ms INTEGER NOT NULL
       );
       CREATE INDEX budgets_by_tenant ON budgets (tenant_id, budget_id);
       CREATE TABLE reservations (
         reservation_id TEXT PRIMARY KEY,
         budget_ids TEXT NOT NULL,
         amount_micros INTEGER NOT NULL,
         created_at_ms INTEGER NOT NULL,
         expires_at_ms INTEGER NOT NULL,
         state TEXT NOT NULL,
         charged_micros INTEGER NOT NULL
       );
       CREATE TABLE holds (
         budget_id TEXT NOT NULL,
         reservation_id TEXT NOT NULL,
         created_at_ms INTEGER NOT NULL,
         expires_at_ms INTEGER NOT NULL,
         state TEXT NOT NULL,
         micros INTEGER NOT NULL,
         PRIMARY KEY (budget_id, reservation_id)
       );
       CREATE INDEX holds_by_budget_time
         ON holds (budget_id, created_at_ms, state, expires_at_ms, micros);
       CREATE INDEX holds_by_reservation ON holds (reservation_id);
       CREATE TABLE usage_records (
         seq INTEGER PRIMARY KEY AUTOINCREMENT,
         event_id TEXT NOT NULL UNIQUE,
         timestamp_ms INTEGER NOT NULL,
         tenant_id TEXT NOT NULL,
         resource_type TEXT NOT NULL,
         quantity REAL NOT NULL,
         unit TEXT NOT NULL,
         unit_cost REAL NOT NULL,
         total_cost_micros INTEGER NOT NULL,
         principal_id TEXT NOT NULL,
         session_id TEXT NOT NULL,
         cost_center TEXT NOT NULL,
         project_id TEXT NOT NULL,
         metadata TEXT NOT NULL,
         tool TEXT NOT NULL
       );
       CREATE INDEX usage_by_tenant_time ON usage_records (tenant_id, timestamp_ms)""",
)

BUDGET_COLUMNS = (
    "budget_id, tenant_id, name, amount_micros, currency, period, alert_thresholds, "
    "hard_limit, scope, scope_value, start_date_ms, end_date_ms"
)
USAGE_COLUMNS = (
    "event_id, timestamp_ms, tenant_id, resource_type, quantity, unit, unit_cost, "
    "total_cost_micros, principal_id, session_id, cost_center, project_id, metadata, tool"
)


def budget_row(b: Budget) -> tuple[Any, ...]:
    """``b`` in :data:`BUDGET_COLUMNS` order."""
    return (
        *(b.budget_id, b.tenant_id, b.name, b.amount_micros, b.currency, b.period.value),
        json.dumps(list(b.alert_thresholds)),
        *(int(b.hard_limit), b.scope.value, b.scope_value, b.start_date_ms, b.end_date_ms),
    )


def budget_from_row(row: Sequence[Any]) -> Budget:
    """The budget a :data:`BUDGET_COLUMNS` row holds."""
    budget_id, tenant_id, name, amount, currency, period, thresholds = row[:7]
    hard_limit, scope, scope_value, start, end = row[7:]
    return Budget(
        budget_id=budget_id,
        tenant_id=tenant_id,
        amount_micros=int(amount),
        name=name,
        currency=currency,
        period=BudgetPeriod(period),
        alert_thresholds=tuple(json.loads(thresholds)),
        hard_limit=bool(hard_limit),
        scope=BudgetScope(scope),
        scope_value=scope_value,
        start_date_ms=int(start),
        end_date_ms=int(end),
    )


def usage_row(r: UsageRecord) -> tuple[Any, ...]:
    """``r`` in :data:`USAGE_COLUMNS` order (metadata as JSON, doubles as REAL)."""
    return (
        *(r.event_id, r.timestamp_ms, r.tenant_id, r.resource_type, float(r.quantity), r.unit),
        *(float(r.unit_cost), r.total_cost_micros, r.principal_id, r.session_id, r.cost_center),
        *(r.project_id, json.dumps(dict(r.metadata)), r.tool),
    )


def usage_from_row(row: Sequence[Any]) -> UsageRecord:
    """The record a :data:`USAGE_COLUMNS` row holds."""
    event_id, timestamp, tenant_id, resource_type, quantity, unit, unit_cost = row[:7]
    total, principal_id, session_id, cost_center, project_id, metadata, tool = row[7:]
    return UsageRecord(
        event_id=event_id,
        timestamp_ms=int(timestamp),
        tenant_id=tenant_id,
        resource_type=resource_type,
        quantity=float(quantity),
        unit=unit,
        unit_cost=float(unit_cost),
        total_cost_micros=int(total),
        principal_id=principal_id,
        session_id=session_id,
        cost_center=cost_center,
        project_id=project_id,
        metadata=json.loads(metadata),
        tool=tool,
    )


def marks(columns: str) -> str:
    """One ``?`` per column of a comma-separated column list."""
    return ", ".join("?" for _ in columns.split(","))
