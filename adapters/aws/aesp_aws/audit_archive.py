"""The AuditArchive port on AWS: the audit log's signed segments in S3 under Object Lock.

The archiver (:class:`aesp.core.audit_shipper.AuditArchiver`) cuts the Host's log into
per-tenant segments, each ending with a checkpoint signed by the KMS key
(:mod:`aesp_aws.checkpoint_signer`), and hands them here. Each segment becomes two objects in
the bucket ``[adapters.aws] audit_bucket``:

* ``<tree>/segments/<first>-<size>.jsonl``: the leaf lines and the signed checkpoint line;
* ``<tree>/checkpoints/<size>.json``: the checkpoint record alone (a JSON line, the form
  ``aesp audit verify --checkpoint`` reads), written second, so it marks a complete segment.

``<tree>`` is ``tenant=<tenant, percent-encoded>`` or ``system`` for the system events; the
numbers are zero-padded to 20 digits, so listing a tree's segments gives them in log order and
``cat``-ing them from the first gives a file that ``aesp audit verify --public-key kms.der``
checks offline.

Both objects are written with ``ObjectLockMode=COMPLIANCE`` and a retain-until date
``audit_retention_days`` (default 2555, seven years) ahead, on a bucket whose Object Lock
default is the same: until then nobody, the account root included, can delete or overwrite a
version (DESIGN §8, item 190). A segment already archived (its checkpoint object exists) is not
written again, so the archiver's at-least-once delivery adds no versions.
"""

from __future__ import annotations

import urllib.parse
from datetime import UTC, datetime, timedelta

from aesp.core.audit_verify import canonical
from aesp.core.errors import AespError, ConfigurationError
from aesp.core.ports.audit import AuditSegment
from aesp_aws._aws import Aws, error_code, unreachable

__all__ = ["S3AuditArchive", "checkpoint_key", "segment_key", "tree_prefix"]

DEFAULT_RETENTION_DAYS = 2555
LOCK_MODE = "COMPLIANCE"


def tree_prefix(tenant: str) -> str:
    """The key prefix of ``tenant``'s tree (``system`` for the system events)."""
    return f"tenant={urllib.parse.quote(tenant, safe='')}" if tenant else "system"


def segment_key(tenant: str, first: int, size: int) -> str:
    """Where the segment of leaves ``first .. size - 1`` is kept."""
    return f"{tree_prefix(tenant)}/segments/{first:020d}-{size:020d}.jsonl"


def checkpoint_key(tenant: str, size: int) -> str:
    """Where the checkpoint at ``size`` is kept."""
    return f"{tree_prefix(tenant)}/checkpoints/{size:020d}.json"


