"""Measure one tool call at the edge: its latency and outcome (metrics) and its span (traces).

The client servicer starts a :class:`CallProbe` when a ``CallTool`` or ``CallToolStream``
arrives and finishes it with the outcome once the answer is built: ``SUCCESS``, ``TOOL_ERROR``
(the Runtime answered with an ADM error), the Host's error code of a refusal, or
``CANCELLED`` when the caller went away. The latency is that of the whole RPC inside the
servicer, the pipeline included, which is what a client waits for after the gateway.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from aesp.observability.metrics import HostMetrics
from aesp.observability.tracing import Tracing, parent_context

__all__ = ["CallProbe", "CallTelemetry"]

SUCCESS = "SUCCESS"
TOOL_ERROR = "TOOL_ERROR"
CANCELLED = "CANCELLED"
INTERNAL_ERROR = "INTERNAL_ERROR"


class CallTelemetry:
    """What the servicer measures calls with; exists only when metrics or traces are on."""

    def __init__(self, metrics: HostMetrics | None, tracing: Tracing | None) -> None:
        self.metrics = metrics
        self.tracing = tracing

    def begin(
        self,
        rpc: str,
        tool: str,
        correlation_id: str,
        metadata: Sequence[tuple[str, str | bytes]] | None,
    ) -> CallProbe:
        """Start measuring a call of ``tool`` (``rpc`` is ``CallTool`` or ``CallToolStream``)."""
        span: Span | None = None
        if self.tracing is not None:
            span = self.tracing.tracer.start_span(
                f"aesp.GridClientService/{rpc}",
                context=parent_context(metadata),
                kind=SpanKind.SERVER,
                attributes={
                    "rpc.system": "grpc",
                    "rpc.method": rpc,
                    "aesp.tool": tool,
                    "aesp.correlation_id": correlation_id,
                },
            )
        return CallProbe(self.metrics, tool, span)


class CallProbe:
    """One call being measured; :meth:`finish` records it once (later calls do nothing)."""

    __slots__ = ("_done", "_metrics", "_span", "_started", "tool")

    def __init__(self, metrics: HostMetrics | None, tool: str, span: Span | None) -> None:
        self._metrics = metrics
        self.tool = tool
        self._span = span
        self._done = False
        self._started = time.perf_counter()

    def finish(self, outcome: str, tenant: str = "") -> None:
        """Record the call's ``outcome`` and the tenant it ran for (spans only)."""
        if self._done:
            return
        self._done = True
        if self._metrics is not None:
            self._metrics.observe_call(self.tool, outcome, time.perf_counter() - self._started)
        span = self._span
        if span is not None:
            span.set_attribute("aesp.outcome", outcome)
            if tenant:
                span.set_attribute("aesp.tenant", tenant)
            if outcome != SUCCESS:
                span.set_status(Status(StatusCode.ERROR, outcome))
            span.end()
