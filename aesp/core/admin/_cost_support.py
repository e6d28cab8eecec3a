"""Requests and views of the cost admin operations (:mod:`aesp.core.admin.cost`).

Why a separate module: turning a request into a :class:`~aesp.core.cost.Budget` or a
:class:`~aesp.core.cost.UsageRecord` is pure checking, kept apart so the operations module holds
only the operations. Every check raises ``MALFORMED_REQUEST`` naming the field.
"""

from __future__ import annotations

import hashlib
import math
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from types import MappingProxyType
from typing import Final

from aesp.core._budgets import thresholds
from aesp.core.admin._cost_reports import GROUP_FIELDS, Aggregation, Window
from aesp.core.admin._tenant_support import check_metadata
from aesp.core.cost import MICROS_PER_UNIT, Budget, BudgetPeriod, BudgetScope, UsageRecord
from aesp.core.cost import to_micros as _to_micros
from aesp.core.errors import ValidationError
from aesp.core.ports.cost import BudgetStatus

__all__ = [
    "EVENT_TYPES",
    "USAGE_ID_PREFIX",
    "BudgetDraft",
    "BudgetView",
    "UsageDraft",
    "aggregation",
    "budget_from",
    "group_fields",
    "usage_from",
    "view",
    "window",
]

EVENT_TYPES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "RecordUsage": "USAGE_RECORD",
        "CreateBudget": "BUDGET_CREATE",
        "SetBudgetAlerts": "BUDGET_UPDATE",
    }
)  # event type of each write; every other RPC is an ADMIN_QUERY
RESOURCE_UNITS: Final = {
    "API_CALL": "calls",
    "CPU": "seconds",
    "MEMORY": "bytes",
    "STORAGE": "bytes",
    "NETWORK": "bytes",
}  # SPEC §3.6 resource types (NETWORK: aesp) and the unit each is counted in
_BUDGET_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
MAX_TEXT = 256  # characters of a free-text field (name, cost centre, project)
USAGE_ID_PREFIX: Final = "use-"  # ids of RecordUsage records (metered calls use res-/inv-)


def _bad(field_name: str, why: str) -> ValidationError:
    return ValidationError(
        "MALFORMED_REQUEST", f"{field_name} {why}.", details={"field": field_name}
    )


@dataclass(frozen=True, slots=True)
class BudgetDraft:
    """A ``BudgetDefinition`` as requested (amount in currency units, as on the wire)."""

    budget_id: str = ""
    name: str = ""
    tenant_id: str = ""
    cost_center: str = ""
    amount: float = 0.0
    currency: str = ""
    period: str = ""
    alert_thresholds: tuple[str, ...] = ()
    auto_shutdown: bool = False
    start_date_ms: int = 0
    end_date_ms: int = 0
    scope: str = ""
    scope_value: str = ""


def budget_from(draft: BudgetDraft, *, tenant_id: str, currency: str) -> Budget:
    """The budget ``draft`` asks for in ``tenant_id`` (a new id when it names none).

    Raises:
        ValidationError: ``MALFORMED_REQUEST`` naming the field.
    """
    budget_id = draft.budget_id or f"bud-{secrets.token_hex(8)}"
    if not _BUDGET_ID.fullmatch(budget_id):
        raise _bad("budget.budget_id", "must be 1-64 letters, digits, '.', '_' or '-'")
    if draft.currency and draft.currency != currency:
        raise _bad("budget.currency", f"must be {currency}, the currency this Host prices in")
    if not math.isfinite(draft.amount) or draft.amount < 0:
        raise _bad("budget.amount", "must be a non-negative number")
    scope_name = draft.scope or ("COST_CENTER" if draft.cost_center else "TENANT")
    if scope_name not in BudgetScope.__members__:
        raise _bad("budget.scope", f"must be one of {', '.join(BudgetScope)}")
    value = draft.scope_value or (draft.cost_center if scope_name == "COST_CENTER" else "")
    if draft.cost_center and (scope_name != "COST_CENTER" or value != draft.cost_center):
        raise _bad("budget.cost_center", "must match a COST_CENTER scope_value, or be empty")
    if draft.period and draft.period not in BudgetPeriod.__members__:
        raise _bad("budget.period", f"must be one of {', '.join(BudgetPeriod)}")
    if len(draft.name) > MAX_TEXT or len(value) > MAX_TEXT:
        raise _bad("budget.name", f"and the scope value hold at most {MAX_TEXT} characters")
    try:
        return Budget(
            budget_id=budget_id,
            tenant_id=tenant_id,
            amount_micros=_to_micros(draft.amount),
            name=draft.name,
            currency=currency,
            period=BudgetPeriod(draft.period or "MONTHLY"),
            alert_thresholds=draft.alert_thresholds,
            hard_limit=draft.auto_shutdown,
            scope=BudgetScope(scope_name),
            scope_value=value,
            start_date_ms=draft.start_date_ms,
            end_date_ms=draft.end_date_ms,
        )
    except (TypeError, ValueError) as exc:
        raise _bad("budget", f"is invalid: {exc}") from None


