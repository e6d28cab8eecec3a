"""``aesp policies list|show|create|validate|delete`` and ``aesp workflows create``: CEL policies
and the approval workflows that route changes, from a terminal.

Each command is one or a few ``EnterprisePolicyService`` (or, for workflows,
``EnterpriseGovernanceService``) calls over TLS, with the credentials ``aesp tenants`` takes (a
client certificate, or an API key with ``--ca``), printed as aligned text or, with ``--json``,
as JSON for machines. A policy change is governed: with ``[governance] policy_changes =
"approval"`` (the default) ``create`` and ``delete`` store nothing and print the approval
request another operator decides with ``aesp approvals approve``. A definition comes from
flags, from ``--file`` (a JSON object with the same fields), or both (flags win).
:func:`add_policy_commands` adds the commands to the ``aesp`` parser; :func:`main` runs them on
their own (``python -m aesp.cli_policies policies list``).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from aesp.cli import API_KEY_ENV, _answer, _operator_credentials, _pem_args, _Refused, _when
from aesp.cli_cost import _table

__all__ = ["add_policy_commands", "main"]

DEFAULT_VERSION = "1.0.0"
# The fields of a ``--file`` definition, each also a flag (``name`` is ``--policy-name``).
FILE_FIELDS = (
    "policy_id",
    "name",
    "description",
    "version",
    "condition",
    "effect",
    "applies_to",
    "actions",
    "parameters",
    "enabled",
)
PENDING = "PENDING_APPROVAL"  # how the Host's warnings announce a change waiting for approval


class _Unusable(Exception):
    """The command line (or ``--file``) cannot make a request; printed, exit status 2."""


# ---------------------------------------------------------------- definitions


def _pair(text: str) -> tuple[str, str]:
    """``KEY=VALUE`` of ``--param`` as a pair (argparse turns the error into a usage line)."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"{text!r} is not KEY=VALUE, such as approvers=role:cfo")
    return key.strip(), value


def _from_file(path: Path | None) -> dict[str, Any]:
    """The definition ``--file`` holds ({} without one)."""
    if path is None:
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise _Unusable(
            f"cannot read --file {path}: {exc.strerror}; give a readable file"
        ) from None
    except json.JSONDecodeError as exc:
        raise _Unusable(f"--file {path} is not JSON ({exc}); fix it or use flags") from None
    if not isinstance(data, dict):
        raise _Unusable(f"--file {path} must hold a JSON object with {', '.join(FILE_FIELDS)}")
    unknown = sorted(set(data) - set(FILE_FIELDS))
    if unknown:
        raise _Unusable(
            f"--file {path} has unknown fields {', '.join(unknown)}; "
            f"use only {', '.join(FILE_FIELDS)}"
        )
    return data


def _from_flags(args: argparse.Namespace) -> dict[str, Any]:
    """The definition fields given as flags (those left out are not in the result)."""
    given = {
        "policy_id": args.policy_id,
        "name": args.policy_name,
        "description": args.description,
        "version": args.policy_version,
        "condition": args.condition,
        "effect": args.effect,
        "applies_to": args.applies_to,
        "actions": args.action,
        "parameters": dict(args.param) if args.param else None,
        "enabled": args.enabled,
    }
    return {k: v for k, v in given.items() if v is not None}


def _listed(value: Any) -> list[str]:
    """A list field of ``--file`` given as one string (``"applies_to": "*"``) as a list."""
    return [value] if isinstance(value, str) else [str(v) for v in value]


def _target(entry: str) -> str:
    """An ``applies_to`` entry as the Host stores it: ``*`` or ``tool:NAME``."""
    return entry if entry == "*" or entry.startswith("tool:") else f"tool:{entry}"


