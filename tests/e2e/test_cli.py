"""The ``aesp`` command end to end: serve, runtime, call, certs, and the demo (README command)."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from aesp.adm import ToolResult
from aesp.client import AsyncClient
from aesp.demo import DEMO_ACCESS
from aesp.testing.harness import local_host

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "aesp" / "examples"
ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}


def _aesp(*args: str, cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "aesp", *args],
        cwd=cwd,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_line(proc: subprocess.Popen[str], needle: str, timeout: float = 30) -> str:
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if needle in line:
            return line
        if not line and proc.poll() is not None:
            raise AssertionError(
                f"exited {proc.returncode}: {proc.stderr.read() if proc.stderr else ''}"
            )
    raise AssertionError(f"no {needle!r} within {timeout} s")


def test_serve_runtime_and_call_as_separate_processes(tmp_path: Path) -> None:
    assert (
        _aesp(
            "certs",
            "init",
            "--dir",
            "pki",
            "--runtime",
            "example",
            "--client",
            "demo",
            cwd=tmp_path,
        ).returncode
        == 0
    )
    client_port, runtime_port = _port(), _port()
    (tmp_path / "aesp.toml").write_text(
        f'[host]\nmanifest_path = "{EXAMPLES / "manifest.json"}"\n'
        f'client_listen = "127.0.0.1:{client_port}"\nruntime_listen = "127.0.0.1:{runtime_port}"\n'
        + DEMO_ACCESS
    )
    procs: list[subprocess.Popen[str]] = []
    try:
        host = subprocess.Popen(
            [sys.executable, "-m", "aesp", "serve", "--config", "aesp.toml"],
            cwd=tmp_path,
            env=ENV,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        procs.append(host)
        assert "2 active contracts" in _wait_line(host, "aesp host ready")
        runtime = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "aesp",
                "runtime",
                str(EXAMPLES / "tools.py"),
                "--pki",
                "pki",
                "--name",
                "example",
                "--target",
                f"localhost:{runtime_port}",
            ],
            cwd=tmp_path,
            env=ENV,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        procs.append(runtime)
        assert "convert_currency, word_stream" in _wait_line(runtime, "connected;")
        target = ["--pki", "pki", "--name", "demo", "--target", f"localhost:{client_port}"]
        ok = _aesp(
            "call",
            "convert_currency",
            "--args",
            '{"amount": 10, "source": "USD", "target": "EUR"}',
            *target,
            cwd=tmp_path,
        )
        assert ok.returncode == 0, ok.stderr
        assert json.loads(ok.stdout)["content"] == {"amount": 9.3, "currency": "EUR", "rate": 0.93}
        refused = _aesp(
            "call", "delete_all_records", "--args", '{"table": "t"}', *target, cwd=tmp_path
        )
        assert refused.returncode == 1
        assert "UNSUPPORTED_TOOL" in refused.stderr
        streamed = _aesp(
            "call", "word_stream", "--stream", "--args", '{"text": "a b c"}', *target, cwd=tmp_path
        )
        assert streamed.stdout.split() == ['"a"', '"b"', '"c"']
        bad = _aesp("call", "convert_currency", "--args", "{nope", *target, cwd=tmp_path)
        assert bad.returncode == 2 and "not JSON" in bad.stderr
        host.send_signal(signal.SIGTERM)
        assert host.wait(15) == 0
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait()


def test_serve_refuses_a_missing_manifest_with_one_clear_line(tmp_path: Path) -> None:
    (tmp_path / "aesp.toml").write_text('[host]\nmanifest_path = "absent.json"\n')
    result = _aesp("serve", "--config", "aesp.toml", cwd=tmp_path)
    assert result.returncode == 2
    assert "MISSING_MANIFEST" in result.stderr
    assert "Traceback" not in result.stderr


def test_runtime_without_credentials_says_how_to_get_them(tmp_path: Path) -> None:
    result = _aesp("runtime", str(EXAMPLES / "tools.py"), "--pki", "nowhere", cwd=tmp_path)
    assert result.returncode != 0
    assert "aesp certs init" in result.stderr


def test_demo_runs_end_to_end(tmp_path: Path) -> None:
    """``aesp demo --keep`` tells every step with its evidence, in order, in under a minute.

    The demo checks each step itself and exits 1 when one does not show what it should, so a
    broken step fails here twice: the exit status and the missing evidence.
    """
    result = _aesp("demo", "--keep", cwd=tmp_path, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    headings = [
        "1. A tool author writes a Python function and marks it @tool",
        "2. A Host and a Runtime start",
        "3. Operator alice promotes the function",
        "4. Separation of duties",
        "5. The agent calls the tool",
        "6. A policy: refunds above 500 USD are refused",
        "7. A hard budget: 0.50 USD for issue_refund, room for 2 calls",
        "8. An auditor verifies the audit log offline",
    ]
    positions = [out.index(h) for h in headings]
    assert positions == sorted(positions)
    steps = [out[a:b] for a, b in zip(positions, [*positions[1:], len(out)], strict=True)]
    assert "@tool\n   | def issue_refund(" in steps[0]
    assert "the Host accepted no tools" in steps[1]
    assert "opened for issue_refund@1.0.0 (sha256:" in steps[2]
    assert "refused: UNSUPPORTED_TOOL" in steps[2]
    assert "aesp: PERMISSION_DENIED" in steps[3] and "separation of duties" in steps[3]
    assert "APPROVED (workflow complete)" in steps[3]
    runtime = "spiffe://aesp.local/tenant/acme/runtime/refunds"
    assert f"CONTRACT_FULFILL issue_refund by {runtime}" in steps[3]
    assert '"refund_id": "rf-20ebf597", "status": "REFUNDED"' in steps[4]
    assert steps[5].count("| workflow wf-") == 2
    assert "APPROVED (workflow complete)" in steps[5]
    assert "refused: POLICY_VIOLATION" in steps[5]
    assert "(refund-limit v1.0.0) denies" in steps[5]
    assert "PENDING_APPROVAL apr-" in steps[6] and "APPROVED (workflow complete)" in steps[6]
    assert steps[6].count(": SUCCESS {") == 2 and "refused: QUOTA_EXCEEDED" in steps[6]
    verified, tampered = steps[7].split("Someone changes one byte")
    assert re.search(r"audit\.jsonl: VALID \(\d+ lines read, \d+ leaves, [1-9]\d* signed", verified)
    assert "Audit log OK" in verified
    assert "audit.tampered.jsonl: INVALID" in tampered and "altered" in tampered
    elapsed = re.search(r"Done in (\d+\.\d) s", out)
    assert elapsed is not None and float(elapsed.group(1)) < 60, out[-300:]
    assert "Host and Runtime stopped" in out
    # --keep leaves the files, the signed log and its public key among them.
    kept = re.search(r"files \(certificates, configuration, logs\) are in (\S+)", out)
    assert kept is not None
    workdir = Path(kept.group(1))
    try:
        assert (workdir / "data" / "audit.jsonl").is_file()
        assert (workdir / "data" / "audit_signing.pub").is_file()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


ADD = {
    "name": "add",
    "description": "Add two integers.",
    "parameters": {
        "type": "OBJECT",
        "properties": {"a": {"type": "INTEGER"}, "b": {"type": "INTEGER"}},
        "required": ["a", "b"],
    },
}


async def test_item_117_host_rejects_a_result_executed_after_expiry(tmp_path: Path) -> None:
    """The Host cross-checks the reported finish time against the authorisation's expiry."""
    async with local_host(tmp_path, [ADD]) as handle:
        ca, cert, key = handle.client_pem()
        async with AsyncClient(handle.client_target, ca=ca, cert=cert, key=key) as client:
            session = await client.create_session()
            auth = await client.authorize(session.session_id, "add", {"a": 1, "b": 2})
            late = int(auth.execution_context["expires_at_ms"]) + 60_000
            with pytest.raises(Exception, match="PROTOCOL_VIOLATION") as info:
                await client.log_result(
                    auth, ToolResult.success(auth.call_id, "add", 3), finished_at_ms=late
                )
            assert "after its authorisation expired" in str(info.value)
            violations = [
                e
                for e in handle.running.host.audit.events()
                if e.event_type == "SECURITY_VIOLATION"
            ]
            assert violations and "expired" in violations[-1].metadata["reason"]
