"""Structured logs: one JSON object per line, with the correlation id of the RPC when known.

``aesp serve --log-format json`` (or ``[observability] log_format = "json"``) installs
:class:`JsonFormatter` on the root logger. Each line has ``time`` (UTC, ISO 8601 with
milliseconds), ``level``, ``logger`` and ``message``; ``correlation_id`` when the record was
logged while serving an RPC (the gateway's verdict for it) or passed as ``extra``; and
``exception`` with the traceback when there is one. Log shippers (Fluent Bit, Vector, Loki)
read such lines without parsing rules, and the correlation id joins a log line to the call's
audit events and trace.
"""

from __future__ import annotations

import json
import logging
import time

from aesp.server.gateway.admission import current_admission

__all__ = ["JsonFormatter", "use_json_logs"]


class JsonFormatter(logging.Formatter):
    """Format a record as one JSON object (no newline inside: tracebacks are escaped)."""

    def format(self, record: logging.LogRecord) -> str:
        seconds = time.gmtime(record.created)
        out: dict[str, object] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", seconds) + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        cid = getattr(record, "correlation_id", None)
        if not cid:
            verdict = current_admission()
            cid = verdict.correlation_id if verdict is not None else None
        if cid:
            out["correlation_id"] = cid
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)


def use_json_logs(level: int | None = None) -> None:
    """Make every handler of the root logger write JSON lines (adds one on stderr if none)."""
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.StreamHandler())
    for handler in root.handlers:
        handler.setFormatter(JsonFormatter())
    if level is not None:
        root.setLevel(level)
