"""Governed call vs ungoverned pass-through: latency and throughput (DESIGN §12, first budget line).

Run from the repository root::

    .venv/bin/python bench/call_latency.py            # the full run (about a minute)
    .venv/bin/python bench/call_latency.py --quick    # a smoke run (a few seconds of load)
    .venv/bin/python bench/call_latency.py --profile  # also sample both middle processes with py-spy

Two 3-process topologies run side by side, every hop mutual TLS 1.3:

* client: this process, raw generated stubs over ``grpc.aio`` (one channel per topology);
* middle: (A) the real Host, ``python -m aesp serve`` (STRICT, a manifest holding the ``echo``
  contract, audit log on disk with fsync'd group commit), or (B) ``bench/passthrough.py``, a
  forwarder with no governance at all;
* runtime: ``python -m aesp runtime bench/bench_tools.py``, the real Runtime SDK serving
  ``echo(x: int) -> int``.

After a warm-up, each figure is measured for A and B in turn (the order alternates between
figures so that drift of the machine does not favour one side): sequential calls (concurrency
1), 16 concurrent callers, and throughput of 64 concurrent callers over a fixed time. See
``bench/README.md`` for what each figure means. The benchmark prints figures; it never fails.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import math
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import grpc.aio
from _common import (
    BENCH_DIR,
    Child,
    ChildFailed,
    LatencyStats,
    Noise,
    Profile,
    cpu_seconds,
    machine_lines,
    py_spy,
    render_table,
    rss_mib,
)
from _figures import write_figures
from bench_tools import ECHO_CONTRACT

from aesp.certs import init_dev_pki
from aesp.core.audit_export import read_events
from aesp.proto.altar.adm.v1 import adm_pb2
from aesp.proto.altar.aesp.v1 import host_pb2_grpc
from aesp.proto.altar.grid.v1 import grid_pb2

READY_LINE = (
    r"ready: clients on (?P<ch>[^\s:]+):(?P<cp>\d+), runtimes on (?P<rh>[^\s:]+):(?P<rp>\d+)"
)
CALL_TIMEOUT_S = 30.0
LATENCY_TARGET = 1.10  # governed p50 / pass-through p50 at most (DESIGN §12)
THROUGHPUT_TARGET = 0.90  # governed calls/s / pass-through calls/s at least


@dataclass(frozen=True)
class Settings:
    warmup_calls: int
    warmup_seconds: float
    calls_c1: int
    calls_c16: int
    seconds_c64: float
    profile_seconds: float
    rounds: int

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Settings:
        quick = args.quick
        return cls(
            warmup_calls=args.warmup if args.warmup is not None else (100 if quick else 500),
            warmup_seconds=0.5 if quick else 2.0,
            calls_c1=args.calls if args.calls is not None else (200 if quick else 2000),
            calls_c16=args.calls16 if args.calls16 is not None else (800 if quick else 8000),
            seconds_c64=args.duration if args.duration is not None else (2.0 if quick else 10.0),
            profile_seconds=3.0 if quick else 10.0,
            rounds=max(1, args.rounds),
        )


# --------------------------------------------------------------------------- one topology


@dataclass
class Variant:
    """One topology as the client sees it: a middle process, its Runtime, a channel."""

    name: str
    middle: Child
    runtime: Child
    client_target: str
    channel: grpc.aio.Channel | None = None
    stub: host_pb2_grpc.GridClientServiceStub | None = None
    session_id: str = ""
    _ids: itertools.count[int] = field(default_factory=itertools.count)
    results: dict[str, list[LatencyStats]] = field(default_factory=dict)
    cpu_per_call_us: dict[str, list[float]] = field(default_factory=dict)
    middle_rss_mib: float = math.nan

    def figure(self, phase: str, attribute: str) -> float:
        """Median over the rounds of one figure (``p50_us``, ``p99_us`` or ``rate``)."""
        return _median([getattr(s, attribute) for s in self.results.get(phase, [])])

    def cpu(self, phase: str, process: str) -> float:
        """Median over the rounds of a process's CPU µs per call in a phase."""
        return _median(self.cpu_per_call_us.get(f"{phase}:{process}", []))

    @property
    def errors(self) -> int:
        return sum(s.errors for stats in self.results.values() for s in stats)

    async def open(self, credentials: grpc.ChannelCredentials) -> None:
        self.channel = grpc.aio.secure_channel(self.client_target, credentials)
        self.stub = host_pb2_grpc.GridClientServiceStub(self.channel)

    async def create_session(self, timeout: float) -> None:
        assert self.stub is not None
        deadline = time.monotonic() + timeout
        while True:
            self.middle.check_alive()
            try:
                response = await self.stub.CreateSession(
                    grid_pb2.CreateSession(ttl_seconds=3600), timeout=5
                )
            except grpc.aio.AioRpcError as exc:
                if time.monotonic() > deadline:
                    raise ChildFailed(
                        f"{self.name}: CreateSession failed: {exc.details()}"
                    ) from exc
                await asyncio.sleep(0.05)
                continue
            if response.error.type:
                raise ChildFailed(f"{self.name}: CreateSession refused: {response.error.message}")
            self.session_id = response.session_id
            return

    async def call(self, x: int) -> bool:
        """One echo call; True when it came back as SUCCESS with ``x``."""
        assert self.stub is not None
        request = grid_pb2.ToolCall(
            session_id=self.session_id,
            call=adm_pb2.FunctionCall(
                call_id=f"c{next(self._ids)}", name="echo", args=b'{"x":%d}' % x
            ),
        )
        response = await self.stub.CallTool(request, timeout=CALL_TIMEOUT_S)
        result = response.result.result
        return (
            response.WhichOneof("outcome") == "result"
            and result.status == adm_pb2.SUCCESS
            and result.content == b"%d" % x
        )

    async def wait_ready(self, timeout: float) -> float:
        """Call until the Runtime is connected and fulfilling (the first SUCCESS); seconds."""
        started = time.monotonic()
        while True:
            self.middle.check_alive()
            self.runtime.check_alive()
            try:
                if await self.call(0):
                    return time.monotonic() - started
            except grpc.aio.AioRpcError:
                pass
            if time.monotonic() - started > timeout:
                raise ChildFailed(
                    f"{self.name}: no successful call within {timeout:.0f} s; runtime log:\n"
                    f"{self.runtime.tail()}"
                )
            await asyncio.sleep(0.05)

    async def close(self) -> None:
        if self.channel is not None:
            await self.channel.close()


