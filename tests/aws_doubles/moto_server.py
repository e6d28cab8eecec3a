"""moto in server mode on 127.0.0.1: boto3 talks HTTP to it, as it would to AWS.

The backends are moto's module-level state, so :meth:`MotoServer.stop` followed by
:meth:`MotoServer.start` on the same port is an outage that keeps every resource: the way to
test "AWS is unreachable for a while".
"""

from __future__ import annotations

import json
import os
import urllib.request

from moto.server import ThreadedMotoServer

CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def use_test_credentials() -> None:
    """Point boto3's credential chain at moto's dummy credentials (never at a real account)."""
    for key, value in CREDENTIALS.items():
        os.environ[key] = value
    os.environ.pop("AWS_PROFILE", None)


class MotoServer:
    """A moto server thread. ``port=0`` picks a free port, kept across stop/start."""

    def __init__(self, port: int = 0) -> None:
        self.port = port
        self._server: ThreadedMotoServer | None = None

    @property
    def url(self) -> str:
        """The endpoint URL every boto3 client uses."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self) -> MotoServer:
        """Start serving (again); Step Functions executions run for real (the moto parser)."""
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        server.start()
        self.port = server.get_host_and_port()[1]
        self._server = server
        # The Step Functions parser calls other services at localhost:$MOTO_PORT.
        os.environ["MOTO_PORT"] = str(self.port)
        self._post("/moto-api/config", {"stepfunctions": {"execute_state_machine": True}})
        return self

    def stop(self) -> None:
        """Stop answering (resources are kept for the next :meth:`start`)."""
        if self._server is not None:
            self._server.stop()
            self._server = None

    def reset(self) -> None:
        """Forget every resource."""
        self._post("/moto-api/reset", {})

    def seed_cost_and_usage(self, results: list[dict]) -> None:
        """Queue Cost Explorer ``GetCostAndUsage`` answers (moto returns [] unless seeded)."""
        self._post("/moto-api/static/ce/cost-and-usage-results", {"results": results})

    def _post(self, path: str, body: dict) -> None:
        request = urllib.request.Request(
            self.url + path,
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as reply:
            reply.read()
