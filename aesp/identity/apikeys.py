"""API keys for service accounts: issued once, stored as a peppered hash, expiring, revocable.

Why this shape (DESIGN §9, checklist 151-152):

* **Shown once.** :func:`generate_api_key` returns the full key exactly once, for the caller of
  ``CreateServiceAccount``; the Host keeps only :attr:`IssuedKey.stored_hash`. Nobody (an
  operator, a database backup, a log) can later read a key back.
* **Format** ``<prefix>_<key_id>_<secret>``, e.g. ``aesp_3f2a..._mz4q...``. The ``key_id`` is not
  secret: it finds the record in one indexed lookup (no scanning of hashes) and names the key in
  audit events. The secret is 256 bits from :mod:`secrets`, in lower-case base32 (no ``_`` or
  ``-``, so a double-click selects the whole key and the format parses unambiguously). The prefix
  lets secret scanners recognise leaked keys.
* **Stored form** ``hmac-sha256:<hex>``: HMAC-SHA-256 keyed with a per-deployment *pepper* over
  the key id and secret. A slow password KDF (bcrypt, scrypt, Argon2) is unnecessary here: those
  exist to make guessing *low-entropy* human passwords expensive, but a 256-bit random secret
  cannot be guessed at any hashing speed (2^256 candidates), so one fast hash is already as
  strong as the key. A slow KDF would instead cost tens of milliseconds of CPU on every governed
  call and hand attackers a cheap way to exhaust the Host. The pepper lives in the secret store,
  not the database, so a stolen table alone does not even let anyone test a candidate key.
* **Comparison** with :func:`hmac.compare_digest`, so timing reveals nothing about the hash.
* **Expiry and revocation** are checked on every use by :func:`check_record`. The identity port
  stores the records (:class:`ApiKeyRecord`); storage is not this module's business.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass, field

from aesp.core.errors import AuthenticationError
from aesp.identity.types import VerifiedIdentity

__all__ = [
    "HASH_SCHEME",
    "KEY_ID_BYTES",
    "MIN_PEPPER_BYTES",
    "SECRET_BYTES",
    "ApiKeyRecord",
    "IssuedKey",
    "authenticate_api_key",
    "check_record",
    "generate_api_key",
    "hash_api_key_secret",
    "parse_api_key",
    "verify_api_key",
]

#: Bytes of randomness in a secret (256 bits).
SECRET_BYTES = 32
#: Bytes of randomness in a key id (96 bits: ids never collide in practice).
KEY_ID_BYTES = 12
#: Shortest pepper accepted.
MIN_PEPPER_BYTES = 32
#: Marks the stored form, so a later scheme can coexist with this one.
HASH_SCHEME = "hmac-sha256"

_SECRET_CHARS = len(base64.b32encode(bytes(SECRET_BYTES)).rstrip(b"="))  # 52
_KEY_ID_CHARS = 2 * KEY_ID_BYTES  # hex
_PREFIX = re.compile(r"[a-z][a-z0-9]{0,15}")
_KEY_ID = re.compile(rf"[0-9a-f]{{{_KEY_ID_CHARS}}}")
_SECRET = re.compile(rf"[a-z2-7]{{{_SECRET_CHARS}}}")
_MAX_KEY_LENGTH = 128
_DOMAIN = b"aesp-api-key-v1\x00"


def _refuse(sentence: str) -> AuthenticationError:
    return AuthenticationError(
        "INVALID_CREDENTIALS",
        sentence,
        remediation_steps=("Present the API key exactly as it was issued, or ask for a new one.",),
    )


def _check_prefix(prefix: str) -> None:
    if not _PREFIX.fullmatch(prefix):
        raise ValueError("an API key prefix is 1-16 lower-case letters and digits, letter first")


def _check_pepper(pepper: bytes) -> None:
    if not isinstance(pepper, bytes) or len(pepper) < MIN_PEPPER_BYTES:
        raise ValueError(f"the API key pepper must be at least {MIN_PEPPER_BYTES} random bytes")


@dataclass(frozen=True, slots=True)
class IssuedKey:
    """A freshly generated API key.

    Attributes:
        key_id: The public identifier; store it and index the record by it.
        secret_to_show_once: The complete key ``<prefix>_<key_id>_<secret>``. Give it to the
            requester once and never store or log it (it is left out of ``repr``).
        stored_hash: What to store: ``hmac-sha256:<hex>``.
    """

    key_id: str
    secret_to_show_once: str = field(repr=False)
    stored_hash: str


@dataclass(frozen=True, slots=True)
class ApiKeyRecord:
    """What the Host stores about one API key.

    Attributes:
        key_id: The key's public identifier.
        service_account_id: The service account the key authenticates.
        tenant_id: The service account's tenant.
        stored_hash: :attr:`IssuedKey.stored_hash`.
        created_at_ms: Creation time, Unix milliseconds.
        expires_at_ms: Expiry, Unix milliseconds; 0 means the key never expires.
        revoked_at_ms: When the key was revoked, Unix milliseconds; 0 means not revoked.
    """

    key_id: str
    service_account_id: str
    tenant_id: str
    stored_hash: str
    created_at_ms: int
    expires_at_ms: int = 0
    revoked_at_ms: int = 0


def hash_api_key_secret(key_id: str, secret: str, *, pepper: bytes) -> str:
    """Compute the stored form of a key.

    Args:
        key_id: The key id (bound into the hash, so a record cannot be re-pointed at another
            key's hash).
        secret: The secret part of the key.
        pepper: The deployment's pepper (at least :data:`MIN_PEPPER_BYTES` bytes).

    Returns:
        ``hmac-sha256:<64 hex digits>``.

    Raises:
        ValueError: The pepper is too short.
    """
    _check_pepper(pepper)
    message = _DOMAIN + key_id.encode("ascii") + b"\x00" + secret.encode("ascii")
    return f"{HASH_SCHEME}:{hmac.new(pepper, message, hashlib.sha256).hexdigest()}"


def generate_api_key(prefix: str = "aesp", *, pepper: bytes) -> IssuedKey:
    """Create a new API key.

    Args:
        prefix: The key's prefix (lower-case letters and digits, 1-16 characters).
        pepper: The deployment's pepper.

    Returns:
        The key id, the full key to show once, and the hash to store.

    Raises:
        ValueError: The prefix or pepper is invalid.
    """
    _check_prefix(prefix)
    key_id = secrets.token_hex(KEY_ID_BYTES)
    secret = base64.b32encode(secrets.token_bytes(SECRET_BYTES)).rstrip(b"=").decode().lower()
    return IssuedKey(
        key_id=key_id,
        secret_to_show_once=f"{prefix}_{key_id}_{secret}",
        stored_hash=hash_api_key_secret(key_id, secret, pepper=pepper),
    )


def parse_api_key(text: str, *, prefix: str = "aesp") -> tuple[str, str]:
    """Split a presented key into its key id and secret.

    Args:
        text: The key as presented (no surrounding whitespace).
        prefix: The prefix this deployment issues.

    Returns:
        ``(key_id, secret)``.

    Raises:
        AuthenticationError: ``INVALID_CREDENTIALS`` with a sentence naming what is wrong
            (never repeating the text).
    """
    if not isinstance(text, str) or not text:
        raise _refuse("No API key was presented.")
    if len(text) > _MAX_KEY_LENGTH:
        raise _refuse("The API key is too long to be one this Host issued.")
    if not text.startswith(prefix + "_"):
        raise _refuse(f"The API key does not start with '{prefix}_'.")
    parts = text[len(prefix) + 1 :].split("_")
    if len(parts) != 2:
        raise _refuse(f"The API key is malformed; expected {prefix}_<key id>_<secret>.")
    key_id, secret = parts
    if not _KEY_ID.fullmatch(key_id):
        raise _refuse(f"The API key's key id is malformed; expected {_KEY_ID_CHARS} hex digits.")
    if not _SECRET.fullmatch(secret):
        raise _refuse(
            f"The API key's secret is malformed; expected {_SECRET_CHARS} base32 characters."
        )
    return key_id, secret


def verify_api_key(
    presented: str, stored_hash: str, *, pepper: bytes, prefix: str = "aesp"
) -> bool:
    """Check a presented key against a stored hash, in constant time.

    Args:
        presented: The full key as presented.
        stored_hash: The stored form from the key's record.
        pepper: The deployment's pepper.
        prefix: The prefix this deployment issues.

    Returns:
        True when the key matches; False when it does not or is malformed.

    Raises:
        ValueError: The pepper is too short (a deployment error, not the caller's).
    """
    _check_pepper(pepper)
    try:
        key_id, secret = parse_api_key(presented, prefix=prefix)
    except AuthenticationError:
        return False
    expected = hash_api_key_secret(key_id, secret, pepper=pepper).encode("ascii")
    stored = stored_hash.encode("utf-8", "replace") if isinstance(stored_hash, str) else b""
    return hmac.compare_digest(expected, stored)


def check_record(record: ApiKeyRecord, now_ms: int) -> None:
    """Refuse a key that has been revoked or has expired.

    Args:
        record: The stored record.
        now_ms: The current time, Unix milliseconds.

    Raises:
        AuthenticationError: ``INVALID_CREDENTIALS``, one sentence for a revoked key and
            another for an expired one.
    """
    if record.revoked_at_ms and now_ms >= record.revoked_at_ms:
        raise _refuse(
            "The API key has been revoked; ask the service account's owner for a new key."
        )
    if record.expires_at_ms and now_ms >= record.expires_at_ms:
        raise _refuse("The API key has expired; ask the service account's owner for a new key.")


def authenticate_api_key(
    presented: str,
    record: ApiKeyRecord,
    *,
    pepper: bytes,
    now_ms: int,
    prefix: str = "aesp",
    issuer: str = "aesp",
) -> VerifiedIdentity:
    """Do every check on a presented key and its stored record, in the safe order.

    The caller looks the record up by the key id from :func:`parse_api_key`; this function then
    checks that the record is that key's, the secret, revocation and expiry.

    Args:
        presented: The full key as presented.
        record: The record found for its key id.
        pepper: The deployment's pepper.
        now_ms: The current time, Unix milliseconds.
        prefix: The prefix this deployment issues.
        issuer: Names the issuing Host in ``principal_id`` (``api_key|<issuer>|<account>``).

    Returns:
        The service account's identity; its ``principal_id`` is the service account (all its
        keys name the same principal) and ``claims["key_id"]`` the key used.

    Raises:
        AuthenticationError: ``INVALID_CREDENTIALS`` for a malformed, wrong, revoked or expired
            key.
    """
    key_id, _ = parse_api_key(presented, prefix=prefix)
    if not hmac.compare_digest(key_id.encode(), record.key_id.encode("utf-8", "replace")):
        raise _refuse("The API key does not belong to the record it was checked against.")
    if not verify_api_key(presented, record.stored_hash, pepper=pepper, prefix=prefix):
        raise _refuse("The API key is not valid.")
    check_record(record, now_ms)
    return VerifiedIdentity(
        principal_id=f"api_key|{issuer}|{record.service_account_id}",
        tenant_id=record.tenant_id,
        source="api_key",
        issuer=issuer,
        subject=record.service_account_id,
        claims={"key_id": record.key_id},
        expires_at_ms=record.expires_at_ms,
    )
