"""LATER's two-tier registry (LATER §2.2, checklist 54-55).

* :class:`ToolRegistry` is the *Global Tool Definition Registry*: each tool's full
  FunctionDeclaration plus a handle to its code, the single source of truth.
  :func:`default_registry` returns the process-wide one that ``@tool`` uses by default; tests
  and embedders create their own with ``ToolRegistry()``.
* :class:`SessionRegistry` is the ephemeral *Session-Scoped Registry*: tool **names only**,
  referring into a global registry, created at session start and emptied by :meth:`close`.
"""

from __future__ import annotations

import inspect
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType, TracebackType
from typing import Any

from ..adm import FunctionDeclaration, Tool

__all__ = ["RegisteredTool", "SessionRegistry", "ToolRegistry", "default_registry"]


@dataclass(frozen=True)
class RegisteredTool:
    """A declaration and the code that fulfils it.

    Attributes:
        declaration: The ADM FunctionDeclaration (the tool's contract).
        func: The callable; LATER calls it with keyword arguments only.
        is_async: True for ``async def`` functions and async generators.
        streaming: True for generator and async-generator functions: each yielded item is a
            chunk, and a non-streaming execution returns the list of chunks as ``content``.
    """

    declaration: FunctionDeclaration
    func: Callable[..., Any]
    is_async: bool
    streaming: bool

    @property
    def name(self) -> str:
        """The tool's name (``declaration.name``)."""
        return self.declaration.name


def _describe(func: Callable[..., Any]) -> str:
    """Name a callable for error messages: ``module.qualname``."""
    module = getattr(func, "__module__", None) or "?"
    qualname = getattr(func, "__qualname__", None) or repr(func)
    return f"{module}.{qualname}"


def _is_async(func: Callable[..., Any]) -> bool:
    """Coroutine or async-generator function (also for objects with an async ``__call__``)."""
    call = getattr(func, "__call__", None)  # noqa: B004 - we want the bound __call__ itself
    return any(
        inspect.iscoroutinefunction(f) or inspect.isasyncgenfunction(f)
        for f in (func, call)
        if f is not None
    )


def _is_streaming(func: Callable[..., Any]) -> bool:
    """Generator or async-generator function."""
    return inspect.isgeneratorfunction(func) or inspect.isasyncgenfunction(func)


class ToolRegistry:
    """The Global Tool Definition Registry: name → (declaration, code). Thread-safe.

    A name can be registered once; a second registration is refused (checklist 54) rather than
    silently replacing the first, so two modules cannot fight over a tool name.
    """

    def __init__(self) -> None:
        """Create an empty registry."""
        self._tools: dict[str, RegisteredTool] = {}
        self._lock = threading.Lock()

    def register(self, func: Callable[..., Any], decl: FunctionDeclaration) -> RegisteredTool:
        """Register ``func`` as the implementation of ``decl``.

        Args:
            func: The tool callable.
            decl: Its declaration; ``decl.name`` is the registry key.

        Returns:
            The registry entry.

        Raises:
            ValueError: If the name is already registered; the message names both callables.
        """
        entry = RegisteredTool(
            declaration=decl, func=func, is_async=_is_async(func), streaming=_is_streaming(func)
        )
        with self._lock:
            existing = self._tools.get(decl.name)
            if existing is not None:
                raise ValueError(
                    f"tool name {decl.name!r} is already registered by {_describe(existing.func)}; "
                    f"cannot also register {_describe(func)}"
                )
            self._tools[decl.name] = entry
        return entry

    def unregister(self, name: str) -> RegisteredTool | None:
        """Remove a tool (for tests and hot reload in development).

        Args:
            name: Tool name.

        Returns:
            The removed entry, or None if there was none.
        """
        with self._lock:
            return self._tools.pop(name, None)

    def get(self, name: str) -> RegisteredTool | None:
        """Look a tool up by exact name.

        Args:
            name: Tool name (case-sensitive).

        Returns:
            The entry, or None if no tool has that name.
        """
        return self._tools.get(name)

    def names(self) -> tuple[str, ...]:
        """Return the registered names in registration order."""
        return tuple(self._tools)

    def declarations(self) -> tuple[FunctionDeclaration, ...]:
        """Return every registered declaration in registration order."""
        return tuple(entry.declaration for entry in self._tools.values())

    def as_tool(self) -> Tool:
        """Return all declarations as one ADM Tool (raises AdmError when the registry is empty)."""
        return Tool(function_declarations=self.declarations())

    @property
    def tools(self) -> Mapping[str, RegisteredTool]:
        """A live read-only view of the registry."""
        return MappingProxyType(self._tools)

    def __contains__(self, name: object) -> bool:
        """Tell whether a tool with this name is registered."""
        return name in self._tools

    def __len__(self) -> int:
        """Return the number of registered tools."""
        return len(self._tools)


_DEFAULT_REGISTRY = ToolRegistry()  # LATER §2.2.1 MUST: one application-wide registry (no I/O)


def default_registry() -> ToolRegistry:
    """Return the process-wide Global Tool Definition Registry used by ``@tool`` by default.

    Returns:
        The singleton registry.
    """
    return _DEFAULT_REGISTRY


class SessionRegistry:
    """The tools one session may use: names only, resolved through a global registry.

    Use it as a context manager, or call :meth:`close` when the session ends; afterwards it
    exposes no tools (checklist 55).
    """

    def __init__(
        self,
        global_registry: ToolRegistry,
        tool_names: Iterable[str],
        *,
        session_id: str | None = None,
    ) -> None:
        """Create the session's registry.

        Args:
            global_registry: The registry the names refer to.
            tool_names: Names of the tools this session exposes.
            session_id: Identifier for logs; a random UUID by default.

        Raises:
            TypeError: If ``tool_names`` is a single string.
            ValueError: If a name is not in ``global_registry``.
        """
        if isinstance(tool_names, str):
            raise TypeError("tool_names must be an iterable of names, not a single string")
        names = frozenset(tool_names)
        unknown = sorted(name for name in names if name not in global_registry)
        if unknown:
            raise ValueError(f"tools not in the global registry: {', '.join(map(repr, unknown))}")
        self._global = global_registry
        self._names: frozenset[str] | None = names
        self.session_id = session_id or str(uuid.uuid4())

    @property
    def global_registry(self) -> ToolRegistry:
        """The global registry the names refer to."""
        return self._global

    @property
    def closed(self) -> bool:
        """True once :meth:`close` has been called."""
        return self._names is None

    def names(self) -> frozenset[str]:
        """Return the session's tool names (empty after close)."""
        return self._names or frozenset()

    def resolve(self, name: str) -> RegisteredTool | None:
        """Return the tool if this session exposes it.

        Args:
            name: Tool name.

        Returns:
            The global entry, or None if the session does not expose it or is closed.
        """
        return self._global.get(name) if name in self else None

    def close(self) -> None:
        """End the session: drop every name. Idempotent."""
        self._names = None

    def __contains__(self, name: object) -> bool:
        """Tell whether the (open) session exposes a tool."""
        return self._names is not None and name in self._names

    def __enter__(self) -> SessionRegistry:
        """Return self; the session closes when the block exits."""
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close the session."""
        self.close()
