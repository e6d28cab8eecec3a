"""ADM ``FunctionCall`` (ADM §4.4): a request to run one declared function.

Parsing checks the envelope (call_id, name, args is an object). Checking ``args`` against the
trusted Schema is a separate step, :meth:`FunctionCall.validate_against`, because only the
Host's (or LATER's) own declaration is authoritative (GRID §2.1 rule 3).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final, Self

from ._fields import as_object, check_extensions, collect_extensions, required_field, to_plain
from ._paths import json_type_name
from .declarations import FunctionDeclaration, Tool
from .errors import AdmError
from .names import validate_call_id, validate_name
from .profile import Profile, empty_mapping

__all__ = ["FunctionCall"]

_CALL_FIELDS: Final = frozenset({"call_id", "name", "args"})


@dataclass(frozen=True)
class FunctionCall:
    """A request to run one declared function (ADM §4.4).

    Attributes:
        call_id: Caller-chosen id, 1-128 printable ASCII characters (SHOULD be a UUID v4).
        name: Function name; must match a declaration exactly.
        args: Argument object (``{}`` when there are none). Treat as read-only.
        extensions: Unknown fields kept from the input.
    """

    call_id: str
    name: str
    args: Mapping[str, object]
    extensions: Mapping[str, object] = field(default_factory=empty_mapping)

    def __post_init__(self) -> None:
        """Check call_id, name and that args is an object."""
        validate_call_id(self.call_id, "call_id")
        validate_name(self.name, "name", rule="4.4#35")
        if not isinstance(self.args, Mapping):
            raise AdmError(
                "args", f"args must be an object, got {json_type_name(self.args)}", rule="4.4#36"
            )
        if self.extensions:
            object.__setattr__(
                self, "extensions", check_extensions(self.extensions, _CALL_FIELDS, "FunctionCall")
            )

    @classmethod
    def from_json(cls, obj: object, *, profile: Profile = Profile.STRICT) -> Self:
        """Parse a FunctionCall (args are *not* checked against any Schema here).

        Args:
            obj: A JSON object.
            profile: Validation profile for unknown fields.

        Returns:
            The call.

        Raises:
            AdmError: If a field is missing, null or malformed (checklist 33, 35, 36).
        """
        data = as_object(obj, "", "FunctionCall")
        call_id = required_field(data, "call_id", "", rule="4.4#33")
        validate_call_id(call_id, "call_id")
        name = required_field(data, "name", "", rule="4.4#35")
        validate_name(name, "name", rule="4.4#35")
        args = required_field(data, "args", "", rule="4.4#36")
        if not isinstance(args, Mapping):
            raise AdmError(
                "args", f"args must be an object, got {json_type_name(args)}", rule="4.4#36"
            )
        extensions = collect_extensions(data, _CALL_FIELDS, "", profile, "FunctionCall")
        return cls(call_id=str(call_id), name=str(name), args=args, extensions=extensions)

    def to_json(self) -> dict[str, object]:
        """Serialise to a plain JSON object.

        Returns:
            A fresh dict; ``args`` is always present.
        """
        out: dict[str, object] = {
            "call_id": self.call_id,
            "name": self.name,
            "args": to_plain(self.args),
        }
        out.update({key: to_plain(value) for key, value in self.extensions.items()})
        return out

    def validate_against(
        self, decl: FunctionDeclaration | Tool, *, profile: Profile = Profile.STRICT
    ) -> None:
        """Check this call against a declaration, or against a Tool's declarations.

        Args:
            decl: The trusted declaration, or a Tool to look the name up in (case-sensitive).
            profile: Profile for nested objects; the C-19 args-root rule always applies.

        Raises:
            AdmError: ``name`` if no declaration matches (4.4#37); ``args...`` if the arguments
                break the Schema (4.4#38, #39).
        """
        if isinstance(decl, Tool):
            found = decl.get(self.name)
            if found is None:
                raise AdmError(
                    "name",
                    f"no function named {self.name!r} is declared (names are case-sensitive)",
                    rule="4.4#37",
                )
            decl = found
        if decl.name != self.name:
            raise AdmError(
                "name",
                f"call is for {self.name!r} but the declaration is {decl.name!r}",
                rule="4.4#37",
            )
        decl.args_validator(profile)(self.args)
