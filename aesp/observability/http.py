"""The plain-HTTP observability endpoint: ``/metrics``, ``/healthz`` and ``/readyz``.

Served from a thread of its own (``wsgiref`` with one thread per request), so a slow scrape
never touches the Host's event loop, and a stuck event loop is visible to the probes:

* ``/metrics``: Prometheus text exposition of the Host's registry;
* ``/healthz`` (liveness): 200 while the Host's event loop has run its heartbeat within
  :data:`STALL_SECONDS`, else 503: a wedged loop serves no call, and a restart is the cure;
* ``/readyz`` (readiness): 200 while the gRPC health status is SERVING (started, not
  stopping), else 503.

No authentication and no TLS: it answers figures and two words, never data of a call. It is off
unless ``[observability] metrics_listen`` is set, and an operator binds it to loopback or to a
network only the scraper and the orchestrator reach (see :mod:`aesp.observability.grpc_services`
for why probes come here rather than to the mTLS gRPC ports).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app

__all__ = ["STALL_SECONDS", "ObservabilityServer"]

STALL_SECONDS = 10.0  # a heartbeat older than this makes /healthz fail
_TEXT = ("Content-Type", "text/plain; charset=utf-8")

StartResponse = Callable[..., Any]


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
        """Scrapes every few seconds would flood the Host's stderr."""


class ObservabilityServer:
    """The HTTP endpoint, bound at construction, serving once :meth:`start` is called.

    Args:
        listen: ``host:port`` (port 0 picks a free one; see :attr:`port`).
        registry: The metrics to expose.
        ready: Whether the Host is ready (``/readyz``).
        heartbeat: Monotonic time of the event loop's last heartbeat (``/healthz``).
    """

    def __init__(
        self,
        listen: str,
        registry: CollectorRegistry,
        *,
        ready: Callable[[], bool],
        heartbeat: Callable[[], float],
    ) -> None:
        host, _, port = listen.rpartition(":")
        self._metrics = make_wsgi_app(registry)
        self._ready = ready
        self._heartbeat = heartbeat
        self._server = make_server(
            host.strip("[]"), int(port), self._app, _Server, handler_class=_QuietHandler
        )
        self.port: int = self._server.server_port
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},  # how soon stop() is noticed
            name="aesp-observability",
            daemon=True,
        )

    def start(self) -> None:
        """Serve in the background."""
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and release the port."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(timeout=5)
        self._server.server_close()

    def _app(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/healthz":
            alive = time.monotonic() - self._heartbeat() < STALL_SECONDS
            return _answer(start_response, alive, b"ok\n" if alive else b"event loop stalled\n")
        if path == "/readyz":
            ready = self._ready()
            return _answer(start_response, ready, b"ready\n" if ready else b"not ready\n")
        if path in ("/metrics", "/"):
            return self._metrics(environ, start_response)
        start_response("404 Not Found", [_TEXT])  # a new list: wsgiref appends to it
        return [b"not found: /metrics, /healthz, /readyz\n"]


def _answer(start_response: StartResponse, ok: bool, body: bytes) -> Iterable[bytes]:
    start_response("200 OK" if ok else "503 Service Unavailable", [_TEXT])
    return [body]
