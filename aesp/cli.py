"""The ``aesp`` command: serve a Host, run a Runtime, call a tool, administer tenants, make
certificates, see a demo.

Each subcommand is a thin wrapper over the library; errors are printed as one sentence (with
the error code) and a non-zero exit status, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import importlib
import importlib.util
import json
import logging
import os
import signal
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aesp.core.errors import AespError

_LOG = logging.getLogger("aesp")


def _pem_args(parser: argparse.ArgumentParser, kind: str, default_name: str) -> None:
    group = parser.add_argument_group("credentials (either --pki or the three files)")
    group.add_argument("--pki", type=Path, help="folder made by `aesp certs init`")
    group.add_argument("--name", default=default_name, help=f"{kind} name in the PKI folder")
    group.add_argument("--ca", type=Path, help="CA certificate (PEM)")
    group.add_argument("--cert", type=Path, help=f"{kind} certificate (PEM)")
    group.add_argument("--key", type=Path, help=f"{kind} private key (PEM)")


def _pems(args: argparse.Namespace, kind: str) -> tuple[bytes, bytes, bytes]:
    if args.pki is not None:
        ca = args.pki / "ca.pem"
        cert = args.pki / f"{kind}-{args.name}.pem"
        key = args.pki / f"{kind}-{args.name}.key"
    elif args.ca and args.cert and args.key:
        ca, cert, key = args.ca, args.cert, args.key
    else:
        raise SystemExit(
            f"aesp: give --pki DIR (and --name) or all of --ca, --cert and --key for the {kind}."
        )
    for path in (ca, cert, key):
        if not path.is_file():
            raise SystemExit(
                f"aesp: {path} does not exist; create certificates with `aesp certs init`."
            )
    return ca.read_bytes(), cert.read_bytes(), key.read_bytes()


# ---------------------------------------------------------------- serve


def _freeze_start_up() -> None:
    gc.collect()
    gc.freeze()


def _serve(args: argparse.Namespace) -> int:
    from aesp.core.config import load_config
    from aesp.server.app import start_host

    async def main() -> None:
        config = load_config(args.config)
        if (args.log_format or config.observability.log_format) == "json":
            from aesp.observability.logs import use_json_logs

            use_json_logs()
        running = await start_host(config)
        # Handlers first, then the ready line: whoever waits for that line may stop us at once.
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        print(
            f"aesp host ready: clients on {config.client_listen.rsplit(':', 1)[0]}:{running.client_port}, "
            f"runtimes on {config.runtime_listen.rsplit(':', 1)[0]}:{running.runtime_port} "
            f"({config.mode}, {len(running.host.manifest.current.active_names())} active contracts)",
            flush=True,
        )
        # What start-up built lives as long as the process: take it out of the collector's
        # full passes, which would otherwise walk all of it in the middle of calls. Once the
        # loop is free, after the ready line (a collection takes some 30 ms).
        loop.call_soon(_freeze_start_up)
        await stop.wait()
        print("aesp host stopping: letting in-flight calls finish", flush=True)
        await running.stop()

    try:
        asyncio.run(main())
    except AespError as exc:
        print(f"aesp: cannot start the Host: {exc}", file=sys.stderr)
        for step in exc.remediation_steps:
            print(f"  - {step}", file=sys.stderr)
        return 2
    return 0


# ---------------------------------------------------------------- runtime


def load_tool_module(spec: str) -> object:
    """Import a tool module given as a dotted name or a path to a ``.py`` file."""
    path = Path(spec)
    if spec.endswith(".py") or path.is_file():
        if not path.is_file():
            raise SystemExit(f"aesp: {spec} does not exist.")
        name = f"aesp_tools_{path.stem}"
        module_spec = importlib.util.spec_from_file_location(name, path)
        if module_spec is None or module_spec.loader is None:
            raise SystemExit(f"aesp: cannot import {spec}.")
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[name] = module
        module_spec.loader.exec_module(module)
        return module
    if "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # a dotted name of the current folder, as `python -m` does
    try:
        return importlib.import_module(spec)
    except ModuleNotFoundError as exc:
        raise SystemExit(
            f"aesp: cannot import {spec!r} ({exc}); give a dotted module name importable from "
            "this folder, or a path to a .py file."
        ) from None


def _runtime(args: argparse.Namespace) -> int:
    from aesp.later import default_registry
    from aesp.runtime import Runtime

    load_tool_module(args.module)
    registry = default_registry()
    if not len(registry):
        print(f"aesp: {args.module} defines no @tool functions.", file=sys.stderr)
        return 2
    ca, cert, key = _pems(args, "runtime")
    runtime = Runtime(
        target=args.target,
        ca=ca,
        cert=cert,
        key=key,
        registry=registry,
        runtime_id=args.runtime_id,
        sessions=args.session or (),
    )
    print(
        f"aesp runtime {runtime.runtime_id}: serving {', '.join(registry.names())} to {args.target}",
        flush=True,
    )

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await runtime.start()
        ready = asyncio.create_task(runtime.connected.wait())
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait({ready, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if ready.done():
            print(
                f"aesp runtime {runtime.runtime_id}: connected; the Host accepted "
                f"{', '.join(runtime.fulfilled) or 'no tools'}",
                flush=True,
            )
        await stopping
        ready.cancel()
        await runtime.stop()

    asyncio.run(main())
    return 0


# ---------------------------------------------------------------- call


def _call(args: argparse.Namespace) -> int:
    from aesp.client import AespClientError, Client
    from aesp.client.errors import ApprovalRequired

    ca, cert, key = _pems(args, "client")
    try:
        call_args = json.loads(args.args)
    except json.JSONDecodeError as exc:
        print(f"aesp: --args is not JSON: {exc}", file=sys.stderr)
        return 2
    if args.approval and args.stream:
        print(
            "aesp: --approval is for unary calls; it cannot be used with --stream", file=sys.stderr
        )
        return 2
    with Client(args.target, ca=ca, cert=cert, key=key) as client:
        try:
            session = client.create_session(ttl_seconds=300)
            try:
                if args.stream:
                    for chunk in client.stream(session.session_id, args.tool, call_args):
                        print(json.dumps(chunk))
                else:
                    result = client.call(
                        session.session_id,
                        args.tool,
                        call_args,
                        approval_request_id=args.approval or "",
                    )
                    print(json.dumps(result.to_json(), indent=2))
                    if result.status != "SUCCESS":
                        return 1
            finally:
                client.destroy_session(session.session_id, force=True)
        except ApprovalRequired as exc:
            print(f"aesp: held: {exc}", file=sys.stderr)
            print(
                f"aesp: once approved, repeat with --approval {exc.approval_request_id}",
                file=sys.stderr,
            )
            return 3
        except AespClientError as exc:
            print(f"aesp: refused: {exc}", file=sys.stderr)
            return 1
    return 0


# ---------------------------------------------------------------- tenants

API_KEY_ENV = "AESP_API_KEY"  # preferred over --api-key: arguments are visible to other users


def _operator_credentials(args: argparse.Namespace) -> dict[str, Any]:
    """``ca`` and either ``cert``/``key`` or ``api_key`` for the tenant commands.

    A client certificate (``--pki``/``--name`` or ``--cert``/``--key``) wins over
    ``AESP_API_KEY``; ``--api-key`` together with a certificate is refused, because the gateway
    refuses a call carrying two credentials (decision 35).
    """
    certificate = args.pki is not None or args.cert is not None or args.key is not None
    if args.api_key is not None and certificate:
        raise SystemExit("aesp: give a client certificate or an API key, not both.")
    api_key = args.api_key if args.api_key is not None else os.environ.get(API_KEY_ENV)
    if certificate or not api_key:
        if not certificate:
            raise SystemExit(
                "aesp: give --pki DIR (and --name), --ca with --cert and --key, or --ca with "
                f"--api-key (or {API_KEY_ENV})."
            )
        ca, cert, key = _pems(args, "client")
        return {"ca": ca, "cert": cert, "key": key}
    if args.ca is None or not args.ca.is_file():
        raise SystemExit("aesp: an API key needs --ca, the CA certificate of the Host (PEM).")
    return {"ca": args.ca.read_bytes(), "api_key": api_key}


class _Refused(Exception):
    """The Host answered with an ``EnterpriseError`` (printed, exit status 1)."""

    def __init__(self, code: str, message: str, correlation_id: str) -> None:
        super().__init__(f"{code}: {message}")
        self.correlation_id = correlation_id


def _answer(response: Any) -> Any:
    """The ``success_details`` of a C-39 response, or :class:`_Refused` for its error."""
    if response.WhichOneof("response_type") != "success_details":
        error = response.error
        raise _Refused(error.code or "INTERNAL_ERROR", error.message, error.correlation_id)
    return response.success_details


def _tenant_json(tenant: Any) -> dict[str, Any]:
    return {
        "tenant_id": tenant.tenant_id,
        "display_name": tenant.display_name,
        "status": tenant.status,
        "created_at": tenant.created_at,
        "updated_at": tenant.updated_at,
        "metadata": dict(sorted(tenant.metadata.items())),
    }


def _when(ms: int) -> str:
    if not ms:
        return "-"
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _facts(tenant: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in tenant["metadata"].items()) or "-"


def _print_tenants(tenants: list[dict[str, Any]]) -> None:
    """An aligned table, one tenant per row."""
    header = ("TENANT", "STATUS", "CREATED", "UPDATED", "METADATA")
    rows = [header] + [
        (t["tenant_id"], t["status"], _when(t["created_at"]), _when(t["updated_at"]), _facts(t))
        for t in tenants
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header) - 1)]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row[:-1], widths, strict=True)), row[-1])


def _print_tenant(tenant: dict[str, Any]) -> None:
    for label, value in (
        ("tenant", tenant["tenant_id"]),
        ("name", tenant["display_name"] or "-"),
        ("status", tenant["status"]),
        ("created", _when(tenant["created_at"])),
        ("updated", _when(tenant["updated_at"])),
        ("metadata", _facts(tenant)),
    ):
        print(f"{label + ':':<10} {value}")


def _list_all(stub: Any, timeout: float) -> list[dict[str, Any]]:
    """Every tenant (``tenant_id="*"``), following the pages."""
    from aesp.proto.altar.aesp.v1 import tenancy_pb2 as _tenancy_pb2

    tenants: list[dict[str, Any]] = []
    cursor, seen = "", {""}
    while True:
        request = _tenancy_pb2.ListTenantsRequest(tenant_id="*", cursor=cursor)
        page = _answer(stub.ListTenants(request, timeout=timeout))
        tenants.extend(_tenant_json(t) for t in page.items)
        cursor = page.next_cursor
        if cursor in seen:  # "" ends the listing; a repeated cursor would loop for ever
            return tenants
        seen.add(cursor)


def _tenant_action(args: argparse.Namespace, stub: Any, timeout: float) -> dict[str, Any]:
    """Run ``show``, ``suspend`` or ``resume``; the tenant as the Host now has it."""
    from aesp.proto.altar.aesp.v1 import tenancy_pb2 as _tenancy_pb2

    calls: dict[str, Callable[[], Any]] = {
        "show": lambda: stub.GetTenant(
            _tenancy_pb2.GetTenantRequest(tenant_id=args.tenant or ""), timeout=timeout
        ),
        "suspend": lambda: stub.SuspendTenant(
            _tenancy_pb2.SuspendTenantRequest(tenant_id=args.tenant, justification=args.reason),
            timeout=timeout,
        ),
        "resume": lambda: stub.ResumeTenant(
            _tenancy_pb2.ResumeTenantRequest(tenant_id=args.tenant, justification=args.reason),
            timeout=timeout,
        ),
    }
    return _tenant_json(_answer(calls[args.action]()))


def _tenants(args: argparse.Namespace) -> int:
    """``aesp tenants list|show|suspend|resume``: EnterpriseTenantService over TLS."""
    import grpc

    from aesp.client._channel import RPC_TIMEOUT_S, credentials
    from aesp.proto.altar.aesp.v1 import tenancy_pb2_grpc as _tenancy_pb2_grpc

    try:
        creds = credentials(**_operator_credentials(args))
    except ValueError as exc:
        print(f"aesp: unusable credentials: {exc}", file=sys.stderr)
        return 2
    with grpc.secure_channel(args.target, creds) as channel:
        stub = _tenancy_pb2_grpc.EnterpriseTenantServiceStub(channel)
        try:
            if args.action == "list":
                result: Any = _list_all(stub, RPC_TIMEOUT_S)
            else:
                result = _tenant_action(args, stub, RPC_TIMEOUT_S)
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
    elif args.action == "list":
        _print_tenants(result)
    else:
        _print_tenant(result)
    return 0


def _tenant_parser(sub: Any) -> None:
    tenants = sub.add_parser("tenants", help="list, show, suspend or resume tenants")
    actions = tenants.add_subparsers(dest="action", required=True)
    helps = {
        "list": "every tenant (needs the platform permission)",
        "show": "one tenant (default: your own)",
        "suspend": "refuse the tenant's new sessions and calls (platform operators)",
        "resume": "admit the tenant's sessions and calls again (platform operators)",
    }
    for action, text in helps.items():
        parser = actions.add_parser(action, help=text)
        if action == "show":
            parser.add_argument("tenant", nargs="?", default="", help="tenant id")
        elif action != "list":
            parser.add_argument("tenant", help="tenant id")
            parser.add_argument("--reason", default="", help="justification, kept in the audit log")
        parser.add_argument("--json", action="store_true", help="print JSON for machines")
        parser.add_argument("--target", default="localhost:7443", help="the Host's client port")
        _pem_args(parser, "client", "demo")
        parser.add_argument(
            "--api-key", help=f"a service account's API key (safer: set {API_KEY_ENV})"
        )
        parser.set_defaults(func=_tenants)


# ---------------------------------------------------------------- certs and demo


def _certs(argv: Sequence[str]) -> int:
    from aesp.certs import certs_main

    return certs_main(list(argv))


def _demo(args: argparse.Namespace) -> int:
    from aesp.demo import run_demo

    return run_demo(keep=args.keep)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aesp", description="AESP control plane for governed AI tool calls."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log more")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run a Host from a TOML configuration")
    serve.add_argument("--config", type=Path, default=Path("aesp.toml"))
    serve.add_argument(
        "--log-format",
        choices=("text", "json"),
        default=None,
        help="log lines as text or one JSON object each (default: [observability] log_format)",
    )
    serve.set_defaults(func=_serve)

    runtime = sub.add_parser("runtime", help="serve the @tool functions of MODULE as a Runtime")
    runtime.add_argument("module", help="dotted module name or path to a .py file")
    runtime.add_argument("--target", default="localhost:7444", help="the Host's runtime port")
    runtime.add_argument("--runtime-id", help="instance id (default: hostname-pid)")
    runtime.add_argument("--session", action="append", help="fulfil only these sessions")
    _pem_args(runtime, "runtime", "example")
    runtime.set_defaults(func=_runtime)

    call = sub.add_parser("call", help="call one tool through the Host")
    call.add_argument("tool")
    call.add_argument("--args", default="{}", help="JSON object of arguments")
    call.add_argument("--stream", action="store_true", help="use the streaming call")
    call.add_argument(
        "--approval",
        metavar="ID",
        help="repeat a held call with its APPROVED per-call approval request id (unary only)",
    )
    call.add_argument("--target", default="localhost:7443", help="the Host's client port")
    _pem_args(call, "client", "demo")
    call.set_defaults(func=_call)

    _tenant_parser(sub)

    sub.add_parser(
        "certs", help="development certificates (see `aesp certs --help`)", add_help=False
    )

    demo = sub.add_parser("demo", help="a Host, a Runtime and a client, explained step by step")
    demo.add_argument("--keep", action="store_true", help="keep the demo's files")
    demo.set_defaults(func=_demo)
    _add_manager_commands(sub)
    return parser


def _add_manager_commands(sub: Any) -> None:
    """The operator commands of the control-plane managers, each defined in its own module."""
    from aesp.cli_audit import add_audit_commands
    from aesp.cli_config import add_config_commands
    from aesp.cli_cost import add_cost_commands
    from aesp.cli_governance import add_governance_commands
    from aesp.cli_policies import add_policy_commands

    add_audit_commands(sub)
    add_governance_commands(sub)
    add_cost_commands(sub)
    add_policy_commands(sub)
    add_config_commands(sub)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``aesp`` command."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "certs":
        return _certs(argv[1:])
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    with contextlib.suppress(KeyboardInterrupt):
        return int(args.func(args))
    return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
