"""SAML and LDAP logins exchanged for Host session tokens at the gateway, end to end.

A real Host (TLS 1.3, development PKI, both client listeners) verifies SAML responses from the
in-process pysaml2 IdP of the identity tests (real xmlsec1 signatures), answers the call, and
returns a Host session token in the response's initial metadata (``aesp-session-token``),
which authenticates the later calls as ``Bearer``. The same happens for an LDAP password
checked against the real ``slapd``. A scripted Runtime records what reaches it, so every
refusal is shown to stop at the gateway; every refusal is audited once, and no audit event
carries an assertion, a password or a token.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import grpc
import grpc.aio
import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from saml2.saml import NAMEID_FORMAT_PERSISTENT, NameID
from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256

from aesp.certs import DevPki
from aesp.client import AsyncClient, AuthenticationFailed, Client, RateLimited, SessionError
from aesp.core.config import (
    GatewayConfig,
    HostTokensConfig,
    IdentityConfig,
    LdapConfig,
    SamlConfig,
)
from aesp.identity.host_tokens import HostTokenIssuer
from aesp.identity.saml import (
    MSG_AUDIENCE,
    MSG_BAD_SIGNATURE,
    MSG_EXPIRED,
    MSG_MALFORMED,
    MSG_REPLAY,
    MSG_UNSIGNED,
)
from aesp.identity.types import VerifiedIdentity
from aesp.proto.altar.adm.v1 import adm_pb2
from aesp.proto.altar.aesp.v1 import host_pb2_grpc
from aesp.proto.altar.grid.v1 import grid_pb2
from aesp.server.gateway import SESSION_TOKEN_EXPIRES_HEADER, SESSION_TOKEN_HEADER
from aesp.server.gateway.token_key import KEY_FILE_NAME, load_or_create_token_key
from aesp.server.tls import channel_credentials
from tests.e2e.gateway_host import (
    TOOL_GROUP,
    ClockedState,
    FakeClock,
    GatewayHost,
    JwksServer,
    gateway_host,
)
from tests.e2e.scripted_runtime import ScriptedRuntime

if TYPE_CHECKING:  # imported by pytest_plugins below, so pytest can rewrite its assertions
    from tests.integration.identity.conftest_ldap_saml import SamlIdp, SlapdServer

# The real pysaml2 IdP and slapd of the identity tests (session-scoped fixtures).
pytest_plugins = ["tests.integration.identity.conftest_ldap_saml"]

# Kept in step with conftest_ldap_saml (importing it here would defeat pytest's assertion
# rewriting of the plugin module, as in tests/integration/identity/test_saml.py).
IDP_ENTITY_ID = "https://idp.example.test/saml"
SP_ENTITY_ID = "https://aesp.example.test/saml/sp"
ACS_URL = "https://aesp.example.test/saml/acs"
ALICE = f"saml|{IDP_ENTITY_ID}|alice"
PASSWORD_CONTEXT = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
PEOPLE = "ou=people,dc=example,dc=test"
HOUR_S = 3600.0
TTL_S = 900

Metadata = tuple[tuple[str, str], ...]


# --------------------------------------------------------------------------- helpers


def saml_config(directory: Path, idp: SamlIdp, *, sp_entity_id: str = SP_ENTITY_ID) -> SamlConfig:
    """``[identity.saml]`` trusting ``idp``'s metadata (written to a file, as deployed)."""
    metadata = directory / "idp-metadata.xml"
    metadata.write_text(idp.metadata, encoding="utf-8")
    return SamlConfig(
        idp_metadata=metadata,
        sp_entity_id=sp_entity_id,
        acs_url=ACS_URL,
        tenant_id="default",
        clock_skew_s=30,
    )


@asynccontextmanager
async def saml_host(
    directory: Path,
    pki: DevPki,
    idp: SamlIdp,
    *,
    sp_entity_id: str = SP_ENTITY_ID,
    ttl_s: int = TTL_S,
    **identity: Any,
) -> AsyncIterator[tuple[GatewayHost, ScriptedRuntime]]:
    """A Host accepting SAML (plus ``identity`` extras) and a Runtime serving ``echo``."""
    config = IdentityConfig(
        saml=saml_config(directory, idp, sp_entity_id=sp_entity_id),
        host_tokens=HostTokensConfig(ttl_s=ttl_s),
        **identity,
    )
    async with gateway_host(directory, pki, identity=config) as host:
        runtime = ScriptedRuntime(host.runtime_target, host.runtime_pem("example"))
        await runtime.start(["echo"])
        try:
            yield host, runtime
        finally:
            await runtime.close()


