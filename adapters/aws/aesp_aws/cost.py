"""The Cost port on DynamoDB: budgets, reservations and usage shared by every Host replica.

Why DynamoDB is on the call path here, against "decide locally": a hard budget must admit
exactly its amount however many replicas admit calls at once, and no snapshot can decide that.
The check and the hold are one conditional write, a single-digit-millisecond round trip; AWS
Budgets and Cost Explorer (:mod:`aesp_aws.billing`) are mirrors and reports, never the
enforcement point, because they are not transactional and their spend lags the bill by hours.

Tables (``pk``/``sk`` strings; ``<p>`` is ``table_prefix``):

``<p>-cost``
    * budget ``("budget", <budget_id>)``: the definition and ``rev``, bumped by every put.
    * counter ``("spend#<budget_id>", <period start>-<period end>)``: ``used`` (settled plus
      held micros of reservations created in that period), ``spent`` (settled) and ``rev``.
    * hold ``("hold#<budget_id>#<period>", <expires at>#<reservation_id>)``: one per budget a
      reservation still holds capacity on, sorted by expiry, so a budget's expired holds are
      one key-range query.
    * charge ``("charge#<budget_id>", <created at>#<reservation_id>)``: what a settlement
      charged the budget, sorted by the reservation's time (``spent`` over any range).
    * reservation ``("res#<reservation_id>", "-")``: its budgets, amount, times, state,
      whether it still holds (``holding``), the period of each budget and ``rev``.

``<p>-usage``
    * ``("seq", "-")``: the number of records ever recorded; every batch advances it with a
      condition on its old value in the same transaction that writes the batch, so records are
      numbered in commit order with no gaps, and a reader that reads the number first never
      pages past a record still being written.
    * ``("event#<event_id>", "-")``: the record's number (recorded once per id).
    * ``("usage", <number>)``: the record.

Reserving is one ``TransactWriteItems`` (and, on a Host that already knows the budgets, the
only round trip): a condition check that each budget is still the definition this Host
decided on (same ``rev``; a stale one makes the Host read it again), the reservation item (``attribute_not_exists``), and
per budget in force an update of its period counter with ``used <= limit - amount AND used <
limit`` (DynamoDB conditions cannot add, so the sum is moved to the constant side) plus the
hold item. Either every budget takes the hold or none does, and two replicas can never both
take the last unit: one transaction's condition fails. Reservations are not counted in a budget
after they expire: a refused reserve first returns the expired holds of the refusing budgets
(each by its own conditional transaction) and tries again. Settle and release change the
reservation (conditional on its ``rev``), its holds and the counters in one transaction too.

Limits: a reservation names at most :data:`MAX_BUDGETS` budgets, and a settlement carries at
most as many new usage records as fit beside them in one transaction (100 items); more raise
``ValueError`` before anything is written. A counter is keyed by its period's bounds, so
changing a budget's period or start date starts a fresh counter for the new bounds. Every
usage batch passes through the one ``seq`` item: the price of a gap-free recorded order, which
the metering layer amortises by batching.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from aesp.core.cost import (
    admits,
    check_micros,
    check_one_currency,
    reserve_arguments,
    usage_types,
)
from aesp.core.errors import ConfigurationError, ExecutionError
from aesp.core.ports._cursors import decode_number
from aesp.core.ports._paging import Page, page_limit
from aesp.core.ports.cost import (
    Budget,
    BudgetNotFoundError,
    BudgetOwnershipError,
    BudgetPeriod,
    BudgetScope,
    BudgetStatus,
    Reservation,
    ReservationConflictError,
    ReservationNotFoundError,
    ReserveOutcome,
    UsageRecord,
)
from aesp_aws._aws import Aws, error_code
from aesp_aws._dynamo import ensure_table, from_item, to_item
from aesp_aws.billing import BudgetMirror, CloudSpend, CostExplorerSpend

__all__ = ["MAX_BUDGETS", "DynamoCostLedger"]

HELD, SETTLED, RELEASED = "HELD", "SETTLED", "RELEASED"
MAX_BUDGETS = 30  # 1 + 3 items per budget must leave room in a 100-item transaction
_TX_ITEMS = 100
_ATTEMPTS = 200  # optimistic retries before a write is reported as unavailable
_OFFSET = 2**63  # times are keyed as 20-digit numbers; the offset keeps negatives in order
_BUDGETS = "budget"
_USAGE = "usage"
_SEQ = "seq"
_ONE = "-"


def _key(ms: int) -> str:
    return f"{ms + _OFFSET:020d}"


def _unavailable(exc: BaseException | None = None) -> ExecutionError:
    reason = f" ({type(exc).__name__})" if exc is not None else " (too much contention)"
    return ExecutionError(
        "SERVICE_UNAVAILABLE",
        f"The budget ledger in DynamoDB could not be written or read{reason}, so nothing was "
        "changed and the call was refused rather than risk overspending; retry shortly.",
        retry_after_ms=1000,
    )


class _Cancelled(Exception):
    """A transaction was cancelled; ``reasons`` holds one code per item (``"None"`` = fine)."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__(reasons)
        self.reasons = reasons


