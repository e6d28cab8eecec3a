"""``aesp demo``: the product's story in under a minute, on this machine, with nothing faked.

A Host and a Runtime run as separate processes over mutual TLS 1.3 on the local profile; the
demo plays the tool author, two operators, an AI agent and an auditor, printing each step with
what happened, why, and the evidence. :mod:`aesp.demo.story` tells it, :mod:`aesp.demo.setup`
holds the cast and configuration, :mod:`aesp.demo.stage` the printing and processes.
"""

from __future__ import annotations

import logging
import shutil
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path

from aesp.demo.setup import DEMO_ACCESS

__all__ = ["DEMO_ACCESS", "run_demo"]


def run_demo(*, keep: bool = False) -> int:
    """Run the demo; the process exit status (0: every step showed what it should).

    The Host and the Runtime are stopped on every exit, Ctrl-C included; their files are
    removed unless ``keep`` is set or a step failed (then they are what explains it).
    """
    from aesp.demo.story import tell

    # The demo runs `aesp` commands in this process with their output captured; configuring
    # logging first keeps their basicConfig from binding the root logger to a captured stream.
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    workdir = Path(tempfile.mkdtemp(prefix="aesp-demo-"))
    status = 1
    try:
        with ExitStack() as stack:
            tell(workdir, stack)
        status = 0
    except KeyboardInterrupt:
        print("\nThe demo was interrupted; Host and Runtime stopped.", file=sys.stderr)
        status = 130
    except Exception as exc:  # noqa: BLE001 - the demo explains, it does not dump stacks
        print(f"\nThe demo stopped: {exc}", file=sys.stderr)
        keep = True
    finally:
        if keep:
            print(f"\nThe demo's files (certificates, configuration, logs) are in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return status
