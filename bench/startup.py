"""Host start-up to the first served call, local profile (DESIGN §12: ≤ 1.5 s).

Why: an operator restarting a Host, or a newcomer running it for the first time, waits for
exactly this: from ``aesp serve`` being started to the first call an agent gets answered. The
topology is ``bench/call_latency.py``'s governed one (client, Host, Runtime; every hop mutual
TLS 1.3; STRICT mode; the ``echo`` contract; the audit log on disk, fsync'd), started afresh N
times, each time with an empty data folder:

1. ``t = 0``: the Host process is spawned (``python -m aesp serve --config host.toml``);
2. *ready*: its ``aesp host ready: clients on ..., runtimes on ...`` line appears (the log is
   polled every 5 ms); the Runtime (``python -m aesp runtime bench/bench_tools.py``) is spawned
   at that moment, since it needs the port the Host picked, and the client (this process, its
   channel already open) creates a session;
3. *first served call*: the first ``CallTool`` that comes back ``SUCCESS`` with the right value
   (the client calls every 5 ms until the Runtime has connected and fulfilled ``echo``).

The DESIGN figure is the median of (3); the maximum, (2) and the Runtime's share (3 - 2) are
printed beside it, with the wall time of ``python -c "import aesp.server.app"`` (the import
cost every start pays) as a reference.

Run::

    .venv/bin/python bench/startup.py            # 10 starts
    .venv/bin/python bench/startup.py --quick    # 3 starts

Figures, not a test: it never exits non-zero because a figure misses its budget.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import grpc
import grpc.aio
from _common import BENCH_DIR, Child, ChildFailed, cpu_seconds, machine_lines, render_table
from _figures import write_figures
from call_latency import READY_LINE, Variant, _write_host_files

from aesp.certs import init_dev_pki

TARGET_S = 1.5  # DESIGN §12: host start-up to first served call, local profile
POLL_S = 0.005


@dataclass(frozen=True)
class Start:
    """One cold start, in seconds from the Host's spawn."""

    ready_s: float
    first_call_s: float
    host_cpu_at_ready_s: float

    @property
    def runtime_share_s(self) -> float:
        return self.first_call_s - self.ready_s


def _wait_ready(host: Child, t0: float, timeout: float) -> tuple[re.Match[str], float]:
    """Poll the Host's log for the ready line; (match, seconds since ``t0``)."""
    regex = re.compile(READY_LINE)
    while True:
        match = regex.search(host.output())
        if match:
            return match, time.perf_counter() - t0
        host.check_alive()
        if time.perf_counter() - t0 > timeout:
            raise ChildFailed(f"host was not ready within {timeout:.0f} s:\n{host.tail()}")
        time.sleep(POLL_S)


async def _first_success(variant: Variant, t0: float, timeout: float) -> float:
    """Create a session, then call until the first SUCCESS; seconds since ``t0``."""
    await variant.create_session(timeout=timeout)
    while True:
        try:
            if await variant.call(1):
                return time.perf_counter() - t0
        except grpc.aio.AioRpcError:
            pass
        variant.middle.check_alive()
        variant.runtime.check_alive()
        if time.perf_counter() - t0 > timeout:
            raise ChildFailed(
                f"no successful call within {timeout:.0f} s:\n{variant.runtime.tail()}"
            )
        await asyncio.sleep(POLL_S)


