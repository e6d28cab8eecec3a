"""The LATER ``@tool`` decorator (LATER §2.1, checklist 51-54).

``@tool`` introspects a function into an ADM FunctionDeclaration, registers it in a
:class:`~aesp.later.ToolRegistry` (the process-wide one by default) and returns the function
unchanged, with the registry entry attached as ``__aesp_tool__``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, overload

from ._introspect import build_declaration
from .registry import RegisteredTool, ToolRegistry, default_registry

__all__ = ["get_registered", "tool"]

F = TypeVar("F", bound=Callable[..., Any])

TOOL_ATTRIBUTE = "__aesp_tool__"


@overload
def tool(func: F, /) -> F: ...


@overload
def tool(
    *, name: str | None = None, description: str | None = None, registry: ToolRegistry | None = None
) -> Callable[[F], F]: ...


def tool(
    func: F | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    registry: ToolRegistry | None = None,
) -> F | Callable[[F], F]:
    """Declare a function as a LATER tool: ``@tool`` or ``@tool(name=..., ...)``.

    Args:
        func: The function, when used as a bare ``@tool``.
        name: Tool name; defaults to the function's name.
        description: Description; defaults to the docstring's first paragraph.
        registry: Where to register; defaults to :func:`~aesp.later.default_registry`.

    Returns:
        The original function (still directly callable), with ``__aesp_tool__`` set to its
        :class:`~aesp.later.RegisteredTool`; or, with keyword arguments only, a decorator.

    Raises:
        TypeError: At decoration time, for an unsupported or missing annotation or a missing
            description.
        ValueError: If the name is already registered (AdmError, a ValueError, if invalid).
    """
    if func is not None and not callable(func):
        raise TypeError("use @tool or @tool(name=...): keyword arguments only")

    def decorate(target: F) -> F:
        declaration = build_declaration(target, name=name, description=description)
        target_registry = registry if registry is not None else default_registry()
        entry = target_registry.register(target, declaration)
        setattr(target, TOOL_ATTRIBUTE, entry)
        return target

    return decorate if func is None else decorate(func)


def get_registered(func: Callable[..., Any]) -> RegisteredTool | None:
    """Return the registry entry that ``@tool`` attached to a function.

    Args:
        func: A function, decorated or not.

    Returns:
        Its :class:`~aesp.later.RegisteredTool`, or None if it was not decorated.
    """
    entry = getattr(func, TOOL_ATTRIBUTE, None)
    return entry if isinstance(entry, RegisteredTool) else None