def issue(idp: SamlIdp, user: str = "alice", **kwargs: Any) -> str:
    """A signed SAML response naming ``user`` in the group the Host grants tool access."""
    attributes = {"displayName": [f"{user.title()} Example"], "groups": [TOOL_GROUP]}
    return idp.issue(user=user, attributes=attributes, **kwargs)


def issue_with_session_end(idp: SamlIdp, session_end_s: float) -> str:
    """As :func:`issue`, with an ``AuthnStatement/@SessionNotOnOrAfter`` (the IdP's session end).

    ``SamlIdp.issue`` has no parameter for it, so this makes the same pysaml2 call itself.
    """
    response = idp.server.create_authn_response(
        identity={"displayName": ["Alice Example"], "groups": [TOOL_GROUP]},
        in_response_to=None,
        destination=ACS_URL,
        sp_entity_id=SP_ENTITY_ID,
        name_id=NameID(format=NAMEID_FORMAT_PERSISTENT, text="alice"),
        authn={"class_ref": PASSWORD_CONTEXT, "authn_auth": idp.entity_id},
        sign_response=False,
        sign_assertion=True,
        session_not_on_or_after=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(session_end_s)),
        sign_alg=SIG_RSA_SHA256,
        digest_alg=DIGEST_SHA256,
    )
    return base64.b64encode(str(response).encode("utf-8")).decode("ascii")


def saml(response: str) -> Metadata:
    return (("authorization", f"SAML {response}"),)


def bearer(token: str) -> Metadata:
    return (("authorization", f"Bearer {token}"),)


def basic(user: str, password: str) -> Metadata:
    encoded = base64.b64encode(f"{user}:{password}".encode()).decode()
    return (("authorization", f"Basic {encoded}"),)


def echo_call(session_id: str, text: str = "hi", call_id: str = "c1") -> grid_pb2.ToolCall:
    return grid_pb2.ToolCall(
        session_id=session_id,
        call=adm_pb2.FunctionCall(
            call_id=call_id, name="echo", args=json.dumps({"text": text}).encode()
        ),
    )


class Stub:
    """A generated stub on a TLS channel without client certificate or call credentials,
    whose calls return the response together with its initial metadata."""

    def __init__(self, host: GatewayHost) -> None:
        self.channel = grpc.aio.secure_channel(host.tls_target, channel_credentials(host.ca))
        self.stub = host_pb2_grpc.GridClientServiceStub(self.channel)

    async def __aenter__(self) -> Stub:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.channel.close()

    async def call(self, method: str, request: Any, metadata: Metadata) -> tuple[Any, Metadata]:
        """(response, initial metadata as plain pairs)."""
        call = getattr(self.stub, method)(request, metadata=metadata)
        response = await call
        initial = await call.initial_metadata()
        return response, tuple((k, str(v)) for k, v in initial or ())

    async def create_session(self, metadata: Metadata) -> tuple[Any, Metadata]:
        return await self.call("CreateSession", grid_pb2.CreateSession(), metadata)


def session_token(initial: Metadata) -> tuple[str, int]:
    """(token, expiry ms) from a response's initial metadata; ("", 0) when absent."""
    values = dict(initial)
    return values.get(SESSION_TOKEN_HEADER, ""), int(values.get(SESSION_TOKEN_EXPIRES_HEADER, 0))


def assert_no_secret(host: GatewayHost, *secrets: str) -> None:
    """No audit event carries a presented credential or any long part of one."""
    text = json.dumps([e.to_json() for e in host.running.host.audit.events()])
    for secret in secrets:
        assert secret not in text
        for part in secret.replace("_", ".").split("."):
            if len(part) >= 40:
                assert part not in text
        # A SAML response's signature value, decoded: never copied into the log either.
        xml = base64.b64decode(secret).decode("utf-8", "replace") if secret[:2] == "PG" else ""
        if "SignatureValue>" in xml:
            signature = xml.split("SignatureValue>")[1].split("<")[0]
            assert signature.strip()[:60] not in text


