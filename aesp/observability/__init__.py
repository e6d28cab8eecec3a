"""Observability of the Host: Prometheus metrics, OpenTelemetry traces, JSON logs, gRPC health
and server reflection (issue 6).

Configured by ``[observability]`` (:class:`aesp.core.config.ObservabilityConfig`); with the
defaults everything here is off except gRPC health and reflection, which cost nothing until
asked. Modules, one job each:

* :mod:`~aesp.observability.metrics`: the metrics and their bounded labels;
* :mod:`~aesp.observability.calls`: latency, outcome and span of one tool call at the edge;
* :mod:`~aesp.observability.tracing`: the Host's tracer provider and exporters;
* :mod:`~aesp.observability.logs`: JSON log lines carrying the correlation id;
* :mod:`~aesp.observability.http`: ``/metrics``, ``/healthz`` and ``/readyz`` over HTTP;
* :mod:`~aesp.observability.grpc_services`: ``grpc.health.v1``, reflection, and who may ask;
* :mod:`~aesp.observability.wiring`: building, starting and stopping it all for one Host.

Why the metrics endpoint is off by default: it is plain HTTP without authentication, and a
Host opens no such port unless its operator chooses the address (loopback, or a network only
the scraper reaches). Set ``metrics_listen = "127.0.0.1:9464"`` to turn it on.
"""
