"""Transport security and identity on the real Host (items 138, 142, 143, 182, 183; C-2, C-40).

The generic transport tests prove the TLS building blocks; these prove the Host is built from
them: both ports refuse TLS 1.2, missing and foreign client certificates, and the Runtime's
identity and tenant are the certificate's, whatever the announcement says.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest

from aesp.certs import init_dev_pki
from aesp.core.identity import certificate_identity_from_pem
from aesp.later import ToolRegistry, tool
from aesp.proto.altar.adm.v1 import adm_pb2
from aesp.proto.altar.aesp.v1 import enterprise_pb2, host_pb2_grpc
from aesp.proto.altar.grid.v1 import grid_pb2
from aesp.runtime import Runtime
from aesp.server.tls import channel_credentials
from aesp.testing.harness import HostHandle, local_host
from tests._tlsclient import grpc_unary_call

ECHO = {
    "name": "echo",
    "description": "Echo a text.",
    "parameters": {
        "type": "OBJECT",
        "properties": {"text": {"type": "STRING"}},
        "required": ["text"],
    },
}


@pytest.fixture
async def handle(tmp_path: Path) -> AsyncIterator[HostHandle]:
    async with local_host(tmp_path, [ECHO], runtimes=("example",), clients=("demo",)) as h:
        yield h


def _channel(target: str, ca: bytes, cert: bytes | None, key: bytes | None) -> grpc.aio.Channel:
    return grpc.aio.secure_channel(target, channel_credentials(ca, cert, key))


def _announce_bytes(**fields: object) -> bytes:
    return enterprise_pb2.EnterpriseRuntimeAnnouncement(
        runtime_id="r1", **fields
    ).SerializeToString()


@pytest.mark.parametrize("port_kind", ["runtime", "client"])
async def test_item_142_tls12_is_refused_on_both_ports(handle: HostHandle, port_kind: str) -> None:
    cert, key = (
        handle.pki.runtime("example") if port_kind == "runtime" else handle.pki.client("demo")
    )
    if port_kind == "runtime":
        port, path, body = (
            handle.running.runtime_port,
            "/altar.aesp.v1.GridRuntimeService/AnnounceRuntime",
            _announce_bytes(),
        )
    else:
        port, path, body = (
            handle.running.client_port,
            "/altar.aesp.v1.GridClientService/CreateSession",
            b"",
        )

    def call(version: ssl.TLSVersion):  # noqa: ANN202
        return grpc_unary_call(
            "127.0.0.1",
            port,
            path,
            body,
            ca_file=handle.pki.ca,
            cert_file=cert,
            key_file=key,
            tls_version=version,
        )

    try:
        old = await asyncio.to_thread(call, ssl.TLSVersion.TLSv1_2)
        assert old.grpc_status == 16 and "TLS 1.3 is required" in old.grpc_message
    except ssl.SSLError:
        pass  # refused at the handshake is a refusal too
    events_before = len(handle.running.host.audit.events())
    assert not handle.running.host.runtimes.connections()
    assert not handle.running.host.sessions.all()
    new = await asyncio.to_thread(call, ssl.TLSVersion.TLSv1_3)
    assert new.grpc_status == 0, new.grpc_message
    assert len(handle.running.host.audit.events()) > events_before


async def test_item_142_client_without_certificate_is_refused(handle: HostHandle) -> None:
    ca = handle.pki.ca.read_bytes()
    for target in (handle.client_target, handle.runtime_target):
        async with _channel(target, ca, None, None) as channel:
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await host_pb2_grpc.GridClientServiceStub(channel).CreateSession(
                    grid_pb2.CreateSession(), timeout=5
                )
            assert info.value.code() == grpc.StatusCode.UNAVAILABLE
    assert not handle.running.host.sessions.all()


async def test_item_142_certificate_from_another_ca_is_refused(
    handle: HostHandle, tmp_path: Path
) -> None:
    foreign = init_dev_pki(tmp_path / "foreign", runtimes=("example",), clients=("demo",))
    cert, key = foreign.runtime("example")
    async with _channel(
        handle.runtime_target, handle.pki.ca.read_bytes(), cert.read_bytes(), key.read_bytes()
    ) as ch:
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await host_pb2_grpc.GridRuntimeServiceStub(ch).AnnounceRuntime(
                enterprise_pb2.EnterpriseRuntimeAnnouncement(runtime_id="r1"), timeout=5
            )
        assert info.value.code() == grpc.StatusCode.UNAVAILABLE
    assert not handle.running.host.runtimes.connections()


async def _announce(handle: HostHandle, pems: tuple[bytes, bytes, bytes], **fields: object):  # noqa: ANN202
    ca, cert, key = pems
    async with _channel(handle.runtime_target, ca, cert, key) as ch:
        return await host_pb2_grpc.GridRuntimeServiceStub(ch).AnnounceRuntime(
            enterprise_pb2.EnterpriseRuntimeAnnouncement(**{"runtime_id": "r1", **fields}),
            timeout=5,
        )


async def test_item_143_identity_comes_from_the_certificate_not_the_announcement(
    handle: HostHandle,
) -> None:
    pems = handle.runtime_pem("example")
    response = await _announce(
        handle,
        pems,
        runtime_id="admin-runtime",
        language="python",
        metadata={"spiffe": "spiffe://aesp.local/tenant/other/runtime/admin"},
    )
    (conn,) = handle.running.host.runtimes.connections()
    assert conn.connection_id == response.connection_id
    assert conn.principal.principal_id == "spiffe://aesp.local/tenant/default/runtime/example"
    assert conn.tenant_id == "default"
    assert (
        conn.certificate.fingerprint_sha256
        == certificate_identity_from_pem(pems[1]).fingerprint_sha256
    )
    connect = [e for e in handle.running.host.audit.events() if e.event_type == "RUNTIME_CONNECT"]
    assert connect[-1].principal_id == conn.principal.principal_id


@pytest.mark.parametrize(
    ("claim", "code"),
    [
        (
            {
                "certificate_identity": enterprise_pb2.CertificateIdentity(
                    spiffe_id="spiffe://aesp.local/tenant/default/runtime/other"
                )
            },
            "CERTIFICATE_INVALID",
        ),
        (
            {
                "certificate_identity": enterprise_pb2.CertificateIdentity(
                    fingerprint_sha256="00" * 32
                )
            },
            "CERTIFICATE_INVALID",
        ),
        ({"tenant_id": "beta"}, "TENANT_ACCESS_DENIED"),
    ],
    ids=["spiffe-mismatch", "fingerprint-mismatch", "tenant-mismatch"],
)
async def test_item_143_a_lying_announcement_is_refused(
    handle: HostHandle, claim: dict[str, object], code: str
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await _announce(handle, handle.runtime_pem("example"), **claim)
    assert code in (info.value.details() or "")
    assert dict(info.value.trailing_metadata() or ())["aesp-error-code"] == code
    assert not handle.running.host.runtimes.connections()
    denied = [e for e in handle.running.host.audit.events() if e.event_type == "RUNTIME_CONNECT"]
    assert denied and denied[-1].outcome == "DENIED"


async def test_item_138_a_client_certificate_cannot_announce_a_runtime(handle: HostHandle) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await _announce(handle, handle.client_pem("demo"))
    assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "CERTIFICATE_INVALID" in (info.value.details() or "")


async def test_items_182_183_runtimes_serve_only_their_own_tenant(handle: HostHandle) -> None:
    received: list[str] = []
    registry = ToolRegistry()

    @tool(registry=registry)
    def echo(text: str) -> str:
        """Echo a text.

        Args:
            text: The text.
        """
        received.append(text)
        return text

    ca, cert, key = handle.issue("runtime", "beta-runtime", tenant="beta")
    beta = Runtime(target=handle.runtime_target, ca=ca, cert=cert, key=key, registry=registry)
    await beta.start()
    try:
        await beta.wait_ready(10)
        assert beta.fulfilled == ("echo",)  # tenant-wide fulfilment for tenant beta
        ca, cert, key = handle.client_pem("demo")
        async with _channel(handle.client_target, ca, cert, key) as ch:
            stub = host_pb2_grpc.GridClientServiceStub(ch)
            session = await stub.CreateSession(grid_pb2.CreateSession())
            response = await stub.CallTool(
                grid_pb2.ToolCall(
                    session_id=session.session_id,
                    call=adm_pb2.FunctionCall(call_id="c1", name="echo", args=b'{"text":"hi"}'),
                )
            )
            assert response.error.type == "UNSUPPORTED_TOOL"  # item 182
            assert received == []
        ca, cert, key = handle.issue("runtime", "beta-runtime-2", tenant="beta")
        async with _channel(handle.runtime_target, ca, cert, key) as ch:
            stub = host_pb2_grpc.GridRuntimeServiceStub(ch)
            await stub.AnnounceRuntime(
                enterprise_pb2.EnterpriseRuntimeAnnouncement(runtime_id="b2")
            )
            fulfil = await stub.FulfillTools(
                grid_pb2.FulfillTools(
                    session_id=session.session_id, tool_names=["echo"], runtime_id="b2"
                )
            )
        assert fulfil.status == grid_pb2.FulfillToolsResponse.FAILURE
        assert [e.type for e in fulfil.errors] == ["TENANT_ACCESS_DENIED"]  # item 183
    finally:
        await beta.stop()
