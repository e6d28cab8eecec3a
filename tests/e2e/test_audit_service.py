"""EnterpriseAuditService end to end on a real Host (TLS 1.3, development PKI, gateway, file log).

Callers authenticate with client certificates of tenants ``acme`` and ``globex``; ``[access]``
makes each an auditor of its own tenant. Events come from real governed calls (a scripted
Runtime serves ``echo``) and from ``LogEvent``; queries read the SQLite index that the Host's
shipper feeds from the durable file log, so the tests wait for it to catch up.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import grpc.aio
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from aesp.certs import DevPki, init_dev_pki, issue_into
from aesp.core.audit import AuditEvent
from aesp.core.audit_verify import verify_file
from aesp.core.config import HostConfig, TlsConfig
from aesp.core.control import AccessConfig
from aesp.core.rbac import RoleDefinition
from aesp.proto.altar.adm.v1 import adm_pb2
from aesp.proto.altar.aesp.v1 import audit_pb2 as au
from aesp.proto.altar.aesp.v1 import audit_pb2_grpc, host_pb2_grpc
from aesp.proto.altar.grid.v1 import grid_pb2
from aesp.server.app import RunningHost, start_host
from aesp.server.tls import channel_credentials
from aesp.testing.harness import write_manifest
from tests.e2e.scripted_runtime import ScriptedRuntime

ECHO = {
    "name": "echo",
    "description": "Echo a text.",
    "security_classification": "PUBLIC",
    "parameters": {
        "type": "OBJECT",
        "properties": {"text": {"type": "STRING"}},
        "required": ["text"],
    },
}
ACCESS = AccessConfig(
    roles=(
        RoleDefinition("auditor", ("aesp:audit:*", "tool:*:invoke")),
        RoleDefinition("tool-user", ("tool:*:invoke",)),
    ),
    group_roles={"certificate:client": ("auditor",), "certificate:runtime": ("tool-user",)},
)
START = "TOOL_INVOCATION_START"


@dataclass
class Caller:
    """The generated stubs of one client certificate."""

    audit: audit_pb2_grpc.EnterpriseAuditServiceStub
    grid: host_pb2_grpc.GridClientServiceStub


@dataclass
class World:
    """A Host that can be restarted on the same data directory, and its callers."""

    pki: DevPki
    config: HostConfig
    running: RunningHost | None = None
    channels: list[grpc.aio.Channel] = field(default_factory=list)

    async def start(self) -> RunningHost:
        self.running = await start_host(self.config, access=ACCESS)
        return self.running

    async def stop(self) -> None:
        for channel in self.channels:
            await channel.close()
        self.channels.clear()
        if self.running is not None:
            await self.running.stop(grace=0.2)
            self.running = None

    def caller(self, name: str) -> Caller:
        """Stubs authenticated by the client certificate ``client-<name>``."""
        assert self.running is not None
        cert, key = self.pki.client(name)
        channel = grpc.aio.secure_channel(
            f"localhost:{self.running.client_port}",
            channel_credentials(self.pki.ca.read_bytes(), cert.read_bytes(), key.read_bytes()),
        )
        self.channels.append(channel)
        return Caller(
            audit_pb2_grpc.EnterpriseAuditServiceStub(channel),
            host_pb2_grpc.GridClientServiceStub(channel),
        )

    def public_key(self) -> Ed25519PublicKey:
        """The Host's published audit key (``data_dir/audit_signing.pub``)."""
        raw = (Path(self.config.data_dir) / "audit_signing.pub").read_bytes()
        key = serialization.load_pem_public_key(raw)
        assert isinstance(key, Ed25519PublicKey)
        return key


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    pki = init_dev_pki(tmp_path / "pki", tenant="acme", runtimes=("acme",), clients=("ann",))
    issue_into(pki.directory, "client", "gus", tenant="globex")
    config = HostConfig(
        manifest_path=write_manifest(tmp_path / "manifest.json", [ECHO]),
        client_listen="127.0.0.1:0",
        runtime_listen="127.0.0.1:0",
        data_dir=tmp_path / "data",
        tls=TlsConfig(ca=pki.ca, cert=pki.host_cert, key=pki.host_key),
    )
    handle = World(pki, config)
    await handle.start()
    try:
        yield handle
    finally:
        await handle.stop()


