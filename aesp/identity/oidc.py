"""Verification of OIDC/OAuth 2.0 bearer JWTs (access tokens, RFC 9068) on the call path.

Why: SPEC §3.19 step 1 requires the Host to validate the caller's token before anything else
runs, and step 2 to build the security context only from what was verified. This module does
step 1 for tokens issued by an enterprise IdP, and hands step 2 a :class:`VerifiedIdentity` whose
tenant comes from the verifier's configuration or a verified, allow-listed claim, never from a
request field.

Design points:

* The token's header never chooses how it is verified. The algorithm must be on the configured
  allow-list *and* fit the type of the published key its ``kid`` names (see
  :mod:`aesp.identity.jwks`); ``none`` and ``HS*`` cannot even be configured.
* Every refusal is ``AuthenticationError("INVALID_CREDENTIALS", sentence)``. The sentence says
  which check failed and never repeats token contents (the caller may be an attacker probing;
  logs must not fill with attacker-chosen text). An unreachable or misconfigured IdP is
  ``AUTHENTICATION_FAILED`` instead, so operators can tell the two apart.
* The call path does no network I/O unless the key cache misses (:class:`JwksCache`), and a
  repeated token is answered from :class:`VerifiedTokenCache` in microseconds.
* **Revocation is by expiry.** A JWT is self-contained: neither this verifier nor its cache asks
  the IdP about each token, so a token stays valid until ``exp`` (plus the leeway) even if the
  principal is disabled at the IdP in the meantime. Keep access-token lifetimes short (minutes);
  where faster revocation is needed, the identity port checks the principal against the
  directory (checklist 150), which this verifier does not replace.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NoReturn

from aesp.core.errors import AuthenticationError, ConfigurationError
from aesp.identity.jwks import (
    DEFAULT_ALGORITHMS,
    SUPPORTED_ALGORITHMS,
    JwksCache,
    b64url_decode,
    check_key_url,
)
from aesp.identity.types import VerifiedIdentity

__all__ = [
    "MAX_TOKEN_LENGTH",
    "FixedTenant",
    "OidcVerifier",
    "TenantFromClaim",
    "TenantRule",
    "VerifiedTokenCache",
]

#: Longest token accepted, in characters. Real access tokens (even with many groups) stay well
#: below; the limit stops a caller from making the Host decode megabytes.
MAX_TOKEN_LENGTH = 16_384


@dataclass(frozen=True, slots=True)
class FixedTenant:
    """Every principal of this issuer belongs to one tenant (one IdP per tenant).

    Attributes:
        tenant_id: The tenant.
    """

    tenant_id: str


@dataclass(frozen=True, slots=True)
class TenantFromClaim:
    """The tenant is a claim of the verified token, and must be one of an allow-list.

    The allow-list matters: an IdP shared by several tenants could otherwise mint a token for a
    tenant this Host does not serve, or an IdP administrator of one tenant could name another.

    Attributes:
        claim: The claim name (e.g. ``tenant`` or ``tid``).
        allowed: The tenants this issuer may speak for.
    """

    claim: str
    allowed: frozenset[str]


#: How the verifier decides the tenant of a verified token.
TenantRule = FixedTenant | TenantFromClaim


def _refuse(sentence: str) -> AuthenticationError:
    return AuthenticationError(
        "INVALID_CREDENTIALS",
        sentence,
        remediation_steps=("Obtain a new access token from the identity provider and retry.",),
    )


def _reject_constant(name: str) -> Any:
    raise ValueError(f"JSON constant {name} is not allowed")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for name, value in pairs:
        if name in result:
            raise ValueError(f"duplicate member {name!r}")
        result[name] = value
    return result


def _decode_json_object(raw: bytes) -> dict[str, Any] | None:
    """Parse a JSON object strictly; ``None`` when the bytes are not exactly that."""
    try:
        value = json.loads(
            raw.decode("utf-8"),
            parse_constant=_reject_constant,  # NaN/Infinity would defeat the exp comparison
            object_pairs_hook=_no_duplicates,  # two parsers must never see two different tokens
        )
    except (ValueError, UnicodeDecodeError, RecursionError):  # deep nesting is an attack too
        return None
    return value if isinstance(value, dict) else None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        result = float(value)
    except OverflowError:  # an integer beyond float range is no time
        return None
    return result if math.isfinite(result) else None


def _as_string(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list) and all(
        isinstance(v, str | int | float) and not isinstance(v, bool) for v in value
    ):
        return " ".join(str(v) for v in value)
    return None


class VerifiedTokenCache:
    """A bounded LRU of tokens already verified, so a hot caller is not re-verified every call.

    Keys are the SHA-256 of the token (the cache holds no bearer tokens, only their digests);
    an entry lives until the token's ``exp`` and is dropped earlier only by LRU eviction. A hit
    therefore never outlives the token, and the cache adds no revocation gap beyond the one
    JWTs have anyway (revocation is by expiry; see the module documentation). It is thread-safe.

    Args:
        max_entries: Capacity; the least recently used entry is evicted beyond it. 0 disables
            caching.
        clock: Wall-clock time in seconds (the same clock the ``exp`` check uses).

    Raises:
        ValueError: ``max_entries`` is negative.
    """

    def __init__(self, max_entries: int = 10_000, *, clock: Callable[[], float] = time.time):
        if max_entries < 0:
            raise ValueError("max_entries must be >= 0")
        self._max = max_entries
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: OrderedDict[bytes, VerifiedIdentity] = OrderedDict()

    @staticmethod
    def _key(token: str) -> bytes:
        return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()

    def get(self, token: str) -> VerifiedIdentity | None:
        """Return the identity of an already-verified, unexpired token.

        Args:
            token: The compact JWT as presented.

        Returns:
            The cached identity, or ``None`` on a miss or an expired entry.
        """
        if not self._max:
            return None
        key = self._key(token)
        now_ms = self._clock() * 1000.0
        with self._lock:
            identity = self._entries.get(key)
            if identity is None:
                return None
            if now_ms >= identity.expires_at_ms:
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return identity

    def put(self, token: str, identity: VerifiedIdentity) -> None:
        """Remember a verified token until its expiry.

        Args:
            token: The compact JWT that was verified.
            identity: What it verified to; its ``expires_at_ms`` bounds the entry's life.
        """
        if not self._max or identity.expires_at_ms <= self._clock() * 1000.0:
            return
        key = self._key(token)
        with self._lock:
            self._entries[key] = identity
            self._entries.move_to_end(key)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        """Forget every entry (e.g. after an emergency key revocation at the IdP)."""
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)


class OidcVerifier:
    """Verifies bearer JWTs of one issuer for one audience.

    Args:
        issuer: The IdP's issuer identifier; the token's ``iss`` must equal it exactly. HTTPS
            (plain HTTP only to a loopback address).
        audience: This Host's audience; the token's ``aud`` must contain it.
        tenant: How the tenant is decided (:class:`FixedTenant` or :class:`TenantFromClaim`).
        algorithms: Accepted JWS algorithms; any of RS256/384/512, PS256/384/512,
            ES256/384/512, EdDSA. ``none`` and ``HS*`` are refused.
        jwks_uri: Where the IdP publishes its keys; ``None`` means OIDC discovery.
        leeway_s: Clock skew tolerated for ``exp``, ``nbf`` and ``iat``.
        groups_claim: The claim that lists the principal's groups.
        cache_size: Capacity of the :class:`VerifiedTokenCache`; 0 disables it.
        jwks: A prepared key cache (tests wrap its fetcher); built from ``issuer`` and
            ``jwks_uri`` when ``None``.
        clock: Wall-clock time in seconds.

    Raises:
        ConfigurationError: ``INVALID_CONFIG`` for a forbidden or unknown algorithm, an empty
            allow-list, a bad issuer or JWKS URL, an empty audience or tenant rule, a negative
            leeway, or a ``jwks`` cache of another issuer.
    """

    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        tenant: TenantRule,
        algorithms: Iterable[str] = DEFAULT_ALGORITHMS,
        jwks_uri: str | None = None,
        leeway_s: float = 30.0,
        groups_claim: str = "groups",
        cache_size: int = 10_000,
        jwks: JwksCache | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        algs = frozenset(algorithms)
        for alg in sorted(algs):
            if alg.lower() == "none":
                _config("unsigned tokens (alg 'none') can never be accepted")
            if alg.upper().startswith("HS"):
                _config(
                    f"symmetric algorithm {alg} is not accepted: a verifier that holds only "
                    "public keys must never verify HMAC tokens (algorithm confusion)"
                )
            if alg not in SUPPORTED_ALGORITHMS:
                _config(f"unsupported JWS algorithm {alg!r}; use {sorted(SUPPORTED_ALGORITHMS)}")
        if not algs:
            _config("the algorithm allow-list is empty")
        try:
            check_key_url(issuer)
            if jwks_uri is not None:
                check_key_url(jwks_uri)
        except ValueError as exc:
            _config(str(exc))
        if not audience:
            _config("the audience is empty")
        if isinstance(tenant, FixedTenant):
            if not tenant.tenant_id:
                _config("the fixed tenant is empty")
        elif isinstance(tenant, TenantFromClaim):
            allowed = tenant.allowed
            if not tenant.claim or isinstance(allowed, str) or not allowed or not all(allowed):
                _config("a tenant claim rule needs a claim name and a non-empty allow-list")
        else:
            _config("tenant must be a FixedTenant or a TenantFromClaim")
        if not math.isfinite(leeway_s) or leeway_s < 0:
            _config("leeway_s must be a non-negative number of seconds")
        if not groups_claim:
            _config("groups_claim is empty")
        if jwks is not None and jwks.issuer != issuer:
            _config("the JWKS cache belongs to another issuer")
        self.issuer = issuer
        self.audience = audience
        self.tenant = tenant
        self.algorithms = algs
        self.leeway_s = float(leeway_s)
        self.groups_claim = groups_claim
        self.jwks = jwks if jwks is not None else JwksCache(issuer, jwks_uri)
        self.token_cache = VerifiedTokenCache(cache_size, clock=clock)
        self._clock = clock

    def verify(self, token: str) -> VerifiedIdentity:
        """Verify a compact JWS bearer token and say whom it names.

        Args:
            token: The token, without the ``Bearer`` prefix.

        Returns:
            The verified identity: ``principal_id = oidc|{iss}|{sub}``, the tenant by the
            configured rule, groups from ``groups_claim``, ``expires_at_ms`` from ``exp``.

        Raises:
            AuthenticationError: ``INVALID_CREDENTIALS`` when the token is malformed, unsigned,
                signed with a disallowed algorithm or an unknown or mismatched key, has a bad
                signature, or fails a claim check (``iss``, ``aud``, ``exp``, ``nbf``, ``iat``,
                ``sub``, tenant, groups); ``AUTHENTICATION_FAILED`` when the IdP's keys cannot
                be fetched and none are cached.
        """
        if not isinstance(token, str) or not token:
            raise _refuse("No bearer token was presented.")
        if len(token) > MAX_TOKEN_LENGTH:
            raise _refuse(f"The bearer token is longer than {MAX_TOKEN_LENGTH} characters.")
        cached = self.token_cache.get(token)
        if cached is not None:
            return cached
        identity = self._verify(token)
        self.token_cache.put(token, identity)
        return identity

    def _verify(self, token: str) -> VerifiedIdentity:
        parts = token.split(".")
        if len(parts) != 3:
            raise _refuse("The bearer token is not a signed JWT (it must have three parts).")
        header_b64, payload_b64, signature_b64 = parts
        try:
            header = _decode_json_object(b64url_decode(header_b64))
        except ValueError:
            header = None
        if header is None:
            raise _refuse("The bearer token's header is not base64url-encoded JSON.")

        alg = header.get("alg")
        if not isinstance(alg, str) or not alg:
            raise _refuse("The bearer token's header names no signing algorithm (alg).")
        if alg.lower() == "none":
            raise _refuse("The bearer token is unsigned (alg 'none'); unsigned tokens are refused.")
        if alg not in self.algorithms:
            raise _refuse(
                "The bearer token is signed with an algorithm that is not allowed; allowed: "
                f"{', '.join(sorted(self.algorithms))}."
            )
        if "crit" in header:
            raise _refuse("The bearer token's header has critical extensions (crit), refused.")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise _refuse("The bearer token's header names no signing key (kid).")

        key = self.jwks.get(kid)
        if key is None:
            raise _refuse(
                f"The bearer token is signed with a key (kid) that the issuer {self.issuer} "
                "does not publish."
            )
        if not key.accepts(alg):
            raise _refuse(
                "The bearer token's algorithm does not match the type of the key it names "
                "(algorithm confusion)."
            )
        try:
            payload = b64url_decode(payload_b64)
        except ValueError:
            raise _refuse("The bearer token's payload is not base64url-encoded.") from None
        try:
            signature = b64url_decode(signature_b64)
        except ValueError:
            raise _refuse("The bearer token's signature is not base64url-encoded.") from None
        # Both segments are now known to be base64url, hence ASCII.
        if not key.verify(alg, f"{header_b64}.{payload_b64}".encode("ascii"), signature):
            raise _refuse("The bearer token's signature is not valid.")

        claims = _decode_json_object(payload)
        if claims is None:
            raise _refuse("The bearer token's payload is not a JSON object.")
        return self._check_claims(claims)

    def _check_claims(self, claims: Mapping[str, Any]) -> VerifiedIdentity:
        if claims.get("iss") != self.issuer:
            raise _refuse(f"The bearer token was not issued by the issuer {self.issuer}.")
        aud = claims.get("aud")
        audiences = aud if isinstance(aud, list) else [aud]
        if self.audience not in [a for a in audiences if isinstance(a, str)]:
            raise _refuse(f"The bearer token is not meant for this audience ({self.audience}).")

        now = self._clock()
        if "exp" not in claims:
            raise _refuse("The bearer token has no expiry time (exp); such tokens are refused.")
        exp = _number(claims["exp"])
        if exp is None:
            raise _refuse("The bearer token's expiry time (exp) is not a number.")
        if now > exp + self.leeway_s:
            raise _refuse("The bearer token has expired (exp).")
        if "nbf" in claims:
            nbf = _number(claims["nbf"])
            if nbf is None:
                raise _refuse("The bearer token's not-before time (nbf) is not a number.")
            if now + self.leeway_s < nbf:
                raise _refuse("The bearer token is not valid yet (nbf is in the future).")
        if "iat" in claims:
            iat = _number(claims["iat"])
            if iat is None:
                raise _refuse("The bearer token's issued-at time (iat) is not a number.")
            if iat > now + self.leeway_s:
                raise _refuse("The bearer token was issued in the future (iat).")
        sub = claims.get("sub")
        if not isinstance(sub, str) or not sub:
            raise _refuse("The bearer token names no subject (sub).")

        tenant_id = self._tenant(claims)
        groups = self._groups(claims)
        display = claims.get("name") or claims.get("preferred_username") or ""
        amr = claims.get("amr")
        strings: dict[str, str] = {}
        for name, value in claims.items():  # structured claims (objects) have no string form
            text = _as_string(value)
            if text is not None:
                strings[name] = text
        return VerifiedIdentity(
            principal_id=f"oidc|{self.issuer}|{sub}",
            tenant_id=tenant_id,
            source="oidc",
            issuer=self.issuer,
            subject=sub,
            display_name=display if isinstance(display, str) else "",
            groups=groups,
            claims=strings,
            expires_at_ms=int(exp * 1000),
            mfa=isinstance(amr, list) and "mfa" in amr,
        )

    def _tenant(self, claims: Mapping[str, Any]) -> str:
        rule = self.tenant
        if isinstance(rule, FixedTenant):
            return rule.tenant_id
        value = claims.get(rule.claim)
        if not isinstance(value, str) or not value:
            raise _refuse(f"The bearer token names no tenant (claim {rule.claim!r}).")
        if value not in rule.allowed:
            raise _refuse(
                f"The bearer token's tenant (claim {rule.claim!r}) is not one this issuer may "
                "speak for."
            )
        return value

    def _groups(self, claims: Mapping[str, Any]) -> tuple[str, ...]:
        value = claims.get(self.groups_claim)
        if value is None:
            return ()
        if isinstance(value, str):
            return (value,)
        if isinstance(value, list) and all(isinstance(g, str) for g in value):
            return tuple(value)
        raise _refuse(
            f"The bearer token's groups claim ({self.groups_claim!r}) is not a list of strings."
        )


def _config(sentence: str) -> NoReturn:
    raise ConfigurationError("INVALID_CONFIG", f"OIDC verifier: {sentence}.")
