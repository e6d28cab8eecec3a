"""OidcVerifier and JwksCache against a real OIDC provider process (SPEC §3.19 step 1, item 148).

Tokens on the positive path come from the provider (client-credentials grant). Negative tokens
are forged here: with the provider's own keys when only a claim is to be wrong, with attacker
keys when the signature or key is the attack. Every refusal must be ``INVALID_CREDENTIALS`` with
a sentence naming the failed check and repeating nothing of the token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jwt.algorithms import ECAlgorithm, RSAAlgorithm, get_default_algorithms

from aesp.core.errors import AuthenticationError, ConfigurationError
from aesp.identity.jwks import HttpDocument, JwksCache, fetch_json, parse_jwks
from aesp.identity.oidc import (
    FixedTenant,
    OidcVerifier,
    TenantFromClaim,
    TenantRule,
    VerifiedTokenCache,
)
from aesp.identity.types import VerifiedIdentity

if TYPE_CHECKING:
    from tests.integration.identity.conftest import KeyPair, KeySet, OidcProvider

TENANTS = TenantFromClaim("tenant", frozenset({"acme", "initech"}))
_ALGORITHMS = get_default_algorithms()
_DROP = object()


class CountingFetcher:
    """The real HTTP fetcher, counting what it fetched."""

    def __init__(self, max_age_s: float | None = None) -> None:
        self.urls: list[str] = []
        self.failures = 0
        self._max_age_s = max_age_s

    def __call__(self, url: str, timeout_s: float) -> HttpDocument:
        self.urls.append(url)
        try:
            document = fetch_json(url, timeout_s)
        except Exception:
            self.failures += 1
            raise
        if self._max_age_s is not None:
            document = replace(document, max_age_s=self._max_age_s)
        return document

    @property
    def jwks(self) -> int:
        """JWKS fetches attempted."""
        return sum(url.endswith("/jwks") for url in self.urls)

    @property
    def discovery(self) -> int:
        """Discovery fetches attempted."""
        return sum(url.endswith("/openid-configuration") for url in self.urls)


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move the clock forward."""
        self.now += seconds


def b64(data: bytes) -> str:
    """Unpadded base64url."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def segment(value: Any) -> str:
    """A JSON value as a JWT segment."""
    return b64(json.dumps(value, separators=(",", ":")).encode())


def make_verifier(
    provider: OidcProvider,
    *,
    fetch: CountingFetcher | None = None,
    jwks_clock: Callable[[], float] = time.monotonic,
    jwks_uri: str | None = None,
    issuer: str | None = None,
    tenant: TenantRule = TENANTS,
    cache_size: int = 0,
    **options: Any,
) -> OidcVerifier:
    """A verifier for the provider; the token cache is off unless asked for."""
    issuer = issuer or provider.issuer
    jwks = JwksCache(issuer, jwks_uri, fetch=fetch or fetch_json, clock=jwks_clock)
    return OidcVerifier(
        issuer=issuer,
        audience=provider.audience,
        tenant=tenant,
        jwks=jwks,
        cache_size=cache_size,
        **options,
    )


@dataclass
class Forge:
    """Builds tokens: genuine ones from the provider, and forged ones."""

    provider: OidcProvider
    keys: KeySet
    attacker: KeySet

    def claims(self, **changes: Any) -> dict[str, Any]:
        """A valid claim set, with ``changes`` applied (``_DROP`` removes a claim)."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.provider.issuer,
            "aud": self.provider.audience,
            "sub": "svc-forged",
            "tenant": "acme",
            "groups": ["readers"],
            "iat": now,
            "exp": now + 300,
            "jti": "forged-1",
        }
        for name, value in changes.items():
            if value is _DROP:
                claims.pop(name, None)
            else:
                claims[name] = value
        return claims

    def sign_raw(
        self, header: dict[str, Any], payload: bytes, key: KeyPair | None = None, alg: str = ""
    ) -> str:
        """Sign arbitrary payload bytes with ``key`` (default: the provider's ES256 key)."""
        key = key or self.keys.es256
        alg = alg or key.alg
        header = {"alg": alg, "typ": "at+jwt", "kid": key.kid, **header}
        header = {k: v for k, v in header.items() if v is not _DROP}
        signing_input = f"{segment(header)}.{b64(payload)}"
        signature = _ALGORITHMS[alg].sign(signing_input.encode(), key.private_key)
        return f"{signing_input}.{b64(signature)}"

    def sign(
        self,
        claims: dict[str, Any] | None = None,
        key: KeyPair | None = None,
        *,
        alg: str = "",
        **header: Any,
    ) -> str:
        """Sign a claim set (default: a valid one)."""
        payload = json.dumps(self.claims() if claims is None else claims).encode()
        return self.sign_raw(header, payload, key, alg)

    def real(self, client_id: str = "svc-es", resource: str | None = None) -> str:
        """A token minted by the provider."""
        return self.provider.token(client_id, resource or self.provider.audience)


