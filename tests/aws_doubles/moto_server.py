"""moto in server mode on 127.0.0.1: boto3 talks HTTP to it, as it would to AWS.

The backends are moto's module-level state, so :meth:`MotoServer.stop` followed by
:meth:`MotoServer.start` on the same port is an outage that keeps every resource: the way to
test "AWS is unreachable for a while".
"""

from __future__ import annotations

import copy
import json
import logging
import os
import threading
import urllib.request
from collections.abc import Callable, Iterable
from typing import Any

from moto.server import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import BaseWSGIServer, make_server

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


class _OneDynamoDbRequestAtATime:
    """WSGI middleware: DynamoDB requests run one at a time.

    moto's DynamoDB backend is not thread-safe: ``TransactWriteItems`` deep-copies a table while
    other request threads change it ("dictionary changed size during iteration"), and a
    cancelled transaction restores the copy over writes made meanwhile. Real DynamoDB is
    linearizable per item, so serialising its requests makes the double faithful; the other
    services (SQS long polls in particular) keep their threads.
    """

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB_"):
            with self.lock:
                return list(self.app(environ, start_response))
        return self.app(environ, start_response)


class _OneSnapshotPerTransaction:
    """Stands in for the ``copy`` module inside moto's DynamoDB backend.

    moto snapshots a whole table for every item of a ``TransactWriteItems`` (its rollback), so
    a transaction costs O(items x table size) and the double slows down as tables grow. DynamoDB
    requests run one at a time here (see :class:`_OneDynamoDbRequestAtATime`), so one snapshot
    per table and transaction is the same rollback; no answer moto gives changes.
    """

    def __init__(self) -> None:
        self.memo: dict[int, Any] | None = None

    def deepcopy(self, value: Any) -> Any:
        if self.memo is None:
            return copy.deepcopy(value)
        if id(value) not in self.memo:
            self.memo[id(value)] = copy.deepcopy(value)
        return self.memo[id(value)]


def _patch_moto_transactions() -> None:
    """Install :class:`_OneSnapshotPerTransaction` once per process."""
    import moto.dynamodb.models as models
    from moto.dynamodb.models import DynamoDBBackend

    if isinstance(models.copy, _OneSnapshotPerTransaction):
        return
    snapshots = _OneSnapshotPerTransaction()
    transact = DynamoDBBackend.transact_write_items

    def one_snapshot_per_table(self: DynamoDBBackend, *args: Any, **kwargs: Any) -> Any:
        snapshots.memo = {}
        try:
            return transact(self, *args, **kwargs)
        finally:
            snapshots.memo = None

    DynamoDBBackend.transact_write_items = one_snapshot_per_table  # type: ignore[method-assign]
    models.copy = snapshots  # type: ignore[assignment]


class MotoServer:
    """A moto server thread. ``port=0`` picks a free port, kept across stop/start."""

    def __init__(self, port: int = 0) -> None:
        self.port = port
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The endpoint URL every boto3 client uses."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self) -> MotoServer:
        """Start serving (again); Step Functions executions run for real (the moto parser)."""
        _patch_moto_transactions()
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
        app = _OneDynamoDbRequestAtATime(DomainDispatcherApplication(create_backend_app))
        server = make_server(
            "127.0.0.1", self.port, app, threaded=True, request_handler=MotoRequestHandler
        )
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, daemon=True)
        self._thread.start()
        # The Step Functions parser calls other services at localhost:$MOTO_PORT.
        os.environ["MOTO_PORT"] = str(self.port)
        self._post("/moto-api/config", {"stepfunctions": {"execute_state_machine": True}})
        return self

    def stop(self) -> None:
        """Stop answering (resources are kept for the next :meth:`start`)."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join()
            self._thread = None

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
