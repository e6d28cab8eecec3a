"""SIGKILL the Host in the middle of concurrent calls (DESIGN §8, C-36, items 189 and 194).

Durable-before-acknowledged means: every call a client saw succeed has its
TOOL_INVOCATION_START in the log, whatever happened to the Host after. And a crash never
leaves a log that fails verification, except for a torn last line, which no one was told about
and which the Host cuts off when it restarts.

Decision (recorded for docs/protocol-decisions.md): ``aesp audit verify`` does NOT accept a
torn last line (an export or copy must be whole); the Host repairs its own file on restart
(cuts the line, reports it, signs the recovered tail), and the repaired file verifies with
every leaf covered by a checkpoint.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from aesp.certs import init_dev_pki
from aesp.client import AsyncClient
from aesp.core.audit_export import read_events
from aesp.core.audit_keys import load_public_key
from aesp.core.audit_verify import verify_file
from aesp.demo import DEMO_ACCESS

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "aesp" / "examples"
ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}
CALLERS = 16  # concurrent callers: several batches are always in flight when the kill lands
ACKED_BEFORE_KILL = 150  # acknowledged calls before the kill, so the log is well under way


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _spawn(*args: str, cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "aesp", *args],
        cwd=cwd,
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_line(proc: subprocess.Popen[str], needle: str, timeout: float = 30) -> None:
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if needle in line:
            return
        if not line and proc.poll() is not None:
            stderr = proc.stderr.read() if proc.stderr else ""
            raise AssertionError(f"exited {proc.returncode}: {stderr}")
    raise AssertionError(f"no {needle!r} within {timeout} s")


def _configure(workdir: Path) -> tuple[int, int]:
    client_port, runtime_port = _port(), _port()
    (workdir / "aesp.toml").write_text(
        f'[host]\nmanifest_path = "{EXAMPLES / "manifest.json"}"\ndata_dir = "data"\n'
        f'client_listen = "127.0.0.1:{client_port}"\nruntime_listen = "127.0.0.1:{runtime_port}"\n'
        + DEMO_ACCESS
    )
    return client_port, runtime_port


async def _call_until_killed(
    target: str, pems: tuple[bytes, bytes, bytes], host: subprocess.Popen[str]
) -> tuple[list[str], int]:
    """Run CALLERS loops of calls; SIGKILL the Host mid-flight; return the acknowledged ids."""
    acked: list[str] = []
    in_flight = 0
    ca, cert, key = pems
    async with AsyncClient(target, ca=ca, cert=cert, key=key) as client:
        session = await client.create_session()

        async def caller(n: int) -> None:
            nonlocal in_flight
            for i in range(100_000):
                cid = f"sigkill-{n}-{i}"
                in_flight += 1
                try:
                    result = await client.call(
                        session.session_id,
                        "convert_currency",
                        {"amount": 10, "source": "USD", "target": "EUR"},
                        correlation_id=cid,
                    )
                except Exception:
                    if host.poll() is not None:
                        return  # the Host is gone: stop calling
                    continue
                finally:
                    in_flight -= 1
                if result.status == "SUCCESS":
                    acked.append(cid)

        async def killer() -> int:
            while len(acked) < ACKED_BEFORE_KILL:
                await asyncio.sleep(0.005)
            flying = in_flight
            os.kill(host.pid, signal.SIGKILL)
            return flying

        *_, flying = await asyncio.gather(*(caller(n) for n in range(CALLERS)), killer())
    return acked, flying


async def _one_session(target: str, pems: tuple[bytes, bytes, bytes]) -> None:
    ca, cert, key = pems
    async with AsyncClient(target, ca=ca, cert=cert, key=key) as client:
        session = await client.create_session()
        await client.destroy_session(session.session_id)


def test_sigkill_mid_flight_keeps_every_acknowledged_start_and_a_verifiable_log(
    tmp_path: Path,
) -> None:
    pki = init_dev_pki(tmp_path / "pki", runtimes=("example",), clients=("demo",))
    client_port, runtime_port = _configure(tmp_path)
    log_path, pub = tmp_path / "data" / "audit.jsonl", tmp_path / "data" / "audit_signing.pub"
    host = _spawn("serve", "--config", "aesp.toml", cwd=tmp_path)
    runtime = _spawn(
        "runtime", str(EXAMPLES / "tools.py"), "--pki", "pki", "--name", "example",
        "--target", f"localhost:{runtime_port}", cwd=tmp_path,
    )  # fmt: skip
    try:
        _wait_line(host, "aesp host ready")
        _wait_line(runtime, "connected;")
        cert, key = pki.client("demo")
        pems = (pki.ca.read_bytes(), cert.read_bytes(), key.read_bytes())
        acked, flying = asyncio.run(_call_until_killed(f"localhost:{client_port}", pems, host))
        assert host.wait(10) == -signal.SIGKILL
    finally:
        for proc in (host, runtime):
            if proc.poll() is None:
                proc.kill()
            proc.wait()
    assert len(acked) >= ACKED_BEFORE_KILL and flying > 0  # calls were in flight at the kill

    # (1) Durable before acknowledged: every acknowledged call's START is in the file.
    starts = {
        e.get("correlation_id")
        for e in read_events(log_path)
        if e["event_type"] == "TOOL_INVOCATION_START"
    }
    missing = [cid for cid in acked if cid not in starts]
    assert not missing, f"{len(missing)} acknowledged calls have no START: {missing[:5]}"

    # (2) The crashed file verifies, but for at most a torn last line; its tail is unsigned.
    report = verify_file(log_path, [load_public_key(pub)])
    torn = report.bad is not None
    if torn:
        assert report.bad is not None and report.bad.line == report.lines
        assert report.bad.problem.startswith("the line is incomplete")

    # (3) The Host restarts on the same data, repairs, appends after the repair, signs, and
    # stops cleanly.
    client_port, _ = _configure(tmp_path)
    again = _spawn("serve", "--config", "aesp.toml", cwd=tmp_path)
    try:
        _wait_line(again, "aesp host ready")
        asyncio.run(_one_session(f"localhost:{client_port}", pems))
        again.send_signal(signal.SIGTERM)
        assert again.wait(15) == 0
        stderr = again.stderr.read() if again.stderr else ""
    finally:
        if again.poll() is None:
            again.kill()
        again.wait()
    assert ("cut an incomplete last line" in stderr) == torn, stderr

    # (4) The repaired log verifies with the public key alone, every leaf covered.
    verified = subprocess.run(
        [sys.executable, "-m", "aesp.cli_audit", "verify", str(log_path),
         "--public-key", str(pub), "--require-checkpointed"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert verified.returncode == 0, verified.stdout + verified.stderr
    after = list(read_events(log_path))
    assert starts <= {e.get("correlation_id") for e in after}
    assert [e["event_type"] for e in after][-2:] == ["SESSION_CREATE", "SESSION_DESTROY"]