def host_key_issuer(host: GatewayHost, *, clock: Any = time.time) -> HostTokenIssuer:
    """An issuer holding the running Host's own key (read from its data_dir)."""
    key = load_or_create_token_key(Path(host.config.data_dir) / KEY_FILE_NAME)
    return HostTokenIssuer(key, trust_domain=host.config.trust_domain, clock=clock)


def alice_identity() -> VerifiedIdentity:
    return VerifiedIdentity(
        principal_id=ALICE,
        tenant_id="default",
        source="saml",
        issuer=IDP_ENTITY_ID,
        subject="alice",
        groups=(TOOL_GROUP,),
    )


@pytest.fixture
async def host(
    tmp_path: Path, dev_pki: DevPki, saml_idp: SamlIdp
) -> AsyncIterator[tuple[GatewayHost, ScriptedRuntime]]:
    async with saml_host(tmp_path, dev_pki, saml_idp) as pair:
        yield pair


@pytest.fixture(scope="module")
def jwks() -> Iterator[JwksServer]:
    server = JwksServer().start()
    yield server
    server.stop()


# --------------------------------------------------------------------------- exchange


async def test_item_149_a_saml_response_creates_a_session_and_its_token_calls_tools(
    host: tuple[GatewayHost, ScriptedRuntime], saml_idp: SamlIdp
) -> None:
    gw, runtime = host
    response = issue(saml_idp)
    before_ms = time.time() * 1000
    async with Stub(gw) as stub:
        created, initial = await stub.create_session(saml(response))
        token, expires_ms = session_token(initial)
        assert created.session_id, created
        assert token and before_ms + (TTL_S - 5) * 1000 < expires_ms <= time.time() * 1000 + (
            TTL_S * 1000
        )
        # The session ends with the token it was created with, never after it.
        assert 0 < created.expires_at_ms <= expires_ms
        answers = [
            await stub.call("CallTool", echo_call(created.session_id, t, t), bearer(token))
            for t in ("one", "two")
        ]
    assert [a.result.result.status for a, _ in answers] == [adm_pb2.SUCCESS] * 2
    assert [session_token(md) for _, md in answers] == [("", 0)] * 2  # no new token for Bearer
    assert [json.loads(c.call.args)["text"] for c in runtime.calls] == ["one", "two"]
    stored = gw.running.host.sessions.lookup(created.session_id)
    assert stored is not None and stored.principal_id == ALICE
    # One AUTHENTICATION_SUCCESS for the assertion, one for the token's first use (not per call).
    exchanged, used = gw.events("AUTHENTICATION_SUCCESS")
    assert (exchanged.principal_id, exchanged.tenant_id) == (ALICE, "default")
    assert (exchanged.metadata["credential"], exchanged.metadata["source"]) == ("saml", "saml")
    assert exchanged.metadata["session_token_expires_ms"] == str(expires_ms)
    assert (used.principal_id, used.metadata["credential"], used.metadata["source"]) == (
        ALICE,
        "host_token",
        "saml",
    )
    assert used.metadata["credential_id"] == exchanged.metadata["session_token_id"]
    assert not gw.events("AUTHENTICATION_FAILURE")
    assert_no_secret(gw, response, token)


async def test_the_token_ends_with_the_idp_session_when_that_comes_first(
    host: tuple[GatewayHost, ScriptedRuntime], saml_idp: SamlIdp
) -> None:
    gw, _ = host
    session_end_s = int(time.time()) + 120  # shorter than the 900 s TTL
    async with Stub(gw) as stub:
        created, initial = await stub.create_session(
            saml(issue_with_session_end(saml_idp, session_end_s))
        )
    token, expires_ms = session_token(initial)
    assert token and expires_ms == session_end_s * 1000
    assert 0 < created.expires_at_ms <= expires_ms