async def one_start(run_dir: Path, pki_dir: Path, credentials: grpc.ChannelCredentials) -> Start:
    """Spawn a Host and a Runtime, serve one call, stop both; the timings of that start."""
    run_dir.mkdir(parents=True)
    config = _write_host_files(run_dir, pki_dir)
    py = sys.executable
    children: list[Child] = []
    try:
        t0 = time.perf_counter()
        host = Child(
            "host", [py, "-m", "aesp", "serve", "--config", str(config)], run_dir / "host.log"
        )
        children.append(host)
        ready, ready_s = await asyncio.to_thread(_wait_ready, host, t0, 60.0)
        host_cpu = cpu_seconds(host.pid)
        runtime = Child(
            "runtime",
            [
                py, "-m", "aesp", "runtime", str(BENCH_DIR / "bench_tools.py"),
                "--target", f"{ready['rh']}:{ready['rp']}", "--pki", str(pki_dir),
                "--name", "bench", "--runtime-id", "bench-startup",
            ],
            run_dir / "runtime.log",
        )  # fmt: skip
        children.append(runtime)
        variant = Variant("governed", host, runtime, f"{ready['ch']}:{ready['cp']}")
        await variant.open(credentials)
        try:
            first_s = await _first_success(variant, t0, 60.0)
        finally:
            await variant.close()
        return Start(ready_s, first_s, host_cpu)
    finally:
        for child in reversed(children):
            status = child.stop()
            if status not in (0, None):
                print(f"  {child.name} exited with status {status}", file=sys.stderr)


def import_seconds() -> float:
    """Wall time of a fresh interpreter importing the Host's server module."""
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import aesp.server.app"], check=True)
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--starts", type=int, help="cold starts (default 10; quick 3)")
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (logs)")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    starts = args.starts if args.starts is not None else (3 if args.quick else 10)

    print("aesp Host start-up to the first served call, local profile (DESIGN §12: ≤ 1.5 s)")
    for line in machine_lines():
        print(line)
    root = Path(tempfile.mkdtemp(prefix="aesp-bench-startup-"))
    try:
        pki_dir = root / "pki"
        pki = init_dev_pki(pki_dir, runtimes=["bench"], clients=["bench"])
        cert, key = pki.client("bench")
        credentials = grpc.ssl_channel_credentials(
            root_certificates=pki.ca.read_bytes(),
            private_key=key.read_bytes(),
            certificate_chain=cert.read_bytes(),
        )
        results: list[Start] = []
        for n in range(starts):
            start = asyncio.run(one_start(root / f"start-{n}", pki_dir, credentials))
            results.append(start)
            print(
                f"  start {n + 1}/{starts}: ready {start.ready_s:.3f} s, first served call "
                f"{start.first_call_s:.3f} s (Host CPU at ready {start.host_cpu_at_ready_s:.2f} s)",
                flush=True,
            )
        imports = [import_seconds() for _ in range(min(starts, 5))]
    except ChildFailed as exc:
        print(f"benchmark could not run: {exc}", file=sys.stderr)
        return 1
    finally:
        if args.keep:
            print(f"files kept in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)

    def stats(values: list[float]) -> dict[str, float]:
        return {"median": statistics.median(values), "min": min(values), "max": max(values)}

    figures = {
        "first_call_s": stats([s.first_call_s for s in results]),
        "ready_s": stats([s.ready_s for s in results]),
        "runtime_share_s": stats([s.runtime_share_s for s in results]),
        "host_cpu_at_ready_s": stats([s.host_cpu_at_ready_s for s in results]),
        "import_server_s": stats(imports),
    }
    labels = {
        "first_call_s": "spawn -> first served call",
        "ready_s": "spawn -> ready line",
        "runtime_share_s": "ready -> first served call (Runtime start, connect, call)",
        "host_cpu_at_ready_s": "Host CPU time used by the ready line",
        "import_server_s": "python -c 'import aesp.server.app' (reference)",
    }
    rows = [
        [label, *(f"{figures[key][q]:.3f}" for q in ("median", "min", "max"))]
        for key, label in labels.items()
    ]
    print()
    print(render_table(["seconds", "median", "min", "max"], rows))
    median = figures["first_call_s"]["median"]
    verdict = "meets" if median <= TARGET_S else "MISSES"
    print(f"\nmedian {median:.3f} s {verdict} the DESIGN §12 target of {TARGET_S} s")
    if args.json:
        write_figures(args.json, "startup", {"starts": starts, **figures}, quick=args.quick)
    return 0


if __name__ == "__main__":
    sys.exit(main())
