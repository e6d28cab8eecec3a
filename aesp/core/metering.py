"""Metering and budget enforcement of governed calls (SPEC §3.13, §3.19 step 7, C-37).

The pipeline asks :meth:`Metering.admit` after policy and before the START audit record. It
reserves the call's **maximum possible cost** on every budget of the call's tenant the call
falls under (the tenant, the caller's cost centre, the caller, the tool):

    per-call price + timeout seconds x per-second price + (argument bytes + largest result the
    Host accepts) x per-byte price.

Why the maximum: the reservation is taken atomically with the budget check (the Cost port's
``reserve``), so the sum of what admitted calls *may* cost never exceeds a hard budget. Two
hundred concurrent calls against a budget with room for one hundred admit exactly one hundred,
on one Host or on several sharing a store; reserving an estimate instead would let concurrent
calls overspend whenever they cost more than estimated. The price is that a nearly exhausted
budget refuses a call that would have fitted (its unused maximum comes back when it settles).

After the call, :meth:`Metering.settle` records what it actually used (SPEC §3.13: ``API_CALL``
1 ``calls``; ``CPU`` execution ``seconds``, capped at the timeout; and ``NETWORK`` payload
``bytes``, an aesp addition) attributed to tenant, principal, session, cost centre, business unit
and tool, and charges the budgets that sum, never more than the reservation. A refusal or a
failure before execution :meth:`releases <Metering.release>` the reservation; a reservation the
Host never settles (a crash) expires by itself.

Per-call overhead: only the reservation on a budget is awaited by the call (it *is* the
enforcement). Settlement runs off the call's path, and the usage of calls under no budget is
written in batches (:class:`~aesp.core._metering.UsageBatch`), so a call under no budget does
no store operation of its own; docs/protocol-decisions.md (64) weighs what that trades away.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable, Coroutine
from typing import Any

from aesp.core._budgets import AlertBook, BudgetBook, applies
from aesp.core._metering import (
    HELD,
    RELEASED,
    SETTLED,
    Admission,
    RateCard,
    Usage,
    UsageBatch,
    quota_exceeded,
    usage_records,
)
from aesp.core.audit import AuditLog
from aesp.core.config import CostConfig
from aesp.core.contracts import ToolContract
from aesp.core.cost import Budget, UsageRecord
from aesp.core.errors import AuthorizationError, ConfigurationError, ExecutionError
from aesp.core.ids import now_ms
from aesp.core.ports.cost import BudgetNotFoundError, CostLedger, ReserveOutcome
from aesp.core.security import SecurityContext
from aesp.core.sessions import Session

log = logging.getLogger("aesp.metering")

__all__ = ["Admission", "Metering", "Usage"]


class Metering:
    """Admission against budgets, and settlement of usage, for one Host.

    Args:
        ledger: The Cost port.
        audit: Where budget alerts are written.
        config: The ``[cost]`` rate card.
        max_result_bytes: The largest result the Host accepts (part of a call's maximum).
        refresh_ms: How stale a tenant's budget list may be (budgets changed on other Hosts).
        clock: Unix milliseconds.
    """

    def __init__(
        self,
        *,
        ledger: CostLedger,
        audit: AuditLog,
        config: CostConfig,
        max_result_bytes: int,
        refresh_ms: int,
        clock: Callable[[], int] = now_ms,
    ) -> None:
        self.card = RateCard(config)
        self._ledger = ledger
        self._margin_ms = config.reservation_ttl_ms
        self._max_result = max_result_bytes
        self._clock = clock
        self._budgets = BudgetBook(ledger, refresh_ms=refresh_ms, clock=clock)
        self._alerts = AlertBook(ledger, audit, clock=clock)
        self._batch = UsageBatch(ledger)
        self._local: dict[str, tuple[Admission, int]] = {}  # invocation id -> (admission, end)
        self._work: set[asyncio.Task[Any]] = set()

    async def admit(
        self,
        ctx: SecurityContext,
        contract: ToolContract,
        session: Session,
        timeout_ms: int,
        args_bytes: int,
        *,
        mode: str = "remote",
        reservation_id: str = "",
        hold_ms: int = 0,
    ) -> Admission:
        """Reserve the call's maximum cost on every budget it falls under (or on none).

        Args:
            ctx: The caller's security context (tenant, principal, cost centre).
            contract: The tool.
            session: The call's session.
            timeout_ms: The longest the call may execute (its timeout, or for governed local
                dispatch the authorisation's lifetime).
            args_bytes: Size of the arguments.
            mode: ``remote``, ``stream`` or ``governed_local`` (recorded with the usage).
            reservation_id: Defaults to a fresh id.
            hold_ms: How long the call may take before it is settled; defaults to the timeout.

        Raises:
            AuthorizationError: ``QUOTA_EXCEEDED`` naming the hard budget that refused, what it
                has left, and ``retry_after_ms`` = the time to its next period.
            ConfigurationError: ``CONFIGURATION_ERROR`` for a budget in another currency.
            ExecutionError: ``SERVICE_UNAVAILABLE`` when the Cost port fails (fail closed).
        """
        rates = self.card.for_tool(contract.name)
        maximum = rates.total_micros(timeout_ms, args_bytes + self._max_result)
        admission = Admission(
            reservation_id or f"res-{secrets.token_hex(16)}",
            ctx,
            session.session_id,
            contract.name,
            mode,
            rates,
            (),
            maximum,
            timeout_ms,
            args_bytes,
        )
        try:
            outcome, budgets = await self._reserve(admission, hold_ms or timeout_ms)
        except (AuthorizationError, ConfigurationError):
            raise
        except Exception as exc:  # noqa: BLE001 - DESIGN §2.3: budget store unreachable
            log.exception("reserving on budgets failed; the call is refused")
            raise ExecutionError(
                "SERVICE_UNAVAILABLE",
                "The budget store could not be reached, so the call was refused rather than "
                "risk overspending a budget; retry shortly.",
                retry_after_ms=1000,
            ) from exc
        if outcome is None:
            return admission  # no budget applies: nothing held; usage is metered at settlement
        if not outcome.accepted:
            raise self._refusal(admission, budgets, outcome)
        admission.budgets = budgets
        return admission

    def settle(self, admission: Admission, usage: Usage) -> None:
        """Record what the call used and charge its budgets (off the call's path); once."""
        if admission.state != HELD:
            return
        admission.state = SETTLED
        records = usage_records(admission, usage, self._clock())
        if not admission.budgets:
            self._batch.add(records)
            return
        charge = min(sum(r.total_cost_micros for r in records), admission.maximum_micros)
        self._spawn(self._settle(admission, charge, records))

    def release(self, admission: Admission) -> None:
        """Give the reservation back: the call was refused or failed before it executed."""
        if admission.state != HELD:
            return
        admission.state = RELEASED
        if admission.budgets:
            self._spawn(self._ledger.release(admission.reservation_id))

    # ------------------------------------------------------------------ governed local dispatch

    def hold_local(self, invocation_id: str, admission: Admission, log_deadline_ms: int) -> None:
        """Keep an authorisation's admission until its result is logged or it expires."""
        self._local[invocation_id] = (admission, log_deadline_ms)

    def settle_local(self, invocation_id: str, usage: Usage) -> None:
        """``LogToolResult`` consumed the authorisation: settle with what the caller reports."""
        held = self._local.pop(invocation_id, None)
        if held is not None:
            self.settle(held[0], usage)

    def release_session(self, session_id: str) -> None:
        """The session ended: its unused authorisations give their reservations back."""
        for key in [k for k, (a, _) in self._local.items() if a.session_id == session_id]:
            self.release(self._local.pop(key)[0])

    def sweep(self) -> None:
        """Authorisations past their log deadline were never used: release them."""
        now = self._clock()
        for key in [k for k, (_, end) in self._local.items() if end <= now]:
            self.release(self._local.pop(key)[0])

    # ------------------------------------------------------------------ lifecycle

    def budgets_changed(self, tenant_id: str) -> None:
        """A budget of the tenant was written through this Host: the next call sees it."""
        self._budgets.invalidate(tenant_id)

    async def drain(self) -> None:
        """Wait for every settlement, release and alert started so far, and write the usage."""
        while self._work:
            await asyncio.gather(*list(self._work), return_exceptions=True)
        await self._batch.flush()

    async def close(self) -> None:
        """Release what is still held for local dispatch, then :meth:`drain` (the ledger itself
        is closed by its owner, the Host)."""
        for admission, _ in self._local.values():
            self.release(admission)
        self._local.clear()
        await self.drain()
        await self._batch.close()

    # ------------------------------------------------------------------ internals

    async def _applying(self, ctx: SecurityContext, tool: str) -> tuple[Budget, ...]:
        now = self._clock()
        found = tuple(
            b
            for b in await self._budgets.of_tenant(ctx.tenant_id)
            if b.period_at(now) is not None
            and applies(b, principal_id=ctx.principal_id, cost_center=ctx.cost_center, tool=tool)
        )
        odd = [b for b in found if b.currency != self.card.currency]
        if odd:
            raise ConfigurationError(
                "CONFIGURATION_ERROR",
                f"Budget '{odd[0].budget_id}' is in {odd[0].currency}, but this Host prices calls "
                f"in {self.card.currency}; the call was refused. A cost administrator must "
                f"re-create the budget in {self.card.currency}.",
            )
        return found

    async def _reserve(
        self, admission: Admission, hold_ms: int
    ) -> tuple[ReserveOutcome | None, tuple[Budget, ...]]:
        """Reserve on the applying budgets (None: there are none). A budget deleted since the
        list was loaded makes the list reload, once."""
        budgets = await self._applying(admission.ctx, admission.tool)
        for attempt in (1, 2):
            if not budgets:
                break
            try:
                outcome = await self._ledger.reserve(
                    [b.budget_id for b in budgets],
                    admission.maximum_micros,
                    reservation_id=admission.reservation_id,
                    now_ms=self._clock(),
                    ttl_ms=hold_ms + self._margin_ms,
                )
                return outcome, budgets
            except BudgetNotFoundError:
                if attempt == 2:
                    raise
                self._budgets.invalidate(admission.ctx.tenant_id)
                budgets = await self._applying(admission.ctx, admission.tool)
        return None, ()

    def _refusal(
        self, admission: Admission, budgets: tuple[Budget, ...], outcome: ReserveOutcome
    ) -> AuthorizationError:
        """``QUOTA_EXCEEDED`` for the refusing budget; its ``BUDGET_EXCEEDED`` event (once per
        period) is written off the refusal's path."""
        budget = next(b for b in budgets if b.budget_id == outcome.refused_budget_id)
        self._spawn(
            self._alerts.exceeded(
                budget,
                principal_id=admission.ctx.principal_id,
                remaining_micros=outcome.remaining_micros,
            )
        )
        return quota_exceeded(budget, admission, outcome.remaining_micros, self._clock())

    async def _settle(self, admission: Admission, charge: int, records: list[UsageRecord]) -> None:
        try:
            await self._ledger.settle(admission.reservation_id, charge, records)
        except Exception:  # noqa: BLE001 - the call ran; keep its usage for reports at least
            log.exception("settling %s failed; its usage is recorded unbilled", admission.tool)
            self._batch.add(records)
            return
        await self._alerts.after_charge(
            admission.budgets, principal_id=admission.ctx.principal_id, charge_micros=charge
        )

    def _spawn(self, work: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._work.add(task)
        task.add_done_callback(_finished(self._work))


def _finished(work: set[asyncio.Task[Any]]) -> Callable[[asyncio.Task[Any]], None]:
    def done(task: asyncio.Task[Any]) -> None:
        work.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("metering work failed: %s", task.exception())

    return done