class S3AuditArchive:
    """Writes audit segments to an Object Lock bucket in COMPLIANCE mode.

    Args:
        aws: The clients.
        bucket: The bucket (Object Lock enabled).
        retention_days: How long each object version is locked.
        key_arn: The signing key's ARN, recorded in each object's metadata for auditors.
    """

    def __init__(self, aws: Aws, bucket: str, retention_days: int, key_arn: str = "") -> None:
        self._aws = aws
        self.bucket = bucket
        self.retention_days = retention_days
        self.key_arn = key_arn

    @classmethod
    async def open(cls, aws: Aws, *, key_arn: str = "") -> S3AuditArchive:
        """The archive in ``[adapters.aws] audit_bucket``.

        With ``create_resources`` the bucket is created with Object Lock and a default
        COMPLIANCE retention of ``audit_retention_days``; otherwise it must already have Object
        Lock enabled (the Host refuses to archive where a version could be deleted).

        Raises:
            ConfigurationError: ``INVALID_CONFIG`` when the bucket is missing, not locked, or
                the retention is not a positive number of days.
            AespError: ``DEPENDENCY_UNAVAILABLE`` when S3 cannot be reached.
        """
        settings = aws.settings
        bucket = settings.require("audit_bucket", "the S3 bucket that archives the audit log")
        days = settings.get("audit_retention_days", DEFAULT_RETENTION_DAYS)
        if isinstance(days, bool) or not isinstance(days, int) or days < 1:
            raise ConfigurationError(
                "INVALID_CONFIG",
                "[adapters.aws] audit_retention_days must be a positive whole number of days.",
            )
        archive = cls(aws, bucket, days, key_arn)
        if settings.create_resources:
            await archive._create()
        await archive._check_locked()
        return archive

    async def archive(self, segment: AuditSegment) -> None:
        """Write the segment, then its checkpoint; skip one already archived.

        Raises:
            AespError: ``DEPENDENCY_UNAVAILABLE`` when S3 cannot be reached or refuses the
                write (the archiver retries).
        """
        cp_key = checkpoint_key(segment.tenant, segment.size)
        if await self._exists(cp_key):
            return
        record = canonical(segment.checkpoint.to_record()) + b"\n"
        await self._put(segment_key(segment.tenant, segment.first, segment.size), segment.lines)
        await self._put(cp_key, record)

    async def close(self) -> None:
        """Nothing to release (the :class:`Aws` clients are the plugin's)."""

    # ------------------------------------------------------------------ internals

    async def _put(self, key: str, body: bytes) -> None:
        until = datetime.now(UTC) + timedelta(days=self.retention_days)
        metadata = {"aesp-signing-key": self.key_arn} if self.key_arn else {}
        await self._s3(
            "put_object",
            Bucket=self.bucket,
            Key=key,
            Body=body,
            ContentType="application/jsonl",
            ObjectLockMode=LOCK_MODE,
            ObjectLockRetainUntilDate=until,
            ChecksumAlgorithm="SHA256",
            Metadata=metadata,
        )

    async def _exists(self, key: str) -> bool:
        try:
            await self._aws.call("s3", "head_object", Bucket=self.bucket, Key=key)
        except Exception as exc:
            if error_code(exc) in ("404", "NoSuchKey", "NotFound"):
                return False
            raise _error(exc, self.bucket) from exc
        return True

    async def _create(self) -> None:
        kwargs: dict[str, object] = {"Bucket": self.bucket, "ObjectLockEnabledForBucket": True}
        region = self._aws.settings.region
        if region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
        try:
            await self._aws.call("s3", "create_bucket", **kwargs)
        except Exception as exc:
            if error_code(exc) not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                raise _error(exc, self.bucket) from exc
        await self._s3(
            "put_object_lock_configuration",
            Bucket=self.bucket,
            ObjectLockConfiguration={
                "ObjectLockEnabled": "Enabled",
                "Rule": {"DefaultRetention": {"Mode": LOCK_MODE, "Days": self.retention_days}},
            },
        )

    async def _check_locked(self) -> None:
        try:
            reply = await self._aws.call("s3", "get_object_lock_configuration", Bucket=self.bucket)
        except Exception as exc:
            if unreachable(exc):
                raise _error(exc, self.bucket) from exc
            reply = {}
        if reply.get("ObjectLockConfiguration", {}).get("ObjectLockEnabled") != "Enabled":
            raise ConfigurationError(
                "INVALID_CONFIG",
                f"The audit bucket {self.bucket} does not exist or has no Object Lock; the "
                "Host archives the audit log only where no version can be deleted.",
                remediation_steps=(
                    "Create the bucket with Object Lock enabled (deploy/aesp-aws.yaml does), "
                    "or set [adapters.aws] create_resources = true in development.",
                ),
            )

    async def _s3(self, operation: str, **kwargs: object) -> None:
        try:
            await self._aws.call("s3", operation, **kwargs)
        except Exception as exc:
            raise _error(exc, self.bucket) from exc


def _error(exc: Exception, bucket: str) -> AespError:
    if unreachable(exc):
        return AespError(
            "DEPENDENCY_UNAVAILABLE",
            "S3 cannot be reached to archive the audit log; segments wait in the local log and "
            "are archived when it answers again.",
            retry_after_ms=1000,
        )
    return AespError(
        "DEPENDENCY_UNAVAILABLE",
        f"S3 refused to archive the audit log in {bucket} ({error_code(exc) or exc}): check that "
        "the Host's role may call s3:PutObject, s3:PutObjectRetention and s3:GetObject on it.",
        escalation_required=True,
    )
