"""Host session tokens: a short-lived JWT the Host issues in exchange for a one-time credential.

Why this module exists: a SAML assertion is single-use (the verifier's replay cache refuses a
second presentation), and an LDAP password should not travel with every call. The gateway
therefore verifies such a credential once and answers with a token of its own, as AWS STS
``AssumeRoleWithSAML`` does; the caller presents that token as ``Bearer`` afterwards.

The token is a compact JWS (RFC 7515) signed with the Host's Ed25519 key (``EdDSA``, RFC 8037):

* header ``{"alg": "EdDSA", "typ": "aesp-session+jwt", "kid": <RFC 7638 thumbprint>}``;
* claims ``iss`` = ``aud`` = ``aesp-host:<trust domain>``, ``sub`` (the verified principal id),
  ``tenant``, ``groups``, ``source`` (how the principal was first verified: ``saml``,
  ``ldap``), ``mfa``, ``iat``, ``exp``, a random ``jti`` and, when the IdP gave one, the display
  ``name``. Other IdP attributes are not carried: the token names the principal, the Identity
  and RBAC ports still decide what it may do.
* ``exp`` = min(now + TTL, the end of what was exchanged: the SAML ``SessionNotOnOrAfter`` or
  the credential's own expiry), so a token never outlives the login it came from.

Verification trusts the Host's own public key only: the algorithm must be ``EdDSA`` (``none``,
HMAC and everything else are refused before any key is touched), the ``kid`` must be the Host's,
the issuer and audience must match exactly, and ``exp``/``iat`` are checked with a small leeway.
The key itself lives in a file under the Host's ``data_dir``
(:mod:`aesp.server.gateway.token_key`).
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from aesp.core.errors import AuthenticationError
from aesp.identity.jwks import SigningKey, b64url_decode
from aesp.identity.types import VerifiedIdentity

__all__ = [
    "ALGORITHM",
    "DEFAULT_TTL_S",
    "LEEWAY_S",
    "MAX_HOST_TOKEN_LENGTH",
    "MAX_TTL_S",
    "TOKEN_TYPE",
    "HostTokenIssuer",
    "HostTokenVerifier",
    "IssuedToken",
    "host_issuer",
]

ALGORITHM: Final = "EdDSA"
TOKEN_TYPE: Final = "aesp-session+jwt"  # explicit typing (RFC 8725 §3.11): no other JWT fits
DEFAULT_TTL_S: Final = 900  # 15 minutes, the default of [identity.host_tokens] ttl_s
MAX_TTL_S: Final = 43_200  # 12 hours, STS's longest session; also bounds exp - iat on verify
LEEWAY_S: Final = 30.0  # clock difference tolerated between Host replicas sharing the key
# Far above a real token (some 500 bytes plus the groups); bounds parsing, and keeps the token
# inside gRPC's default 8 KiB metadata limit of the caller that receives it.
MAX_HOST_TOKEN_LENGTH: Final = 8_000

_MSG_EXPIRED: Final = (
    "The Host session token has expired; authenticate again (a new SAML response or your "
    "user name and password) to get a new one."
)


def host_issuer(trust_domain: str) -> str:
    """The ``iss`` and ``aud`` of this Host's tokens: ``aesp-host:<trust_domain>``.

    Never a URL, so it can never equal an OIDC issuer (those are HTTPS URLs) and the gateway can
    route a bearer token by its ``iss`` without ambiguity.
    """
    return f"aesp-host:{trust_domain}"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _json(value: Mapping[str, Any]) -> bytes:
    return json.dumps(value, separators=(",", ":"), sort_keys=True).encode("utf-8")


def _thumbprint(public_key: ed25519.Ed25519PublicKey) -> str:
    """RFC 7638 JWK thumbprint: names the key in ``kid`` so a rotated key is told apart."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    jwk = {"crv": "Ed25519", "kty": "OKP", "x": _b64url(raw)}
    return _b64url(hashlib.sha256(_json(jwk)).digest())