@pytest.fixture(scope="module")
def attacker_keys(oidc_key_factory: Callable[[str], KeySet]) -> KeySet:
    """Keys the provider never published."""
    return oidc_key_factory("attacker")


@pytest.fixture
def forge(oidc_provider: OidcProvider, oidc_keys: KeySet, attacker_keys: KeySet) -> Forge:
    """Token builder for the session provider."""
    return Forge(oidc_provider, oidc_keys, attacker_keys)


def _header(token: str) -> dict[str, Any]:
    head = token.split(".")[0]
    return dict(json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4))))


def _tamper_payload(token: str) -> str:
    head, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["sub"] = "admin"
    claims["groups"] = ["admins"]
    return f"{head}.{segment(claims)}.{signature}"


def _tamper_signature(token: str) -> str:
    head, payload, signature = token.split(".")
    raw = bytearray(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)))
    raw[0] ^= 0x01
    return f"{head}.{payload}.{b64(bytes(raw))}"


def _truncate_signature(token: str) -> str:
    head, payload, signature = token.split(".")
    raw = base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))
    return f"{head}.{payload}.{b64(raw[:-4])}"


def _alg_none(f: Forge, alg: str) -> str:
    return f"{segment({'alg': alg, 'typ': 'JWT', 'kid': f.keys.es256.kid})}.{segment(f.claims())}."


def _hs256_with_public_key(f: Forge) -> str:
    """The classic confusion attack: HMAC keyed with the IdP's public RSA key (PEM)."""
    public_key = f.keys.rs256.private_key.public_key()
    pem = public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    signing_input = (
        f"{segment({'alg': 'HS256', 'typ': 'JWT', 'kid': f.keys.rs256.kid})}.{segment(f.claims())}"
    )
    mac = hmac.new(pem, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(mac)}"


def _attacker_es384(f: Forge) -> str:
    key = ec.generate_private_key(ec.SECP384R1())
    signing_input = f"{segment({'alg': 'ES384', 'kid': f.keys.es256.kid})}.{segment(f.claims())}"
    signature = _ALGORITHMS["ES384"].sign(signing_input.encode(), key)
    return f"{signing_input}.{b64(signature)}"


def _now() -> int:
    return int(time.time())


