"""``aesp config get|set|history|rollback|list``: live configuration from a terminal.

Each command is one or a few ``EnterpriseConfigurationService`` calls over TLS, with the
credentials ``aesp tenants`` takes (a client certificate, or an API key with ``--ca``), printed
as an aligned table or, with ``--json``, as JSON for machines. A change that needs approval
prints the governance request id and leaves the old value in force (SPEC §3.15); decide it
with ``aesp approvals``. :func:`add_config_commands` adds the commands to the ``aesp`` parser;
:func:`main` runs them on their own (``python -m aesp.cli_config config list``).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

from aesp.cli import API_KEY_ENV, _answer, _operator_credentials, _pem_args, _Refused, _when

__all__ = ["add_config_commands", "main"]

DATA_TYPES = ("STRING", "INTEGER", "BOOLEAN", "JSON")
MAX_PAGES = 1_000  # a listing stops here even if a Host kept returning cursors


def _value_json(value: Any) -> dict[str, Any]:
    return {
        "key": value.key,
        "value": value.value,
        "data_type": value.data_type,
        "sensitive": value.sensitive,
        "version": value.version,
        "updated_by": value.updated_by,
        "last_updated": value.last_updated,
    }


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Print an aligned table (the last column is not padded)."""
    cells = [list(header), *map(list, rows)]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header) - 1)]
    for row in cells:
        print("  ".join(c.ljust(w) for c, w in zip(row[:-1], widths, strict=True)), row[-1])


def _get(args: argparse.Namespace, stub: Any, timeout: float) -> dict[str, Any]:
    from aesp.proto.altar.aesp.v1 import configuration_pb2 as _cfg

    request = _cfg.GetConfigValueRequest(key=args.key, tenant_id=args.tenant)
    return _value_json(_answer(stub.GetConfigValue(request, timeout=timeout)))


def _print_value(v: dict[str, Any]) -> None:
    for label, text in (
        ("key", v["key"]),
        ("value", v["value"]),
        ("type", v["data_type"] + (" (sensitive)" if v["sensitive"] else "")),
        ("version", str(v["version"]) if v["version"] else "0 (the Host's file value)"),
        ("changed", f"{_when(v['last_updated'])} by {v['updated_by'] or '-'}"),
    ):
        print(f"{label + ':':<9} {text}")


def _outcome(details: Any) -> dict[str, Any]:
    return {
        "applied": not details.approval_request_id,
        "version": details.version,
        "approval_request_id": details.approval_request_id,
        "in_force": _value_json(details.value) if details.HasField("value") else None,
    }


def _print_outcome(o: dict[str, Any]) -> None:
    if o["applied"]:
        print(
            f"applied: {o['in_force']['key']} = {o['in_force']['value']} (version {o['version']})"
        )
        return
    print(f"pending approval: request {o['approval_request_id']}")
    current = o["in_force"]
    in_force = f"{current['value']} (version {current['version']})" if current else "(not set)"
    print(f"in force until approved: {in_force}")


def _set(args: argparse.Namespace, stub: Any, timeout: float) -> dict[str, Any]:
    from aesp.proto.altar.aesp.v1 import configuration_pb2 as _cfg

    request = _cfg.SetConfigValueRequest(
        key=args.key,
        value=args.value,
        data_type=args.type or "",
        sensitive=args.sensitive,
        justification=args.reason,
        requires_approval=args.requires_approval,
        tenant_id=args.tenant,
        expected_version=args.expected_version or 0,
    )
    return _outcome(_answer(stub.SetConfigValue(request, timeout=timeout)))


def _rollback(args: argparse.Namespace, stub: Any, timeout: float) -> dict[str, Any]:
    from aesp.proto.altar.aesp.v1 import configuration_pb2 as _cfg

    request = _cfg.RollbackConfigRequest(
        key=args.key, target_version=args.version, tenant_id=args.tenant, justification=args.reason
    )
    return _outcome(_answer(stub.RollbackConfig(request, timeout=timeout)))


def _pages(call: Callable[[str], Any]) -> list[Any]:
    items: list[Any] = []
    cursor, seen = "", {""}
    for _ in range(MAX_PAGES):
        page = call(cursor)
        items.extend(page.items)
        cursor = page.next_cursor
        if cursor in seen:  # "" ends the listing; a repeated cursor would loop for ever
            break
        seen.add(cursor)
    return items


def _history(args: argparse.Namespace, stub: Any, timeout: float) -> list[dict[str, Any]]:
    from aesp.proto.altar.aesp.v1 import configuration_pb2 as _cfg

    def page(cursor: str) -> Any:
        request = _cfg.GetConfigHistoryRequest(key=args.key, tenant_id=args.tenant, cursor=cursor)
        return _answer(stub.GetConfigHistory(request, timeout=timeout))

    return [
        {
            **_value_json(v.value),
            "change_reason": v.change_reason,
            "approval_request_id": v.approval_request_id,
            "rollback_of_version": v.rollback_of_version,
        }
        for v in _pages(page)
    ]


