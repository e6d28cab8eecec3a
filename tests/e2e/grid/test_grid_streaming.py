"""Level-2 streaming (checklist 99-103; C-12), with scripted and SDK runtimes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from aesp.later import ToolRegistry, tool
from aesp.runtime import Runtime
from aesp.testing.harness import HostHandle
from tests.e2e.grid._grid import GridClient, assert_error, events, eventually, fc
from tests.e2e.scripted_runtime import Chunk, ScriptedRuntime, chunks


def _sdk_registry() -> ToolRegistry:
    registry = ToolRegistry()

    @tool(registry=registry)
    def count(n: int) -> Iterator[int]:
        """Count up to n.

        Args:
            n: How many.
        """
        yield from range(n)

    return registry


# ----------------------------------------------------------------------------- item 99


async def test_item_099_chunks_carry_invocation_id_and_consecutive_chunk_ids(
    host: HostHandle, client: GridClient, runtime: ScriptedRuntime
) -> None:
    runtime.on(
        "count",
        chunks([Chunk(0, b"0"), Chunk(1, b"1"), Chunk(2, b"2"), Chunk(3, b"3", is_final=True)]),
    )
    session = await client.session()
    got = await client.stream(session, fc("count", {"n": 4}), correlation_id="wf-99")
    [received] = runtime.calls
    assert [c.chunk_id for c in got] == [0, 1, 2, 3]
    assert [c.payload for c in got] == [b"0", b"1", b"2", b"3"]
    assert [c.is_final for c in got] == [False, False, False, True]
    assert {c.invocation_id for c in got} == {received.invocation_id}
    assert {c.correlation_id for c in got} == {"wf-99"}
    [done] = events(host, "TOOL_INVOCATION_COMPLETE", correlation_id="wf-99")
    assert done.outcome == "SUCCESS" and done.metadata["chunks"] == "4"


async def test_item_099_sdk_runtime_streams_a_generator_tool(
    host: HostHandle, client: GridClient
) -> None:
    ca, cert, key = host.runtime_pem("example")
    rt = Runtime(target=host.runtime_target, ca=ca, cert=cert, key=key, registry=_sdk_registry())
    await rt.start()
    try:
        await rt.wait_ready(5)
        session = await client.session()
        got = await client.stream(session, fc("count", {"n": 5}))
        assert [c.chunk_id for c in got] == [0, 1, 2, 3, 4]
        assert [c.payload for c in got] == [b"0", b"1", b"2", b"3", b"4"]
        assert got[-1].is_final and not any(c.is_final for c in got[:-1])
        assert len({c.invocation_id for c in got}) == 1
    finally:
        await rt.stop()


# ----------------------------------------------------------------------------- item 100


SEQUENCE_ERRORS = {
    "gap": [Chunk(0), Chunk(2), Chunk(3, is_final=True)],
    "duplicate": [Chunk(0), Chunk(0), Chunk(1, is_final=True)],
    "backwards": [Chunk(0), Chunk(1), Chunk(0, is_final=True)],
    "starts_at_one": [Chunk(1), Chunk(2, is_final=True)],
}


@pytest.mark.parametrize("kind", sorted(SEQUENCE_ERRORS))
async def test_item_100_out_of_order_or_duplicate_chunk_ends_stream_protocol_violation(
    host: HostHandle, client: GridClient, runtime: ScriptedRuntime, kind: str
) -> None:
    runtime.on("count", chunks(SEQUENCE_ERRORS[kind]))
    session = await client.session()
    got = await client.stream(session, fc("count", {"n": 3}), correlation_id="wf-100")
    *good, last = got
    assert [c.chunk_id for c in good] == list(range(len(good)))
    assert last.is_final
    assert_error(last.enhanced_error, "PROTOCOL_VIOLATION", retry=False, correlation_id="wf-100")
    assert last.error.type == "PROTOCOL_VIOLATION"
    [received] = runtime.calls
    await runtime.wait_cancel(received.invocation_id)
    assert await eventually(lambda: events(host, "SECURITY_VIOLATION"))
    # The Host keeps serving the runtime.
    runtime.on("count", chunks([Chunk(0, b"9", is_final=True)]))
    [ok] = await client.stream(session, fc("count", {"n": 1}))
    assert ok.payload == b"9" and not ok.HasField("enhanced_error")


# ----------------------------------------------------------------------------- item 101


async def test_item_101_stream_ends_at_final_chunk_and_later_chunks_dropped(
    host: HostHandle, client: GridClient, runtime: ScriptedRuntime
) -> None:
    runtime.on(
        "count",
        chunks(
            [Chunk(0), Chunk(1, is_final=True), Chunk(2, delay_s=0.05), Chunk(3, is_final=True)]
        ),
    )
    session = await client.session()
    got = await client.stream(session, fc("count", {"n": 2}))
    assert [(c.chunk_id, c.is_final) for c in got] == [(0, False), (1, True)]
    violations = await eventually(
        lambda: len(events(host, "SECURITY_VIOLATION")) >= 2 and events(host, "SECURITY_VIOLATION")
    )
    assert {v.metadata["code"] for v in violations} == {"PROTOCOL_VIOLATION"}


# ----------------------------------------------------------------------------- item 102


async def test_item_102_chunk_with_error_is_forwarded_logged_and_ends_stream(
    host: HostHandle, client: GridClient, runtime: ScriptedRuntime
) -> None:
    runtime.on(
        "count",
        chunks([Chunk(0), Chunk(1, b"", error="DEPENDENCY_UNAVAILABLE"), Chunk(2, is_final=True)]),
    )
    session = await client.session()
    got = await client.stream(session, fc("count", {"n": 3}), correlation_id="wf-102")
    assert [c.chunk_id for c in got] == [0, 1]
    last = got[-1]
    assert last.is_final
    assert last.enhanced_error.type == "DEPENDENCY_UNAVAILABLE"
    assert last.enhanced_error.component == "runtime"
    assert last.enhanced_error.correlation_id == "wf-102"
    assert last.error.type == "DEPENDENCY_UNAVAILABLE"
    [done] = events(host, "TOOL_INVOCATION_COMPLETE", correlation_id="wf-102")
    assert done.outcome == "ERROR"


# ----------------------------------------------------------------------------- item 103


async def test_item_103_stream_call_of_non_streaming_contract_feature_unavailable(
    client: GridClient, runtime: ScriptedRuntime
) -> None:
    session = await client.session()
    [refusal] = await client.stream(session, fc("add", {"a": 1, "b": 2}), correlation_id="wf-103")
    assert refusal.is_final
    assert_error(
        refusal.enhanced_error, "FEATURE_UNAVAILABLE", retry=False, correlation_id="wf-103"
    )
    assert refusal.error.type == "FEATURE_UNAVAILABLE"
    assert runtime.calls == []


async def test_item_103_sync_call_of_streaming_contract_feature_unavailable(
    client: GridClient, runtime: ScriptedRuntime
) -> None:
    session = await client.session()
    refused = await client.call(session, fc("count", {"n": 2}))
    assert_error(
        refused.error, "FEATURE_UNAVAILABLE", retry=False, correlation_id=client.last_correlation_id
    )
    assert runtime.calls == []


async def test_item_103_runtime_without_streaming_capability_feature_unavailable(
    host: HostHandle, client: GridClient
) -> None:
    async with ScriptedRuntime(
        host.runtime_target, host.runtime_pem("example"), capabilities=("heartbeat",)
    ) as rt:
        announced = await rt.start(["count"])
        assert "streaming" not in announced.announced.enabled_features
        session = await client.session()
        [refusal] = await client.stream(session, fc("count", {"n": 2}))
        assert_error(
            refusal.enhanced_error,
            "FEATURE_UNAVAILABLE",
            retry=False,
            correlation_id=client.last_correlation_id,
        )
        assert rt.calls == []