# --------------------------------------------------------------------------- load


async def run_calls(variant: Variant, total: int, concurrency: int) -> LatencyStats:
    """``total`` calls by ``concurrency`` callers; latency of each."""
    latencies: list[int] = []
    errors = 0
    numbers = iter(range(total))

    async def caller() -> None:
        nonlocal errors
        for x in numbers:
            started = time.perf_counter_ns()
            try:
                ok = await variant.call(x)
            except grpc.aio.AioRpcError:
                ok = False
            if ok:
                latencies.append(time.perf_counter_ns() - started)
            else:
                errors += 1

    started = time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(concurrency)))
    return LatencyStats.of(latencies, errors, time.perf_counter() - started)


async def run_for(variant: Variant, seconds: float, concurrency: int) -> LatencyStats:
    """``concurrency`` callers for ``seconds``; calls completed per second of wall time."""
    latencies: list[int] = []
    errors = 0
    counter = itertools.count()
    deadline = time.perf_counter() + seconds

    async def caller() -> None:
        nonlocal errors
        while time.perf_counter() < deadline:
            x = next(counter)
            started = time.perf_counter_ns()
            try:
                ok = await variant.call(x)
            except grpc.aio.AioRpcError:
                ok = False
            if ok:
                latencies.append(time.perf_counter_ns() - started)
            else:
                errors += 1

    started = time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(concurrency)))
    return LatencyStats.of(latencies, errors, time.perf_counter() - started)


