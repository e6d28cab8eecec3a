"""``aesp audit verify`` and ``aesp audit export`` (items 189, 192): exit statuses, the first
bad entry in the output, and exports that verify (JSON) or open in a spreadsheet (CSV)."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from _logfiles import event, records, write_log

from aesp.cli_audit import main


@pytest.fixture
async def data_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "data"
    events = [event(n, ("acme", "beta", "")[n % 3]) for n in range(9)]
    events.append(event(9, "acme", resource='=HYPERLINK("http://x")', metadata={"k": "v"}))
    await write_log(directory / "audit.jsonl", events, every=2)
    return directory


def _pub(data_dir: Path) -> str:
    return str(data_dir / "audit_signing.pub")


def test_verify_a_good_log_exits_0(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify", str(data_dir / "audit.jsonl"), "--public-key", _pub(data_dir)]) == 0
    out = capsys.readouterr().out
    assert ": VALID (" in out and "aesp-audit/tenant/acme: 4 leaves, 4 covered" in out
    assert "aesp-audit/system: 3 leaves" in out


def test_verify_a_damaged_log_exits_1_naming_the_first_bad_entry(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = data_dir / "audit.jsonl"
    lines = log.read_bytes().splitlines(keepends=True)
    lines[3] = lines[3].replace(b'"outcome":"SUCCESS"', b'"outcome":"FAILURE"')
    log.write_bytes(b"".join(lines))
    assert main(["verify", str(log), "--public-key", _pub(data_dir), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    bad = report["first_bad_entry"]
    assert (bad["line"], bad["tenant"], bad["index"], bad["event_id"]) == (4, "acme", 1, "evt-0003")
    assert main(["verify", str(log), "--public-key", _pub(data_dir)]) == 1
    assert "first bad entry: line 4, tenant 'acme', index 1, event evt-0003" in (
        capsys.readouterr().out
    )


@pytest.mark.parametrize("missing", ["file", "key", "checkpoint"])
def test_verify_exits_2_when_an_input_cannot_be_read(
    data_dir: Path, missing: str, capsys: pytest.CaptureFixture[str]
) -> None:
    log, pub = str(data_dir / "audit.jsonl"), _pub(data_dir)
    argv = {
        "file": ["verify", str(data_dir / "nope.jsonl"), "--public-key", pub],
        "key": ["verify", log, "--public-key", log],  # not a PEM key
        "checkpoint": ["verify", log, "--public-key", pub, "--checkpoint", log],  # a leaf line
    }[missing]
    assert main(argv) == 2
    assert "cannot read the" in capsys.readouterr().err


def test_a_kept_checkpoint_catches_a_shortened_export(data_dir: Path, tmp_path: Path) -> None:
    log = data_dir / "audit.jsonl"
    every = records(log)
    last_acme = next(r for r in every if r["kind"] == "checkpoint" and r["size"] == 4)
    kept = tmp_path / "kept.jsonl"
    kept.write_text(json.dumps(last_acme) + "\n")  # the last checkpoint an auditor saw
    cut = next(n for n, r in enumerate(every) if r.get("event", {}).get("event_id") == "evt-0009")
    short = tmp_path / "short.jsonl"
    short.write_bytes(b"".join(log.read_bytes().splitlines(keepends=True)[:cut]))
    base = ["verify", str(short), "--public-key", _pub(data_dir)]
    assert main(base) == 0
    assert main([*base, "--require-checkpointed"]) == 1
    assert main([*base, "--checkpoint", str(kept)]) == 1


def test_a_tenant_export_is_that_tenants_lines_and_verifies(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "acme.jsonl"
    argv = ["export", "--data-dir", str(data_dir), "--tenant", "acme", "--out", str(out)]
    assert main(argv) == 0
    exported = records(out)
    assert {r["tenant"] for r in exported} == {"acme"}
    assert [r["kind"] for r in exported].count("leaf") == 4
    every = (data_dir / "audit.jsonl").read_bytes().splitlines()
    own = [line for line in every if json.loads(line)["tenant"] == "acme"]
    assert out.read_bytes().splitlines() == own  # the log's own bytes, unchanged
    verify = ["verify", str(out), "--public-key", _pub(data_dir), "--require-checkpointed"]
    assert main(verify) == 0


def test_the_system_tenant_is_exported_with_an_empty_name(
    data_dir: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    assert main(["export", "--data-dir", str(data_dir), "--tenant", ""]) == 0
    exported = [json.loads(line) for line in capsysbinary.readouterr().out.splitlines()]
    assert {r["tenant"] for r in exported} == {""} and len(exported) == 3 + 2


def test_csv_export_flattens_events_and_defuses_formulas(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "all.csv"
    assert main(["export", "--data-dir", str(data_dir), "--format", "csv", "--out", str(out)]) == 0
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert len(rows) == 10  # events only, no checkpoints
    last = rows[-1]
    assert (last["tenant"], last["index"], last["event_id"]) == ("acme", "3", "evt-0009")
    assert last["resource"] == '\'=HYPERLINK("http://x")'
    assert json.loads(last["metadata"]) == {"k": "v"}
    assert last["hash"] and last["prev_hash"]


def test_export_of_a_missing_log_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["export", "--data-dir", str(tmp_path)]) == 2
    assert "cannot export" in capsys.readouterr().err


def test_the_module_runs_as_a_command(data_dir: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "aesp.cli_audit", "verify", str(data_dir / "audit.jsonl"),
         "--public-key", _pub(data_dir)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "VALID" in result.stdout
