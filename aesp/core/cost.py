"""Cost and budget model: usage records, budgets, money and periods (SPEC §3.6, §3.13, C-37).

Money is an ``int`` of **micro-units** of the budget's currency (1 USD = 1_000_000 micros)
everywhere it is summed or compared: in budgets, reservations, settlements and the recorded
``total_cost`` of usage. Why: doubles do not add exactly (0.1 + 0.2 != 0.3), and a budget
check that is off by one ulp either refuses a call it should admit or lets spend creep past the
limit; two Host replicas summing the same ledger in different orders could even disagree.
Fields holding micros end in ``_micros``. SPEC's wire types are doubles, so the gRPC edge
converts with :func:`to_micros` / :func:`from_micros`; ``quantity`` and ``unit_cost`` stay
doubles, because they are measurements and rates (a per-byte price can be far below one micro),
never sums.

The pure rules every ledger applies identically live here: the budget period containing an
instant (:meth:`Budget.period_at`) and the admission rule (:func:`admits`).
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal

MICROS_PER_UNIT = 1_000_000
MAX_MICROS = 2**63 - 1  # what every store can hold in a signed 64-bit integer
_THRESHOLD = re.compile(r"^\d{1,3}(\.\d{1,2})?%\Z")
_CURRENCY = re.compile(r"^[A-Z]{3}\Z")


def to_micros(amount: float) -> int:
    """``amount`` currency units as micros, rounded half-to-even at the sixth decimal.

    The double's shortest decimal form is used, so ``to_micros(0.1) == 100_000`` exactly.

    Raises:
        ValueError: ``amount`` is not finite or does not fit in :data:`MAX_MICROS`.
    """
    if not math.isfinite(amount):
        raise ValueError(f"amount {amount!r} is not a finite number")
    micros = int(
        (Decimal(repr(float(amount))) * MICROS_PER_UNIT).to_integral_value(ROUND_HALF_EVEN)
    )
    if abs(micros) > MAX_MICROS:
        raise ValueError(f"amount {amount!r} is too large for the ledger")
    return micros


def from_micros(micros: int) -> float:
    """``micros`` as a double of currency units, for the wire."""
    return micros / MICROS_PER_UNIT


def admits(limit_micros: int, used_micros: int, amount_micros: int) -> bool:
    """Whether a hard budget of ``limit_micros``, with ``used_micros`` spent or reserved in the
    period, admits a new reservation of ``amount_micros``.

    A budget that has reached 100% refuses everything, even a zero-cost call (SPEC §3.13: at
    100% new invocations are denied); below that, the reservation must fit entirely.
    """
    return used_micros < limit_micros and used_micros + amount_micros <= limit_micros


class BudgetPeriod(enum.StrEnum):
    """How often a budget's spend starts again: UTC calendar months, quarters or years."""

    MONTHLY = "MONTHLY"
    QUARTERLY = "QUARTERLY"
    YEARLY = "YEARLY"


class BudgetScope(enum.StrEnum):
    """What a budget's spend is attributed by, within its tenant."""

    TENANT = "TENANT"  # the whole tenant; scope_value is empty
    COST_CENTER = "COST_CENTER"  # scope_value is the cost centre
    PRINCIPAL = "PRINCIPAL"  # scope_value is the principal id
    TOOL = "TOOL"  # scope_value is the tool name


_MONTHS = {BudgetPeriod.MONTHLY: 1, BudgetPeriod.QUARTERLY: 3, BudgetPeriod.YEARLY: 12}