@dataclass(frozen=True, slots=True)
class _Res:
    """A stored reservation with the state the port's answers depend on."""

    reservation: Reservation
    state: str
    holding: bool
    periods: dict[str, str]  # budget id -> counter sort key, for the budgets in force
    rev: int


class DynamoCostLedger:
    """A :class:`~aesp.core.ports.cost.CostLedger` on DynamoDB, safe for many Hosts; budgets
    are mirrored to AWS Budgets (``[adapters.aws] mirror_budgets``, default true)."""

    def __init__(self, aws: Aws) -> None:
        self._aws = aws
        self._table = aws.settings.table("cost")
        self._usage_table = aws.settings.table("usage")
        mirror = aws.settings.get("mirror_budgets", True)
        if not isinstance(mirror, bool):
            raise ConfigurationError(
                "INVALID_CONFIG", "[adapters.aws] mirror_budgets must be true or false."
            )
        self._mirror = BudgetMirror(aws) if mirror else None
        self._explorer = CostExplorerSpend(aws)
        # Writers of usage on one Host take turns at numbering instead of racing each other
        # for the ``seq`` item; correctness across Hosts still rests on its condition.
        self._numbering = asyncio.Lock()
        self._last_seq: int | None = None  # ``seq`` as this Host last wrote or read it
        # Budgets (and their ``rev``) as this Host last read them. ``reserve`` decides on these
        # and its transaction checks each ``rev``, so a stale one costs a retry, never a wrong
        # answer; it saves a read per call on the path every call takes.
        self._known: dict[str, tuple[Budget, int]] = {}

    @classmethod
    async def open(cls, aws: Aws) -> DynamoCostLedger:
        """The ledger on ``<prefix>-cost`` and ``<prefix>-usage`` (created when allowed)."""
        ledger = cls(aws)
        await ensure_table(aws, ledger._table)
        await ensure_table(aws, ledger._usage_table)
        return ledger

    async def close(self) -> None:
        """Nothing of its own to release: the boto3 clients belong to the shared :class:`Aws`."""

    # ------------------------------------------------------------------ budgets

    async def put_budget(self, budget: Budget) -> None:
        """Create or replace, mirroring to AWS Budgets *before* the ledger is written.

        Why that order: if AWS Budgets cannot be reached the put fails with nothing written, so
        the ledger and the mirror never disagree and no retry queue has to survive restarts;
        budgets are put by administrators, who can retry, never on a call's path. A concurrent
        put of the same id makes the ledger write's ``rev`` condition fail, and the whole step
        (mirror included) runs again, so the last ledger write is also the last mirror write.

        Raises:
            BudgetOwnershipError: The id belongs to another tenant's budget.
            ExecutionError: ``SERVICE_UNAVAILABLE``: DynamoDB or AWS Budgets did not answer.
        """
        for _ in range(_ATTEMPTS):
            old = await self._get(self._table, _BUDGETS, budget.budget_id)
            if old is not None and old["tenant_id"] != budget.tenant_id:
                raise BudgetOwnershipError(f"budget id {budget.budget_id!r} is another tenant's")
            if self._mirror is not None:
                await self._mirror.put(budget)
            rev = 0 if old is None else int(old["rev"])
            item = {
                "pk": _BUDGETS,
                "sk": budget.budget_id,
                **_budget_values(budget),
                "rev": rev + 1,
            }
            try:
                await self._write("put_item", Item=to_item(item), **_same_rev(old))
                self._known[budget.budget_id] = (budget, rev + 1)
                return
            except _Conflict:
                continue
        raise _unavailable()

    async def get_budget(self, budget_id: str, *, tenant_id: str | None) -> Budget | None:
        """The budget, or None (also for another tenant's)."""
        item = await self._get(self._table, _BUDGETS, budget_id)
        if item is None or (tenant_id is not None and item["tenant_id"] != tenant_id):
            return None
        return _budget(item)

    async def list_budgets(
        self, *, tenant_id: str | None, limit: int = 0, cursor: str = ""
    ) -> Page[Budget]:
        """Budgets by id; the cursor is the last id returned (ids are never empty)."""
        size = page_limit(limit)
        key = "pk = :p" + (" AND sk > :c" if cursor else "")
        values: dict[str, Any] = {":p": _BUDGETS, **({":c": cursor} if cursor else {})}
        extra: dict[str, Any] = {}
        if tenant_id is not None:
            values[":t"] = tenant_id
            extra = {"FilterExpression": "tenant_id = :t"}
        items = await self._query(self._table, key, values, size + 1, **extra)
        budgets = [_budget(i) for i in items[:size]]
        return Page(budgets, budgets[-1].budget_id if len(items) > size else "")

    async def delete_budget(self, budget_id: str, *, tenant_id: str | None) -> bool:
        """Delete the definition (mirror first, as :meth:`put_budget` argues); counters, holds
        and charges stay under the id, so re-creating it does not reset the period's spend.

        Raises:
            ExecutionError: ``SERVICE_UNAVAILABLE``: DynamoDB or AWS Budgets did not answer.
        """
        for _ in range(_ATTEMPTS):
            old = await self._get(self._table, _BUDGETS, budget_id)
            if old is None or (tenant_id is not None and old["tenant_id"] != tenant_id):
                return False
            if self._mirror is not None:
                await self._mirror.delete(budget_id)
            try:
                await self._write(
                    "delete_item", Key=to_item({"pk": _BUDGETS, "sk": budget_id}), **_same_rev(old)
                )
                self._known.pop(budget_id, None)
                return True
            except _Conflict:
                continue
        raise _unavailable()

    # ------------------------------------------------------------------ reservations

    async def reserve(
        self,
        budget_ids: Sequence[str],
        amount_micros: int,
        *,
        reservation_id: str,
        now_ms: int,
        ttl_ms: int,
    ) -> ReserveOutcome:
        """Hold on every listed budget or none, in one conditional transaction (module doc)."""
        ids = reserve_arguments(budget_ids, amount_micros, reservation_id, ttl_ms)
        if len(ids) > MAX_BUDGETS:
            raise ValueError(f"a reservation can hold on at most {MAX_BUDGETS} budgets")
        for _ in range(_ATTEMPTS):
            known = await self._budgets(ids)
            missing = [i for i in ids if i not in known]
            if missing:
                raise BudgetNotFoundError(f"no budget {missing[0]!r}; nothing was reserved")
            budgets = [known[i][0] for i in ids]
            check_one_currency(budgets)
            periods = {b.budget_id: p for b in budgets if (p := b.period_at(now_ms)) is not None}
            hard = [b for b in budgets if b.hard_limit and b.budget_id in periods]
            held = Reservation(reservation_id, ids, amount_micros, now_ms, now_ms + ttl_ms)
            revs = {i: known[i][1] for i in ids}
            planned = self._reserve_items(held, budgets, periods, revs)
            try:
                await self._transact(planned)
                return ReserveOutcome(held)
            except _Cancelled as cancelled:
                failed = [planned[n] for n, code in enumerate(cancelled.reasons) if code != "None"]
            if failed and failed[0] is planned[0]:  # the id is taken: a retry, or a misuse
                existing = await self._reservation(reservation_id)
                if existing is not None:
                    return _retried(existing, held)
                continue
            stale = [f["ConditionCheck"]["Key"]["sk"]["S"] for f in failed if "ConditionCheck" in f]
            for budget_id in stale:  # changed or deleted since this Host read it
                self._known.pop(budget_id, None)
            if not failed or stale or not all(_is_counter(i) for i in failed):
                continue  # a conflict or a changed budget: read again
            full = {f["Update"]["Key"]["pk"]["S"][len("spend#") :] for f in failed}
            refusing = [b for b in hard if b.budget_id in full]
            refusal = await self._refusal(refusing, periods, amount_micros, now_ms)
            if refusal is not None:
                return refusal
        raise _unavailable()

    async def settle(
        self, reservation_id: str, actual_micros: int, usage: Sequence[UsageRecord]
    ) -> bool:
        """Charge every budget and record the usage in one transaction, once.

        Raises:
            ReservationNotFoundError: No such reservation was ever made.
            ValueError: Too many usage records to write beside the charges in one transaction.
        """
        check_micros("settle actual_micros", actual_micros)
        unique = _unique(usage)
        checked = False  # the first attempt lets the markers' conditions find repeated ids
        for _ in range(_ATTEMPTS):
            res = await self._reservation(reservation_id)
            if res is None:
                raise ReservationNotFoundError(
                    f"no reservation {reservation_id!r}; nothing recorded"
                )
            if res.state == SETTLED:
                return False
            items = self._settle_items(res, actual_micros)
            room = (_TX_ITEMS - len(items) - 1) // 2
            records = unique
            if checked or len(records) > room:
                records, checked = await self._new_records(unique), True
            if len(records) > room:
                raise ValueError(
                    f"settle can record at most {room} new usage records with this "
                    "reservation; record the rest with record_usage"
                )
            async with self._numbering:
                if records:
                    items += await self._usage_items(records)
                try:
                    await self._transact(items)
                    self._advance(len(records))
                    return True
                except _Cancelled:
                    self._last_seq, checked = None, True
        raise _unavailable()

    async def release(self, reservation_id: str) -> bool:
        """Give a held reservation back (its holds, if it still has them, and its state)."""
        for _ in range(_ATTEMPTS):
            res = await self._reservation(reservation_id)
            if res is None or res.state != HELD:
                return False
            try:
                await self._transact(self._unhold_items(res, RELEASED))
                return True
            except _Cancelled:
                continue
        raise _unavailable()

    async def spent(self, budget_id: str, start_ms: int, end_ms: int) -> int:
        """Settled against the budget by reservations created in ``[start_ms, end_ms)``."""
        if end_ms <= start_ms:
            return 0
        items = await self._query(
            self._table,
            "pk = :p AND sk BETWEEN :lo AND :hi",
            {":p": f"charge#{budget_id}", ":lo": _key(start_ms), ":hi": _key(end_ms)},
            0,
        )
        return sum(int(i["micros"]) for i in items)

    async def status(self, budget_id: str, *, now_ms: int) -> BudgetStatus | None:
        """The budget's figures in the period containing ``now_ms``."""
        item = await self._get(self._table, _BUDGETS, budget_id)
        if item is None:
            return None
        budget = _budget(item)
        period = budget.period_at(now_ms)
        if period is None:
            return BudgetStatus(budget, False, 0, 0, 0, 0)
        spent, reserved, _ = await self._figures(budget_id, _period_key(period), now_ms)
        return BudgetStatus(budget, True, *period, spent, reserved)

    # ------------------------------------------------------------------ usage

    async def record_usage(self, records: Sequence[UsageRecord]) -> int:
        """Record the new ones, in transactions of up to 49; the first record of an id is kept."""
        added = 0
        pending = _unique(records)
        while pending:
            chunk, rest = pending[:49], pending[49:]
            for _ in range(_ATTEMPTS):
                async with self._numbering:
                    new = await self._new_records(chunk)
                    if not new:
                        break
                    try:
                        await self._transact(await self._usage_items(new))
                        self._advance(len(new))
                        added += len(new)
                        break
                    except _Cancelled:
                        self._last_seq = None
            else:
                raise _unavailable()
            pending = rest
        return added

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
        """Records in recorded order; the cursor is the number of the last one returned.

        Raises:
            ValueError: ``cursor`` was not returned by this store.
        """
        after = decode_number(cursor, "usage")
        types = usage_types(resource_types)
        size = page_limit(limit)
        last = await self._seq()
        if after >= last:
            return Page([], "")
        names: dict[str, str] = {}
        values: dict[str, Any] = {
            ":p": _USAGE,
            ":lo": _key(after + 1),
            ":hi": _key(last),
        }
        where: list[str] = []
        for name, op, value in (
            ("tenant_id", "=", tenant_id),
            ("timestamp_ms", ">=", start_ms),
            ("timestamp_ms", "<", end_ms),
        ):
            if value is not None:
                names[f"#{name}"] = name
                values[f":v{len(where)}"] = value
                where.append(f"#{name} {op} :v{len(where)}")
        if types:
            names["#rt"] = "resource_type"
            marks = [f":t{n}" for n in range(len(types))]
            values.update(zip(marks, types, strict=True))
            where.append(f"#rt IN ({', '.join(marks)})")
        extra: dict[str, Any] = {}
        if where:
            extra = {"FilterExpression": " AND ".join(where), "ExpressionAttributeNames": names}
        items = await self._query(
            self._usage_table, "pk = :p AND sk BETWEEN :lo AND :hi", values, size + 1, **extra
        )
        page = [_usage(i) for i in items[:size]]
        more = len(items) > size
        return Page(page, str(int(items[size - 1]["sk"]) - _OFFSET) if more else "")

    # ------------------------------------------------------------------ cloud spend

    async def cloud_spend(self, tenant_id: str, start: date, end: date) -> CloudSpend:
        """What AWS billed the tenant's tagged resources on ``[start, end)``, from Cost Explorer
        (a report for reconciliation: it lags the bill by hours and admits nothing).

        Raises:
            ValueError: An empty range.
            ExecutionError: ``SERVICE_UNAVAILABLE``: Cost Explorer did not answer.
        """
        return await self._explorer.cloud_spend(tenant_id, start, end)

    # ------------------------------------------------------------------ transactions

    def _reserve_items(
        self,
        held: Reservation,
        budgets: Sequence[Budget],
        periods: dict[str, tuple[int, int]],
        revs: dict[str, int],
    ) -> list[dict[str, Any]]:
        """The reservation, a check of each budget's ``rev``, and per budget in force its
        counter update (conditional for hard budgets) and its hold."""
        keys = {i: _period_key(p) for i, p in periods.items()}
        res = {
            "pk": f"res#{held.reservation_id}",
            "sk": _ONE,
            "budget_ids": list(held.budget_ids),
            "amount": held.amount_micros,
            "created": held.created_at_ms,
            "expires": held.expires_at_ms,
            "state": HELD,
            "holding": True,
            "charged": 0,
            "periods": json.dumps(keys),
            "rev": 1,
        }
        items: list[dict[str, Any]] = [
            self._put(res, "attribute_not_exists(pk)"),
        ]
        amount = held.amount_micros
        for budget in budgets:
            bid = budget.budget_id
            items.append(
                {
                    "ConditionCheck": {
                        "TableName": self._table,
                        "Key": to_item({"pk": _BUDGETS, "sk": bid}),
                        "ConditionExpression": "rev = :r",
                        "ExpressionAttributeValues": to_item({":r": revs[bid]}),
                    }
                }
            )
            if bid not in keys:
                continue
            update: dict[str, Any] = {
                "TableName": self._table,
                "Key": to_item({"pk": f"spend#{bid}", "sk": keys[bid]}),
                "UpdateExpression": "ADD used :a, spent :z, rev :one",
                "ExpressionAttributeValues": {":a": amount, ":z": 0, ":one": 1},
            }
            if budget.hard_limit:
                # A budget that admits nothing even when unused must refuse when it has no
                # counter yet, too: then the "no counter" alternative is left out.
                limit = budget.amount_micros
                fits = "used <= :most AND used < :limit"
                fresh = "attribute_not_exists(used) OR " if admits(limit, 0, amount) else ""
                update["ConditionExpression"] = f"{fresh}({fits})"
                update["ExpressionAttributeValues"].update(
                    {":most": limit - amount, ":limit": limit}
                )
            update["ExpressionAttributeValues"] = to_item(update["ExpressionAttributeValues"])
            items.append({"Update": update})
            hold = {
                "pk": f"hold#{bid}#{keys[bid]}",
                "sk": f"{_key(held.expires_at_ms)}#{held.reservation_id}",
                "amount": amount,
                "reservation_id": held.reservation_id,
            }
            items.append(self._put(hold))
        return items

    def _settle_items(self, res: _Res, actual: int) -> list[dict[str, Any]]:
        """Settle the reservation: its charges, its counters, its holds gone."""
        held = res.reservation
        items = [
            self._update_res(
                res, "SET #s = :s, charged = :c, holding = :f", {":c": actual}, SETTLED
            )
        ]
        used = actual - held.amount_micros if res.holding else actual
        for bid in held.budget_ids:
            charge = {
                "pk": f"charge#{bid}",
                "sk": f"{_key(held.created_at_ms)}#{held.reservation_id}",
                "micros": actual,
            }
            items.append(self._put(charge))
            if bid in res.periods:
                items.append(self._counter(bid, res.periods[bid], used, actual))
                if res.holding:
                    items.append(self._delete_hold(bid, res))
        return items

    def _unhold_items(self, res: _Res, state: str) -> list[dict[str, Any]]:
        """Move the reservation to ``state`` and give back its holds if it still has them."""
        items = [self._update_res(res, "SET #s = :s, holding = :f", {}, state)]
        if res.holding:
            for bid, key in res.periods.items():
                items.append(self._counter(bid, key, -res.reservation.amount_micros, 0))
                items.append(self._delete_hold(bid, res))
        return items

    def _update_res(
        self, res: _Res, expression: str, values: dict[str, Any], state: str
    ) -> dict[str, Any]:
        return {
            "Update": {
                "TableName": self._table,
                "Key": to_item({"pk": f"res#{res.reservation.reservation_id}", "sk": _ONE}),
                "UpdateExpression": expression + ", rev = :next",
                "ConditionExpression": "rev = :rev",
                "ExpressionAttributeNames": {"#s": "state"},
                "ExpressionAttributeValues": to_item(
                    {**values, ":s": state, ":f": False, ":rev": res.rev, ":next": res.rev + 1}
                ),
            }
        }

    def _counter(self, bid: str, key: str, used: int, spent: int) -> dict[str, Any]:
        return {
            "Update": {
                "TableName": self._table,
                "Key": to_item({"pk": f"spend#{bid}", "sk": key}),
                "UpdateExpression": "ADD used :u, spent :s, rev :one",
                "ExpressionAttributeValues": to_item({":u": used, ":s": spent, ":one": 1}),
            }
        }

    def _delete_hold(self, bid: str, res: _Res) -> dict[str, Any]:
        held = res.reservation
        key = {
            "pk": f"hold#{bid}#{res.periods[bid]}",
            "sk": f"{_key(held.expires_at_ms)}#{held.reservation_id}",
        }
        return {
            "Delete": {
                "TableName": self._table,
                "Key": to_item(key),
                "ConditionExpression": "attribute_exists(pk)",
            }
        }

    def _put(self, values: dict[str, Any], condition: str = "", table: str = "") -> dict[str, Any]:
        put: dict[str, Any] = {"TableName": table or self._table, "Item": to_item(values)}
        if condition:
            put["ConditionExpression"] = condition
        return {"Put": put}

    async def _usage_items(self, records: Sequence[UsageRecord]) -> list[dict[str, Any]]:
        """Advance ``seq`` by ``len(records)`` (conditional on the value this Host last saw,
        read again after a failed attempt) and write them. Call under ``_numbering``."""
        if self._last_seq is None:
            self._last_seq = await self._seq()
        last = self._last_seq
        seq_update: dict[str, Any] = {
            "TableName": self._usage_table,
            "Key": to_item({"pk": _SEQ, "sk": _ONE}),
            "UpdateExpression": "SET n = :new",
            "ConditionExpression": "n = :old" if last else "attribute_not_exists(n)",
            "ExpressionAttributeValues": to_item(
                {":new": last + len(records), **({":old": last} if last else {})}
            ),
        }
        items: list[dict[str, Any]] = [{"Update": seq_update}]
        for n, record in enumerate(records, start=last + 1):
            marker = {"pk": f"event#{record.event_id}", "sk": _ONE, "n": n}
            row = {"pk": _USAGE, "sk": _key(n), **_usage_values(record)}
            items.append(self._put(marker, "attribute_not_exists(pk)", self._usage_table))
            items.append(self._put(row, "attribute_not_exists(pk)", self._usage_table))
        return items

    def _advance(self, count: int) -> None:
        """This Host's own batch of ``count`` records committed: ``seq`` moved by as much."""
        if self._last_seq is not None:
            self._last_seq += count

    async def _new_records(self, records: Sequence[UsageRecord]) -> list[UsageRecord]:
        """``records`` without repeats and without ids already recorded."""
        unique = _unique(records)
        if not unique:
            return []
        keys = [{"pk": f"event#{r.event_id}", "sk": _ONE} for r in unique]
        seen = {i["pk"][len("event#") :] for i in await self._batch_get(self._usage_table, keys)}
        return [r for r in unique if r.event_id not in seen]

    # ------------------------------------------------------------------ figures

    async def _refusal(
        self,
        hard: Sequence[Budget],
        periods: dict[str, tuple[int, int]],
        amount: int,
        now_ms: int,
    ) -> ReserveOutcome | None:
        """The refusal by the first of ``hard`` (the budgets whose counter refused, in the
        caller's order) that cannot admit ``amount`` now; None if expired holds were given back
        or every one admits (the caller tries again)."""
        figures = []
        for budget in hard:
            key = _period_key(periods[budget.budget_id])
            spent, reserved, expired = await self._figures(budget.budget_id, key, now_ms)
            used = spent + reserved
            if expired:  # the counter still counts them: give them back, then try again
                for reservation_id in expired:
                    await self._lapse(reservation_id, now_ms)
                return None
            figures.append((budget, used))
        for budget, used in figures:
            if not admits(budget.amount_micros, used, amount):
                return ReserveOutcome(None, budget.budget_id, max(0, budget.amount_micros - used))
        return None

    async def _lapse(self, reservation_id: str, now_ms: int) -> None:
        """Give back the holds of an expired reservation, keeping it HELD (it can still be
        settled: the call may have run); a race with its settle or release is harmless."""
        res = await self._reservation(reservation_id)
        if res is None or not res.holding or res.reservation.expires_at_ms > now_ms:
            return
        try:
            await self._transact(self._unhold_items(res, res.state))
        except _Cancelled:
            return

    async def _figures(self, budget_id: str, key: str, now_ms: int) -> tuple[int, int, list[str]]:
        """(settled, live-held, ids of expired holders) for one budget period.

        The counter counts expired holds until they are given back, so they are subtracted. The
        holds are listed before the counter is read: a hold given back in between makes the
        figure low for a moment, never high, so a refusal is never made on it (the caller reads
        again). When there are expired holds, the list is taken again between two reads of the
        counter, until its ``rev`` did not move (a few times at most).
        """
        counter_key = {"pk": f"spend#{budget_id}", "sk": key}
        values = {":p": f"hold#{budget_id}#{key}", ":hi": _key(now_ms + 1)}
        result: tuple[int, int, list[str]] = (0, 0, [])
        before: dict[str, Any] | None = None
        for _ in range(5):
            holds = await self._query(self._table, "pk = :p AND sk < :hi", values, 0)
            after = await self._get_item(self._table, counter_key) or {}
            used, spent = int(after.get("used", 0)), int(after.get("spent", 0))
            expired = sum(int(h["amount"]) for h in holds)
            result = (spent, max(0, used - spent - expired), [h["reservation_id"] for h in holds])
            if not holds or (before is not None and before.get("rev") == after.get("rev")):
                break
            before = after
        return result

    # ------------------------------------------------------------------ reads

    async def _budgets(self, ids: Sequence[str]) -> dict[str, tuple[Budget, int]]:
        """The known budgets of ``ids`` with their ``rev``, reading those not known yet (a
        budget that does not exist is never remembered: another Host may create it)."""
        unknown = [{"pk": _BUDGETS, "sk": i} for i in ids if i not in self._known]
        if unknown:
            for item in await self._batch_get(self._table, unknown):
                self._known[item["sk"]] = (_budget(item), int(item["rev"]))
        return {i: self._known[i] for i in ids if i in self._known}

    async def _reservation(self, reservation_id: str) -> _Res | None:
        item = await self._get(self._table, f"res#{reservation_id}", _ONE)
        return None if item is None else _res(item)

    async def _seq(self) -> int:
        item = await self._get(self._usage_table, _SEQ, _ONE)
        return int(item["n"]) if item else 0

    async def _get(self, table: str, pk: str, sk: str) -> dict[str, Any] | None:
        return await self._get_item(table, {"pk": pk, "sk": sk})

    async def _get_item(self, table: str, key: dict[str, str]) -> dict[str, Any] | None:
        reply = await self._call("get_item", TableName=table, Key=to_item(key), ConsistentRead=True)
        item = reply.get("Item")
        return None if item is None else from_item(item)

    async def _batch_get(self, table: str, keys: list[dict[str, str]]) -> list[dict[str, Any]]:
        """Every existing item of ``keys`` (at most 100), read consistently."""
        found: list[dict[str, Any]] = []
        request: dict[str, Any] = {
            table: {"Keys": [to_item(k) for k in keys], "ConsistentRead": True}
        }
        while request:
            reply = await self._call("batch_get_item", RequestItems=request)
            found += [from_item(i) for i in reply.get("Responses", {}).get(table, [])]
            request = reply.get("UnprocessedKeys") or {}
        return found

    async def _query(
        self, table: str, key: str, values: dict[str, Any], want: int, **extra: Any
    ) -> list[dict[str, Any]]:
        """Up to ``want`` matching items in key order (0 = all), following DynamoDB's pages."""
        found: list[dict[str, Any]] = []
        start: dict[str, Any] | None = None
        while True:
            kwargs: dict[str, Any] = {
                "TableName": table,
                "KeyConditionExpression": key,
                "ExpressionAttributeValues": to_item(values),
                "ConsistentRead": True,
                **extra,
            }
            if want:
                # With a filter, DynamoDB's Limit counts items read, not items matched.
                kwargs["Limit"] = 200 if "FilterExpression" in extra else want - len(found)
            if start:
                kwargs["ExclusiveStartKey"] = start
            reply = await self._call("query", **kwargs)
            found += [from_item(i) for i in reply.get("Items", [])]
            start = reply.get("LastEvaluatedKey")
            if not start or (want and len(found) >= want):
                return found[:want] if want else found

    # ------------------------------------------------------------------ calls

    async def _call(self, operation: str, **kwargs: Any) -> Any:
        try:
            return await self._aws.call("dynamodb", operation, **kwargs)
        except Exception as exc:
            raise _unavailable(exc) from exc

    async def _write(self, operation: str, **kwargs: Any) -> Any:
        """A single-item conditional write; a failed condition raises :class:`_Conflict`."""
        try:
            return await self._aws.call("dynamodb", operation, TableName=self._table, **kwargs)
        except Exception as exc:
            if error_code(exc) in (
                "ConditionalCheckFailedException",
                "TransactionConflictException",
            ):
                raise _Conflict from exc
            raise _unavailable(exc) from exc

    async def _transact(self, items: list[dict[str, Any]]) -> None:
        """Run ``items`` as one transaction; a cancellation raises :class:`_Cancelled`."""
        try:
            await self._aws.call("dynamodb", "transact_write_items", TransactItems=items)
        except Exception as exc:
            if error_code(exc) in ("TransactionCanceledException", "TransactionConflictException"):
                reasons = getattr(exc, "response", {}).get("CancellationReasons", [])
                codes = [str(r.get("Code", "")) for r in reasons]
                # Another transaction held an item: back off a little, with jitter, so that
                # racing Hosts do not collide again in lockstep. A failed condition is an
                # answer, not a collision: no wait.
                collided = not codes or "TransactionConflict" in codes
                await asyncio.sleep(random.uniform(0.001, 0.02) if collided else 0)
                raise _Cancelled(codes) from exc
            raise _unavailable(exc) from exc


