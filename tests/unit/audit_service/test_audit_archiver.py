"""Several destinations per log: named AuditSinks with their own offsets, and the AuditArchiver
that cuts per-tenant segments, has their checkpoints signed by a CheckpointSigner, and never
skips or repeats a segment across failures and restarts."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from aesp.core.audit import AuditEvent, FileAuditLog
from aesp.core.audit_keys import ECDSA_P256_SHA256, key_id
from aesp.core.audit_shipper import AuditArchiver, AuditShipper, offset_path
from aesp.core.audit_verify import verify_file
from aesp.core.ports.audit import AuditArchive, AuditSegment, AuditSink, CheckpointSigner
from aesp.testing.inmemory import InMemoryAuditIndex

HOUR_MS = 3_600_000


def event(n: int, tenant: str = "acme") -> AuditEvent:
    return AuditEvent(
        event_type="TOOL_INVOCATION_START",
        outcome="SUCCESS",
        action="invoke",
        tenant_id=tenant,
        event_id=f"evt-{n:04d}",
    )


async def write(path: Path, events: list[AuditEvent], every: int = 2) -> None:
    log = FileAuditLog(path, checkpoint_every=every, checkpoint_interval_ms=HOUR_MS)
    for item in events:
        await log.append(item, durable=True)
    await log.close()


class EcdsaSigner:
    """A local P-256 signer with a key service's shape; counts its signatures."""

    algorithm = ECDSA_P256_SHA256

    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.key_id = key_id(self.key.public_key())
        self.signed = 0

    def public_key_pem(self) -> bytes:
        return b""

    async def sign(self, message: bytes) -> bytes:
        self.signed += 1
        return self.key.sign(message, ec.ECDSA(hashes.SHA256()))

    async def close(self) -> None:
        return None


class MemoryArchive:
    """Idempotent by (tenant, size), like write-once storage; can fail on demand."""

    def __init__(self, failures: int = 0, fail_at: int | None = None) -> None:
        self.segments: dict[tuple[str, int], AuditSegment] = {}
        self.calls: list[tuple[str, int]] = []
        self.failures = failures
        self.fail_at = fail_at  # fail once when this many segments are stored

    async def archive(self, segment: AuditSegment) -> None:
        if self.failures > 0 or (self.fail_at is not None and len(self.segments) == self.fail_at):
            self.failures = max(0, self.failures - 1)
            self.fail_at = None
            raise ConnectionError("archive unreachable")
        self.calls.append((segment.tenant, segment.size))
        self.segments.setdefault((segment.tenant, segment.size), segment)

    async def close(self) -> None:
        return None

    def tenant_file(self, tenant: str, out: Path) -> Path:
        ordered = sorted(
            (s for (t, _), s in self.segments.items() if t == tenant), key=lambda s: s.first
        )
        out.write_bytes(b"".join(s.lines for s in ordered))
        return out


class RecordingSink:
    def __init__(self, failures: int = 0) -> None:
        self.ids: list[str] = []
        self.failures = failures

    async def ship(self, events: Sequence[AuditEvent]) -> None:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("sink unreachable")
        self.ids.extend(e.event_id for e in events)

    async def close(self) -> None:
        return None


def test_the_test_doubles_fit_the_ports() -> None:
    assert isinstance(EcdsaSigner(), CheckpointSigner)
    assert isinstance(MemoryArchive(), AuditArchive)
    assert isinstance(RecordingSink(), AuditSink)


async def test_each_named_sink_has_its_own_offset_and_the_index_keeps_its_own(
    tmp_path: Path,
) -> None:
    path = tmp_path / "audit.jsonl"
    await write(path, [event(n) for n in range(5)])
    index, trail = InMemoryAuditIndex(), RecordingSink(failures=2)
    first = AuditShipper(path, index)
    second = AuditShipper(path, trail, name="trail", poll_seconds=0.01, backoff_first=0.01)
    await first.flush()
    await second.start()
    for _ in range(300):
        if len(trail.ids) == 5:
            break
        await asyncio.sleep(0.01)
    await second.stop()
    assert trail.ids == [f"evt-{n:04d}" for n in range(5)] and second.failures == 2
    assert offset_path(path).read_text().strip() == str(path.stat().st_size)
    assert offset_path(path, "trail").read_text().strip() == str(path.stat().st_size)
    with pytest.raises(ValueError, match="letters, digits"):
        offset_path(path, "../x")