def _require(fields: dict[str, Any]) -> None:
    """Refuse a definition the Host would refuse anyway, naming the flag that is missing."""
    from aesp.core.policy.model import Effect

    for key, flag in (
        ("policy_id", "POLICY_ID"),
        ("condition", "--condition CEL"),
        ("applies_to", "--applies-to TOOL ('*': every tool)"),
    ):
        if not fields.get(key):
            raise _Unusable(f"no {key} given; add {flag} or a --file that holds it")
    if not isinstance(fields.get("parameters", {}), dict):
        raise _Unusable('parameters must be a JSON object such as {"approvers": "role:cfo"}')
    effects = [e.value for e in Effect]
    if str(fields.get("effect", "")).upper() not in effects:
        raise _Unusable(
            f"effect {fields.get('effect', '')!r} is not one of {', '.join(effects)}; "
            "give --effect with one of them"
        )


def _definition(args: argparse.Namespace) -> Any:
    """The ``PolicyDefinition`` of ``--file`` overridden by the flags given."""
    from aesp.proto.altar.aesp.v1 import policy_pb2 as _policy_pb2

    fields = {**_from_file(args.file), **_from_flags(args)}
    _require(fields)
    rule = _policy_pb2.PolicyRule(
        condition=fields["condition"],
        effect=str(fields["effect"]).upper(),
        actions=_listed(fields.get("actions", [])),
        parameters={str(k): str(v) for k, v in dict(fields.get("parameters", {})).items()},
    )
    return _policy_pb2.PolicyDefinition(
        policy_id=fields["policy_id"],
        name=fields.get("name", ""),
        description=fields.get("description", ""),
        version=fields.get("version", DEFAULT_VERSION),
        rule=rule,
        applies_to=[_target(t) for t in _listed(fields["applies_to"])],
        enabled=bool(fields.get("enabled", True)),
    )


# ---------------------------------------------------------------- answers as JSON


def _policy_json(details: Any) -> dict[str, Any]:
    p = details.policy
    return {
        "policy_id": p.policy_id,
        "name": p.name,
        "description": p.description,
        "version": p.version,
        "condition": p.rule.condition,
        "effect": p.rule.effect,
        "actions": list(p.rule.actions),
        "parameters": dict(sorted(p.rule.parameters.items())),
        "applies_to": list(p.applies_to),
        "enabled": p.enabled,
        "created_at": p.created_at,
        "updated_at": p.updated_at,
        "created_by": p.created_by,
        "tenant_id": details.tenant_id,
        "approval_request_id": details.approval_request_id,
        "dry_run": details.dry_run,
        "warnings": list(details.warnings),
    }


def _all_policies(args: argparse.Namespace, stub: Any, timeout: float) -> list[dict[str, Any]]:
    from aesp.proto.altar.aesp.v1 import policy_pb2 as _policy_pb2

    policies: list[dict[str, Any]] = []
    cursor, seen = "", {""}
    while True:
        request = _policy_pb2.ListPoliciesRequest(
            tenant_id=args.tenant,
            resource=_target(args.tool) if args.tool else "",
            include_disabled=args.include_disabled,
            cursor=cursor,
        )
        page = _answer(stub.ListPolicies(request, timeout=timeout))
        policies.extend(_policy_json(d) for d in page.items)
        cursor = page.next_cursor
        if cursor in seen:  # "" ends the listing; a repeated cursor would loop for ever
            return policies
        seen.add(cursor)


def _get(args: argparse.Namespace, stub: Any, timeout: float) -> dict[str, Any]:
    from aesp.proto.altar.aesp.v1 import policy_pb2 as _policy_pb2

    request = _policy_pb2.GetPolicyRequest(
        policy_id=args.policy_id, tenant_id=args.tenant, version=args.policy_version or ""
    )
    return _policy_json(_answer(stub.GetPolicy(request, timeout=timeout)))


def _create(args: argparse.Namespace, stub: Any, timeout: float) -> dict[str, Any]:
    from aesp.proto.altar.aesp.v1 import policy_pb2 as _policy_pb2

    request = _policy_pb2.CreatePolicyRequest(
        policy=_definition(args), tenant_id=args.tenant, dry_run=args.dry_run
    )
    return _policy_json(_answer(stub.CreatePolicy(request, timeout=timeout)))


