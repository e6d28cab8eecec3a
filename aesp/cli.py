"""The ``aesp`` command: serve a Host, run a Runtime, call a tool, make certificates, see a demo.

Each subcommand is a thin wrapper over the library; errors are printed as one sentence (with
the error code) and a non-zero exit status, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import importlib.util
import json
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

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


def _serve(args: argparse.Namespace) -> int:
    from aesp.core.config import load_config
    from aesp.server.app import start_host

    async def main() -> None:
        config = load_config(args.config)
        running = await start_host(config)
        print(
            f"aesp host ready: clients on {config.client_listen.rsplit(':', 1)[0]}:{running.client_port}, "
            f"runtimes on {config.runtime_listen.rsplit(':', 1)[0]}:{running.runtime_port} "
            f"({config.mode}, {len(running.host.manifest.current.active_names())} active contracts)",
            flush=True,
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
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
    return importlib.import_module(spec)


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

    ca, cert, key = _pems(args, "client")
    try:
        call_args = json.loads(args.args)
    except json.JSONDecodeError as exc:
        print(f"aesp: --args is not JSON: {exc}", file=sys.stderr)
        return 2
    with Client(args.target, ca=ca, cert=cert, key=key) as client:
        try:
            session = client.create_session(ttl_seconds=300)
            try:
                if args.stream:
                    for chunk in client.stream(session.session_id, args.tool, call_args):
                        print(json.dumps(chunk))
                else:
                    result = client.call(session.session_id, args.tool, call_args)
                    print(json.dumps(result.to_json(), indent=2))
                    if result.status != "SUCCESS":
                        return 1
            finally:
                client.destroy_session(session.session_id, force=True)
        except AespClientError as exc:
            print(f"aesp: refused: {exc}", file=sys.stderr)
            return 1
    return 0


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
    call.add_argument("--target", default="localhost:7443", help="the Host's client port")
    _pem_args(call, "client", "demo")
    call.set_defaults(func=_call)

    sub.add_parser(
        "certs", help="development certificates (see `aesp certs --help`)", add_help=False
    )

    demo = sub.add_parser("demo", help="a Host, a Runtime and a client, explained step by step")
    demo.add_argument("--keep", action="store_true", help="keep the demo's files")
    demo.set_defaults(func=_demo)
    return parser


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