@dataclass(frozen=True)
class Phase:
    key: str
    label: str
    run: Callable[[Variant], Awaitable[LatencyStats]]


def _phases(s: Settings) -> list[Phase]:
    return [
        Phase("c1", f"{s.calls_c1} sequential calls", lambda v: run_calls(v, s.calls_c1, 1)),
        Phase("c16", f"{s.calls_c16} calls, 16 callers", lambda v: run_calls(v, s.calls_c16, 16)),
        Phase("c64", f"{s.seconds_c64:g} s, 64 callers", lambda v: run_for(v, s.seconds_c64, 64)),
    ]


async def measure(
    variants: list[Variant], settings: Settings, client_pems: tuple[bytes, ...]
) -> None:
    ca, cert, key = client_pems
    credentials = grpc.ssl_channel_credentials(
        root_certificates=ca, private_key=key, certificate_chain=cert
    )
    try:
        for v in variants:
            await v.open(credentials)
            await v.create_session(timeout=20)
            waited = await v.wait_ready(timeout=30)
            print(f"  {v.name}: first successful call after {waited:.2f} s", flush=True)
        for v in variants:
            await run_calls(v, settings.warmup_calls, 1)
            await run_for(v, settings.warmup_seconds, 64)
        print(
            f"  warm-up done ({settings.warmup_calls} calls + {settings.warmup_seconds:g} s at c=64 each)"
        )
        step = 0
        for round_no in range(1, settings.rounds + 1):
            for phase in _phases(settings):
                order = variants if step % 2 == 0 else list(reversed(variants))
                step += 1
                for v in order:
                    pids = {"client": None, "middle": v.middle.pid, "runtime": v.runtime.pid}
                    before = {k: _cpu(p) for k, p in pids.items()}
                    stats = await phase.run(v)
                    after = {k: _cpu(p) for k, p in pids.items()}
                    v.results.setdefault(phase.key, []).append(stats)
                    for k in pids:
                        v.cpu_per_call_us.setdefault(f"{phase.key}:{k}", []).append(
                            (after[k] - before[k]) / stats.count * 1e6 if stats.count else math.nan
                        )
                    print(
                        f"  round {round_no} {phase.label:<24} {v.name:<13} {stats.count:>6} ok, "
                        f"{stats.errors} errors, p50 {stats.p50_us:6.0f} µs, "
                        f"p99 {stats.p99_us:6.0f} µs, {stats.rate:5.0f} calls/s",
                        flush=True,
                    )
                    v.middle.check_alive()
                    v.runtime.check_alive()
    finally:
        for v in variants:
            await v.close()


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else math.nan


def _cpu(pid: int | None) -> float:
    return cpu_seconds(pid) if pid is not None else time.process_time()


async def profile(
    variants: list[Variant], settings: Settings, client_pems: tuple[bytes, ...], out_dir: Path
) -> None:
    """Sample each middle process with py-spy (native frames too) while 64 callers load it.

    Native sampling has to pause the process for each sample, so throughput drops while it
    runs; the shares are what count. They are turned into µs per call with the middle
    process's CPU per call measured, unprofiled, in the concurrency-64 phase.
    """
    exe = py_spy()
    if exe is None:
        print("\nprofile: py-spy is not installed (pip install py-spy); no profile taken")
        return
    ca, cert, key = client_pems
    credentials = grpc.ssl_channel_credentials(
        root_certificates=ca, private_key=key, certificate_chain=cert
    )
    seconds = settings.profile_seconds
    for v in variants:
        await v.open(credentials)
        raw = out_dir / f"profile-{v.name}.txt"
        spy = Child(
            f"py-spy ({v.name})",
            [
                exe, "record", "--pid", str(v.middle.pid), "--duration", f"{seconds:g}",
                "--rate", "200", "--native", "--format", "raw", "--output", str(raw),
            ],
            out_dir / f"py-spy-{v.name}.log",
        )  # fmt: skip
        try:
            await asyncio.sleep(0.5)  # let py-spy attach
            stats = await run_for(v, seconds + 1.0, 64)
            await asyncio.to_thread(spy.proc.wait, 60)
        finally:
            spy.stop()
            await v.close()
        cpu = v.cpu("c64", "middle")
        print(
            f"\nprofile of the {v.name} middle process, 64 callers "
            f"({stats.rate:.0f} calls/s while sampled; unprofiled CPU {cpu:.0f} µs/call):"
        )
        if raw.is_file():
            print(Profile.from_raw(raw).report(cpu_per_call_us=cpu))
            print(f"  raw stacks: {raw}")
        else:
            print(f"  py-spy wrote no profile:\n{spy.tail()}")


