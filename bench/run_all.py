"""Every benchmark, one after the other on this machine, summed up in one table (DESIGN §12).

Why: the performance budget is judged on figures measured together, on the same machine, in
one go; this runs each benchmark as a subprocess in sequence (so they never compete for the
CPUs), has each write its figures as JSON (``--json``), and prints one table: for every
figure the measured value, its baseline when the budget is relative (the ungoverned
pass-through), the target, the ratio and whether it is met. Each benchmark's full output is
kept in a log folder whose path is printed at the end.

Run from the repository root::

    .venv/bin/python bench/run_all.py                  # everything (about 6-8 minutes)
    .venv/bin/python bench/run_all.py --quick          # every benchmark in its smoke mode
    .venv/bin/python bench/run_all.py --only startup --only sessions_memory
    .venv/bin/python bench/run_all.py --skip aws_profile --json figures.json

The ratio column: for a relative budget, measured ÷ baseline (governed ÷ pass-through, or
aws ÷ local); for an absolute one, measured ÷ target. A benchmark that could not run makes
the command exit 1; a figure that misses its target does not (figures, not a test).
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

from _common import REPO_ROOT, machine_lines, render_table  # noqa: E402

Document = Mapping[str, Any]
DESIGN = "DESIGN §12"

# --------------------------------------------------------------------------- the benchmarks


@dataclass(frozen=True)
class Bench:
    """One benchmark script and the arguments of its smoke mode."""

    name: str
    script: str
    quick_args: tuple[str, ...] = ("--quick",)
    about: str = ""


BENCHES: tuple[Bench, ...] = (
    Bench("call_latency", "call_latency.py", about="governed call vs pass-through"),
    Bench("policy_decision", "policy_decision.py", about="RBAC + CEL, 100 policies"),
    Bench("audit_log", "audit_log.py", about="durable appends, verification"),
    Bench("startup", "startup.py", about="Host start-up to first served call"),
    Bench("sessions_memory", "sessions_memory.py", about="Host memory with live sessions"),
    Bench("aws_profile", "aws_profile.py", about="AWS profile vs local profile"),
)
NAMES = tuple(b.name for b in BENCHES)

# --------------------------------------------------------------------------- targets and rows


@dataclass(frozen=True)
class Target:
    """A budget: ``limit`` is a bound on the value (absolute) or on value ÷ baseline (relative).

    ``at_most`` says which side of the bound is good; ``source`` names where it comes from.
    """

    limit: float
    at_most: bool
    relative: bool
    source: str = DESIGN

    def text(self, unit: str) -> str:
        sign = "≤" if self.at_most else "≥"
        if self.relative:
            return f"{sign} {self.limit:.2f}×"
        return f"{sign} {_number(self.limit, unit)}"


@dataclass(frozen=True)
class Row:
    """One line of the summary; ``met`` is None for an informational figure."""

    group: str
    figure: str
    unit: str
    measured: float | None
    baseline: float | None = None
    target: str = ""
    ratio: float | None = None
    met: bool | None = None
    note: str = ""


def _finite(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def make_row(
    group: str,
    figure: str,
    unit: str,
    measured: Any,
    *,
    baseline: Any = None,
    target: Target | None = None,
    note: str = "",
) -> Row:
    """A row with its ratio and verdict worked out (None where a figure is missing)."""
    value, base = _finite(measured), _finite(baseline)
    ratio = value / base if value is not None and base else None
    met: bool | None = None
    if target is not None:
        if not target.relative and value is not None:
            ratio = value / target.limit
        compared = ratio if target.relative else value
        if compared is None:
            met, note = False, note or "not measured"
        else:
            met = compared <= target.limit if target.at_most else compared >= target.limit
        if target.source != DESIGN:
            note = note or f"target from {target.source}"
    text = target.text(unit) if target else ""
    return Row(group, figure, unit, value, base, text, ratio, met, note)


def _get(document: Document, *path: str) -> Any:
    """``document["figures"][path[0]][path[1]]...``, None where any step is missing."""
    node: Any = document.get("figures", {})
    for step in path:
        if not isinstance(node, Mapping) or step not in node:
            return None
        node = node[step]
    return node


LATENCY = Target(1.10, at_most=True, relative=True)
LATENCY_P99 = Target(1.10, at_most=True, relative=True, source="issue 6")
THROUGHPUT = Target(0.90, at_most=False, relative=True)
POLICY_P99_US = Target(100.0, at_most=True, relative=False)
APPENDS_PER_S = Target(20_000, at_most=False, relative=False)
VERIFY_1M_S = Target(30.0, at_most=True, relative=False)
STARTUP_S = Target(1.5, at_most=True, relative=False)
VERIFY_ENTRIES = 1_000_000
FSYNC_BOUND_CALLERS = 16  # at most this many callers, appends/s is bounded by fsync latency

_CALL_FIGURES = (
    ("c1_p50_us", "latency p50, concurrency 1", "µs", LATENCY),
    ("c1_p99_us", "latency p99, concurrency 1", "µs", LATENCY_P99),
    ("c16_p50_us", "latency p50, concurrency 16", "µs", LATENCY),
    ("c16_p99_us", "latency p99, concurrency 16", "µs", LATENCY_P99),
    ("c64_calls_per_s", "throughput, concurrency 64", "/s", THROUGHPUT),
    ("c64_middle_cpu_us_per_call", "Host CPU per call, concurrency 64", "µs", None),
)


def _call_rows(doc: Document) -> list[Row]:
    group = "governed call vs ungoverned pass-through (baseline), 3 processes, mTLS 1.3"
    rows = [
        make_row(
            group,
            label,
            unit,
            _get(doc, "governed", key),
            baseline=_get(doc, "pass-through", key),
            target=target,
        )
        for key, label, unit, target in _CALL_FIGURES
    ]
    rows.append(
        make_row(
            group,
            "floor: one fdatasync (C-36 START durable before dispatch)",
            "µs",
            _get(doc, "sync_p50_us"),
            baseline=_get(doc, "pass-through", "c1_p50_us"),
            note="ratio: the share of the pass-through c=1 p50 the disk alone takes",
        )
    )
    rows.append(
        make_row(
            group,
            "Host RSS after the run",
            "MiB",
            _get(doc, "governed", "middle_rss_mib"),
            baseline=_get(doc, "pass-through", "middle_rss_mib"),
        )
    )
    return rows


def _policy_rows(doc: Document) -> list[Row]:
    group = f"policy decision: RBAC + CEL, {_get(doc, 'policies') or 100} policies loaded"
    return [
        make_row(group, "decision p50", "µs", _get(doc, "decision_p50_us")),
        make_row(group, "decision p99", "µs", _get(doc, "decision_p99_us"), target=POLICY_P99_US),
        make_row(
            group, "decision p99, calls without matches()", "µs",
            _get(doc, "decision_without_matches_p99_us"),
        ),
    ]  # fmt: skip


def _audit_rows(doc: Document) -> list[Row]:
    group = "audit log (FileAuditLog, fsync'd group commit)"
    rows = []
    for entry in _get(doc, "appends") or []:
        callers = int(entry.get("callers", 0))
        bound = callers <= FSYNC_BOUND_CALLERS
        rows.append(
            make_row(
                group,
                f"durable appends/s, {callers} callers",
                "/s",
                entry.get("per_s"),
                target=None if bound else APPENDS_PER_S,
                note="fsync-latency bound; informational" if bound else "",
            )
        )
    entries = _finite(_get(doc, "entries"))
    verify_s = _finite(_get(doc, "verify_s"))
    label = f"verify {VERIFY_ENTRIES:,} entries"
    note = ""
    if entries and verify_s is not None and entries != VERIFY_ENTRIES:
        verify_s = verify_s * VERIFY_ENTRIES / entries
        note = f"projected linearly from {entries:,.0f} entries"
    if _get(doc, "verify_valid") is False:
        verify_s, note = None, "the log did not verify"
    rows.append(make_row(group, label, "s", verify_s, target=VERIFY_1M_S, note=note))
    restart = _finite(_get(doc, "restart_s"))
    rows.append(
        make_row(group, f"Host restart on a log of {entries or 0:,.0f} entries", "s", restart)
    )
    return rows


def _startup_rows(doc: Document) -> list[Row]:
    group = f"Host start-up, local profile ({_get(doc, 'starts') or '?'} cold starts)"
    return [
        make_row(
            group, "spawn -> first served call, median", "s",
            _get(doc, "first_call_s", "median"), target=STARTUP_S,
        ),
        make_row(group, "spawn -> first served call, max", "s", _get(doc, "first_call_s", "max")),
        make_row(group, "spawn -> ready line, median", "s", _get(doc, "ready_s", "median")),
    ]  # fmt: skip


def _sessions_rows(doc: Document) -> list[Row]:
    sessions = _finite(_get(doc, "sessions")) or 0
    group = "Host memory with live sessions (no DESIGN target)"
    live, checked = _get(doc, "sample_live"), _get(doc, "sample_checked")
    note = "" if live == checked else f"only {live}/{checked} sampled sessions live"
    return [
        make_row(group, "Host RSS, 1 session", "MiB", _get(doc, "rss_before_mib")),
        make_row(
            group, f"Host RSS, {sessions:,.0f} more live sessions", "MiB",
            _get(doc, "rss_after_mib"), note=note,
        ),
        make_row(group, "RSS growth per session", "KiB", _get(doc, "kib_per_session")),
    ]  # fmt: skip


def _aws_rows(doc: Document) -> list[Row]:
    group = "AWS profile vs local profile (baseline); issue 5: calls do not wait on AWS"
    return [
        make_row(group, label, unit, _get(doc, "aws", key), baseline=_get(doc, "local", key))
        for key, label, unit, _ in _CALL_FIGURES
    ]


ROW_BUILDERS: dict[str, Callable[[Document], list[Row]]] = {
    "call_latency": _call_rows,
    "policy_decision": _policy_rows,
    "audit_log": _audit_rows,
    "startup": _startup_rows,
    "sessions_memory": _sessions_rows,
    "aws_profile": _aws_rows,
}


def assemble(results: Mapping[str, Document | None]) -> list[Row]:
    """The summary's rows, in benchmark order; a benchmark that failed (None) gets one row."""
    rows: list[Row] = []
    for name in NAMES:
        if name not in results:
            continue
        document = results[name]
        if document is None:
            rows.append(Row(name, "benchmark could not run (see its log)", "", None, met=None))
        else:
            rows.extend(ROW_BUILDERS[name](document))
    return rows


