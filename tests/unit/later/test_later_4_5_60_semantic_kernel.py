"""SPEC §4.5 checklist item 60 (Semantic Kernel half): import and export KernelFunctions."""

from __future__ import annotations

from typing import Annotated

import pytest
from semantic_kernel import Kernel
from semantic_kernel.exceptions import FunctionExecutionException
from semantic_kernel.functions import (
    KernelArguments,
    KernelFunction,
    KernelFunctionFromMethod,
    kernel_function,
)

from aesp.adm import FunctionCall, FunctionDeclaration, ResultStatus
from aesp.later import PARAMETER_VALIDATION_FAILED, Executor, SessionRegistry, ToolRegistry, tool
from aesp.later.adapters.semantic_kernel import export_kernel_function, import_kernel_function


@kernel_function(name="sk_add", description="Add two integers.")
def sk_add(
    a: Annotated[int, "First addend"],
    b: Annotated[int, "Second addend"] = 0,
    kernel: Kernel | None = None,
) -> int:
    if a < 0:
        raise ValueError("negative numbers are not supported")
    return a + b


@kernel_function(name="sk_tags", description="Join tags.")
async def sk_tags(tags: list[str], sep: str = ",") -> str:
    return sep.join(tags)


def test_4_5_60_semantic_kernel_import_gives_registered_declaration(registry: ToolRegistry) -> None:
    entry = import_kernel_function(
        KernelFunctionFromMethod(method=sk_add, plugin_name="math"), registry=registry
    )
    assert registry.get("sk_add") is entry
    assert entry.is_async
    decl = entry.declaration
    assert decl.description == "Add two integers."
    assert decl.parameters == {
        "type": "OBJECT",
        "properties": {
            "a": {"type": "INTEGER", "description": "First addend"},
            "b": {"type": "INTEGER", "description": "Second addend"},
        },
        "required": ["a"],
    }
    FunctionDeclaration.from_json(decl.to_json())


def test_4_5_60_imported_kernel_function_runs_through_executor(registry: ToolRegistry) -> None:
    import_kernel_function(KernelFunctionFromMethod(method=sk_add), registry=registry)
    import_kernel_function(KernelFunctionFromMethod(method=sk_tags), registry=registry)
    executor = Executor(registry)
    assert executor.execute(None, FunctionCall("c1", "sk_add", {"a": 2, "b": 3})).content == 5
    assert (
        executor.execute(None, FunctionCall("c2", "sk_tags", {"tags": ["x", "y"]})).content == "x,y"
    )
    failed = executor.execute(None, FunctionCall("c3", "sk_add", {"a": -1}))
    assert failed.status is ResultStatus.ERROR
    assert failed.error is not None and "negative numbers" in failed.error.message
    invalid = executor.execute(None, FunctionCall("c4", "sk_add", {"a": "2"}))
    assert invalid.error is not None and invalid.error.type == PARAMETER_VALIDATION_FAILED


async def test_4_5_60_imported_kernel_function_async_path(registry: ToolRegistry) -> None:
    import_kernel_function(KernelFunctionFromMethod(method=sk_add), registry=registry)
    result = await Executor(registry).execute_async(
        None, FunctionCall("c", "sk_add", {"a": 1, "b": 1})
    )
    assert result.content == 2


@pytest.fixture
def later_tools(registry: ToolRegistry) -> ToolRegistry:
    @tool(name="scale-value", registry=registry)
    def scale(value: float, factor: int = 2) -> float:
        """Scale a value.

        Args:
            value: The value.
            factor: Multiplier.
        """
        if factor == 0:
            raise ValueError("factor must not be zero")
        return value * factor

    return registry


async def test_4_5_60_semantic_kernel_export_calls_executor(later_tools: ToolRegistry) -> None:
    function = export_kernel_function(
        "scale-value", executor=Executor(later_tools), plugin_name="later"
    )
    assert isinstance(function, KernelFunction)
    assert (function.name, function.plugin_name, function.description) == (
        "scale_value",
        "later",
        "Scale a value.",
    )
    params = {p.name: (p.is_required, p.type_, p.description) for p in function.metadata.parameters}
    assert params == {
        "value": (True, "number", "The value."),
        "factor": (False, "integer", "Multiplier."),
    }
    result = await function.invoke(Kernel(), KernelArguments(value=1.5, factor=3))
    assert result is not None and result.value == 4.5


async def test_4_5_60_semantic_kernel_export_raises_on_error(later_tools: ToolRegistry) -> None:
    function = export_kernel_function("scale-value", executor=Executor(later_tools))
    with pytest.raises(FunctionExecutionException, match="factor must not be zero"):
        await function.invoke(Kernel(), KernelArguments(value=1.0, factor=0))
    with pytest.raises(FunctionExecutionException, match="args.value: expected NUMBER, got string"):
        await function.invoke(Kernel(), KernelArguments(value="x"))


async def test_4_5_60_semantic_kernel_export_respects_session(later_tools: ToolRegistry) -> None:
    session = SessionRegistry(later_tools, [])
    function = export_kernel_function(
        "scale-value", executor=Executor(later_tools), session=session
    )
    with pytest.raises(FunctionExecutionException, match="not available in this session"):
        await function.invoke(Kernel(), KernelArguments(value=1.0))


async def test_4_5_60_semantic_kernel_round_trip(later_tools: ToolRegistry) -> None:
    exported = export_kernel_function("scale-value", executor=Executor(later_tools))
    other = ToolRegistry()
    entry = import_kernel_function(exported, registry=other, name="scale_again")
    original = later_tools.get("scale-value")
    assert original is not None
    assert entry.declaration.parameters == original.declaration.parameters
    result = await Executor(other).execute_async(
        None, FunctionCall("c", "scale_again", {"value": 2.0})
    )
    assert result.content == 4.0