# --------------------------------------------------------------------------- the disk's floor


def sync_floor_us(directory: Path, appends: int = 200) -> float:
    """p50 µs of one 300-byte append + fdatasync in ``directory`` (the governed Host's disk).

    Why: C-36 makes every governed call wait for its START record to be on stable storage
    before dispatch, and at concurrency 1 no other call shares that flush. So this is a floor
    under the governed latency that no code change can remove; the pass-through pays nothing.
    """
    sync = getattr(os, "fdatasync", os.fsync)
    path = directory / "sync-probe.bin"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    times: list[float] = []
    try:
        for _ in range(appends):
            os.write(fd, b"x" * 300)
            started = time.perf_counter()
            sync(fd)
            times.append((time.perf_counter() - started) * 1e6)
    finally:
        os.close(fd)
        path.unlink(missing_ok=True)
    return statistics.median(times)


# --------------------------------------------------------------------------- report


def _ratio(governed: float, passthrough: float) -> float:
    return governed / passthrough if passthrough else float("nan")


def report(governed: Variant, passthrough: Variant) -> str:
    rows: list[list[str]] = []

    def latency(key: str, which: str, label: str, target: bool) -> None:
        g = governed.figure(key, which)
        p = passthrough.figure(key, which)
        r = _ratio(g, p)
        rows.append(
            [
                label,
                f"{g:,.0f} µs",
                f"{p:,.0f} µs",
                f"{r:.2f}×",
                f"≤ {LATENCY_TARGET:.2f}×" if target else "(p50 only)",
                ("yes" if r <= LATENCY_TARGET else "NO") if target else "",
            ]
        )

    latency("c1", "p50_us", "latency p50, concurrency 1", True)
    latency("c1", "p99_us", "latency p99, concurrency 1", False)
    latency("c16", "p50_us", "latency p50, concurrency 16", True)
    latency("c16", "p99_us", "latency p99, concurrency 16", False)
    g, p = governed.figure("c64", "rate"), passthrough.figure("c64", "rate")
    r = _ratio(g, p)
    rows.append(
        [
            "throughput, concurrency 64",
            f"{g:,.0f} /s",
            f"{p:,.0f} /s",
            f"{r:.2f}×",
            f"≥ {THROUGHPUT_TARGET:.2f}×",
            "yes" if r >= THROUGHPUT_TARGET else "NO",
        ]
    )
    for who in ("middle", "runtime", "client"):
        g = governed.cpu("c64", who)
        p = passthrough.cpu("c64", who)
        rows.append(
            [
                f"{who} CPU per call at c=64",
                f"{g:,.0f} µs",
                f"{p:,.0f} µs",
                f"{_ratio(g, p):.2f}×",
                "",
                "",
            ]
        )
    g, p = governed.middle_rss_mib, passthrough.middle_rss_mib
    rows.append(
        [
            "middle RSS after the run",
            f"{g:,.0f} MiB",
            f"{p:,.0f} MiB",
            f"{_ratio(g, p):.2f}×",
            "",
            "",
        ]
    )
    header = ["figure", "governed", "pass-through", "ratio", "DESIGN §12", "met"]
    return render_table(header, rows)