# --------------------------------------------------------------------------- issuing


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A token the Host issued.

    Attributes:
        token: The compact JWS to hand the caller.
        token_id: Its ``jti``; public, names the token in the audit trail.
        expires_at_ms: Its ``exp`` in Unix milliseconds.
    """

    token: str
    token_id: str
    expires_at_ms: int


class HostTokenIssuer:
    """Signs session tokens with the Host's Ed25519 key.

    Args:
        key: The Host's private key
            (:func:`aesp.server.gateway.token_key.load_or_create_token_key`).
        trust_domain: The Host's trust domain; names the issuer and audience.
        ttl_s: Longest lifetime of a token, in seconds (``[identity.host_tokens] ttl_s``).
        clock: Current time, epoch seconds.

    Raises:
        ValueError: ``ttl_s`` is not between 1 and :data:`MAX_TTL_S`, or the trust domain is
            empty.
    """

    def __init__(
        self,
        key: ed25519.Ed25519PrivateKey,
        *,
        trust_domain: str,
        ttl_s: int = DEFAULT_TTL_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not trust_domain:
            raise ValueError("trust_domain must not be empty")
        if isinstance(ttl_s, bool) or not 1 <= ttl_s <= MAX_TTL_S:
            raise ValueError(f"ttl_s must be between 1 and {MAX_TTL_S} seconds")
        self._key = key
        self._trust_domain = trust_domain
        self.issuer = host_issuer(trust_domain)
        self.ttl_s = int(ttl_s)
        self.kid = _thumbprint(key.public_key())
        self._clock = clock

    def verifier(self, *, leeway_s: float = LEEWAY_S) -> HostTokenVerifier:
        """A verifier of this issuer's tokens (the same key, trust domain and clock)."""
        return HostTokenVerifier(
            self._key.public_key(),
            trust_domain=self._trust_domain,
            leeway_s=leeway_s,
            clock=self._clock,
        )

    def issue(self, identity: VerifiedIdentity, *, not_after_ms: int = 0) -> IssuedToken:
        """Issue a token naming ``identity``.

        Args:
            identity: The principal a verifier has just verified.
            not_after_ms: When what was exchanged ends (Unix ms; 0 = no end known). The token
                expires then at the latest.

        Returns:
            The token, its id and its expiry.

        Raises:
            AuthenticationError: ``INVALID_CREDENTIALS`` when the credential ends before a
                token of at least one second could be issued; ``AUTHENTICATION_FAILED`` when
                the identity has so many groups that the token would exceed
                :data:`MAX_HOST_TOKEN_LENGTH`.
        """
        now = int(self._clock())
        exp = now + self.ttl_s
        if not_after_ms > 0:
            exp = min(exp, not_after_ms // 1000)  # rounded down: never past the credential
        if exp <= now:
            raise AuthenticationError(
                "INVALID_CREDENTIALS",
                "The credential expires too soon to start a session; authenticate again.",
            )
        jti = secrets.token_hex(16)
        header = {"alg": ALGORITHM, "typ": TOKEN_TYPE, "kid": self.kid}
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.issuer,
            "sub": identity.principal_id,
            "tenant": identity.tenant_id,
            "groups": list(identity.groups),
            "source": identity.source,
            "mfa": bool(identity.mfa),
            "iat": now,
            "exp": exp,
            "jti": jti,
        }
        if identity.display_name:
            claims["name"] = identity.display_name
        signing_input = f"{_b64url(_json(header))}.{_b64url(_json(claims))}"
        signature = self._key.sign(signing_input.encode("ascii"))
        token = f"{signing_input}.{_b64url(signature)}"
        if len(token) > MAX_HOST_TOKEN_LENGTH:
            # Dropping groups would silently change the principal's roles: refuse instead.
            raise AuthenticationError(
                "AUTHENTICATION_FAILED",
                f"The principal's {len(identity.groups)} groups do not fit in a Host session "
                "token; ask an administrator to limit the groups the identity provider releases.",
            )
        return IssuedToken(token, jti, exp * 1000)


# --------------------------------------------------------------------------- verifying


def _refuse(sentence: str) -> AuthenticationError:
    return AuthenticationError("INVALID_CREDENTIALS", sentence)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for name, value in pairs:
        if name in result:
            raise ValueError(f"duplicate member {name!r}")
        result[name] = value
    return result


def _reject_constant(name: str) -> Any:
    raise ValueError(f"JSON constant {name} is not allowed")


def _json_object(segment: str) -> dict[str, Any] | None:
    """Decode a base64url JSON object strictly (no duplicate members, no NaN); else None."""
    try:
        value = json.loads(
            b64url_decode(segment).decode("utf-8"),
            object_pairs_hook=_no_duplicates,
            parse_constant=_reject_constant,
        )
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def _time(claims: Mapping[str, Any], name: str) -> float:
    value = claims.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _refuse(f"The Host session token has no valid '{name}' time.")
    return float(value)


def _text(claims: Mapping[str, Any], name: str) -> str:
    value = claims.get(name)
    if not isinstance(value, str) or not value:
        raise _refuse(f"The Host session token has no valid '{name}' claim.")
    return value


