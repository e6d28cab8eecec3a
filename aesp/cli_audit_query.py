"""``aesp audit query``: search the Host's audit log through EnterpriseAuditService.QueryEvents.

The caller sees only its own tenant's events unless it holds the platform permission and asks
for another tenant (``--tenant``); the Host decides, this command only asks. Pages are fetched
until ``--limit`` events are shown or the log has no more.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

from aesp.cli import API_KEY_ENV, _answer, _operator_credentials, _pem_args, _Refused

PAGE = 200  # events per QueryEvents call


def add_audit_query_command(audit_actions: Any) -> None:
    """Add ``query`` to the ``aesp audit`` actions (``audit_actions`` is their subparsers)."""
    query = audit_actions.add_parser("query", help="search the Host's audit log")
    query.add_argument("--type", action="append", default=[], help="event type (repeatable)")
    query.add_argument("--principal", default="", help="only this principal's events")
    query.add_argument("--correlation-id", default="", help="only this correlation id")
    query.add_argument("--outcome", default="", help="SUCCESS, FAILURE, DENIED or ERROR")
    query.add_argument("--since-ms", type=int, default=0, help="from this Unix time (ms)")
    query.add_argument("--until-ms", type=int, default=0, help="before this Unix time (ms)")
    query.add_argument("--limit", type=int, default=50, help="at most this many events")
    query.add_argument("--tenant", default="", help="tenant (default: your own)")
    query.add_argument("--json", action="store_true", help="print JSON for machines")
    query.add_argument("--target", default="localhost:7443", help="the Host's client port")
    _pem_args(query, "client", "demo")
    query.add_argument("--api-key", help=f"a service account's API key (safer: set {API_KEY_ENV})")
    query.set_defaults(func=_query)


def _request(args: argparse.Namespace, cursor: str, limit: int) -> Any:
    from aesp.proto.altar.aesp.v1 import audit_pb2

    filters = {
        key: value
        for key, value in (("correlation_id", args.correlation_id), ("outcome", args.outcome))
        if value
    }
    return audit_pb2.QueryEventsRequest(
        tenant_id=args.tenant,
        start_time=args.since_ms,
        end_time=args.until_ms,
        event_types=args.type,
        principal_id=args.principal,
        filters=filters,
        limit=limit,
        cursor=cursor,
    )


def _event_json(event: Any) -> dict[str, Any]:
    from google.protobuf.json_format import MessageToDict

    return MessageToDict(event, preserving_proto_field_name=True)


def _fetch(args: argparse.Namespace, stub: Any, timeout: float) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    cursor = ""
    while len(found) < args.limit:
        page = _answer(
            stub.QueryEvents(
                _request(args, cursor, min(PAGE, args.limit - len(found))), timeout=timeout
            )
        )
        found += [_event_json(e) for e in page.items]
        cursor = page.next_cursor
        if not cursor:
            break
    return found[: args.limit]


def _print(events: list[dict[str, Any]]) -> None:
    if not events:
        print("no events match")
        return
    for e in events:
        print(
            f"{e.get('timestamp_ms', ''):>13}  {e.get('event_type', ''):28} "
            f"{e.get('outcome', ''):8} {e.get('principal_id', '')}  {e.get('resource', '')}  "
            f"{e.get('correlation_id', '')}"
        )


def _query(args: argparse.Namespace) -> int:
    import grpc

    from aesp.client._channel import RPC_TIMEOUT_S, credentials
    from aesp.proto.altar.aesp.v1 import audit_pb2_grpc

    if args.limit <= 0:
        print("aesp: --limit must be positive", file=sys.stderr)
        return 2
    try:
        creds = credentials(**_operator_credentials(args))
    except ValueError as exc:
        print(f"aesp: unusable credentials: {exc}", file=sys.stderr)
        return 2
    with grpc.secure_channel(args.target, creds) as channel:
        stub = audit_pb2_grpc.EnterpriseAuditServiceStub(channel)
        try:
            events = _fetch(args, stub, RPC_TIMEOUT_S)
        except _Refused as exc:
            print(f"aesp: {exc} (correlation id {exc.correlation_id})", file=sys.stderr)
            return 1
        except grpc.RpcError as exc:
            detail = f"{exc.code().name}: {exc.details()}" if isinstance(exc, grpc.Call) else exc
            print(f"aesp: the Host at {args.target} did not answer: {detail}", file=sys.stderr)
            return 1
    if args.json:
        print(json.dumps(events, indent=2))
    else:
        _print(events)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m aesp.cli_audit_query ...``: the ``aesp audit query`` command alone."""
    parser = argparse.ArgumentParser(prog="aesp audit")
    add_audit_query_command(parser.add_subparsers(dest="audit_command", required=True))
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    return int(args.func(args))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
