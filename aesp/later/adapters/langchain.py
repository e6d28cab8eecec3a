"""LangChain adapter (LATER §2.4, checklist 60): import a ``BaseTool``, export a ``StructuredTool``.

* :func:`import_langchain_tool` turns a LangChain tool into a registered LATER tool. A Pydantic
  ``args_schema`` maps field by field: str/int/float/bool/list[X]/dict/Literal/nested models map
  to their ADM types, anything else to STRING (the LATER §2.4 fallback, since LangChain will
  coerce a string); ``is_required()`` decides ``required``. A tool without ``args_schema``
  takes one STRING ``tool_input``; a JSON-schema dict ``args_schema`` is translated.
* :func:`export_langchain_tool` wraps a LATER tool as a ``StructuredTool`` whose sync and async
  paths call the :class:`~aesp.later.Executor` and raise ``ToolException`` on an ERROR result.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from langchain_core.tools import BaseTool, StructuredTool, ToolException
from pydantic import BaseModel

from ...adm import FunctionDeclaration
from .._introspect import annotation_to_schema, split_optional
from ..executor import Executor
from ..registry import RegisteredTool, SessionRegistry, ToolRegistry, default_registry
from ._common import new_call, resolve_tool, unwrap
from ._jsonschema import adm_to_json_schema, json_schema_to_adm

__all__ = ["export_langchain_tool", "import_langchain_tool", "pydantic_model_to_schema"]

_SINGLE_INPUT = "tool_input"  # LangChain's name for the one string argument of a simple Tool


def _field_schema(annotation: object, where: str) -> dict[str, object]:
    """ADM Schema for one Pydantic field annotation; unsupported types fall back to STRING."""
    try:
        base, _ = split_optional(annotation)
        if isinstance(base, type) and issubclass(base, BaseModel):
            return pydantic_model_to_schema(base)
        return annotation_to_schema(base, where)
    except TypeError:
        return {"type": "STRING"}  # LATER §2.4: "anything else -> STRING"


def pydantic_model_to_schema(model: type[BaseModel]) -> dict[str, object]:
    """Map a Pydantic v2 model to an ADM OBJECT Schema.

    Args:
        model: The model class (e.g. a LangChain ``args_schema``).

    Returns:
        The Schema; properties use field aliases when set, descriptions come from the fields.
    """
    properties: dict[str, object] = {}
    required: list[str] = []
    for field_name, info in model.model_fields.items():
        key = info.alias or field_name
        schema = _field_schema(info.annotation, f"field {key!r} of {model.__name__}")
        if info.description and info.description.strip():
            schema["description"] = info.description
        properties[key] = schema
        if info.is_required():
            required.append(key)
    result: dict[str, object] = {"type": "OBJECT", "properties": properties}
    if required:
        result["required"] = required
    return result


def _parameters_for(lc_tool: BaseTool) -> tuple[dict[str, object], bool]:
    """The tool's ADM parameters and whether it takes a single string input."""
    args_schema = lc_tool.args_schema
    if args_schema is None:
        parameters: dict[str, object] = {
            "type": "OBJECT",
            "properties": {_SINGLE_INPUT: {"type": "STRING"}},
            "required": [_SINGLE_INPUT],
        }
        return parameters, True
    if isinstance(args_schema, Mapping):
        converted = json_schema_to_adm(args_schema)
        if converted["type"] != "OBJECT":
            converted = {"type": "OBJECT", "properties": {}}
        return converted, False
    if isinstance(args_schema, type) and issubclass(args_schema, BaseModel):
        return pydantic_model_to_schema(args_schema), False
    raise TypeError(
        f"unsupported args_schema {args_schema!r}; expected a Pydantic v2 model or a JSON-schema dict"
    )


def import_langchain_tool(
    lc_tool: BaseTool, *, registry: ToolRegistry | None = None, name: str | None = None
) -> RegisteredTool:
    """Register a LangChain tool as a LATER tool.

    The registered callable runs ``lc_tool.invoke``; exceptions it raises (``ToolException``
    included, unless the tool handles its own errors) become ERROR results in the executor.

    Args:
        lc_tool: The LangChain tool.
        registry: Target registry; defaults to the process-wide one.
        name: Override the tool name (LangChain allows names ADM does not, e.g. with spaces).

    Returns:
        The registry entry.

    Raises:
        AdmError: If the name or description is not valid ADM.
        ValueError: If the name is already registered.
        TypeError: If the ``args_schema`` kind is not supported.
    """
    parameters, single_input = _parameters_for(lc_tool)
    declaration = FunctionDeclaration(
        name=name or lc_tool.name, description=lc_tool.description or "", parameters=parameters
    )
    declaration.args_validator()  # fail now, not on the first call, if the Schema is bad

    def run_langchain_tool(**kwargs: Any) -> object:
        return lc_tool.invoke(kwargs[_SINGLE_INPUT] if single_input else kwargs)

    run_langchain_tool.__name__ = declaration.name
    run_langchain_tool.__qualname__ = f"langchain:{lc_tool.name}"
    target = registry if registry is not None else default_registry()
    return target.register(run_langchain_tool, declaration)


def export_langchain_tool(
    tool: RegisteredTool | str, *, executor: Executor, session: SessionRegistry | None = None
) -> StructuredTool:
    """Expose a LATER tool to LangChain as a ``StructuredTool``.

    Args:
        tool: The registry entry or tool name.
        executor: Executor that runs the calls (its registry resolves names).
        session: Session whose tool list applies; None allows any registered tool.

    Returns:
        A StructuredTool whose ``invoke``/``ainvoke`` run the executor; an ERROR ToolResult
        raises ``ToolException`` with the ErrorObject message.

    Raises:
        KeyError: If a tool name is not registered.
    """
    entry = resolve_tool(tool, executor)
    declaration = entry.declaration

    def run(**kwargs: Any) -> object:
        return unwrap(executor.execute(session, new_call(declaration.name, kwargs)), ToolException)

    async def arun(**kwargs: Any) -> object:
        return unwrap(
            await executor.execute_async(session, new_call(declaration.name, kwargs)), ToolException
        )

    return StructuredTool(
        name=declaration.name,
        description=declaration.description,
        args_schema=adm_to_json_schema(declaration.parameters),
        func=run,
        coroutine=arun,
    )
