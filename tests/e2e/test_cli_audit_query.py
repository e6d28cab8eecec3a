"""``aesp audit query`` end to end: the CLI as a separate process against a real Host.

A governed call is made, then the query command finds its events by type and correlation id,
pages past the Host's page size limit, and another tenant's administrator finds none of them.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from aesp.certs import DevPki, init_dev_pki, issue_into
from aesp.core.control import AccessConfig
from aesp.core.rbac import RoleDefinition
from aesp.testing.harness import HostHandle, local_host
from tests.e2e.grid._grid import GridClient, fc, schema
from tests.e2e.scripted_runtime import ScriptedRuntime

ROOT = Path(__file__).resolve().parents[2]
CONTRACTS = [{"name": "echo", "description": "Echo.", "parameters": schema(text="STRING")}]
ACCESS = AccessConfig(
    roles=(RoleDefinition("auditor", ("aesp:audit:*", "tool:*:invoke")),),
    group_roles={"certificate:client": ("auditor",), "certificate:runtime": ("auditor",)},
    group_clearance={"certificate:client": "INTERNAL"},
)


@pytest.fixture
async def host(tmp_path: Path) -> AsyncIterator[HostHandle]:
    pki = init_dev_pki(tmp_path / "pki", tenant="acme", runtimes=("rt",), clients=("alice",))
    issue_into(tmp_path / "pki", "client", "eve", tenant="globex")
    async with local_host(tmp_path / "host", CONTRACTS, pki=pki, access=ACCESS) as handle:
        yield handle


async def aesp(host: HostHandle, pki: DevPki, name: str, *argv: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "aesp",
        "audit",
        "query",
        "--target",
        host.client_target,
        "--pki",
        str(pki.directory),
        "--name",
        name,
        *argv,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    return process.returncode or 0, out.decode(), err.decode()


async def test_query_finds_a_calls_events_and_pages(host: HostHandle) -> None:
    rt = ScriptedRuntime(host.runtime_target, host.runtime_pem("rt"))
    await rt.start(["echo"])
    client = GridClient(host.client_target, host.client_pem("alice"))
    try:
        session = await client.session()
        for n in range(3):
            reply = await client.call(
                session, fc("echo", {"text": str(n)}), correlation_id=f"q-{n}"
            )
            assert not reply.HasField("error"), reply.error
    finally:
        await client.close()
        await rt.close()
    pki = host.pki
    events: list[dict[str, str]] = []
    for _ in range(40):  # the shipper indexes within about 0.2 s; allow a loaded machine more
        code, out, err = await aesp(host, pki, "alice", "--correlation-id", "q-1", "--json")
        assert code == 0, err
        events = json.loads(out)
        if len(events) >= 2:
            break
        await asyncio.sleep(0.25)
    assert {e["event_type"] for e in events} >= {
        "TOOL_INVOCATION_START",
        "TOOL_INVOCATION_COMPLETE",
    }
    assert {e["correlation_id"] for e in events} == {"q-1"}
    code, out, err = await aesp(
        host, pki, "alice", "--type", "TOOL_INVOCATION_START", "--limit", "2"
    )
    assert code == 0, err
    assert len(out.strip().splitlines()) == 2 and "TOOL_INVOCATION_START" in out
    code, out, err = await aesp(host, pki, "eve", "--type", "TOOL_INVOCATION_START")
    assert (code, out.strip()) == (0, "no events match")  # globex sees none of acme's events
    code, out, err = await aesp(host, pki, "eve", "--tenant", "acme")
    assert code == 1 and "TENANT_ACCESS_DENIED" in err
