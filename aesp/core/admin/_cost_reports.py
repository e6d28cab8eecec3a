"""What the cost service computes from usage records: reports, costs, forecasts and invoices.

Why a separate module: these are folds over the records the Cost port returns (one pass, memory
per group, never per record), testable without a Host; :mod:`aesp.core.admin.cost` only fetches
and authorises. Money is summed in integer micros (:mod:`aesp.core.cost` says why).

The forecast is a **linear projection**: the spend rate observed over the trailing
:data:`OBSERVATION_MS` (or since the first usage in it, and at least :data:`MIN_OBSERVED_MS`)
times the length of the window forecast. Its bounds are the same projection at the lowest and
the highest daily rate among the whole UTC days observed (equal to the forecast with fewer than
two). It assumes tomorrow looks like the recent past; it knows nothing of seasons or growth.
"""

from __future__ import annotations

import enum
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from aesp.core.cost import Budget, UsageRecord
from aesp.core.errors import ExecutionError
from aesp.core.ports.cost import CostLedger

__all__ = [
    "MAX_SCANNED",
    "OBSERVATION_MS",
    "Aggregation",
    "BucketFold",
    "Forecast",
    "Observation",
    "SumFold",
    "UsageBucket",
    "Window",
    "period_bounds",
    "scan",
]

DAY_MS = 86_400_000
OBSERVATION_MS = 30 * DAY_MS  # how far back the forecast looks for the spend rate
MIN_OBSERVED_MS = 3_600_000  # a rate observed over less than an hour is not extrapolated
MAX_SCANNED = 2_000_000  # records one request may read; bounds its duration
MAX_POINTS = 400  # periods one forecast or report may list (400 days of DAILY)
GROUP_FIELDS = ("principal_id", "cost_center", "project_id", "tool")


class Aggregation(enum.StrEnum):
    """The period a report bucket or forecast point covers (UTC calendar units)."""

    DAILY = "DAILY"
    WEEKLY = "WEEKLY"  # ISO weeks, from Monday 00:00 UTC
    MONTHLY = "MONTHLY"


@dataclass(frozen=True, slots=True)
class Window:
    """A half-open time window ``[start_ms, end_ms)``."""

    start_ms: int
    end_ms: int


