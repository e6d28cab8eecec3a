"""The audit ports on AWS against moto (KMS, S3 Object Lock) and the CloudTrail Data fake:
checkpoints signed by KMS verify offline, archived objects cannot be deleted, and events shipped
through an outage reach CloudTrail Lake exactly once."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aesp_aws._aws import Aws
from aesp_aws.audit_archive import S3AuditArchive, checkpoint_key, segment_key, tree_prefix
from aesp_aws.audit_sink import MAX_EVENTS, CloudTrailLakeSink, entry_id
from aesp_aws.checkpoint_signer import KmsCheckpointSigner
from aesp_aws.settings import AwsSettings
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from aesp.cli_audit import main as audit_cli
from aesp.core.audit import AuditEvent, FileAuditLog
from aesp.core.audit_keys import (
    ECDSA_P256_SHA256,
    checkpoint_body,
    key_id,
    origin,
    parse_public_key,
)
from aesp.core.audit_shipper import AuditArchiver, AuditShipper
from aesp.core.audit_verify import verify_file
from aesp.core.errors import AespError
from aesp.core.ports.audit import AuditArchive, AuditSink, CheckpointSigner
from tests.aws_doubles.cloudtrail_data_fake import CloudTrailDataFake

HOUR_MS = 3_600_000


def event(n: int, tenant: str = "acme") -> AuditEvent:
    return AuditEvent(
        event_type="TOOL_INVOCATION_START",
        outcome="SUCCESS" if n % 4 else "DENIED",
        action="invoke",
        tenant_id=tenant,
        principal_id=f"user-{n % 3}",
        event_id=f"evt-{n:05d}",
    )


async def write(path: Path, events: list[AuditEvent], every: int = 3) -> None:
    log = FileAuditLog(path, checkpoint_every=every, checkpoint_interval_ms=HOUR_MS)
    for item in events:
        await log.append(item, durable=True)
    await log.close()


@pytest.fixture
def fake() -> Iterator[CloudTrailDataFake]:
    server = CloudTrailDataFake().start()
    yield server
    server.stop()


@pytest.fixture
def settings(aws_settings: AwsSettings, fake: CloudTrailDataFake) -> AwsSettings:
    stem = aws_settings.get("name_stem")
    return dataclasses.replace(
        aws_settings,
        endpoints={"cloudtrail-data": fake.url},
        options=dict(aws_settings.options)
        | {
            "audit_channel_arn": fake.add_channel(),
            "audit_bucket": f"{stem}-audit",
            "audit_retention_days": 30,
        },
    )


@pytest.fixture
def clients(settings: AwsSettings) -> Iterator[Aws]:
    made = Aws(settings)
    yield made
    made.close()


@pytest.fixture
async def signer(clients: Aws) -> AsyncIterator[KmsCheckpointSigner]:
    made = await KmsCheckpointSigner.open(clients)
    yield made
    await made.close()


# ---------------------------------------------------------------- KMS checkpoint signer


async def test_kms_signatures_verify_offline_with_the_der_public_key(
    clients: Aws, signer: KmsCheckpointSigner
) -> None:
    assert isinstance(signer, CheckpointSigner) and signer.algorithm == ECDSA_P256_SHA256
    described = clients.client("kms").describe_key(KeyId=signer.key_arn)["KeyMetadata"]
    assert (described["KeySpec"], described["KeyUsage"]) == ("ECC_NIST_P256", "SIGN_VERIFY")
    public = serialization.load_der_public_key(signer.public_der)
    assert isinstance(public, ec.EllipticCurvePublicKey)
    assert signer.key_id == key_id(parse_public_key(signer.public_der))
    assert serialization.load_pem_public_key(signer.public_key_pem()) == public
    body = checkpoint_body(origin("acme"), 3, b"\x07" * 32, 1_700_000_000_000)
    signature = await signer.sign(body)
    public.verify(signature, body, ec.ECDSA(hashes.SHA256()))  # raises if KMS signed otherwise
    second = await KmsCheckpointSigner.open(clients)  # a second Host: the same key via the alias
    assert second.key_arn == signer.key_arn


async def test_a_key_that_cannot_sign_checkpoints_is_refused(settings: AwsSettings) -> None:
    kms = Aws(settings)
    try:
        rsa = kms.client("kms").create_key(KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY")
        wrong = dataclasses.replace(
            settings,
            options=dict(settings.options) | {"audit_kms_key_id": rsa["KeyMetadata"]["KeyId"]},
        )
        with pytest.raises(AespError, match="ECC_NIST_P256") as caught:
            await KmsCheckpointSigner.open(Aws(wrong))
        assert caught.value.code == "INVALID_CONFIG"
        none = dataclasses.replace(settings, create_resources=False)
        with pytest.raises(AespError, match="audit_kms_key_id is required"):
            await KmsCheckpointSigner.open(Aws(none))
    finally:
        kms.close()


# ---------------------------------------------------------------- CloudTrail Lake sink


async def test_the_sink_ships_in_requests_of_at_most_100_exactly_once(
    clients: Aws, fake: CloudTrailDataFake, tmp_path: Path
) -> None:
    sink = await CloudTrailLakeSink.open(clients)
    assert isinstance(sink, AuditSink)
    path = tmp_path / "audit.jsonl"
    await write(path, [event(n, ("acme", "")[n % 5 == 0]) for n in range(250)])
    assert await AuditShipper(path, sink, name="cloudtrail", batch=500).flush() == 250
    assert fake.requests == 3  # 100 + 100 + 50
    stored = fake.stored(sink.channel_arn)
    assert [e.id for e in stored] == [f"evt-{n:05d}" for n in range(250)]
    first = stored[0].data
    assert first["eventName"] == "TOOL_INVOCATION_START" and first["UID"] == "evt-00000"
    assert first["recipientAccountId"] == "123456789012" and first["errorCode"] == "DENIED"
    sealed = first["additionalEventData"]["aesp_event"]
    assert sealed["event_id"] == "evt-00000" and len(sealed["hash"]) == 64  # the leaf's C-35 hash
    # a re-sent batch (the shipper's offset was lost) adds nothing, from this or a new process
    await sink.ship([event(n) for n in range(MAX_EVENTS)])
    assert fake.requests == 3  # acknowledged ids are not sent again
    restarted = await CloudTrailLakeSink.open(clients)
    await AuditShipper(path, restarted, name="cloudtrail-again").flush()
    assert len(fake.stored(sink.channel_arn)) == 250


async def test_failed_entries_are_retried_and_a_lasting_failure_raises(
    clients: Aws, fake: CloudTrailDataFake
) -> None:
    sink = await CloudTrailLakeSink.open(clients)
    fake.reject_next(["evt-00001"], times=1)
    await sink.ship([event(n) for n in range(3)])
    assert [e.id for e in fake.stored(sink.channel_arn)] == ["evt-00000", "evt-00002", "evt-00001"]
    fake.reject_next(["evt-00004"], times=10)
    with pytest.raises(AespError, match="refused 1 audit events") as caught:
        await sink.ship([event(n) for n in range(3, 6)])
    assert caught.value.code == "DEPENDENCY_UNAVAILABLE"
    fake.reject_next(["evt-00004"], times=0)
    await sink.ship([event(n) for n in range(3, 6)])  # the shipper's retry of the whole batch
    ids = [e.id for e in fake.stored(sink.channel_arn)]
    assert sorted(ids) == [f"evt-{n:05d}" for n in range(6)] and len(ids) == len(set(ids))
    assert entry_id("tenant:odd id") == entry_id("tenant:odd id") != "tenant:odd id"


async def test_a_missing_channel_is_a_refusal_a_person_can_act_on(
    settings: AwsSettings,
) -> None:
    gone = "arn:aws:cloudtrail:us-east-1:123456789012:channel/0000"
    bad = dataclasses.replace(
        settings, options=dict(settings.options) | {"audit_channel_arn": gone}
    )
    sink = await CloudTrailLakeSink.open(Aws(bad))
    with pytest.raises(AespError, match="ChannelNotFound") as caught:
        await sink.ship([event(0)])
    assert caught.value.escalation_required
    malformed = dataclasses.replace(
        settings, options=dict(settings.options) | {"audit_channel_arn": "arn:aws:s3:::b"}
    )
    with pytest.raises(AespError, match="not a CloudTrail channel ARN"):
        await CloudTrailLakeSink.open(Aws(malformed))


async def test_events_logged_during_an_outage_arrive_once_after_it(
    clients: Aws, fake: CloudTrailDataFake, tmp_path: Path
) -> None:
    sink = await CloudTrailLakeSink.open(clients)
    path = tmp_path / "audit.jsonl"
    log = FileAuditLog(path, checkpoint_every=10, checkpoint_interval_ms=HOUR_MS)
    shipper = AuditShipper(
        path, sink, name="cloudtrail", poll_seconds=0.02, backoff_first=0.05, backoff_max=0.2
    )
    await shipper.start()
    for n in range(40):
        await log.append(event(n), durable=True)
    for _ in range(200):
        if len(fake.stored(sink.channel_arn)) == 40:
            break
        await asyncio.sleep(0.02)
    fake.stop()  # CloudTrail is unreachable; the Host keeps logging
    for n in range(40, 140):
        await log.append(event(n), durable=True)
    shipper.nudge()
    for _ in range(1000):  # boto3's own retries of a refused connection take a few seconds
        if shipper.failures:
            break
        await asyncio.sleep(0.02)
    assert shipper.failures > 0 and len(fake.stored(sink.channel_arn)) == 40
    fake.start()
    for _ in range(1000):
        if len(fake.stored(sink.channel_arn)) == 140:
            break
        await asyncio.sleep(0.02)
    await shipper.stop()
    await log.close()
    ids = [e.id for e in fake.stored(sink.channel_arn)]
    assert len(ids) == 140 and len(set(ids)) == 140
    assert ids == [f"evt-{n:05d}" for n in range(140)]


# ---------------------------------------------------------------- S3 Object Lock archive


async def test_segments_are_locked_and_verify_offline_with_the_kms_key(
    clients: Aws, signer: KmsCheckpointSigner, tmp_path: Path, settings: AwsSettings
) -> None:
    archive = await S3AuditArchive.open(clients, key_arn=signer.key_arn)
    assert isinstance(archive, AuditArchive)
    s3 = clients.client("s3")
    rule = s3.get_object_lock_configuration(Bucket=archive.bucket)["ObjectLockConfiguration"]
    retention = rule["Rule"]["DefaultRetention"]
    assert (retention["Mode"], retention["Days"]) == ("COMPLIANCE", 30)
    path = tmp_path / "audit.jsonl"
    await write(path, [event(n, ("acme", "globex/eu", "")[n % 3]) for n in range(18)])
    archiver = AuditArchiver(path, archive, signer, segment_seconds=0)
    assert await archiver.flush() == 18
    for tenant in ("acme", "globex/eu", ""):
        listed = s3.list_objects_v2(Bucket=archive.bucket, Prefix=f"{tree_prefix(tenant)}/")
        keys = sorted(o["Key"] for o in listed["Contents"])
        segments = [k for k in keys if "/segments/" in k]
        assert segments == [segment_key(tenant, f, f + 3) for f in (0, 3)]
        joined = tmp_path / f"{tree_prefix(tenant)}.jsonl"
        joined.write_bytes(
            b"".join(s3.get_object(Bucket=archive.bucket, Key=k)["Body"].read() for k in segments)
        )
        report = verify_file(joined, [parse_public_key(signer.public_der)], require_covered=True)
        assert report.valid and report.leaves == 6 and report.checkpoints == 2, report.bad
        head = s3.head_object(Bucket=archive.bucket, Key=segments[-1])
        assert head["ObjectLockMode"] == "COMPLIANCE"
        assert head["ObjectLockRetainUntilDate"] > datetime.now(UTC) + timedelta(days=29)
        assert head["Metadata"]["aesp-signing-key"] == signer.key_arn
    # the auditor's command line: the DER from KMS, and a checkpoint fetched from the archive
    der = tmp_path / "kms.der"
    der.write_bytes(clients.client("kms").get_public_key(KeyId=signer.key_arn)["PublicKey"])
    trusted = tmp_path / "cp.json"
    trusted.write_bytes(
        s3.get_object(Bucket=archive.bucket, Key=checkpoint_key("acme", 6))["Body"].read()
    )
    assert json.loads(trusted.read_text())["key_id"] == signer.key_id
    acme = str(tmp_path / f"{tree_prefix('acme')}.jsonl")
    assert audit_cli(["verify", acme, "--public-key", str(der), "--checkpoint", str(trusted)]) == 0
    # the Host's local Ed25519 key does not verify the archive
    assert audit_cli(["verify", acme, "--public-key", str(tmp_path / "audit_signing.pub")]) == 1


async def test_archived_versions_cannot_be_deleted_or_duplicated(
    clients: Aws, signer: KmsCheckpointSigner, tmp_path: Path
) -> None:
    archive = await S3AuditArchive.open(clients, key_arn=signer.key_arn)
    path = tmp_path / "audit.jsonl"
    await write(path, [event(n) for n in range(6)])
    await AuditArchiver(path, archive, signer, segment_seconds=0).flush()
    s3 = clients.client("s3")
    versions = s3.list_object_versions(Bucket=archive.bucket)["Versions"]
    assert len(versions) == 4  # two segments and their checkpoints
    for version in versions:
        with pytest.raises(ClientError) as caught:
            s3.delete_object(
                Bucket=archive.bucket, Key=version["Key"], VersionId=version["VersionId"]
            )
        assert caught.value.response["Error"]["Code"] == "AccessDenied"
    # a second archiver that lost its state re-sends every segment: no new version appears
    for state in tmp_path.glob("audit.jsonl.offset.*"):
        state.unlink()
    await AuditArchiver(path, archive, signer, segment_seconds=0).flush()
    assert len(s3.list_object_versions(Bucket=archive.bucket)["Versions"]) == 4


async def test_an_unlocked_bucket_is_refused(clients: Aws, settings: AwsSettings) -> None:
    plain = f"{settings.get('name_stem')}-plain"
    clients.client("s3").create_bucket(Bucket=plain)
    unlocked = dataclasses.replace(
        settings,
        create_resources=False,
        options=dict(settings.options) | {"audit_bucket": plain},
    )
    with pytest.raises(AespError, match="has no Object Lock") as caught:
        await S3AuditArchive.open(Aws(unlocked))
    assert caught.value.code == "INVALID_CONFIG"
    zero = dataclasses.replace(
        settings, options=dict(settings.options) | {"audit_retention_days": 0}
    )
    with pytest.raises(AespError, match="audit_retention_days"):
        await S3AuditArchive.open(Aws(zero))
