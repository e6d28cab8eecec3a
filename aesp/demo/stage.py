"""The demo's stage: printing each step, running the Host and Runtime as child processes, and
running ``aesp`` commands the way an operator types them.

The commands run inside the demo's own process (``aesp.cli.main`` with the same arguments),
because a fresh interpreter per command costs about a second and adds nothing to the story: the
command line, its parser and its gRPC call over mutual TLS are the ones a shell would run.
"""

from __future__ import annotations

import contextlib
import io
import os
import queue
import re
import shlex
import socket
import subprocess
import sys
import textwrap
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

READY_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
WIDTH = 96
REQUEST_ID = re.compile(r"\bapr-[0-9A-Za-z_-]+")


class DemoFailed(RuntimeError):
    """A step did not show what it should: the demo stops rather than tell a false story."""


def expect(condition: bool, what: str) -> None:
    """Stop the demo with ``what`` unless ``condition`` holds."""
    if not condition:
        raise DemoFailed(what)


def request_id(text: str) -> str:
    """The approval request id an ``aesp`` command printed."""
    found = REQUEST_ID.search(text)
    if found is None:
        raise DemoFailed(f"no approval request id in: {text.strip()}")
    return found.group(0)


def free_port() -> int:
    """A TCP port free on the loopback interface right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def say(step: int, title: str, text: str = "") -> None:
    """A step's heading and, wrapped, what happens in it and why."""
    heading = f"{step}. {title}"
    print("\n" + (f"\033[1m{heading}\033[0m" if sys.stdout.isatty() else heading))
    if text:
        print(textwrap.indent(textwrap.fill(textwrap.dedent(text).strip(), WIDTH), "   "))


def detail(text: str) -> None:
    """Evidence: ids, codes, digests, results, as the system printed them."""
    print(textwrap.indent(text.rstrip(), "   | ", lambda _line: True), flush=True)


def note(text: str) -> None:
    """A short plain-language remark between pieces of evidence."""
    print(textwrap.indent(textwrap.fill(text, WIDTH), "   "), flush=True)


@dataclass(frozen=True)
class Command:
    """What one ``aesp`` command printed and returned."""

    status: int
    out: str
    err: str


def aesp(*argv: str, shown: str = "") -> Command:
    """Run ``aesp ARGV`` in this process, echo the command line and what it printed.

    ``shown`` replaces the credential and target flags in the echoed line, so the line stays
    readable; the command that runs always has them.
    """
    from aesp.cli import main

    print(f"   $ aesp {shown or shlex.join(argv)}", flush=True)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = main(list(argv))
        except SystemExit as exc:  # argparse and credential errors exit; the demo reports them
            status = exc.code if isinstance(exc.code, int) else 2
            if isinstance(exc.code, str):
                err.write(exc.code)
    if status == 130:  # aesp.cli.main turns Ctrl-C into 130; the demo must stop, not go on
        raise KeyboardInterrupt
    for text in (out.getvalue(), err.getvalue()):
        if text.strip():
            detail(text)
    detail(f"(exit status {status})")
    return Command(status, out.getvalue(), err.getvalue())


@dataclass
class Child:
    """A child process whose stdout a thread copies to ``<name>.log`` and hands over line by
    line, so waiting for a line can time out and a chatty child never fills its pipe."""

    name: str
    proc: subprocess.Popen[str]
    lines: queue.Queue[str | None] = field(default_factory=queue.Queue)

    def pump(self, log: Path) -> None:
        """Copy stdout to ``log`` and the queue until EOF, then put ``None``."""
        assert self.proc.stdout is not None
        with open(log, "w") as out:
            for line in self.proc.stdout:
                out.write(line)
                out.flush()
                self.lines.put(line)
        self.lines.put(None)

    def wait_for(self, needle: str) -> str:
        """The first line holding ``needle``.

        Raises:
            DemoFailed: If the process exits first or prints no such line in time.
        """
        deadline = time.monotonic() + READY_TIMEOUT_S
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                self.proc.wait()
                raise DemoFailed(
                    f"the {self.name} exited with {self.proc.returncode}; "
                    f"see {self.name}.stderr.log"
                )
            if needle in line:
                return line.strip()
        raise DemoFailed(f"the {self.name} printed no '{needle}' within {READY_TIMEOUT_S:.0f} s")

    def stop(self) -> int:
        """Stop politely (SIGTERM: the Host seals its audit log), forcefully if it hangs; the
        exit status."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return int(self.proc.returncode)


def spawn(workdir: Path, stack: ExitStack, name: str, *args: str) -> Child:
    """Start ``python -m aesp ARGS`` in ``workdir``, stopped when ``stack`` closes; stderr goes
    to ``<name>.stderr.log``."""
    err = stack.enter_context(open(workdir / f"{name}.stderr.log", "w"))  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "-m", "aesp", *args],
        cwd=workdir,
        stdout=subprocess.PIPE,
        stderr=err,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    child = Child(name, proc)
    stack.callback(child.stop)
    threading.Thread(
        target=child.pump, args=(workdir / f"{name}.log",), name=f"demo-{name}", daemon=True
    ).start()
    return child
