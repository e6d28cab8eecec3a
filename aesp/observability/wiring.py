"""Build, start and stop a Host's observability: what :func:`aesp.server.app.start_host` calls.

One object per Host holds the metrics (when ``[observability] metrics_listen`` is set), the
tracing (when ``traces`` is not ``off``), the HTTP endpoint, and the background duties: the
event-loop heartbeat behind ``/healthz`` and the budget-use refresher. With both off, nothing
is built and the client servicer gets no :class:`~aesp.observability.calls.CallTelemetry`.

Refusals are counted from the audit log, because every refusal is audited (DESIGN §4) and
several happen before any servicer runs (the gateway refuses unauthenticated and rate-limited
calls in-band). The Host's audit log has no listener API, so :func:`observe_appends` wraps the
``append`` of that one log object: the gateway, the pipeline and metering all hold the same
object and call ``append`` through it, so every event passes the listener, before it is
queued. The wrapper returns ``append``'s own awaitable (no extra coroutine per event), and
:meth:`HostObservability.stop` puts the original back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from opentelemetry.sdk.trace.export import SpanExporter

from aesp.core.audit import AuditEvent
from aesp.core.errors import ConfigurationError
from aesp.core.host import Host
from aesp.observability.calls import CallTelemetry
from aesp.observability.grpc_services import HostHealth
from aesp.observability.http import ObservabilityServer
from aesp.observability.metrics import HostMetrics, LagSource
from aesp.observability.tracing import Tracing, build_tracing

__all__ = ["HostObservability", "build_observability", "observe_appends"]

HEARTBEAT_SECONDS = 1.0
_log = logging.getLogger(__name__)


def observe_appends(log: Any, listener: Callable[[AuditEvent], None]) -> Callable[[], None]:
    """Call ``listener`` with every event appended to ``log``; returns the undo.

    Raises:
        ConfigurationError: ``log`` does not let its ``append`` be wrapped (``__slots__``).
    """
    original = log.append

    def append(event: AuditEvent, *, durable: bool = False) -> Awaitable[None]:
        listener(event)
        return original(event, durable=durable)

    try:
        log.append = append
    except AttributeError:
        raise ConfigurationError(
            "INVALID_CONFIG",
            f"Refusal metrics need to observe the audit log, and {type(log).__name__} does "
            "not allow it.",
        ) from None

    def undo() -> None:
        if log.__dict__.get("append") is append:
            del log.append

    return undo


class HostObservability:
    """A Host's metrics, tracing and HTTP endpoint (any of them may be absent)."""

    def __init__(
        self,
        host: Host,
        metrics: HostMetrics | None,
        tracing: Tracing | None,
        server: ObservabilityServer | None,
        undo: Callable[[], None] | None,
    ) -> None:
        self._host = host
        self.metrics = metrics
        self.tracing = tracing
        self.server = server
        self.telemetry = (
            CallTelemetry(metrics, tracing) if metrics is not None or tracing is not None else None
        )
        self._undo = undo
        self._health: HostHealth | None = None
        self._heartbeat = time.monotonic()
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def metrics_port(self) -> int:
        """The bound port of the HTTP endpoint (0 when there is none)."""
        return self.server.port if self.server is not None else 0

    def _ready(self) -> bool:
        return self._health is not None and self._health.serving

    def start(self, health: HostHealth) -> None:
        """Serve the endpoint and start the background duties (on the Host's event loop)."""
        self._health = health
        if self.server is None:
            return
        self._tasks.append(asyncio.create_task(self._beat(), name="aesp-obs-heartbeat"))
        if self.metrics is not None:
            obs = self._host.config.observability
            refresh = self.metrics.run_budget_refresh(
                self._host.cost, every_s=obs.budget_refresh_s, limit=obs.max_budget_series
            )
            self._tasks.append(asyncio.create_task(refresh, name="aesp-obs-budgets"))
        self.server.start()
        address = self._host.config.observability.metrics_listen.rpartition(":")[0]
        _log.info("observability: /metrics, /healthz, /readyz on %s:%d", address, self.metrics_port)

    async def stop(self) -> None:
        """Stop the duties and the endpoint, flush the spans, and unwrap the audit log."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.server is not None:
            await asyncio.to_thread(self.server.stop)
        if self.tracing is not None:
            await asyncio.to_thread(self.tracing.shutdown)
        if self._undo is not None:
            self._undo()

    async def _beat(self) -> None:
        while True:
            self._heartbeat = time.monotonic()
            await asyncio.sleep(HEARTBEAT_SECONDS)


def _lag_sources(host: Host) -> list[LagSource]:
    followers: list[Any] = [host.audit_shipper, *host.audit_copies]
    return [f for f in followers if f is not None]


def build_observability(
    host: Host, *, span_exporter: SpanExporter | None = None
) -> HostObservability:
    """Build what ``host.config.observability`` asks for; the endpoint is bound, not serving.

    Args:
        host: The built Host.
        span_exporter: Export spans here whatever ``traces`` says (tests).

    Raises:
        ConfigurationError: the endpoint's address cannot be bound, or the OTLP exporter is
            configured and not installed.
    """
    config = host.config.observability
    tracing = build_tracing(config, span_exporter)
    if not config.metrics_listen:
        return HostObservability(host, None, tracing, None, None)
    metrics = HostMetrics(
        known_tool=lambda name: host.manifest.current.get(name) is not None,
        sessions=lambda: len(host.sessions),
        runtimes=lambda: len(host.runtimes.connections()),
        lag_sources=lambda: _lag_sources(host),
    )
    undo = observe_appends(host.audit, metrics.observe_event)
    try:
        server = ObservabilityServer(
            config.metrics_listen,
            metrics.registry,
            ready=lambda: observability._ready(),
            heartbeat=lambda: observability._heartbeat,
        )
    except OSError as exc:
        undo()
        if tracing is not None:
            tracing.shutdown()
        raise ConfigurationError(
            "INVALID_CONFIG",
            f"observability.metrics_listen {config.metrics_listen!r} cannot be bound: {exc}.",
        ) from None
    observability = HostObservability(host, metrics, tracing, server, undo)
    return observability
