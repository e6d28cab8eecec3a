"""AuditAdmin: LogEvent, QueryEvents, export, statistics, report and proofs (SPEC §3.7 (3))."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import sys
from pathlib import Path

import pytest

from aesp.core.admin.audit import AuditAdmin, EventDraft, EventQuery
from aesp.core.audit import MemoryAuditLog
from aesp.core.audit_verify import verify_file
from aesp.core.errors import AespError
from tests.unit.audit_service.conftest import World, person, plane_over

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "audit"))
from _rfc6962 import mth_of_hashes  # noqa: E402


def draft(event_type: str = "DATA_ACCESS", **fields: object) -> EventDraft:
    """A LogEvent draft."""
    return EventDraft(event_type=event_type, outcome="SUCCESS", action="read", **fields)  # type: ignore[arg-type]


async def collect(world: World, query: EventQuery, fmt: str, *groups: str) -> bytes:
    ctx = await world.ctx("ann", "acme", *(groups or ("auditors",)))
    chunks = await world.admin.export(ctx, query, fmt)
    return b"".join([c async for c in chunks])


async def test_log_event_takes_who_and_where_from_the_caller(world: World) -> None:
    ctx = await world.ctx("ann", "acme", "auditors")
    logged = await world.admin.log_event(
        ctx,
        draft(client_event_id="evt-forged", client_timestamp_ms=1, metadata={"logged_by": "x"}),
        immediate_flush=True,
    )
    assert logged.durable and logged.event_id != "evt-forged"
    stored = world.log.leaf("acme", logged.leaf_index or 0)
    assert (stored.event_id, stored.hash) == (logged.event_id, logged.hash)
    assert stored.principal_id == ctx.principal_id and stored.tenant_id == "acme"
    assert stored.metadata["logged_by"] == "LogEvent"
    assert stored.metadata["client_event_id"] == "evt-forged"
    assert stored.timestamp_ms > 1


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"event_type": ""}, "event_type"),
        ({"outcome": "MAYBE"}, "outcome"),
        ({"risk_score": "2"}, "risk_score"),
        ({"metadata": {str(i): "v" for i in range(65)}}, "metadata"),
    ],
)
async def test_log_event_rejects_malformed_events(
    world: World, fields: dict[str, object], message: str
) -> None:
    base = {"event_type": "DATA_ACCESS", "outcome": "SUCCESS", "action": "read", **fields}
    ctx = await world.ctx("ann", "acme", "auditors")
    with pytest.raises(AespError, match=message) as info:
        await world.admin.log_event(ctx, EventDraft(**base))  # type: ignore[arg-type]
    assert info.value.code == "MALFORMED_REQUEST"


async def test_log_event_needs_the_permission_and_the_refusal_is_audited(world: World) -> None:
    ctx = await world.ctx("bob", "acme", "readers")
    with pytest.raises(AespError, match="aesp:audit:LogEvent") as info:
        await world.admin.log_event(ctx, draft())
    assert info.value.code == "PERMISSION_DENIED"
    assert [e.action for e in world.events("AUTHORIZATION_DENIED")] == ["LogEvent"]
    assert not world.events("DATA_ACCESS")


async def test_query_filters_pages_and_stays_in_the_callers_tenant(world: World) -> None:
    acme = await world.ctx("ann", "acme", "auditors")
    globex = await world.ctx("gus", "globex", "auditors")
    for n in range(5):
        await world.admin.log_event(acme, draft(correlation_id=f"c-{n % 2}"), immediate_flush=True)
    await world.admin.log_event(globex, draft(), immediate_flush=True)
    await world.settle()
    query = EventQuery(event_types=("DATA_ACCESS",), filters={"correlation_id": "c-0"}, limit=2)
    first = await world.admin.query_events(acme, query)
    second = await world.admin.query_events(
        acme,
        EventQuery(
            event_types=("DATA_ACCESS",),
            filters={"correlation_id": "c-0"},
            limit=2,
            cursor=first.next_cursor,
        ),
    )
    got = [*first.items, *second.items]
    assert len(got) == 3 and not second.next_cursor
    assert {e.tenant_id for e in got} == {"acme"} and {e.correlation_id for e in got} == {"c-0"}
    theirs = await world.admin.query_events(globex, EventQuery(event_types=("DATA_ACCESS",)))
    assert [e.tenant_id for e in theirs.items] == ["globex"]
    with pytest.raises(AespError, match="may not act on another tenant") as info:
        await world.admin.query_events(globex, EventQuery(tenant_id="acme"))
    assert info.value.code == "TENANT_ACCESS_DENIED"
    ops = await world.ctx("olga", "ops", "ops")
    everyone = await world.admin.query_events(ops, EventQuery(tenant_id="*", limit=1000))
    assert {"acme", "globex"} <= {e.tenant_id for e in everyone.items}


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (EventQuery(filters={"hash": "x"}), "filters key 'hash'"),
        (EventQuery(cursor="nope"), "cursor"),
    ],
)
async def test_query_rejects_unknown_filters_and_cursors(
    world: World, query: EventQuery, message: str
) -> None:
    ctx = await world.ctx("ann", "acme", "auditors")
    with pytest.raises(AespError, match=message) as info:
        await world.admin.query_events(ctx, query)
    assert info.value.code == "MALFORMED_REQUEST"


async def test_json_export_is_the_tenants_verifiable_log(world: World, tmp_path: Path) -> None:
    acme = await world.ctx("ann", "acme", "auditors")
    globex = await world.ctx("gus", "globex", "auditors")
    await world.admin.log_event(acme, draft(), immediate_flush=True)
    await world.admin.log_event(globex, draft(), immediate_flush=True)
    exported = await collect(world, EventQuery(), "json")
    out = tmp_path / "export.jsonl"
    out.write_bytes(exported)
    assert world.log.public_key is not None
    report = verify_file(out, [world.log.public_key])
    assert report.valid, report.bad
    tenants = {json.loads(line)["tenant"] for line in exported.splitlines()}
    assert tenants == {"acme"}
    assert world.events("AUDIT_EXPORT")[-1].metadata["format"] == "JSON"
    with pytest.raises(AespError, match="whole verifiable log"):
        await collect(world, EventQuery(principal_id="x"), "JSON")


async def test_csv_and_cef_exports_apply_the_filters(world: World) -> None:
    ctx = await world.ctx("ann", "acme", "auditors")
    await world.admin.log_event(ctx, draft(resource="=cmd|x"), immediate_flush=True)
    await world.admin.log_event(ctx, draft("OTHER"), immediate_flush=True)
    text = (await collect(world, EventQuery(event_types=("DATA_ACCESS",)), "CSV")).decode()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["event_type"] for r in rows] == ["DATA_ACCESS"]
    assert rows[0]["resource"] == "'=cmd|x" and rows[0]["index"].isdigit()
    cef = (await collect(world, EventQuery(event_types=("DATA_ACCESS",)), "CEF")).decode()
    assert cef.startswith("CEF:0|altar|aesp|1.0|DATA_ACCESS|read|3|") and cef.count("\n") == 1
    assert "request==cmd|x" not in cef and "request=\\=cmd|x" in cef
    with pytest.raises(AespError, match="format must be one of"):
        await collect(world, EventQuery(), "XML")


async def test_inclusion_and_consistency_proofs_verify_independently(world: World) -> None:
    ctx = await world.ctx("ann", "acme", "auditors")
    ids = [
        (await world.admin.log_event(ctx, draft(), immediate_flush=True)).event_id for _ in range(5)
    ]
    earlier = await world.admin.checkpoint(ctx)
    proof = await world.admin.inclusion_proof(ctx, ids[2])
    # The log keeps growing (each read is audited), so the proof meets the newest checkpoint.
    cp = proof.checkpoint
    assert cp is not None and cp.size == proof.tree_size >= earlier.size >= 5
    node, index, size = proof.leaf_hash, proof.leaf_index, proof.tree_size
    # RFC 9162 §2.1.3.2, written out here rather than imported.
    fn, sn = index, size - 1
    for sibling in proof.hashes:
        if fn % 2 == 1 or fn == sn:
            node = hashlib.sha256(b"\x01" + sibling + node).digest()
            while fn % 2 == 0 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            node = hashlib.sha256(b"\x01" + node + sibling).digest()
        fn, sn = fn >> 1, sn >> 1
    assert node == cp.root
    leaves = [bytes.fromhex(world.log.leaf("acme", i).hash) for i in range(cp.size)]
    assert mth_of_hashes(leaves) == cp.root
    old = await world.admin.consistency_proof(ctx, first_size=2, second_size=cp.size)
    assert (old.first_size, old.second_size) == (2, cp.size) and old.hashes
    with pytest.raises(AespError, match="first_size"):
        await world.admin.consistency_proof(ctx, first_size=10**6)
    with pytest.raises(AespError, match="has no audit event") as info:
        await world.admin.inclusion_proof(ctx, "evt-of-someone-else")
    assert info.value.code == "NOT_FOUND"


async def test_statistics_and_compliance_report(world: World) -> None:
    ctx = await world.ctx("ann", "acme", "auditors")
    await world.admin.log_event(ctx, draft(), immediate_flush=True)
    await world.admin.log_event(
        ctx, EventDraft("POLICY_VIOLATION", "DENIED", "invoke"), immediate_flush=True
    )
    await world.settle()
    stats = await world.admin.statistics(ctx)
    assert stats.event_type_counts["DATA_ACCESS"] == 1 and stats.outcome_counts["DENIED"] == 1
    assert 2 <= stats.tree_size <= world.log.size("acme") and stats.unique_principals == 1
    report = await world.admin.compliance_report(ctx, framework="SOC2")
    assert report.integrity_verified and report.policy_violations == 1 and report.denied_events == 1
    findings = {f.control_id: f for f in report.findings}
    assert findings["AUDIT.INTEGRITY"].status == "PASS"
    assert findings["POLICY.VIOLATIONS"].status == "FAIL"
    assert len(findings["POLICY.VIOLATIONS"].evidence_event_ids) == 1
    assert report.checkpoint is not None and report.report_id.startswith("RPT-")


async def test_a_memory_log_is_queried_directly_and_has_no_proofs() -> None:
    log = MemoryAuditLog()
    plane = plane_over(log)
    await plane.start()
    admin = AuditAdmin(plane, log=log, query=log)
    ctx = await plane.context(person("ann", "acme", "auditors"), "cid")
    await admin.log_event(ctx, draft())
    page = await admin.query_events(ctx, EventQuery(event_types=("DATA_ACCESS",)))
    assert [e.principal_id for e in page.items] == [ctx.principal_id]
    lines = b"".join([c async for c in await admin.export(ctx, EventQuery(), "JSON")])
    assert b'"DATA_ACCESS"' in lines
    with pytest.raises(AespError, match="no proofs") as info:
        await admin.checkpoint(ctx)
    assert info.value.code == "FEATURE_UNAVAILABLE"
    await plane.stop()
