"""The LATER executor (LATER §2.3, checklist 56-59): FunctionCall in, ToolResult out.

Steps for one call, in this order:

1. Session lookup: a tool that the session does not expose gives ERROR ``UNSUPPORTED_TOOL``
   (a closed session gives ``INVALID_SESSION``); the function is not invoked (checklist 56).
2. Fetch the declaration from the global registry and validate ``args`` against it before
   invocation: ERROR ``PARAMETER_VALIDATION_FAILED`` naming the path (checklist 57, C-14).
3. Invoke the function with the args as keyword arguments.
4. Wrap: the return value becomes SUCCESS ``content`` (checklist 58) if it is JSON-serialisable,
   else ERROR ``DATA_PROCESSING_ERROR``; an exception becomes ERROR ``TOOL_EXECUTION_FAILED``
   whose message names the exception but carries no stack trace (checklist 45, 59).

The executor never raises for anything a tool or its input does; only ``BaseException``\\ s
that are not ``Exception`` (cancellation, KeyboardInterrupt) pass through, as they must.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, Final

from ..adm import AdmError, FunctionCall, Profile, ToolResult, validate_json_value
from .registry import RegisteredTool, SessionRegistry, ToolRegistry, default_registry

__all__ = [
    "DATA_PROCESSING_ERROR",
    "INVALID_SESSION",
    "PARAMETER_VALIDATION_FAILED",
    "TOOL_EXECUTION_FAILED",
    "UNSUPPORTED_TOOL",
    "Executor",
    "ToolError",
]

PARAMETER_VALIDATION_FAILED: Final = "PARAMETER_VALIDATION_FAILED"
TOOL_EXECUTION_FAILED: Final = "TOOL_EXECUTION_FAILED"
DATA_PROCESSING_ERROR: Final = "DATA_PROCESSING_ERROR"
UNSUPPORTED_TOOL: Final = "UNSUPPORTED_TOOL"  # SPEC C-14 canonical code (alias TOOL_NOT_FOUND)
INVALID_SESSION: Final = "INVALID_SESSION"
MAX_DETAIL_LENGTH: Final = 300  # keeps exception text in ErrorObject.message well under 500

_LOG = logging.getLogger(__name__)


class ToolError(Exception):
    """Raise from a tool to choose the ERROR result's message and type exactly.

    Attributes:
        message: Model-safe explanation, used verbatim as ``ErrorObject.message``.
        type: UPPER_SNAKE_CASE code for ``ErrorObject.type``.
    """

    def __init__(self, message: str, *, type: str = TOOL_EXECUTION_FAILED) -> None:  # noqa: A002
        """Create the error.

        Args:
            message: Model-safe explanation.
            type: Error code, e.g. ``RESOURCE_NOT_FOUND``.
        """
        super().__init__(message)
        self.message = message
        self.type = type


def _failure_message(name: str, exc: Exception) -> tuple[str, str]:
    """Message and type for a tool exception: its class and first line, never a traceback."""
    if isinstance(exc, ToolError) and exc.message.strip():
        return exc.message, exc.type
    lines = str(exc).strip().splitlines()
    detail = lines[0][:MAX_DETAIL_LENGTH] if lines else ""
    text = f"tool {name!r} failed with {type(exc).__name__}" + (f": {detail}" if detail else "")
    return text, TOOL_EXECUTION_FAILED


class Executor:
    """Runs LATER tools for FunctionCalls and always answers with a ToolResult."""

    def __init__(
        self, registry: ToolRegistry | None = None, *, profile: Profile = Profile.LENIENT
    ) -> None:
        """Create an executor.

        Args:
            registry: The global registry; defaults to :func:`~aesp.later.default_registry`.
            profile: Profile for nested args objects. The C-19 args-root rule (undeclared
                top-level keys refused) applies in both profiles.
        """
        self.registry = registry if registry is not None else default_registry()
        self.profile = profile

    def _prepare(
        self, session: SessionRegistry | None, call: FunctionCall
    ) -> RegisteredTool | ToolResult:
        """Steps (1) and (2): find the tool and validate args, or return the ERROR result."""
        if not isinstance(call, FunctionCall):
            raise TypeError(f"execute() needs a FunctionCall, got {type(call).__name__}")
        # (1): "look the tool up in the session registry"
        if session is not None:
            if session.closed:
                return ToolResult.failure(
                    call.call_id, call.name, "the session has ended", INVALID_SESSION
                )
            if call.name not in session:
                message = f"tool {call.name!r} is not available in this session"
                return ToolResult.failure(call.call_id, call.name, message, UNSUPPORTED_TOOL)
        entry = self.registry.get(call.name)
        if entry is None:
            return ToolResult.failure(
                call.call_id, call.name, f"no tool named {call.name!r}", UNSUPPORTED_TOOL
            )
        # (2): "validate args ... before execution" against the registry's own declaration
        try:
            entry.declaration.args_validator(self.profile)(call.args)
        except AdmError as exc:
            return ToolResult.failure(
                call.call_id, call.name, f"invalid arguments: {exc}", PARAMETER_VALIDATION_FAILED
            )
        return entry

    def _wrap(self, call: FunctionCall, value: object) -> ToolResult:
        """Step (4) for a returned value: SUCCESS if it is JSON, else DATA_PROCESSING_ERROR."""
        try:
            validate_json_value(value, path="content")
        except AdmError as exc:
            message = f"tool {call.name!r} returned a value that is not JSON-serialisable: {exc}"
            return ToolResult.failure(call.call_id, call.name, message, DATA_PROCESSING_ERROR)
        return ToolResult.success(call.call_id, call.name, value)

    def _fail(self, call: FunctionCall, exc: Exception) -> ToolResult:
        """Step (4) for an exception: log the traceback, return a trace-free ERROR."""
        _LOG.info("LATER tool %r raised", call.name, exc_info=exc)
        message, error_type = _failure_message(call.name, exc)
        return ToolResult.failure(call.call_id, call.name, message, error_type)

    def execute(self, session: SessionRegistry | None, call: FunctionCall) -> ToolResult:
        """Execute a call synchronously (async tools run on an event loop of their own).

        Args:
            session: The caller's session registry, or None to allow any registered tool.
            call: The call to run.

        Returns:
            SUCCESS with the return value as ``content``, or ERROR with an ErrorObject.

        Raises:
            TypeError: Only if ``call`` is not a FunctionCall (a programming error).
        """
        prepared = self._prepare(session, call)
        if isinstance(prepared, ToolResult):
            return prepared
        try:
            value = _invoke_sync(prepared, call.args)  # (3)
        except Exception as exc:
            return self._fail(call, exc)
        return self._wrap(call, value)

    async def execute_async(
        self, session: SessionRegistry | None, call: FunctionCall
    ) -> ToolResult:
        """Execute a call on the running loop; sync tools run in a worker thread.

        Args:
            session: The caller's session registry, or None to allow any registered tool.
            call: The call to run.

        Returns:
            SUCCESS with the return value as ``content``, or ERROR with an ErrorObject.

        Raises:
            TypeError: Only if ``call`` is not a FunctionCall (a programming error).
        """
        prepared = self._prepare(session, call)
        if isinstance(prepared, ToolResult):
            return prepared
        try:
            value = await _invoke_async(prepared, call.args)  # (3)
        except Exception as exc:
            return self._fail(call, exc)
        return self._wrap(call, value)


def _invoke_sync(entry: RegisteredTool, args: Any) -> object:
    """Call the tool from synchronous code."""
    if entry.is_async:
        return _run_coroutine_sync(lambda: _invoke_async_inline(entry, args))
    result = entry.func(**args)
    if entry.streaming:
        return list(_as_iterator(result))
    return result


async def _invoke_async_inline(entry: RegisteredTool, args: Any) -> object:
    """Call an async tool (coroutine or async generator) on the current loop."""
    result = entry.func(**args)
    if entry.streaming:
        return [chunk async for chunk in _as_async_iterator(result)]
    return await result


async def _invoke_async(entry: RegisteredTool, args: Any) -> object:
    """Call the tool from a coroutine; blocking tools go to a thread (asyncio.to_thread)."""
    if entry.is_async:
        return await _invoke_async_inline(entry, args)
    if entry.streaming:
        return await asyncio.to_thread(lambda: list(_as_iterator(entry.func(**args))))
    return await asyncio.to_thread(entry.func, **args)


def _as_iterator(value: object) -> Iterator[object]:
    """A streaming sync tool's result, checked to be iterable."""
    if not isinstance(value, Iterator):
        raise TypeError("a generator tool did not return an iterator")
    return value


def _as_async_iterator(value: object) -> AsyncIterator[object]:
    """A streaming async tool's result, checked to be an async iterator."""
    if not isinstance(value, AsyncIterator):
        raise TypeError("an async generator tool did not return an async iterator")
    return value


def _run_coroutine_sync(factory: Callable[[], Any]) -> object:
    """Run a coroutine to completion from sync code, even if this thread already has a loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(factory())
    # NOTE: a loop is running in this thread (sync execute() called from async code); blocking
    # it with asyncio.run would fail, so run the coroutine on a private loop in a helper thread.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(factory())).result()