class HostTokenVerifier:
    """Verifies tokens of one Host (its public key and trust domain only).

    Args:
        public_key: The Host's Ed25519 public key.
        trust_domain: The Host's trust domain (issuer and audience).
        leeway_s: Clock difference tolerated for ``exp`` and ``iat``.
        clock: Current time, epoch seconds.
    """

    def __init__(
        self,
        public_key: ed25519.Ed25519PublicKey,
        *,
        trust_domain: str,
        leeway_s: float = LEEWAY_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.issuer = host_issuer(trust_domain)
        self.kid = _thumbprint(public_key)
        # SigningKey binds the key to EdDSA: it verifies no other algorithm (jwks module).
        self._key = SigningKey(self.kid, "OKP", "Ed25519", ALGORITHM, public_key)
        self._leeway_s = float(leeway_s)
        self._clock = clock

    def owns(self, token: str) -> bool:
        """Whether ``token`` claims to come from this Host (its *unverified* ``iss``).

        Only for routing: a token that says so is verified by :meth:`verify` and by nothing
        else, so claiming our issuer gains an attacker nothing but this key's check.
        """
        if not isinstance(token, str) or len(token) > MAX_HOST_TOKEN_LENGTH:
            return False
        parts = token.split(".")
        if len(parts) != 3:
            return False
        claims = _json_object(parts[1])
        return claims is not None and claims.get("iss") == self.issuer

    def verify(self, token: str) -> VerifiedIdentity:
        """Verify a session token: (1) shape, (2) header, (3) signature, (4) claims.

        Args:
            token: The compact JWS, without the ``Bearer`` prefix.

        Returns:
            The identity it names: ``principal_id`` = ``sub``, the tenant, groups, ``mfa``,
            ``source`` (how the principal was first verified), ``expires_at_ms`` from ``exp``
            and the token id in ``claims["token_id"]``.

        Raises:
            AuthenticationError: ``INVALID_CREDENTIALS`` naming the failed check.
        """
        # (1) shape: three strict base64url segments, bounded length.
        if not isinstance(token, str) or not token or len(token) > MAX_HOST_TOKEN_LENGTH:
            raise _refuse("The Host session token is empty or too long.")
        parts = token.split(".")
        if len(parts) != 3:
            raise _refuse("The Host session token is not a signed JWT (it must have three parts).")
        header_b64, payload_b64, signature_b64 = parts
        header = _json_object(header_b64)
        if header is None:
            raise _refuse("The Host session token's header is not base64url-encoded JSON.")
        # (2) header: the algorithm is fixed, never chosen by the token (no none, no HMAC).
        if header.get("alg") != ALGORITHM:
            raise _refuse(f"The Host session token must be signed with {ALGORITHM}; it is refused.")
        if header.get("typ") != TOKEN_TYPE or "crit" in header:
            raise _refuse("The Host session token's header is not that of a Host session token.")
        if header.get("kid") != self.kid:
            raise _refuse("The Host session token was not signed with this Host's key.")
        # (3) signature with the Host's own public key.
        try:
            signature = b64url_decode(signature_b64)
        except ValueError:
            raise _refuse("The Host session token's signature is not base64url-encoded.") from None
        signing_input = f"{header_b64}.{payload_b64}".encode("ascii")
        if not self._key.verify(ALGORITHM, signing_input, signature):
            raise _refuse("The Host session token's signature is not valid.")
        claims = _json_object(payload_b64)
        if claims is None:
            raise _refuse("The Host session token's payload is not a JSON object.")
        return self._identity(claims)

    def _identity(self, claims: Mapping[str, Any]) -> VerifiedIdentity:
        """(4) claims: issuer and audience exact, times, then the principal's fields."""
        if claims.get("iss") != self.issuer:
            raise _refuse(f"The Host session token was not issued by {self.issuer}.")
        if claims.get("aud") != self.issuer:
            raise _refuse(f"The Host session token is not meant for {self.issuer}.")
        now = self._clock()
        exp, iat = _time(claims, "exp"), _time(claims, "iat")
        if now > exp + self._leeway_s:
            raise _refuse(_MSG_EXPIRED)
        if iat > now + self._leeway_s or exp <= iat or exp - iat > MAX_TTL_S:
            raise _refuse("The Host session token's issue and expiry times are not plausible.")
        groups = claims.get("groups", [])
        if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
            raise _refuse("The Host session token's groups are not a list of names.")
        mfa = claims.get("mfa", False)
        if not isinstance(mfa, bool):
            raise _refuse("The Host session token's 'mfa' claim is not true or false.")
        name = claims.get("name", "")
        sub, jti = _text(claims, "sub"), _text(claims, "jti")
        return VerifiedIdentity(
            principal_id=sub,
            tenant_id=_text(claims, "tenant"),
            source=_text(claims, "source"),
            issuer=self.issuer,
            subject=sub,
            display_name=name if isinstance(name, str) else "",
            groups=tuple(groups),
            claims={"token_id": jti},
            expires_at_ms=int(exp * 1000),
            mfa=mfa,
        )