# (id, token builder, expected sentence pattern)
NEGATIVE: list[tuple[str, Callable[[Forge], str], str]] = [
    # Time.
    (
        "expired",
        lambda f: f.sign(f.claims(iat=_now() - 4000, exp=_now() - 3600)),
        r"has expired \(exp\)",
    ),
    ("expired-beyond-leeway", lambda f: f.sign(f.claims(exp=_now() - 45)), r"has expired"),
    ("not-yet-valid", lambda f: f.sign(f.claims(nbf=_now() + 3600)), r"not valid yet \(nbf"),
    ("issued-in-the-future", lambda f: f.sign(f.claims(iat=_now() + 3600)), r"in the future"),
    ("missing-exp", lambda f: f.sign(f.claims(exp=_DROP)), r"no expiry time \(exp\)"),
    ("exp-not-a-number", lambda f: f.sign(f.claims(exp=str(_now() + 300))), r"exp\) is not a"),
    ("exp-boolean", lambda f: f.sign(f.claims(exp=True)), r"exp\) is not a number"),
    ("exp-huge-integer", lambda f: f.sign(f.claims(exp=10**400)), r"exp\) is not a number"),
    (
        "exp-nan",
        lambda f: f.sign_raw({}, json.dumps(f.claims(exp=float("nan"))).encode()),
        r"payload is not a JSON object",
    ),
    # Issuer, audience, subject, tenant.
    ("wrong-issuer", lambda f: f.sign(f.claims(iss="https://evil.example")), r"not issued by"),
    (
        "issuer-trailing-slash",
        lambda f: f.sign(f.claims(iss=f.provider.issuer + "/")),
        r"not issued by",
    ),
    (
        "wrong-audience",
        lambda f: f.real("svc-es", f.provider.other_audience),
        r"not meant for this audience",
    ),
    ("missing-audience", lambda f: f.sign(f.claims(aud=_DROP)), r"not meant for this audience"),
    (
        "audience-list-without-us",
        lambda f: f.sign(f.claims(aud=["urn:x", "urn:y"])),
        r"not meant for this audience",
    ),
    ("missing-sub", lambda f: f.sign(f.claims(sub=_DROP)), r"names no subject \(sub\)"),
    ("empty-sub", lambda f: f.sign(f.claims(sub="")), r"names no subject \(sub\)"),
    ("sub-not-a-string", lambda f: f.sign(f.claims(sub=42)), r"names no subject \(sub\)"),
    (
        "tenant-outside-allow-list",
        lambda f: f.real("svc-rogue"),
        r"tenant \(claim 'tenant'\) is not one this issuer may speak for",
    ),
    ("missing-tenant", lambda f: f.sign(f.claims(tenant=_DROP)), r"names no tenant"),
    ("groups-not-a-list", lambda f: f.sign(f.claims(groups={"a": 1})), r"groups claim"),
    # Algorithm and key.
    ("alg-none", lambda f: _alg_none(f, "none"), r"unsigned \(alg 'none'\)"),
    ("alg-None-capitalised", lambda f: _alg_none(f, "None"), r"unsigned \(alg 'none'\)"),
    ("hs256-signed-with-public-key", _hs256_with_public_key, r"algorithm that is not allowed"),
    ("es384-not-in-allow-list", _attacker_es384, r"algorithm that is not allowed"),
    (
        "missing-alg",
        lambda f: f.sign_raw({"alg": _DROP}, json.dumps(f.claims()).encode()),
        r"no signing algorithm",
    ),
    ("missing-kid", lambda f: f.sign(kid=_DROP), r"names no signing key \(kid\)"),
    ("unknown-kid", lambda f: f.sign(None, f.attacker.es256), r"key \(kid\) that the issuer"),
    (
        "attacker-key-with-provider-kid",
        lambda f: f.sign(None, f.attacker.es256, kid=f.keys.es256.kid),
        r"signature is not valid",
    ),
    (
        "es256-header-on-rsa-key",
        lambda f: f.sign(None, f.attacker.es256, kid=f.keys.rs256.kid),
        r"does not match the type of the key",
    ),
    (
        "rs256-header-on-ec-key",
        lambda f: f.sign(None, f.attacker.rs256, kid=f.keys.es256.kid),
        r"does not match the type of the key",
    ),
    (
        "ps256-on-key-pinned-to-rs256",
        lambda f: f.sign(None, f.keys.rs256, alg="PS256"),
        r"does not match the type of the key",
    ),
    (
        "eddsa-header-on-ec-key",
        lambda f: f.sign(None, f.attacker.eddsa, kid=f.keys.es256.kid),
        r"does not match the type of the key",
    ),
    ("crit-header", lambda f: f.sign(crit=["exp"]), r"critical extensions"),
    # Integrity.
    ("tampered-payload", lambda f: _tamper_payload(f.real()), r"signature is not valid"),
    ("tampered-signature", lambda f: _tamper_signature(f.real()), r"signature is not valid"),
    (
        "tampered-signature-rs256",
        lambda f: _tamper_signature(f.real("svc-rs")),
        r"signature is not valid",
    ),
    ("truncated-signature", lambda f: _truncate_signature(f.real()), r"signature is not valid"),
    ("signature-stripped", lambda f: f.real().rsplit(".", 1)[0] + ".", r"signature is not valid"),
    (
        "signature-not-base64url",
        lambda f: f.real().rsplit(".", 1)[0] + ".$$$",
        r"signature is not base64url",
    ),
    (
        "duplicate-claim",
        lambda f: f.sign_raw({}, b'{"sub":"svc-forged","sub":"admin"}'),
        r"payload is not a JSON object",
    ),
    (
        "payload-not-base64url",
        lambda f: f.real().split(".")[0] + ".ä$.c2ln",
        r"payload is not base64url",
    ),
    (
        "deeply-nested-header",
        lambda f: b64(b"[" * 5000 + b"]" * 5000) + ".e30.c2ln",
        r"header is not base64url-encoded JSON",
    ),
    (
        "deeply-nested-payload",
        lambda f: f.sign_raw({}, b'{"a":' * 1500 + b"1" + b"}" * 1500),
        r"payload is not a JSON object",
    ),
    ("payload-is-an-array", lambda f: f.sign_raw({}, b"[1,2]"), r"payload is not a JSON object"),
    # Garbage.
    ("garbage-empty", lambda f: "", r"No bearer token"),
    ("garbage-one-part", lambda f: "garbage", r"three parts"),
    ("garbage-two-parts", lambda f: "abc.def", r"three parts"),
    ("garbage-four-parts", lambda f: "a.b.c.d", r"three parts"),
    ("garbage-jwe-five-parts", lambda f: "a.b.c.d.e", r"three parts"),
    ("garbage-dots", lambda f: "..", r"header is not base64url-encoded JSON"),
    ("garbage-symbols", lambda f: "!!!.###.$$$", r"header is not base64url-encoded JSON"),
    ("garbage-non-ascii", lambda f: "ä.ö.ü", r"header is not base64url-encoded JSON"),
    (
        "garbage-padded-header",
        lambda f: segment({"alg": "ES256"}) + "==.e30.sig",
        r"header is not base64url-encoded JSON",
    ),
    ("garbage-header-array", lambda f: segment([1]) + ".e30.c2ln", r"header is not base64url"),
    ("garbage-bearer-prefix", lambda f: "Bearer " + f.real(), r"header is not base64url"),
    ("garbage-huge", lambda f: "a" * 20_000, r"longer than 16384 characters"),
]


