"""Prometheus metrics of one Host: calls, refusals, latency, audit lag, budget use, liveness.

Every metric lives in a registry owned by the Host (never the process-global one), so two Hosts
in one process (tests, the demo) never mix their figures.

Cost on the call path is what matters (DESIGN §12): a call does two dictionary look-ups for its
cached label children, one ``time.perf_counter`` and two additions. Everything else is read
when Prometheus scrapes (sessions, Runtimes, audit lag: cheap reads, in the scrape thread) or
refreshed by a background task (budget use: the Cost port is async and may be remote).

Label cardinality is bounded on purpose, because an unbounded label is a memory leak in the
Host and in Prometheus:

* ``tool``: a contract name of the manifest, else ``_other`` (a client can send any name);
* ``outcome`` and ``code``: ``SUCCESS``, ``TOOL_ERROR`` or a Host error code, which are
  constants of the Host; anything not shaped like one becomes ``_other``;
* ``budget_id`` and ``tenant``: budgets are created by administrators, and at most
  ``[observability] max_budget_series`` of them are exported. Tenants appear nowhere else:
  per-tenant call counters would multiply every series by the number of tenants.
* ``follower``: one per audit shipper or archiver the profile configures.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, Protocol

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from aesp.core.audit import AuditEvent
from aesp.core.ids import now_ms

__all__ = ["BUCKETS", "OTHER", "HostMetrics", "LagSource", "refusal_code"]

#: Latency buckets, seconds: 1 ms to 10 s, about three per decade.
BUCKETS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)
#: The label value standing for anything outside a bounded set.
OTHER = "_other"
_CODE = re.compile(r"[A-Z][A-Z0-9_]{0,63}")
_REFUSED = frozenset({"DENIED", "FAILURE"})  # C-34 outcomes the Host writes for a refusal
_MAX_CACHED = 10_000  # cached (tool, outcome) children; tools x codes stays far below
_LAG_READ_BYTES = 256 * 1024  # how far past a follower's position the lag probe looks
_log = logging.getLogger(__name__)


class LagSource(Protocol):
    """What the audit-lag gauge reads from a shipper or archiver (``aesp.core.audit_shipper``)."""

    log_path: Path
    name: str
    offset: int


def refusal_code(event: AuditEvent) -> str | None:
    """The error code of an audited refusal, or None when ``event`` records no refusal.

    Every refusal writes an event (DESIGN §4): ``DENIED`` for authentication, authorisation
    and validation refusals, ``FAILURE`` for the others (budget, unavailable tool, ...), each
    with the code in ``metadata["code"]``. ``ERROR`` (a Runtime's failure) is not a refusal.
    """
    if event.outcome not in _REFUSED:
        return None
    code = event.metadata.get("code", "")
    return code if _CODE.fullmatch(code) else OTHER


class HostMetrics:
    """The Host's metrics and the reads behind its gauges.

    Args:
        known_tool: Whether a name is a contract of the manifest (bounds the ``tool`` label).
        sessions: Live sessions now.
        runtimes: Connected Runtimes now.
        lag_sources: The audit followers whose distance from the log end is exported.
    """

    def __init__(
        self,
        *,
        known_tool: Callable[[str], bool],
        sessions: Callable[[], int],
        runtimes: Callable[[], int],
        lag_sources: Callable[[], Iterable[LagSource]],
    ) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._known_tool = known_tool
        self._calls = Counter(
            "aesp_calls",
            "Tool calls answered (CallTool, CallToolStream) by tool and outcome.",
            ("tool", "outcome"),
            registry=self.registry,
        )
        self._refusals = Counter(
            "aesp_refusals",
            "Refusals the Host audited, by error code (gateway and pipeline, every RPC).",
            ("code",),
            registry=self.registry,
        )
        self._duration = Histogram(
            "aesp_call_duration_seconds",
            "Time from the servicer receiving a tool call to its answer, by tool.",
            ("tool",),
            buckets=BUCKETS,
            registry=self.registry,
        )
        self._call_children: dict[tuple[str, str], tuple[Any, Any]] = {}
        self._refusal_children: dict[str, Any] = {}
        self.budgets: dict[tuple[str, str], float] = {}  # replaced whole by the refresher
        self.registry.register(_Gauges(self, sessions, runtimes, lag_sources))

    # ------------------------------------------------------------------ call path

    def observe_call(self, tool: str, outcome: str, seconds: float) -> None:
        """Count one answered call and its latency (two cached look-ups, no formatting)."""
        children = self._call_children.get((tool, outcome))
        if children is None:
            children = self._children(tool, outcome)
        children[0].inc()
        children[1].observe(seconds)

    def _children(self, tool: str, outcome: str) -> tuple[Any, Any]:
        label = tool if self._known_tool(tool) else OTHER
        code = outcome if _CODE.fullmatch(outcome) else OTHER
        children = (self._calls.labels(label, code), self._duration.labels(label))
        # Only manifest names are cached: a client sending random names must not grow it.
        if label == tool and len(self._call_children) < _MAX_CACHED:
            self._call_children[(tool, outcome)] = children
        return children

    def observe_event(self, event: AuditEvent) -> None:
        """Count ``event`` if it records a refusal (every appended event passes here)."""
        if event.outcome not in _REFUSED:
            return
        code = refusal_code(event) or OTHER
        child = self._refusal_children.get(code)
        if child is None:
            child = self._refusal_children[code] = self._refusals.labels(code)
        child.inc()

    # ------------------------------------------------------------------ background

    async def refresh_budgets(self, ledger: Any, *, limit: int) -> None:
        """Read every budget's use in its current period from the Cost port (``CostLedger``).

        ``used`` is what was settled plus what live reservations hold, over the amount: the
        figure a hard-limit budget refuses at when it reaches 1.
        """
        found: dict[tuple[str, str], float] = {}
        cursor = ""
        now = now_ms()
        while len(found) < limit:
            page = await ledger.list_budgets(tenant_id=None, limit=100, cursor=cursor)
            for budget in page.items:
                if len(found) >= limit:
                    break
                status = await ledger.status(budget.budget_id, now_ms=now)
                if status is None or budget.amount_micros <= 0:
                    continue
                used = status.spent_micros + status.reserved_micros
                found[(budget.budget_id, budget.tenant_id)] = used / budget.amount_micros
            cursor = page.next_cursor
            if not cursor:
                break
        self.budgets = found

    async def run_budget_refresh(self, ledger: Any, *, every_s: float, limit: int) -> None:
        """Refresh budget use every ``every_s`` seconds until cancelled; errors are logged."""
        while True:
            try:
                await self.refresh_budgets(ledger, limit=limit)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a failing ledger must not end the loop
                _log.warning("budget metrics: the Cost port failed: %s", exc)
            await asyncio.sleep(every_s)


class _Gauges(Collector):
    """Values read when Prometheus scrapes, in the scrape thread, never on the call path."""

    def __init__(
        self,
        metrics: HostMetrics,
        sessions: Callable[[], int],
        runtimes: Callable[[], int],
        lag_sources: Callable[[], Iterable[LagSource]],
    ) -> None:
        self._metrics = metrics
        self._sessions = sessions
        self._runtimes = runtimes
        self._lag_sources = lag_sources

    def describe(self) -> Iterable[Metric]:
        return ()  # the families are built at collect time only

    def collect(self) -> Iterator[Metric]:
        yield GaugeMetricFamily("aesp_sessions_live", "Live sessions.", value=self._sessions())
        yield GaugeMetricFamily(
            "aesp_runtimes_connected", "Connected Runtimes.", value=self._runtimes()
        )
        lag_bytes = GaugeMetricFamily(
            "aesp_audit_lag_bytes",
            "Bytes of the durable audit log a follower (index, sink, archive) has not shipped.",
            labels=("follower",),
        )
        lag_seconds = GaugeMetricFamily(
            "aesp_audit_lag_seconds",
            "Age of the oldest audit event a follower has not shipped (0 when caught up).",
            labels=("follower",),
        )
        now = time.time()
        for source in self._lag_sources():
            behind, oldest_ms = audit_lag(source.log_path, source.offset)
            name = source.name or "index"
            lag_bytes.add_metric((name,), behind)
            lag_seconds.add_metric((name,), max(0.0, now - oldest_ms / 1000) if oldest_ms else 0)
        yield lag_bytes
        yield lag_seconds
        budgets = GaugeMetricFamily(
            "aesp_budget_used_ratio",
            "Spent plus reserved over the amount, current period (refreshed in the background).",
            labels=("budget_id", "tenant"),
        )
        for (budget_id, tenant), ratio in self._metrics.budgets.items():
            budgets.add_metric((budget_id, tenant), ratio)
        yield budgets


def audit_lag(log_path: Path, offset: int) -> tuple[int, int]:
    """(bytes after ``offset``, timestamp ms of the first event after it or 0).

    Reads at most :data:`_LAG_READ_BYTES` past ``offset``; checkpoint lines are skipped. A
    follower far behind reports its byte lag exactly and the age of an event it has not
    shipped, which is what an alert needs.
    """
    try:
        size = os.path.getsize(log_path)
    except OSError:
        return 0, 0
    behind = max(0, size - offset)
    if behind == 0:
        return 0, 0
    try:
        with open(log_path, "rb") as handle:
            handle.seek(offset)
            chunk = handle.read(min(behind, _LAG_READ_BYTES))
    except OSError:
        return behind, 0
    for raw in chunk.split(b"\n")[:-1]:  # the last piece may be a line still being written
        try:
            record = json.loads(raw)
        except ValueError:
            return behind, 0
        if isinstance(record, dict) and record.get("kind") == "leaf":
            event = record.get("event")
            if isinstance(event, dict) and isinstance(event.get("timestamp_ms"), int):
                return behind, event["timestamp_ms"]
    return behind, 0