class _Conflict(Exception):
    """A single-item write's condition failed: another Host wrote first."""


def _same_rev(old: dict[str, Any] | None) -> dict[str, Any]:
    """The condition that the budget item is still ``old`` (absent when ``old`` is None)."""
    if old is None:
        return {"ConditionExpression": "attribute_not_exists(pk)"}
    return {
        "ConditionExpression": "rev = :r",
        "ExpressionAttributeValues": to_item({":r": int(old["rev"])}),
    }


def _retried(existing: _Res, asked: Reservation) -> ReserveOutcome:
    """The answer to a reserve whose id is taken: the held reservation if it is the same one.

    Raises:
        ReservationConflictError: Other budgets or amount, or no longer held.
    """
    held = existing.reservation
    same = (held.budget_ids, held.amount_micros) == (asked.budget_ids, asked.amount_micros)
    if existing.state != HELD or not same:
        raise ReservationConflictError(f"reservation {held.reservation_id!r} already exists")
    return ReserveOutcome(held)


def _unique(records: Sequence[UsageRecord]) -> list[UsageRecord]:
    """The first record of each event id, in the given order."""
    first: dict[str, UsageRecord] = {}
    for record in records:
        first.setdefault(record.event_id, record)
    return list(first.values())


def _is_counter(item: dict[str, Any]) -> bool:
    """Whether a transaction item is a budget counter's update."""
    return "Update" in item and item["Update"]["Key"]["pk"]["S"].startswith("spend#")


