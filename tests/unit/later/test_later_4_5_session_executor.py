"""SPEC §4.5 checklist items 55-59: session registries and the executor."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any, Literal, cast

import pytest

from aesp.adm import MISSING, ErrorObject, FunctionCall, Profile, ResultStatus, ToolResult
from aesp.later import (
    DATA_PROCESSING_ERROR,
    INVALID_SESSION,
    PARAMETER_VALIDATION_FAILED,
    TOOL_EXECUTION_FAILED,
    UNSUPPORTED_TOOL,
    Executor,
    SessionRegistry,
    ToolError,
    ToolRegistry,
    tool,
)


class Calls:
    """Records tool invocations (a real collaborator, not a mock of the executor)."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, dict[str, Any]]] = []


@pytest.fixture
def calls() -> Calls:
    return Calls()


@pytest.fixture
def tools(registry: ToolRegistry, calls: Calls) -> ToolRegistry:
    @tool(registry=registry)
    def greet(name: str, style: Literal["short", "long"] = "short", times: int = 1) -> str:
        """Greet someone.

        Args:
            name: Who to greet.
        """
        calls.seen.append(("greet", {"name": name, "style": style, "times": times}))
        return ("Hi " if style == "short" else "Good day, ") + name

    @tool(registry=registry)
    def secret() -> str:
        """Not exposed to most sessions."""
        calls.seen.append(("secret", {}))
        return "s3cr3t"

    @tool(registry=registry)
    def explode(path: str = "/etc/app/db.ini") -> None:
        """Always fails."""
        calls.seen.append(("explode", {}))
        raise RuntimeError(
            f"cannot open {path}\nTraceback (most recent call last): internal details"
        )

    @tool(registry=registry)
    def void() -> None:
        """Returns nothing."""

    @tool(registry=registry)
    def not_json() -> object:
        """Returns a set."""
        return {"ids": {1, 2}}

    @tool(registry=registry)
    def nan() -> float:
        """Returns NaN."""
        return float("nan")

    @tool(registry=registry)
    def refuse(item: str) -> str:
        """Raises a controlled error."""
        raise ToolError(f"no item named {item}", type="RESOURCE_NOT_FOUND")

    @tool(registry=registry)
    async def async_add(a: int, b: int) -> int:
        """Add asynchronously."""
        await asyncio.sleep(0)
        return a + b

    @tool(registry=registry)
    async def async_boom() -> int:
        """Fails asynchronously."""
        raise ValueError("async failure")

    @tool(registry=registry)
    def count(n: int) -> Iterator[int]:
        """Yield chunks."""
        yield from range(n)

    @tool(registry=registry)
    async def acount(n: int) -> AsyncIterator[dict[str, int]]:
        """Yield chunks asynchronously."""
        for i in range(n):
            yield {"i": i}

    @tool(registry=registry)
    def where() -> str:
        """Report the thread name."""
        return threading.current_thread().name

    return registry


def fc(name: str, args: dict[str, Any] | None = None, call_id: str = "call-1") -> FunctionCall:
    return FunctionCall(call_id=call_id, name=name, args=args or {})


def test_4_5_55_session_stores_names_only(tools: ToolRegistry) -> None:
    session = SessionRegistry(tools, ["greet", "void"])
    assert session.names() == frozenset({"greet", "void"})
    assert "greet" in session and "secret" not in session
    assert session.resolve("greet") is tools.get("greet")
    assert session.resolve("secret") is None
    assert all(
        isinstance(value, frozenset | str) for value in vars(session).values() if value is not tools
    )


def test_4_5_55_session_is_gone_after_close(tools: ToolRegistry) -> None:
    with SessionRegistry(tools, ["greet"], session_id="s-1") as session:
        assert not session.closed
        assert session.session_id == "s-1"
    assert session.closed
    assert session.names() == frozenset()
    assert "greet" not in session
    assert session.resolve("greet") is None
    session.close()  # idempotent
    assert tools.get("greet") is not None  # the global registry is untouched


