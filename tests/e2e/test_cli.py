"""The ``aesp`` command end to end: serve, runtime, call, certs, and the demo (README command)."""

from __future__ import annotations

import json
import os
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
    result = _aesp("demo", cwd=tmp_path, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    for expected in (
        "SCHEMA_VIOLATION",
        "UNSUPPORTED_TOOL",
        "governed | tools | for | AI | agents",
        "TOOL_INVOCATION_COMPLETE",
        "Host and Runtime stopped",
    ):
        assert expected in result.stdout


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
