"""End-to-end transport security: real gRPC servers over real certificates (checklist 142).

A tiny generic service stands in for the Host; it is built with the same ``server_credentials``
and ``RequireTls13Interceptor`` the Host uses, so these tests pin the transport rules:
trusted mTLS 1.3 works and the handler sees the peer's SPIFFE ID; no client certificate, a
certificate from another CA, TLS 1.2 and plaintext are all refused before any handler runs.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import grpc
import grpc.aio
import pytest

from aesp.certs import DevPki
from aesp.core.identity import SpiffeId, certificate_identity_from_pem
from aesp.server.tls import (
    RequireTls13Interceptor,
    channel_credentials,
    load_pem,
    peer_identity,
    server_credentials,
)
from tests._tlsclient import grpc_unary_call

SERVICE = "aesp.test.Probe"
RUNTIME_ID = "spiffe://aesp.local/tenant/default/runtime/example"
CALL_TIMEOUT = 10.0


class Probe:
    """Handlers of every arity and flavour; records which ran."""

    def __init__(self) -> None:
        self.invoked: list[str] = []

    def _seen(self, name: str, context: Any) -> bytes:
        self.invoked.append(name)
        peer = peer_identity(context)
        if peer is None:
            return b"anonymous"
        return f"{peer.certificate.spiffe_id}|{peer.tls_version}".encode()

    async def whoami(self, request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        return self._seen("whoami", context)

    async def count(
        self, request: bytes, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[bytes]:
        self._seen("count", context)
        for i in range(int(request)):
            yield str(i).encode()

    async def count_writer(self, request: bytes, context: grpc.aio.ServicerContext) -> None:
        self._seen("count_writer", context)
        for i in range(int(request)):
            await context.write(str(i).encode())

    async def join(
        self, requests: AsyncIterator[bytes], context: grpc.aio.ServicerContext
    ) -> bytes:
        self._seen("join", context)
        return b"".join([r async for r in requests])

    async def echo(
        self, requests: AsyncIterator[bytes], context: grpc.aio.ServicerContext
    ) -> AsyncIterator[bytes]:
        self._seen("echo", context)
        async for request in requests:
            yield request

    def sync_whoami(self, request: bytes, context: grpc.ServicerContext) -> bytes:
        return self._seen("sync_whoami", context)

    def sync_count(self, request: bytes, context: grpc.ServicerContext) -> Iterator[bytes]:
        self._seen("sync_count", context)
        for i in range(int(request)):
            yield str(i).encode()

    def handler(self) -> grpc.GenericRpcHandler:
        return grpc.method_handlers_generic_handler(
            SERVICE,
            {
                "Whoami": grpc.unary_unary_rpc_method_handler(self.whoami),
                "Count": grpc.unary_stream_rpc_method_handler(self.count),
                "CountWriter": grpc.unary_stream_rpc_method_handler(self.count_writer),
                "Join": grpc.stream_unary_rpc_method_handler(self.join),
                "Echo": grpc.stream_stream_rpc_method_handler(self.echo),
                "SyncWhoami": grpc.unary_unary_rpc_method_handler(self.sync_whoami),
                "SyncCount": grpc.unary_stream_rpc_method_handler(self.sync_count),
            },
        )


@asynccontextmanager
async def serving(
    pki: DevPki | None, probe: Probe, *, client_ca: DevPki | None = None
) -> AsyncIterator[int]:
    """Run the probe on 127.0.0.1 (mTLS with ``pki``'s host cert, or plaintext if None)."""
    server = grpc.aio.server(interceptors=[RequireTls13Interceptor()])
    server.add_generic_rpc_handlers((probe.handler(),))
    if pki is None:
        port = server.add_insecure_port("127.0.0.1:0")
    else:
        trusted = client_ca or pki
        creds = server_credentials(
            load_pem(pki.host_cert), load_pem(pki.host_key), load_pem(trusted.ca)
        )
        port = server.add_secure_port("127.0.0.1:0", creds)
    assert port > 0
    await server.start()
    try:
        yield port
    finally:
        await server.stop(None)


def mtls_channel(port: int, ca: Path, cert: Path | None, key: Path | None) -> grpc.aio.Channel:
    creds = channel_credentials(
        load_pem(ca), load_pem(cert) if cert else None, load_pem(key) if key else None
    )
    return grpc.aio.secure_channel(f"127.0.0.1:{port}", creds)


async def call_every_arity(channel: grpc.aio.Channel) -> dict[str, Any]:
    """Call each probe method once and return its result by method name."""

    def method(kind: str, name: str) -> Any:
        return getattr(channel, kind)(f"/{SERVICE}/{name}")

    async def requests() -> AsyncIterator[bytes]:
        for part in (b"a", b"b", b"c"):
            yield part

    return {
        "Whoami": await method("unary_unary", "Whoami")(b"", timeout=CALL_TIMEOUT),
        "Count": [r async for r in method("unary_stream", "Count")(b"3", timeout=CALL_TIMEOUT)],
        "CountWriter": [
            r async for r in method("unary_stream", "CountWriter")(b"2", timeout=CALL_TIMEOUT)
        ],
        "Join": await method("stream_unary", "Join")(requests(), timeout=CALL_TIMEOUT),
        "Echo": [
            r async for r in method("stream_stream", "Echo")(requests(), timeout=CALL_TIMEOUT)
        ],
        "SyncWhoami": await method("unary_unary", "SyncWhoami")(b"", timeout=CALL_TIMEOUT),
        "SyncCount": [
            r async for r in method("unary_stream", "SyncCount")(b"2", timeout=CALL_TIMEOUT)
        ],
    }


async def test_trusted_runtime_over_tls13_sees_spiffe_id(dev_pki: DevPki) -> None:
    probe = Probe()
    cert, key = dev_pki.runtime("example")
    async with serving(dev_pki, probe) as port, mtls_channel(port, dev_pki.ca, cert, key) as ch:
        results = await call_every_arity(ch)
    assert results == {
        "Whoami": f"{RUNTIME_ID}|TLSv1.3".encode(),
        "Count": [b"0", b"1", b"2"],
        "CountWriter": [b"0", b"1"],
        "Join": b"abc",
        "Echo": [b"a", b"b", b"c"],
        "SyncWhoami": f"{RUNTIME_ID}|TLSv1.3".encode(),
        "SyncCount": [b"0", b"1"],
    }
    assert sorted(probe.invoked) == sorted(
        ["whoami", "count", "count_writer", "join", "echo", "sync_whoami", "sync_count"]
    )


async def test_servicer_gets_parsed_peer_identity(dev_pki: DevPki) -> None:
    seen: list[Any] = []

    async def capture(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        seen.append(peer_identity(context))
        return b"ok"

    server = grpc.aio.server(interceptors=[RequireTls13Interceptor()])
    server.add_generic_rpc_handlers(
        (
            grpc.method_handlers_generic_handler(
                SERVICE, {"Capture": grpc.unary_unary_rpc_method_handler(capture)}
            ),
        )
    )
    creds = server_credentials(
        load_pem(dev_pki.host_cert), load_pem(dev_pki.host_key), load_pem(dev_pki.ca)
    )
    port = server.add_secure_port("127.0.0.1:0", creds)
    await server.start()
    try:
        cert, key = dev_pki.client("demo")
        async with mtls_channel(port, dev_pki.ca, cert, key) as channel:
            call = channel.unary_unary(f"/{SERVICE}/Capture")
            assert await call(b"", timeout=CALL_TIMEOUT) == b"ok"
            assert await call(b"", timeout=CALL_TIMEOUT) == b"ok"
    finally:
        await server.stop(None)
    first, second = seen
    assert first is second  # parsed once per certificate
    assert first.spiffe == SpiffeId("aesp.local", "default", "client", "demo")
    assert first.tls_version == "TLSv1.3"
    assert first.certificate.subject_dn == "CN=demo"
    assert first.certificate.san_uris == ("spiffe://aesp.local/tenant/default/client/demo",)
    assert first.certificate == certificate_identity_from_pem(cert.read_bytes())


async def test_no_client_certificate_is_refused(dev_pki: DevPki) -> None:
    probe = Probe()
    async with serving(dev_pki, probe) as port, mtls_channel(port, dev_pki.ca, None, None) as ch:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await ch.unary_unary(f"/{SERVICE}/Whoami")(b"", timeout=CALL_TIMEOUT)
    assert err.value.code() == grpc.StatusCode.UNAVAILABLE
    assert probe.invoked == []


async def test_client_certificate_from_another_ca_is_refused(
    dev_pki: DevPki, foreign_pki: DevPki
) -> None:
    probe = Probe()
    # Same SPIFFE ID and file names, but signed by a CA the server does not trust.
    cert, key = foreign_pki.runtime("example")
    async with serving(dev_pki, probe) as port, mtls_channel(port, dev_pki.ca, cert, key) as ch:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await ch.unary_unary(f"/{SERVICE}/Whoami")(b"", timeout=CALL_TIMEOUT)
    assert err.value.code() == grpc.StatusCode.UNAVAILABLE
    assert probe.invoked == []


async def test_server_certificate_from_another_ca_is_refused_by_the_client(
    dev_pki: DevPki, foreign_pki: DevPki
) -> None:
    probe = Probe()
    cert, key = dev_pki.runtime("example")
    # The server presents the foreign host certificate but would accept our client.
    async with (
        serving(foreign_pki, probe, client_ca=dev_pki) as port,
        mtls_channel(port, dev_pki.ca, cert, key) as ch,
    ):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await ch.unary_unary(f"/{SERVICE}/Whoami")(b"", timeout=CALL_TIMEOUT)
    assert err.value.code() == grpc.StatusCode.UNAVAILABLE
    assert probe.invoked == []


async def test_tls12_client_is_refused_and_tls13_accepted(dev_pki: DevPki) -> None:
    probe = Probe()
    cert, key = dev_pki.runtime("example")
    path = f"/{SERVICE}/Whoami"
    async with serving(dev_pki, probe) as port:

        def call(version: ssl.TLSVersion) -> Any:
            return grpc_unary_call(
                "127.0.0.1",
                port,
                path,
                b"",
                ca_file=dev_pki.ca,
                cert_file=cert,
                key_file=key,
                tls_version=version,
            )

        try:
            old = await asyncio.to_thread(call, ssl.TLSVersion.TLSv1_2)
        except ssl.SSLError:
            old = None  # refused at the handshake: also acceptable
        if old is not None:
            assert old.tls_version == "TLSv1.2"
            assert old.grpc_status == grpc.StatusCode.UNAUTHENTICATED.value[0] == 16
            assert "TLS 1.3 is required" in old.grpc_message
            assert "TLSv1.2" in old.grpc_message
            assert old.messages == ()
        assert probe.invoked == []

        new = await asyncio.to_thread(call, ssl.TLSVersion.TLSv1_3)
    assert new.tls_version == "TLSv1.3"
    assert new.grpc_status == 0
    assert new.messages == (f"{RUNTIME_ID}|TLSv1.3".encode(),)
    assert probe.invoked == ["whoami"]


async def test_without_the_interceptor_grpc_would_accept_tls12(dev_pki: DevPki) -> None:
    """Control: shows the interceptor, not grpcio, is what refuses TLS 1.2 today."""
    probe = Probe()
    server = grpc.aio.server()
    server.add_generic_rpc_handlers((probe.handler(),))
    creds = server_credentials(
        load_pem(dev_pki.host_cert), load_pem(dev_pki.host_key), load_pem(dev_pki.ca)
    )
    port = server.add_secure_port("127.0.0.1:0", creds)
    await server.start()
    cert, key = dev_pki.runtime("example")
    try:
        reply = await asyncio.to_thread(
            grpc_unary_call,
            "127.0.0.1",
            port,
            f"/{SERVICE}/Whoami",
            b"",
            ca_file=dev_pki.ca,
            cert_file=cert,
            key_file=key,
            tls_version=ssl.TLSVersion.TLSv1_2,
        )
    except ssl.SSLError:
        pytest.skip("this grpcio/environment refuses TLS 1.2 at the handshake by itself")
    finally:
        await server.stop(None)
    assert reply.grpc_status == 0
    assert reply.messages == (f"{RUNTIME_ID}|TLSv1.2".encode(),)


@pytest.mark.parametrize(
    ("kind", "name", "request_value"),
    [
        ("unary_unary", "Whoami", b""),
        ("unary_unary", "SyncWhoami", b""),
        ("unary_stream", "Count", b"2"),
        ("unary_stream", "CountWriter", b"2"),
        ("unary_stream", "SyncCount", b"2"),
        ("stream_unary", "Join", None),
        ("stream_stream", "Echo", None),
    ],
)
async def test_plaintext_call_of_every_arity_is_refused(
    kind: str, name: str, request_value: bytes | None
) -> None:
    probe = Probe()

    async def requests() -> AsyncIterator[bytes]:
        yield b"x"

    async with (
        serving(None, probe) as port,
        grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel,
    ):
        call = getattr(channel, kind)(f"/{SERVICE}/{name}")
        arg = requests() if request_value is None else request_value
        with pytest.raises(grpc.aio.AioRpcError) as err:
            result = call(arg, timeout=CALL_TIMEOUT)
            if kind.endswith("_stream"):
                _ = [r async for r in result]
            else:
                await result
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert err.value.details() == "TLS 1.3 is required; this connection negotiated none (plaintext)"
    assert probe.invoked == []


async def test_interceptor_reuses_wrapped_handlers() -> None:
    interceptor = RequireTls13Interceptor()
    handler = grpc.unary_unary_rpc_method_handler(Probe().whoami)

    async def continuation(details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler:
        return handler

    async def missing(details: grpc.HandlerCallDetails) -> None:
        return None

    first = await interceptor.intercept_service(continuation, None)  # type: ignore[arg-type]
    second = await interceptor.intercept_service(continuation, None)  # type: ignore[arg-type]
    assert first is second
    assert first is not handler
    assert await interceptor.intercept_service(missing, None) is None  # type: ignore[arg-type]


class FakeContext:
    def __init__(self, auth: dict[str, list[bytes]]) -> None:
        self._auth = auth

    def auth_context(self) -> dict[str, list[bytes]]:
        return self._auth


def test_peer_identity_without_certificate_is_none() -> None:
    assert peer_identity(FakeContext({})) is None
    assert peer_identity(FakeContext({"ssl_tls_version": [b"TLSv1.3"]})) is None


def test_peer_identity_from_auth_context(dev_pki: DevPki) -> None:
    cert, _ = dev_pki.runtime("example")
    auth = {"x509_pem_cert": [cert.read_bytes()], "ssl_tls_version": [b"TLSv1.3"]}
    peer = peer_identity(FakeContext(auth))
    assert peer is not None
    assert peer.spiffe is not None and peer.spiffe.uri == RUNTIME_ID
    assert peer.spiffe.tenant == "default" and peer.spiffe.kind == "runtime"
    assert peer_identity(FakeContext(dict(auth))) is peer
    garbage = {"x509_pem_cert": [b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"]}
    assert peer_identity(FakeContext(garbage)) is None


def test_load_pem_errors_name_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.pem"
    with pytest.raises(FileNotFoundError, match=r"nope\.pem.*aesp certs init"):
        load_pem(missing)
    not_pem = tmp_path / "x.pem"
    not_pem.write_bytes(b"hello")
    with pytest.raises(ValueError, match="not PEM"):
        load_pem(not_pem)
    with pytest.raises(ValueError, match="directory"):
        load_pem(tmp_path)


def test_credentials_reject_mismatched_material(dev_pki: DevPki) -> None:
    ca = load_pem(dev_pki.ca)
    runtime_cert, runtime_key = (load_pem(p) for p in dev_pki.runtime("example"))
    with pytest.raises(ValueError, match="does not belong"):
        server_credentials(load_pem(dev_pki.host_cert), runtime_key, ca)
    with pytest.raises(ValueError, match="both cert_pem and key_pem"):
        channel_credentials(ca, runtime_cert, None)
    with pytest.raises(ValueError, match="PEM bytes"):
        channel_credentials(b"not pem")
    assert isinstance(channel_credentials(ca, runtime_cert, runtime_key), grpc.ChannelCredentials)