@pytest.mark.parametrize(("build", "pattern"), [pytest.param(b, p, id=i) for i, b, p in NEGATIVE])
def test_refused(forge: Forge, build: Callable[[Forge], str], pattern: str) -> None:
    verifier = make_verifier(forge.provider)
    token = build(forge)
    with pytest.raises(AuthenticationError) as caught:
        verifier.verify(token)
    error = caught.value
    assert error.code == "INVALID_CREDENTIALS"
    assert re.search(pattern, error.message), error.message
    # The sentence names the check, never the token's contents.
    for part in re.split(r"[.\s]", token):
        if len(part) >= 8:
            assert part not in error.message
    assert "admin" not in error.message
    assert len(verifier.token_cache) == 0


@pytest.mark.parametrize(("client_id", "alg"), [("svc-es", "ES256"), ("svc-rs", "RS256")])
def test_provider_token_verifies(
    oidc_provider: OidcProvider, oidc_keys: KeySet, client_id: str, alg: str
) -> None:
    token = oidc_provider.token(client_id)
    header = _header(token)
    assert header["alg"] == alg
    assert header["kid"] in {k.kid for k in oidc_keys.all}

    identity = make_verifier(oidc_provider).verify(token)

    assert identity.principal_id == f"oidc|{oidc_provider.issuer}|{client_id}"
    assert identity.tenant_id == "acme"
    assert identity.source == "oidc"
    assert identity.issuer == oidc_provider.issuer
    assert identity.subject == client_id
    expected_groups = ("deployers", "readers") if client_id == "svc-es" else ("readers",)
    assert identity.groups == expected_groups
    assert identity.claims["client_id"] == client_id
    assert identity.claims["scope"] == "tools:invoke"
    assert identity.claims["aud"] == oidc_provider.audience
    assert time.time() * 1000 < identity.expires_at_ms <= (time.time() + 601) * 1000
    assert identity.mfa is False


@pytest.mark.parametrize("which", ["ps256", "eddsa"])
def test_published_ps256_and_eddsa_keys_verify(forge: Forge, which: str) -> None:
    key: KeyPair = getattr(forge.keys, which)
    claims = forge.claims(name="Forged Service", amr=["pwd", "mfa"])
    identity = make_verifier(forge.provider).verify(forge.sign(claims, key))
    assert identity.subject == "svc-forged"
    assert identity.display_name == "Forged Service"
    assert identity.mfa is True
    assert identity.claims["amr"] == "pwd mfa"


def test_fixed_tenant_ignores_token_claims(oidc_provider: OidcProvider) -> None:
    verifier = make_verifier(oidc_provider, tenant=FixedTenant("acme"))
    assert verifier.verify(oidc_provider.token("svc-rogue")).tenant_id == "acme"


