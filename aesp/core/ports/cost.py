"""The Cost port: budgets, reservations against them, and the usage ledger (SPEC §3.13, C-37).

Admission (SPEC §3.19 step 7) reserves the call's estimated cost on every budget the call is
attributed to; completion settles the reservation with the actual cost and the call's usage
records. Reservation is what makes a hard budget hold when many calls, on several Host
replicas sharing one store (DESIGN §10), are admitted at once: the check and the hold are one
atomic step, so a budget of 100 admits exactly 100 calls of 1, never 101.

Money is integer micro-units (:mod:`aesp.core.cost` says why). A budget's spend in a period is
what was settled against it by reservations *created* in that period (a call's cost belongs to
the period that admitted it); usage recorded without a reservation (``record_usage``) is
reported but charged to no budget. Callers must treat any exception from this port as a refusal
(fail closed, DESIGN §2 principle 3); a refusal by a budget is ``QUOTA_EXCEEDED``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from aesp.core.cost import Budget, BudgetPeriod, BudgetScope, UsageRecord
from aesp.core.ports._paging import Page

__all__ = [
    "Budget",
    "BudgetNotFoundError",
    "BudgetOwnershipError",
    "BudgetPeriod",
    "BudgetScope",
    "BudgetStatus",
    "CostLedger",
    "Reservation",
    "ReservationConflictError",
    "ReservationNotFoundError",
    "ReserveOutcome",
    "UsageRecord",
]


@dataclass(frozen=True, slots=True)
class Reservation:
    """Capacity held on budgets for one admitted call until it is settled, released or expires.

    Attributes:
        reservation_id: Caller-chosen unique id (the invocation id serves well).
        budget_ids: The budgets it holds capacity on, in the order the caller gave.
        amount_micros: Held on each of them.
        created_at_ms: When it was made; decides the budget period its cost belongs to.
        expires_at_ms: From this instant on it no longer holds capacity (it can still be
            settled: the money was spent).
    """

    reservation_id: str
    budget_ids: tuple[str, ...]
    amount_micros: int
    created_at_ms: int
    expires_at_ms: int


@dataclass(frozen=True, slots=True)
class ReserveOutcome:
    """What ``reserve`` decided (a result, not an exception: refusing is a normal answer).

    Attributes:
        reservation: The reservation made (or found, on a retry); None when refused.
        refused_budget_id: The first budget, in the caller's order, that refused; ``""`` when
            accepted.
        remaining_micros: What the refusing budget had left in its period (never negative);
            0 when accepted.
    """

    reservation: Reservation | None
    refused_budget_id: str = ""
    remaining_micros: int = 0

    @property
    def accepted(self) -> bool:
        """True when the capacity is held on every listed budget."""
        return self.reservation is not None


@dataclass(frozen=True, slots=True)
class BudgetStatus:
    """A budget's position in the period containing ``now_ms`` (proto ``BudgetStatus``).

    Attributes:
        budget: The budget.
        in_force: False outside ``[start_date_ms, end_date_ms)``; the figures are 0 then.
        period_start_ms: Start of the current period (inclusive).
        period_end_ms: End of the current period (exclusive).
        spent_micros: Settled against the budget in the period.
        reserved_micros: Held by live (unexpired, unsettled, unreleased) reservations made in
            the period.
    """

    budget: Budget
    in_force: bool
    period_start_ms: int
    period_end_ms: int
    spent_micros: int
    reserved_micros: int

    @property
    def remaining_micros(self) -> int:
        """What a new reservation may still take (never negative)."""
        return max(0, self.budget.amount_micros - self.spent_micros - self.reserved_micros)


class BudgetNotFoundError(LookupError):
    """``reserve`` named a budget the store does not hold; nothing was reserved."""


class ReservationNotFoundError(LookupError):
    """``settle`` named a reservation the store never made; nothing was recorded."""


class ReservationConflictError(ValueError):
    """``reserve`` reused a reservation id for different budgets or amount, or for one that
    is no longer held; nothing changed."""


class BudgetOwnershipError(ValueError):
    """``put_budget`` named a budget id that belongs to another tenant; nothing changed."""


@runtime_checkable
class CostLedger(Protocol):
    """Budgets, reservations and usage. Every method is atomic, also across Host replicas
    sharing the store: two replicas behave exactly like one.

    Money arguments are non-negative ``int`` micros; a float or a negative amount raises
    ``TypeError`` or ``ValueError`` before anything is stored.
    """

    async def put_budget(self, budget: Budget) -> None:
        """Create or replace a budget (idempotent); a new limit applies to the next reserve.

        Raises:
            BudgetOwnershipError: The id belongs to another tenant's budget.
        """
        ...

    async def get_budget(self, budget_id: str, *, tenant_id: str | None) -> Budget | None:
        """The budget, or None; with ``tenant_id`` set, another tenant's budget is None too
        (item 184). ``tenant_id=None`` is for platform callers only."""
        ...

    async def list_budgets(
        self, *, tenant_id: str | None, limit: int = 0, cursor: str = ""
    ) -> Page[Budget]:
        """Budgets ordered by id, of one tenant or (``None``) of all.

        Raises:
            ValueError: ``cursor`` was not returned by this store.
        """
        ...

    async def delete_budget(self, budget_id: str, *, tenant_id: str | None) -> bool:
        """Delete a budget; False if unknown or (with ``tenant_id``) another tenant's.

        Its reservations and spend stay recorded under its id: re-creating the id in the same
        period does not reset what was spent.
        """
        ...

    async def reserve(
        self,
        budget_ids: Sequence[str],
        amount_micros: int,
        *,
        reservation_id: str,
        now_ms: int,
        ttl_ms: int,
    ) -> ReserveOutcome:
        """Atomically hold ``amount_micros`` on every listed budget, or on none.

        Each listed hard budget that is in force at ``now_ms`` must admit the amount
        (:func:`aesp.core.cost.admits`, with spent + live reservations of its current period
        as "used"). Soft budgets and budgets out of force never refuse, but still record the
        hold. An empty ``budget_ids`` is accepted: the reservation exists, so ``settle`` works
        the same for calls under no budget. The reservation expires at ``now_ms + ttl_ms``.

        A retry with the same ``reservation_id``, budgets and amount while the reservation is
        held returns it unchanged (accepted) and holds nothing more.

        Raises:
            BudgetNotFoundError: A listed budget does not exist.
            ReservationConflictError: The id was used for other budgets or another amount, or
                was already settled or released.
            ValueError: The listed budgets have different currencies, ``ttl_ms`` is not
                positive or ``reservation_id`` is empty.
        """
        ...

    async def settle(
        self, reservation_id: str, actual_micros: int, usage: Sequence[UsageRecord]
    ) -> bool:
        """Charge ``actual_micros`` to every budget of the reservation and record ``usage``,
        in one step; the reservation no longer holds capacity.

        Settling an expired or released reservation still charges (the call ran). Usage
        records whose ``event_id`` is already recorded are skipped.

        Returns:
            True if this call settled it; False if it was already settled (nothing changes).

        Raises:
            ReservationNotFoundError: No such reservation was ever made.
        """
        ...

    async def release(self, reservation_id: str) -> bool:
        """Give the held capacity back without charging (the call was not made).

        Returns:
            True if it was held; False if unknown, settled or already released.
        """
        ...

    async def spent(self, budget_id: str, start_ms: int, end_ms: int) -> int:
        """Micros settled against the budget by reservations created in ``[start_ms, end_ms)``
        (0 for an unknown budget)."""
        ...

    async def status(self, budget_id: str, *, now_ms: int) -> BudgetStatus | None:
        """The budget's position in the period containing ``now_ms``; None if unknown."""
        ...

    async def record_usage(self, records: Sequence[UsageRecord]) -> int:
        """Record usage not tied to a reservation, in one batch; ids already recorded are
        skipped (the first record of an id is kept forever).

        Returns:
            How many records were new.
        """
        ...

    async def usage(
        self,
        *,
        tenant_id: str | None,
        start_ms: int | None = None,
        end_ms: int | None = None,
        resource_types: Sequence[str] = (),
        limit: int = 0,
        cursor: str = "",
    ) -> Page[UsageRecord]:
        """Usage records in the order they were recorded, paged without gaps or repeats.

        Args:
            tenant_id: One tenant's records (``""`` = platform costs); None = every tenant,
                for platform callers only (item 184).
            start_ms: Only ``timestamp_ms >= start_ms``; None = no lower bound.
            end_ms: Only ``timestamp_ms < end_ms``; None = no upper bound.
            resource_types: Only these resource types; empty = all.
            limit: Page size, clamped to ``[1, MAX_PAGE]``; 0 = the default.
            cursor: ``""`` or a ``next_cursor`` this store returned for the same selection.

        Raises:
            ValueError: ``cursor`` was not returned by this store.
        """
        ...

    async def close(self) -> None:
        """Release connections and files."""
        ...