async def test_a_replayed_saml_response_is_invalid_credentials_audited_and_reaches_nothing(
    host: tuple[GatewayHost, ScriptedRuntime], saml_idp: SamlIdp
) -> None:
    gw, runtime = host
    response = issue(saml_idp)
    async with Stub(gw) as stub:
        created, first = await stub.create_session(saml(response))
        replayed, again = await stub.call("CallTool", echo_call(created.session_id), saml(response))
    assert created.session_id and session_token(first)[0]
    assert replayed.error.type == "INVALID_CREDENTIALS", replayed
    assert replayed.error.message == MSG_REPLAY
    assert session_token(again) == ("", 0)
    assert runtime.calls == []
    [failure] = gw.events("AUTHENTICATION_FAILURE")
    assert (failure.metadata["credential"], failure.metadata["code"]) == (
        "saml",
        "INVALID_CREDENTIALS",
    )
    assert failure.metadata["reason"] == MSG_REPLAY
    assert failure.correlation_id == replayed.error.correlation_id
    assert len(gw.events("AUTHENTICATION_SUCCESS")) == 1
    assert_no_secret(gw, response)


def _tampered(response: str) -> str:
    xml = base64.b64decode(response).decode("utf-8")
    assert ">alice<" in xml
    return base64.b64encode(xml.replace(">alice<", ">mallory<", 1).encode()).decode()


@pytest.mark.parametrize(
    ("kind", "sentence"),
    [
        ("unsigned", MSG_UNSIGNED),
        ("tampered", MSG_BAD_SIGNATURE),
        ("another-key", MSG_BAD_SIGNATURE),
        ("expired", MSG_EXPIRED),
        ("from-the-future", MSG_EXPIRED),
        ("wrong-audience", MSG_AUDIENCE),
        ("not-base64", MSG_MALFORMED),
    ],
)
async def test_item_148_a_bad_saml_response_is_refused_audited_and_gets_no_token(
    tmp_path: Path,
    dev_pki: DevPki,
    saml_idp: SamlIdp,
    saml_attacker_idp: SamlIdp,
    kind: str,
    sentence: str,
) -> None:
    response = {
        "unsigned": lambda: issue(saml_idp, sign_response=False, sign_assertion=False),
        "tampered": lambda: _tampered(issue(saml_idp)),
        "another-key": lambda: issue(saml_attacker_idp),
        "expired": lambda: issue(saml_idp, shift_s=-2 * HOUR_S),
        "from-the-future": lambda: issue(saml_idp, shift_s=2 * HOUR_S),
        "wrong-audience": lambda: issue(saml_idp),
        "not-base64": lambda: "<samlp:Response/>",
    }[kind]()
    # The wrong-audience Host is another service provider than the one the IdP addressed.
    sp = "https://other.example.test/saml/sp" if kind == "wrong-audience" else SP_ENTITY_ID
    async with saml_host(tmp_path, dev_pki, saml_idp, sp_entity_id=sp) as (gw, runtime):
        async with Stub(gw) as stub:
            created, initial = await stub.create_session(saml(response))
            called, _ = await stub.call("CallTool", echo_call("sess-x"), saml(response))
        assert (created.error.type, created.error.message) == ("INVALID_CREDENTIALS", sentence)
        assert called.error.type == "INVALID_CREDENTIALS"
        assert session_token(initial) == ("", 0)
        assert not gw.running.host.sessions.all() and runtime.calls == []
        failures = gw.events("AUTHENTICATION_FAILURE")
        assert len(failures) == 2  # one per request, none from the servicer
        assert failures[0].metadata["reason"] == sentence
        assert {f.metadata["credential"] for f in failures} == {"saml"}
        assert not gw.events("AUTHENTICATION_SUCCESS")
        assert_no_secret(gw, response)


async def test_a_saml_response_is_refused_by_a_host_without_saml(
    tmp_path: Path, dev_pki: DevPki, saml_idp: SamlIdp
) -> None:
    async with gateway_host(tmp_path, dev_pki) as gw, Stub(gw) as stub:
        created, initial = await stub.create_session(saml(issue(saml_idp)))
    assert created.error.type == "AUTHENTICATION_FAILED"
    assert "does not accept SAML responses" in created.error.message
    assert session_token(initial) == ("", 0)


