"""Host memory with 10,000 live sessions (DESIGN §12 lists the figure; it sets no target).

Why: a Host keeps every live session in memory (identity, tenant, expiry, dynamic tools), and
every CreateSession is audited, so the resident memory a session costs decides how many agents
one Host can serve. This measures it through the real path:

1. the Host of ``bench/call_latency.py`` (``python -m aesp serve``, local profile, STRICT, the
   audit log on disk) is started and waited for;
2. this process connects with the Client SDK (``aesp.client.AsyncClient``, mutual TLS 1.3 with
   a client certificate) and creates one session, so the connection and the code paths are
   warm; the Host's resident memory (``VmRSS`` from ``/proc``) is read: *before*;
3. N sessions (default 10,000) are created, ``--batch`` at a time concurrently, each with a TTL
   of one hour so all stay live; after a pause for the audit log's group commit and
   checkpoints, ``VmRSS`` is read again: *after*;
4. ``list_tools`` on a sample of the sessions proves they are live on the Host.

Run::

    .venv/bin/python bench/sessions_memory.py              # 10,000 sessions
    .venv/bin/python bench/sessions_memory.py --quick      # 2,000 sessions

Figures, not a test: it never exits non-zero because of a figure.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

from _common import Child, ChildFailed, machine_lines, render_table, rss_mib
from _figures import write_figures
from call_latency import READY_LINE, _write_host_files

from aesp.certs import init_dev_pki
from aesp.client import AespClientError, AsyncClient

SESSION_TTL_S = 3600
SAMPLE = 100  # sessions checked with list_tools afterwards
SETTLE_S = 1.5  # > the audit log's 1000 ms checkpoint interval


async def create_sessions(client: AsyncClient, count: int, batch: int) -> tuple[list[str], int]:
    """``count`` sessions, ``batch`` concurrent CreateSession calls at a time; (ids, failures)."""
    ids: list[str] = []
    failures = 0
    for start in range(0, count, batch):
        size = min(batch, count - start)
        outcomes = await asyncio.gather(
            *(client.create_session(ttl_seconds=SESSION_TTL_S) for _ in range(size)),
            return_exceptions=True,
        )
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                failures += 1
            else:
                ids.append(outcome.session_id)
    return ids, failures


async def measure(
    host: Child, target: str, pems: tuple[bytes, bytes, bytes], count: int, batch: int
) -> dict[str, float]:
    """Steps 2-4 of the module docstring; the figures."""
    ca, cert, key = pems
    async with AsyncClient(target, ca=ca, cert=cert, key=key) as client:
        deadline = time.monotonic() + 30
        while True:  # the ready line precedes nothing else, but be patient with a slow machine
            try:
                await client.create_session(ttl_seconds=SESSION_TTL_S)
                break
            except AespClientError:
                host.check_alive()
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.1)
        await asyncio.sleep(SETTLE_S)
        before = rss_mib(host.pid)
        t0 = time.perf_counter()
        ids, failures = await create_sessions(client, count, batch)
        elapsed = time.perf_counter() - t0
        await asyncio.sleep(SETTLE_S)
        after = rss_mib(host.pid)
        host.check_alive()
        sample = random.Random(1).sample(ids, min(SAMPLE, len(ids)))
        live = 0
        for session_id in sample:
            try:
                await client.list_tools(session_id)
                live += 1
            except AespClientError:
                pass
    created = len(set(ids))
    return {
        "sessions": created,
        "failures": failures,
        "create_per_s": created / elapsed if elapsed else float("nan"),
        "rss_before_mib": before,
        "rss_after_mib": after,
        "rss_growth_mib": after - before,
        "kib_per_session": (after - before) * 1024 / created if created else float("nan"),
        "sample_checked": len(sample),
        "sample_live": live,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sessions", type=int, help="sessions to create (default 10,000; quick 2,000)"
    )
    parser.add_argument("--batch", type=int, default=200, help="concurrent CreateSession calls")
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (logs)")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    count = args.sessions if args.sessions is not None else (2_000 if args.quick else 10_000)

    print(f"aesp Host memory with {count:,} live sessions (local profile, mTLS clients)")
    for line in machine_lines():
        print(line)
    root = Path(tempfile.mkdtemp(prefix="aesp-bench-sessions-"))
    host: Child | None = None
    try:
        pki_dir = root / "pki"
        pki = init_dev_pki(pki_dir, runtimes=["bench"], clients=["bench"])
        cert, key = pki.client("bench")
        pems = (pki.ca.read_bytes(), cert.read_bytes(), key.read_bytes())
        config = _write_host_files(root, pki_dir)
        host = Child(
            "host",
            [sys.executable, "-m", "aesp", "serve", "--config", str(config)],
            root / "host.log",
        )
        ready = host.wait_for_line(READY_LINE, timeout=60)
        figures = asyncio.run(
            measure(host, f"{ready['ch']}:{ready['cp']}", pems, count, args.batch)
        )
    except ChildFailed as exc:
        print(f"benchmark could not run: {exc}", file=sys.stderr)
        return 1
    finally:
        if host is not None:
            host.stop()
        if args.keep:
            print(f"files kept in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)

    print()
    print(
        render_table(
            ["figure", "value"],
            [
                ["sessions created (distinct ids)", f"{figures['sessions']:,.0f}"],
                ["CreateSession failures", f"{figures['failures']:,.0f}"],
                [f"CreateSession rate ({args.batch} at a time)", f"{figures['create_per_s']:,.0f} /s"],
                ["Host RSS before (1 session)", f"{figures['rss_before_mib']:,.1f} MiB"],
                [f"Host RSS with {figures['sessions']:,.0f} more", f"{figures['rss_after_mib']:,.1f} MiB"],
                ["growth", f"{figures['rss_growth_mib']:,.1f} MiB"],
                ["per session", f"{figures['kib_per_session']:,.2f} KiB"],
                ["live in a sample (list_tools)", f"{figures['sample_live']:.0f}/{figures['sample_checked']:.0f}"],
            ],
        )
    )  # fmt: skip
    print(
        "\nRSS includes what each CreateSession leaves behind besides the session itself "
        "(its audit events' in-memory tree leaves, allocator slack); no DESIGN target."
    )
    if args.json:
        write_figures(args.json, "sessions_memory", figures, quick=args.quick, batch=args.batch)
    return 0


if __name__ == "__main__":
    sys.exit(main())
