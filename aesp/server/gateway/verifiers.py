"""The gateway's asynchronous front of each credential verifier in :mod:`aesp.identity`.

Why a front: the verifiers are synchronous (OIDC verification may fetch keys; an LDAP bind is
network I/O; SAML runs the ``xmlsec1`` program), and the Host's event loop must never block on
them, so cache misses run in a worker thread. Each front also says whether the identity was verified *now* or recognised from
a cache, because only a fresh verification is audited ``AUTHENTICATION_SUCCESS`` (item 149).
The verifiers' refusals (``AuthenticationError`` with their sentences) pass through unchanged.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

from aesp.core.errors import AuthenticationError
from aesp.core.ids import now_ms
from aesp.core.ports.identity import IdentityStore
from aesp.identity.apikeys import authenticate_api_key, check_record, parse_api_key
from aesp.identity.host_tokens import HostTokenVerifier
from aesp.identity.oidc import MAX_TOKEN_LENGTH, OidcVerifier
from aesp.identity.types import VerifiedIdentity
from aesp.server.gateway._caches import VerifiedCache, credential_digest

if TYPE_CHECKING:  # pysaml2 is imported only by a Host configured for SAML (see build.py)
    from aesp.identity.ldap import LdapAuthenticator  # ldap3 likewise, only with [identity.ldap]
    from aesp.identity.saml import SamlVerifier

__all__ = [
    "ApiKeyVerifier",
    "BasicVerifier",
    "BearerVerifier",
    "HostTokenFront",
    "SamlFront",
    "Verified",
    "decode_basic",
]

#: (identity, fresh): ``fresh`` is False when the credential was recognised from a cache.
Verified = tuple[VerifiedIdentity, bool]

API_KEY_CACHE_SIZE: Final = 10_000  # bounds memory: distinct keys remembered
API_KEY_SEEN_S: Final = 300.0  # a key in steady use is audited AUTHENTICATION_SUCCESS every 5 min
BIND_CACHE_SIZE: Final = 10_000  # bounds memory: distinct user/password pairs remembered
HOST_TOKEN_SEEN_SIZE: Final = 10_000  # bounds memory: distinct session tokens remembered
HOST_TOKEN_SEEN_S: Final = 900.0  # a session token in steady use is audited every 15 minutes
MAX_BASIC_LENGTH: Final = 4_096  # a longer Basic credential is no user name and password


class BearerVerifier:
    """OIDC bearer JWTs: the verifier's own token cache first, a worker thread on a miss."""

    def __init__(self, verifier: OidcVerifier) -> None:
        self._verifier = verifier

    async def verify(self, token: str) -> Verified:
        """Verify ``token`` (without its ``Bearer`` prefix).

        Raises:
            AuthenticationError: The verifier's refusal (``INVALID_CREDENTIALS``, or
                ``AUTHENTICATION_FAILED`` when the IdP's keys cannot be fetched).
        """
        if token and len(token) <= MAX_TOKEN_LENGTH:
            cached = self._verifier.token_cache.get(token)
            if cached is not None:
                return cached, False
        return await asyncio.to_thread(self._verifier.verify, token), True


def _unknown_key() -> AuthenticationError:
    # The same sentence as a wrong secret: whether a key id exists is nobody's business.
    return AuthenticationError(
        "INVALID_CREDENTIALS",
        "The API key is not valid.",
        remediation_steps=("Present the API key exactly as it was issued, or ask for a new one.",),
    )


class ApiKeyVerifier:
    """Service-account API keys, looked up in the Identity port on every request.

    The record is read on every request, so a revocation or expiry takes effect at once
    (item 152); only the hash comparison is skipped for a key verified a moment ago.

    Args:
        identity: Where key records live.
        pepper: The deployment's pepper (see :mod:`aesp.identity.apikeys`).
        prefix: The prefix of this deployment's keys.
        clock_ms: Unix milliseconds.
    """

    def __init__(
        self,
        identity: IdentityStore,
        *,
        pepper: bytes,
        prefix: str,
        clock_ms: Callable[[], int] = now_ms,
    ) -> None:
        self._identity = identity
        self._pepper = pepper
        self._prefix = prefix
        self._clock_ms = clock_ms
        self._seen: VerifiedCache[tuple[str, VerifiedIdentity]] = VerifiedCache(
            API_KEY_CACHE_SIZE, API_KEY_SEEN_S
        )

    def key_id(self, key: str) -> str:
        """The key id of a well-formed key (public; it names the key in audit), else ``""``."""
        try:
            return parse_api_key(key, prefix=self._prefix)[0]
        except AuthenticationError:
            return ""

    async def verify(self, key: str) -> Verified:
        """Verify a presented key against its stored record.

        Raises:
            AuthenticationError: ``INVALID_CREDENTIALS`` for a malformed, unknown, wrong,
                revoked or expired key.
            AespError: The Identity port's own failure (the request is refused, fail closed).
        """
        key_id, _ = parse_api_key(key, prefix=self._prefix)
        record = await self._identity.find_key(key_id)
        if record is None:
            raise _unknown_key()
        now = self._clock_ms()
        digest = credential_digest("api_key", key)
        seen = self._seen.get(digest)
        if seen is not None and seen[0] == record.stored_hash:
            check_record(record, now)  # revoked or expired since: refused now
            return seen[1], False
        identity = authenticate_api_key(
            key, record, pepper=self._pepper, now_ms=now, prefix=self._prefix
        )
        self._seen.put(digest, (record.stored_hash, identity))
        return identity, True