async def test_a_rate_limited_saml_login_still_returns_its_token(
    tmp_path: Path, dev_pki: DevPki, saml_idp: SamlIdp
) -> None:
    # The assertion is spent once verified; a rate limit must not force a new IdP login.
    clock = FakeClock()
    limits = GatewayConfig(principal_rate_per_s=1.0, principal_burst=1)
    config = IdentityConfig(saml=saml_config(tmp_path, saml_idp))
    async with (
        gateway_host(
            tmp_path, dev_pki, identity=config, gateway=limits, state=ClockedState(clock)
        ) as gw,
        Stub(gw) as stub,
    ):
        first, _ = await stub.create_session(saml(issue(saml_idp)))
        limited, initial = await stub.create_session(saml(issue(saml_idp)))
        token, _ = session_token(initial)
        clock.advance(1_000)
        later, _ = await stub.create_session(bearer(token))
    assert first.session_id and limited.error.type == "RATE_LIMIT_EXCEEDED"
    assert token and later.session_id


# --------------------------------------------------------------------------- host tokens


async def test_an_expired_host_token_is_refused(
    host: tuple[GatewayHost, ScriptedRuntime],
) -> None:
    gw, runtime = host
    an_hour_ago = host_key_issuer(gw, clock=lambda: time.time() - HOUR_S)
    token = an_hour_ago.issue(alice_identity()).token
    async with Stub(gw) as stub:
        created, _ = await stub.create_session(bearer(token))
        called, _ = await stub.call("CallTool", echo_call("sess-x"), bearer(token))
    assert created.error.type == "INVALID_CREDENTIALS"
    assert created.error.message.startswith("The Host session token has expired")
    assert called.error.type == "INVALID_CREDENTIALS" and runtime.calls == []
    failures = gw.events("AUTHENTICATION_FAILURE")
    assert [f.metadata["credential"] for f in failures] == ["host_token"] * 2
    # The same key and clock now: accepted, so only the expiry was refused above.
    fresh = host_key_issuer(gw).issue(alice_identity()).token
    async with Stub(gw) as stub:
        accepted, _ = await stub.create_session(bearer(fresh))
    assert accepted.session_id
    assert_no_secret(gw, token, fresh)


async def test_a_host_token_signed_by_another_key_is_refused(
    host: tuple[GatewayHost, ScriptedRuntime], tmp_path: Path
) -> None:
    gw, runtime = host
    stranger = HostTokenIssuer(
        ed25519.Ed25519PrivateKey.generate(), trust_domain=gw.config.trust_domain
    )
    # Another Host of the same trust domain, with its own key file, is a stranger too.
    other_host = HostTokenIssuer(
        load_or_create_token_key(tmp_path / "other-host" / KEY_FILE_NAME),
        trust_domain=gw.config.trust_domain,
    )
    async with Stub(gw) as stub:
        for issuer in (stranger, other_host):
            created, _ = await stub.create_session(bearer(issuer.issue(alice_identity()).token))
            assert created.error.type == "INVALID_CREDENTIALS"
            assert created.error.message == (
                "The Host session token was not signed with this Host's key."
            )
    assert not gw.running.host.sessions.all() and runtime.calls == []
    assert len(gw.events("AUTHENTICATION_FAILURE")) == 2


async def test_a_host_token_never_reaches_the_oidc_verifier_and_oidc_tokens_still_do(
    tmp_path: Path, dev_pki: DevPki, saml_idp: SamlIdp, jwks: JwksServer
) -> None:
    async with saml_host(tmp_path, dev_pki, saml_idp, oidc=jwks.oidc_config()) as (gw, _):
        fetches = jwks.fetches
        forged = HostTokenIssuer(
            ed25519.Ed25519PrivateKey.generate(), trust_domain=gw.config.trust_domain
        ).issue(alice_identity())
        async with Stub(gw) as stub:
            refused, _ = await stub.create_session(bearer(forged.token))
            assert jwks.fetches == fetches  # the IdP's keys were never consulted
            oidc, _ = await stub.create_session(bearer(jwks.token("bob")))
    assert refused.error.message == "The Host session token was not signed with this Host's key."
    assert oidc.session_id, oidc
    [failure] = gw.events("AUTHENTICATION_FAILURE")
    assert failure.metadata["credential"] == "host_token"
    [success] = gw.events("AUTHENTICATION_SUCCESS")
    assert success.metadata["credential"] == "bearer"


# --------------------------------------------------------------------------- LDAP