@dataclass(frozen=True, slots=True)
class Budget:
    """A budget (SPEC §3.6 ``BudgetDefinition``, plus ``scope``).

    Attributes:
        budget_id: Unique across the store (reservations name budgets by id alone).
        tenant_id: Owning tenant; ``""`` = a platform budget.
        amount_micros: Limit per period, in micros of ``currency``.
        name: Human-readable name.
        currency: ISO-4217 code; the ledger converts nothing, so one reservation's budgets must
            share it.
        period: Calendar period (UTC) after which spend starts again.
        alert_thresholds: ``"NN%"`` strings of ``amount`` (alerting comes later; kept here).
        hard_limit: SPEC ``auto_shutdown``: at 100% the ledger refuses new reservations. False
            means the budget only reports (it never refuses).
        scope: What the budget applies to within the tenant.
        scope_value: The cost centre, principal or tool; empty for ``TENANT``.
        start_date_ms: First instant the budget is in force; its first period starts here.
        end_date_ms: Instant it stops being in force (exclusive); 0 = open-ended.
    """

    budget_id: str
    tenant_id: str
    amount_micros: int
    name: str = ""
    currency: str = "USD"
    period: BudgetPeriod = BudgetPeriod.MONTHLY
    alert_thresholds: tuple[str, ...] = ()
    hard_limit: bool = True
    scope: BudgetScope = BudgetScope.TENANT
    scope_value: str = ""
    start_date_ms: int = 0
    end_date_ms: int = 0

    def __post_init__(self) -> None:
        if not self.budget_id:
            raise ValueError("a budget needs a budget_id")
        check_micros("budget amount_micros", self.amount_micros)
        if not _CURRENCY.match(self.currency):
            raise ValueError(f"currency {self.currency!r} is not an ISO-4217 code such as USD")
        object.__setattr__(self, "period", BudgetPeriod(self.period))
        object.__setattr__(self, "scope", BudgetScope(self.scope))
        if isinstance(self.alert_thresholds, str):
            raise TypeError("alert_thresholds must be a sequence of 'NN%' strings")
        object.__setattr__(self, "alert_thresholds", tuple(self.alert_thresholds))
        bad = [t for t in self.alert_thresholds if not _THRESHOLD.match(t)]
        if bad:
            raise ValueError(f"alert thresholds {bad} are not percentages such as '80%'")
        if (self.scope is BudgetScope.TENANT) == bool(self.scope_value):
            raise ValueError(
                f"budget {self.budget_id!r}: scope {self.scope} "
                + ("takes no scope_value" if self.scope_value else "needs a scope_value")
            )
        if self.end_date_ms and self.end_date_ms <= self.start_date_ms:
            raise ValueError(f"budget {self.budget_id!r} ends before it starts")

    @property
    def cost_center(self) -> str:
        """SPEC's ``cost_center`` field: the scope value of a ``COST_CENTER`` budget, else ``""``."""
        return self.scope_value if self.scope is BudgetScope.COST_CENTER else ""

    def period_at(self, at_ms: int) -> tuple[int, int] | None:
        """The half-open ``[start, end)`` of the period containing ``at_ms``, or None when the
        budget is not in force then.

        Periods are UTC calendar months, quarters (from January) or years, clipped to
        ``[start_date_ms, end_date_ms)``: the first and last periods may be shorter.
        """
        if at_ms < self.start_date_ms or (self.end_date_ms and at_ms >= self.end_date_ms):
            return None
        moment = datetime.fromtimestamp(at_ms // 1000, tz=UTC)
        months = _MONTHS[self.period]
        first = (moment.month - 1) // months * months  # 0-based month the period starts in
        start = datetime(moment.year, first + 1, 1, tzinfo=UTC)
        after = first + months
        end = datetime(moment.year + after // 12, after % 12 + 1, 1, tzinfo=UTC)
        start_ms = max(int(start.timestamp()) * 1000, self.start_date_ms)
        end_ms = int(end.timestamp()) * 1000
        return start_ms, min(end_ms, self.end_date_ms) if self.end_date_ms else end_ms


@dataclass(frozen=True, slots=True)
class UsageRecord:
    """One metered use of a resource (SPEC §3.6 ``AccountingEvent``, plus ``tool``).

    Attributes:
        event_id: Unique; recording the same id twice records it once.
        timestamp_ms: When the usage happened, Unix ms.
        tenant_id: Tenant charged; ``""`` for platform costs.
        principal_id: Who used the resource.
        session_id: Session, may be empty.
        resource_type: ``CPU``, ``MEMORY``, ``STORAGE`` or ``API_CALL``.
        quantity: Amount used, in ``unit`` (a measurement: a double).
        unit: ``seconds``, ``bytes`` or ``calls``.
        unit_cost: Price per unit from the rate card (a rate: a double).
        total_cost_micros: What this usage costs, in micros (SPEC ``total_cost``).
        cost_center: Cost centre it is attributed to.
        project_id: Project it is attributed to.
        metadata: Other key/values.
        tool: The tool whose call used the resource (cost per tool, KR 14).
    """

    event_id: str
    timestamp_ms: int
    tenant_id: str
    resource_type: str
    quantity: float
    unit: str
    unit_cost: float
    total_cost_micros: int
    principal_id: str = ""
    session_id: str = ""
    cost_center: str = ""
    project_id: str = ""
    metadata: Mapping[str, str] = field(default_factory=dict)
    tool: str = ""

    def __post_init__(self) -> None:
        if not self.event_id:
            raise ValueError("a usage record needs an event_id")
        # SQLite and JSON cannot hold NaN or infinities; refuse them before any store sees them.
        if not (math.isfinite(self.quantity) and math.isfinite(self.unit_cost)):
            raise ValueError(f"usage {self.event_id!r}: quantity and unit_cost must be finite")
        if isinstance(self.total_cost_micros, bool) or not isinstance(self.total_cost_micros, int):
            raise TypeError(f"usage {self.event_id!r}: total_cost_micros must be an int")
        if abs(self.total_cost_micros) > MAX_MICROS:
            raise ValueError(f"usage {self.event_id!r}: total_cost_micros is out of range")


def check_micros(what: str, value: int) -> None:
    """Validate a money amount: a non-negative int of micros that every store can hold.

    Raises:
        TypeError: Not an int (a float here is almost always currency units, not micros).
        ValueError: Negative or beyond :data:`MAX_MICROS`.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be an int of micro-units, not {type(value).__name__}")
    if not 0 <= value <= MAX_MICROS:
        raise ValueError(f"{what} must be between 0 and {MAX_MICROS}, not {value}")


def reserve_arguments(
    budget_ids: Sequence[str], amount_micros: int, reservation_id: str, ttl_ms: int
) -> tuple[str, ...]:
    """Check the arguments of ``CostLedger.reserve`` the same way in every store.

    Returns:
        The budget ids without repeats, in the caller's order (a budget listed twice is held
        once, not twice).

    Raises:
        TypeError, ValueError: An argument is invalid; nothing may be stored.
    """
    if isinstance(budget_ids, str):
        raise TypeError("budget_ids must be a sequence of ids, not a string")
    check_micros("reserve amount_micros", amount_micros)
    if not reservation_id:
        raise ValueError("a reservation needs a reservation_id")
    if isinstance(ttl_ms, bool) or not isinstance(ttl_ms, int) or ttl_ms <= 0:
        raise ValueError(f"ttl_ms must be a positive int of milliseconds, not {ttl_ms!r}")
    return tuple(dict.fromkeys(budget_ids))


def check_one_currency(budgets: Sequence[Budget]) -> None:
    """Refuse one amount held on budgets of different currencies (the ledger converts nothing).

    Raises:
        ValueError: The budgets do not all have the same currency.
    """
    currencies = sorted({b.currency for b in budgets})
    if len(currencies) > 1:
        raise ValueError(
            f"one reservation cannot hold an amount on budgets in {', '.join(currencies)}: "
            "the ledger converts no currency"
        )


def usage_types(resource_types: Sequence[str]) -> tuple[str, ...]:
    """The ``resource_types`` selection of ``CostLedger.usage`` as a tuple (empty = all).

    Raises:
        TypeError: A bare string, which would otherwise select by its letters.
    """
    if isinstance(resource_types, str):
        raise TypeError("resource_types must be a sequence of types, not a string")
    return tuple(resource_types)