def variant_figures(v: Variant) -> dict[str, float]:
    """One topology's figures for ``--json`` (medians over the rounds)."""
    figures = {
        f"{key}_{which}": v.figure(key, attribute)
        for key in ("c1", "c16")
        for which, attribute in (("p50_us", "p50_us"), ("p99_us", "p99_us"))
    }
    figures["c64_calls_per_s"] = v.figure("c64", "rate")
    for who in ("middle", "runtime", "client"):
        figures[f"c64_{who}_cpu_us_per_call"] = v.cpu("c64", who)
    figures["middle_rss_mib"] = v.middle_rss_mib
    return figures


# --------------------------------------------------------------------------- set-up


# The governed Host decides RBAC for every call: the bench client holds one role. The
# gateway's rate limits still take a token per call, with buckets large enough never to refuse.
BENCH_ACCESS = """
[gateway]
principal_rate_per_s = 1000000.0
principal_burst = 1000000
tenant_rate_per_s = 1000000.0
tenant_burst = 1000000

[access]
[access.group_roles]
"certificate:client" = ["bench"]
[access.group_clearance]
"certificate:client" = "INTERNAL"
[[access.roles]]
name = "bench"
permissions = ["tool:echo:invoke"]
"""


def _write_host_files(root: Path, pki: Path) -> Path:
    manifest = root / "manifest.json"
    manifest.write_text(
        json.dumps({"manifest_version": "1.0.0", "contracts": [ECHO_CONTRACT]}, indent=2),
        encoding="utf-8",
    )
    config = root / "host.toml"
    config.write_text(
        "\n".join(
            [
                "[host]",
                'mode = "STRICT"',
                f'manifest_path = "{manifest}"',
                'client_listen = "127.0.0.1:0"',
                'runtime_listen = "127.0.0.1:0"',
                f'data_dir = "{root / "data"}"',
                "",
                "[tls]",
                f'ca = "{pki / "ca.pem"}"',
                f'cert = "{pki / "host.pem"}"',
                f'key = "{pki / "host.key"}"',
                "",
            ]
        )
        + BENCH_ACCESS,
        encoding="utf-8",
    )
    return config


