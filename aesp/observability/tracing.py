"""OpenTelemetry traces of tool calls: one span per CallTool / CallToolStream.

The Host builds its own ``TracerProvider`` rather than installing a global one: the Host is
often embedded (tests, the demo, an operator's process with its own tracing), and setting the
global provider is a one-shot, process-wide act that is not a library's to take.

``[observability] traces = "off"`` builds nothing at all: the servicer then holds no tracer and
a call pays one ``is None`` test. Spans are exported by a ``BatchSpanProcessor`` (a background
thread), so the exporter's I/O never runs on the call path.

A caller's W3C ``traceparent`` gRPC metadata, when present, becomes the span's parent, so a
trace started in an agent continues through the Host.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SpanExporter,
)
from opentelemetry.trace import Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from aesp.core.config import ObservabilityConfig
from aesp.core.errors import ConfigurationError

__all__ = ["Tracing", "build_tracing", "parent_context"]

_PROPAGATOR = TraceContextTextMapPropagator()
_TRACE_HEADERS = frozenset({"traceparent", "tracestate"})


class Tracing:
    """The Host's tracer and the provider that exports its spans."""

    def __init__(self, provider: TracerProvider) -> None:
        self.provider = provider
        self.tracer: Tracer = provider.get_tracer("aesp.host")

    def force_flush(self, timeout_ms: int = 5_000) -> bool:
        """Export every finished span now (tests; shutdown does it too)."""
        return self.provider.force_flush(timeout_ms)

    def shutdown(self) -> None:
        """Flush and stop the exporter thread."""
        self.provider.shutdown()


def _exporter(config: ObservabilityConfig) -> SpanExporter:
    if config.traces == "console":
        return ConsoleSpanExporter(service_name=config.service_name)
    try:  # optional at run time: only an OTLP deployment needs it installed
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    except ImportError:
        raise ConfigurationError(
            "INVALID_CONFIG",
            "observability.traces = 'otlp' needs the OTLP exporter, which is not installed.",
            remediation_steps=("pip install opentelemetry-exporter-otlp-proto-http",),
        ) from None
    return OTLPSpanExporter(endpoint=config.otlp_endpoint or None)


def build_tracing(
    config: ObservabilityConfig, exporter: SpanExporter | None = None
) -> Tracing | None:
    """The Host's tracing, or None when traces are off and no ``exporter`` is given.

    Args:
        config: ``[observability]``.
        exporter: Overrides the configured exporter (the tests' in-memory exporter).

    Raises:
        ConfigurationError: ``otlp`` is configured and its exporter is not installed.
    """
    if exporter is None:
        if config.traces == "off":
            return None
        exporter = _exporter(config)
    provider = TracerProvider(resource=Resource.create({"service.name": config.service_name}))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return Tracing(provider)


def parent_context(metadata: Sequence[tuple[str, str | bytes]] | None) -> Context | None:
    """The trace context a caller sent in ``traceparent`` metadata, or None."""
    carrier: Mapping[str, str] = {
        key: value
        for key, value in metadata or ()
        if key in _TRACE_HEADERS and isinstance(value, str)
    }
    if not carrier:
        return None
    return _PROPAGATOR.extract(carrier)
