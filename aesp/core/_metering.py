"""The parts of metering that are pure or local: prices, admissions, usage records, batches.

Why a separate module: :class:`~aesp.core.metering.Metering` then reads as the admission and
settlement rules alone, and these parts are tested on their own.

* :class:`Rates` / :class:`RateCard`: the ``[cost]`` prices as exact micro-unit rates, and the
  cost of an amount of usage. One rounding rule per record, so a call's actual cost never
  exceeds the maximum reserved for it while its usage stays within the maximum's quantities.
* :class:`Admission` / :class:`Usage` and :func:`usage_records`: what a call was admitted with,
  what it used, and the ``AccountingEvent`` records that come of it (SPEC §3.13, item 195).
* :func:`quota_exceeded`: the refusal a person can act on.
* :class:`UsageBatch`: usage of calls under no budget, written in batches off the call path.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal

from aesp.core.config import CostConfig, ToolPriceConfig
from aesp.core.cost import MICROS_PER_UNIT, Budget, UsageRecord, from_micros
from aesp.core.errors import AuthorizationError
from aesp.core.ports.cost import CostLedger
from aesp.core.security import SecurityContext

log = logging.getLogger("aesp.metering")

__all__ = [
    "Admission",
    "RateCard",
    "Rates",
    "Usage",
    "UsageBatch",
    "money",
    "quota_exceeded",
    "usage_records",
]

_MICROS = Decimal(MICROS_PER_UNIT)
BATCH_INTERVAL_S = 0.2  # how long usage of calls under no budget may wait before it is written
MAX_RETRY_S = 5.0  # longest pause between attempts to write usage to a failing store
MAX_UNWRITTEN = 100_000  # bounds memory while the store is down; older records are dropped
HELD, SETTLED, RELEASED = "HELD", "SETTLED", "RELEASED"


def money(micros: int, currency: str) -> str:
    """``micros`` as a readable amount, e.g. ``1.25 USD`` (for people, not for sums)."""
    return f"{from_micros(micros):.6f}".rstrip("0").rstrip(".") + f" {currency}"


def _micros(value: Decimal) -> int:
    return int(value.to_integral_value(ROUND_HALF_EVEN))


@dataclass(frozen=True, slots=True)
class Rates:
    """One tool's prices, as exact rates in micro-units (prices below a micro are kept).

    Attributes:
        per_call: Micros per call.
        per_second: Micros per second of execution.
        per_kib: Micros per KiB (1024 bytes) of payload.
    """

    per_call: Decimal
    per_second: Decimal
    per_kib: Decimal

    def call_micros(self) -> int:
        """Cost of the ``API_CALL`` record."""
        return _micros(self.per_call)

    def cpu_micros(self, execution_ms: int) -> int:
        """Cost of ``execution_ms`` of execution (the ``CPU`` record)."""
        return _micros(self.per_second * execution_ms / 1000)

    def network_micros(self, nbytes: int) -> int:
        """Cost of ``nbytes`` of payload (the ``NETWORK`` record)."""
        return _micros(self.per_kib * nbytes / 1024)

    def total_micros(self, execution_ms: int, nbytes: int) -> int:
        """One call's cost: the sum of its three records' costs, each rounded on its own."""
        return self.call_micros() + self.cpu_micros(execution_ms) + self.network_micros(nbytes)


class RateCard:
    """The ``[cost]`` section as :class:`Rates` per tool (unlisted tools: the defaults)."""

    def __init__(self, config: CostConfig) -> None:
        self.currency = config.currency
        self._default = _rates(config, None)
        self._tools = {name: _rates(config, own) for name, own in config.tools.items()}

    def for_tool(self, tool: str) -> Rates:
        """The rates a call of ``tool`` is charged at."""
        return self._tools.get(tool, self._default)


def _rates(config: CostConfig, own: ToolPriceConfig | None) -> Rates:
    """The tool's own prices where it has them, the ``[cost]`` ones elsewhere, in micros."""
    prices: list[Decimal] = []
    for key in ("price_per_call", "price_per_second", "price_per_kib"):
        mine = getattr(own, key) if own is not None else None
        price = getattr(config, key) if mine is None else mine
        prices.append(Decimal(repr(float(price))) * _MICROS)  # the shortest exact decimal form
    return Rates(*prices)


@dataclass(slots=True)
class Admission:
    """One admitted call's metering state; it moves once from HELD to SETTLED or RELEASED.

    Attributes:
        reservation_id: The Cost port reservation (also the prefix of the usage record ids).
        ctx: The caller's security context (tenant, principal, cost centre, business unit).
        session_id: The call's session.
        tool: The tool.
        mode: ``remote``, ``stream`` or ``governed_local``.
        rates: The prices the call is charged at.
        budgets: The budgets holding the reservation; empty when none applied (nothing held).
        maximum_micros: What was reserved: the most the call can be charged.
        timeout_ms: The longest it may execute (execution time is charged up to this).
        args_bytes: Size of its arguments.
        state: ``HELD``, then ``SETTLED`` or ``RELEASED``.
    """

    reservation_id: str
    ctx: SecurityContext
    session_id: str
    tool: str
    mode: str
    rates: Rates
    budgets: tuple[Budget, ...]
    maximum_micros: int
    timeout_ms: int
    args_bytes: int
    state: str = HELD


