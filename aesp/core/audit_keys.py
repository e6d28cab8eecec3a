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
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import stat
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from aesp.core.errors import AespError

__all__ = [
    "CHECKPOINT_BODY_VERSION",
    "Checkpoint",
    "CheckpointError",
    "checkpoint_body",
    "key_id",
    "load_public_key",
    "load_or_create_signing_key",
    "origin",
    "public_key_path",
    "sign_checkpoint",
]

CHECKPOINT_BODY_VERSION = "aesp-audit-checkpoint/v1"
SYSTEM_ORIGIN = "aesp-audit/system"
TENANT_ORIGIN_PREFIX = "aesp-audit/tenant/"
_CHECKPOINT_FIELDS = ("tenant", "origin", "size", "root", "timestamp_ms", "key_id", "signature")


class CheckpointError(ValueError):
    """A checkpoint is malformed, made by an unknown key, or its signature does not verify."""


def origin(tenant: str) -> str:
    """The origin line of ``tenant``'s tree (``""`` is the system tree)."""
    if not tenant:
        return SYSTEM_ORIGIN
    return TENANT_ORIGIN_PREFIX + urllib.parse.quote(tenant, safe="")


def key_id(public_key: Ed25519PublicKey) -> str:
    """First 16 hex digits of SHA-256 over the raw 32-byte public key."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


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
        if not isinstance(root, str) or len(root) != 64 or root != root.lower():
            raise CheckpointError("root must be 64 lowercase hex digits")
        try:
            return cls(
                tenant, size, bytes.fromhex(root), ts, kid, base64.b64decode(sig, validate=True)
            )
        except (ValueError, binascii.Error) as exc:
            raise CheckpointError(f"root or signature is malformed ({exc})") from None

    def verify(self, keys: dict[str, Ed25519PublicKey]) -> None:
        """Check the signature with the key named by ``key_id``.

        Args:
            keys: Trusted public keys by key id.

        Raises:
            CheckpointError: The key is not trusted, or the signature does not verify.
        """
        public_key = keys.get(self.key_id)
        if public_key is None:
            trusted = ", ".join(sorted(keys)) or "none"
            raise CheckpointError(
                f"signed by key {self.key_id}, which is not a given public key ({trusted})"
            )
        body = checkpoint_body(self.origin, self.size, self.root, self.timestamp_ms)
        try:
            public_key.verify(self.signature, body)
        except InvalidSignature:
            raise CheckpointError(f"the signature does not verify with key {self.key_id}") from None


def sign_checkpoint(
    key: Ed25519PrivateKey, tenant: str, size: int, root: bytes, timestamp_ms: int
) -> Checkpoint:
    """Sign the tree head of ``tenant`` at ``size``."""
    body = checkpoint_body(origin(tenant), size, root, timestamp_ms)
    return Checkpoint(tenant, size, root, timestamp_ms, key_id(key.public_key()), key.sign(body))


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


def load_public_key(path: Path) -> Ed25519PublicKey:
    """Read an Ed25519 public key from a PEM file.

    Raises:
        OSError: The file cannot be read.
        ValueError: The file is not an Ed25519 public key in PEM.
    """
    key = serialization.load_pem_public_key(path.read_bytes())
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError(f"{path} is not an Ed25519 public key")
    return key


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
