"""Helpers shared by the benchmarks: child processes, the machine, statistics, profiles.

Nothing here is collected by pytest (the module name starts with an underscore and ``bench/`` is
outside ``testpaths``).
"""

from __future__ import annotations

import contextlib
import math
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent

# --------------------------------------------------------------------------- child processes


class ChildFailed(RuntimeError):
    """A child process died or never became ready; the message carries its log's tail."""


class Child:
    """A subprocess whose stdout and stderr go to a log file.

    Readiness is a line matching a pattern in that log (polled, so no pipe can fill up and
    block the child, and the benchmark's event loop does no work for it while measuring).
    ``stop`` sends SIGTERM, waits, and only then SIGKILLs.
    """

    def __init__(self, name: str, argv: Sequence[str], log: Path, *, cwd: Path | None = None):
        self.name = name
        self.argv = list(argv)
        self.log = log
        self._log_file = log.open("wb")
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(
            self.argv,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=cwd or REPO_ROOT,
            env=env,
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def output(self) -> str:
        """Everything the child printed so far."""
        try:
            return self.log.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def tail(self, lines: int = 25) -> str:
        return "\n".join(self.output().splitlines()[-lines:])

    def wait_for_line(self, pattern: str, timeout: float) -> re.Match[str]:
        """Wait until the log has a line matching ``pattern``; raise ChildFailed otherwise."""
        regex = re.compile(pattern, re.MULTILINE)
        deadline = time.monotonic() + timeout
        while True:
            match = regex.search(self.output())
            if match:
                return match
            if self.proc.poll() is not None:
                raise ChildFailed(
                    f"{self.name} exited with status {self.proc.returncode} before it was ready:\n"
                    f"{self.tail()}"
                )
            if time.monotonic() > deadline:
                raise ChildFailed(
                    f"{self.name} was not ready within {timeout:.0f} s:\n{self.tail()}"
                )
            time.sleep(0.02)

    def check_alive(self) -> None:
        if self.proc.poll() is not None:
            raise ChildFailed(
                f"{self.name} exited with status {self.proc.returncode}:\n{self.tail()}"
            )

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM, wait up to ``timeout`` s, then SIGKILL; returns the exit status."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                print(
                    f"  {self.name} ignored SIGTERM for {timeout:.0f} s; killing it",
                    file=sys.stderr,
                )
                with contextlib.suppress(ProcessLookupError):
                    self.proc.kill()
                self.proc.wait(5)
        self._log_file.close()
        return self.proc.returncode


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads) so far, from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, IndexError):
        return float("nan")
    ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return ticks / os.sysconf("SC_CLK_TCK")


def rss_mib(pid: int) -> float:
    """Resident memory of a process in MiB (``VmRSS``), NaN when unknown."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    return math.nan


def system_cpu_seconds() -> tuple[float, float]:
    """(busy, steal) CPU seconds of the whole machine so far, from /proc/stat."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except (OSError, IndexError):
        return math.nan, math.nan
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    tick = os.sysconf("SC_CLK_TCK")
    return (user + nice + system) / tick, steal / tick


class Noise:
    """How much CPU the rest of the machine took while we measured (a noisy run warns)."""

    def __init__(self, pids: Sequence[int]) -> None:
        self._pids = list(pids)
        self._start = self._sample()

    def _sample(self) -> tuple[float, float, float, float]:
        busy, steal = system_cpu_seconds()
        ours = sum(cpu_seconds(pid) for pid in self._pids)
        return time.monotonic(), busy, steal, ours

    def summary(self) -> tuple[float, float]:
        """(CPUs used by other processes, CPUs stolen by the hypervisor), on average."""
        t1, busy1, steal1, ours1 = self._sample()
        t0, busy0, steal0, ours0 = self._start
        wall = t1 - t0
        return ((busy1 - busy0) - (ours1 - ours0)) / wall, (steal1 - steal0) / wall


# --------------------------------------------------------------------------- the machine


def machine_lines() -> list[str]:
    """What the figures were measured on."""
    import grpc  # noqa: PLC0415 - only needed here
    from google import protobuf  # noqa: PLC0415

    cpu = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        usable = os.cpu_count() or 0
    return [
        f"machine : nproc {usable} ({cpu}), {platform.system()} {platform.release()}",
        f"python  : {platform.python_implementation()} {platform.python_version()} ({sys.executable})",
        f"grpcio  : {grpc.__version__}, protobuf {protobuf.__version__}",
        f"load    : {_loadavg()} (1, 5, 15 min) before the run",
    ]


def _loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


