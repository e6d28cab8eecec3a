"""The CheckpointSigner port on AWS: archived audit checkpoints signed by a KMS key.

The key is asymmetric, ``KeySpec=ECC_NIST_P256``, ``KeyUsage=SIGN_VERIFY`` (KMS has no Ed25519
key everywhere, and moto has none), so its private half never leaves the HSM and an auditor
needs only its public key: ``aws kms get-public-key`` returns DER SubjectPublicKeyInfo, which
``aesp audit verify --public-key`` reads as it is.

Signing sends the checkpoint body itself (``MessageType=RAW``, ``SigningAlgorithm=
ECDSA_SHA_256``: KMS hashes it with SHA-256 and signs the hash); the DER signature it returns is
exactly what :class:`aesp.core.audit_keys.Checkpoint` verifies for ``ECDSA_P256_SHA256``. The
body is about 150 bytes and holds no secret (tree origin, size, root, time). Only a body over
KMS's 4096-byte RAW limit (a tenant id of thousands of characters) is sent as its SHA-256
(``MessageType=DIGEST``), which gives the same signature on AWS.

NOTE: moto 5.2.5 ignores ``MessageType`` and signs a DIGEST as if it were the message, so the
DIGEST path cannot be checked against moto; RAW is the path the tests verify offline. Only the archiver calls :meth:`KmsCheckpointSigner.sign`, off the call
path; the local log keeps signing with its Ed25519 file key, so a slow or absent KMS never
delays an append.
"""

from __future__ import annotations

import hashlib

from cryptography.hazmat.primitives import serialization

from aesp.core.audit_keys import ECDSA_P256_SHA256, key_id, parse_public_key
from aesp.core.errors import AespError, ConfigurationError
from aesp_aws._aws import Aws, error_code, unreachable

__all__ = ["KmsCheckpointSigner"]

KEY_SPEC = "ECC_NIST_P256"
SIGNING_ALGORITHM = "ECDSA_SHA_256"
MAX_RAW_MESSAGE = 4096  # KMS Sign: a RAW message is at most 4096 bytes


class KmsCheckpointSigner:
    """Signs checkpoint bodies with the KMS key ``[adapters.aws] audit_kms_key_id``.

    Args:
        aws: The clients.
        key_arn: The key's ARN (what ``Sign`` is called with).
        public_der: The key's public half (DER SubjectPublicKeyInfo from ``GetPublicKey``).
    """

    algorithm = ECDSA_P256_SHA256

    def __init__(self, aws: Aws, key_arn: str, public_der: bytes) -> None:
        self._aws = aws
        self.key_arn = key_arn
        self.public_der = public_der
        self._public = parse_public_key(public_der, f"the public key of {key_arn}")
        self.key_id = key_id(self._public)

    @classmethod
    async def open(cls, aws: Aws) -> KmsCheckpointSigner:
        """The signer of ``audit_kms_key_id`` (key id, ARN or ``alias/...``).

        With ``create_resources`` and no key configured, the key behind the alias
        ``alias/<table_prefix>-audit-checkpoints`` is used, created on first start, so every Host
        of one deployment signs with the same key.

        Raises:
            ConfigurationError: ``INVALID_CONFIG`` when no key is configured, or the key is not
                an ECC_NIST_P256 signing key.
            AespError: ``DEPENDENCY_UNAVAILABLE`` when KMS cannot be reached.
        """
        settings = aws.settings
        configured = str(settings.get("audit_kms_key_id", "") or "")
        if not configured and settings.create_resources:
            configured = await _ensure_key(aws, f"alias/{settings.table_prefix}-audit-checkpoints")
        if not configured:
            settings.require("audit_kms_key_id", "the KMS key that signs audit checkpoints")
        reply = await _kms(aws, "get_public_key", KeyId=configured)
        # NOTE: KeySpec is the current name; CustomerMasterKeySpec the deprecated one (moto's).
        spec = reply.get("KeySpec") or reply.get("CustomerMasterKeySpec")
        algorithms = reply.get("SigningAlgorithms") or []
        if (
            spec != KEY_SPEC
            or not isinstance(algorithms, list)
            or SIGNING_ALGORITHM not in algorithms
        ):
            raise ConfigurationError(
                "INVALID_CONFIG",
                f"[adapters.aws] audit_kms_key_id {configured} is a {spec} key "
                f"for {reply.get('KeyUsage')}; audit checkpoints need an {KEY_SPEC} key with "
                f"KeyUsage SIGN_VERIFY ({SIGNING_ALGORITHM}).",
            )
        return cls(aws, str(reply["KeyId"]), bytes(reply["PublicKey"]))

    def public_key_pem(self) -> bytes:
        """The SubjectPublicKeyInfo PEM of the key (cached at open: the key never changes)."""
        return self._public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    async def sign(self, message: bytes) -> bytes:
        """The DER ECDSA signature of SHA-256(``message``), made by KMS.

        Raises:
            AespError: ``DEPENDENCY_UNAVAILABLE`` when KMS cannot sign now (the archiver
                retries).
        """
        if len(message) <= MAX_RAW_MESSAGE:
            kind, payload = "RAW", message
        else:
            kind, payload = "DIGEST", hashlib.sha256(message).digest()
        reply = await _kms(
            self._aws,
            "sign",
            KeyId=self.key_arn,
            Message=payload,
            MessageType=kind,
            SigningAlgorithm=SIGNING_ALGORITHM,
        )
        return bytes(reply["Signature"])

    async def close(self) -> None:
        """Nothing to release (the :class:`Aws` clients are the plugin's)."""


async def _ensure_key(aws: Aws, alias: str) -> str:
    """The key behind ``alias``, created with the alias when absent (two Hosts agree on one)."""
    try:
        return str((await aws.call("kms", "describe_key", KeyId=alias))["KeyMetadata"]["Arn"])
    except Exception as exc:
        if error_code(exc) != "NotFoundException":
            raise _unavailable(exc) from exc
    created = await _kms(
        aws,
        "create_key",
        KeySpec=KEY_SPEC,
        KeyUsage="SIGN_VERIFY",
        Description="aesp: signs audit log checkpoints archived to S3",
    )
    arn = str(created["KeyMetadata"]["Arn"])
    try:
        await aws.call("kms", "create_alias", AliasName=alias, TargetKeyId=arn)
    except Exception as exc:
        if error_code(exc) != "AlreadyExistsException":
            raise _unavailable(exc) from exc
        # NOTE: another Host won the race; use its key and retire ours (never used to sign).
        await _kms(aws, "schedule_key_deletion", KeyId=arn, PendingWindowInDays=7)
        return str((await _kms(aws, "describe_key", KeyId=alias))["KeyMetadata"]["Arn"])
    return arn


async def _kms(aws: Aws, operation: str, **kwargs: object) -> dict[str, object]:
    try:
        return dict(await aws.call("kms", operation, **kwargs))
    except Exception as exc:
        raise _unavailable(exc) from exc


def _unavailable(exc: Exception) -> AespError:
    if unreachable(exc):
        return AespError(
            "DEPENDENCY_UNAVAILABLE",
            "AWS KMS cannot be reached to sign audit checkpoints; segments wait in the local log "
            "and are archived when it answers again.",
            retry_after_ms=1000,
        )
    return ConfigurationError(
        "INVALID_CONFIG",
        f"AWS KMS refused the audit checkpoint key ({error_code(exc) or exc}): check "
        "[adapters.aws] audit_kms_key_id and that the Host's role may call kms:GetPublicKey "
        "and kms:Sign on it.",
    )
