"""SPEC §4.5 checklist item 60 (LangChain half): import a BaseTool, export a LATER tool."""

from __future__ import annotations

from typing import Any, Literal

import pytest
from langchain_core.tools import BaseTool, StructuredTool, Tool, ToolException
from pydantic import BaseModel, Field

from aesp.adm import FunctionCall, FunctionDeclaration, ResultStatus
from aesp.later import PARAMETER_VALIDATION_FAILED, Executor, SessionRegistry, ToolRegistry, tool
from aesp.later.adapters.langchain import export_langchain_tool, import_langchain_tool


class Address(BaseModel):
    street: str
    number: int = 1


class WeatherArgs(BaseModel):
    city: str = Field(description="City name")
    days: int = Field(default=1, description="Forecast days")
    metric: bool = True
    ratio: float | None = None
    unit: Literal["C", "F"] = "C"
    tags: list[str] = Field(default_factory=list)
    home: Address | None = None
    when: Any = None


class WeatherTool(BaseTool):
    name: str = "lc_weather"
    description: str = "Weather from LangChain."
    args_schema: type[BaseModel] = WeatherArgs

    def _run(self, city: str, days: int = 1, **kwargs: Any) -> dict[str, Any]:
        if city == "Atlantis":
            raise ToolException("Atlantis is not on the map")
        return {"city": city, "days": days}


def test_4_5_60_langchain_import_gives_registered_declaration(registry: ToolRegistry) -> None:
    entry = import_langchain_tool(WeatherTool(), registry=registry)
    assert registry.get("lc_weather") is entry
    decl = entry.declaration
    assert decl.description == "Weather from LangChain."
    props = decl.parameters["properties"]
    assert props["city"] == {"type": "STRING", "description": "City name"}
    assert props["days"] == {"type": "INTEGER", "description": "Forecast days"}
    assert props["metric"] == {"type": "BOOLEAN"}
    assert props["ratio"] == {"type": "NUMBER"}
    assert props["unit"] == {"type": "STRING", "enum": ["C", "F"]}
    assert props["tags"] == {"type": "ARRAY", "items": {"type": "STRING"}}
    assert props["home"]["properties"] == {
        "street": {"type": "STRING"},
        "number": {"type": "INTEGER"},
    }
    assert props["when"] == {"type": "STRING"}  # LATER §2.4 fallback
    assert decl.parameters["required"] == ["city"]
    FunctionDeclaration.from_json(decl.to_json())  # valid STRICT ADM


def test_4_5_60_imported_langchain_tool_runs_through_executor(registry: ToolRegistry) -> None:
    import_langchain_tool(WeatherTool(), registry=registry)
    executor = Executor(registry)
    ok = executor.execute(None, FunctionCall("c1", "lc_weather", {"city": "Oslo", "days": 2}))
    assert ok.status is ResultStatus.SUCCESS and ok.content == {"city": "Oslo", "days": 2}
    failed = executor.execute(None, FunctionCall("c2", "lc_weather", {"city": "Atlantis"}))
    assert failed.error is not None and "Atlantis is not on the map" in failed.error.message
    invalid = executor.execute(None, FunctionCall("c3", "lc_weather", {"days": 2}))
    assert invalid.error is not None and invalid.error.type == PARAMETER_VALIDATION_FAILED


def test_4_5_60_langchain_single_input_tool_import(registry: ToolRegistry) -> None:
    simple = Tool(name="shout", description="Upper-cases text.", func=lambda text: text.upper())
    entry = import_langchain_tool(simple, registry=registry)
    assert entry.declaration.parameters["required"] == ["tool_input"]
    result = Executor(registry).execute(None, FunctionCall("c", "shout", {"tool_input": "hi"}))
    assert result.content == "HI"


def test_4_5_60_langchain_import_name_override_for_non_adm_names(registry: ToolRegistry) -> None:
    odd = Tool(name="my tool", description="Spaces in name.", func=lambda text: text)
    with pytest.raises(ValueError, match="contains ' '"):
        import_langchain_tool(odd, registry=registry)
    assert import_langchain_tool(odd, registry=registry, name="my_tool").name == "my_tool"


@pytest.fixture
def later_tools(registry: ToolRegistry) -> ToolRegistry:
    @tool(registry=registry)
    def divide(a: float, b: float = 1.0) -> float:
        """Divide a by b.

        Args:
            a: Numerator.
            b: Denominator.
        """
        return a / b

    @tool(registry=registry)
    def hidden() -> str:
        """Not in the session."""
        return "x"

    return registry


def test_4_5_60_langchain_export_builds_base_tool_calling_executor(
    later_tools: ToolRegistry,
) -> None:
    lc = export_langchain_tool("divide", executor=Executor(later_tools))
    assert isinstance(lc, StructuredTool) and isinstance(lc, BaseTool)
    assert (lc.name, lc.description) == ("divide", "Divide a by b.")
    schema = lc.args_schema
    assert isinstance(schema, dict)
    assert schema["properties"]["a"] == {"type": "number", "description": "Numerator."}
    assert schema["required"] == ["a"] and schema["additionalProperties"] is False
    assert lc.invoke({"a": 6, "b": 3}) == 2.0


def test_4_5_60_langchain_export_raises_tool_exception_on_error(later_tools: ToolRegistry) -> None:
    lc = export_langchain_tool("divide", executor=Executor(later_tools))
    with pytest.raises(ToolException, match="ZeroDivisionError"):
        lc.invoke({"a": 1, "b": 0})
    with pytest.raises(ToolException, match="args.a: expected NUMBER, got string"):
        lc.invoke({"a": "one"})


def test_4_5_60_langchain_export_respects_the_session(later_tools: ToolRegistry) -> None:
    session = SessionRegistry(later_tools, ["divide"])
    lc = export_langchain_tool(
        later_tools.tools["hidden"], executor=Executor(later_tools), session=session
    )
    with pytest.raises(ToolException, match="not available in this session"):
        lc.invoke({})


async def test_4_5_60_langchain_export_async_path(later_tools: ToolRegistry) -> None:
    lc = export_langchain_tool("divide", executor=Executor(later_tools))
    assert await lc.ainvoke({"a": 9}) == 9.0
    with pytest.raises(ToolException, match="ZeroDivisionError"):
        await lc.ainvoke({"a": 1, "b": 0})


def test_4_5_60_langchain_export_unknown_name(later_tools: ToolRegistry) -> None:
    with pytest.raises(KeyError, match="no LATER tool named 'nope'"):
        export_langchain_tool("nope", executor=Executor(later_tools))


def test_4_5_60_langchain_round_trip_import_of_exported_tool(later_tools: ToolRegistry) -> None:
    exported = export_langchain_tool("divide", executor=Executor(later_tools))
    other = ToolRegistry()
    entry = import_langchain_tool(exported, registry=other, name="divide_again")
    assert entry.declaration.parameters == later_tools.tools["divide"].declaration.parameters
    assert (
        Executor(other).execute(None, FunctionCall("c", "divide_again", {"a": 8, "b": 2})).content
        == 4.0
    )