def _validate(args: argparse.Namespace, stub: Any, timeout: float) -> dict[str, Any]:
    from aesp.proto.altar.aesp.v1 import policy_pb2 as _policy_pb2

    request = _policy_pb2.ValidatePolicyRequest(policy=_definition(args), tenant_id=args.tenant)
    answer = _answer(stub.ValidatePolicy(request, timeout=timeout))
    return {"valid": answer.valid, "errors": list(answer.errors), "warnings": list(answer.warnings)}


def _delete(args: argparse.Namespace, stub: Any, timeout: float) -> dict[str, Any]:
    from aesp.proto.altar.aesp.v1 import policy_pb2 as _policy_pb2

    request = _policy_pb2.DeletePolicyRequest(
        policy_id=args.policy_id, tenant_id=args.tenant, justification=args.reason
    )
    gone = _answer(stub.DeletePolicy(request, timeout=timeout))
    return {
        "policy_id": gone.policy_id,
        "tenant_id": args.tenant,
        "deleted_at": gone.deleted_at,
        "approval_request_id": gone.approval_request_id,
    }


def _artifact_type(text: str) -> str:
    """``--artifact-type`` checked against the Host's artifact types (imported when used: the
    governance port is slow to import for every ``aesp`` start)."""
    from aesp.core.ports.governance import ArtifactType

    names = [t.value for t in ArtifactType]
    if text.upper() not in names:
        raise _Unusable(f"--artifact-type {text!r} is not one of {', '.join(names)}; give one")
    return text.upper()


def _create_workflow(args: argparse.Namespace, stub: Any, timeout: float) -> dict[str, Any]:
    from aesp.proto.altar.aesp.v1 import governance_pb2 as _gov_pb2

    workflow = _gov_pb2.ApprovalWorkflow(
        artifact_type=_artifact_type(args.artifact_type),
        required_approvers=args.approver,
        min_approvals=args.min_approvals,
        name=args.workflow_name or "",
    )
    request = _gov_pb2.CreateApprovalWorkflowRequest(
        workflow=workflow, tenant_id=args.tenant, justification=args.reason
    )
    w = _answer(stub.CreateApprovalWorkflow(request, timeout=timeout))
    return {
        "workflow_id": w.workflow_id,
        "name": w.name,
        "tenant_id": w.tenant_id,
        "artifact_type": w.artifact_type,
        "required_approvers": list(w.required_approvers),
        "min_approvals": w.min_approvals,
        "version": w.version,
    }


# ---------------------------------------------------------------- printing


def _print_policies(policies: list[dict[str, Any]]) -> None:
    header = ("POLICY", "VERSION", "EFFECT", "APPLIES TO", "ENABLED", "CONDITION")
    rows = [
        (
            p["policy_id"],
            p["version"],
            p["effect"],
            ",".join(p["applies_to"]),
            "yes" if p["enabled"] else "no",
            p["condition"],
        )
        for p in policies
    ]
    _table(header, rows)


def _approve_hint(rid: str, tenant: str) -> str:
    scope = f" --tenant {tenant}" if tenant else ""
    return f"another administrator must approve it: `aesp approvals approve {rid}{scope}`"


def _state(p: dict[str, Any]) -> str:
    if p["approval_request_id"]:  # [governance] policy_changes = "approval": nothing stored yet
        rid = p["approval_request_id"]
        return f"{PENDING} {rid} (not in force; {_approve_hint(rid, p['tenant_id'])})"
    if p["dry_run"]:
        return "dry run: valid, nothing stored"
    return "in force" if p["enabled"] else "stored, disabled (not evaluated)"