async def test_an_ldap_password_also_returns_a_token_that_then_works(
    tmp_path: Path, dev_pki: DevPki, saml_idp: SamlIdp, slapd_server: SlapdServer
) -> None:
    ldap = LdapConfig(
        url=slapd_server.url,
        tenant_id="default",
        user_dn_template=f"uid={{username}},{PEOPLE}",
        connect_timeout_s=2.0,
        receive_timeout_s=2.0,
    )
    async with saml_host(tmp_path, dev_pki, saml_idp, ldap=ldap) as (gw, _), Stub(gw) as stub:
        first, first_md = await stub.create_session(basic("alice", "alice-pw"))
        cached, cached_md = await stub.create_session(basic("alice", "alice-pw"))
        token, expires_ms = session_token(first_md)
        by_token, _ = await stub.create_session(bearer(token))
        wrong, wrong_md = await stub.create_session(basic("alice", "not-her-pw"))
    principal = f"ldap|{slapd_server.url}|alice"
    assert first.session_id and cached.session_id and by_token.session_id
    assert token and expires_ms <= (time.time() + TTL_S) * 1000
    assert session_token(cached_md)[0]  # a remembered bind is answered with a token too
    for session_id in (first.session_id, by_token.session_id):
        stored = gw.running.host.sessions.lookup(session_id)
        assert stored is not None and stored.principal_id == principal
    assert wrong.error.type == "INVALID_CREDENTIALS" and session_token(wrong_md) == ("", 0)
    bind, used = gw.events("AUTHENTICATION_SUCCESS")  # the second Basic hit the bind cache
    assert (bind.metadata["credential"], bind.metadata["credential_id"]) == ("basic", "alice")
    assert bind.metadata["session_token_expires_ms"] == str(expires_ms)
    assert (used.principal_id, used.metadata["credential"], used.metadata["source"]) == (
        principal,
        "host_token",
        "ldap",
    )
    assert used.metadata["credential_id"] == bind.metadata["session_token_id"]
    audit = json.dumps([e.to_json() for e in gw.running.host.audit.events()])
    assert "alice-pw" not in audit and "not-her-pw" not in audit
    assert_no_secret(gw, token)


# --------------------------------------------------------------------------- client SDK


async def test_the_async_sdk_presents_the_saml_response_once_then_its_token(
    host: tuple[GatewayHost, ScriptedRuntime], saml_idp: SamlIdp
) -> None:
    gw, runtime = host
    response = issue(saml_idp)
    async with AsyncClient(gw.tls_target, ca=gw.ca, saml_response=response) as client:
        # Four calls at once: one presents the assertion, the others wait for its token.
        sessions = await asyncio.gather(*(client.create_session() for _ in range(4)))
        results = [
            await client.call(sessions[0].session_id, "echo", {"text": t}) for t in ("a", "b")
        ]
        tools = await client.list_tools(sessions[1].session_id)
    assert len({s.session_id for s in sessions}) == 4
    assert [r.content for r in results] == [{"text": "a"}, {"text": "b"}]
    assert [t.name for t in tools] == ["echo"] and len(runtime.calls) == 2
    assert not gw.events("AUTHENTICATION_FAILURE")  # no replay, no refusal
    credentials = [e.metadata["credential"] for e in gw.events("AUTHENTICATION_SUCCESS")]
    assert credentials == ["saml", "host_token"]
    assert_no_secret(gw, response)


async def test_the_blocking_sdk_presents_the_saml_response_once_then_its_token(
    host: tuple[GatewayHost, ScriptedRuntime], saml_idp: SamlIdp
) -> None:
    gw, runtime = host
    response = issue(saml_idp)

    def blocking() -> list[bool]:
        with Client(gw.tls_target, ca=gw.ca, saml_response=response) as client:
            session = client.create_session()
            return [client.call(session.session_id, "echo", {"text": t}).ok for t in "xyz"]

    assert await asyncio.to_thread(blocking) == [True, True, True]
    assert len(runtime.calls) == 3
    credentials = [e.metadata["credential"] for e in gw.events("AUTHENTICATION_SUCCESS")]
    assert credentials == ["saml", "host_token"]