@dataclass(frozen=True, slots=True)
class UsageDraft:
    """An ``AccountingEvent`` as reported through ``RecordUsage``."""

    event_id: str = ""
    timestamp_ms: int = 0
    tenant_id: str = ""
    principal_id: str = ""
    session_id: str = ""
    resource_type: str = ""
    quantity: float = 0.0
    unit: str = ""
    unit_cost: float = 0.0
    cost_center: str = ""
    project_id: str = ""
    metadata: Mapping[str, str] = field(default_factory=dict)


def usage_from(draft: UsageDraft, *, tenant_id: str, principal_id: str, now_ms: int) -> UsageRecord:
    """The record to store: ``total_cost`` recomputed as ``quantity x unit_cost`` (item 196).

    The stored event id is derived from the tenant and the caller's id (``use-<hex>``), so a
    retry with the same id records once and no tenant can take another tenant's ids.

    Raises:
        ValidationError: ``MALFORMED_REQUEST`` naming the field.
    """
    unit = RESOURCE_UNITS.get(draft.resource_type)
    if unit is None:
        raise _bad("usage_event.resource_type", f"must be one of {', '.join(RESOURCE_UNITS)}")
    if draft.unit and draft.unit != unit:
        raise _bad("usage_event.unit", f"of {draft.resource_type} must be '{unit}'")
    for name in ("quantity", "unit_cost"):
        value = getattr(draft, name)
        if not math.isfinite(value) or value < 0 or value > 1e15:
            raise _bad(f"usage_event.{name}", "must be a non-negative number")
    if any(len(v) > MAX_TEXT for v in (draft.event_id, draft.cost_center, draft.project_id)):
        raise _bad("usage_event", f"text fields hold at most {MAX_TEXT} characters")
    check_metadata(draft.metadata)
    source = draft.event_id or secrets.token_hex(16)
    digest = hashlib.sha256(f"{tenant_id}\0{source}".encode()).hexdigest()[:32]
    total = Decimal(repr(draft.quantity)) * Decimal(repr(draft.unit_cost)) * MICROS_PER_UNIT
    meta = {**draft.metadata, **({"client_event_id": draft.event_id} if draft.event_id else {})}
    return UsageRecord(
        event_id=f"{USAGE_ID_PREFIX}{digest}",
        timestamp_ms=draft.timestamp_ms or now_ms,
        tenant_id=tenant_id,
        resource_type=draft.resource_type,
        quantity=draft.quantity,
        unit=unit,
        unit_cost=draft.unit_cost,
        total_cost_micros=int(total.to_integral_value(ROUND_HALF_EVEN)),
        principal_id=draft.principal_id or principal_id,
        session_id=draft.session_id[:MAX_TEXT],
        cost_center=draft.cost_center,
        project_id=draft.project_id,
        metadata=meta,
        tool=draft.metadata.get("tool_name", "")[:MAX_TEXT],
    )


@dataclass(frozen=True, slots=True)
class BudgetView:
    """A budget with its position now (proto ``BudgetDetails``/``BudgetStatus``)."""

    budget: Budget
    status: BudgetStatus | None
    thresholds_crossed: tuple[str, ...] = ()
    approval_request_id: str = ""

    @property
    def active(self) -> bool:
        """Whether the budget is in force now."""
        return self.status is not None and self.status.in_force


def view(budget: Budget, status: BudgetStatus | None) -> BudgetView:
    """The view, with the thresholds the period's spend has reached."""
    crossed: tuple[str, ...] = ()
    if status is not None and status.in_force:
        crossed = tuple(
            label
            for label, pct in thresholds(budget)
            if status.spent_micros * 100 >= budget.amount_micros * pct
        )
    return BudgetView(budget, status, crossed)


def window(start_ms: int, end_ms: int, now_ms: int) -> Window:
    """``[start, end)`` with ``end = 0`` meaning now (usage of this very millisecond included).

    Raises:
        ValidationError: ``MALFORMED_REQUEST`` when it ends before it starts.
    """
    end = end_ms or now_ms + 1
    if end <= start_ms:
        raise _bad("end_time", "must be after start_time (0 means now)")
    return Window(start_ms, end)


def aggregation(value: str, default: Aggregation = Aggregation.DAILY) -> Aggregation:
    """The requested aggregation (empty: ``default``).

    Raises:
        ValidationError: ``MALFORMED_REQUEST`` for anything but DAILY, WEEKLY or MONTHLY.
    """
    if not value:
        return default
    if value not in Aggregation.__members__:
        raise _bad("aggregation", f"must be one of {', '.join(Aggregation)}")
    return Aggregation(value)


def group_fields(names: Sequence[str]) -> tuple[str, ...]:
    """The requested ``group_by`` fields, without repeats.

    Raises:
        ValidationError: ``MALFORMED_REQUEST`` naming an unknown field.
    """
    odd = [n for n in names if n not in GROUP_FIELDS]
    if odd:
        raise _bad("group_by", f"may name {', '.join(GROUP_FIELDS)}, not {odd[0]!r}")
    return tuple(dict.fromkeys(names))