async def eventually(check: Callable[[], Awaitable[bool]], seconds: float = 10) -> None:
    """Wait until ``check`` holds (the index lags the log by the shipper's poll interval)."""
    for _ in range(int(seconds / 0.05)):
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not reached")


async def query_all(caller: Caller, **fields: Any) -> list[au.AuditEvent]:
    """Every page of a query, two events per page."""
    items: list[au.AuditEvent] = []
    cursor = ""
    while True:
        page = await caller.audit.QueryEvents(
            au.QueryEventsRequest(limit=2, cursor=cursor, **fields)
        )
        assert page.WhichOneof("response_type") == "success_details", page
        items.extend(page.success_details.items)
        cursor = page.success_details.next_cursor
        if not cursor:
            return items


async def log(caller: Caller, event_type: str, correlation: str = "") -> au.LogEventDetails:
    response = await caller.audit.LogEvent(
        au.LogEventRequest(
            event=au.AuditEvent(
                event_type=event_type,
                outcome="SUCCESS",
                action="review",
                tenant_id="globex",  # ignored: the event is the caller's
                principal_id="someone-else",  # ignored likewise
                correlation_id=correlation,
            ),
            immediate_flush=True,
        )
    )
    assert response.WhichOneof("response_type") == "success_details", response
    return response.success_details


async def test_queries_find_calls_and_stay_in_the_tenant(world: World) -> None:
    assert world.running is not None
    ann, gus = world.caller("ann"), world.caller("gus")
    cert, key = world.pki.runtime("acme")
    runtime = ScriptedRuntime(
        f"localhost:{world.running.runtime_port}",
        (world.pki.ca.read_bytes(), cert.read_bytes(), key.read_bytes()),
        runtime_id="rt-acme",
    )
    await runtime.start(["echo"])
    try:
        session = await ann.grid.CreateSession(grid_pb2.CreateSession())
        for n in range(3):
            call = adm_pb2.FunctionCall(
                call_id=f"c{n}", name="echo", args=json.dumps({"text": str(n)}).encode()
            )
            await ann.grid.CallTool(
                grid_pb2.ToolCall(
                    session_id=session.session_id, call=call, correlation_id=f"corr-audit-{n}"
                )
            )
    finally:
        await runtime.close()

    async def shipped() -> bool:
        return len(await query_all(ann, event_types=[START])) == 3

    await eventually(shipped)
    starts = await query_all(ann, event_types=[START])  # paged two at a time
    principal = starts[0].principal_id
    assert {e.tenant_id for e in starts} == {"acme"} and {e.principal_id for e in starts} == {
        principal
    }
    assert all(len(e.hash) == 32 for e in starts)
    by_corr = await query_all(ann, filters={"correlation_id": "corr-audit-1"})
    assert {e.event_type for e in by_corr} >= {START} and all(
        e.correlation_id == "corr-audit-1" for e in by_corr
    )
    mine = await query_all(ann, principal_id=principal, event_types=[START, "SESSION_CREATE"])
    assert len(mine) == 4
    # Another tenant sees none of them, and naming the tenant is refused.
    theirs = await query_all(gus, filters={"correlation_id": "corr-audit-1"})
    assert theirs == []
    assert await query_all(gus, principal_id=principal) == []
    denied = await gus.audit.QueryEvents(au.QueryEventsRequest(tenant_id="acme"))
    assert denied.error.code == "TENANT_ACCESS_DENIED", denied