def notes(results: Mapping[str, Document | None]) -> list[str]:
    """Facts that qualify the figures: smoke mode, a noisy machine, failed calls."""
    out = []
    for name in NAMES:
        document = results.get(name)
        if not document:
            continue
        if document.get("quick"):
            out.append(f"{name}: quick (smoke) mode; not the figures to judge the budget by")
        others = _finite(document.get("others_cpus")) or 0.0
        stolen = _finite(document.get("stolen_cpus")) or 0.0
        if others > 0.2 or stolen > 0.2:
            out.append(
                f"{name}: the machine was not quiet (other processes {others:.2f} CPUs, "
                f"stolen {stolen:.2f}); its figures are unreliable"
            )
        if document.get("failed_calls"):
            out.append(f"{name}: {document['failed_calls']} calls failed")
    return out


# --------------------------------------------------------------------------- rendering


def _number(value: float, unit: str) -> str:
    if unit == "s":
        text = f"{value:.2f}" if value < 10 else f"{value:.1f}"
    elif unit == "µs":
        text = f"{value:,.1f}" if value < 100 else f"{value:,.0f}"
    elif unit in ("MiB", "KiB"):
        text = f"{value:,.1f}"
    else:
        text = f"{value:,.0f}"
    return f"{text} {unit}" if unit else text