def _start_topologies(
    root: Path, pki: Path, no_tls13_gate: bool
) -> tuple[list[Child], list[Variant]]:
    py = sys.executable
    tools = str(BENCH_DIR / "bench_tools.py")
    children: list[Child] = []

    def runtime(name: str, target: str) -> Child:
        child = Child(
            f"runtime ({name})",
            [
                py,
                "-m",
                "aesp",
                "runtime",
                tools,
                "--target",
                target,
                "--pki",
                str(pki),
                "--name",
                "bench",
                "--runtime-id",
                f"bench-{name}",
            ],
            root / f"runtime-{name}.log",
        )
        children.append(child)
        return child

    config = _write_host_files(root, pki)
    host = Child("host", [py, "-m", "aesp", "serve", "--config", str(config)], root / "host.log")
    children.append(host)
    passthrough_argv = [
        py,
        str(BENCH_DIR / "passthrough.py"),
        "--ca",
        str(pki / "ca.pem"),
        "--cert",
        str(pki / "host.pem"),
        "--key",
        str(pki / "host.key"),
    ]
    if no_tls13_gate:
        passthrough_argv.append("--no-tls13-gate")
    forwarder = Child("pass-through", passthrough_argv, root / "passthrough.log")
    children.append(forwarder)

    variants = []
    for name, middle in (("governed", host), ("pass-through", forwarder)):
        ready = middle.wait_for_line(READY_LINE, timeout=30)
        rt = runtime(name, f"{ready['rh']}:{ready['rp']}")
        variants.append(Variant(name, middle, rt, f"{ready['ch']}:{ready['cp']}"))
    return children, variants


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Governed call vs ungoverned pass-through.")
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument("--calls", type=int, help="sequential calls (default 2000; quick 200)")
    parser.add_argument("--calls16", type=int, help="calls at concurrency 16 (default 8000)")
    parser.add_argument("--duration", type=float, help="seconds at concurrency 64 (default 10)")
    parser.add_argument("--warmup", type=int, help="warm-up calls per topology (default 500)")
    parser.add_argument(
        "--rounds", type=int, default=1, help="repeat every figure; the table shows medians"
    )
    parser.add_argument(
        "--profile", action="store_true", help="sample the middle processes with py-spy afterwards"
    )
    parser.add_argument(
        "--no-tls13-gate",
        action="store_true",
        help="pass-through without the Host's per-call TLS 1.3 check",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the temporary folder (logs, audit log, profiles)"
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    settings = Settings.from_args(args)

    print(
        "aesp call latency: governed Host vs ungoverned pass-through (client, middle, runtime; mTLS)"
    )
    for line in machine_lines():
        print(line)
    root = Path(tempfile.mkdtemp(prefix="aesp-bench-"))
    children: list[Child] = []
    try:
        pki_dir = root / "pki"
        pki = init_dev_pki(pki_dir, runtimes=["bench"], clients=["bench"])
        cert, key = pki.client("bench")
        client_pems = (pki.ca.read_bytes(), cert.read_bytes(), key.read_bytes())
        started = time.monotonic()
        children, variants = _start_topologies(root, pki_dir, args.no_tls13_gate)
        print(f"  processes started: {', '.join(f'{c.name} pid {c.pid}' for c in children)}")
        noise = Noise([os.getpid(), *(c.pid for c in children)])
        asyncio.run(measure(variants, settings, client_pems))
        others, stolen = noise.summary()
        for v in variants:
            v.middle_rss_mib = rss_mib(v.middle.pid)
        governed, passthrough = variants
        audit = root / "data" / "audit.jsonl"
        events = sum(1 for _ in read_events(audit)) if audit.is_file() else 0
        calls = next(governed._ids)
        print(
            f"  governed audit log: {events} events for {calls} calls, fsync'd to {audit.name} "
            f"({time.monotonic() - started:.0f} s since start)"
        )
        sync_us = sync_floor_us(root / "data")
        floor_share = sync_us / passthrough.figure("c1", "p50_us") if sync_us else float("nan")
        print(
            f"  C-36 floor: a call's START record is durable before dispatch; one fdatasync of a "
            f"300-byte append on this disk takes {sync_us:,.0f} µs (p50), "
            f"{floor_share:.0%} of the pass-through's p50 at concurrency 1"
        )
        errors = sum(v.errors for v in variants)
        print()
        if settings.rounds > 1:
            print(f"median of {settings.rounds} rounds:")
        print(report(governed, passthrough))
        print(
            f"\nwhile measuring, other processes used {others:.2f} CPUs on average and the "
            f"hypervisor stole {stolen:.2f}"
        )
        if others > 0.2 or stolen > 0.2:
            print("WARNING: the machine was not quiet; figures (ratios included) are unreliable")
        if errors:
            print(f"WARNING: {errors} calls failed; see the logs (run with --keep)")
        if args.json:
            write_figures(
                args.json,
                "call_latency",
                {
                    **{v.name: variant_figures(v) for v in variants},
                    "sync_p50_us": sync_us,
                },
                quick=args.quick,
                rounds=settings.rounds,
                failed_calls=errors,
                others_cpus=others,
                stolen_cpus=stolen,
            )
        if args.profile:
            asyncio.run(profile(variants, settings, client_pems, root))
    except ChildFailed as exc:
        print(f"benchmark could not run: {exc}", file=sys.stderr)
        return 1
    finally:
        for child in reversed(children):  # runtimes first, then the middle processes
            status = child.stop()
            if status not in (0, None):
                print(f"  {child.name} exited with status {status}", file=sys.stderr)
        if args.keep or args.profile:
            print(f"\nfiles kept in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