def _print_policy(p: dict[str, Any]) -> None:
    params = ", ".join(f"{k}={v}" for k, v in p["parameters"].items())
    created = f"{_when(p['created_at'])} by {p['created_by']}" if p["created_by"] else "-"
    for label, value in (
        ("policy", f"{p['policy_id']}@{p['version']}" + (f" ({p['name']})" if p["name"] else "")),
        ("tenant", p["tenant_id"] or "-"),
        ("effect", p["effect"]),
        ("applies", ", ".join(p["applies_to"])),
        ("actions", ", ".join(p["actions"]) or "-"),
        ("condition", p["condition"]),
        ("params", params or "-"),
        ("created", created),
        ("state", _state(p)),
    ):
        print(f"{label + ':':<11}{value}")
    for warning in p["warnings"]:
        if not warning.startswith(PENDING):  # the state line says it, with what to do
            print(f"{'warning:':<11}{warning}")


def _print_validation(result: dict[str, Any]) -> None:
    print("VALID" if result["valid"] else "INVALID")
    for kind in ("errors", "warnings"):
        for text in result[kind]:
            print(f"{kind[:-1]}: {text}")


def _print_deletion(d: dict[str, Any]) -> None:
    rid = d["approval_request_id"]
    if rid:
        hint = _approve_hint(rid, d["tenant_id"])
        print(f"policy {d['policy_id']}: {PENDING} {rid}; not deleted until {hint}")
    else:
        print(f"policy {d['policy_id']}: deleted at {_when(d['deleted_at'])}")


def _print_workflow(w: dict[str, Any]) -> None:
    print(
        f"workflow {w['workflow_id']}: {w['artifact_type']} of tenant {w['tenant_id'] or '*'}, "
        f"{w['min_approvals'] or 'all'} of {', '.join(w['required_approvers'])}"
    )


# ---------------------------------------------------------------- running


def _failure(exc: Exception, target: str) -> str:
    """One line saying why a command failed: the Host's refusal or why it did not answer."""
    import grpc

    if isinstance(exc, _Refused):
        return f"{exc} (correlation id {exc.correlation_id})"
    code = exc.code().name if isinstance(exc, grpc.Call) else "UNKNOWN"
    details = exc.details() if isinstance(exc, grpc.Call) else str(exc)
    return f"the Host at {target} did not answer: {code}: {details}"