def period_bounds(at_ms: int, aggregation: Aggregation) -> tuple[int, int]:
    """The UTC day, ISO week or calendar month containing ``at_ms``."""
    moment = datetime.fromtimestamp(at_ms // 1000, tz=UTC)
    day = datetime(moment.year, moment.month, moment.day, tzinfo=UTC)
    if aggregation is Aggregation.DAILY:
        start, end = day, day + timedelta(days=1)
    elif aggregation is Aggregation.WEEKLY:
        start = day - timedelta(days=day.weekday())
        end = start + timedelta(days=7)
    else:
        start = datetime(moment.year, moment.month, 1, tzinfo=UTC)
        end = datetime(moment.year + moment.month // 12, moment.month % 12 + 1, 1, tzinfo=UTC)
    return int(start.timestamp() * 1000), int(end.timestamp() * 1000)


async def scan(
    ledger: CostLedger, tenant_id: str, window: Window, resource_types: Sequence[str] = ()
) -> AsyncIterator[UsageRecord]:
    """Every usage record of the tenant in the window, page after page.

    Raises:
        ExecutionError: ``RESOURCE_EXHAUSTED`` past :data:`MAX_SCANNED` records.
    """
    cursor, seen = "", 0
    while True:
        page = await ledger.usage(
            tenant_id=tenant_id,
            start_ms=window.start_ms,
            end_ms=window.end_ms,
            resource_types=resource_types,
            limit=1000,
            cursor=cursor,
        )
        for record in page.items:
            seen += 1
            if seen > MAX_SCANNED:
                raise ExecutionError(
                    "RESOURCE_EXHAUSTED",
                    f"The window holds more than {MAX_SCANNED} usage records; ask for a "
                    "shorter window.",
                    details={"field": "start_time"},
                )
            yield record
        if not page.next_cursor:
            return
        cursor = page.next_cursor


@dataclass(slots=True)
class UsageBucket:
    """Usage of one resource type in one period and group (proto ``UsageBucket``)."""

    period_start_ms: int
    period_end_ms: int
    resource_type: str
    unit: str
    group: Mapping[str, str] = field(default_factory=dict)
    quantity: float = 0.0
    cost_micros: int = 0
    count: int = 0


class BucketFold:
    """Folds records into buckets by period, resource type, unit and the ``group_by`` fields."""

    def __init__(self, aggregation: Aggregation, group_by: Sequence[str]) -> None:
        self._aggregation = aggregation
        self._group_by = tuple(group_by)
        self._buckets: dict[tuple[int, str, str, tuple[str, ...]], UsageBucket] = {}
        self.total_micros = 0

    def add(self, r: UsageRecord) -> None:
        """Count one record."""
        start, end = period_bounds(r.timestamp_ms, self._aggregation)
        group = {name: str(getattr(r, name)) for name in self._group_by}
        key = (start, r.resource_type, r.unit, tuple(group.values()))
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = UsageBucket(start, end, r.resource_type, r.unit, group)
        bucket.quantity += r.quantity
        bucket.cost_micros += r.total_cost_micros
        bucket.count += 1
        self.total_micros += r.total_cost_micros

    def buckets(self) -> tuple[UsageBucket, ...]:
        """Ordered by period start, then resource type, unit and group."""
        return tuple(self._buckets[k] for k in sorted(self._buckets))


class SumFold:
    """Cost in micros per value of each key function, in one pass."""

    def __init__(self, *keys: Callable[[UsageRecord], str]) -> None:
        self._keys = keys
        self.sums: list[dict[str, int]] = [defaultdict(int) for _ in keys]
        self.total_micros = 0

    def add(self, r: UsageRecord) -> None:
        """Count one record."""
        for total, key in zip(self.sums, self._keys, strict=True):
            total[key(r)] += r.total_cost_micros
        self.total_micros += r.total_cost_micros


@dataclass(frozen=True, slots=True)
class Forecast:
    """A linear projection (proto ``CostForecast``); see the module docstring."""

    tenant_id: str
    window: Window
    cost_micros: int
    lower_micros: int
    upper_micros: int
    points: tuple[tuple[int, int, int], ...]  # (period start, period end, cost micros)
    budgets_at_risk: tuple[str, ...]
    method: str = "linear"


class Observation:
    """The spend observed before ``now_ms``, and what it projects (see the module docstring).

    Args:
        now_ms: The end of the observation; records should come from
            ``[now_ms - OBSERVATION_MS, now_ms)``.
        budgets: Budgets to check, each with what it has used (spent + reserved) in its
            current period and when that period ends.
        matches: Whether a record counts towards a budget.
    """

    def __init__(
        self,
        now_ms: int,
        budgets: Sequence[tuple[Budget, int, int]] = (),
        matches: Callable[[Budget, UsageRecord], bool] = lambda _b, _r: False,
    ) -> None:
        self.now_ms = now_ms
        self._budgets = tuple(budgets)
        self._matches = matches
        self._total = 0
        self._first = 0
        self._per_day: dict[int, int] = defaultdict(int)
        self._per_budget: dict[str, int] = defaultdict(int)

    def add(self, r: UsageRecord) -> None:
        """Count one record."""
        self._total += r.total_cost_micros
        self._first = r.timestamp_ms if not self._first else min(self._first, r.timestamp_ms)
        self._per_day[r.timestamp_ms // DAY_MS] += r.total_cost_micros
        for budget, _, _ in self._budgets:
            if self._matches(budget, r):
                self._per_budget[budget.budget_id] += r.total_cost_micros

    def project(self, tenant_id: str, window: Window, aggregation: Aggregation) -> Forecast:
        """Project the observed rate over ``window``, one point per ``aggregation`` period."""
        now = self.now_ms
        since = max(now - OBSERVATION_MS, self._first or now)
        observed = max(now - since, MIN_OBSERVED_MS)
        length = max(0, window.end_ms - window.start_ms)
        full_days = [
            v for d, v in self._per_day.items() if since <= d * DAY_MS and (d + 1) * DAY_MS <= now
        ]
        cost = self._total * length // observed
        low = min(full_days) * length // DAY_MS if len(full_days) > 1 else cost
        high = max(full_days) * length // DAY_MS if len(full_days) > 1 else cost
        points: list[tuple[int, int, int]] = []
        start = window.start_ms
        while start < window.end_ms and len(points) < MAX_POINTS:
            end = min(period_bounds(start, aggregation)[1], window.end_ms)
            points.append((start, end, self._total * (end - start) // observed))
            start = end
        at_risk = tuple(
            b.budget_id
            for b, used, period_end in self._budgets
            if used + self._per_budget[b.budget_id] * max(0, period_end - now) // observed
            > b.amount_micros
        )
        return Forecast(
            tenant_id, window, cost, min(low, cost), max(high, cost), tuple(points), at_risk
        )