def test_leeway_applies_to_expiry_of_a_real_token(oidc_provider: OidcProvider) -> None:
    token = oidc_provider.token("svc-es")
    issued = time.time()
    exp = (
        make_verifier(oidc_provider, cache_size=0).verify(token).expires_at_ms / 1000
    )  # exp = iat + 600
    within = make_verifier(oidc_provider, clock=lambda: exp + 20)
    assert within.verify(token).subject == "svc-es"
    beyond = make_verifier(oidc_provider, clock=lambda: exp + 31)
    with pytest.raises(AuthenticationError, match=r"has expired") as caught:
        beyond.verify(token)
    assert caught.value.code == "INVALID_CREDENTIALS"
    strict = make_verifier(oidc_provider, clock=lambda: exp + 1, leeway_s=0)
    with pytest.raises(AuthenticationError, match=r"has expired"):
        strict.verify(token)
    past = make_verifier(oidc_provider, clock=lambda: issued - 3600)
    with pytest.raises(AuthenticationError, match=r"issued in the future"):
        past.verify(token)


def test_narrowed_allow_list_refuses_other_algorithms(oidc_provider: OidcProvider) -> None:
    verifier = make_verifier(oidc_provider, algorithms=["ES256"])
    assert verifier.verify(oidc_provider.token("svc-es")).subject == "svc-es"
    with pytest.raises(AuthenticationError, match=r"not allowed; allowed: ES256\.") as caught:
        verifier.verify(oidc_provider.token("svc-rs"))
    assert caught.value.code == "INVALID_CREDENTIALS"


def test_wrong_issuer_on_a_genuinely_signed_token(oidc_provider: OidcProvider) -> None:
    """Keys from the provider's JWKS, but the verifier expects another issuer string."""
    other = f"http://localhost:{oidc_provider.port}"
    verifier = make_verifier(oidc_provider, issuer=other, jwks_uri=oidc_provider.jwks_uri)
    with pytest.raises(AuthenticationError, match=r"not issued by the issuer") as caught:
        verifier.verify(oidc_provider.token())
    assert caught.value.code == "INVALID_CREDENTIALS"


@pytest.mark.parametrize(
    ("options", "pattern"),
    [
        pytest.param({"algorithms": ["none"]}, r"alg 'none'", id="alg-none"),
        pytest.param({"algorithms": ["ES256", "HS256"]}, r"HS256 is not accepted", id="HS256"),
        pytest.param({"algorithms": ["HS512"]}, r"HS512 is not accepted", id="HS512"),
        pytest.param({"algorithms": ["hs384"]}, r"hs384 is not accepted", id="hs384"),
        pytest.param({"algorithms": ["ES256K"]}, r"unsupported JWS algorithm", id="ES256K"),
        pytest.param({"algorithms": []}, r"allow-list is empty", id="empty-allow-list"),
        pytest.param({"issuer": "http://idp.example.com"}, r"must use https", id="http-issuer"),
        pytest.param({"jwks_uri": "ftp://127.0.0.1/jwks"}, r"must use https", id="ftp-jwks"),
        pytest.param({"audience": ""}, r"audience is empty", id="no-audience"),
        pytest.param(
            {"tenant": TenantFromClaim("tenant", frozenset())}, r"allow-list", id="no-tenants"
        ),
        pytest.param({"tenant": FixedTenant("")}, r"fixed tenant is empty", id="empty-tenant"),
        pytest.param({"leeway_s": -1}, r"leeway_s", id="negative-leeway"),
    ],
)
def test_refuses_to_construct(options: dict[str, Any], pattern: str) -> None:
    config: dict[str, Any] = {
        "issuer": "https://idp.example.com",
        "audience": "urn:aesp:api",
        "tenant": TENANTS,
        **options,
    }
    with pytest.raises(ConfigurationError, match=pattern) as caught:
        OidcVerifier(**config)
    assert caught.value.code == "INVALID_CONFIG"


# --- JWKS fetching and caching -------------------------------------------------------------


def test_one_jwks_fetch_serves_many_verifications(oidc_provider: OidcProvider) -> None:
    fetch = CountingFetcher()
    verifier = make_verifier(oidc_provider, fetch=fetch, cache_size=0)
    served_before = oidc_provider.jwks_requests()
    tokens = [oidc_provider.token(c) for c in ("svc-es", "svc-rs", "svc-es", "svc-rs")]

    for _ in range(25):
        for token in tokens:
            verifier.verify(token)

    assert fetch.discovery == 1
    assert fetch.jwks == 1
    assert verifier.jwks.jwks_uri == oidc_provider.jwks_uri
    assert oidc_provider.jwks_requests() - served_before == 1  # the provider's own count