async def test_a_stream_as_the_first_call_exchanges_the_saml_response_too(
    host: tuple[GatewayHost, ScriptedRuntime], saml_idp: SamlIdp
) -> None:
    gw, _ = host
    response, blocking_response = issue(saml_idp), issue(saml_idp)
    async with AsyncClient(gw.tls_target, ca=gw.ca, saml_response=response) as client:
        with pytest.raises(SessionError):  # refused in-band, after the gateway admitted it
            async for _ in client.stream("sess-unknown", "echo", {"text": "s"}):
                pass
        assert (await client.create_session()).session_id  # with the token it was given

    def blocking() -> str:
        with Client(gw.tls_target, ca=gw.ca, saml_response=blocking_response) as client:
            with pytest.raises(SessionError):
                list(client.stream("sess-unknown", "echo", {"text": "s"}))
            return client.create_session().session_id

    assert await asyncio.to_thread(blocking)
    credentials = [e.metadata["credential"] for e in gw.events("AUTHENTICATION_SUCCESS")]
    assert credentials == ["saml", "host_token"] * 2
    assert not gw.events("AUTHENTICATION_FAILURE")


async def test_the_sdk_says_to_log_in_again_once_the_token_expires(
    tmp_path: Path, dev_pki: DevPki, saml_idp: SamlIdp
) -> None:
    async with saml_host(tmp_path, dev_pki, saml_idp, ttl_s=1) as (gw, runtime):
        async with AsyncClient(gw.tls_target, ca=gw.ca, saml_response=issue(saml_idp)) as client:
            session = await client.create_session()
            await asyncio.sleep(1.1)  # the token lives at most one second
            with pytest.raises(AuthenticationFailed, match="obtain a new SAML response") as info:
                await client.call(session.session_id, "echo", {"text": "late"})
        assert info.value.origin == "client" and info.value.remediation_steps
        assert runtime.calls == [] and not gw.events("AUTHENTICATION_FAILURE")  # never sent


async def test_the_sdk_reports_a_spent_saml_response_clearly(
    host: tuple[GatewayHost, ScriptedRuntime], saml_idp: SamlIdp
) -> None:
    gw, _ = host
    response = issue(saml_idp)
    async with Stub(gw) as stub:
        await stub.create_session(saml(response))  # someone used it already
    async with AsyncClient(gw.tls_target, ca=gw.ca, saml_response=response) as client:
        with pytest.raises(AuthenticationFailed, match="already been used") as refused:
            await client.create_session()
        with pytest.raises(AuthenticationFailed, match="already presented to the Host") as spent:
            await client.create_session()
    assert (refused.value.code, refused.value.origin) == ("INVALID_CREDENTIALS", "host")
    assert spent.value.origin == "client"
    assert len(gw.events("AUTHENTICATION_FAILURE")) == 1  # the second call was never sent


async def test_a_rate_limited_sdk_login_keeps_the_token_it_was_given(
    tmp_path: Path, dev_pki: DevPki, saml_idp: SamlIdp
) -> None:
    clock = FakeClock()
    limits = GatewayConfig(principal_rate_per_s=1.0, principal_burst=1)
    config = IdentityConfig(saml=saml_config(tmp_path, saml_idp))
    async with gateway_host(
        tmp_path, dev_pki, identity=config, gateway=limits, state=ClockedState(clock)
    ) as gw:
        async with Stub(gw) as stub:
            await stub.create_session(saml(issue(saml_idp)))  # alice's one request this second
        async with AsyncClient(gw.tls_target, ca=gw.ca, saml_response=issue(saml_idp)) as c:
            with pytest.raises(RateLimited):
                await c.create_session()
            clock.advance(1_000)
            assert (await c.create_session()).session_id  # with the token, no new login


@pytest.mark.parametrize(
    ("extra", "match"),
    [
        ({"token": "t"}, "saml_response alone"),
        ({"api_key": "k"}, "saml_response alone"),
        ({"cert": b"x", "key": b"y"}, "saml_response alone"),
    ],
)
def test_the_sdk_refuses_a_saml_response_with_another_credential(
    dev_pki: DevPki, extra: dict[str, Any], match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        AsyncClient("localhost:1", ca=dev_pki.ca.read_bytes(), saml_response="PHg+", **extra)
    with pytest.raises(ValueError, match=match):
        Client("localhost:1", ca=dev_pki.ca.read_bytes(), saml_response="PHg+", **extra)
    with pytest.raises(ValueError, match="saml_response must be the non-empty base64"):
        AsyncClient("localhost:1", ca=dev_pki.ca.read_bytes(), saml_response=" \n ")
