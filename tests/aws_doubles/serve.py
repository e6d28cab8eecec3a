"""Run the AWS test double as a process of its own (``python -m tests.aws_doubles.serve``).

Prints one line, ``adapters.aws = {...}`` (JSON): the ``[adapters.aws]`` table of a fresh
deployment on it. Serves until the process is terminated (SIGTERM or SIGINT). Used by
``bench/aws_profile.py`` so the double does not share a Python interpreter with the bench client.
"""

from __future__ import annotations

import json
import signal
import sys
import threading

from tests.aws_doubles.cloud import FakeAws


def main() -> int:
    cloud = FakeAws().start()
    stop = threading.Event()
    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, lambda *_: stop.set())
    table = cloud.adapter_table(sync_interval_s=5.0)  # the production default
    print(f"adapters.aws = {json.dumps(table)}", flush=True)
    while not stop.wait(0.5):
        pass
    cloud.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
