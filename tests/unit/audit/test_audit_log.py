"""FileAuditLog as a verifiable log (DESIGN §8, C-35, items 189-190): leaves, chains, signed
checkpoints by count and by time, restart, proofs, and the signing key."""

from __future__ import annotations

import asyncio
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from _logfiles import (
    HOUR_MS,
    event,
    leaf_hash_of,
    leaf_hashes,
    public_key,
    records,
    signature_valid,
    write_log,
)
from _rfc6962 import mth_of_hashes, path, root_from_path, subproof

from aesp.core.audit import AuditEvent, FileAuditLog


async def test_each_event_is_a_leaf_chained_within_its_tenant(tmp_path: Path) -> None:
    log_path = tmp_path / "audit.jsonl"
    tenants = ["acme", "beta", "", "acme", "acme", "beta", ""]
    await write_log(log_path, [event(n, t) for n, t in enumerate(tenants)], every=1000)
    leaves = [r for r in records(log_path) if r["kind"] == "leaf"]
    assert [(r["tenant"], r["index"]) for r in leaves] == [
        ("acme", 0), ("beta", 0), ("", 0), ("acme", 1), ("acme", 2), ("beta", 1), ("", 1),
    ]  # fmt: skip
    previous: dict[str, str] = {}
    for r in leaves:
        e = r["event"]
        assert e["hash"] == leaf_hash_of(e)  # fields 1-18 + prev_hash, by the reference encoder
        assert e.get("prev_hash", "") == previous.get(r["tenant"], "")
        previous[r["tenant"]] = e["hash"]
        assert e.get("tenant_id", "") == r["tenant"]
    assert "prev_hash" not in leaves[0]["event"]  # the first leaf of a tenant has none


async def test_caller_supplied_integrity_fields_are_replaced_by_the_logs(tmp_path: Path) -> None:
    log_path = tmp_path / "audit.jsonl"
    forged = event(1, prev_hash="f" * 64, hash="0" * 64, signature="sig", signing_key_id="k")
    await write_log(log_path, [forged])
    e = records(log_path)[0]["event"]
    assert "prev_hash" not in e and "signature" not in e and "signing_key_id" not in e
    assert e["hash"] == leaf_hash_of(e)


async def test_new_c35_fields_are_hashed_and_empty_ones_left_out(tmp_path: Path) -> None:
    log_path = tmp_path / "audit.jsonl"
    full = event(1, trace_id="t-1", organization_id="org", applied_policies=("p1", "p2"))
    await write_log(log_path, [full, event(2)])
    first, second = (r["event"] for r in records(log_path) if r["kind"] == "leaf")
    assert first["applied_policies"] == ["p1", "p2"] and first["trace_id"] == "t-1"
    assert "trace_id" not in second and "applied_policies" not in second
    assert AuditEvent.from_json(first).applied_policies == ("p1", "p2")


async def test_checkpoints_come_every_n_leaves_and_at_close(tmp_path: Path) -> None:
    log_path = tmp_path / "audit.jsonl"
    await write_log(log_path, [event(n) for n in range(10)], every=4)
    kinds = [(r["kind"], r.get("index", r.get("size"))) for r in records(log_path)]
    assert [k for k in kinds if k[0] == "checkpoint"] == [
        ("checkpoint", 4), ("checkpoint", 8), ("checkpoint", 10),
    ]  # fmt: skip
    assert kinds[4] == ("checkpoint", 4)  # right after leaf 3, which made the tree 4 long
    key = public_key(tmp_path)
    hashes = leaf_hashes(log_path, "acme")
    for cp in (r for r in records(log_path) if r["kind"] == "checkpoint"):
        assert cp["origin"] == "aesp-audit/tenant/acme"
        assert cp["root"] == mth_of_hashes(hashes[: cp["size"]]).hex()
        assert signature_valid(key, cp)


async def test_the_system_tree_has_its_own_origin(tmp_path: Path) -> None:
    log_path = tmp_path / "audit.jsonl"
    await write_log(log_path, [event(1, ""), event(2, "a/b\nc")])
    origins = {r["tenant"]: r["origin"] for r in records(log_path) if r["kind"] == "checkpoint"}
    assert origins == {"": "aesp-audit/system", "a/b\nc": "aesp-audit/tenant/a%2Fb%0Ac"}


async def test_a_checkpoint_follows_within_the_interval_and_none_when_idle(
    tmp_path: Path,
) -> None:
    log_path = tmp_path / "audit.jsonl"
    log = FileAuditLog(log_path, checkpoint_every=1000, checkpoint_interval_ms=50)
    for n in range(3):
        await log.append(event(n), durable=True)
    await asyncio.sleep(0.5)  # ten intervals: one checkpoint, then nothing new to sign
    checkpoints = [r for r in records(log_path) if r["kind"] == "checkpoint"]
    assert [cp["size"] for cp in checkpoints] == [3]
    assert log.checkpoint("acme") is not None and log.checkpoint("acme").size == 3
    await log.append(event(3), durable=True)
    await asyncio.sleep(0.3)
    assert [r["size"] for r in records(log_path) if r["kind"] == "checkpoint"] == [3, 4]
    await log.close()
    assert [r["size"] for r in records(log_path) if r["kind"] == "checkpoint"] == [3, 4]


