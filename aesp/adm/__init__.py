"""ADM: the ALTAR Data Model v1.0 (SPEC §1): types, validation, canonical JSON and digests.

Everything a Host, Runtime, client or LATER needs to speak ADM:

* structures: :class:`FunctionDeclaration`, :class:`Tool`, :class:`FunctionCall`,
  :class:`ToolResult` (with :class:`ErrorObject`, :class:`ResultStatus`) and
  :class:`ToolManifest`, each with ``from_json`` (validating) and ``to_json``;
* Schema checks: :func:`validate_schema`, and :func:`compile_validator` /
  :func:`validate_value` for argument values;
* JSON: :func:`parse_json` (strict RFC 8259), :func:`canonical_json` (the project's canonical
  bytes) and :func:`content_digest`;
* :class:`Profile` (STRICT for Hosts, LENIENT for SDKs; SPEC C-16) and :data:`MISSING`.

All refusals raise :class:`AdmError` with a path, a reason and the SPEC rule.
"""

from __future__ import annotations

from ._json import MAX_JSON_DEPTH, canonical_json, content_digest, parse_json, validate_json_value
from .calls import FunctionCall
from .declarations import FunctionDeclaration, Tool
from .errors import AdmError, AdmWarning
from .manifest import MANIFEST_VERSION_PATTERN, ToolManifest
from .names import (
    CALL_ID_PATTERN,
    MAX_CALL_ID_LENGTH,
    MAX_NAME_LENGTH,
    NAME_PATTERN,
    validate_call_id,
    validate_name,
)
from .profile import EXTENSION_PREFIXES, MISSING, MissingType, Profile, is_extension_key
from .results import MAX_ERROR_MESSAGE_LENGTH, ErrorObject, ResultStatus, ToolResult
from .schema import MAX_SCHEMA_DEPTH, SCHEMA_KEYWORDS, SCHEMA_TYPES, validate_schema
from .validate import INT64_MAX, INT64_MIN, Validator, compile_validator, validate_value

ADM_VERSION = "1.0.0"
"""The ADM version this package implements (ADM §5: implementations SHOULD declare it)."""

__all__ = [
    "ADM_VERSION",
    "CALL_ID_PATTERN",
    "EXTENSION_PREFIXES",
    "INT64_MAX",
    "INT64_MIN",
    "MANIFEST_VERSION_PATTERN",
    "MAX_CALL_ID_LENGTH",
    "MAX_ERROR_MESSAGE_LENGTH",
    "MAX_JSON_DEPTH",
    "MAX_NAME_LENGTH",
    "MAX_SCHEMA_DEPTH",
    "MISSING",
    "NAME_PATTERN",
    "SCHEMA_KEYWORDS",
    "SCHEMA_TYPES",
    "AdmError",
    "AdmWarning",
    "ErrorObject",
    "FunctionCall",
    "FunctionDeclaration",
    "MissingType",
    "Profile",
    "ResultStatus",
    "Tool",
    "ToolManifest",
    "ToolResult",
    "Validator",
    "canonical_json",
    "compile_validator",
    "content_digest",
    "is_extension_key",
    "parse_json",
    "validate_call_id",
    "validate_json_value",
    "validate_name",
    "validate_schema",
    "validate_value",
]
