"""Audit log: durable appends per second, and the time to verify a million entries (DESIGN §12).

Why: every governed call waits for its START record to be durable (DESIGN §8, C-36), so the
verifiable log must take ≥ 20,000 durable appends/s; and an auditor must be able to check a
log of 1,000,000 entries offline in ≤ 30 s. This measures exactly the code the Host and the
auditor run, in one process:

1. appends: ``FileAuditLog.append(event, durable=True)`` from C concurrent coroutines for a
   fixed time (group commit: one write + fsync per batch of whatever was queued), with the
   START event the pipeline writes, spread over five tenants; checkpoints by count and time
   as configured by default (every 1000 leaves or 1000 ms);
2. verify: ``aesp.core.audit_verify.verify_file`` over a log of N entries written by
   ``FileAuditLog`` (one JSON parse, two canonical encodings, ~2 SHA-256 per line, every
   checkpoint signature);
3. restart: opening ``FileAuditLog`` on that log (it re-reads and re-hashes everything and
   rebuilds the in-memory trees), which is what Host start-up pays on an existing log.

Run::

    .venv/bin/python bench/audit_log.py                      # about 2 minutes
    .venv/bin/python bench/audit_log.py --entries 200000     # smoke run

Figures, not a test: it never exits non-zero because a figure misses its budget.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import machine_lines, percentile, render_table  # noqa: E402
from _figures import write_figures  # noqa: E402

from aesp.core.audit import AuditEvent, FileAuditLog  # noqa: E402
from aesp.core.audit_keys import load_public_key  # noqa: E402
from aesp.core.audit_verify import verify_file  # noqa: E402

TARGET_APPENDS = 20_000  # DESIGN §12: durable appends per second
TARGET_VERIFY_S = 30.0  # DESIGN §12: verify 1,000,000 entries
TENANTS = ("acme", "globex", "initech", "umbrella", "hooli")


def start_event(n: int) -> AuditEvent:
    """A TOOL_INVOCATION_START as the pipeline writes it (principal, session, digests)."""
    tenant = TENANTS[n % len(TENANTS)]
    return AuditEvent(
        event_type="TOOL_INVOCATION_START",
        outcome="SUCCESS",
        action="tool_invocation_start",
        principal_id=f"oidc|https://idp.{tenant}.example|user{n % 50}",
        tenant_id=tenant,
        session_id="sess-5f0c2d3e4a1b47d8a9e6c3b2f1d0e9a8",
        resource="convert_currency",
        correlation_id=f"host-1760000000-{n:08x}",
        metadata={
            "invocation_id": "inv-1c9a3e5f7b2d4068a1c3e5f7b9d1f3a5",
            "args_digest": "sha256:" + "ab" * 32,
        },
    )


class FsyncCounter:
    """Counts ``os.fsync`` calls (one per group-commit batch) while installed."""

    def __init__(self) -> None:
        self.count = 0
        self._real = os.fsync

    def __enter__(self) -> FsyncCounter:
        def counting(fd: int) -> None:
            self.count += 1
            self._real(fd)

        os.fsync = counting
        return self

    def __exit__(self, *exc: object) -> None:
        os.fsync = self._real


async def appends(directory: Path, callers: int, seconds: float) -> list[str]:
    """One row: durable appends/s, latency and batch size with ``callers`` concurrent callers."""
    log = FileAuditLog(directory / "audit.jsonl")
    latencies: list[float] = []
    deadline = time.monotonic() + seconds
    clock = time.perf_counter_ns

    async def caller(k: int) -> None:
        n = k
        while time.monotonic() < deadline:
            t0 = clock()
            await log.append(start_event(n), durable=True)
            latencies.append((clock() - t0) / 1000)
            n += callers

    cpu0 = time.process_time()
    with FsyncCounter() as fsyncs:
        t0 = time.perf_counter()
        await asyncio.gather(*(caller(k) for k in range(callers)))
        elapsed = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    await log.close()
    latencies.sort()
    done = len(latencies)
    return [
        f"durable appends, {callers} callers",
        f"{done / elapsed:,.0f}",
        f"{percentile(latencies, 50):,.0f}",
        f"{percentile(latencies, 99):,.0f}",
        f"{done / max(fsyncs.count, 1):,.1f}",
        f"{cpu / done * 1e6:,.1f}",
    ]


async def write_entries(path: Path, entries: int) -> float:
    """Write ``entries`` events with the real log (durable every 1000) and return seconds."""
    log = FileAuditLog(path)
    t0 = time.perf_counter()
    for n in range(entries):
        await log.append(start_event(n), durable=n % 1000 == 999)
    await log.close()
    return time.perf_counter() - t0


async def reopen(path: Path) -> float:
    """Seconds to open the log again (re-read, re-hash, rebuild every tree)."""
    t0 = time.perf_counter()
    log = FileAuditLog(path)
    elapsed = time.perf_counter() - t0
    await log.close()
    return elapsed


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--callers",
        type=int,
        nargs="+",
        help="per append row (default 16 64 256 1024; quick 64 256)",
    )
    parser.add_argument("--seconds", type=float, help="per append row (default 5; quick 1)")
    parser.add_argument(
        "--entries", type=int, help="log size to verify (default 1,000,000; quick 100,000)"
    )
    parser.add_argument("--dir", type=Path, help="work here (default: a temporary folder)")
    parser.add_argument("--keep", action="store_true", help="keep the logs")
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    opts = parser.parse_args(argv)
    if opts.callers is None:
        opts.callers = [64, 256] if opts.quick else [16, 64, 256, 1024]
    if opts.seconds is None:
        opts.seconds = 1.0 if opts.quick else 5.0
    if opts.entries is None:
        opts.entries = 100_000 if opts.quick else 1_000_000
    root = Path(tempfile.mkdtemp(prefix="aesp-audit-bench-", dir=opts.dir))
    print("audit log: durable appends and offline verification (DESIGN §12)")
    for line in machine_lines():
        print(line)
    print(f"work folder: {root} (fsync per batch on its file system)")
    try:
        rows = []
        for callers in opts.callers:
            directory = root / f"appends-{callers}"
            rows.append(asyncio.run(appends(directory, callers, opts.seconds)))
        print()
        print(
            render_table(
                ["phase", "appends/s", "p50 µs", "p99 µs", "events/fsync", "CPU µs/append"],
                rows,
            )
        )
        print(f"target: ≥ {TARGET_APPENDS:,} durable appends/s")
        big = root / "verify" / "audit.jsonl"
        wrote = asyncio.run(write_entries(big, opts.entries))
        size_mib = big.stat().st_size / 2**20
        t0 = time.perf_counter()
        report = verify_file(big, [load_public_key(big.parent / "audit_signing.pub")])
        verify_s = time.perf_counter() - t0
        rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        reopen_s = asyncio.run(reopen(big))
        print()
        print(
            render_table(
                ["log of N entries", "seconds", "entries/s"],
                [
                    [f"write {opts.entries:,} (durable every 1000)", f"{wrote:.1f}",
                     f"{opts.entries / wrote:,.0f}"],
                    [f"verify {report.leaves:,} leaves + {report.checkpoints:,} checkpoints",
                     f"{verify_s:.1f}", f"{report.leaves / verify_s:,.0f}"],
                    ["restart: FileAuditLog re-reads and rebuilds", f"{reopen_s:.1f}",
                     f"{opts.entries / reopen_s:,.0f}"],
                ],
            )
        )  # fmt: skip
        print(
            f"file {size_mib:,.0f} MiB ({big.stat().st_size / max(report.lines, 1):.0f} B/line); "
            f"verified: {'valid' if report.valid else report.bad}; "
            f"peak RSS of this process {rss_mib:,.0f} MiB"
        )
        print(f"target: verify 1,000,000 entries in ≤ {TARGET_VERIFY_S:.0f} s")
        if opts.json:
            figures: dict[str, object] = {
                "appends": [
                    dict(
                        zip(
                            ("callers", "per_s", "p50_us", "p99_us", "events_per_fsync"),
                            (c, *(float(cell.replace(",", "")) for cell in row[1:5])),
                            strict=True,
                        )
                    )
                    for c, row in zip(opts.callers, rows, strict=True)
                ],
                "entries": opts.entries,
                "write_s": wrote,
                "verify_s": verify_s,
                "verified_leaves": report.leaves,
                "verify_valid": report.valid,
                "restart_s": reopen_s,
                "log_mib": size_mib,
            }
            write_figures(opts.json, "audit_log", figures, quick=opts.quick)
    finally:
        if opts.keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
