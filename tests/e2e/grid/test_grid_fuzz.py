"""Property test: whatever a client sends, the Host answers with a registered error or a valid
result, dispatches only valid calls, and never crashes.

The Host and a scripted runtime run on their own event loop in a background thread, so
Hypothesis can drive a plain synchronous gRPC client example after example against one Host.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from aesp.adm import canonical_json, parse_json
from aesp.certs import DevPki
from aesp.proto.altar.adm.v1 import adm_pb2
from aesp.proto.altar.aesp.v1 import host_pb2_grpc
from aesp.proto.altar.grid.v1 import grid_pb2
from aesp.server.tls import channel_credentials
from aesp.testing.harness import HostHandle
from tests.e2e.grid._grid import REGISTERED_CODES, SERVED, grid_host
from tests.e2e.scripted_runtime import Chunk, ScriptedRuntime, chunks

Auth = grid_pb2.AuthorizeToolCallResponse


class ThreadedHost:
    """A Host plus a scripted runtime (echoing args; `count` streams one chunk) in a thread."""

    def __init__(self, directory: Path, pki: DevPki) -> None:
        self._directory = directory
        self._pki = pki
        self._ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._stop: asyncio.Event | None = None
        self.handle: HostHandle | None = None
        self.runtime: ScriptedRuntime | None = None
        self.failure: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="grid-host", daemon=True)

    def __enter__(self) -> ThreadedHost:
        self._thread.start()
        assert self._ready.wait(10), "the Host did not start"
        if self.failure is not None:
            raise self.failure
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)

    def _run(self) -> None:
        self._loop.run_until_complete(self._main())
        self._loop.close()

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        try:
            async with grid_host(self._directory, self._pki) as handle:
                self.handle = handle
                self.runtime = ScriptedRuntime(handle.runtime_target, handle.runtime_pem("example"))
                self.runtime.on("count", chunks([Chunk(0, b"0", is_final=True)]))
                await self.runtime.start(SERVED)
                self._ready.set()
                await self._stop.wait()
                await self.runtime.close()
        except BaseException as exc:  # noqa: BLE001 - reported to the test thread
            self.failure = exc
            self._ready.set()

    def received(self) -> int:
        """How many calls the runtime has received."""
        assert self.runtime is not None
        return len(self.runtime.calls)


@pytest.fixture(scope="module")
def threaded(tmp_path_factory: pytest.TempPathFactory, grid_pki: DevPki) -> Iterator[ThreadedHost]:
    with ThreadedHost(tmp_path_factory.mktemp("fuzz-host"), grid_pki) as host:
        yield host


@pytest.fixture(scope="module")
def channel(threaded: ThreadedHost) -> Iterator[grpc.Channel]:
    assert threaded.handle is not None
    ca, cert, key = threaded.handle.client_pem("demo")
    ch = grpc.secure_channel(threaded.handle.client_target, channel_credentials(ca, cert, key))
    yield ch
    ch.close()


@pytest.fixture(scope="module")
def stub(channel: grpc.Channel) -> host_pb2_grpc.GridClientServiceStub:
    return host_pb2_grpc.GridClientServiceStub(channel)


# Strings protobuf can carry (no lone surrogates), including control and non-ASCII characters.
texts = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=160)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | texts,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
    max_leaves=12,
)
args_bytes = st.one_of(
    st.binary(max_size=200),
    texts.map(str.encode),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.fixed_dictionaries({"a": st.integers(), "b": st.integers()}).map(
        lambda v: json.dumps(v).encode()
    ),
    st.fixed_dictionaries({"text": texts}).map(lambda v: json.dumps(v).encode()),
    st.fixed_dictionaries({"n": st.integers(-5, 5)}).map(lambda v: json.dumps(v).encode()),
)
names = st.one_of(st.sampled_from(["add", "echo", "count", "orphan", "nope", ""]), texts)
# Well-typed calls of the served tools, so that valid results are exercised as well as refusals.
valid_calls = st.one_of(
    st.tuples(st.just("add"), st.fixed_dictionaries({"a": st.integers(), "b": st.integers()})),
    st.tuples(st.just("echo"), st.fixed_dictionaries({"text": texts})),
    st.tuples(st.just("count"), st.fixed_dictionaries({"n": st.integers(0, 5)})),
).map(lambda pair: (pair[0], json.dumps(pair[1]).encode()))
name_and_args = st.one_of(valid_calls, st.tuples(names, args_bytes))
call_ids = st.one_of(st.uuids().map(str), texts)
session_choice = st.one_of(
    st.just("<live>"), st.just("<live>"), st.sampled_from(["", "sess-unknown"]), texts
)


def _valid_json_object(raw: bytes) -> bool:
    try:
        return isinstance(parse_json(raw), dict)
    except Exception:  # noqa: BLE001 - anything the strict parser refuses
        return False


@settings(
    max_examples=250,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    rpc=st.sampled_from(["CallTool", "CallToolStream", "AuthorizeToolCall"]),
    session=session_choice,
    name_args=name_and_args,
    call_id=call_ids,
    correlation_id=texts,
    with_call=st.booleans() | st.just(True),
)
def test_random_call_input_gets_registered_error_or_valid_result(
    threaded: ThreadedHost,
    stub: host_pb2_grpc.GridClientServiceStub,
    rpc: str,
    session: str,
    name_args: tuple[str, bytes],
    call_id: str,
    correlation_id: str,
    with_call: bool,
) -> None:
    name, args = name_args
    if session == "<live>":
        session = stub.CreateSession(grid_pb2.CreateSession(ttl_seconds=60), timeout=5).session_id
    call = adm_pb2.FunctionCall(call_id=call_id, name=name, args=args)
    before = threaded.received()
    if rpc == "CallTool":
        request = grid_pb2.ToolCall(session_id=session, correlation_id=correlation_id)
        if with_call:
            request.call.CopyFrom(call)
        response = stub.CallTool(request, timeout=10)
        event(f"CallTool: {response.error.type or 'result'}")
        if response.WhichOneof("outcome") == "result":
            assert name in ("add", "echo") and _valid_json_object(args)
            assert threaded.received() == before + 1
            assert response.result.result.status == adm_pb2.SUCCESS
            assert response.result.result.content == canonical_json(parse_json(args))
        else:
            assert response.error.type in REGISTERED_CODES, response.error
            assert response.error.message
            assert threaded.received() == before
    elif rpc == "CallToolStream":
        request = grid_pb2.ToolCall(session_id=session, correlation_id=correlation_id)
        if with_call:
            request.call.CopyFrom(call)
        got = list(stub.CallToolStream(request, timeout=10))
        event(f"CallToolStream: {got[-1].enhanced_error.type or 'chunks'}")
        assert got and got[-1].is_final
        if got[-1].HasField("enhanced_error"):
            assert got[-1].enhanced_error.type in REGISTERED_CODES
            assert threaded.received() == before
        else:
            assert name == "count" and _valid_json_object(args)
            assert threaded.received() == before + 1
    else:
        request = grid_pb2.AuthorizeToolCallRequest(
            session_id=session, correlation_id=correlation_id
        )
        if with_call:
            request.call.CopyFrom(call)
        response = stub.AuthorizeToolCall(request, timeout=10)
        event(f"AuthorizeToolCall: {response.error.type or 'APPROVED'}")
        if response.status == Auth.APPROVED:
            assert response.invocation_id and response.authorization_ttl_ms > 0
            assert _valid_json_object(args)
        else:
            assert response.status == Auth.DENIED
            assert response.error.type in REGISTERED_CODES
        assert threaded.received() == before


CLIENT_METHODS = [
    "AuthorizeToolCall",
    "CallTool",
    "CreateSession",
    "DestroySession",
    "LogToolResult",
]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(method=st.sampled_from(CLIENT_METHODS), payload=st.binary(max_size=300))
def test_random_bytes_as_request_never_crash_a_handler(
    threaded: ThreadedHost, channel: grpc.Channel, method: str, payload: bytes
) -> None:
    before = threaded.received()
    raw = channel.unary_unary(f"/altar.aesp.v1.GridClientService/{method}")
    try:
        raw(payload, timeout=10)
        event(f"{method}: decoded")
    except grpc.RpcError as exc:
        event(f"{method}: {exc.code().name}")
        # Only the transport may refuse: bytes that are not a protobuf message of that type.
        # A handler exception would also be UNKNOWN, but named after its own type.
        undecodable = exc.code() == grpc.StatusCode.UNKNOWN and "DecodeError" in (
            exc.details() or ""
        )
        assert undecodable or exc.code() == grpc.StatusCode.INVALID_ARGUMENT, exc
    assert threaded.received() == before


def test_host_still_serves_after_fuzzing(
    threaded: ThreadedHost, stub: host_pb2_grpc.GridClientServiceStub
) -> None:
    session = stub.CreateSession(grid_pb2.CreateSession(ttl_seconds=60), timeout=5).session_id
    response = stub.CallTool(
        grid_pb2.ToolCall(
            session_id=session,
            call=adm_pb2.FunctionCall(call_id="final", name="add", args=b'{"a":1,"b":2}'),
        ),
        timeout=5,
    )
    assert response.result.result.content == b'{"a":1,"b":2}'