# --------------------------------------------------------------------------- statistics


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..100) of already sorted values."""
    if not sorted_values:
        return float("nan")
    rank = max(1, min(len(sorted_values), round(q / 100 * len(sorted_values) + 0.5)))
    return sorted_values[rank - 1]


@dataclass
class LatencyStats:
    """Latency figures of one phase, in microseconds."""

    count: int
    errors: int
    p50_us: float
    p99_us: float
    mean_us: float
    elapsed_s: float

    @classmethod
    def of(cls, latencies_ns: Iterable[int], errors: int, elapsed_s: float) -> LatencyStats:
        values = sorted(v / 1000 for v in latencies_ns)
        mean = sum(values) / len(values) if values else float("nan")
        return cls(
            len(values), errors, percentile(values, 50), percentile(values, 99), mean, elapsed_s
        )

    @property
    def rate(self) -> float:
        return self.count / self.elapsed_s if self.elapsed_s else float("nan")


# --------------------------------------------------------------------------- tables


def render_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain-text table: first column left-aligned, the others right-aligned."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        out = [str(cells[0]).ljust(widths[0])]
        out += [str(c).rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True)]
        return "  ".join(out).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(header), rule, *(line(r) for r in rows)])


# --------------------------------------------------------------------------- profiles (py-spy)


def py_spy() -> str | None:
    """The py-spy executable (the venv's first), or None when it is not installed."""
    beside = Path(sys.executable).with_name("py-spy")
    return str(beside) if beside.is_file() else shutil.which("py-spy")


_LINE_NUMBER = re.compile(r":\d+\)$")
# Leaf frames of a thread that is waiting, not computing (py-spy --native records them too).
_IDLE_LEAVES = (
    "epoll_wait",
    "epoll_pwait",
    "poll",
    "select",
    "pthread_cond_wait",
    "pthread_cond_timedwait",
    "PyThread_acquire_lock_timed",
    "sem_wait",
    "sem_timedwait",
    "nanosleep",
    "clock_nanosleep",
)


def _frame_key(frame: str) -> str:
    """``func (file.py:12)`` -> ``func (file.py)``; ``0x7f.. (lib.so)`` -> ``[lib.so]``."""
    frame = _LINE_NUMBER.sub(")", frame.strip())
    if frame.startswith("0x"):
        return "[" + frame.partition("(")[2].rstrip(")").split(".cpython")[0] + "]"
    return frame


def _owner(frames: Sequence[str]) -> str:
    """Who a sample's CPU is spent for: the deepest frame of a component we can name.

    Standard-library, interpreter and libc frames are charged to the component that called
    them (``json.dumps`` called by the audit log is the audit log's cost).
    """
    for frame in reversed(frames):
        if "(aesp/core/audit" in frame:
            return "aesp: audit log"
        if "(aesp/core/" in frame or "(aesp/adm/" in frame:
            return "aesp: core pipeline"
        if "(aesp/server/" in frame or "(servicers/" in frame:
            return "aesp: gRPC edge (servicers, TLS gate, convert)"
        if "passthrough.py" in frame:
            return "pass-through forwarder"
        if "_message" in frame or "google/protobuf" in frame:
            return "protobuf"
        if "cygrpc" in frame or "(grpc/" in frame:
            return "grpc (C core, Cython, Python)"
    if any("(asyncio/" in f or "_asynciomodule" in f for f in frames):
        return "asyncio event loop"
    return "other"


@dataclass
class Profile:
    """Aggregated py-spy samples (``--format raw``, with or without ``--native``) of a process.

    Samples whose leaf is a wait (epoll, condition variable, lock) are idle and left out;
    samples in ``fsync`` are counted apart as time waiting for the disk.
    """

    busy: int
    idle: int
    disk_wait: int
    loop_thread: int
    owners: Counter[str]
    self_counts: Counter[str]
    inclusive_counts: Counter[str]

    @classmethod
    def from_raw(cls, path: Path) -> Profile:
        busy = idle = disk = loop = 0
        owners: Counter[str] = Counter()
        self_counts: Counter[str] = Counter()
        inclusive: Counter[str] = Counter()
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            stack, _, count_text = line.rstrip().rpartition(" ")
            if not stack or not count_text.isdigit():
                continue
            count = int(count_text)
            frames = [
                _frame_key(f)
                for f in stack.split(";")
                if f and not f.startswith(("process ", "thread "))
            ]
            if not frames:
                continue
            named = [f for f in frames if not f.startswith("[")]
            leaf = (named[-1] if named else frames[-1]).split(" (")[0]
            if leaf in _IDLE_LEAVES or leaf == "EpollSelector.select":
                idle += count
                continue
            if leaf in ("fsync", "fdatasync") or leaf.startswith("os_fsync"):
                disk += count
                continue
            busy += count
            if any("_run_once" in f for f in frames):
                loop += count
            owners[_owner(frames)] += count
            self_counts[named[-1] if named else frames[-1]] += count
            for frame in set(frames):
                inclusive[frame] += count
        return cls(busy, idle, disk, loop, owners, self_counts, inclusive)

    def report(self, top: int = 12, cpu_per_call_us: float | None = None) -> str:
        """Text report; with ``cpu_per_call_us`` each component also gets an estimate in µs."""
        if not self.busy:
            return "  (no busy samples)"

        def pct(n: int) -> str:
            return f"{100 * n / self.busy:5.1f}%"

        def per_call(n: int) -> str:
            if cpu_per_call_us is None or cpu_per_call_us != cpu_per_call_us:  # None or NaN
                return ""
            return f"  ~{n / self.busy * cpu_per_call_us:5.0f} µs/call"

        lines = [
            f"  {self.busy} busy samples ({pct(self.loop_thread).strip()} on the event-loop "
            f"thread); {self.disk_wait} more waiting in fsync, {self.idle} idle",
            "  CPU by component (deepest frame we can name; stdlib/libc count for their caller):",
        ]
        lines += [f"    {pct(n)}{per_call(n)}  {owner}" for owner, n in self.owners.most_common()]
        lines.append(f"  top {top} aesp/bench functions, inclusive:")
        ours = [
            (frame, n)
            for frame, n in self.inclusive_counts.most_common()
            if ("(aesp/" in frame or "(servicers/" in frame or "passthrough.py" in frame)
            and not frame.startswith(("<module>", "main (", "_serve ("))
        ]
        lines += [f"    {pct(n)}  {frame}" for frame, n in ours[:top]]
        lines.append(
            f"  top {top} functions by self time (native frames folded into their caller):"
        )
        lines += [f"    {pct(n)}  {frame}" for frame, n in self.self_counts.most_common(top)]
        return "\n".join(lines)
