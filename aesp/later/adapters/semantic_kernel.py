"""Semantic Kernel adapter (LATER §2.4, checklist 60): import and export ``KernelFunction``\\ s.

* :func:`import_kernel_function` registers an SK function as a LATER tool. Parameters map from
  their Python type when SK recorded one, else from SK's JSON schema, else to STRING (the
  LATER §2.4 fallback). SK's injected parameters (``kernel``, ``service``,
  ``execution_settings``, ``arguments``) and those hidden from function choices are skipped.
  A result value that is not JSON (e.g. a ``ChatMessageContent``) is passed on as ``str()``.
* :func:`export_kernel_function` wraps a LATER tool as a ``KernelFunctionFromMethod`` that runs
  the :class:`~aesp.later.Executor` and raises ``FunctionExecutionException`` on ERROR. SK
  names allow only ``[0-9A-Za-z_]``, so ``-`` in an ADM name becomes ``_`` unless you pass
  ``name=``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from semantic_kernel import Kernel
from semantic_kernel.exceptions import FunctionExecutionException
from semantic_kernel.functions import KernelArguments, KernelFunction, KernelFunctionFromMethod
from semantic_kernel.functions.kernel_parameter_metadata import KernelParameterMetadata

from ...adm import AdmError, FunctionDeclaration, validate_json_value
from .._introspect import annotation_to_schema, split_optional
from ..executor import Executor
from ..registry import RegisteredTool, SessionRegistry, ToolRegistry, default_registry
from ._common import new_call, resolve_tool, unwrap
from ._jsonschema import adm_to_json_schema, json_schema_to_adm

__all__ = ["export_kernel_function", "import_kernel_function"]

_INJECTED: Final = frozenset({"kernel", "service", "execution_settings", "arguments"})


def _parameter_schema(param: KernelParameterMetadata) -> dict[str, object]:
    """ADM Schema for one SK parameter: Python type, then JSON schema, then STRING."""
    type_object = param.type_object
    if type_object is not None:
        try:
            base, _ = split_optional(type_object)
            schema = annotation_to_schema(base, f"parameter {param.name!r}")
        except TypeError:
            schema = None
        if schema is not None:
            if param.description and param.description.strip():
                schema["description"] = param.description
            return schema
    if param.schema_data:
        return json_schema_to_adm(param.schema_data)
    schema = {"type": "STRING"}
    if param.description and param.description.strip():
        schema["description"] = param.description
    return schema


def _declaration_for(function: KernelFunction, name: str | None) -> FunctionDeclaration:
    """Build the ADM declaration of an SK function."""
    properties: dict[str, object] = {}
    required: list[str] = []
    for param in function.metadata.parameters:
        if not param.name or param.name in _INJECTED or not param.include_in_function_choices:
            continue
        properties[param.name] = _parameter_schema(param)
        if param.is_required:
            required.append(param.name)
    parameters: dict[str, object] = {"type": "OBJECT", "properties": properties}
    if required:
        parameters["required"] = required
    description = function.description or ""
    return FunctionDeclaration(
        name=name or function.name, description=description, parameters=parameters
    )


def _json_or_text(value: object) -> object:
    """Return ``value`` if it is JSON, else its ``str()`` (SK results are often content objects)."""
    try:
        validate_json_value(value)
    except AdmError:
        return str(value)
    return value


def import_kernel_function(
    function: KernelFunction,
    *,
    kernel: Kernel | None = None,
    registry: ToolRegistry | None = None,
    name: str | None = None,
) -> RegisteredTool:
    """Register a Semantic Kernel function as an (async) LATER tool.

    Args:
        function: The SK function (e.g. ``KernelFunctionFromMethod``).
        kernel: Kernel to invoke it with; a fresh ``Kernel()`` by default.
        registry: Target registry; defaults to the process-wide one.
        name: Override the tool name.

    Returns:
        The registry entry.

    Raises:
        AdmError: If the name or description is not valid ADM (SK allows empty descriptions).
        ValueError: If the name is already registered.
    """
    declaration = _declaration_for(function, name)
    declaration.args_validator()  # fail now, not on the first call, if the Schema is bad
    run_kernel = kernel if kernel is not None else Kernel()

    async def run_kernel_function(**kwargs: Any) -> object:
        result = await function.invoke(run_kernel, KernelArguments(**kwargs))
        return None if result is None else _json_or_text(result.value)

    run_kernel_function.__name__ = declaration.name
    run_kernel_function.__qualname__ = f"semantic_kernel:{function.fully_qualified_name}"
    target = registry if registry is not None else default_registry()
    return target.register(run_kernel_function, declaration)


def _sk_parameters(declaration: FunctionDeclaration) -> list[KernelParameterMetadata]:
    """SK parameter metadata for an ADM declaration (JSON schema carried in schema_data)."""
    properties = declaration.parameters.get("properties")
    required = declaration.parameters.get("required")
    required_names = set(required) if isinstance(required, list | tuple) else set()
    if not isinstance(properties, Mapping):
        return []
    result: list[KernelParameterMetadata] = []
    for key, sub in properties.items():
        if not isinstance(sub, Mapping):
            continue
        json_schema = adm_to_json_schema(sub, root=False)
        description = sub.get("description")
        result.append(
            KernelParameterMetadata(
                name=key,
                description=description if isinstance(description, str) else None,
                type=str(json_schema["type"]),
                is_required=key in required_names,
                schema_data=json_schema,
            )
        )
    return result


def export_kernel_function(
    tool: RegisteredTool | str,
    *,
    executor: Executor,
    session: SessionRegistry | None = None,
    plugin_name: str | None = None,
    name: str | None = None,
) -> KernelFunctionFromMethod:
    """Expose a LATER tool to Semantic Kernel.

    Args:
        tool: The registry entry or tool name.
        executor: Executor that runs the calls (its registry resolves names).
        session: Session whose tool list applies; None allows any registered tool.
        plugin_name: SK plugin to place the function in.
        name: SK function name; defaults to the ADM name with ``-`` replaced by ``_``.

    Returns:
        A KernelFunction; invoking it runs the executor and raises
        ``FunctionExecutionException`` with the ErrorObject message on an ERROR result.

    Raises:
        KeyError: If a tool name is not registered.
    """
    entry = resolve_tool(tool, executor)
    declaration = entry.declaration

    async def run_later_tool(**kwargs: Any) -> object:
        result = await executor.execute_async(session, new_call(declaration.name, kwargs))
        return unwrap(result, FunctionExecutionException)

    # The attributes SK's @kernel_function would set; parameters are passed explicitly below.
    markers = {
        "__kernel_function__": True,
        "__kernel_function_name__": name or declaration.name.replace("-", "_"),
        "__kernel_function_description__": declaration.description,
    }
    for attribute, value in markers.items():
        setattr(run_later_tool, attribute, value)
    return_parameter = KernelParameterMetadata(
        name="return", description="", type="object", is_required=True
    )
    return KernelFunctionFromMethod(
        method=run_later_tool,
        plugin_name=plugin_name,
        parameters=_sk_parameters(declaration),
        return_parameter=return_parameter,
    )