def test_unknown_kid_triggers_exactly_one_rate_limited_refetch(forge: Forge) -> None:
    fetch = CountingFetcher()
    clock = FakeClock(1000.0)
    verifier = make_verifier(forge.provider, fetch=fetch, jwks_clock=clock)
    verifier.verify(forge.real())
    assert fetch.jwks == 1

    # Right after a fetch, an unknown kid does not refetch (rate limit) ...
    with pytest.raises(AuthenticationError, match=r"does not publish"):
        verifier.verify(forge.sign(None, forge.attacker.es256))
    assert fetch.jwks == 1

    # ... later it refetches once (the IdP may have rotated), then refuses.
    clock.advance(11)
    with pytest.raises(AuthenticationError, match=r"does not publish"):
        verifier.verify(forge.sign(None, forge.attacker.es256))
    assert fetch.jwks == 2
    # A flood of unknown kids causes no further fetches.
    for n in range(20):
        with pytest.raises(AuthenticationError, match=r"does not publish"):
            verifier.verify(forge.sign(None, forge.attacker.es256, kid=f"random-{n}"))
    assert fetch.jwks == 2
    verifier.verify(forge.real("svc-rs"))
    assert fetch.jwks == 2


def test_ttl_follows_cache_control_max_age(oidc_provider: OidcProvider) -> None:
    """The provider sends ``max-age=600``: no fetch before 600 s, one after."""
    fetch = CountingFetcher()
    clock = FakeClock(0.0)
    verifier = make_verifier(oidc_provider, fetch=fetch, jwks_clock=clock)
    token = oidc_provider.token()
    verifier.verify(token)
    clock.advance(599)
    verifier.verify(token)
    assert fetch.jwks == 1
    clock.advance(2)
    verifier.verify(token)
    verifier.verify(token)
    assert fetch.jwks == 2
    assert fetch.discovery == 1  # the discovered jwks_uri is kept


class _WithoutMaxAge(CountingFetcher):
    """The real fetcher, with the response's max-age removed."""

    def __call__(self, url: str, timeout_s: float) -> HttpDocument:
        return replace(super().__call__(url, timeout_s), max_age_s=None)


@pytest.mark.parametrize(("max_age", "ttl"), [(5.0, 30.0), (0.0, 30.0), (None, 300.0)])
def test_ttl_bounds_and_default(
    oidc_provider: OidcProvider, max_age: float | None, ttl: float
) -> None:
    """max-age below 30 s (or no-cache) is raised to 30 s; no max-age means 300 s."""
    fetch = CountingFetcher(max_age_s=max_age) if max_age is not None else _WithoutMaxAge()
    clock = FakeClock(0.0)
    verifier = make_verifier(oidc_provider, fetch=fetch, jwks_clock=clock)
    token = oidc_provider.token()
    verifier.verify(token)
    clock.advance(ttl - 1)
    verifier.verify(token)
    assert fetch.jwks == 1
    clock.advance(2)
    verifier.verify(token)
    assert fetch.jwks == 2


def test_idp_unreachable_with_empty_cache_is_authentication_failed(forge: Forge) -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        issuer = f"http://127.0.0.1:{sock.getsockname()[1]}"
    verifier = OidcVerifier(issuer=issuer, audience="urn:aesp:api", tenant=TENANTS)
    started = time.monotonic()
    with pytest.raises(AuthenticationError, match=r"could not be fetched") as caught:
        verifier.verify(forge.sign())
    assert caught.value.code == "AUTHENTICATION_FAILED"
    assert time.monotonic() - started < 5


def test_discovery_naming_another_issuer_is_authentication_failed(
    oidc_provider: OidcProvider,
) -> None:
    verifier = make_verifier(oidc_provider, issuer=f"http://localhost:{oidc_provider.port}")
    with pytest.raises(AuthenticationError) as caught:
        verifier.verify(oidc_provider.token())
    assert caught.value.code == "AUTHENTICATION_FAILED"