def render(rows: Sequence[Row]) -> str:
    """The one table: a heading line per group, then one line per figure."""
    cells = [
        [
            "  " + row.figure,
            "-" if row.measured is None else _number(row.measured, row.unit),
            "" if row.baseline is None else _number(row.baseline, row.unit),
            row.target,
            "" if row.ratio is None else f"{row.ratio:.2f}×",
            {True: "yes", False: "NO", None: ""}[row.met],
            row.note,
        ]
        for row in rows
    ]
    header = ["figure", "measured", "baseline", "target", "ratio", "met", "note"]
    table = render_table(header, cells).splitlines()
    out = table[:2]  # header and rule
    group = None
    for row, line in zip(rows, table[2:], strict=True):
        if row.group != group:
            group = row.group
            out.append(group)
        out.append(line)
    return "\n".join(out)


# --------------------------------------------------------------------------- running


def load_result(path: Path) -> Document | None:
    """A benchmark's JSON document, or None when it wrote none (or a broken one)."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return document if isinstance(document, dict) else None


def run_bench(bench: Bench, quick: bool, folder: Path, verbose: bool) -> Document | None:
    """Run one benchmark to completion, its output teed to ``folder/NAME.log``."""
    out = folder / f"{bench.name}.json"
    log = folder / f"{bench.name}.log"
    argv = [sys.executable, str(BENCH_DIR / bench.script), "--json", str(out)]
    if quick:
        argv += bench.quick_args
    started = time.monotonic()
    print(f"  {bench.name:<16} ({bench.about}) ...", end="", flush=True)
    with log.open("w", encoding="utf-8") as sink:
        proc = subprocess.Popen(
            argv,
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        assert proc.stdout is not None
        if verbose:
            print(flush=True)
        for line in proc.stdout:
            sink.write(line)
            if verbose:
                sys.stdout.write("    " + line)
        status = proc.wait()
    elapsed = time.monotonic() - started
    document = load_result(out) if status == 0 else None
    verdict = "done" if document is not None else f"FAILED (exit status {status})"
    print(f" {verdict} in {elapsed:.0f} s", flush=True)
    if document is None:
        tail = log.read_text(encoding="utf-8", errors="replace").splitlines()[-15:]
        print("\n".join("    | " + line for line in tail))
    return document


def selected(only: Sequence[str] | None, skip: Sequence[str] | None) -> list[Bench]:
    """The benchmarks to run, in their fixed order."""
    chosen = set(only) if only else set(NAMES)
    chosen -= set(skip or ())
    return [b for b in BENCHES if b.name in chosen]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="every benchmark in its smoke mode")
    parser.add_argument("--only", action="append", choices=NAMES, help="run only this (repeat)")
    parser.add_argument("--skip", action="append", choices=NAMES, help="do not run this (repeat)")
    parser.add_argument("--json", type=Path, help="also write the table (and raw figures) here")
    parser.add_argument("--logs", type=Path, help="folder for each benchmark's output and JSON")
    parser.add_argument("-v", "--verbose", action="store_true", help="show every output too")
    args = parser.parse_args(argv)
    benches = selected(args.only, args.skip)
    if not benches:
        parser.error("nothing to run")
    folder = args.logs or Path(tempfile.mkdtemp(prefix="aesp-bench-all-"))
    folder.mkdir(parents=True, exist_ok=True)

    machine = machine_lines()
    print("aesp benchmarks against DESIGN §12" + (" (quick mode)" if args.quick else ""))
    print("\n".join(machine))
    started = time.monotonic()
    results = {b.name: run_bench(b, args.quick, folder, args.verbose) for b in benches}
    rows = assemble(results)
    print()
    print(render(rows))
    remarks = notes(results)
    if remarks:
        print("\nnotes:")
        print("\n".join(f"  - {remark}" for remark in remarks))
    missed = [r.figure for r in rows if r.met is False]
    print(
        f"\n{sum(r.met is True for r in rows)} targets met, {len(missed)} missed; "
        f"{time.monotonic() - started:.0f} s in all; every benchmark's output is in {folder}"
    )
    if args.json:
        document = {
            "quick": args.quick,
            "machine": machine,
            "rows": [asdict(r) for r in rows],
            "notes": remarks,
            "results": results,
        }
        args.json.write_text(json.dumps(document, indent=2, allow_nan=False) + "\n")
    return 0 if all(doc is not None for doc in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
