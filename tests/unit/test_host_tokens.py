"""Host session tokens (aesp.identity.host_tokens): issued for a login, verified by this Host only.

Each refusal test changes one thing of a genuine token (its time, issuer, audience, payload,
key, algorithm, header) and checks the sentence of the ``INVALID_CREDENTIALS`` refusal, so a
test cannot pass because some other check happened to fail first. The last sections cover the
gateway's lifetime rule and the Client SDK's holder of the token (one exchange, shared by
threads and coroutines).
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import hashlib
import hmac
import json
import stat
import threading
import time
import tomllib
from pathlib import Path
from typing import Any

import grpc
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from aesp.client import AuthenticationFailed, NetworkTimeout
from aesp.client._channel import (
    SESSION_TOKEN_EXPIRES_HEADER,
    SESSION_TOKEN_HEADER,
    Presentation,
    SessionTokenHolder,
)
from aesp.core.config import parse_config
from aesp.core.errors import AuthenticationError, ConfigurationError
from aesp.identity.host_tokens import (
    LEEWAY_S,
    MAX_TTL_S,
    HostTokenIssuer,
    HostTokenVerifier,
    host_issuer,
)
from aesp.identity.types import VerifiedIdentity
from aesp.server.gateway import SESSION_TOKEN_EXPIRES_HEADER as GATEWAY_EXPIRES_HEADER
from aesp.server.gateway import SESSION_TOKEN_HEADER as GATEWAY_TOKEN_HEADER
from aesp.server.gateway.credentials import exchange_deadline_ms
from aesp.server.gateway.token_key import KEY_FILE_NAME, load_or_create_token_key, token_key_for

NOW = 1_700_000_000.0
DOMAIN = "aesp.local"
ISSUER = "aesp-host:aesp.local"
ALICE = VerifiedIdentity(
    principal_id="saml|https://idp.example.test/saml|alice",
    tenant_id="acme",
    source="saml",
    issuer="https://idp.example.test/saml",
    subject="alice",
    display_name="Alice Example",
    groups=("approvers", "staff"),
    claims={"authn_context": "urn:x", "secret_attribute": "not carried"},
    expires_at_ms=int(NOW * 1000) + 300_000,
    mfa=True,
)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _json(value: Any) -> str:
    return _b64(json.dumps(value, separators=(",", ":")).encode())


def _parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    header, payload, _ = token.split(".")
    pad = lambda s: s + "=" * (-len(s) % 4)  # noqa: E731
    return (
        json.loads(base64.urlsafe_b64decode(pad(header))),
        json.loads(base64.urlsafe_b64decode(pad(payload))),
    )


def _sign(key: ed25519.Ed25519PrivateKey, header: dict[str, Any], claims: dict[str, Any]) -> str:
    """A token signed genuinely by ``key`` with exactly the given header and claims."""
    signing_input = f"{_json(header)}.{_json(claims)}"
    return f"{signing_input}.{_b64(key.sign(signing_input.encode()))}"


@pytest.fixture
def key() -> ed25519.Ed25519PrivateKey:
    return ed25519.Ed25519PrivateKey.generate()


@pytest.fixture
def issuer(key: ed25519.Ed25519PrivateKey) -> HostTokenIssuer:
    return HostTokenIssuer(key, trust_domain=DOMAIN, ttl_s=900, clock=lambda: NOW)


@pytest.fixture
def verifier(issuer: HostTokenIssuer) -> HostTokenVerifier:
    return issuer.verifier()


def _refused(verifier: HostTokenVerifier, token: str, match: str) -> None:
    with pytest.raises(AuthenticationError, match=match) as info:
        verifier.verify(token)
    assert info.value.code == "INVALID_CREDENTIALS"


def _resigned(
    key: ed25519.Ed25519PrivateKey, token: str, *, header: Any = None, **claims: Any
) -> str:
    """``token`` with some claims (or the header) changed, signed again by ``key``."""
    original_header, payload = _parts(token)
    payload.update(claims)
    return _sign(key, header if header is not None else original_header, payload)


# --------------------------------------------------------------------------- accepted


def test_round_trip_names_the_verified_principal(
    issuer: HostTokenIssuer, verifier: HostTokenVerifier
) -> None:
    issued = issuer.issue(ALICE)
    identity = verifier.verify(issued.token)
    assert identity.principal_id == ALICE.principal_id and identity.subject == ALICE.principal_id
    assert (identity.tenant_id, identity.source, identity.mfa) == ("acme", "saml", True)
    assert identity.groups == ("approvers", "staff")
    assert identity.display_name == "Alice Example"
    assert identity.issuer == ISSUER == issuer.issuer == host_issuer(DOMAIN)
    assert identity.expires_at_ms == issued.expires_at_ms == int(NOW + 900) * 1000
    assert identity.claims == {"token_id": issued.token_id}  # IdP attributes are not carried
    header, claims = _parts(issued.token)
    assert header == {"alg": "EdDSA", "typ": "aesp-session+jwt", "kid": issuer.kid}
    assert set(claims) == {
        "iss",
        "aud",
        "sub",
        "tenant",
        "groups",
        "source",
        "mfa",
        "iat",
        "exp",
        "jti",
        "name",
    }
    assert claims["iss"] == claims["aud"] == ISSUER
    assert (claims["iat"], claims["jti"]) == (int(NOW), issued.token_id)


def test_each_token_has_its_own_id(issuer: HostTokenIssuer) -> None:
    assert issuer.issue(ALICE).token_id != issuer.issue(ALICE).token_id


def test_exp_is_capped_at_the_credential_expiry(issuer: HostTokenIssuer) -> None:
    session_end_ms = int(NOW * 1000) + 60_500
    capped = issuer.issue(ALICE, not_after_ms=session_end_ms)
    assert capped.expires_at_ms == int(NOW + 60) * 1000  # rounded down, never past it
    assert _parts(capped.token)[1]["exp"] == int(NOW + 60)
    later = issuer.issue(ALICE, not_after_ms=int(NOW * 1000) + 3_600_000)
    assert later.expires_at_ms == int(NOW + 900) * 1000  # the TTL is the shorter one


def test_a_credential_already_over_gets_no_token(issuer: HostTokenIssuer) -> None:
    with pytest.raises(AuthenticationError, match="expires too soon") as info:
        issuer.issue(ALICE, not_after_ms=int(NOW * 1000) + 500)
    assert info.value.code == "INVALID_CREDENTIALS"


def test_a_token_just_past_exp_is_accepted_within_the_leeway(
    key: ed25519.Ed25519PrivateKey, issuer: HostTokenIssuer
) -> None:
    issued = issuer.issue(ALICE)
    late = HostTokenVerifier(
        key.public_key(), trust_domain=DOMAIN, clock=lambda: NOW + 900 + LEEWAY_S - 1
    )
    assert late.verify(issued.token).principal_id == ALICE.principal_id


def test_owns_routes_by_the_unverified_issuer(
    key: ed25519.Ed25519PrivateKey, issuer: HostTokenIssuer, verifier: HostTokenVerifier
) -> None:
    token = issuer.issue(ALICE).token
    assert verifier.owns(token)
    assert not verifier.owns(_resigned(key, token, iss="https://idp.example.test"))
    assert not verifier.owns("not-a-jwt") and not verifier.owns("a.b.c")
    other_domain = HostTokenIssuer(key, trust_domain="other.test", clock=lambda: NOW)
    assert not verifier.owns(other_domain.issue(ALICE).token)


# --------------------------------------------------------------------------- refused


def test_an_expired_token_is_refused(
    key: ed25519.Ed25519PrivateKey, issuer: HostTokenIssuer
) -> None:
    token = issuer.issue(ALICE).token
    later = HostTokenVerifier(
        key.public_key(), trust_domain=DOMAIN, clock=lambda: NOW + 900 + LEEWAY_S + 1
    )
    _refused(later, token, "has expired; authenticate again")


@pytest.mark.parametrize(
    ("claim", "value", "match"),
    [
        ("iss", "aesp-host:other.test", "was not issued by aesp-host:aesp.local"),
        ("iss", "https://idp.example.test", "was not issued by"),
        ("aud", "aesp-host:other.test", "is not meant for aesp-host:aesp.local"),
        ("aud", ["aesp-host:aesp.local", "x"], "is not meant for"),  # exact, not "contains"
        ("iat", NOW + 3_600, "not plausible"),  # issued in the future
        ("iat", NOW - MAX_TTL_S - 60, "not plausible"),  # a lifetime no issuer grants
        ("exp", "tomorrow", "no valid 'exp' time"),
        ("sub", "", "no valid 'sub' claim"),
        ("tenant", 7, "no valid 'tenant' claim"),
        ("groups", "admins", "groups are not a list"),
        ("mfa", "yes", "'mfa' claim is not true or false"),
    ],
)
def test_a_bad_claim_signed_with_the_right_key_is_refused(
    key: ed25519.Ed25519PrivateKey,
    issuer: HostTokenIssuer,
    verifier: HostTokenVerifier,
    claim: str,
    value: Any,
    match: str,
) -> None:
    token = _resigned(key, issuer.issue(ALICE).token, **{claim: value})
    _refused(verifier, token, match)


@pytest.mark.parametrize("claim", ["sub", "tenant", "groups", "exp", "mfa"])
def test_a_tampered_payload_is_refused(
    issuer: HostTokenIssuer, verifier: HostTokenVerifier, claim: str
) -> None:
    token = issuer.issue(ALICE).token
    header, payload, signature = token.split(".")
    claims = _parts(token)[1]
    claims[claim] = {
        "sub": "saml|https://idp.example.test/saml|mallory",
        "tenant": "other-tenant",
        "groups": ["admins"],
        "exp": int(NOW) + 86_400,
        "mfa": False,
    }[claim]
    _refused(verifier, f"{header}.{_json(claims)}.{signature}", "signature is not valid")


def test_a_token_of_another_key_is_refused(
    key: ed25519.Ed25519PrivateKey, verifier: HostTokenVerifier
) -> None:
    stranger = ed25519.Ed25519PrivateKey.generate()
    foreign = HostTokenIssuer(stranger, trust_domain=DOMAIN, clock=lambda: NOW).issue(ALICE)
    _refused(verifier, foreign.token, "not signed with this Host's key")
    # The stranger copies our kid: the signature check still refuses it.
    header, claims = _parts(foreign.token)
    header["kid"] = verifier.kid
    _refused(verifier, _sign(stranger, header, claims), "signature is not valid")


def test_alg_none_is_refused(issuer: HostTokenIssuer, verifier: HostTokenVerifier) -> None:
    header, claims = _parts(issuer.issue(ALICE).token)
    unsigned = f"{_json({**header, 'alg': 'none'})}.{_json(claims)}."
    _refused(verifier, unsigned, "must be signed with EdDSA")


def test_hs256_with_the_public_key_as_secret_is_refused(
    key: ed25519.Ed25519PrivateKey, issuer: HostTokenIssuer, verifier: HostTokenVerifier
) -> None:
    # The classic algorithm-confusion forgery: HMAC keyed with the (public) verification key.
    header, claims = _parts(issuer.issue(ALICE).token)
    public = key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    signing_input = f"{_json({**header, 'alg': 'HS256'})}.{_json(claims)}"
    mac = hmac.new(public, signing_input.encode(), hashlib.sha256).digest()
    _refused(verifier, f"{signing_input}.{_b64(mac)}", "must be signed with EdDSA")


def test_another_eddsa_signature_shape_or_header_is_refused(
    key: ed25519.Ed25519PrivateKey, issuer: HostTokenIssuer, verifier: HostTokenVerifier
) -> None:
    token = issuer.issue(ALICE).token
    header = _parts(token)[0]
    _refused(verifier, _resigned(key, token, header={**header, "typ": "JWT"}), "not that of")
    crit = {**header, "crit": ["exp"]}
    _refused(verifier, _resigned(key, token, header=crit), "not that of")
    _refused(verifier, token.rsplit(".", 1)[0] + ".!!", "not base64url")
    _refused(verifier, token + ".x", "three parts")
    _refused(verifier, "x" * 9_000, "empty or too long")


def test_duplicate_json_members_are_refused(
    key: ed25519.Ed25519PrivateKey, issuer: HostTokenIssuer, verifier: HostTokenVerifier
) -> None:
    # Two parsers must never read two different principals from one signed payload.
    claims = json.dumps(_parts(issuer.issue(ALICE).token)[1], separators=(",", ":"))
    doubled = claims[:-1] + ',"sub":"saml|https://idp.example.test/saml|mallory"}'
    header = _json(_parts(issuer.issue(ALICE).token)[0])
    signing_input = f"{header}.{_b64(doubled.encode())}"
    token = f"{signing_input}.{_b64(key.sign(signing_input.encode()))}"
    _refused(verifier, token, "payload is not a JSON object")


def test_too_many_groups_refuse_issuance_instead_of_dropping_some(
    issuer: HostTokenIssuer,
) -> None:
    crowded = VerifiedIdentity(
        principal_id="ldap|x|bob",
        tenant_id="acme",
        source="ldap",
        issuer="x",
        subject="bob",
        groups=tuple(f"group-number-{i:04d}" for i in range(600)),
    )
    with pytest.raises(AuthenticationError, match="600 groups do not fit") as info:
        issuer.issue(crowded)
    assert info.value.code == "AUTHENTICATION_FAILED"


@pytest.mark.parametrize("ttl_s", [0, MAX_TTL_S + 1, True])
def test_an_unusable_ttl_is_refused(key: ed25519.Ed25519PrivateKey, ttl_s: int) -> None:
    with pytest.raises(ValueError, match="ttl_s must be between"):
        HostTokenIssuer(key, trust_domain=DOMAIN, ttl_s=ttl_s)


# --------------------------------------------------------------------------- the key file


def test_the_key_file_is_created_once_private_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "data" / KEY_FILE_NAME
    key = load_or_create_token_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = load_or_create_token_key(path)
    raw = serialization.Encoding.Raw, serialization.PublicFormat.Raw
    assert key.public_key().public_bytes(*raw) == again.public_key().public_bytes(*raw)
    assert not [p.name for p in path.parent.iterdir() if p.name.startswith(".")]  # no temp left
    # A token of the first start verifies after a restart.
    token = HostTokenIssuer(key, trust_domain=DOMAIN).issue(ALICE).token
    assert HostTokenIssuer(again, trust_domain=DOMAIN).verifier().verify(token)


def test_a_readable_key_file_stops_the_host(tmp_path: Path) -> None:
    path = tmp_path / KEY_FILE_NAME
    load_or_create_token_key(path)
    path.chmod(0o640)
    with pytest.raises(ConfigurationError, match="accessible to other users"):
        load_or_create_token_key(path)


def test_a_key_file_without_an_ed25519_key_stops_the_host(tmp_path: Path) -> None:
    path = tmp_path / KEY_FILE_NAME
    path.write_bytes(
        ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)
    with pytest.raises(ConfigurationError, match="not Ed25519"):
        load_or_create_token_key(path)
    path.write_bytes(b"garbage")
    with pytest.raises(ConfigurationError, match="unencrypted PEM private key"):
        load_or_create_token_key(path)


def test_replicas_sharing_a_configured_key_verify_each_others_tokens(tmp_path: Path) -> None:
    shared = tmp_path / "secret" / "host_tokens.key"
    toml = f"""
