"""Build an ADM ``FunctionDeclaration`` from a Python function (LATER §2.1, checklist 51-53).

Type mapping: ``str``→STRING, ``int``→INTEGER, ``float``→NUMBER, ``bool``→BOOLEAN,
``list[X]``→ARRAY of X, ``dict``/``dict[str, X]``/``Mapping``→OBJECT (any keys),
``Literal["a", "b"]``→STRING with ``enum``, a ``TypedDict``→OBJECT with its properties,
``Annotated[X, "text"]``→X described by the text, and ``X | None`` (only with a default)→an
optional X. Parameters with a default are not ``required``. Anything else is refused with a
TypeError at decoration time, because ADM v1.0 cannot express it (there is no null, union or
"any" type).
"""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from ..adm import FunctionDeclaration, validate_schema
from ._docstrings import parse_docstring

__all__ = ["annotation_to_schema", "build_declaration", "split_optional"]

_PRIMITIVES: dict[object, str] = {str: "STRING", int: "INTEGER", float: "NUMBER", bool: "BOOLEAN"}
_LIST_ORIGINS = (list, Sequence)
_DICT_ORIGINS = (dict, Mapping)


def split_optional(annotation: object) -> tuple[object, bool]:
    """Strip ``None`` from ``X | None`` / ``Optional[X]``.

    Args:
        annotation: A resolved type annotation.

    Returns:
        ``(X, True)`` for an optional X, otherwise ``(annotation, False)``.

    Raises:
        TypeError: For a union of several non-None types (ADM has no union type).
    """
    if get_origin(annotation) not in (Union, types.UnionType):
        return annotation, False
    members = [arg for arg in get_args(annotation) if arg is not type(None)]
    if len(members) != 1:
        raise TypeError(
            f"union {annotation!r} cannot be expressed in ADM v1.0 (no union types); use one type"
        )
    return members[0], len(members) != len(get_args(annotation))


def _strip_annotated(annotation: object) -> tuple[object, str | None]:
    """Return the base type and the first string metadata of ``Annotated[...]``."""
    if get_origin(annotation) is not Annotated:
        return annotation, None
    base, *metadata = get_args(annotation)
    text = next((m for m in metadata if isinstance(m, str) and m.strip()), None)
    return base, text


def annotation_to_schema(annotation: object, where: str) -> dict[str, object]:
    """Map a Python type annotation to an ADM Schema.

    Args:
        annotation: A resolved annotation (no strings).
        where: What is being mapped, for the error message (e.g. ``"parameter 'city'"``).

    Returns:
        A new Schema dict.

    Raises:
        TypeError: If the annotation has no ADM equivalent.
    """
    annotation, text = _strip_annotated(annotation)
    schema = _map_type(annotation, where)
    if text:
        schema["description"] = text
    return schema


def _map_type(annotation: object, where: str) -> dict[str, object]:
    """Core of annotation_to_schema, without Annotated handling."""
    if annotation in _PRIMITIVES:
        return {"type": _PRIMITIVES[annotation]}
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Literal:
        if not args or not all(isinstance(a, str) for a in args):
            raise TypeError(
                f"{where}: Literal values must all be strings (ADM enums are STRING only)"
            )
        return {"type": "STRING", "enum": list(dict.fromkeys(args))}
    if annotation in _LIST_ORIGINS or origin in _LIST_ORIGINS:
        if not args:
            raise TypeError(
                f"{where}: give the element type, e.g. list[str] (ADM arrays need 'items')"
            )
        return {"type": "ARRAY", "items": annotation_to_schema(args[0], f"{where} items")}
    if annotation in _DICT_ORIGINS or origin in _DICT_ORIGINS:
        if args and args[0] is not str:
            raise TypeError(f"{where}: object keys must be str, got {args[0]!r}")
        return {"type": "OBJECT", "properties": {}}
    if typing.is_typeddict(annotation):
        return _typeddict_schema(annotation, where)
    if get_origin(annotation) in (Union, types.UnionType):
        raise TypeError(
            f"{where}: {annotation!r} cannot be expressed in ADM v1.0 (no null or union types)"
        )
    raise TypeError(
        f"{where}: type {annotation!r} is not supported; use str, int, float, bool, list[X], dict, "
        "Literal[...] or a TypedDict"
    )


def _typeddict_schema(annotation: Any, where: str) -> dict[str, object]:
    """OBJECT Schema for a TypedDict: its keys, with ``__required_keys__`` as required."""
    hints = typing.get_type_hints(annotation, include_extras=True)
    properties: dict[str, object] = {}
    for key, hint in hints.items():
        base, _ = split_optional(hint)
        properties[key] = annotation_to_schema(base, f"{where} key {key!r}")
    required = [key for key in hints if key in annotation.__required_keys__]
    schema: dict[str, object] = {"type": "OBJECT", "properties": properties}
    if required:
        schema["required"] = required
    return schema


def _parameter_schema(
    param: inspect.Parameter, hints: Mapping[str, object], docs: Mapping[str, str], tool_name: str
) -> dict[str, object]:
    """Schema for one parameter, with its description from Annotated text or the docstring."""
    where = f"tool {tool_name!r} parameter {param.name!r}"
    if param.name not in hints:
        raise TypeError(f"{where} has no type annotation; LATER needs one to build the ADM Schema")
    annotation, text = _strip_annotated(hints[param.name])
    annotation, optional = split_optional(annotation)
    if optional and param.default is inspect.Parameter.empty:
        raise TypeError(f"{where} is Optional but has no default; give it one (e.g. = None)")
    schema = annotation_to_schema(annotation, where)
    description = docs.get(param.name) or text
    if description:
        schema["description"] = description
    return schema


def build_declaration(
    func: Callable[..., Any], *, name: str | None = None, description: str | None = None
) -> FunctionDeclaration:
    """Introspect ``func``'s signature and docstring into a FunctionDeclaration.

    Args:
        func: The tool function (sync, async, generator or async generator).
        name: Tool name; defaults to ``func.__name__``.
        description: Tool description; defaults to the docstring's first paragraph.

    Returns:
        The declaration; its ``parameters`` is a valid OBJECT Schema.

    Raises:
        TypeError: For an unsupported annotation, a missing annotation or description,
            ``*args`` or positional-only parameters (LATER calls tools with keywords).
        AdmError: If the resulting name or description breaks ADM rules.
    """
    tool_name: str = name or str(getattr(func, "__name__", ""))
    doc_description, docs = parse_docstring(inspect.getdoc(func))
    final_description = description or doc_description
    if not final_description:
        raise TypeError(
            f"tool {tool_name!r} needs a description: add a docstring or pass description=..."
        )
    hints = typing.get_type_hints(func, include_extras=True)
    properties: dict[str, object] = {}
    required: list[str] = []
    for param in inspect.signature(func).parameters.values():
        if param.kind is inspect.Parameter.VAR_KEYWORD:
            continue  # **kwargs takes nothing: the args root refuses undeclared keys (C-19)
        if param.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.POSITIONAL_ONLY):
            raise TypeError(
                f"tool {tool_name!r} parameter {param.name!r}: LATER passes arguments by keyword only"
            )
        properties[param.name] = _parameter_schema(param, hints, docs, tool_name)
        if param.default is inspect.Parameter.empty:
            required.append(param.name)
    parameters: dict[str, object] = {"type": "OBJECT", "properties": properties}
    if required:
        parameters["required"] = required
    validate_schema(parameters)
    return FunctionDeclaration(name=tool_name, description=final_description, parameters=parameters)
