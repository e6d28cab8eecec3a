"""ADM ``ToolResult``, ``ErrorObject`` and ``ResultStatus`` (ADM §4.5).

``ToolResult`` is a discriminated union: SUCCESS carries ``content`` (which may be JSON
``null``) and no ``error``; ERROR carries ``error`` and no ``content``. Absent content is
:data:`~aesp.adm.MISSING`, never ``None`` (C-18). Constructors enforce the discriminator and the
id rules, so a ToolResult object can never be in an invalid state.
"""

from __future__ import annotations

import enum
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final, Self

from ._fields import (
    as_object,
    check_extensions,
    collect_extensions,
    optional_field,
    required_field,
    to_plain,
)
from ._paths import join_path, json_type_name
from .errors import AdmError, AdmWarning
from .names import validate_call_id, validate_name
from .profile import MISSING, MissingType, Profile, empty_mapping

if TYPE_CHECKING:
    from .calls import FunctionCall

__all__ = ["MAX_ERROR_MESSAGE_LENGTH", "ErrorObject", "ResultStatus", "ToolResult"]

MAX_ERROR_MESSAGE_LENGTH: Final = 500  # ADM §4.5.7 recommended maximum
_UPPER_SNAKE: Final = re.compile(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*\Z")
_RESULT_FIELDS: Final = frozenset({"call_id", "name", "status", "content", "error"})
_ERROR_FIELDS: Final = frozenset({"message", "type"})


class ResultStatus(enum.StrEnum):
    """Outcome of a call: SUCCESS carries ``content``, ERROR carries ``error``."""

    SUCCESS = "SUCCESS"
    ERROR = "ERROR"


@dataclass(frozen=True)
class ErrorObject:
    """Why a call failed (ADM §4.5.7).

    Attributes:
        message: Non-blank, model-safe explanation (SHOULD be at most 500 characters).
        type: Optional UPPER_SNAKE_CASE code such as ``PARAMETER_VALIDATION_FAILED``.
    """

    message: str
    type: str | None = None

    def __post_init__(self) -> None:
        """Check that message is non-blank and type is a non-empty string if given."""
        _check_message(self.message, "message")
        if self.type is not None and (not isinstance(self.type, str) or not self.type):
            raise AdmError(
                "type", "error type must be a non-empty string when present", rule="4.4#45"
            )

    @classmethod
    def from_json(cls, obj: object, *, profile: Profile = Profile.STRICT) -> Self:
        """Parse an ErrorObject; fields other than ``message`` and ``type`` are refused.

        Args:
            obj: A JSON object.
            profile: Profile; only affects how ``"type": null`` is treated.

        Returns:
            The error object. A non-UPPER_SNAKE ``type`` or an over-long ``message`` gives an
            :class:`~aesp.adm.AdmWarning` (SHOULD rules, checklist 45).

        Raises:
            AdmError: If ``message`` is missing or blank, or there are other fields (4.4#44).
        """
        return cls._parse(obj, profile, "")

    @classmethod
    def _parse(cls, obj: object, profile: Profile, _path: str) -> Self:
        """Parse with a path prefix (used by ToolResult)."""
        data = as_object(obj, _path, "ErrorObject")
        for key in data:
            if key not in _ERROR_FIELDS:
                raise AdmError(
                    join_path(_path, key),
                    "an ErrorObject has only 'message' and 'type'",
                    rule="4.4#44",
                )
        message = required_field(data, "message", _path, rule="4.4#44")
        _check_message(message, join_path(_path, "message"))
        error_type = optional_field(data, "type", _path, profile)
        type_path = join_path(_path, "type")
        if error_type is not None and (not isinstance(error_type, str) or not error_type):
            raise AdmError(
                type_path, "error type must be a non-empty string when present", rule="4.4#45"
            )
        if isinstance(error_type, str) and not _UPPER_SNAKE.match(error_type):
            warnings.warn(
                f"{type_path}: error type {error_type!r} should be UPPER_SNAKE_CASE",
                AdmWarning,
                stacklevel=4,
            )
        if isinstance(message, str) and len(message) > MAX_ERROR_MESSAGE_LENGTH:
            warnings.warn(
                f"{join_path(_path, 'message')}: message is {len(message)} characters; "
                f"it should be at most {MAX_ERROR_MESSAGE_LENGTH}",
                AdmWarning,
                stacklevel=4,
            )
        return cls(message=str(message), type=error_type if isinstance(error_type, str) else None)

    def to_json(self) -> dict[str, object]:
        """Serialise, omitting ``type`` when unset.

        Returns:
            A fresh dict.
        """
        out: dict[str, object] = {"message": self.message}
        if self.type is not None:
            out["type"] = self.type
        return out


def _check_message(message: object, path: str) -> None:
    """An error message must be a non-blank string (4.4#44)."""
    if not isinstance(message, str):
        raise AdmError(
            path, f"message must be a string, got {json_type_name(message)}", rule="4.4#44"
        )
    if not message.strip():
        raise AdmError(path, "message must not be empty or whitespace-only", rule="4.4#44")


@dataclass(frozen=True)
class ToolResult:
    """The outcome of one FunctionCall (ADM §4.5).

    Attributes:
        call_id: Equal to the originating call's ``call_id``.
        name: Equal to the originating call's ``name``.
        status: SUCCESS or ERROR.
        content: The return value for SUCCESS (any JSON, including ``None`` for JSON null);
            :data:`~aesp.adm.MISSING` for ERROR.
        error: The ErrorObject for ERROR; None for SUCCESS.
        extensions: Unknown fields kept from the input.
    """

    call_id: str
    name: str
    status: ResultStatus
    content: object | MissingType = MISSING
    error: ErrorObject | None = None
    extensions: Mapping[str, object] = field(default_factory=empty_mapping)

    def __post_init__(self) -> None:
        """Check ids and the SUCCESS/ERROR discriminator (4.4#40-43)."""
        validate_call_id(self.call_id, "call_id", rule="4.4#43")
        validate_name(self.name, "name", rule="4.4#43")
        _check_discriminator(self.status, self.content is not MISSING, self.error, "")
        if self.extensions:
            object.__setattr__(
                self, "extensions", check_extensions(self.extensions, _RESULT_FIELDS, "ToolResult")
            )

    @classmethod
    def success(cls, call_id: str, name: str, content: object) -> Self:
        """Build a SUCCESS result.

        Args:
            call_id: The originating call's id.
            name: The originating call's function name.
            content: The return value (``None`` means JSON null, a legitimate SUCCESS payload).

        Returns:
            The result.
        """
        return cls(call_id=call_id, name=name, status=ResultStatus.SUCCESS, content=content)

    @classmethod
    def failure(cls, call_id: str, name: str, message: str, type: str | None = None) -> Self:  # noqa: A002
        """Build an ERROR result; a message over 500 characters is shortened (ADM §4.5.7 SHOULD).

        Args:
            call_id: The originating call's id.
            name: The originating call's function name.
            message: Model-safe explanation (no stack traces or internals).
            type: Optional UPPER_SNAKE_CASE code.

        Returns:
            The result.
        """
        if len(message) > MAX_ERROR_MESSAGE_LENGTH:
            message = message[: MAX_ERROR_MESSAGE_LENGTH - 3] + "..."
        error = ErrorObject(message=message, type=type)
        return cls(call_id=call_id, name=name, status=ResultStatus.ERROR, error=error)

    @classmethod
    def from_json(cls, obj: object, *, profile: Profile = Profile.STRICT) -> Self:
        """Parse a ToolResult; ``content`` presence is decided by key, not by value (C-18).

        Args:
            obj: A JSON object.
            profile: Validation profile for unknown fields.

        Returns:
            The result.

        Raises:
            AdmError: For bad ids, an unknown status, or a broken discriminator (4.4#40-43).
        """
        data = as_object(obj, "", "ToolResult")
        call_id = required_field(data, "call_id", "", rule="4.4#43")
        validate_call_id(call_id, "call_id", rule="4.4#43")
        name = required_field(data, "name", "", rule="4.4#43")
        validate_name(name, "name", rule="4.4#43")
        raw_status = required_field(data, "status", "", rule="4.4#42")
        if raw_status not in ("SUCCESS", "ERROR"):
            raise AdmError(
                "status", f"status must be 'SUCCESS' or 'ERROR', got {raw_status!r}", rule="4.4#42"
            )
        status = ResultStatus(raw_status)
        error: ErrorObject | None = None
        raw_error = optional_field(data, "error", "", profile)
        if raw_error is not None:
            error = ErrorObject._parse(raw_error, profile, "error")
        has_content = "content" in data
        _check_discriminator(status, has_content, error, "")
        extensions = collect_extensions(data, _RESULT_FIELDS, "", profile, "ToolResult")
        content = data["content"] if has_content else MISSING
        return cls(str(call_id), str(name), status, content, error, extensions)

    def to_json(self) -> dict[str, object]:
        """Serialise; ``content`` is written (possibly as null) only for SUCCESS.

        Returns:
            A fresh dict.
        """
        out: dict[str, object] = {
            "call_id": self.call_id,
            "name": self.name,
            "status": self.status.value,
        }
        if self.content is not MISSING:
            out["content"] = to_plain(self.content)
        if self.error is not None:
            out["error"] = self.error.to_json()
        out.update({key: to_plain(value) for key, value in self.extensions.items()})
        return out

    def check_matches(self, call: FunctionCall) -> None:
        """Check that this result answers ``call`` (same call_id and name, 4.4#43).

        Args:
            call: The originating call.

        Raises:
            AdmError: Path ``call_id`` or ``name`` naming both values.
        """
        if self.call_id != call.call_id:
            raise AdmError(
                "call_id",
                f"result call_id {self.call_id!r} does not match the call's {call.call_id!r}",
                rule="4.4#43",
            )
        if self.name != call.name:
            raise AdmError(
                "name",
                f"result name {self.name!r} does not match the call's {call.name!r}",
                rule="4.4#43",
            )


def _check_discriminator(status: object, has_content: bool, error: object, path: str) -> None:
    """SUCCESS needs content and no error; ERROR needs an error and no content (4.4#40-42)."""
    if not isinstance(status, ResultStatus):
        message = f"status must be a ResultStatus, got {status!r}"
        raise AdmError(join_path(path, "status"), message, rule="4.4#42")
    if error is not None and not isinstance(error, ErrorObject):
        message = f"error must be an ErrorObject, got {type(error).__name__}"
        raise AdmError(join_path(path, "error"), message)
    if has_content and error is not None:
        message = "a ToolResult must not carry both 'content' and 'error'"
        raise AdmError(path or "$", message, rule="4.4#42")
    if status is ResultStatus.SUCCESS:
        if not has_content:
            message = "a SUCCESS result requires 'content' (null is allowed)"
            raise AdmError(join_path(path, "content"), message, rule="4.4#40")
        return
    if has_content:
        message = "an ERROR result must not carry 'content'"
        raise AdmError(join_path(path, "content"), message, rule="4.4#41")
    if error is None:
        raise AdmError(join_path(path, "error"), "an ERROR result requires 'error'", rule="4.4#41")