async def test_export_verifies_and_an_inclusion_proof_checks_out(
    world: World, tmp_path: Path
) -> None:
    ann = world.caller("ann")
    logged = await log(ann, "DATA_ACCESS", "corr-proof")
    assert logged.durable and len(logged.hash) == 32
    # Export: the tenant's verifiable records, checked offline with the Host's public key.
    chunks = [m async for m in ann.audit.ExportAuditLogs(au.ExportAuditLogsRequest(format="JSON"))]
    assert chunks[-1].is_final and not chunks[-1].HasField("error"), chunks[-1]
    exported = tmp_path / "export.jsonl"
    exported.write_bytes(b"".join(m.chunk for m in chunks))
    report = verify_file(exported, [world.public_key()])
    assert report.valid, report.bad
    lines = [json.loads(line) for line in exported.read_bytes().splitlines()]
    assert {r["tenant"] for r in lines} == {"acme"}
    assert logged.event_id in {r["event"]["event_id"] for r in lines if r["kind"] == "leaf"}

    # Inclusion proof, once a checkpoint covers the event (at most ~1 s).
    proof: list[au.InclusionProofDetails] = []

    async def covered() -> bool:
        got = await ann.audit.GetInclusionProof(
            au.GetInclusionProofRequest(event_id=logged.event_id)
        )
        if got.WhichOneof("response_type") == "success_details":
            proof.append(got.success_details)
        return bool(proof)

    await eventually(covered)
    details = proof[0]
    assert details.leaf_hash == logged.hash
    # The leaf hash is SHA-256(0x00 || canonical JSON of the event without "hash").
    leaf = next(r["event"] for r in lines if r.get("event", {}).get("event_id") == logged.event_id)
    body = {k: v for k, v in leaf.items() if k != "hash"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert hashlib.sha256(b"\x00" + canonical.encode()).digest() == details.leaf_hash
    root = rfc9162_root(
        details.leaf_hash, details.proof.leaf_index, details.proof.tree_size, details.proof.hashes
    )
    cp = details.checkpoint
    assert cp.tree_size == details.proof.tree_size and root == cp.root_hash
    signed = (
        f"aesp-audit-checkpoint/v1\n{cp.origin}\n{cp.tree_size}\n{cp.root_hash.hex()}\n"
        f"{cp.timestamp_ms}\n"
    ).encode()
    world.public_key().verify(cp.signature, signed)  # raises if the signature is wrong

    # The export itself is audited.
    async def export_audited() -> bool:
        return bool(await query_all(ann, event_types=["AUDIT_EXPORT"]))

    await eventually(export_audited)


def rfc9162_root(leaf: bytes, index: int, size: int, path: Sequence[bytes]) -> bytes:
    """RFC 9162 §2.1.3.2: the root an inclusion proof leads to (written out independently)."""
    assert index < size
    fn, sn, node = index, size - 1, leaf
    for sibling in path:
        assert sn != 0
        if fn % 2 == 1 or fn == sn:
            node = hashlib.sha256(b"\x01" + sibling + node).digest()
            while fn % 2 == 0 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            node = hashlib.sha256(b"\x01" + node + sibling).digest()
        fn, sn = fn >> 1, sn >> 1
    assert sn == 0
    return node


class FailingSink:
    """Wraps the Host's index; refuses every batch until healed (a scripted failure double)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.failing = True

    async def index(self, events: Sequence[AuditEvent]) -> int:
        if self.failing:
            raise ConnectionError("index store unreachable")
        return int(await self.inner.index(events))


async def test_the_shipper_resumes_after_a_restart_and_catches_up(world: World) -> None:
    ann = world.caller("ann")
    before = [(await log(ann, "DATA_ACCESS", f"before-{n}")).event_id for n in range(3)]

    async def has(ids: list[str]) -> bool:
        found = {e.event_id for e in await query_all(ann, event_types=["DATA_ACCESS"])}
        return set(ids) <= found

    await eventually(lambda: has(before))
    await world.stop()
    data = Path(world.config.data_dir)
    size_at_stop = (data / "audit.jsonl").stat().st_size
    assert int((data / "audit.jsonl.shipped").read_text()) == size_at_stop  # flushed on stop

    running = await world.start()
    shipper = running.host.audit_shipper
    assert shipper is not None and shipper.offset >= size_at_stop  # resumed, not from zero
    ann = world.caller("ann")
    sink = FailingSink(shipper.sink)
    shipper.sink = sink  # type: ignore[assignment]
    during = [(await log(ann, "DATA_ACCESS", f"during-{n}")).event_id for n in range(2)]
    await eventually(lambda: asyncio.sleep(0, shipper.failures >= 2))
    assert not await has(during)  # not lost: still in the log, waiting for the index
    sink.failing = False
    await eventually(lambda: has(during))
    events = await query_all(ann, event_types=["DATA_ACCESS"])
    ids = [e.event_id for e in events]
    assert len(ids) == len(set(ids)) == 5  # every event once: no duplicate after redelivery
