"""JSON Web Keys: parsing a JWKS, verifying JWS signatures, and a cached, rotating key set.

Why this module exists: a bearer-token verifier is only as safe as its key handling. Two classic
JWT attacks live here, not in the claim checks:

* **Algorithm confusion.** A token header names its own algorithm. If a verifier lets the header
  choose, an attacker signs ``HS256`` with the IdP's *public* key as the HMAC secret and the
  verifier "verifies" it with the same public bytes. :class:`SigningKey` therefore binds every key
  to the algorithms its type allows (``RSA`` → ``RS*``/``PS*``, ``EC P-256`` → ``ES256``, ...);
  symmetric (``oct``) keys are never loaded, and ``none``/``HS*`` are not implemented at all.
* **Key injection.** Keys come only from the configured issuer's JWKS, fetched over HTTPS (plain
  HTTP only to a loopback address, for local IdPs and tests), never from the token (``jwk``,
  ``jku`` and ``x5u`` headers are ignored).

:class:`JwksCache` keeps the key set in memory so the call path does no network I/O while the set
is fresh. It follows key rotation: an unknown ``kid`` triggers one rate-limited refetch. Refreshes
are single-flight under a lock; while one thread refreshes, the others keep using the stale set,
and a failed refresh keeps the stale set (up to ``max_stale_s``) rather than locking everyone
out because the IdP is briefly unreachable. With no usable keys at all, verification fails with
``AUTHENTICATION_FAILED`` (the IdP, not the caller, is at fault).

Signatures are checked with ``cryptography``, a dependency the Host already has, so no JOSE
library is needed at run time.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import logging
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from aesp.core.errors import AuthenticationError

__all__ = [
    "DEFAULT_ALGORITHMS",
    "SUPPORTED_ALGORITHMS",
    "Fetcher",
    "HttpDocument",
    "JwksCache",
    "JwksFetchError",
    "PublicKey",
    "SigningKey",
    "b64url_decode",
    "check_key_url",
    "fetch_json",
    "parse_jwk",
    "parse_jwks",
]

_log = logging.getLogger(__name__)

#: The asymmetric JWS algorithms (RFC 7518, RFC 8037) this module can verify.
SUPPORTED_ALGORITHMS: frozenset[str] = frozenset(
    {
        "RS256",
        "RS384",
        "RS512",
        "PS256",
        "PS384",
        "PS512",
        "ES256",
        "ES384",
        "ES512",
        "EdDSA",
    }
)

#: What a verifier accepts unless configured otherwise.
DEFAULT_ALGORITHMS: tuple[str, ...] = ("RS256", "ES256", "PS256", "EdDSA")

_HASHES: Mapping[str, Callable[[], hashes.HashAlgorithm]] = {
    "256": hashes.SHA256,
    "384": hashes.SHA384,
    "512": hashes.SHA512,
}

# EC curve per ES algorithm, with the byte length of one coordinate (and of r and s).
_EC_CURVES: Mapping[str, tuple[str, type[ec.EllipticCurve], int]] = {
    "ES256": ("P-256", ec.SECP256R1, 32),
    "ES384": ("P-384", ec.SECP384R1, 48),
    "ES512": ("P-521", ec.SECP521R1, 66),
}
_CURVE_BY_NAME: Mapping[str, tuple[str, type[ec.EllipticCurve], int]] = {
    crv: (alg, curve, size) for alg, (crv, curve, size) in _EC_CURVES.items()
}

#: The public key types a JWKS may hold.
PublicKey = (
    rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey | ed448.Ed448PublicKey
)

_MIN_RSA_BITS = 2048
_MAX_DOCUMENT_BYTES = 1 << 20  # a JWKS or discovery document larger than 1 MiB is not sane
_B64URL = re.compile(r"[A-Za-z0-9_-]*")
_MAX_AGE = re.compile(r"(?:^|,)\s*max-age\s*=\s*\"?(\d+)\"?\s*(?:,|$)", re.IGNORECASE)
_NO_CACHE = re.compile(r"(?:^|,)\s*(?:no-cache|no-store)\s*(?:,|$)", re.IGNORECASE)


def b64url_decode(segment: str) -> bytes:
    """Decode unpadded base64url (RFC 7515 §2), strictly.

    Args:
        segment: The text; padding and characters outside the base64url alphabet are refused.

    Returns:
        The decoded bytes.

    Raises:
        ValueError: The text is not canonical unpadded base64url.
    """
    if not _B64URL.fullmatch(segment) or len(segment) % 4 == 1:
        raise ValueError("not unpadded base64url")
    data = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    # Reject non-canonical encodings (unused trailing bits set), so one token has one spelling.
    if base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii") != segment:
        raise ValueError("not canonical base64url")
    return data


@dataclass(frozen=True, slots=True)
class SigningKey:
    """One public verification key from a JWKS, bound to the algorithms its type permits.

    Attributes:
        kid: The key id the IdP published.
        kty: ``RSA``, ``EC`` or ``OKP``.
        crv: The curve for ``EC``/``OKP`` keys, ``""`` for RSA.
        alg: The JWK's own ``alg`` member, ``""`` when the IdP did not pin one.
        public_key: The ``cryptography`` public key object.
    """

    kid: str
    kty: str
    crv: str
    alg: str
    public_key: PublicKey

    def accepts(self, alg: str) -> bool:
        """Whether a token signed with ``alg`` may be verified with this key.

        The key type decides (RSA keys verify ``RS*``/``PS*``, an ``EC`` key exactly the ``ES*`` of
        its curve, ``OKP`` keys ``EdDSA``), and a JWK that pins ``alg`` verifies only that one.
        This is what defeats algorithm confusion: no key ever verifies an algorithm of another
        family, and no key verifies ``HS*`` or ``none``.

        Args:
            alg: The JWS ``alg`` from the token header.

        Returns:
            True when the pairing is valid.
        """
        if alg not in SUPPORTED_ALGORITHMS or (self.alg and self.alg != alg):
            return False
        if self.kty == "RSA":
            return alg[:2] in ("RS", "PS")
        if self.kty == "EC":
            return alg in _EC_CURVES and _EC_CURVES[alg][0] == self.crv
        if self.kty == "OKP":
            return alg == "EdDSA"
        return False

    def verify(self, alg: str, signing_input: bytes, signature: bytes) -> bool:
        """Check a JWS signature.

        Args:
            alg: The token's algorithm; must satisfy :meth:`accepts`.
            signing_input: ``ASCII(BASE64URL(header) || '.' || BASE64URL(payload))``.
            signature: The decoded signature bytes.

        Returns:
            True only when the signature is valid for this key and algorithm.
        """
        if not self.accepts(alg):
            return False
        key = self.public_key
        try:
            if isinstance(key, rsa.RSAPublicKey):
                digest = _HASHES[alg[2:]]()
                pad: padding.AsymmetricPadding
                if alg.startswith("PS"):
                    # RFC 7518 §3.5: MGF1 with the same hash, salt as long as the hash output.
                    pad = padding.PSS(
                        mgf=padding.MGF1(_HASHES[alg[2:]]()), salt_length=digest.digest_size
                    )
                else:
                    pad = padding.PKCS1v15()
                key.verify(signature, signing_input, pad, digest)
                return True
            if isinstance(key, ec.EllipticCurvePublicKey):
                size = _EC_CURVES[alg][2]
                # JWS carries ECDSA as fixed-length r || s (RFC 7518 §3.4), not DER.
                if len(signature) != 2 * size:
                    return False
                r = int.from_bytes(signature[:size], "big")
                s = int.from_bytes(signature[size:], "big")
                key.verify(encode_dss_signature(r, s), signing_input, ec.ECDSA(_HASHES[alg[2:]]()))
                return True
            key.verify(signature, signing_input)
            return True
        except InvalidSignature:
            return False


def _coordinate(jwk: Mapping[str, Any], name: str) -> bytes:
    value = jwk.get(name)
    if not isinstance(value, str) or not value:
        raise ValueError(f"member {name!r} is missing")
    return b64url_decode(value)


def parse_jwk(jwk: Mapping[str, Any]) -> SigningKey | None:
    """Turn one JWK into a :class:`SigningKey`, or ``None`` if it is not a usable signing key.

    Keys that are not for signature verification are skipped rather than refused, so an IdP that
    also publishes encryption keys, symmetric keys or key types this module does not know still
    works: ``use`` other than ``sig``, ``key_ops`` without ``verify``, ``oct`` keys, unknown
    ``kty``/``crv``, and keys without a ``kid`` (a token could not name them).

    Args:
        jwk: One member of a JWKS ``keys`` array.

    Returns:
        The key, or ``None`` when it is to be ignored.

    Raises:
        ValueError: The key claims to be a usable signing key but is malformed or too weak (an
            RSA modulus under 2048 bits, a point not on its curve, a bad length).
    """
    kid = jwk.get("kid")
    kty = jwk.get("kty")
    if not isinstance(kid, str) or not kid or not isinstance(kty, str):
        return None
    if jwk.get("use", "sig") != "sig":
        return None
    key_ops = jwk.get("key_ops")
    if key_ops is not None and (not isinstance(key_ops, list) or "verify" not in key_ops):
        return None
    alg = jwk.get("alg", "")
    if not isinstance(alg, str):
        raise ValueError("member 'alg' is not a string")
    if alg and alg not in SUPPORTED_ALGORITHMS:
        return None  # pinned to an algorithm we never accept (e.g. HS256): not for us
    if kty == "RSA":
        n = int.from_bytes(_coordinate(jwk, "n"), "big")
        e = int.from_bytes(_coordinate(jwk, "e"), "big")
        if n.bit_length() < _MIN_RSA_BITS:
            raise ValueError(f"RSA key is shorter than {_MIN_RSA_BITS} bits")
        return SigningKey(kid, kty, "", alg, rsa.RSAPublicNumbers(e, n).public_key())
    crv = jwk.get("crv")
    if kty == "EC" and isinstance(crv, str) and crv in _CURVE_BY_NAME:
        _, curve, size = _CURVE_BY_NAME[crv]
        x, y = _coordinate(jwk, "x"), _coordinate(jwk, "y")
        if len(x) != size or len(y) != size:
            raise ValueError(f"EC {crv} coordinates must be {size} bytes")
        # from_encoded_point checks that the point lies on the curve.
        point = ec.EllipticCurvePublicKey.from_encoded_point(curve(), b"\x04" + x + y)
        return SigningKey(kid, kty, crv, alg, point)
    if kty == "OKP" and crv in ("Ed25519", "Ed448"):
        x = _coordinate(jwk, "x")
        okp: ed25519.Ed25519PublicKey | ed448.Ed448PublicKey
        if crv == "Ed25519":
            okp = ed25519.Ed25519PublicKey.from_public_bytes(x)
        else:
            okp = ed448.Ed448PublicKey.from_public_bytes(x)
        return SigningKey(kid, kty, crv, alg, okp)
    return None


def parse_jwks(document: Mapping[str, Any]) -> dict[str, SigningKey]:
    """Parse a JWK Set (RFC 7517 §5) into signing keys by ``kid``.

    A malformed individual key is logged and skipped, so one bad entry cannot take every key of
    the IdP out of service. A ``kid`` that appears twice among usable keys makes the set
    ambiguous, and that is refused.

    Args:
        document: The decoded JSON document.

    Returns:
        The usable keys, by ``kid``; possibly empty.

    Raises:
        ValueError: The document is not a JWK Set, or two usable keys share a ``kid``.
    """
    keys = document.get("keys")
    if not isinstance(keys, list):
        raise ValueError("the document has no 'keys' array")
    result: dict[str, SigningKey] = {}
    for entry in keys:
        if not isinstance(entry, Mapping):
            continue
        try:
            key = parse_jwk(entry)
        except ValueError as exc:
            _log.warning("skipping an unusable JWK (kid %r): %s", entry.get("kid"), exc)
            continue
        if key is None:
            continue
        if key.kid in result:
            raise ValueError(f"two signing keys share the kid {key.kid!r}")
        result[key.kid] = key
    return result


@dataclass(frozen=True, slots=True)
class HttpDocument:
    """A JSON document fetched over HTTP.

    Attributes:
        body: The decoded JSON object.
        max_age_s: ``Cache-Control: max-age`` in seconds; 0 for ``no-cache``/``no-store``;
            ``None`` when the response said nothing.
    """

    body: Mapping[str, Any]
    max_age_s: float | None


class JwksFetchError(Exception):
    """A discovery document or JWKS could not be fetched or was unusable."""


#: Fetches ``url`` within ``timeout_s`` seconds; raises :class:`JwksFetchError` on any failure.
Fetcher = Callable[[str, float], HttpDocument]


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_key_url(url: str) -> None:
    """Refuse a URL that keys must not be fetched from.

    Keys decide who is authenticated, so they travel over HTTPS. Plain HTTP is allowed only to a
    loopback address (a local IdP, or tests), where there is no network to tamper with.

    Args:
        url: An issuer, discovery or JWKS URL.

    Raises:
        ValueError: The URL is not HTTPS (or loopback HTTP), or has no host.
    """
    parts = urllib.parse.urlsplit(url)
    if not parts.hostname:
        raise ValueError(f"{url!r} has no host")
    if parts.scheme == "https":
        return
    if parts.scheme == "http" and _is_loopback(parts.hostname):
        return
    raise ValueError(f"{url!r} must use https (plain http is allowed only to a loopback address)")


def _max_age(cache_control: str | None) -> float | None:
    if not cache_control:
        return None
    if _NO_CACHE.search(cache_control):
        return 0.0
    match = _MAX_AGE.search(cache_control)
    return float(match.group(1)) if match else None


def fetch_json(url: str, timeout_s: float) -> HttpDocument:
    """GET a JSON object with a timeout, a size limit and no redirects to other schemes.

    Args:
        url: An ``https`` URL (or ``http`` to a loopback address).
        timeout_s: Socket timeout for connecting and for each read.

    Returns:
        The document and its ``Cache-Control`` max-age.

    Raises:
        JwksFetchError: The URL is not allowed, the request failed or timed out, the status was
            not 200, the body was too large, or it was not a JSON object.
    """
    try:
        check_key_url(url)
    except ValueError as exc:
        raise JwksFetchError(str(exc)) from None
    request = urllib.request.Request(
        url, headers={"Accept": "application/json, application/jwk-set+json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            if response.status != 200:
                raise JwksFetchError(f"GET {url} answered HTTP {response.status}")
            final = response.geturl()
            if final != url:
                check_key_url(final)
            raw = response.read(_MAX_DOCUMENT_BYTES + 1)
            cache_control = response.headers.get("Cache-Control")
    except urllib.error.HTTPError as exc:
        raise JwksFetchError(f"GET {url} answered HTTP {exc.code}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise JwksFetchError(f"GET {url} failed: {exc}") from None
    if len(raw) > _MAX_DOCUMENT_BYTES:
        raise JwksFetchError(f"GET {url} returned more than {_MAX_DOCUMENT_BYTES} bytes")
    try:
        body = json.loads(raw)
    except ValueError:
        raise JwksFetchError(f"GET {url} did not return JSON") from None
    if not isinstance(body, dict):
        raise JwksFetchError(f"GET {url} did not return a JSON object")
    return HttpDocument(body, _max_age(cache_control))


class JwksCache:
    """The signing keys of one issuer, fetched on demand and cached with a TTL.

    Thread-safe. Lookups of a known ``kid`` while the set is fresh take no lock and do no I/O.

    Args:
        issuer: The issuer URL; used for discovery when ``jwks_uri`` is not given.
        jwks_uri: Where the JWKS lives. ``None`` means OIDC discovery at
            ``{issuer}/.well-known/openid-configuration`` (whose ``issuer`` must equal
            ``issuer`` exactly, per OpenID Connect Discovery §4.3).
        fetch: The HTTP getter; :func:`fetch_json` unless a test wraps it.
        timeout_s: Per-request timeout.
        default_ttl_s: TTL when the JWKS response carries no ``Cache-Control`` max-age.
        min_ttl_s: Lower bound of the TTL, whatever the IdP says (protects the IdP and us).
        max_ttl_s: Upper bound of the TTL, so removed keys are noticed within this time.
        refetch_interval_s: Minimum time between two fetches triggered by an unknown ``kid`` or
            by a failed refresh; bounds the load an attacker sending random ``kid``s can cause.
        max_stale_s: How long past its TTL a key set may still be used while refreshes fail.
        clock: Monotonic time in seconds.

    Raises:
        ValueError: A URL is not allowed (see :func:`check_key_url`) or a duration is negative.
    """

    def __init__(
        self,
        issuer: str,
        jwks_uri: str | None = None,
        *,
        fetch: Fetcher = fetch_json,
        timeout_s: float = 5.0,
        default_ttl_s: float = 300.0,
        min_ttl_s: float = 30.0,
        max_ttl_s: float = 86_400.0,
        refetch_interval_s: float = 10.0,
        max_stale_s: float = 86_400.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        check_key_url(issuer)
        if jwks_uri is not None:
            check_key_url(jwks_uri)
        durations = (timeout_s, default_ttl_s, min_ttl_s, max_ttl_s, refetch_interval_s)
        if any(d < 0 for d in (*durations, max_stale_s)) or min_ttl_s > max_ttl_s:
            raise ValueError("JWKS cache durations must be non-negative and min_ttl <= max_ttl")
        self.issuer = issuer
        self._configured_jwks_uri = jwks_uri
        self._jwks_uri = jwks_uri
        self._fetch = fetch
        self._timeout_s = timeout_s
        self._default_ttl_s = default_ttl_s
        self._min_ttl_s = min_ttl_s
        self._max_ttl_s = max_ttl_s
        self._refetch_interval_s = refetch_interval_s
        self._max_stale_s = max_stale_s
        self._clock = clock
        self._lock = threading.Lock()
        # Replaced as a whole (never mutated), so readers need no lock.
        self._keys: Mapping[str, SigningKey] = {}
        self._fresh_until = float("-inf")
        self._usable_until = float("-inf")
        self._last_attempt = float("-inf")

    @property
    def jwks_uri(self) -> str | None:
        """The JWKS URL in use (after discovery), or ``None`` before the first fetch."""
        return self._jwks_uri

    @property
    def kids(self) -> frozenset[str]:
        """The key ids currently cached."""
        return frozenset(self._keys)

    def get(self, kid: str) -> SigningKey | None:
        """Return the key named ``kid``, fetching the JWKS only when the cache misses.

        * Fresh set, known ``kid``: served from memory.
        * Set past its TTL: one caller refreshes (others keep using the stale set meanwhile);
          if the refresh fails the stale set is kept until ``max_stale_s``.
        * Unknown ``kid``: one refetch (the IdP may have rotated keys), at most once per
          ``refetch_interval_s``.

        Args:
            kid: The token header's key id.

        Returns:
            The key, or ``None`` when the issuer does not publish it.

        Raises:
            AuthenticationError: ``AUTHENTICATION_FAILED`` when no usable key set can be had
                (the IdP is unreachable or its documents are unusable, and nothing is cached).
        """
        now = self._clock()
        if now >= self._fresh_until:
            # Block only when there is nothing usable; otherwise serve the stale set if another
            # thread is already refreshing.
            self._refresh(wait=now >= self._usable_until)
        key = self._keys.get(kid)
        if key is None and self._clock() - self._last_attempt >= self._refetch_interval_s:
            self._refresh(wait=True, unknown_kid=True)
            key = self._keys.get(kid)
        if self._clock() >= self._usable_until:
            raise AuthenticationError(
                "AUTHENTICATION_FAILED",
                f"The signing keys of the identity provider {self.issuer} could not be "
                "fetched; try again later or ask an administrator to check the IdP.",
                remediation_steps=(
                    "Check that the issuer's discovery document and JWKS are reachable from "
                    "the Host.",
                ),
            )
        return key

    def refresh(self) -> None:
        """Fetch the key set now, waiting for any refresh in progress.

        Raises:
            AuthenticationError: ``AUTHENTICATION_FAILED`` when the fetch fails and no usable
                key set is cached.
        """
        self._refresh(wait=True, force=True)
        if self._clock() >= self._usable_until:
            raise AuthenticationError(
                "AUTHENTICATION_FAILED",
                f"The signing keys of the identity provider {self.issuer} could not be fetched.",
            )

    def _refresh(self, *, wait: bool, unknown_kid: bool = False, force: bool = False) -> None:
        if not self._lock.acquire(blocking=wait):
            return  # another thread is refreshing; the stale set is still usable meanwhile
        try:
            started = self._clock()
            if not force:
                if not unknown_kid and started < self._fresh_until:
                    return  # another thread refreshed while we waited for the lock
                if started - self._last_attempt < self._refetch_interval_s:
                    return  # rate limit: fetched (or failed) moments ago
            self._last_attempt = started
            try:
                keys, ttl = self._load()
            except Exception as exc:  # any failure of the IdP leaves the stale set in place
                _log.warning("refreshing the JWKS of %s failed: %s", self.issuer, exc)
                return
            done = self._clock()
            self._keys = keys
            self._fresh_until = done + ttl
            self._usable_until = done + ttl + self._max_stale_s
            _log.debug("JWKS of %s: %d keys, fresh for %.0f s", self.issuer, len(keys), ttl)
        finally:
            self._lock.release()

    def _load(self) -> tuple[dict[str, SigningKey], float]:
        if self._jwks_uri is None:
            self._jwks_uri = self._discover()
        try:
            document = self._fetch(self._jwks_uri, self._timeout_s)
        except JwksFetchError:
            if self._configured_jwks_uri is None:
                self._jwks_uri = None  # discover again next time; the IdP may have moved it
            raise
        try:
            keys = parse_jwks(document.body)
        except ValueError as exc:
            raise JwksFetchError(f"the JWKS at {self._jwks_uri} is unusable: {exc}") from None
        if not keys:
            raise JwksFetchError(f"the JWKS at {self._jwks_uri} holds no usable signing key")
        ttl = self._default_ttl_s if document.max_age_s is None else document.max_age_s
        return keys, min(max(ttl, self._min_ttl_s), self._max_ttl_s)

    def _discover(self) -> str:
        url = self.issuer.rstrip("/") + "/.well-known/openid-configuration"
        document = self._fetch(url, self._timeout_s)
        if document.body.get("issuer") != self.issuer:
            raise JwksFetchError(
                f"the discovery document at {url} names another issuer than {self.issuer}"
            )
        jwks_uri = document.body.get("jwks_uri")
        if not isinstance(jwks_uri, str):
            raise JwksFetchError(f"the discovery document at {url} has no jwks_uri")
        try:
            check_key_url(jwks_uri)
        except ValueError as exc:
            raise JwksFetchError(f"the discovery document at {url}: {exc}") from None
        return jwks_uri
