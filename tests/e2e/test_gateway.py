"""The API gateway of the client port, end to end (SPEC §3.4, §3.19 step 1; C-9, C-30).

A real Host (TLS 1.3, development PKI) with its two client listeners: mutual TLS for client
certificates, and TLS without client certificates for bearer tokens and API keys. A scripted
Runtime serves ``echo`` and records what reaches it, so every refusal can be shown to stop at
the gateway. Refusals are in-band (``EnhancedError``), audited once, and never contain the
credential.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import stat
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import grpc
import grpc.aio
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from aesp.certs import DevPki
from aesp.client import AsyncClient, AuthenticationFailed, Client, RateLimited
from aesp.core.config import ApiKeysConfig, GatewayConfig, IdentityConfig, LdapConfig
from aesp.core.errors import ConfigurationError
from aesp.core.ports.state import StateStore
from aesp.identity.ldap import INVALID_CREDENTIALS_MESSAGE
from aesp.proto.altar.adm.v1 import adm_pb2
from aesp.proto.altar.aesp.v1 import host_pb2, host_pb2_grpc
from aesp.proto.altar.grid.v1 import grid_pb2
from aesp.server.gateway import load_or_create_pepper
from aesp.server.tls import channel_credentials
from tests.e2e.gateway_host import ClockedState, FakeClock, GatewayHost, JwksServer, gateway_host
from tests.e2e.scripted_runtime import ScriptedRuntime

if TYPE_CHECKING:  # imported by pytest_plugins below, so pytest can rewrite its assertions
    from tests.integration.identity.conftest_ldap_saml import SlapdServer

DEMO = "spiffe://aesp.local/tenant/default/client/demo"
PEOPLE = "ou=people,dc=example,dc=test"

# The real slapd of the identity tests (session-scoped; started only by the LDAP test).
pytest_plugins = ["tests.integration.identity.conftest_ldap_saml"]


@pytest.fixture(scope="module")
def jwks() -> Iterator[JwksServer]:
    server = JwksServer().start()
    yield server
    server.stop()


@pytest.fixture
async def host(tmp_path: Path, dev_pki: DevPki, jwks: JwksServer) -> AsyncIterator[GatewayHost]:
    async with gateway_host(tmp_path, dev_pki, oidc=jwks.oidc_config()) as handle:
        yield handle


@pytest.fixture
async def runtime(host: GatewayHost) -> AsyncIterator[ScriptedRuntime]:
    rt = ScriptedRuntime(host.runtime_target, host.runtime_pem("example"))
    await rt.start(["echo"])
    yield rt
    await rt.close()


@asynccontextmanager
async def serving(
    directory: Path, pki: DevPki, gateway: GatewayConfig, state: StateStore | None = None
) -> AsyncIterator[tuple[GatewayHost, ScriptedRuntime]]:
    """A Host with the given gateway limits and a Runtime serving ``echo`` on it."""
    async with gateway_host(directory, pki, gateway=gateway, state=state) as host:
        rt = ScriptedRuntime(host.runtime_target, host.runtime_pem("example"))
        await rt.start(["echo"])
        try:
            yield host, rt
        finally:
            await rt.close()


def raw_stub(
    target: str, ca: bytes
) -> tuple[grpc.aio.Channel, host_pb2_grpc.GridClientServiceStub]:
    """A generated stub on a TLS channel with no client certificate and no call credentials."""
    channel = grpc.aio.secure_channel(target, channel_credentials(ca))
    return channel, host_pb2_grpc.GridClientServiceStub(channel)


def echo_call(session_id: str, text: str = "hi", call_id: str = "c1") -> grid_pb2.ToolCall:
    return grid_pb2.ToolCall(
        session_id=session_id,
        call=adm_pb2.FunctionCall(
            call_id=call_id, name="echo", args=json.dumps({"text": text}).encode()
        ),
    )


def bearer(token: str) -> tuple[tuple[str, str]]:
    return (("authorization", f"Bearer {token}"),)


def basic(user: str, password: str) -> tuple[tuple[str, str]]:
    encoded = base64.b64encode(f"{user}:{password}".encode()).decode()
    return (("authorization", f"Basic {encoded}"),)


def assert_no_secret(host: GatewayHost, *secrets: str) -> None:
    """No audit event carries any part of a presented credential."""
    for event in host.running.host.audit.events():
        text = json.dumps(event.to_json())
        for secret in secrets:
            assert secret not in text
            # JWT segments and an API key's secret part; a key's 24-digit id is public.
            for part in re.split(r"[._ ]", secret):
                if len(part) >= 40:
                    assert part not in text


# --------------------------------------------------------------------------- accepted


async def test_item_149_bearer_token_without_a_certificate_calls_a_tool(
    host: GatewayHost, runtime: ScriptedRuntime, jwks: JwksServer
) -> None:
    token = jwks.token("alice")
    async with AsyncClient(host.tls_target, ca=host.ca, token=token) as client:
        session = await client.create_session()
        first = await client.call(session.session_id, "echo", {"text": "one"})
        second = await client.call(session.session_id, "echo", {"text": "two"})
    assert (first.ok, first.content, second.content) == (True, {"text": "one"}, {"text": "two"})
    assert [json.loads(c.call.args)["text"] for c in runtime.calls] == ["one", "two"]
    principal = f"oidc|{jwks.issuer}|alice"
    stored = host.running.host.sessions.lookup(session.session_id)
    assert stored is not None and stored.principal_id == principal
    # Three RPCs, one verification: AUTHENTICATION_SUCCESS once (the others hit the cache).
    [success] = host.events("AUTHENTICATION_SUCCESS")
    assert (success.principal_id, success.tenant_id) == (principal, "default")
    assert success.metadata["credential"] == "bearer" and success.source_ip
    assert_no_secret(host, token)


async def test_item_151_api_key_calls_a_tool_with_either_header(
    host: GatewayHost, runtime: ScriptedRuntime
) -> None:
    key, principal = await host.issue_api_key("robot")
    async with AsyncClient(host.tls_target, ca=host.ca, api_key=key) as client:
        session = await client.create_session()
        result = await client.call(session.session_id, "echo", {"text": "by key"})
    assert result.ok and result.content == {"text": "by key"}
    channel, stub = raw_stub(host.tls_target, host.ca)
    async with channel:
        response = await stub.CallTool(
            echo_call(session.session_id, "x-api-key", "c2"), metadata=(("x-api-key", key),)
        )
    assert response.result.result.status == adm_pb2.SUCCESS, response
    assert len(runtime.calls) == 2
    [success] = host.events("AUTHENTICATION_SUCCESS")
    assert success.principal_id == principal
    assert success.metadata["credential_id"] == key.split("_")[1]  # the public key id
    assert_no_secret(host, key)


async def test_a_client_certificate_still_works(
    host: GatewayHost, runtime: ScriptedRuntime
) -> None:
    ca, cert, key = host.client_pem("demo")
    async with AsyncClient(host.certificate_target, ca=ca, cert=cert, key=key) as client:
        session = await client.create_session()
        result = await client.call(session.session_id, "echo", {"text": "mtls"})
    assert result.ok and len(runtime.calls) == 1
    [success] = host.events("AUTHENTICATION_SUCCESS")
    assert (success.principal_id, success.metadata["credential"]) == (DEMO, "certificate")


async def test_the_blocking_client_authenticates_with_an_api_key_too(
    host: GatewayHost, runtime: ScriptedRuntime
) -> None:
    key, _ = await host.issue_api_key("script")

    def blocking() -> bool:
        with Client(host.tls_target, ca=host.ca, api_key=key) as client:
            session = client.create_session()
            return client.call(session.session_id, "echo", {"text": "sync"}).ok

    assert await asyncio.to_thread(blocking)
    assert len(runtime.calls) == 1


# --------------------------------------------------------------------------- refused


async def test_item_148_no_credential_is_refused_audited_and_reaches_nothing(
    host: GatewayHost, runtime: ScriptedRuntime
) -> None:
    channel, stub = raw_stub(host.tls_target, host.ca)
    async with channel:
        created = await stub.CreateSession(grid_pb2.CreateSession())
        called = await stub.CallTool(echo_call("sess-anything"))
    for error in (created.error, called.error):
        assert error.type == "AUTHENTICATION_FAILED"
        assert "present a bearer token, an API key" in error.message
        assert not error.retry_allowed
    assert not host.running.host.sessions.all()
    assert runtime.calls == []
    failures = host.events("AUTHENTICATION_FAILURE")
    assert len(failures) == 2  # one per request, no second event from the servicer
    assert all(f.outcome == "DENIED" and f.source_ip.startswith("ipv") for f in failures)
    assert {f.metadata["code"] for f in failures} == {"AUTHENTICATION_FAILED"}
    assert failures[1].correlation_id == called.error.correlation_id


async def test_item_148_no_rpc_of_the_client_service_is_served_without_a_credential(
    host: GatewayHost, runtime: ScriptedRuntime
) -> None:
    channel, stub = raw_stub(host.tls_target, host.ca)
    async with channel:
        errors = {
            "CreateSession": (await stub.CreateSession(grid_pb2.CreateSession())).error,
            "DestroySession": (await stub.DestroySession(grid_pb2.DestroySession())).error,
            "ListTools": (await stub.ListTools(host_pb2.ListToolsRequest())).error,
            "CallTool": (await stub.CallTool(echo_call("s"))).error,
            "CallToolStream": [c async for c in stub.CallToolStream(echo_call("s"))][
                -1
            ].enhanced_error,
            "AuthorizeToolCall": (
                await stub.AuthorizeToolCall(grid_pb2.AuthorizeToolCallRequest())
            ).error,
            "LogToolResult": (await stub.LogToolResult(grid_pb2.LogToolResultRequest())).error,
        }
    served = {m.name for m in host_pb2.DESCRIPTOR.services_by_name["GridClientService"].methods}
    assert set(errors) == served
    assert {rpc: e.type for rpc, e in errors.items()} == dict.fromkeys(
        served, "AUTHENTICATION_FAILED"
    )
    assert len(host.events("AUTHENTICATION_FAILURE")) == len(served)
    assert runtime.calls == [] and not host.running.host.sessions.all()


@pytest.mark.parametrize("kind", ["expired", "forged", "wrong-audience", "garbage"])
async def test_item_207_a_bad_token_is_invalid_credentials(
    host: GatewayHost, runtime: ScriptedRuntime, jwks: JwksServer, kind: str
) -> None:
    token = {
        "expired": lambda: jwks.token(lifetime_s=-120),
        "forged": lambda: jwks.token(key=ec.generate_private_key(ec.SECP256R1())),
        "wrong-audience": lambda: jwks.token(aud="urn:someone:else"),
        "garbage": lambda: "not-a-jwt",
    }[kind]()
    channel, stub = raw_stub(host.tls_target, host.ca)
    async with channel:
        response = await stub.CallTool(echo_call("sess-x"), metadata=bearer(token))
    assert response.error.type == "INVALID_CREDENTIALS", response
    assert response.error.message.startswith("The bearer token")  # the verifier's sentence
    [failure] = host.events("AUTHENTICATION_FAILURE")
    assert failure.metadata["credential"] == "bearer"
    assert failure.metadata["reason"] == response.error.message
    assert runtime.calls == [] and not host.events("AUTHENTICATION_SUCCESS")
    assert_no_secret(host, token)


async def test_item_152_a_revoked_api_key_stops_working_at_once(
    host: GatewayHost, runtime: ScriptedRuntime
) -> None:
    key, principal = await host.issue_api_key("leaver")
    async with AsyncClient(host.tls_target, ca=host.ca, api_key=key) as client:
        session = await client.create_session()
        assert (await client.call(session.session_id, "echo", {"text": "before"})).ok
        await host.revoke(principal)
        with pytest.raises(AuthenticationFailed, match="revoked") as info:
            await client.call(session.session_id, "echo", {"text": "after"})
    assert info.value.code == "INVALID_CREDENTIALS"
    assert [json.loads(c.call.args)["text"] for c in runtime.calls] == ["before"]
    [failure] = host.events("AUTHENTICATION_FAILURE")
    assert failure.metadata["credential_id"] == key.split("_")[1]


async def test_an_expired_or_unknown_api_key_is_invalid_credentials(host: GatewayHost) -> None:
    expired, _ = await host.issue_api_key("old", expires_at_ms=1)
    unknown = "aesp_" + "f" * 24 + "_" + "b" * 52
    channel, stub = raw_stub(host.tls_target, host.ca)
    async with channel:
        for key, sentence in ((expired, "expired"), (unknown, "not valid"), ("aesp_x", "key id")):
            response = await stub.CreateSession(
                grid_pb2.CreateSession(), metadata=(("authorization", f"ApiKey {key}"),)
            )
            assert response.error.type == "INVALID_CREDENTIALS"
            assert sentence in response.error.message
    assert len(host.events("AUTHENTICATION_FAILURE")) == 3


async def test_two_credentials_in_one_request_are_refused(
    host: GatewayHost, runtime: ScriptedRuntime, jwks: JwksServer
) -> None:
    key, _ = await host.issue_api_key("both")
    channel, stub = raw_stub(host.tls_target, host.ca)
    async with channel:
        response = await stub.CreateSession(
            grid_pb2.CreateSession(), metadata=(*bearer(jwks.token()), ("x-api-key", key))
        )
    assert response.error.type == "AUTHENTICATION_FAILED"
    assert "a bearer token and an API key; present exactly one" in response.error.message
    ca, cert, pem_key = host.client_pem("demo")
    async with AsyncClient(
        host.certificate_target, ca=ca, cert=cert, key=pem_key, api_key=key
    ) as c:
        with pytest.raises(
            AuthenticationFailed, match="an API key and a client certificate; present exactly one"
        ):
            await c.create_session()
    assert not host.running.host.sessions.all() and runtime.calls == []
    assert len(host.events("AUTHENTICATION_FAILURE")) == 2


async def test_credential_kinds_this_host_does_not_accept_are_refused(host: GatewayHost) -> None:
    password = base64.b64encode(b"alice:secret").decode()
    channel, stub = raw_stub(host.tls_target, host.ca)
    async with channel:
        basic = await stub.CreateSession(
            grid_pb2.CreateSession(), metadata=(("authorization", f"Basic {password}"),)
        )
        digest = await stub.CreateSession(
            grid_pb2.CreateSession(), metadata=(("authorization", "Digest abc"),)
        )
    assert basic.error.type == "AUTHENTICATION_FAILED"
    assert "does not accept user names and passwords" in basic.error.message
    assert "use Bearer, ApiKey or Basic" in digest.error.message
    [first, _] = host.events("AUTHENTICATION_FAILURE")
    assert first.metadata["credential_id"] == "alice"  # the user name; never the password
    assert_no_secret(host, password)
    assert "secret" not in json.dumps([e.to_json() for e in host.running.host.audit.events()])


async def test_item_149_an_ldap_password_is_bound_once_and_then_remembered(
    tmp_path: Path, dev_pki: DevPki, slapd_server: SlapdServer
) -> None:
    ldap = LdapConfig(
        url=slapd_server.url,
        tenant_id="default",
        user_dn_template=f"uid={{username}},{PEOPLE}",
        connect_timeout_s=2.0,
        receive_timeout_s=2.0,
    )
    async with gateway_host(tmp_path, dev_pki, identity=IdentityConfig(ldap=ldap)) as host:
        channel, stub = raw_stub(host.tls_target, host.ca)
        async with channel:
            good = [
                await stub.CreateSession(
                    grid_pb2.CreateSession(), metadata=basic("alice", "alice-pw")
                )
                for _ in range(2)
            ]
            wrong = await stub.CreateSession(
                grid_pb2.CreateSession(), metadata=basic("alice", "not-her-pw")
            )
        assert all(r.session_id for r in good)
        [success] = host.events("AUTHENTICATION_SUCCESS")  # the second request hit the cache
        assert success.principal_id == f"ldap|{slapd_server.url}|alice"
        assert (success.metadata["credential"], success.metadata["credential_id"]) == (
            "basic",
            "alice",
        )
        assert wrong.error.type == "INVALID_CREDENTIALS"
        assert wrong.error.message == INVALID_CREDENTIALS_MESSAGE  # the directory's one sentence
        [failure] = host.events("AUTHENTICATION_FAILURE")
        assert failure.metadata["credential_id"] == "alice"
        audit = json.dumps([e.to_json() for e in host.running.host.audit.events()])
        assert "alice-pw" not in audit and "not-her-pw" not in audit


def test_the_local_pepper_is_created_once_private_and_never_replaced(tmp_path: Path) -> None:
    path = tmp_path / "data" / "api_keys.pepper"
    pepper = load_or_create_pepper(path, create=True)
    assert len(pepper) == 32 and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_pepper(path, create=True) == pepper  # a restart keeps every key valid
    path.chmod(0o644)
    with pytest.raises(ConfigurationError, match="accessible to other users"):
        load_or_create_pepper(path, create=True)
    with pytest.raises(ConfigurationError, match="does not exist"):
        load_or_create_pepper(tmp_path / "named-but-missing", create=False)


async def test_a_named_pepper_file_that_is_missing_stops_the_host(
    tmp_path: Path, dev_pki: DevPki
) -> None:
    missing = ApiKeysConfig(pepper_file=tmp_path / "lost.pepper")
    with pytest.raises(ConfigurationError, match="lost.pepper does not exist"):
        async with gateway_host(tmp_path, dev_pki, identity=IdentityConfig(api_keys=missing)):
            pass
    assert not (tmp_path / "lost.pepper").exists()  # never silently replaced


# --------------------------------------------------------------------------- limits


async def test_item_107_the_fourth_call_of_a_burst_of_3_is_rate_limited(
    tmp_path: Path, dev_pki: DevPki
) -> None:
    clock = FakeClock()
    limits = GatewayConfig(principal_rate_per_s=1.0, principal_burst=3)
    async with serving(tmp_path, dev_pki, limits, ClockedState(clock)) as (host, runtime):
        key, principal = await host.issue_api_key("busy")
        channel, stub = raw_stub(host.tls_target, host.ca)
        md = (("x-api-key", key),)
        async with channel:
            session = await stub.CreateSession(grid_pb2.CreateSession(), metadata=md)
            clock.advance(1_000)  # the session's token is back: a full burst of 3
            answers = [
                await stub.CallTool(echo_call(session.session_id, str(i), f"c{i}"), metadata=md)
                for i in range(4)
            ]
        assert [a.WhichOneof("outcome") for a in answers[:3]] == ["result"] * 3
        error = answers[3].error
        assert error.type == "RATE_LIMIT_EXCEEDED"
        assert error.retry_allowed and error.retry_after_ms == 1_000  # exactly one token
        assert "retry in 1000 ms" in error.message
        assert (error.principal_id, error.tenant_id) == (principal, "default")  # item 141
        assert len(runtime.calls) == 3
        [denied] = host.events("AUTHORIZATION_DENIED")
        assert denied.metadata["code"] == "RATE_LIMIT_EXCEEDED"
        assert denied.metadata["retry_after_ms"] == "1000"
        assert (denied.principal_id, denied.outcome) == (principal, "DENIED")
        assert denied.correlation_id == error.correlation_id
        clock.advance(1_000)
        async with AsyncClient(host.tls_target, ca=host.ca, api_key=key) as client:
            assert (await client.call(session.session_id, "echo", {"text": "later"})).ok
            with pytest.raises(RateLimited) as info:
                await client.call(session.session_id, "echo", {"text": "again"})
        assert info.value.retry_after_ms == 1_000 and len(runtime.calls) == 4


async def test_item_208_a_tenant_bucket_is_shared_and_other_tenants_are_unaffected(
    tmp_path: Path, dev_pki: DevPki
) -> None:
    clock = FakeClock()
    limits = GatewayConfig(tenant_rate_per_s=0.5, tenant_burst=3, principal_burst=100)
    async with gateway_host(tmp_path, dev_pki, gateway=limits, state=ClockedState(clock)) as host:
        a, _ = await host.issue_api_key("a")
        b, _ = await host.issue_api_key("b")
        c, _ = await host.issue_api_key("c", tenant="beta")
        channel, stub = raw_stub(host.tls_target, host.ca)

        async def create(key: str) -> grid_pb2.CreateSessionResponse:
            return await stub.CreateSession(
                grid_pb2.CreateSession(), metadata=(("x-api-key", key),)
            )

        async with channel:
            answers = [await create(k) for k in (a, b, a, b)]
            other = [await create(c) for _ in range(3)]
        assert [bool(r.session_id) for r in answers] == [True, True, True, False]
        assert answers[3].error.type == "RATE_LIMIT_EXCEEDED"
        assert answers[3].error.retry_after_ms == 2_000  # 0.5 tokens per second
        assert "for tenant 'default'" in answers[3].error.message
        assert all(r.session_id for r in other)  # tenant beta's own bucket


async def test_an_oversized_request_is_message_too_large(tmp_path: Path, dev_pki: DevPki) -> None:
    limits = GatewayConfig(max_request_bytes=1_024)
    async with serving(tmp_path, dev_pki, limits) as (host, runtime):
        key, principal = await host.issue_api_key("big")
        async with AsyncClient(host.tls_target, ca=host.ca, api_key=key) as client:
            session = await client.create_session()
            assert (await client.call(session.session_id, "echo", {"text": "x" * 500})).ok
            channel, stub = raw_stub(host.tls_target, host.ca)
            async with channel:
                response = await stub.CallTool(
                    echo_call(session.session_id, "x" * 2_000), metadata=(("x-api-key", key),)
                )
        assert response.error.type == "MESSAGE_TOO_LARGE"
        assert "1024 bytes" in response.error.message and not response.error.retry_allowed
        assert len(runtime.calls) == 1
        [denied] = host.events("AUTHORIZATION_DENIED")
        assert (denied.metadata["code"], denied.principal_id) == (
            "MESSAGE_TOO_LARGE",
            principal,
        )


# --------------------------------------------------------------------------- client SDK


@pytest.mark.parametrize(
    ("token", "api_key", "match"),
    [("t", "k", "at most one"), (None, None, "no anonymous caller"), (" t ", None, "token must")],
)
def test_the_sdk_refuses_ambiguous_or_missing_credentials(
    dev_pki: DevPki, token: str | None, api_key: str | None, match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        AsyncClient("localhost:1", ca=dev_pki.ca.read_bytes(), token=token, api_key=api_key)
