"""The audit log's Ed25519 signing key and its signed checkpoints (DESIGN §8, C-35).

A checkpoint says "the tree of tenant T had ``size`` leaves and this root hash at this time",
signed with the Host's Ed25519 key. What is signed is a fixed text body, so any Ed25519 tool
can check it without our code::

    aesp-audit-checkpoint/v1\\n<origin>\\n<size>\\n<root hex>\\n<timestamp_ms>\\n

``origin`` names the tree: ``aesp-audit/tenant/<tenant, percent-encoded>`` for a tenant and
``aesp-audit/system`` for system events (empty tenant). Percent-encoding keeps the body one
field per line whatever a tenant id contains, and the two prefixes cannot collide.

The private key is a PKCS#8 PEM file, mode 0600, created once with a no-clobber link (two
processes starting together agree on one key); the public key is written beside it as
``<name>.pub`` (SubjectPublicKeyInfo PEM) for auditors. ``key_id`` is the first 16 hex digits
of SHA-256 of the raw public key, so a checkpoint names the key that made it.

Two signature algorithms are known, and a checkpoint record names its own (``algorithm``;
records written before the field existed are Ed25519):

* ``ED25519``: the Host's local file key (:class:`FileCheckpointSigner`), signing the body.
* ``ECDSA_P256_SHA256``: ECDSA on NIST P-256 over SHA-256 of the body, DER-encoded signature,
  which is what a cloud key service returns (an HSM-held key cannot sign Ed25519 everywhere).
  Its ``key_id`` is the first 16 hex digits of SHA-256 of the DER SubjectPublicKeyInfo.

Public keys for verification are read as PEM or DER SubjectPublicKeyInfo
(:func:`load_public_key`), because key services hand out DER.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import stat
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from aesp.core.errors import AespError

__all__ = [
    "CHECKPOINT_BODY_VERSION",
    "ECDSA_P256_SHA256",
    "ED25519",
    "Checkpoint",
    "CheckpointError",
    "FileCheckpointSigner",
    "PublicKey",
    "algorithm_of",
    "checkpoint_body",
    "key_id",
    "load_public_key",
    "load_or_create_signing_key",
    "origin",
    "parse_public_key",
    "public_key_path",
    "sign_checkpoint",
    "sign_checkpoint_with",
]

CHECKPOINT_BODY_VERSION = "aesp-audit-checkpoint/v1"
SYSTEM_ORIGIN = "aesp-audit/system"
TENANT_ORIGIN_PREFIX = "aesp-audit/tenant/"
ED25519 = "ED25519"
ECDSA_P256_SHA256 = "ECDSA_P256_SHA256"
ALGORITHMS = (ED25519, ECDSA_P256_SHA256)
PublicKey = Ed25519PublicKey | ec.EllipticCurvePublicKey
_CHECKPOINT_FIELDS = ("tenant", "origin", "size", "root", "timestamp_ms", "key_id", "signature")


class CheckpointError(ValueError):
    """A checkpoint is malformed, made by an unknown key, or its signature does not verify."""


def origin(tenant: str) -> str:
    """The origin line of ``tenant``'s tree (``""`` is the system tree)."""
    if not tenant:
        return SYSTEM_ORIGIN
    return TENANT_ORIGIN_PREFIX + urllib.parse.quote(tenant, safe="")


def key_id(public_key: PublicKey) -> str:
    """First 16 hex digits of SHA-256 over the raw Ed25519 key or the EC key's DER SPKI."""
    if isinstance(public_key, Ed25519PublicKey):
        raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    else:
        raw = public_key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    return hashlib.sha256(raw).hexdigest()[:16]


def algorithm_of(public_key: PublicKey) -> str:
    """The checkpoint algorithm ``public_key`` verifies."""
    return ED25519 if isinstance(public_key, Ed25519PublicKey) else ECDSA_P256_SHA256


