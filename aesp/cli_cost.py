"""``aesp budgets list|create|status`` and ``aesp usage``: the cost service from a terminal.

Each command is one or a few ``EnterpriseCostManagementService`` calls over TLS, with the
credentials ``aesp tenants`` takes (a client certificate, or an API key with ``--ca``), printed
as an aligned table or, with ``--json``, as JSON for machines. :func:`add_cost_commands` adds
the commands to the ``aesp`` parser; :func:`main` runs them on their own
(``python -m aesp.cli_cost budgets list``).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from aesp.cli import API_KEY_ENV, _answer, _operator_credentials, _pem_args, _Refused, _when

__all__ = ["add_cost_commands", "main"]

PERIODS = ("MONTHLY", "QUARTERLY", "YEARLY")
SCOPES = ("TENANT", "COST_CENTER", "PRINCIPAL", "TOOL")
AGGREGATIONS = ("DAILY", "WEEKLY", "MONTHLY")


def _instant(text: str) -> int:
    """Unix ms of ``2025-01-31``, ``2025-01-31T12:00:00Z`` (UTC unless it says) or a number
    of milliseconds."""
    if text.isdigit():
        return int(text)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a date such as 2025-01-31 or 2025-01-31T12:00:00Z"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def _budget_json(details: Any) -> dict[str, Any]:
    b, s = details.budget, details.status
    return {
        "budget_id": b.budget_id,
        "name": b.name,
        "tenant_id": b.tenant_id,
        "scope": b.scope,
        "scope_value": b.scope_value,
        "amount": b.amount,
        "currency": b.currency,
        "period": b.period,
        "hard_limit": b.auto_shutdown,
        "alert_thresholds": list(b.alert_thresholds),
        "active": details.active,
        "spent": s.spent,
        "reserved": s.reserved,
        "period_start": s.period_start,
        "period_end": s.period_end,
        "thresholds_crossed": list(s.thresholds_crossed),
        "exceeded": s.exceeded,
        "approval_request_id": details.approval_request_id,
    }


def _usage_json(report: Any) -> dict[str, Any]:
    return {
        "tenant_id": report.tenant_id,
        "start_time": report.start_time,
        "end_time": report.end_time,
        "aggregation": report.aggregation,
        "currency": report.currency,
        "total_cost": report.total_cost,
        "buckets": [
            {
                "period_start": b.period_start,
                "period_end": b.period_end,
                "resource_type": b.resource_type,
                "quantity": b.quantity,
                "unit": b.unit,
                "total_cost": b.total_cost,
                "events": b.event_count,
                "group": dict(sorted(b.group.items())),
            }
            for b in report.buckets
        ],
    }


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Print an aligned table (the last column is not padded)."""
    cells = [list(header), *map(list, rows)]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header) - 1)]
    for row in cells:
        print("  ".join(c.ljust(w) for c, w in zip(row[:-1], widths, strict=True)), row[-1])


def _amount(value: float, currency: str) -> str:
    return f"{value:,.2f} {currency}" if value >= 0.01 or value == 0 else f"{value:g} {currency}"


def _print_budgets(budgets: list[dict[str, Any]]) -> None:
    header = ("BUDGET", "SCOPE", "PERIOD", "LIMIT", "SPENT", "RESERVED", "HARD", "ALERTS")
    _table(
        header,
        [
            (
                b["budget_id"],
                b["scope"] + (f":{b['scope_value']}" if b["scope_value"] else ""),
                b["period"],
                _amount(b["amount"], b["currency"]),
                _amount(b["spent"], b["currency"]),
                _amount(b["reserved"], b["currency"]),
                "yes" if b["hard_limit"] else "no",
                ",".join(b["alert_thresholds"]) or "-",
            )
            for b in budgets
        ],
    )


