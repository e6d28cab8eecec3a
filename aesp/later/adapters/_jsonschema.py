"""Conversion between ADM Schemas and the JSON Schema dialect frameworks use.

* :func:`adm_to_json_schema` is exact: ADM is a subset of JSON Schema (lower-case types).
* :func:`json_schema_to_adm` is best effort for imports, following LATER §2.4: types it cannot
  express in ADM (unions, ``$ref``, formats, nulls) become STRING, the documented fallback.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

__all__ = ["adm_to_json_schema", "json_schema_to_adm"]

_TO_JSON: Final = {
    "STRING": "string",
    "NUMBER": "number",
    "INTEGER": "integer",
    "BOOLEAN": "boolean",
    "ARRAY": "array",
    "OBJECT": "object",
}
_FROM_JSON: Final = {value: key for key, value in _TO_JSON.items()}


def adm_to_json_schema(schema: Mapping[str, object], *, root: bool = True) -> dict[str, object]:
    """Translate a valid ADM Schema to JSON Schema.

    Args:
        schema: A valid ADM Schema.
        root: Add ``additionalProperties: false`` at the root OBJECT (the C-19 args rule).

    Returns:
        A new JSON Schema dict.
    """
    out: dict[str, object] = {"type": _TO_JSON[str(schema["type"])]}
    if "description" in schema:
        out["description"] = schema["description"]
    enum = schema.get("enum")
    if isinstance(enum, list | tuple):
        out["enum"] = list(enum)
    items = schema.get("items")
    if isinstance(items, Mapping):
        out["items"] = adm_to_json_schema(items, root=False)
    if schema["type"] == "OBJECT":
        properties = schema.get("properties") or {}
        assert isinstance(properties, Mapping)
        out["properties"] = {
            key: adm_to_json_schema(sub, root=False) for key, sub in properties.items()
        }
        required = schema.get("required")
        if isinstance(required, list | tuple) and required:
            out["required"] = list(required)
        if root:
            out["additionalProperties"] = False
    return out


def json_schema_to_adm(schema: Mapping[str, object]) -> dict[str, object]:
    """Translate a JSON Schema fragment to an ADM Schema (best effort; fallback STRING).

    Args:
        schema: A JSON Schema object (e.g. from a framework's tool definition).

    Returns:
        A new ADM Schema dict.
    """
    json_type = schema.get("type")
    adm_type = _FROM_JSON.get(json_type) if isinstance(json_type, str) else None
    out: dict[str, object]
    if adm_type is None:
        out = {"type": "STRING"}
    elif adm_type == "ARRAY":
        items = schema.get("items")
        out = {
            "type": "ARRAY",
            "items": json_schema_to_adm(items)
            if isinstance(items, Mapping)
            else {"type": "STRING"},
        }
    elif adm_type == "OBJECT":
        properties = schema.get("properties")
        props = properties if isinstance(properties, Mapping) else {}
        adm_props = {
            str(k): json_schema_to_adm(v) for k, v in props.items() if isinstance(v, Mapping)
        }
        out = {"type": "OBJECT", "properties": adm_props}
        required = schema.get("required")
        if isinstance(required, list):
            names = [name for name in dict.fromkeys(required) if name in adm_props]
            if names:
                out["required"] = names
    else:
        out = {"type": adm_type}
    enum = schema.get("enum")
    if (
        adm_type == "STRING"
        and isinstance(enum, list)
        and enum
        and all(isinstance(v, str) for v in enum)
    ):
        out["enum"] = list(dict.fromkeys(enum))
    description = schema.get("description")
    if isinstance(description, str) and description.strip():
        out["description"] = description
    return out