def checkpoint_body(origin_line: str, size: int, root: bytes, timestamp_ms: int) -> bytes:
    """The exact bytes a checkpoint signature covers (see the module docstring)."""
    return (
        f"{CHECKPOINT_BODY_VERSION}\n{origin_line}\n{size}\n{root.hex()}\n{timestamp_ms}\n".encode()
    )


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A signed tree head of one tenant's audit tree."""

    tenant: str
    size: int
    root: bytes
    timestamp_ms: int
    key_id: str
    signature: bytes
    algorithm: str = ED25519

    @property
    def origin(self) -> str:
        """The tree's origin line."""
        return origin(self.tenant)

    def to_record(self) -> dict[str, object]:
        """The JSON record the log file stores (``kind`` = ``checkpoint``)."""
        return {
            "kind": "checkpoint",
            "tenant": self.tenant,
            "origin": self.origin,
            "size": self.size,
            "root": self.root.hex(),
            "timestamp_ms": self.timestamp_ms,
            "key_id": self.key_id,
            "signature": base64.b64encode(self.signature).decode(),
            "algorithm": self.algorithm,
        }

    @classmethod
    def from_record(cls, record: dict[str, object]) -> Checkpoint:
        """Parse a checkpoint record, checking every field's type and form.

        Raises:
            CheckpointError: A field is missing, of the wrong type, or does not fit the tenant.
        """
        missing = [name for name in _CHECKPOINT_FIELDS if name not in record]
        if missing:
            raise CheckpointError(f"checkpoint has no {missing[0]!r} field")
        tenant, size, ts = record["tenant"], record["size"], record["timestamp_ms"]
        root, kid, sig = record["root"], record["key_id"], record["signature"]
        if not isinstance(tenant, str) or record["origin"] != origin(tenant):
            raise CheckpointError(f"origin {record['origin']!r} does not name its tenant")
        if type(size) is not int or type(ts) is not int or size < 0 or ts < 0:
            raise CheckpointError("size and timestamp_ms must be non-negative integers")
        if not isinstance(kid, str) or not isinstance(sig, str):
            raise CheckpointError("key_id and signature must be strings")
        algorithm = record.get("algorithm", ED25519)  # absent: written before the field existed
        if algorithm not in ALGORITHMS:
            raise CheckpointError(f"algorithm {algorithm!r} is not one of {', '.join(ALGORITHMS)}")
        if not isinstance(root, str) or len(root) != 64 or root != root.lower():
            raise CheckpointError("root must be 64 lowercase hex digits")
        try:
            return cls(
                tenant,
                size,
                bytes.fromhex(root),
                ts,
                kid,
                base64.b64decode(sig, validate=True),
                str(algorithm),
            )
        except (ValueError, binascii.Error) as exc:
            raise CheckpointError(f"root or signature is malformed ({exc})") from None

    def body(self) -> bytes:
        """The bytes the signature covers."""
        return checkpoint_body(self.origin, self.size, self.root, self.timestamp_ms)

    def verify(self, keys: Mapping[str, PublicKey]) -> None:
        """Check the signature with the key named by ``key_id``.

        Args:
            keys: Trusted public keys by key id.

        Raises:
            CheckpointError: The key is not trusted, is of another algorithm, or the signature
                does not verify.
        """
        public_key = keys.get(self.key_id)
        if public_key is None:
            trusted = ", ".join(sorted(keys)) or "none"
            raise CheckpointError(
                f"signed by key {self.key_id}, which is not a given public key ({trusted})"
            )
        if algorithm_of(public_key) != self.algorithm:
            raise CheckpointError(
                f"says {self.algorithm} but key {self.key_id} is an {algorithm_of(public_key)} key"
            )
        try:
            if isinstance(public_key, Ed25519PublicKey):
                public_key.verify(self.signature, self.body())
            else:
                public_key.verify(self.signature, self.body(), ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            raise CheckpointError(f"the signature does not verify with key {self.key_id}") from None


def sign_checkpoint(
    key: Ed25519PrivateKey, tenant: str, size: int, root: bytes, timestamp_ms: int
) -> Checkpoint:
    """Sign the tree head of ``tenant`` at ``size``."""
    body = checkpoint_body(origin(tenant), size, root, timestamp_ms)
    return Checkpoint(tenant, size, root, timestamp_ms, key_id(key.public_key()), key.sign(body))


class FileCheckpointSigner:
    """The local realisation of :class:`~aesp.core.ports.audit.CheckpointSigner`: Ed25519 key.

    It signs in microseconds without I/O, so :class:`~aesp.core.audit.FileAuditLog` signs its
    in-file checkpoints with it synchronously (:meth:`sign_now`) inside the writer thread.
    """

    algorithm = ED25519

    def __init__(self, key: Ed25519PrivateKey) -> None:
        self._key = key
        self.key_id = key_id(key.public_key())

    @classmethod
    def from_file(cls, path: Path) -> FileCheckpointSigner:
        """The signer of the key file ``path`` (created on first use, see
        :func:`load_or_create_signing_key`)."""
        return cls(load_or_create_signing_key(path))

    def public_key_pem(self) -> bytes:
        """The SubjectPublicKeyInfo PEM auditors verify with."""
        return self._key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def sign_now(self, message: bytes) -> bytes:
        """The Ed25519 signature of ``message`` (no I/O)."""
        return self._key.sign(message)

    async def sign(self, message: bytes) -> bytes:
        """The Ed25519 signature of ``message``."""
        return self._key.sign(message)

    async def close(self) -> None:
        """Nothing to release."""


class _AsyncSigner(Protocol):
    """What :func:`sign_checkpoint_with` needs (the CheckpointSigner port)."""

    @property
    def algorithm(self) -> str: ...  # noqa: D102

    @property
    def key_id(self) -> str: ...  # noqa: D102

    async def sign(self, message: bytes) -> bytes: ...  # noqa: D102


async def sign_checkpoint_with(
    signer: _AsyncSigner, tenant: str, size: int, root: bytes, timestamp_ms: int
) -> Checkpoint:
    """The tree head of ``tenant`` at ``size`` signed by any checkpoint signer."""
    body = checkpoint_body(origin(tenant), size, root, timestamp_ms)
    signature = await signer.sign(body)
    return Checkpoint(tenant, size, root, timestamp_ms, signer.key_id, signature, signer.algorithm)


def public_key_path(private_path: Path) -> Path:
    """Where the public key of ``private_path`` is published (``.pub`` beside it)."""
    return private_path.with_suffix(".pub")


def load_or_create_signing_key(path: Path) -> Ed25519PrivateKey:
    """Load the signing key, creating it (0600, atomically, no clobber) on first start.

    Also (re)writes the public key beside it when it is missing or differs.

    Raises:
        AespError: ``AUDIT_REQUIREMENT_NOT_MET`` when the key cannot be read or created, or when
            the file is readable by others (the Host refuses to sign with a leaked key).
    """
    try:
        if not path.exists():
            _create(path)
        mode = path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise _key_error(path, f"is accessible by other users (mode {mode & 0o777:o})")
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise _key_error(path, f"cannot be used ({exc})") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise _key_error(path, "is not an Ed25519 private key")
    _publish(key, public_key_path(path))
    return key


def load_public_key(path: Path) -> PublicKey:
    """Read a checkpoint public key from a file: PEM, or DER SubjectPublicKeyInfo.

    Raises:
        OSError: The file cannot be read.
        ValueError: The file is not an Ed25519 or ECDSA P-256 public key in PEM or DER.
    """
    return parse_public_key(path.read_bytes(), str(path))


def parse_public_key(data: bytes, name: str = "the key") -> PublicKey:
    """A checkpoint public key from PEM or DER SubjectPublicKeyInfo bytes.

    Raises:
        ValueError: Not an Ed25519 or ECDSA P-256 public key in PEM or DER.
    """
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            key = serialization.load_pem_public_key(data)
        else:
            key = serialization.load_der_public_key(data)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{name} is not a public key in PEM or DER ({exc})") from None
    if isinstance(key, Ed25519PublicKey):
        return key
    if isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1):
        return key
    raise ValueError(f"{name} is neither an Ed25519 nor an ECDSA P-256 public key")


def _create(path: Path) -> None:
    """Write a new key to a temporary file, then link it into place (never overwrites)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, pem)
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)  # NOTE: fails if another process created the key first; keep theirs
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    _fsync_dir(path.parent)


def _publish(key: Ed25519PrivateKey, path: Path) -> None:
    pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    if path.exists() and path.read_bytes() == pem:
        return
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(pem)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _key_error(path: Path, what: str) -> AespError:
    return AespError(
        "AUDIT_REQUIREMENT_NOT_MET",
        f"The audit signing key {path} {what}; the audit log cannot sign checkpoints.",
        remediation_steps=(
            f"Restore {path} from backup, or fix its permissions with `chmod 600 {path}`.",
            "Never replace the key silently: auditors verify old checkpoints with the old "
            "public key.",
        ),
        escalation_required=True,
    )