def test_stale_keys_are_served_while_the_idp_is_down(
    start_oidc_provider: Callable[..., OidcProvider],
    oidc_keys: KeySet,
    caplog: pytest.LogCaptureFixture,
) -> None:
    provider = start_oidc_provider(oidc_keys.all)
    fetch = CountingFetcher()
    clock = FakeClock(0.0)
    verifier = make_verifier(provider, fetch=fetch, jwks_clock=clock)
    token = provider.token()
    verifier.verify(token)
    provider.stop()

    clock.advance(700)  # past the 600 s TTL: a refresh is due and fails
    assert verifier.verify(token).subject == "svc-es"
    assert fetch.failures == 1
    assert "refreshing the JWKS" in caplog.text
    # Failed refreshes are rate-limited too: the IdP is not hammered on every call.
    for _ in range(10):
        verifier.verify(token)
    assert fetch.failures == 1

    clock.advance(86_400)  # past max_stale_s: nothing usable is left
    with pytest.raises(AuthenticationError, match=r"could not be fetched") as caught:
        verifier.verify(token)
    assert caught.value.code == "AUTHENTICATION_FAILED"


def test_key_rotation_is_followed(
    start_oidc_provider: Callable[..., OidcProvider],
    oidc_key_factory: Callable[[str], KeySet],
) -> None:
    old, new = oidc_key_factory("old"), oidc_key_factory("new")
    provider = start_oidc_provider(old.all)
    fetch = CountingFetcher()
    clock = FakeClock(0.0)
    verifier = make_verifier(provider, fetch=fetch, jwks_clock=clock)
    old_token = provider.token()
    assert _header(old_token)["kid"] == old.es256.kid
    verifier.verify(old_token)
    assert fetch.jwks == 1

    # Phase 1: the IdP publishes the new keys first and signs with them; old ones still listed.
    provider.stop()
    provider = start_oidc_provider([*new.all, *old.all], port=provider.port)
    new_token = provider.token()
    assert _header(new_token)["kid"] == new.es256.kid
    clock.advance(11)  # beyond the refetch rate limit, well within the TTL
    assert verifier.verify(new_token).subject == "svc-es"
    assert fetch.jwks == 2  # the unknown kid caused exactly one refetch
    assert verifier.verify(old_token).subject == "svc-es"  # still published
    assert fetch.jwks == 2

    # Phase 2: the old keys are withdrawn; once the TTL passes they stop verifying.
    provider.stop()
    provider = start_oidc_provider(new.all, port=provider.port)
    clock.advance(601)
    with pytest.raises(AuthenticationError, match=r"does not publish") as caught:
        verifier.verify(old_token)
    assert caught.value.code == "INVALID_CREDENTIALS"
    assert verifier.verify(provider.token("svc-rs")).subject == "svc-rs"
    assert fetch.jwks == 3
    assert verifier.jwks.kids == {k.kid for k in new.all}


