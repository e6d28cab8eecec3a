"""``aesp contracts promote`` and ``aesp approvals``: the promotion path and approvals from a shell.

* ``aesp contracts promote MODULE:FUNC|FILE.json`` turns a LATER ``@tool`` (or an ADM
  FunctionDeclaration file) into an EnterpriseToolContract with the given classification, risk,
  compliance tags, roles and permissions (SPEC §3.9 step 4; item 168: name, description and
  parameters unchanged) and submits it with ``RequestApproval`` (step 5). ``--dry-run`` prints
  the contract and submits nothing.
* ``aesp contracts deprecate|retire NAME --contract-version V`` asks for the lifecycle step
  after ACTIVE (DESIGN §7: ACTIVE → DEPRECATED → RETIRED), approved like a new version.
* ``aesp approvals list|show|approve|reject`` reads and decides approval requests.

Credentials are those of ``aesp tenants`` (a client certificate, or an API key with ``--ca``).
Tool contracts are shared by every tenant, so ``promote`` asks in the platform scope
(``--tenant '*'``); approving such a request needs ``--tenant '*'`` too. ``aesp.cli`` wires these
commands in with :func:`add_governance_commands`; ``python -m aesp.cli_governance`` runs them
alone.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from aesp.core.errors import AespError

__all__ = ["add_governance_commands", "main"]

HOUR_MS = 3_600_000


def _cli() -> ModuleType:
    """``aesp.cli``, whose credential and printing helpers these commands share. Imported when
    used, because ``aesp.cli`` imports this module to wire the commands in."""
    import aesp.cli

    return aesp.cli


def _when(ms: int) -> str:
    return str(_cli()._when(ms))


def _csv(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def _contract(args: argparse.Namespace) -> dict[str, Any]:
    """The promoted contract (DRAFT) of ``args.source``."""
    from aesp.core.governance.promotion import (
        Promotion,
        declaration_from_callable,
        declaration_from_file,
        promote,
    )

    path = Path(args.source)
    streaming = False
    if args.source.endswith(".json") or path.is_file():
        if not path.is_file():
            raise SystemExit(f"aesp: {args.source} does not exist.")
        declaration = declaration_from_file(path.read_bytes(), args.function)
    else:
        module_name, _, attribute = args.source.rpartition(":")
        if not module_name or not attribute:
            raise SystemExit("aesp: name the tool as MODULE:FUNCTION or give a FILE.json.")
        target: Any = _cli().load_tool_module(module_name)
        for part in attribute.split("."):
            target = getattr(target, part, None)
        declaration, streaming = declaration_from_callable(target, args.source)
    promotion = Promotion(
        contract_version=args.contract_version,
        security_classification=args.classification,
        risk_assessment=args.risk,
        compliance_tags=_csv(args.compliance_tags),
        required_roles=_csv(args.roles),
        required_permissions=_csv(args.permissions),
        supports_streaming=streaming,
    )
    return promote(declaration, promotion)


_REQUEST_FIELDS = (
    "approval_request_id", "tenant_id", "artifact_type", "artifact_id", "artifact_digest",
    "status", "requester_id", "min_approvals", "justification", "created_at", "expires_at",
    "completed_at", "workflow_id",
)  # fmt: skip
_DECISION_FIELDS = ("approver_id", "decision", "comments", "decided_at")


def _fields(message: Any, names: Sequence[str]) -> dict[str, Any]:
    return {name: getattr(message, name) for name in names}


def _request_json(item: Any) -> dict[str, Any]:
    out = _fields(item, _REQUEST_FIELDS)
    out["required_approvers"] = list(item.required_approvers)
    out["pending_approvers"] = list(item.pending_approvers)
    out["decisions"] = [
        {**_fields(d, _DECISION_FIELDS), "conditions": dict(sorted(d.conditions.items()))}
        for d in item.decisions
    ]
    return out


def _print_requests(items: list[dict[str, Any]]) -> None:
    """An aligned table, one request per row."""
    keys = ("approval_request_id", "artifact_type", "artifact_id", "status", "requester_id")
    header = ("ID", "TYPE", "ARTIFACT", "STATUS", "REQUESTER", "EXPIRES", "WAITING FOR")
    rows = [header] + [
        (*(r[k] for k in keys), _when(r["expires_at"]), ", ".join(r["pending_approvers"]) or "-")
        for r in items
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header) - 1)]
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row[:-1], widths, strict=True)), row[-1])


def _print_request(r: dict[str, Any]) -> None:
    """The request's row, what it needs and every decision."""
    _print_requests([r])
    needed = r["min_approvals"] or "all"
    print(f"\n{r['artifact_digest']}; {needed} of: {', '.join(r['required_approvers'])}")
    for d in r["decisions"]:
        said = f"{d['decision']} by {d['approver_id']}: {d['comments']}"
        print(
            f"  {_when(d['decided_at'])} {said}"
            + (f" {d['conditions']}" if d["conditions"] else "")
        )