@dataclass(frozen=True, slots=True)
class Usage:
    """What a call actually used, as the pipeline measured it.

    Attributes:
        execution_ms: From dispatch to result (or as a local caller reports it).
        result_bytes: Size of the result (every chunk's payload for a stream).
        invocation_id: The invocation, kept with the usage records.
        status: ``SUCCESS``, ``ERROR`` or a failure code, kept with the usage records.
    """

    execution_ms: int
    result_bytes: int
    invocation_id: str = ""
    status: str = ""


def usage_records(admission: Admission, usage: Usage, at_ms: int) -> list[UsageRecord]:
    """The call's ``API_CALL``, ``CPU`` and ``NETWORK`` records (SPEC §3.13, item 195).

    Execution time is counted up to the call's timeout (the Host cancels the call then), so
    the records never cost more than the admission's maximum unless the result outgrew the
    largest single message (a stream); :meth:`Metering.settle` caps the budget charge anyway.
    """
    rates, ctx = admission.rates, admission.ctx
    seconds_ms = max(0, min(usage.execution_ms, admission.timeout_ms))
    nbytes = admission.args_bytes + max(0, usage.result_bytes)
    meta = {"mode": admission.mode, "tool_name": admission.tool}
    for key, value in (
        ("business_unit", ctx.business_unit),
        ("invocation_id", usage.invocation_id),
        ("status", usage.status),
        ("reservation_id", admission.reservation_id),
    ):
        if value:
            meta[key] = value
    lines = (
        ("API_CALL", 1.0, "calls", rates.per_call, rates.call_micros()),
        ("CPU", seconds_ms / 1000, "seconds", rates.per_second, rates.cpu_micros(seconds_ms)),
        ("NETWORK", float(nbytes), "bytes", rates.per_kib / 1024, rates.network_micros(nbytes)),
    )
    return [
        UsageRecord(
            event_id=f"{admission.reservation_id}/{kind}",
            timestamp_ms=at_ms,
            tenant_id=ctx.tenant_id,
            resource_type=kind,
            quantity=quantity,
            unit=unit,
            unit_cost=float(unit_micros / _MICROS),  # currency units per unit (SPEC unit_cost)
            total_cost_micros=cost,
            principal_id=ctx.principal_id,
            session_id=admission.session_id,
            cost_center=ctx.cost_center,
            metadata=meta,
            tool=admission.tool,
        )
        for kind, quantity, unit, unit_micros, cost in lines
    ]


def quota_exceeded(
    budget: Budget, admission: Admission, remaining_micros: int, now: int
) -> AuthorizationError:
    """``QUOTA_EXCEEDED`` naming the budget, what it has left and when its next period starts
    (``retry_after_ms``); SPEC §3.13, items 185 and 199."""
    period = budget.period_at(now) or (now, now)
    cur = budget.currency
    left, most = money(remaining_micros, cur), money(admission.maximum_micros, cur)
    starts = datetime.fromtimestamp(period[1] / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")
    return AuthorizationError(
        "QUOTA_EXCEEDED",
        f"Budget '{budget.name or budget.budget_id}' has {left} left this "
        f"{budget.period.value.lower().removesuffix('ly')}, and this call of "
        f"'{admission.tool}' may cost up to {most}; it was refused and did not run. "
        f"The next period starts {starts}.",
        details={
            "budget_id": budget.budget_id,
            "remaining": left,
            "maximum_cost": most,
            "period_end_ms": str(period[1]),
        },
        retry_after_ms=max(1, period[1] - now),
        remediation_steps=(
            "Wait for the next budget period, or ask a cost administrator to raise the "
            "budget (`aesp budgets create` with the same id).",
            "A shorter timeout_ms lowers a call's maximum cost when tools are priced per second.",
        ),
    )


class UsageBatch:
    """Usage records of calls under no budget, written ``BATCH_INTERVAL_S`` later in one batch.

    Trade-off: a call under no budget costs no store write on its own path (the write of a
    whole batch is shared), but a Host that crashes loses up to one interval of such usage
    from reports. No budget depends on it (budgets are charged through settlements), so
    nothing is overspent; usage under a budget is settled by the Cost port's own transaction.
    """

    def __init__(self, ledger: CostLedger) -> None:
        self._ledger = ledger
        self._pending: list[UsageRecord] = []
        self._task: asyncio.Task[None] | None = None

    def add(self, records: Sequence[UsageRecord]) -> None:
        """Queue records; a write follows within ``BATCH_INTERVAL_S``."""
        self._pending.extend(records)
        if len(self._pending) > MAX_UNWRITTEN:
            dropped = len(self._pending) - MAX_UNWRITTEN
            del self._pending[:dropped]
            log.error("the cost store is not accepting usage; %d usage records dropped", dropped)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._write_soon())

    async def flush(self) -> bool:
        """Write everything queued now (shutdown, tests).

        Returns:
            False if the store refused the batch; the records then stay queued.
        """
        batch, self._pending = self._pending, []
        if not batch:
            return True
        try:
            await self._ledger.record_usage(batch)
        except Exception:  # noqa: BLE001 - keep them for the next attempt
            log.exception("writing %d usage records failed; they stay queued", len(batch))
            self._pending[:0] = batch
            return False
        return True

    async def close(self) -> None:
        """Stop the timer and write what is queued."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
        await self.flush()

    async def _write_soon(self) -> None:
        delay = BATCH_INTERVAL_S
        while self._pending:
            await asyncio.sleep(delay)
            # A store that refuses is retried less and less often, up to every MAX_RETRY_S.
            delay = BATCH_INTERVAL_S if await self.flush() else min(delay * 2, MAX_RETRY_S)