class _GatedFetcher(CountingFetcher):
    """Counts fetches; JWKS fetches wait for ``gate`` once ``hold`` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.hold = threading.Event()
        self.gate = threading.Event()
        self.entered = threading.Event()

    def __call__(self, url: str, timeout_s: float) -> HttpDocument:
        if self.hold.is_set() and url.endswith("/jwks"):
            self.entered.set()
            self.gate.wait(10)
        return super().__call__(url, timeout_s)


def test_concurrent_first_use_fetches_once(oidc_provider: OidcProvider) -> None:
    fetch = _GatedFetcher()
    fetch.hold.set()
    verifier = make_verifier(oidc_provider, fetch=fetch)
    token = oidc_provider.token()
    results: list[str] = []

    def worker() -> None:
        results.append(verifier.verify(token).subject)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    assert fetch.entered.wait(5)
    time.sleep(0.05)  # let every thread reach the lock
    fetch.gate.set()
    for thread in threads:
        thread.join(10)
    assert results == ["svc-es"] * 8
    assert fetch.jwks == 1


def test_stale_keys_are_served_while_another_thread_refreshes(
    oidc_provider: OidcProvider,
) -> None:
    fetch = _GatedFetcher()
    clock = FakeClock(0.0)
    verifier = make_verifier(oidc_provider, fetch=fetch, jwks_clock=clock)
    token = oidc_provider.token()
    verifier.verify(token)
    clock.advance(601)  # the set is stale; the next call refreshes it
    fetch.hold.set()
    refresher = threading.Thread(target=verifier.verify, args=(token,))
    refresher.start()
    try:
        assert fetch.entered.wait(5)  # the refresher is inside the (slow) JWKS fetch
        started = time.perf_counter()
        assert verifier.verify(token).subject == "svc-es"  # served from the stale set
        assert time.perf_counter() - started < 0.5
    finally:
        fetch.gate.set()
        refresher.join(10)
    assert fetch.jwks == 2


# --- verified-token cache ------------------------------------------------------------------


def test_repeated_token_is_served_from_the_cache(oidc_provider: OidcProvider) -> None:
    """A repeated token costs a SHA-256 and a dict lookup, not a signature check."""
    verifier = make_verifier(oidc_provider, cache_size=1000)
    token = oidc_provider.token()
    first = verifier.verify(token)
    lookups = 0
    original_get = verifier.jwks.get

    def counting_get(kid: str) -> Any:
        nonlocal lookups
        lookups += 1
        return original_get(kid)

    verifier.jwks.get = counting_get  # type: ignore[method-assign]
    n = 2000
    started = time.perf_counter()
    for _ in range(n):
        assert verifier.verify(token) is first
    cached_us = (time.perf_counter() - started) / n * 1e6
    assert lookups == 0  # no key lookup, no signature check: the digest answered

    uncached = make_verifier(oidc_provider, cache_size=0)
    uncached.verify(token)
    started = time.perf_counter()
    for _ in range(200):
        uncached.verify(token)
    full_us = (time.perf_counter() - started) / 200 * 1e6
    print(f"verification: cached {cached_us:.1f} µs, full {full_us:.1f} µs per call")
    assert cached_us * 5 < full_us


def test_cache_entry_ends_at_token_expiry(oidc_provider: OidcProvider) -> None:
    clock = FakeClock(time.time())
    verifier = make_verifier(oidc_provider, cache_size=100, clock=clock, leeway_s=0)
    token = oidc_provider.token()
    identity = verifier.verify(token)
    assert len(verifier.token_cache) == 1
    clock.now = identity.expires_at_ms / 1000 + 1
    with pytest.raises(AuthenticationError, match=r"has expired"):
        verifier.verify(token)
    assert len(verifier.token_cache) == 0


def test_cache_is_a_bounded_lru_keyed_by_digest() -> None:
    cache = VerifiedTokenCache(2, clock=lambda: 1000.0)

    def identity(name: str) -> VerifiedIdentity:
        return VerifiedIdentity(f"oidc|i|{name}", "t", "oidc", "i", name, expires_at_ms=2_000_000)

    cache.put("token-a", identity("a"))
    cache.put("token-b", identity("b"))
    assert cache.get("token-a") is not None  # a is now the most recently used
    cache.put("token-c", identity("c"))
    assert len(cache) == 2
    assert cache.get("token-b") is None
    assert cache.get("token-a") is not None
    assert cache.get("token-c") is not None
    expired = VerifiedIdentity("oidc|i|x", "t", "oidc", "i", "x", expires_at_ms=999_000)
    cache.put("token-x", expired)
    assert cache.get("token-x") is None
    assert all(len(k) == 32 for k in cache._entries)  # SHA-256 digests, never the tokens
    cache.clear()
    assert len(cache) == 0


def test_rsa_keys_shorter_than_2048_bits_are_not_loaded() -> None:
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key()
    strong = ec.generate_private_key(ec.SECP256R1()).public_key()
    keys = parse_jwks(
        {
            "keys": [
                {**RSAAlgorithm.to_jwk(weak, as_dict=True), "kid": "weak"},
                {**ECAlgorithm.to_jwk(strong, as_dict=True), "kid": "ok"},
                {"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"},
                {**ECAlgorithm.to_jwk(strong, as_dict=True), "kid": "enc", "use": "enc"},
            ]
        }
    )
    assert set(keys) == {"ok"}


def test_fuzzed_tokens_are_refused_cleanly(oidc_provider: OidcProvider) -> None:
    """Random strings and byte-level mutations of a real token: only INVALID_CREDENTIALS."""
    verifier = make_verifier(oidc_provider)
    genuine = oidc_provider.token()
    verifier.verify(genuine)
    alphabet = st.sampled_from(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ \x00é\ud800"
    )

    @settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
    @given(
        text=st.one_of(
            st.text(alphabet, max_size=300),
            st.tuples(st.integers(0, len(genuine) - 1), alphabet).map(
                lambda m: genuine[: m[0]] + m[1] + genuine[m[0] + 1 :]
            ),
            st.tuples(st.integers(0, len(genuine)), st.integers(0, len(genuine))).map(
                lambda m: genuine[: min(m)] + genuine[max(m) :]
            ),
        )
    )
    def check(text: str) -> None:
        if text == genuine:
            return
        with pytest.raises(AuthenticationError) as caught:
            verifier.verify(text)
        assert caught.value.code == "INVALID_CREDENTIALS"

    check()