def _artifact(args: argparse.Namespace) -> dict[str, Any]:
    """What ``contracts <action>`` submits: a promoted contract or a lifecycle step."""
    if args.action == "promote":
        return _contract(args)
    from aesp.core.governance.lifecycle import LifecycleStep, Step

    step = Step.DEPRECATE if args.action == "deprecate" else Step.RETIRE
    return LifecycleStep(step, args.contract, args.contract_version, args.reason).to_json()


def _submit(args: argparse.Namespace, stub: Any, timeout: float) -> dict[str, Any]:
    """``contracts promote|deprecate|retire``: RequestApproval of the artifact (SPEC §3.9)."""
    from aesp.core.ids import now_ms
    from aesp.proto.altar.aesp.v1 import governance_pb2 as _gov

    expires = int(now_ms() + args.expires_in_hours * HOUR_MS) if args.expires_in_hours else 0
    details = _cli()._answer(
        stub.RequestApproval(
            _gov.RequestApprovalRequest(
                artifact_type="TOOL_CONTRACT_V1",
                artifact_data=json.dumps(_artifact(args)).encode(),
                tenant_id=args.tenant,
                justification=args.justification,
                required_approvers=_csv(args.approvers),
                min_approvals=args.min_approvals,
                expires_at=expires,
            ),
            timeout=timeout,
        )
    )
    names = ("approval_request_id", "status", "artifact_id", "artifact_digest", "expires_at")
    return {**_fields(details, names), "pending_approvers": list(details.pending_approvers)}


def _pending(args: argparse.Namespace, stub: Any, timeout: float) -> list[dict[str, Any]]:
    """``approvals list``: every pending request, following the pages."""
    from aesp.proto.altar.aesp.v1 import governance_pb2 as _gov

    items: list[dict[str, Any]] = []
    cursor, seen = "", {""}
    while True:
        request = _gov.ListPendingApprovalsRequest(
            approver_id=args.approver, artifact_type=args.type, tenant_id=args.tenant, cursor=cursor
        )
        page = _cli()._answer(stub.ListPendingApprovals(request, timeout=timeout))
        items.extend(_request_json(i) for i in page.items)
        cursor = page.next_cursor
        if cursor in seen:  # "" ends the listing; a repeated cursor would loop for ever
            return items
        seen.add(cursor)


def _rpc(args: argparse.Namespace, stub: Any, timeout: float) -> Any:
    """Run the command's RPC; the JSON-able result."""
    from aesp.proto.altar.aesp.v1 import governance_pb2 as _gov

    if args.command == "contracts":
        return _submit(args, stub, timeout)
    if args.action == "list":
        return _pending(args, stub, timeout)
    if args.action == "show":
        query = _gov.GetApprovalHistoryRequest(approval_request_id=args.id, tenant_id=args.tenant)
        return _request_json(
            _cli()._answer(stub.GetApprovalHistory(query, timeout=timeout)).items[0]
        )
    decision = _gov.AdjudicateApprovalRequest(
        approval_request_id=args.id,
        decision="APPROVE" if args.action == "approve" else "REJECT",
        comments=args.comment,
        conditions=dict(c.split("=", 1) for c in getattr(args, "condition", [])),
        tenant_id=args.tenant,
    )
    decided = _cli()._answer(stub.AdjudicateApproval(decision, timeout=timeout))
    return {
        "approval_request_id": args.id,
        **_fields(decided, ("final_status", "workflow_complete")),
        "remaining_approvers": list(decided.remaining_approvers),
    }


def _print(args: argparse.Namespace, result: Any) -> None:
    if args.json or (args.command == "contracts" and getattr(args, "dry_run", False)):
        print(json.dumps(result, indent=2))
    elif args.command == "contracts":
        print(
            f"approval request {result['approval_request_id']} opened for {result['artifact_id']} "
            f"({result['artifact_digest']}); waiting for {', '.join(result['pending_approvers'])}"
        )
    elif args.action == "list":
        _print_requests(result)
    elif args.action == "show":
        _print_request(result)
    else:
        done = " (workflow complete)" if result["workflow_complete"] else ""
        waiting = ", ".join(result["remaining_approvers"])
        print(
            f"{result['approval_request_id']}: {result['final_status']}{done}"
            + (f"; waiting for {waiting}" if waiting else "")
        )


