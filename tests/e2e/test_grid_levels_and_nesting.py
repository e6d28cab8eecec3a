"""Capability negotiation (items 76, 77, 110) and Runtime-as-Client nested calls (item 97)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import grpc

from aesp.client import AsyncClient
from aesp.later import ToolRegistry, tool
from aesp.proto.altar.adm.v1 import adm_pb2
from aesp.proto.altar.aesp.v1 import enterprise_pb2, host_pb2, host_pb2_grpc
from aesp.proto.altar.grid.v1 import grid_pb2
from aesp.runtime import Runtime
from aesp.server.tls import channel_credentials
from aesp.testing.harness import local_host

COUNT = {
    "name": "count",
    "description": "Count up to n.",
    "supports_streaming": True,
    "parameters": {"type": "OBJECT", "properties": {"n": {"type": "INTEGER"}}, "required": ["n"]},
}
ADD = {
    "name": "add",
    "description": "Add two integers.",
    "parameters": {
        "type": "OBJECT",
        "properties": {"a": {"type": "INTEGER"}, "b": {"type": "INTEGER"}},
        "required": ["a", "b"],
    },
}
TWICE = {
    "name": "add_twice",
    "description": "Add a+b twice, through the Host.",
    "parameters": {
        "type": "OBJECT",
        "properties": {"a": {"type": "INTEGER"}, "b": {"type": "INTEGER"}},
        "required": ["a", "b"],
    },
}


async def test_items_76_77_110_level_1_runtime_gets_no_streaming(tmp_path: Path) -> None:
    async with local_host(tmp_path, [COUNT]) as handle:
        ca, cert, key = handle.runtime_pem()
        async with grpc.aio.secure_channel(
            handle.runtime_target, channel_credentials(ca, cert, key)
        ) as ch:
            stub = host_pb2_grpc.GridRuntimeServiceStub(ch)
            l1 = await stub.AnnounceRuntime(
                enterprise_pb2.EnterpriseRuntimeAnnouncement(
                    runtime_id="old", capabilities=["streaming", "heartbeat"]
                )
            )  # no level: LEVEL_1_CORE
            assert l1.negotiated_level == grid_pb2.LEVEL_1_CORE  # items 76, 77
            assert "streaming" not in l1.enabled_features  # item 110
            assert "heartbeat" in l1.enabled_features
            l3 = await stub.AnnounceRuntime(
                enterprise_pb2.EnterpriseRuntimeAnnouncement(
                    runtime_id="new",
                    capabilities=["streaming"],
                    compliance_level=grid_pb2.LEVEL_3_ENTERPRISE,
                )
            )
            assert l3.negotiated_level == grid_pb2.LEVEL_3_ENTERPRISE  # min(Host L3, Runtime L3)
            assert list(l3.enabled_features) == ["streaming"]
            fulfil = await stub.FulfillTools(
                grid_pb2.FulfillTools(tool_names=["count"], runtime_id="old")
            )
            assert list(fulfil.fulfilled_tools) == ["count"]
            outbox: list[host_pb2.RuntimeMessage] = [
                host_pb2.RuntimeMessage(
                    open=host_pb2.ConnectOpen(connection_id=l1.connection_id, runtime_id="old")
                )
            ]

            done = asyncio.Event()

            async def requests():  # noqa: ANN202
                for message in outbox:
                    yield message
                await done.wait()  # keep the work stream open

            stream = stub.Connect(requests())
            await stream.read()  # the Host accepted the stream
            ca, cert, key = handle.client_pem()
            async with AsyncClient(handle.client_target, ca=ca, cert=cert, key=key) as client:
                session = await client.create_session()
                ch2 = grpc.aio.secure_channel(
                    handle.client_target, channel_credentials(ca, cert, key)
                )
                chunks = [
                    c
                    async for c in host_pb2_grpc.GridClientServiceStub(ch2).CallToolStream(
                        grid_pb2.ToolCall(
                            session_id=session.session_id,
                            call=adm_pb2.FunctionCall(call_id="c1", name="count", args=b'{"n":2}'),
                        )
                    )
                ]
                await ch2.close()
            assert [c.enhanced_error.type for c in chunks] == ["FEATURE_UNAVAILABLE"]
            done.set()
            stream.cancel()
        connects = [
            e for e in handle.running.host.audit.events() if e.event_type == "RUNTIME_CONNECT"
        ]
        assert "degraded" in connects[0].metadata  # item 110: the degradation is logged


async def test_item_97_runtime_as_client_nested_call_is_governed(tmp_path: Path) -> None:
    async with local_host(tmp_path, [ADD, TWICE]) as handle:
        ca, cert, key = handle.runtime_pem()
        registry = ToolRegistry()
        seen: list[str] = []

        @tool(registry=registry)
        def add(a: int, b: int) -> int:
            """Add two integers.

            Args:
                a: First.
                b: Second.
            """
            seen.append("add")
            return a + b

        @tool(registry=registry)
        async def add_twice(a: int, b: int) -> int:
            """Add a+b twice, through the Host.

            Args:
                a: First.
                b: Second.
            """
            # The Runtime is a client here, with its own certificate: same checks as anyone.
            async with AsyncClient(handle.client_target, ca=ca, cert=cert, key=key) as nested:
                session = await nested.create_session()
                first = await nested.call(session.session_id, "add", {"a": a, "b": b})
                refused = None
                try:
                    await nested.call(session.session_id, "add", {"a": "not a number", "b": b})
                except Exception as exc:  # noqa: BLE001 - the refusal is what we check
                    refused = exc
                assert refused is not None and "SCHEMA_VIOLATION" in str(refused)
                await nested.destroy_session(session.session_id)
            return int(first.content) * 2

        runtime = Runtime(
            target=handle.runtime_target, ca=ca, cert=cert, key=key, registry=registry
        )
        await runtime.start()
        try:
            await runtime.wait_ready(10)
            ca_c, cert_c, key_c = handle.client_pem()
            async with AsyncClient(handle.client_target, ca=ca_c, cert=cert_c, key=key_c) as client:
                session = await client.create_session()
                result = await client.call(session.session_id, "add_twice", {"a": 2, "b": 3})
            assert result.content == 10
            assert seen == ["add"]  # the refused nested call never reached the runtime
            starts = [
                e
                for e in handle.running.host.audit.events()
                if e.event_type == "TOOL_INVOCATION_START"
            ]
            principals = {e.resource: e.principal_id for e in starts}
            assert principals["add"].endswith("/runtime/example")  # audited as the runtime's call
            assert principals["add_twice"].endswith("/client/demo")
        finally:
            await runtime.stop()
