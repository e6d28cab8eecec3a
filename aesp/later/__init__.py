"""LATER: Local Agent & Tool Execution Runtime (SPEC §1.12, checklist 51-60).

Declare tools with :func:`tool`, keep them in a :class:`ToolRegistry` (the process-wide one is
:func:`default_registry`), scope them per session with :class:`SessionRegistry`, and run
:class:`~aesp.adm.FunctionCall` objects with :class:`Executor`. LangChain and Semantic Kernel
adapters live in :mod:`aesp.later.adapters` (imported explicitly; they need those packages).
"""

from __future__ import annotations

from ._introspect import annotation_to_schema, build_declaration
from .decorator import get_registered, tool
from .executor import (
    DATA_PROCESSING_ERROR,
    INVALID_SESSION,
    PARAMETER_VALIDATION_FAILED,
    TOOL_EXECUTION_FAILED,
    UNSUPPORTED_TOOL,
    Executor,
    ToolError,
)
from .registry import RegisteredTool, SessionRegistry, ToolRegistry, default_registry

__all__ = [
    "DATA_PROCESSING_ERROR",
    "INVALID_SESSION",
    "PARAMETER_VALIDATION_FAILED",
    "TOOL_EXECUTION_FAILED",
    "UNSUPPORTED_TOOL",
    "Executor",
    "RegisteredTool",
    "SessionRegistry",
    "ToolError",
    "ToolRegistry",
    "annotation_to_schema",
    "build_declaration",
    "default_registry",
    "get_registered",
    "tool",
]
