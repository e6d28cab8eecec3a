"""A Host stops in bounded time even when a port never answers, and keeps its audit log whole."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from aesp.core.audit import AuditEvent, FileAuditLog
from aesp.core.audit_verify import verify_file
from aesp.core.config import HostConfig
from aesp.core.host import build_host
from aesp.testing.harness import write_manifest

ECHO = {
    "name": "echo",
    "description": "Echo a number.",
    "contract_version": "1.0.0",
    "parameters": {"type": "OBJECT", "properties": {"x": {"type": "INTEGER"}}},
}


async def test_a_port_that_never_closes_does_not_hold_the_stop(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = HostConfig(
        manifest_path=write_manifest(tmp_path / "m.json", [ECHO]), data_dir=tmp_path
    )
    audit = FileAuditLog(tmp_path / "audit.jsonl")
    host = await build_host(config, audit=audit)
    await host.start()
    hung = asyncio.Event()

    async def never() -> None:  # a cloud store in an outage: the request never returns
        await hung.wait()

    host.cost.close = never  # type: ignore[method-assign]
    host.stop_budget_s = 0.5
    await audit.append(AuditEvent(event_type="X", outcome="SUCCESS", action="queued"))
    started = time.monotonic()
    await host.stop()
    assert time.monotonic() - started < 5
    assert "the Cost port did not finish in time" in caplog.text
    assert audit.public_key is not None
    report = verify_file(tmp_path / "audit.jsonl", [audit.public_key], require_covered=True)
    # the event queued before the stop was written and signed all the same
    assert report.valid and report.leaves >= 1, report.to_json()
