"""``aesp demo``: the product in under a minute, on this machine, with nothing faked.

It makes a development PKI, starts a Host and a Runtime as separate processes talking mutual
TLS 1.3, then acts as an AI agent: lists tools, makes a good call, two calls the Host refuses
(one with bad arguments, one for a tool the Host never approved although the Runtime offers
it), a streaming call, and finally reads the audit log. Each step says what happened and why.
"""

from __future__ import annotations

import collections
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from contextlib import ExitStack
from pathlib import Path
from typing import IO

from aesp.certs import init_dev_pki
from aesp.core.audit_export import read_events

EXAMPLES = Path(__file__).parent / "examples"
READY_TIMEOUT_S = 30.0


DEMO_ACCESS = """
[access]
[access.group_roles]
"certificate:client" = ["analyst"]
[access.group_clearance]
"certificate:client" = "INTERNAL"
[[access.roles]]
name = "analyst"
permissions = ["tool:convert_currency:invoke", "tool:word_stream:invoke"]
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _say(step: int, title: str, text: str = "") -> None:
    print(f"\n\033[1m{step}. {title}\033[0m")
    if text:
        print(textwrap.indent(textwrap.fill(textwrap.dedent(text).strip(), 96), "   "))


def _detail(text: str) -> None:
    print(textwrap.indent(text, "   | "))


def _wait_for_line(proc: subprocess.Popen[str], log: IO[str], needle: str) -> str:
    deadline = time.monotonic() + READY_TIMEOUT_S
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line:
            log.write(line)
            if needle in line:
                return line.strip()
        elif proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before it was ready")
    raise RuntimeError(f"no '{needle}' line within {READY_TIMEOUT_S:.0f} s")


def _spawn(args: list[str], workdir: Path, name: str, stack: ExitStack) -> subprocess.Popen[str]:
    err = open(workdir / f"{name}.stderr.log", "w")  # noqa: SIM115 - closed by the stack
    stack.callback(err.close)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "aesp", *args],
        cwd=workdir,
        stdout=subprocess.PIPE,
        stderr=err,
        text=True,
        env=env,
    )

    def stop() -> None:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    stack.callback(stop)
    return proc


def run_demo(*, keep: bool = False) -> int:
    """Run the demo; returns the process exit status."""
    workdir = Path(tempfile.mkdtemp(prefix="aesp-demo-"))
    try:
        with ExitStack() as stack:
            return _story(workdir, stack)
    except Exception as exc:  # noqa: BLE001 - the demo explains, it does not dump stacks
        print(f"\nThe demo stopped: {exc}. Files are in {workdir}.", file=sys.stderr)
        keep = True
        return 1
    finally:
        if keep:
            print(f"\nThe demo's files (certificates, manifest, audit log) are in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def _story(workdir: Path, stack: ExitStack) -> int:
    from aesp.client import AespClientError, Client

    started = time.monotonic()
    print("aesp demo: a Host, a Runtime and an AI agent, on this machine, over mutual TLS 1.3.")

    _say(
        1,
        "A development certificate authority",
        """
        Every party proves who it is with a certificate. The identity and the tenant are read
        from the certificate the TLS handshake verified, never from what a party says.""",
    )
    pki = init_dev_pki(workdir / "pki", tenant="acme", runtimes=("finance",), clients=("agent",))
    for kind, name in (("runtime", "finance"), ("client", "agent")):
        _detail(f"{kind:8} spiffe://aesp.local/tenant/acme/{kind}/{name}")

    _say(
        2,
        "The Host starts with a manifest of two trusted contracts",
        """
        The Host owns the tool contracts: convert_currency and word_stream. It runs in STRICT
        mode, so nothing outside this manifest can ever be called. Nobody may call anything
        until the configuration grants it: here the agent's certificate puts it in the group
        certificate:client, which the Host maps to the role 'analyst'.""",
    )
    shutil.copy(EXAMPLES / "manifest.json", workdir / "manifest.json")
    client_port, runtime_port = _free_port(), _free_port()
    (workdir / "aesp.toml").write_text(
        f'[host]\nmode = "STRICT"\nmanifest_path = "manifest.json"\n'
        f'client_listen = "127.0.0.1:{client_port}"\nruntime_listen = "127.0.0.1:{runtime_port}"\n'
        f'data_dir = "data"\n\n[tls]\nca = "pki/ca.pem"\ncert = "pki/host.pem"\nkey = "pki/host.key"\n'
        + DEMO_ACCESS
    )
    host_log = stack.enter_context(open(workdir / "host.log", "w"))  # noqa: SIM115
    host = _spawn(["serve", "--config", "aesp.toml"], workdir, "host", stack)
    _detail(_wait_for_line(host, host_log, "aesp host ready"))

    _say(
        3,
        "A Runtime connects and offers three tools",
        """
        The Runtime (a separate process) has code for convert_currency, word_stream and
        delete_all_records. It can only fulfil contracts the Host already holds: the third
        one, which nobody approved, stays unreachable.""",
    )
    runtime_log = stack.enter_context(open(workdir / "runtime.log", "w"))  # noqa: SIM115
    runtime = _spawn(
        [
            "runtime",
            str(EXAMPLES / "tools.py"),
            "--target",
            f"localhost:{runtime_port}",
            "--pki",
            "pki",
            "--name",
            "finance",
            "--runtime-id",
            "finance-1",
        ],
        workdir,
        "runtime",
        stack,
    )
    _detail(_wait_for_line(runtime, runtime_log, "connected;"))
    for line in (workdir / "runtime.stderr.log").read_text().splitlines():
        if "no active contract" in line:
            _detail("runtime log: " + line.split(": ", 1)[-1])

    ca, cert, key = pki.ca.read_bytes(), *(p.read_bytes() for p in pki.client("agent"))
    client = stack.enter_context(Client(f"localhost:{client_port}", ca=ca, cert=cert, key=key))
    session = client.create_session(ttl_seconds=600)

    _say(4, "The agent opens a session and asks which tools it may call")
    for info in client.list_tools(session.session_id):
        _detail(f"{info.name:18} {info.description}")

    _say(
        5,
        "A good call",
        "The Host checks the arguments against its own contract, routes the "
        "call to a Runtime of the agent's tenant, and checks the result before returning it.",
    )
    result = client.call(
        session.session_id, "convert_currency", {"amount": 100, "source": "EUR", "target": "USD"}
    )
    _detail(f"convert_currency(100 EUR -> USD) = {json.dumps(result.content)}")

    _say(6, "A call with bad arguments is refused by the Host", "The Runtime never sees it.")
    try:
        client.call(
            session.session_id,
            "convert_currency",
            {"amount": 100, "source": "EUR", "target": "JPY"},
        )
    except AespClientError as exc:
        _detail(f"refused: {exc.code}\n{exc.message}")

    _say(7, "A call to the tool the Runtime offered but the Host never approved")
    try:
        client.call(session.session_id, "delete_all_records", {"table": "customers"})
    except AespClientError as exc:
        _detail(f"refused: {exc.code}\n{exc.message}")

    _say(8, "A streaming call", "Chunks arrive as the tool produces them, checked in order.")
    words = list(
        client.stream(session.session_id, "word_stream", {"text": "governed tools for AI agents"})
    )
    _detail(" | ".join(str(w) for w in words))

    client.destroy_session(session.session_id)
    _say(
        9,
        "The audit log recorded all of it",
        "Every connection, fulfilment, session, call and "
        "refusal, each with the verified principal, tenant and correlation id:",
    )
    host.terminate()
    host.wait(10)
    counts = collections.Counter(
        (e["event_type"], e["outcome"]) for e in read_events(workdir / "data" / "audit.jsonl")
    )
    for (event_type, outcome), n in sorted(counts.items()):
        _detail(f"{n:3} x {event_type:26} {outcome}")
    print(f"\nDone in {time.monotonic() - started:.1f} s. Host and Runtime stopped.")
    return 0