def test_4_5_55_session_rejects_unknown_tool_names(tools: ToolRegistry) -> None:
    with pytest.raises(ValueError, match="tools not in the global registry: 'nope'"):
        SessionRegistry(tools, ["greet", "nope"])
    with pytest.raises(TypeError, match="not a single string"):
        SessionRegistry(tools, "greet")


def test_4_5_56_tool_not_in_session_returns_error_without_invocation(
    tools: ToolRegistry, calls: Calls
) -> None:
    session = SessionRegistry(tools, ["greet"])
    result = Executor(tools).execute(session, fc("secret"))
    assert result.status is ResultStatus.ERROR
    assert result.error == ErrorObject(
        "tool 'secret' is not available in this session", UNSUPPORTED_TOOL
    )
    assert (result.call_id, result.name) == ("call-1", "secret")
    assert calls.seen == []


def test_4_5_56_closed_session_returns_error(tools: ToolRegistry, calls: Calls) -> None:
    session = SessionRegistry(tools, ["greet"])
    session.close()
    result = Executor(tools).execute(session, fc("greet", {"name": "a"}))
    assert result.error is not None and result.error.type == INVALID_SESSION
    assert calls.seen == []


def test_4_5_56_unregistered_tool_returns_error(tools: ToolRegistry) -> None:
    result = Executor(tools).execute(None, fc("missing"))
    assert result.error == ErrorObject("no tool named 'missing'", UNSUPPORTED_TOOL)


@pytest.mark.parametrize(
    ("args", "match"),
    [
        pytest.param({}, "args.name: required property is missing", id="missing-required"),
        pytest.param({"name": 5}, "args.name: expected STRING, got integer", id="wrong-type"),
        pytest.param(
            {"name": "a", "style": "LONG"}, "args.style: 'LONG' is not one of", id="outside-enum"
        ),
        pytest.param(
            {"name": "a", "times": True},
            "args.times: expected INTEGER, got boolean",
            id="bool-for-int",
        ),
        pytest.param(
            {"name": "a", "extra": 1}, "args.extra: unknown property", id="undeclared-root-key"
        ),
    ],
)
@pytest.mark.parametrize("profile", list(Profile), ids=lambda p: p.name)
def test_4_5_57_invalid_args_return_error_before_invocation(
    tools: ToolRegistry, calls: Calls, args: dict[str, Any], match: str, profile: Profile
) -> None:
    result = Executor(tools, profile=profile).execute(None, fc("greet", args))
    assert result.status is ResultStatus.ERROR
    assert result.error is not None
    assert result.error.type == PARAMETER_VALIDATION_FAILED
    assert match in result.error.message
    assert calls.seen == []


@pytest.mark.parametrize(
    ("name", "args", "content"),
    [
        pytest.param("greet", {"name": "Ada"}, "Hi Ada", id="defaults"),
        pytest.param(
            "greet",
            {"name": "Ada", "style": "long", "times": 2.0},
            "Good day, Ada",
            id="integral-float",
        ),
        pytest.param("void", {}, None, id="null-content"),
        pytest.param("count", {"n": 3}, [0, 1, 2], id="generator-chunks"),
        pytest.param("acount", {"n": 2}, [{"i": 0}, {"i": 1}], id="async-generator-chunks"),
        pytest.param("async_add", {"a": 2, "b": 3}, 5, id="async-tool-from-sync"),
    ],
)
def test_4_5_58_success_returns_content_and_call_ids(
    tools: ToolRegistry, name: str, args: Any, content: Any
) -> None:
    session = SessionRegistry(tools, tools.names())
    result = Executor(tools).execute(session, fc(name, args, call_id="abc-123"))
    assert result == ToolResult.success("abc-123", name, content)
    result.check_matches(fc(name, args, call_id="abc-123"))


def test_4_5_58_null_content_is_present_not_missing(tools: ToolRegistry) -> None:
    result = Executor(tools).execute(None, fc("void"))
    assert result.content is None
    assert result.to_json() == {
        "call_id": "call-1",
        "name": "void",
        "status": "SUCCESS",
        "content": None,
    }