[host]
data_dir = "{{data}}"
[identity.host_tokens]
key_file = "{shared}"
"""
    replica_a = parse_config(tomllib.loads(toml.format(data=tmp_path / "a")), base=tmp_path)
    replica_b = parse_config(tomllib.loads(toml.format(data=tmp_path / "b")), base=tmp_path)
    # A configured key is never invented: a replica cannot start with a key of its own.
    with pytest.raises(ConfigurationError, match="does not exist") as refused:
        token_key_for(replica_a)
    assert refused.value.code == "CONFIGURATION_ERROR"
    assert "openssl genpkey -algorithm ed25519" in " ".join(refused.value.remediation_steps)
    assert not shared.exists()
    load_or_create_token_key(shared)  # the operator creates it once, e.g. as a mounted secret
    token = HostTokenIssuer(token_key_for(replica_a), trust_domain=DOMAIN).issue(ALICE).token
    assert HostTokenIssuer(token_key_for(replica_b), trust_domain=DOMAIN).verifier().verify(token)
    # Without key_file each Host keeps its own key under its data_dir: B refuses A's token.
    own = parse_config(tomllib.loads(f'[host]\ndata_dir = "{tmp_path / "c"}"'), base=tmp_path)
    other = HostTokenIssuer(token_key_for(own), trust_domain=DOMAIN).verifier()
    with pytest.raises(AuthenticationError):
        other.verify(token)


# --------------------------------------------------------------------------- the gateway's TTL rule


def test_a_saml_token_ends_with_the_idp_session_not_the_assertion() -> None:
    # NotOnOrAfter (expires_at_ms) bounds when the assertion may be presented, minutes;
    # SessionNotOnOrAfter bounds the session it starts, and that is what caps the token.
    with_session = dataclasses.replace(
        ALICE, claims={"session_not_on_or_after_ms": "1700000600000"}
    )
    assert exchange_deadline_ms(with_session) == 1_700_000_600_000
    assert exchange_deadline_ms(ALICE) == 0  # no session end: the TTL alone
    ldap = dataclasses.replace(ALICE, source="ldap", expires_at_ms=1_700_000_100_000)
    assert exchange_deadline_ms(ldap) == 1_700_000_100_000


# --------------------------------------------------------------------------- the SDK's holder


def _header(presentation: Presentation) -> str:
    [(name, value)] = presentation.metadata
    assert name == "authorization"
    return value


def _token_metadata(token: str, expires_ms: int) -> tuple[tuple[str, str], ...]:
    return ((SESSION_TOKEN_HEADER, token), (SESSION_TOKEN_EXPIRES_HEADER, str(expires_ms)))


def test_the_sdk_names_the_gateways_metadata_keys() -> None:
    assert (SESSION_TOKEN_HEADER, SESSION_TOKEN_EXPIRES_HEADER) == (
        GATEWAY_TOKEN_HEADER,
        GATEWAY_EXPIRES_HEADER,
    )


def test_the_holder_sends_the_response_once_and_the_token_to_waiting_threads() -> None:
    holder = SessionTokenHolder("PHNh\r\nbWw+\n", clock_ms=lambda: 1_000)  # as IdPs wrap it
    first = holder.present("cid", 5.0)
    assert first.exchange and _header(first) == "SAML PHNhbWw+"
    waiting: list[str] = []
    threads = [
        threading.Thread(target=lambda: waiting.append(_header(holder.present("cid", 5.0))))
        for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    time.sleep(0.05)
    assert waiting == []  # they wait for the exchange instead of spending the response again
    holder.settle(first, _token_metadata("tok", 9_000), reached_host=True)
    for thread in threads:
        thread.join(5.0)
    assert waiting == ["Bearer tok"] * 3 and holder.expires_at_ms == 9_000


async def test_the_holder_wakes_waiting_coroutines() -> None:
    holder = SessionTokenHolder("PHNhbWw+", clock_ms=lambda: 1_000)
    first = await holder.present_async("cid", 5.0)
    waiters = [asyncio.create_task(holder.present_async("cid", 5.0)) for _ in range(3)]
    await asyncio.sleep(0.01)
    assert not any(w.done() for w in waiters)
    await asyncio.to_thread(holder.settle, first, _token_metadata("tok", 9_000), reached_host=True)
    assert [_header(p) for p in await asyncio.gather(*waiters)] == ["Bearer tok"] * 3


def test_the_holder_refuses_an_expired_token_without_sending_it() -> None:
    now = [1_000]
    holder = SessionTokenHolder("PHNhbWw+", clock_ms=lambda: now[0])
    holder.settle(holder.present("c", 1.0), _token_metadata("tok", 2_000), reached_host=True)
    assert _header(holder.present("c", 1.0)) == "Bearer tok"
    now[0] = 2_000
    with pytest.raises(AuthenticationFailed, match="has expired; obtain a new SAML response"):
        holder.present("cid-9", 1.0)


def test_a_response_the_host_saw_without_a_token_is_spent() -> None:
    holder = SessionTokenHolder("PHNhbWw+")
    holder.settle(holder.present("c", 1.0), (), reached_host=True)
    with pytest.raises(AuthenticationFailed, match="already presented to the Host") as info:
        holder.present("c", 1.0)
    assert info.value.origin == "client" and info.value.remediation_steps


def test_a_response_that_never_reached_the_host_may_be_sent_again() -> None:
    holder = SessionTokenHolder("PHNhbWw+")
    first = holder.present("c", 1.0)
    holder.settle_error(first, _Unavailable())
    assert _header(holder.present("c", 1.0)) == "SAML PHNhbWw+"


def test_a_caller_waiting_too_long_for_the_exchange_times_out() -> None:
    holder = SessionTokenHolder("PHNhbWw+")
    holder.present("c", 1.0)
    with pytest.raises(NetworkTimeout, match="did not answer this client's SAML login"):
        holder.present("c", 0.05)


class _Unavailable(grpc.RpcError):
    """A failed call that never reached the Host (connection refused)."""

    def code(self) -> grpc.StatusCode:
        return grpc.StatusCode.UNAVAILABLE

    def initial_metadata(self) -> None:
        return None