async def test_segments_cover_each_tenant_once_and_verify_with_the_signer_key(
    tmp_path: Path,
) -> None:
    path = tmp_path / "audit.jsonl"
    await write(path, [event(n, ("acme", "beta")[n % 3 == 0]) for n in range(12)])
    archive, signer = MemoryArchive(), EcdsaSigner()
    archiver = AuditArchiver(path, archive, signer, segment_seconds=0, batch=3)
    assert await archiver.flush() == 12
    for tenant, leaves in (("acme", 8), ("beta", 4)):
        sizes = sorted(size for t, size in archive.segments if t == tenant)
        assert sizes[-1] == leaves == archiver.archived_size(tenant)
        firsts = sorted(s.first for (t, _), s in archive.segments.items() if t == tenant)
        assert firsts == [0, *sizes[:-1]]  # contiguous, no gap, no overlap
        joined = archive.tenant_file(tenant, tmp_path / f"{tenant}.jsonl")
        report = verify_file(joined, [signer.key.public_key()], require_covered=True)
        assert report.valid and report.leaves == leaves, report.bad
    assert len(archive.calls) == len(archive.segments) == signer.signed
    state = json.loads(offset_path(path, "archive").read_text())
    assert state == {"offset": path.stat().st_size, "sizes": {"acme": 8, "beta": 4}}


async def test_young_segments_wait_and_stop_cuts_them(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    await write(path, [event(n) for n in range(6)])  # checkpoints at 2, 4, 6
    archive, signer = MemoryArchive(), EcdsaSigner()
    archiver = AuditArchiver(path, archive, signer, segment_seconds=3600, segment_leaves=4)
    await archiver.flush()
    assert list(archive.segments) == [("acme", 4)]  # cut at the first checkpoint >= 4 leaves
    assert json.loads(offset_path(path, "archive").read_text())["offset"] < path.stat().st_size
    await archiver.start()
    await archiver.stop()  # the final flush cuts what is left
    assert list(archive.segments) == [("acme", 4), ("acme", 6)] and signer.signed == 2


async def test_failures_are_retried_and_restarts_never_skip_or_repeat(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    await write(path, [event(n, ("acme", "beta")[n % 2]) for n in range(8)])
    archive, signer = MemoryArchive(failures=2), EcdsaSigner()
    archiver = AuditArchiver(
        path, archive, signer, segment_seconds=0, poll_seconds=0.01, backoff_first=0.01
    )
    await archiver.start()
    for _ in range(300):
        if archiver.archived_size("acme") == archiver.archived_size("beta") == 4:
            break
        await asyncio.sleep(0.01)
    await archiver.stop()
    assert archiver.failures == 2 and len(archive.calls) == len(set(archive.calls)) == 4
    # the Host restarts and logs more: only the new segments go
    log = FileAuditLog(path, checkpoint_every=2, checkpoint_interval_ms=HOUR_MS)
    for n in range(8, 12):
        await log.append(event(n, ("acme", "beta")[n % 2]), durable=True)
    await log.close()
    again = AuditArchiver(path, archive, signer, segment_seconds=0)
    await again.start()
    await again.stop()
    assert len(archive.calls) == len(set(archive.calls)) == 6
    for tenant in ("acme", "beta"):
        joined = archive.tenant_file(tenant, tmp_path / f"{tenant}.jsonl")
        assert verify_file(joined, [signer.key.public_key()], require_covered=True).valid


async def test_a_crash_before_the_state_is_saved_resends_only_that_batch(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    await write(path, [event(n) for n in range(6)])
    archive = MemoryArchive(fail_at=2)  # two segments stored, the third fails: state not saved
    first = AuditArchiver(path, archive, EcdsaSigner(), segment_seconds=0)
    with pytest.raises(ConnectionError):
        await first.flush()
    assert not offset_path(path, "archive").exists()
    restarted = AuditArchiver(path, archive, EcdsaSigner(), segment_seconds=0)  # a new process
    await restarted.flush()
    assert archive.calls == [("acme", 2), ("acme", 4), ("acme", 2), ("acme", 4), ("acme", 6)]
    assert sorted(archive.segments) == [("acme", 2), ("acme", 4), ("acme", 6)]


async def test_an_untrustworthy_state_file_restarts_from_zero(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    await write(path, [event(n) for n in range(2)])
    offset_path(path, "archive").write_text('{"offset": 17, "sizes": {}}')
    archive = MemoryArchive()
    await AuditArchiver(path, archive, EcdsaSigner(), segment_seconds=0).flush()
    assert list(archive.segments) == [("acme", 2)]


async def test_a_checkpoint_without_its_leaves_is_an_error_not_a_skip(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    await write(path, [event(0), event(1)])  # leaf 0, leaf 1, checkpoint of size 2
    lines = path.read_bytes().splitlines(keepends=True)
    cut = len(lines[0]) + len(lines[1])
    offset_path(path, "archive").write_text(json.dumps({"offset": cut, "sizes": {}}))
    archive = MemoryArchive()
    with pytest.raises(ValueError, match="is not after its leaves"):
        await AuditArchiver(path, archive, EcdsaSigner(), segment_seconds=0).flush()
    assert archive.segments == {}