def test_4_5_59_exception_becomes_error_without_stack_trace(tools: ToolRegistry) -> None:
    result = Executor(tools).execute(None, fc("explode"))
    assert result.status is ResultStatus.ERROR
    assert result.content is MISSING
    assert result.error is not None
    assert result.error.type == TOOL_EXECUTION_FAILED
    assert (
        result.error.message
        == "tool 'explode' failed with RuntimeError: cannot open /etc/app/db.ini"
    )
    assert "Traceback" not in result.error.message
    assert len(result.error.message) <= 500


def test_4_5_59_tool_error_controls_message_and_type(tools: ToolRegistry) -> None:
    result = Executor(tools).execute(None, fc("refuse", {"item": "x"}))
    assert result.error == ErrorObject("no item named x", "RESOURCE_NOT_FOUND")


@pytest.mark.parametrize("name", ["not_json", "nan"])
def test_4_5_59_non_json_return_value_is_data_processing_error(
    tools: ToolRegistry, name: str
) -> None:
    result = Executor(tools).execute(None, fc(name))
    assert result.error is not None
    assert result.error.type == DATA_PROCESSING_ERROR
    assert "not JSON-serialisable: content" in result.error.message


def test_4_5_59_async_exception_becomes_error(tools: ToolRegistry) -> None:
    result = Executor(tools).execute(None, fc("async_boom"))
    assert result.error == ErrorObject(
        "tool 'async_boom' failed with ValueError: async failure", TOOL_EXECUTION_FAILED
    )


def test_4_5_59_executor_never_raises_for_tool_failures(tools: ToolRegistry) -> None:
    executor = Executor(tools)
    for name in tools.names():
        assert isinstance(executor.execute(None, fc(name, {"bogus": object()})), ToolResult)


def test_4_5_59_non_call_is_a_programming_error(tools: ToolRegistry) -> None:
    with pytest.raises(TypeError, match="needs a FunctionCall"):
        Executor(tools).execute(None, cast(Any, {"name": "greet"}))


async def test_4_5_58_execute_async_awaits_async_tools(tools: ToolRegistry) -> None:
    session = SessionRegistry(tools, ["async_add", "acount", "count", "greet"])
    executor = Executor(tools)
    assert (await executor.execute_async(session, fc("async_add", {"a": 1, "b": 2}))).content == 3
    assert (await executor.execute_async(session, fc("acount", {"n": 1}))).content == [{"i": 0}]
    assert (await executor.execute_async(session, fc("count", {"n": 2}))).content == [0, 1]
    assert (await executor.execute_async(session, fc("greet", {"name": "B"}))).content == "Hi B"


async def test_4_5_58_execute_async_runs_sync_tools_in_a_thread(tools: ToolRegistry) -> None:
    result = await Executor(tools).execute_async(None, fc("where"))
    assert result.content != threading.current_thread().name


async def test_4_5_56_to_59_execute_async_error_paths(tools: ToolRegistry, calls: Calls) -> None:
    executor = Executor(tools)
    session = SessionRegistry(tools, ["greet", "explode", "async_boom"])
    outcomes = [
        await executor.execute_async(session, fc("secret")),
        await executor.execute_async(session, fc("greet", {"name": 1})),
        await executor.execute_async(session, fc("explode")),
        await executor.execute_async(session, fc("async_boom")),
    ]
    types = [r.error.type if r.error else None for r in outcomes]
    assert types == [
        UNSUPPORTED_TOOL,
        PARAMETER_VALIDATION_FAILED,
        TOOL_EXECUTION_FAILED,
        TOOL_EXECUTION_FAILED,
    ]
    assert calls.seen == [("explode", {})]


async def test_sync_execute_of_async_tool_inside_running_loop(tools: ToolRegistry) -> None:
    # A sync caller inside async code: the executor must not try to re-enter the running loop.
    result = Executor(tools).execute(None, fc("async_add", {"a": 4, "b": 5}))
    assert result.content == 9


async def test_execute_async_propagates_cancellation(registry: ToolRegistry) -> None:
    started = asyncio.Event()

    @tool(registry=registry)
    async def slow() -> None:
        """Sleeps."""
        started.set()
        await asyncio.sleep(30)

    task = asyncio.create_task(Executor(registry).execute_async(None, fc("slow")))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
