"""Helpers shared by the framework adapters: resolving a tool and calling the executor."""

from __future__ import annotations

import uuid

from ...adm import FunctionCall, ResultStatus, ToolResult
from ..executor import Executor
from ..registry import RegisteredTool

__all__ = ["ToolCallFailed", "new_call", "resolve_tool", "unwrap"]


class ToolCallFailed(Exception):
    """An exported LATER tool returned an ERROR ToolResult.

    Attributes:
        result: The ERROR ToolResult.
    """

    def __init__(self, result: ToolResult) -> None:
        """Create the exception from the ERROR result.

        Args:
            result: The ERROR ToolResult.
        """
        message = result.error.message if result.error is not None else "tool failed"
        super().__init__(message)
        self.result = result


def resolve_tool(tool: RegisteredTool | str, executor: Executor) -> RegisteredTool:
    """Return the registry entry for ``tool`` (a name is looked up in the executor's registry).

    Args:
        tool: An entry or a tool name.
        executor: The executor whose registry holds the tool.

    Returns:
        The entry.

    Raises:
        KeyError: If a name is not registered.
    """
    if isinstance(tool, RegisteredTool):
        return tool
    entry = executor.registry.get(tool)
    if entry is None:
        raise KeyError(f"no LATER tool named {tool!r} in the executor's registry")
    return entry


def new_call(name: str, args: dict[str, object]) -> FunctionCall:
    """Build a FunctionCall with a fresh UUID v4 call id.

    Args:
        name: Tool name.
        args: Keyword arguments from the framework.

    Returns:
        The call.
    """
    return FunctionCall(call_id=str(uuid.uuid4()), name=name, args=args)


def unwrap(result: ToolResult, error_type: type[Exception]) -> object:
    """Return SUCCESS content, or raise ``error_type`` with the ErrorObject message.

    Args:
        result: The executor's result.
        error_type: The framework's exception class (constructed with one message argument).

    Returns:
        The content.

    Raises:
        Exception: ``error_type`` for an ERROR result, chained from :class:`ToolCallFailed`.
    """
    if result.status is ResultStatus.SUCCESS:
        return result.content
    failure = ToolCallFailed(result)
    raise error_type(str(failure)) from failure