def _run(args: argparse.Namespace) -> int:
    """Run one command: exit status 2 for an unusable command line, 1 for the Host's refusal
    (printed with its code), for no answer, or for a policy that does not validate."""
    import grpc

    from aesp.client._channel import RPC_TIMEOUT_S, credentials

    try:
        creds = credentials(**_operator_credentials(args))
    except ValueError as exc:
        print(f"aesp: unusable credentials: {exc}", file=sys.stderr)
        return 2
    try:
        with grpc.secure_channel(args.target, creds) as channel:
            result: Any = args.fetch(args, args.stub(channel), RPC_TIMEOUT_S)
    except _Unusable as exc:
        print(f"aesp: {exc}.", file=sys.stderr)
        return 2
    except (_Refused, grpc.RpcError) as exc:
        print(f"aesp: {_failure(exc, args.target)}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        args.show(result)
    return 0 if _result_ok(result) else 1


def _result_ok(result: Any) -> bool:
    """False only for a validation that found errors (``aesp policies validate`` exits 1)."""
    return not (isinstance(result, dict) and result.get("valid") is False)


def _policy_stub(channel: Any) -> Any:
    from aesp.proto.altar.aesp.v1 import policy_pb2_grpc as _policy_pb2_grpc

    return _policy_pb2_grpc.EnterprisePolicyServiceStub(channel)


def _governance_stub(channel: Any) -> Any:
    from aesp.proto.altar.aesp.v1 import governance_pb2_grpc as _gov_pb2_grpc

    return _gov_pb2_grpc.EnterpriseGovernanceServiceStub(channel)


def _common(
    parser: argparse.ArgumentParser,
    fetch: Callable[..., Any],
    show: Callable[[Any], None],
    stub: Callable[[Any], Any] = _policy_stub,
) -> None:
    parser.add_argument("--tenant", default="", help="tenant (default: your own; '*' = platform)")
    parser.add_argument("--json", action="store_true", help="print JSON for machines")
    parser.add_argument("--target", default="localhost:7443", help="the Host's client port")
    _pem_args(parser, "client", "demo")
    parser.add_argument("--api-key", help=f"a service account's API key (safer: set {API_KEY_ENV})")
    parser.set_defaults(func=_run, fetch=fetch, show=show, stub=stub)


def _definition_args(parser: argparse.ArgumentParser) -> None:
    """The flags of a policy definition (``create`` and ``validate``)."""
    parser.add_argument("policy_id", nargs="?", help="the policy's id (or policy_id in --file)")
    parser.add_argument("--file", type=Path, help="a JSON object with the definition's fields")
    parser.add_argument("--condition", help="CEL over request.args etc.; true = the rule applies")
    parser.add_argument("--effect", help="DENY, ALLOW, AUDIT or REQUIRE_APPROVAL")
    parser.add_argument(
        "--applies-to", dest="applies_to", action="append", help="a tool name ('*': every tool)"
    )
    parser.add_argument("--policy-name", dest="policy_name", help="a readable name")
    parser.add_argument("--description", help="what the policy is for")
    parser.add_argument(
        "--policy-version", dest="policy_version", help=f"SemVer (default {DEFAULT_VERSION})"
    )
    parser.add_argument("--action", action="append", help="only these actions (e.g. invoke)")
    parser.add_argument(
        "--param", action="append", type=_pair, help="KEY=VALUE of the rule's parameters"
    )
    parser.add_argument(
        "--disabled", dest="enabled", action="store_const", const=False, help="store, not enforce"
    )


def _add_policies(subparsers: Any) -> None:
    policies = subparsers.add_parser("policies", help="list, show, create or delete CEL policies")
    actions = policies.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="the tenant's policies")
    listing.add_argument("--include-disabled", action="store_true", help="disabled ones too")
    listing.add_argument("--tool", help="only policies that apply to this tool")
    _common(listing, _all_policies, _print_policies)
    show = actions.add_parser("show", help="one policy, its latest version by default")
    show.add_argument("policy_id", help="the policy's id")
    show.add_argument("--policy-version", dest="policy_version", help="this version")
    _common(show, _get, _print_policy)
    create = actions.add_parser("create", help="create a policy (pending approval by default)")
    _definition_args(create)
    create.add_argument("--dry-run", action="store_true", help="validate only, store nothing")
    _common(create, _create, _print_policy)
    validate = actions.add_parser("validate", help="compile a policy on the Host, store nothing")
    _definition_args(validate)
    _common(validate, _validate, _print_validation)
    delete = actions.add_parser("delete", help="delete a policy (pending approval by default)")
    delete.add_argument("policy_id", help="the policy's id")
    delete.add_argument("--reason", required=True, help="justification, kept in the audit log")
    _common(delete, _delete, _print_deletion)


def _add_workflows(subparsers: Any) -> None:
    workflows = subparsers.add_parser("workflows", help="define who approves changes")
    actions = workflows.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="route one artifact type to named approvers")
    create.add_argument(
        "--artifact-type",
        required=True,
        help="POLICY_V1, BUDGET_V1, TOOL_CONTRACT_V1, ROLE_DEFINITION_V1 or CONFIGURATION_KEY_V1",
    )
    create.add_argument(
        "--approver", action="append", required=True, help="a principal id or role:<name>"
    )
    create.add_argument("--min-approvals", type=int, default=0, help="m of n (0: all)")
    create.add_argument("--workflow-name", dest="workflow_name", help="a readable name")
    create.add_argument("--reason", default="", help="justification, kept in the audit log")
    _common(create, _create_workflow, _print_workflow, _governance_stub)


def add_policy_commands(subparsers: Any) -> None:
    """Add ``policies`` and ``workflows`` to the ``aesp`` command's subparsers."""
    _add_policies(subparsers)
    _add_workflows(subparsers)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``policies ...`` or ``workflows ...`` on their own (``python -m aesp.cli_policies``)."""
    parser = argparse.ArgumentParser(prog="aesp", description="AESP policies and workflows.")
    add_policy_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    return int(args.func(args))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