def _period_key(period: tuple[int, int]) -> str:
    return f"{_key(period[0])}-{_key(period[1])}"


def _budget_values(b: Budget) -> dict[str, Any]:
    return {
        "tenant_id": b.tenant_id,
        "name": b.name,
        "amount": b.amount_micros,
        "currency": b.currency,
        "period": b.period.value,
        "thresholds": json.dumps(list(b.alert_thresholds)),
        "hard": b.hard_limit,
        "scope": b.scope.value,
        "scope_value": b.scope_value,
        "start": b.start_date_ms,
        "end": b.end_date_ms,
    }


def _budget(item: dict[str, Any]) -> Budget:
    return Budget(
        budget_id=item["sk"],
        tenant_id=item["tenant_id"],
        amount_micros=int(item["amount"]),
        name=item["name"],
        currency=item["currency"],
        period=BudgetPeriod(item["period"]),
        alert_thresholds=tuple(json.loads(item["thresholds"])),
        hard_limit=bool(item["hard"]),
        scope=BudgetScope(item["scope"]),
        scope_value=item["scope_value"],
        start_date_ms=int(item["start"]),
        end_date_ms=int(item["end"]),
    )


def _res(item: dict[str, Any]) -> _Res:
    reservation = Reservation(
        item["pk"][len("res#") :],
        tuple(item["budget_ids"]),
        int(item["amount"]),
        int(item["created"]),
        int(item["expires"]),
    )
    periods = json.loads(item["periods"])
    return _Res(reservation, item["state"], bool(item["holding"]), periods, int(item["rev"]))