def decode_basic(encoded: str) -> tuple[str, str]:
    """Split an HTTP Basic credential (RFC 7617) into user name and password.

    Raises:
        AuthenticationError: ``INVALID_CREDENTIALS`` when it is not base64 of ``user:password``.
    """
    try:
        if len(encoded) > MAX_BASIC_LENGTH:
            raise ValueError("too long")
        text = base64.b64decode(encoded, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        text = ""
    username, colon, password = text.partition(":")
    if not colon:
        raise AuthenticationError(
            "INVALID_CREDENTIALS",
            "The Basic credential is malformed; send base64 of 'user name:password'.",
        )
    return username, password


class BasicVerifier:
    """User name and password, checked by an LDAP bind; successful binds are remembered briefly.

    Args:
        ldap: The directory.
        cache_ttl_s: How long a successful bind is remembered; 0 binds every request.
    """

    def __init__(self, ldap: LdapAuthenticator, *, cache_ttl_s: float) -> None:
        self._ldap = ldap
        self._binds: VerifiedCache[VerifiedIdentity] = VerifiedCache(BIND_CACHE_SIZE, cache_ttl_s)

    async def verify(self, encoded: str) -> Verified:
        """Verify a Basic credential (the part after ``Basic``).

        Raises:
            AuthenticationError: ``INVALID_CREDENTIALS`` (the directory's one sentence for
                every bad credential) or ``AUTHENTICATION_FAILED`` (directory unreachable).
        """
        username, password = decode_basic(encoded)
        digest = credential_digest("basic", username, password)
        cached = self._binds.get(digest)
        if cached is not None:
            return cached, False
        identity = await asyncio.to_thread(self._ldap.authenticate, username, password)
        self._binds.put(digest, identity)
        return identity, True


class SamlFront:
    """SAML responses: every presentation is verified (in a thread: xmlsec1 is a subprocess).

    Nothing is cached: an assertion is single-use, and the verifier's replay cache must see
    every presentation so that a second one is refused (``INVALID_CREDENTIALS``).
    """

    def __init__(self, verifier: SamlVerifier) -> None:
        self._verifier = verifier

    async def verify(self, encoded: str) -> Verified:
        """Verify a base64 ``SAMLResponse`` (the part after ``SAML``).

        The gateway is not the SP's assertion consumer and sent no ``AuthnRequest``, so the
        response is verified as unsolicited (``request_id=None``).

        Raises:
            AuthenticationError: The verifier's refusal, ``INVALID_CREDENTIALS`` with one of its
                ``MSG_*`` sentences (a replay among them) or ``AUTHENTICATION_FAILED`` when the
                IdP set-up or xmlsec1 is broken.
        """
        identity = await asyncio.to_thread(self._verifier.verify, encoded, request_id=None)
        return identity, True


class HostTokenFront:
    """The Host's own session tokens: verified on every request, audited once per token.

    Verification is one Ed25519 check in this thread (tens of microseconds), so nothing is
    cached but the fact that a token was seen, which keeps ``AUTHENTICATION_SUCCESS`` to one
    event per token instead of one per request.

    Args:
        verifier: Verifies tokens with the Host's public key.
    """

    def __init__(self, verifier: HostTokenVerifier) -> None:
        self._verifier = verifier
        self._seen: VerifiedCache[bool] = VerifiedCache(HOST_TOKEN_SEEN_SIZE, HOST_TOKEN_SEEN_S)

    def owns(self, token: str) -> bool:
        """Whether a bearer token names this Host as its issuer (routing only, unverified)."""
        return self._verifier.owns(token)

    async def verify(self, token: str) -> Verified:
        """Verify a session token (without its ``Bearer`` prefix).

        Raises:
            AuthenticationError: ``INVALID_CREDENTIALS`` naming the failed check (expired,
                another key, another issuer or audience, tampered, wrong algorithm).
        """
        identity = self._verifier.verify(token)
        digest = credential_digest("host_token", token)
        fresh = not self._seen.get(digest)
        if fresh:
            self._seen.put(digest, True)
        return identity, fresh
