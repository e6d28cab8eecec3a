"""Helpers shared by the benchmarks: child processes, the machine, statistics, profiles.

Nothing here is collected by pytest (the module name starts with an underscore and ``bench/`` is
outside ``testpaths``).
"""

from __future__ import annotations

import contextlib
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
    ]


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


_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")


def _short_frame(frame: str) -> str:
    """``func (path/to/file.py:12)`` -> ``func (pkg/file.py)``; other frames unchanged."""
    match = _FRAME.match(frame.strip())
    if not match:
        return frame.strip()
    path = match["file"]
    for marker in ("site-packages/", "/lib/python3", "/work/main/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            if marker == "/lib/python3":
                path = "stdlib/" + path.split("/", 1)[-1]
            break
    return f"{match['func']} ({path})"


def _area(frame: str) -> str:
    """Which part of the stack a (short) frame belongs to."""
    if "(aesp/core/audit" in frame:
        return "aesp audit log"
    if "(aesp/core/" in frame or "(aesp/adm/" in frame:
        return "aesp core pipeline"
    if "(aesp/server/" in frame:
        return "aesp gRPC edge"
    if "(bench/" in frame:
        return "pass-through code"
    if "(grpc/" in frame or "cygrpc" in frame or "grpc" in frame.split("(")[0]:
        return "grpc (Python/Cython)"
    if "(google/protobuf" in frame or "upb" in frame:
        return "protobuf"
    if "(stdlib/asyncio" in frame:
        return "asyncio"
    if "(stdlib/" in frame:
        return "other stdlib"
    return "other"


@dataclass
class Profile:
    """Aggregated py-spy samples of one process."""

    total: int
    self_counts: Counter[str]
    inclusive_counts: Counter[str]
    area_counts: Counter[str]

    @classmethod
    def from_raw(cls, path: Path) -> Profile:
        """Read py-spy's ``--format raw`` (collapsed stacks: ``f1;f2;...;leaf COUNT``)."""
        self_counts: Counter[str] = Counter()
        inclusive: Counter[str] = Counter()
        areas: Counter[str] = Counter()
        total = 0
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            stack, _, count_text = line.rpartition(" ")
            if not stack or not count_text.isdigit():
                continue
            count = int(count_text)
            frames = [
                _short_frame(f)
                for f in stack.split(";")
                if not f.startswith(("process ", "thread "))
            ]
            if not frames:
                continue
            total += count
            self_counts[frames[-1]] += count
            for frame in set(frames):
                inclusive[frame] += count
            # The area of a sample is that of its deepest frame we can attribute.
            areas[_area(frames[-1])] += count
        return cls(total, self_counts, inclusive, areas)

    def report(self, top: int = 15) -> str:
        if not self.total:
            return "  (no samples)"

        def pct(n: int) -> str:
            return f"{100 * n / self.total:5.1f}%"

        lines = [f"  {self.total} samples of non-idle threads"]
        lines.append("  time by area (deepest frame):")
        lines += [f"    {pct(n)}  {area}" for area, n in self.area_counts.most_common()]
        lines.append(f"  top {top} functions by self time:")
        lines += [f"    {pct(n)}  {frame}" for frame, n in self.self_counts.most_common(top)]
        lines.append(f"  top {top} aesp functions by inclusive time:")
        ours = [
            (frame, n)
            for frame, n in self.inclusive_counts.most_common()
            if "(aesp/" in frame or "(bench/" in frame
        ]
        lines += [f"    {pct(n)}  {frame}" for frame, n in ours[:top]]
        return "\n".join(lines)