def _usage_values(r: UsageRecord) -> dict[str, Any]:
    """A record's attributes; doubles as their ``repr`` (DynamoDB numbers are decimals, and a
    double's shortest repr reads back as exactly that double)."""
    return {
        "event_id": r.event_id,
        "timestamp_ms": r.timestamp_ms,
        "tenant_id": r.tenant_id,
        "resource_type": r.resource_type,
        "quantity": repr(float(r.quantity)),
        "unit": r.unit,
        "unit_cost": repr(float(r.unit_cost)),
        "total": r.total_cost_micros,
        "principal_id": r.principal_id,
        "session_id": r.session_id,
        "cost_center": r.cost_center,
        "project_id": r.project_id,
        "metadata": json.dumps(dict(r.metadata)),
        "tool": r.tool,
    }


def _usage(item: dict[str, Any]) -> UsageRecord:
    return UsageRecord(
        event_id=item["event_id"],
        timestamp_ms=int(item["timestamp_ms"]),
        tenant_id=item["tenant_id"],
        resource_type=item["resource_type"],
        quantity=float(item["quantity"]),
        unit=item["unit"],
        unit_cost=float(item["unit_cost"]),
        total_cost_micros=int(item["total"]),
        principal_id=item["principal_id"],
        session_id=item["session_id"],
        cost_center=item["cost_center"],
        project_id=item["project_id"],
        metadata=json.loads(item["metadata"]),
        tool=item["tool"],
    )