def _governance(args: argparse.Namespace) -> int:
    """Run one governance command against the Host's client port."""
    import grpc

    from aesp.client._channel import RPC_TIMEOUT_S, credentials
    from aesp.proto.altar.aesp.v1 import governance_pb2_grpc as _gov_grpc

    try:
        if args.command == "contracts" and getattr(args, "dry_run", False):
            _print(args, _artifact(args))
            return 0
        creds = credentials(**_cli()._operator_credentials(args))
    except AespError as exc:
        print(f"aesp: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"aesp: unusable credentials: {exc}", file=sys.stderr)
        return 2
    with grpc.secure_channel(args.target, creds) as channel:
        stub = _gov_grpc.EnterpriseGovernanceServiceStub(channel)
        try:
            result = _rpc(args, stub, RPC_TIMEOUT_S)
        except AespError as exc:
            print(f"aesp: {exc}", file=sys.stderr)
            return 2
        except _cli()._Refused as exc:
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
    _print(args, result)
    return 0


def _common(parser: argparse.ArgumentParser, tenant: str) -> None:
    parser.add_argument("--tenant", default=tenant, help="tenant scope ('*': platform)")
    parser.add_argument("--json", action="store_true", help="print JSON for machines")
    parser.add_argument("--target", default="localhost:7443", help="the Host's client port")
    _cli()._pem_args(parser, "client", "demo")
    parser.add_argument(
        "--api-key", help=f"a service account's API key (safer: set {_cli().API_KEY_ENV})"
    )
    parser.set_defaults(func=_governance)


def _condition(value: str) -> str:
    if "=" not in value or value.startswith("="):
        raise argparse.ArgumentTypeError("a condition is KEY=VALUE")
    return value


_PROMOTE_OPTIONS = (
    ("--function", "which function of an ADM Tool file"),
    ("--roles", "required roles, comma-separated"),
    ("--permissions", "required permissions, comma-separated"),
    ("--compliance-tags", "e.g. GDPR,HIPAA"),
    ("--approvers", "principal ids or role:<name>, comma-separated"),
    ("--justification", "why, kept with the request"),
)  # text options of `contracts promote`, all defaulting to ""


def add_governance_commands(sub: Any) -> None:
    """Add ``contracts`` and ``approvals`` to the ``aesp`` subcommands (``sub`` is the result of
    ``ArgumentParser.add_subparsers``)."""
    contracts = sub.add_parser(
        "contracts", help="promote a tool to a governed contract, deprecate or retire one"
    )
    actions = contracts.add_subparsers(dest="action", required=True)
    promote = actions.add_parser("promote", help="promote MODULE:FUNC or FILE.json and submit it")
    promote.add_argument("source", help="a LATER @tool as MODULE:FUNCTION, or an ADM JSON file")
    for flag, text in _PROMOTE_OPTIONS:
        promote.add_argument(flag, default="", help=text)
    promote.add_argument("--classification", required=True, help="PUBLIC ... RESTRICTED")
    promote.add_argument("--risk", required=True, help="LOW, MEDIUM or HIGH")
    promote.add_argument("--contract-version", default="1.0.0", help="SemVer version")
    promote.add_argument("--min-approvals", type=int, default=0, help="m of n (0: all)")
    promote.add_argument("--expires-in-hours", type=float, default=0, help="0: the Host default")
    promote.add_argument("--dry-run", action="store_true", help="print the contract only")
    _common(promote, "*")
    for verb, text in (
        ("deprecate", "ask to deprecate an ACTIVE contract (it stops being callable)"),
        ("retire", "ask to retire a DEPRECATED contract (terminal)"),
    ):
        step = actions.add_parser(verb, help=text)
        step.add_argument("contract", help="the contract's name")
        step.add_argument("--contract-version", required=True, help="the version the Host holds")
        step.add_argument("--reason", default="", help="why, shown to approvers and callers")
        step.add_argument("--approvers", default="", help="principal ids or role:<name>")
        step.add_argument("--justification", default="", help="kept with the request")
        step.add_argument("--min-approvals", type=int, default=0, help="m of n (0: all)")
        step.add_argument("--expires-in-hours", type=float, default=0, help="0: the Host default")
        step.add_argument("--dry-run", action="store_true", help="print the request only")
        _common(step, "*")
    approvals = sub.add_parser("approvals", help="list, show, approve or reject approval requests")
    verbs = approvals.add_subparsers(dest="action", required=True)
    listing = verbs.add_parser("list", help="pending requests")
    listing.add_argument("--approver", default="", help="only those this principal can decide")
    listing.add_argument("--type", default="", help="only this artifact type")
    _common(listing, "")
    for verb, text in (
        ("show", "one request with its decisions"),
        ("approve", "approve a request"),
        ("reject", "reject a request"),
    ):
        parser = verbs.add_parser(verb, help=text)
        parser.add_argument("id", help="approval request id")
        if verb != "show":
            parser.add_argument("--comment", default="", help="kept with the decision")
        if verb == "approve":
            parser.add_argument(
                "--condition", action="append", default=[], type=_condition, help="KEY=VALUE"
            )
        _common(parser, "")


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``contracts`` or ``approvals`` commands alone (``python -m aesp.cli_governance``)."""
    parser = argparse.ArgumentParser(prog="aesp", description="AESP governance commands.")
    sub = parser.add_subparsers(dest="command", required=True)
    add_governance_commands(sub)
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    func: Callable[[argparse.Namespace], int] = args.func
    return int(func(args))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