async def test_restart_rebuilds_every_tree_and_continues_the_chain(tmp_path: Path) -> None:
    log_path = tmp_path / "audit.jsonl"
    await write_log(log_path, [event(n, ("acme", "beta")[n % 2]) for n in range(9)], every=3)
    log = FileAuditLog(log_path, checkpoint_every=3, checkpoint_interval_ms=HOUR_MS)
    assert log.size("acme") == 5 and log.size("beta") == 4
    assert log.checkpoint("acme") is not None and log.checkpoint("acme").size == 5
    await log.append(event(9, "acme"), durable=True)
    sealed = log.leaf("acme", 5)
    assert sealed.event_id == "evt-0009" and sealed.prev_hash == log.leaf("acme", 4).hash
    await log.close()
    leaves = [r for r in records(log_path) if r["kind"] == "leaf" and r["tenant"] == "acme"]
    assert [r["index"] for r in leaves] == list(range(6))
    assert leaves[5]["event"]["prev_hash"] == leaves[4]["event"]["hash"]


async def test_proofs_from_the_log_check_out_independently(tmp_path: Path) -> None:
    log_path = tmp_path / "audit.jsonl"
    await write_log(log_path, [event(n) for n in range(37)], every=10)
    log = FileAuditLog(log_path, checkpoint_every=10, checkpoint_interval_ms=HOUR_MS)
    hashes = leaf_hashes(log_path, "acme")
    cp = log.checkpoint("acme")
    assert cp is not None and cp.size == 37 and cp.root == mth_of_hashes(hashes)
    for size in (1, 2, 7, 16, 37):
        for index in range(size):
            proof = log.inclusion_proof("acme", index, size)
            assert proof == path(index, hashes[:size])
            assert root_from_path(hashes[index], index, size, proof) == mth_of_hashes(hashes[:size])
        for old in range(1, size + 1):
            assert log.consistency_proof("acme", old, size) == subproof(old, hashes[:size])
    with pytest.raises(ValueError, match="37 durable leaves, not 38"):
        log.inclusion_proof("acme", 0, 38)
    with pytest.raises(ValueError, match="0 durable leaves"):
        log.leaf("nobody", 0)
    await log.close()


async def test_the_signing_key_is_private_and_its_public_half_published(tmp_path: Path) -> None:
    await write_log(tmp_path / "audit.jsonl", [event(1)])
    key_file = tmp_path / "audit_signing.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    first = (tmp_path / "audit_signing.pub").read_bytes()
    assert first.startswith(b"-----BEGIN PUBLIC KEY-----")
    await write_log(tmp_path / "audit.jsonl", [event(2)])  # a restart keeps the same key
    assert (tmp_path / "audit_signing.pub").read_bytes() == first
    key_file.chmod(0o644)
    with pytest.raises(Exception, match="accessible by other users") as info:
        FileAuditLog(tmp_path / "audit.jsonl")
    assert getattr(info.value, "code", "") == "AUDIT_REQUIREMENT_NOT_MET"


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (Linux)")
async def test_a_disk_that_fills_up_mid_life_fails_closed_for_good(tmp_path: Path) -> None:
    log = FileAuditLog(tmp_path / "audit.jsonl", checkpoint_interval_ms=HOUR_MS)
    await log.append(event(1), durable=True)
    # The disk fills up: the log's descriptor now points at a device that refuses every write.
    full = os.open("/dev/full", os.O_WRONLY)
    os.dup2(full, log._fd)
    os.close(full)
    with pytest.raises(Exception, match="cannot be written") as info:
        await log.append(event(2), durable=True)
    assert getattr(info.value, "code", "") == "AUDIT_REQUIREMENT_NOT_MET"
    with pytest.raises(Exception, match="cannot be written"):
        await log.append(event(3))
    await log.close()
    assert log.size("acme") == 1  # nothing after the failure counts as durable


async def test_an_event_that_is_not_json_is_refused_alone(tmp_path: Path) -> None:
    log = FileAuditLog(tmp_path / "audit.jsonl", checkpoint_interval_ms=HOUR_MS)
    await log.append(event(1), durable=True)
    blob: dict[str, Any] = {"blob": b"\x00"}  # bytes where a string belongs: a caller's bug
    bad = event(2, metadata=blob)
    with pytest.raises(Exception, match="could not be recorded") as info:
        await log.append(bad, durable=True)
    assert getattr(info.value, "code", "") == "AUDIT_REQUIREMENT_NOT_MET"
    await log.append(event(3), durable=True)  # the log goes on; the chain skips nothing
    assert log.leaf("acme", 1).event_id == "evt-0003"
    assert log.leaf("acme", 1).prev_hash == log.leaf("acme", 0).hash
    await log.close()


async def test_every_tenant_with_new_leaves_is_signed_once_per_interval(tmp_path: Path) -> None:
    log_path = tmp_path / "audit.jsonl"
    log = FileAuditLog(log_path, checkpoint_every=1000, checkpoint_interval_ms=50)
    tenants = [f"t{n:02d}" for n in range(40)]
    for n, tenant in enumerate(tenants):
        await log.append(event(n, tenant), durable=n % 7 == 0)
        if n == 20:
            await asyncio.sleep(0.1)  # the first half falls due while the second half arrives
    await asyncio.sleep(0.5)
    signed = [(r["tenant"], r["size"]) for r in records(log_path) if r["kind"] == "checkpoint"]
    assert sorted(signed) == [(t, 1) for t in tenants]
    await log.close()
    assert len([r for r in records(log_path) if r["kind"] == "checkpoint"]) == 40