def _print_status(b: dict[str, Any]) -> None:
    used = (b["spent"] / b["amount"] * 100) if b["amount"] else 100.0
    state = "EXCEEDED" if b["exceeded"] else ("not in force" if not b["active"] else "ok")
    pending = b.get("approval_request_id", "")
    if pending:  # [governance] budget_changes = "approval": submitted, not stored yet
        state = f"PENDING_APPROVAL {pending} (not in force until another administrator approves)"
    for label, value in (
        ("budget", f"{b['budget_id']}" + (f" ({b['name']})" if b["name"] else "")),
        ("tenant", b["tenant_id"]),
        ("scope", b["scope"] + (f" {b['scope_value']}" if b["scope_value"] else "")),
        ("limit", f"{_amount(b['amount'], b['currency'])} per {b['period'].lower()} period"),
        ("period", f"{_when(b['period_start'])} to {_when(b['period_end'])}"),
        ("spent", f"{_amount(b['spent'], b['currency'])} ({used:.1f}%)"),
        ("reserved", f"{_amount(b['reserved'], b['currency'])} by calls in flight"),
        ("enforced", "hard: calls are refused at 100%" if b["hard_limit"] else "soft: alerts only"),
        ("crossed", ", ".join(b["thresholds_crossed"]) or "-"),
        ("state", state),
    ):
        print(f"{label + ':':<10} {value}")


def _all_budgets(stub: Any, tenant: str, timeout: float) -> list[dict[str, Any]]:
    from aesp.proto.altar.aesp.v1 import cost_pb2 as _cost_pb2

    budgets: list[dict[str, Any]] = []
    cursor, seen = "", {""}
    while True:
        request = _cost_pb2.ListBudgetsRequest(tenant_id=tenant, cursor=cursor)
        page = _answer(stub.ListBudgets(request, timeout=timeout))
        budgets.extend(_budget_json(d) for d in page.items)
        cursor = page.next_cursor
        if cursor in seen:  # "" ends the listing; a repeated cursor would loop for ever
            return budgets
        seen.add(cursor)


def _create(args: argparse.Namespace, stub: Any, timeout: float) -> dict[str, Any]:
    from aesp.proto.altar.aesp.v1 import cost_pb2 as _cost_pb2

    definition = _cost_pb2.BudgetDefinition(
        budget_id=args.budget_id or "",
        name=args.budget_name or "",
        amount=args.amount,
        currency=args.currency or "",
        period=args.period,
        alert_thresholds=args.alert or [],
        auto_shutdown=args.hard,
        scope=args.scope,
        scope_value=args.scope_value or "",
        start_date=args.start or 0,
        end_date=args.end or 0,
    )
    request = _cost_pb2.CreateBudgetRequest(
        budget=definition, tenant_id=args.tenant, justification=args.reason
    )
    return _budget_json(_answer(stub.CreateBudget(request, timeout=timeout)))


def _usage(args: argparse.Namespace, stub: Any, timeout: float) -> dict[str, Any]:
    from aesp.proto.altar.aesp.v1 import cost_pb2 as _cost_pb2

    if args.since is None:
        now = datetime.now(tz=UTC)
        args.since = int(datetime(now.year, now.month, 1, tzinfo=UTC).timestamp() * 1000)
    request = _cost_pb2.GetUsageReportRequest(
        tenant_id=args.tenant,
        start_time=args.since,
        end_time=args.until or 0,
        resource_types=args.resource_type or [],
        aggregation=args.aggregation,
        group_by=args.group_by or [],
    )
    return _usage_json(_answer(stub.GetUsageReport(request, timeout=timeout)))


def _print_usage(report: dict[str, Any]) -> None:
    groups = sorted({k for b in report["buckets"] for k in b["group"]})
    header = ("PERIOD", "RESOURCE", *(g.upper() for g in groups), "QUANTITY", "EVENTS", "COST")
    rows = [
        (
            _when(b["period_start"])[:10],
            b["resource_type"],
            *(b["group"].get(g, "") or "-" for g in groups),
            f"{b['quantity']:g} {b['unit']}",
            str(b["events"]),
            _amount(b["total_cost"], report["currency"]),
        )
        for b in report["buckets"]
    ]
    _table(header, rows)
    print(f"total: {_amount(report['total_cost'], report['currency'])}")