def _print_history(versions: list[dict[str, Any]]) -> None:
    header = ("VERSION", "VALUE", "CHANGED", "BY", "APPROVAL", "REASON")
    _table(
        header,
        [
            (
                str(v["version"]),
                v["value"],
                _when(v["last_updated"]),
                v["updated_by"] or "-",
                v["approval_request_id"] or "-",
                v["change_reason"] or "-",
            )
            for v in versions
        ],
    )


def _list(args: argparse.Namespace, stub: Any, timeout: float) -> list[dict[str, Any]]:
    from aesp.proto.altar.aesp.v1 import configuration_pb2 as _cfg

    def page(cursor: str) -> Any:
        request = _cfg.ListConfigKeysRequest(
            prefix=args.prefix, tenant_id=args.tenant, cursor=cursor
        )
        return _answer(stub.ListConfigKeys(request, timeout=timeout))

    return [_value_json(v) for v in _pages(page)]


def _print_keys(values: list[dict[str, Any]]) -> None:
    header = ("KEY", "TYPE", "VERSION", "CHANGED", "VALUE")
    rows = [
        (
            v["key"],
            v["data_type"] + ("*" if v["sensitive"] else ""),
            str(v["version"]),
            _when(v["last_updated"]),
            v["value"],
        )
        for v in values
    ]
    _table(header, rows)


def _run(args: argparse.Namespace) -> int:
    """Run one config command; the Host's refusal is printed with its code (exit status 1)."""
    import grpc

    from aesp.client._channel import RPC_TIMEOUT_S, credentials
    from aesp.proto.altar.aesp.v1 import configuration_pb2_grpc as _cfg_grpc

    try:
        creds = credentials(**_operator_credentials(args))
    except ValueError as exc:
        print(f"aesp: unusable credentials: {exc}", file=sys.stderr)
        return 2
    with grpc.secure_channel(args.target, creds) as channel:
        stub = _cfg_grpc.EnterpriseConfigurationServiceStub(channel)
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


def _common(
    parser: argparse.ArgumentParser, fetch: Callable[..., Any], show: Callable[[Any], None]
) -> None:
    parser.add_argument(
        "--tenant", default="", help="tenant (default: your own; '*' = the platform scope)"
    )
    parser.add_argument("--json", action="store_true", help="print JSON for machines")
    parser.add_argument("--target", default="localhost:7443", help="the Host's client port")
    _pem_args(parser, "client", "demo")
    parser.add_argument("--api-key", help=f"a service account's API key (safer: set {API_KEY_ENV})")
    parser.set_defaults(func=_run, fetch=fetch, show=show)


def add_config_commands(subparsers: Any) -> None:
    """Add ``config`` (get, set, history, rollback, list) to the ``aesp`` command's subparsers."""
    config = subparsers.add_parser("config", help="read and change live configuration")
    actions = config.add_subparsers(dest="action", required=True)
    get = actions.add_parser("get", help="a key's value in force")
    get.add_argument("key")
    _common(get, _get, _print_value)
    put = actions.add_parser("set", help="change a key (sensitive keys wait for approval)")
    put.add_argument("key")
    put.add_argument("value")
    put.add_argument("--type", choices=DATA_TYPES, help="data type (default: the key's)")
    put.add_argument("--sensitive", action="store_true", help="mask the value; needs approval")
    put.add_argument("--requires-approval", action="store_true", help="ask for approval anyway")
    put.add_argument("--expected-version", type=int, help="refuse if the key moved on")
    put.add_argument("--reason", default="", help="justification, kept in the history")
    _common(put, _set, _print_outcome)
    history = actions.add_parser("history", help="a key's versions, newest first")
    history.add_argument("key")
    _common(history, _history, _print_history)
    back = actions.add_parser("rollback", help="a new version copying an earlier one")
    back.add_argument("key")
    back.add_argument("version", type=int, help="the version to copy")
    back.add_argument("--reason", default="", help="justification, kept in the history")
    _common(back, _rollback, _print_outcome)
    listing = actions.add_parser("list", help="the scope's keys with their latest values")
    listing.add_argument("--prefix", default="", help="only keys starting with this")
    _common(listing, _list, _print_keys)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``config ...`` on its own (``python -m aesp.cli_config config get app.mode``)."""
    parser = argparse.ArgumentParser(prog="aesp", description="AESP live configuration.")
    add_config_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    return int(args.func(args))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
