"""Sample ADM documents shared by the ADM tests (valid unless the name says otherwise)."""

from __future__ import annotations

from typing import Any

WEATHER_PARAMS: dict[str, Any] = {
    "type": "OBJECT",
    "properties": {
        "city": {"type": "STRING", "description": "City name"},
        "unit": {"type": "STRING", "enum": ["C", "F"]},
        "days": {"type": "INTEGER"},
        "tags": {"type": "ARRAY", "items": {"type": "STRING"}},
    },
    "required": ["city"],
}

DECLARATION: dict[str, Any] = {
    "name": "get_weather",
    "description": "Get the weather for a city. Températures in °C.",
    "parameters": WEATHER_PARAMS,
}

TOOL: dict[str, Any] = {
    "function_declarations": [
        DECLARATION,
        {
            "name": "no_args",
            "description": "Takes nothing.",
            "parameters": {"type": "OBJECT", "properties": {}},
        },
    ]
}

CALL: dict[str, Any] = {
    "call_id": "c-1",
    "name": "get_weather",
    "args": {"city": "Zürich", "days": 2},
}

RESULT_OK: dict[str, Any] = {
    "call_id": "c-1",
    "name": "get_weather",
    "status": "SUCCESS",
    "content": {"t": 21.5},
}
RESULT_NULL: dict[str, Any] = {
    "call_id": "c-1",
    "name": "get_weather",
    "status": "SUCCESS",
    "content": None,
}
RESULT_ERR: dict[str, Any] = {
    "call_id": "c-1",
    "name": "get_weather",
    "status": "ERROR",
    "error": {"message": "City not found", "type": "RESOURCE_NOT_FOUND"},
}

MANIFEST: dict[str, Any] = {
    "manifest_version": "1.0.0",
    "contracts": [
        {"name": "weather", "description": "Weather", "function_declarations": [DECLARATION]}
    ],
    "global_metadata": {"owner": "team-a", "environment": ""},
}