def _run(args: argparse.Namespace) -> int:
    """Run one cost command; the Host's refusal is printed with its code (exit status 1)."""
    import grpc

    from aesp.client._channel import RPC_TIMEOUT_S, credentials
    from aesp.proto.altar.aesp.v1 import cost_pb2_grpc as _cost_pb2_grpc

    try:
        creds = credentials(**_operator_credentials(args))
    except ValueError as exc:
        print(f"aesp: unusable credentials: {exc}", file=sys.stderr)
        return 2
    with grpc.secure_channel(args.target, creds) as channel:
        stub = _cost_pb2_grpc.EnterpriseCostManagementServiceStub(channel)
        try:
            result: Any = args.fetch(args, stub, RPC_TIMEOUT_S)
        except _Refused as exc:
            print(f"aesp: {exc} (correlation id {exc.correlation_id})", file=sys.stderr)
            return 1
        except grpc.RpcError as exc:
            code = exc.code().name if isinstance(exc, grpc.Call) else "UNKNOWN"
            details = exc.details() if isinstance(exc, grpc.Call) else str(exc)
            print(
                f"aesp: the Host at {args.target} did not answer: {code}: {details}",
                file=sys.stderr,
            )
            return 1
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        args.show(result)
    return 0


def _status(args: argparse.Namespace, stub: Any, timeout: float) -> list[dict[str, Any]]:
    budgets = _all_budgets(stub, args.tenant, timeout)
    if args.budget_id:
        budgets = [b for b in budgets if b["budget_id"] == args.budget_id]
        if not budgets:
            raise _Refused("NOT_FOUND", f"the tenant has no budget '{args.budget_id}'", "-")
    return budgets


def _show_statuses(budgets: list[dict[str, Any]]) -> None:
    for number, budget in enumerate(budgets):
        if number:
            print()
        _print_status(budget)


def _common(
    parser: argparse.ArgumentParser, fetch: Callable[..., Any], show: Callable[[Any], None]
) -> None:
    parser.add_argument("--tenant", default="", help="tenant (default: your own; '*' = all)")
    parser.add_argument("--json", action="store_true", help="print JSON for machines")
    parser.add_argument("--target", default="localhost:7443", help="the Host's client port")
    _pem_args(parser, "client", "demo")
    parser.add_argument("--api-key", help=f"a service account's API key (safer: set {API_KEY_ENV})")
    parser.set_defaults(func=_run, fetch=fetch, show=show)


def add_cost_commands(subparsers: Any) -> None:
    """Add ``budgets`` and ``usage`` to the ``aesp`` command's subparsers."""
    budgets = subparsers.add_parser("budgets", help="list, create or inspect budgets")
    actions = budgets.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="the tenant's budgets and their spend")
    _common(listing, lambda a, s, t: _all_budgets(s, a.tenant, t), _print_budgets)
    create = actions.add_parser("create", help="create a budget, or replace one by --id")
    create.add_argument("--amount", type=float, required=True, help="limit per period")
    create.add_argument("--id", dest="budget_id", help="budget id (default: the Host assigns)")
    create.add_argument("--budget-name", dest="budget_name", help="a readable name")
    create.add_argument("--currency", help="ISO-4217 code (default: the Host's)")
    create.add_argument("--period", choices=PERIODS, default="MONTHLY")
    create.add_argument("--scope", choices=SCOPES, default="TENANT")
    create.add_argument("--scope-value", help="the cost centre, principal id or tool name")
    create.add_argument("--alert", action="append", help="alert threshold such as 80%%")
    create.add_argument("--hard", action="store_true", help="refuse calls at 100%% (else alert)")
    create.add_argument("--start", type=_instant, help="in force from (date or ms)")
    create.add_argument("--end", type=_instant, help="in force until (date or ms)")
    create.add_argument("--reason", default="", help="justification, kept in the audit log")
    _common(create, _create, _print_status)
    status = actions.add_parser("status", help="where budgets stand in their period")
    status.add_argument("budget_id", nargs="?", default="", help="one budget (default: all)")
    _common(status, _status, _show_statuses)
    usage = subparsers.add_parser("usage", help="metered usage by period and resource type")
    usage.add_argument("--since", type=_instant, help="from (default: this month's start)")
    usage.add_argument("--until", type=_instant, help="until (default: now)")
    usage.add_argument("--aggregation", choices=AGGREGATIONS, default="DAILY")
    usage.add_argument("--resource-type", action="append", help="only this resource type")
    usage.add_argument(
        "--group-by", action="append", choices=("principal_id", "cost_center", "project_id", "tool")
    )
    _common(usage, _usage, _print_usage)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``budgets ...`` or ``usage ...`` on its own (tests; until ``aesp`` wires them in)."""
    parser = argparse.ArgumentParser(prog="aesp", description="AESP budgets and usage.")
    add_cost_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    return int(args.func(args))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
