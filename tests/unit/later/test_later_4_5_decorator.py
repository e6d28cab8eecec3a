"""SPEC §4.5 checklist items 51-54: the @tool decorator and the global registry."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from typing import Annotated, Any, Literal, Optional, TypedDict, cast

import pytest

from aesp.adm import AdmError, FunctionDeclaration, validate_schema
from aesp.later import RegisteredTool, ToolRegistry, default_registry, get_registered, tool


def test_4_5_51_decorated_function_yields_declaration(registry: ToolRegistry) -> None:
    @tool(registry=registry)
    def describe(text: str, count: int, ratio: float, loud: bool) -> str:
        """Describe something.

        More detail that is not part of the description.
        """
        return text

    entry = get_registered(describe)
    assert isinstance(entry, RegisteredTool)
    decl = entry.declaration
    assert decl.name == "describe"
    assert decl.description == "Describe something."
    assert decl.parameters == {
        "type": "OBJECT",
        "properties": {
            "text": {"type": "STRING"},
            "count": {"type": "INTEGER"},
            "ratio": {"type": "NUMBER"},
            "loud": {"type": "BOOLEAN"},
        },
        "required": ["text", "count", "ratio", "loud"],
    }
    assert describe("x", 1, 1.0, True) == "x"  # still callable
    assert FunctionDeclaration.from_json(decl.to_json()) == decl  # valid STRICT ADM


class Address(TypedDict, total=False):
    street: str
    zip: int


class Point(TypedDict):
    x: float
    y: float


@pytest.mark.parametrize(
    ("annotation", "schema"),
    [
        pytest.param(list[int], {"type": "ARRAY", "items": {"type": "INTEGER"}}, id="list"),
        pytest.param(Sequence[str], {"type": "ARRAY", "items": {"type": "STRING"}}, id="sequence"),
        pytest.param(
            list[list[bool]],
            {"type": "ARRAY", "items": {"type": "ARRAY", "items": {"type": "BOOLEAN"}}},
            id="nested-list",
        ),
        pytest.param(dict, {"type": "OBJECT", "properties": {}}, id="dict"),
        pytest.param(dict[str, int], {"type": "OBJECT", "properties": {}}, id="dict-str"),
        pytest.param(Mapping[str, Any], {"type": "OBJECT", "properties": {}}, id="mapping"),
        pytest.param(Literal["a", "b"], {"type": "STRING", "enum": ["a", "b"]}, id="literal"),
        pytest.param(
            Annotated[str, "the city"],
            {"type": "STRING", "description": "the city"},
            id="annotated",
        ),
        pytest.param(
            Address,
            {
                "type": "OBJECT",
                "properties": {"street": {"type": "STRING"}, "zip": {"type": "INTEGER"}},
            },
            id="typeddict-optional",
        ),
        pytest.param(
            Point,
            {
                "type": "OBJECT",
                "properties": {"x": {"type": "NUMBER"}, "y": {"type": "NUMBER"}},
                "required": ["x", "y"],
            },
            id="typeddict",
        ),
    ],
)
def test_4_5_51_type_mapping(
    registry: ToolRegistry, annotation: Any, schema: dict[str, Any]
) -> None:
    def f(value: object) -> None:
        """Test."""

    f.__annotations__ = {"value": annotation}
    decl = tool(registry=registry)(f).__aesp_tool__.declaration
    assert decl.parameters["properties"] == {"value": schema}
    validate_schema(decl.parameters)


def test_4_5_52_parameters_with_defaults_are_optional(registry: ToolRegistry) -> None:
    @tool(registry=registry)
    def search(
        query: str,
        limit: int = 10,
        lang: Optional[str] = None,  # noqa: UP045 - the typing.Optional spelling is under test
        tags: list[str] | None = None,
    ) -> list[str]:
        """Search."""
        return []

    entry = get_registered(search)
    assert entry is not None
    params = entry.declaration.parameters
    assert params["required"] == ["query"]
    assert params["properties"]["lang"] == {"type": "STRING"}
    assert params["properties"]["tags"] == {"type": "ARRAY", "items": {"type": "STRING"}}


def test_4_5_52_all_optional_omits_required(registry: ToolRegistry) -> None:
    @tool(registry=registry)
    def ping(times: int = 1) -> str:
        """Ping."""
        return "pong"

    assert "required" not in ping.__aesp_tool__.declaration.parameters


def test_4_5_53_per_parameter_descriptions_come_from_docstring(registry: ToolRegistry) -> None:
    @tool(registry=registry)
    def weather(city: str, unit: Literal["C", "F"] = "C", days: int = 1) -> dict[str, Any]:
        """Get the weather
        for a city.

        Returns a forecast.

        Args:
            city: The city name,
                in English.
            unit (str): Temperature unit.
            days: Number of days.

        Returns:
            The forecast.
        """
        return {}

    decl = weather.__aesp_tool__.declaration
    props = decl.parameters["properties"]
    assert decl.description == "Get the weather for a city."
    assert props["city"]["description"] == "The city name, in English."
    assert props["unit"] == {
        "type": "STRING",
        "enum": ["C", "F"],
        "description": "Temperature unit.",
    }
    assert props["days"]["description"] == "Number of days."


def test_4_5_53_explicit_name_and_description(registry: ToolRegistry) -> None:
    @tool(name="get-weather", description="Custom.", registry=registry)
    def whatever(city: Annotated[str, "City from Annotated"]) -> str:
        return city

    decl = whatever.__aesp_tool__.declaration
    assert (decl.name, decl.description) == ("get-weather", "Custom.")
    assert decl.parameters["properties"]["city"]["description"] == "City from Annotated"
    assert registry.get("get-weather") is whatever.__aesp_tool__


def test_4_5_54_declaration_and_callable_are_registered(registry: ToolRegistry) -> None:
    @tool(registry=registry)
    def one(x: int) -> int:
        """One."""
        return x

    entry = registry.get("one")
    assert entry is not None
    assert entry.func is one
    assert registry.names() == ("one",)
    assert registry.declarations() == (entry.declaration,)
    assert "one" in registry and len(registry) == 1
    assert registry.as_tool().get("one") == entry.declaration
    assert dict(registry.tools) == {"one": entry}


def test_4_5_54_duplicate_name_is_rejected_naming_both(registry: ToolRegistry) -> None:
    @tool(registry=registry)
    def dup() -> None:
        """First."""

    def other() -> None:
        """Second."""

    with pytest.raises(
        ValueError,
        match=r"'dup' is already registered by .*test_4_5_54_duplicate.*dup; cannot also register .*other",
    ):
        tool(name="dup", registry=registry)(other)
    assert registry.tools["dup"].func is dup


def test_4_5_54_default_registry_is_a_process_wide_singleton() -> None:
    assert default_registry() is default_registry()

    @tool
    def aesp_test_default_registry_probe() -> str:
        """Probe."""
        return "ok"

    try:
        assert (
            default_registry().get("aesp_test_default_registry_probe")
            is aesp_test_default_registry_probe.__aesp_tool__
        )
    finally:
        default_registry().unregister("aesp_test_default_registry_probe")
    assert "aesp_test_default_registry_probe" not in default_registry()


def test_4_5_streaming_and_async_flags(registry: ToolRegistry) -> None:
    @tool(registry=registry)
    def sync_fn() -> int:
        """S."""
        return 1

    @tool(registry=registry)
    async def async_fn() -> int:
        """A."""
        return 1

    @tool(registry=registry)
    def gen_fn() -> Iterator[int]:
        """G."""
        yield 1

    @tool(registry=registry)
    async def agen_fn() -> AsyncIterator[int]:
        """AG."""
        yield 1

    flags = {name: (entry.is_async, entry.streaming) for name, entry in registry.tools.items()}
    assert flags == {
        "sync_fn": (False, False),
        "async_fn": (True, False),
        "gen_fn": (False, True),
        "agen_fn": (True, True),
    }


def _plain(x: int) -> None:
    """Plain."""


def _untyped(x) -> None:  # noqa: ANN001 - deliberately unannotated
    """Untyped."""


def _no_doc(x: int) -> None:
    pass


def _star_args(*values: int) -> None:
    """Star."""


def _positional_only(x: int, /) -> None:
    """Positional."""


def _optional_no_default(x: int | None) -> None:
    """Optional."""


def _any(x: Any) -> None:
    """Any."""


def _bare_list(x: list) -> None:  # noqa: ANN001 - deliberately bare
    """List."""


def _union(x: int | str = 1) -> None:
    """Union."""


def _int_literal(x: Literal[1, 2]) -> None:
    """Literal."""


def _int_keys(x: dict[int, str]) -> None:
    """Dict."""


def _nested_optional(x: list[int | None]) -> None:
    """Nested."""


@pytest.mark.parametrize(
    ("func", "match"),
    [
        pytest.param(_untyped, "parameter 'x' has no type annotation", id="no-annotation"),
        pytest.param(_no_doc, "needs a description", id="no-docstring"),
        pytest.param(_star_args, "by keyword only", id="star-args"),
        pytest.param(_positional_only, "by keyword only", id="positional-only"),
        pytest.param(
            _optional_no_default, "is Optional but has no default", id="optional-without-default"
        ),
        pytest.param(_any, "is not supported; use str, int", id="any"),
        pytest.param(_bare_list, "give the element type", id="bare-list"),
        pytest.param(_union, "no union types", id="union"),
        pytest.param(_int_literal, "Literal values must all be strings", id="int-literal"),
        pytest.param(_int_keys, "object keys must be str", id="int-keys"),
        pytest.param(_nested_optional, "no null or union types", id="nested-optional"),
    ],
)
def test_4_5_51_unsupported_signature_fails_at_decoration(
    registry: ToolRegistry, func: Any, match: str
) -> None:
    with pytest.raises(TypeError, match=match):
        tool(registry=registry)(func)
    assert len(registry) == 0


def test_4_5_51_invalid_tool_name_is_an_adm_error(registry: ToolRegistry) -> None:
    with pytest.raises(AdmError, match="must start with a letter") as info:
        tool(name="9lives", registry=registry)(_plain)
    assert info.value.path == "name"


def test_4_5_51_kwargs_are_ignored(registry: ToolRegistry) -> None:
    @tool(registry=registry)
    def flexible(a: int, **extra: Any) -> int:
        """Flexible."""
        return a

    assert list(flexible.__aesp_tool__.declaration.parameters["properties"]) == ["a"]


def test_tool_rejects_non_callable_positional_argument() -> None:
    with pytest.raises(TypeError, match="keyword arguments only"):
        cast(Any, tool)("name")
