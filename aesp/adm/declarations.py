"""ADM ``FunctionDeclaration`` (ADM §4.2) and ``Tool`` (ADM §4.1).

Constructors check the profile-independent field rules cheaply (name pattern, non-blank
description, parameters is a mapping, unique names). ``from_json`` applies every rule for the
chosen profile, including full Schema validation, and reports paths such as
``function_declarations[1].parameters.properties.city.type``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final, Self

from ._fields import (
    as_object,
    check_description,
    check_extensions,
    collect_extensions,
    required_field,
    to_plain,
)
from ._paths import index_path, join_path, json_type_name
from .errors import AdmError, AdmWarning
from .names import validate_name
from .profile import Profile, empty_mapping
from .schema import validate_schema
from .validate import compile_validator

__all__ = ["FunctionDeclaration", "Tool"]

_DECL_FIELDS: Final = frozenset({"name", "description", "parameters"})
_TOOL_FIELDS: Final = frozenset({"function_declarations"})


@dataclass(frozen=True)
class FunctionDeclaration:
    """One callable function: its name, description and ADM parameters Schema.

    Attributes:
        name: Function name matching :data:`~aesp.adm.NAME_PATTERN`.
        description: Non-blank description (at most 1000 code points in STRICT).
        parameters: Root Schema of the arguments; SHOULD be OBJECT. Treat as read-only.
        extensions: Unknown fields kept from the input (extension-prefixed in STRICT).
    """

    name: str
    description: str
    parameters: Mapping[str, object]
    extensions: Mapping[str, object] = field(default_factory=empty_mapping)
    _validators: dict[Profile, Callable[[object], None]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        """Check field-level invariants (see the module docstring)."""
        validate_name(self.name, "name")
        check_description(self.description, "description", None)
        if not isinstance(self.parameters, Mapping):
            raise AdmError(
                "parameters",
                f"parameters must be a Schema object, got {json_type_name(self.parameters)}",
            )
        object.__setattr__(
            self,
            "extensions",
            check_extensions(self.extensions, _DECL_FIELDS, "FunctionDeclaration"),
        )

    @classmethod
    def from_json(cls, obj: object, *, profile: Profile = Profile.STRICT) -> Self:
        """Parse and fully validate a FunctionDeclaration.

        Args:
            obj: A JSON object (e.g. from :func:`~aesp.adm.parse_json`).
            profile: Validation profile (checklist 13, 27, 29; C-16, C-17).

        Returns:
            The declaration.

        Raises:
            AdmError: On the first rule broken, with its path.
        """
        return cls._parse(obj, profile, "")

    @classmethod
    def _parse(cls, obj: object, profile: Profile, path: str) -> Self:
        """Parse with a path prefix (used by Tool)."""
        data = as_object(obj, path, "FunctionDeclaration")
        name = required_field(data, "name", path, rule="4.3#25")
        validate_name(name, join_path(path, "name"))
        description = check_description(
            required_field(data, "description", path, rule="4.3#26"),
            join_path(path, "description"),
            profile,
        )
        parameters = required_field(data, "parameters", path, rule="4.3#28")
        params_path = join_path(path, "parameters")
        validate_schema(parameters, profile=profile, path=params_path)
        assert isinstance(parameters, Mapping)  # validate_schema checked it
        if parameters.get("type") != "OBJECT":
            message = (
                f"the parameters root should be an OBJECT Schema, got {parameters.get('type')}"
            )
            if profile is Profile.STRICT:
                raise AdmError(join_path(params_path, "type"), message, rule="4.3#29")
            warnings.warn(f"{params_path}.type: {message}", AdmWarning, stacklevel=3)
        extensions = collect_extensions(data, _DECL_FIELDS, path, profile, "FunctionDeclaration")
        return cls(
            name=str(name), description=description, parameters=parameters, extensions=extensions
        )

    def to_json(self) -> dict[str, object]:
        """Serialise to a plain JSON object (extensions included, nothing null).

        Returns:
            A fresh dict suitable for :func:`~aesp.adm.canonical_json` or ``json.dumps``.
        """
        out: dict[str, object] = {
            "name": self.name,
            "description": self.description,
            "parameters": to_plain(self.parameters),
        }
        out.update({key: to_plain(value) for key, value in self.extensions.items()})
        return out

    def args_validator(self, profile: Profile = Profile.STRICT) -> Callable[[object], None]:
        """Return the compiled args validator for this declaration, cached per profile.

        Args:
            profile: Validation profile for nested objects (the C-19 root rule always applies).

        Returns:
            A callable raising :class:`AdmError` (paths rooted at ``args``) for invalid args.

        Raises:
            AdmError: If ``parameters`` is not a valid Schema under ``profile``.
        """
        validator = self._validators.get(profile)
        if validator is None:
            validator = compile_validator(self.parameters, profile=profile, root_args=True)
            self._validators[profile] = validator
        return validator


@dataclass(frozen=True)
class Tool:
    """A group of function declarations (ADM §4.1).

    Attributes:
        function_declarations: At least one declaration; names unique (case-sensitive).
        extensions: Unknown fields kept from the input.
    """

    function_declarations: tuple[FunctionDeclaration, ...]
    extensions: Mapping[str, object] = field(default_factory=empty_mapping)

    def __post_init__(self) -> None:
        """Normalise to a tuple and check non-emptiness and name uniqueness."""
        declarations = tuple(self.function_declarations)
        object.__setattr__(self, "function_declarations", declarations)
        _check_declarations(declarations, "function_declarations")
        object.__setattr__(
            self, "extensions", check_extensions(self.extensions, _TOOL_FIELDS, "Tool")
        )

    @classmethod
    def from_json(cls, obj: object, *, profile: Profile = Profile.STRICT) -> Self:
        """Parse and fully validate a Tool.

        Args:
            obj: A JSON object.
            profile: Validation profile.

        Returns:
            The Tool.

        Raises:
            AdmError: On the first rule broken; errors inside a declaration name it (4.3#32).
        """
        data = as_object(obj, "", "Tool")
        raw = required_field(data, "function_declarations", "", rule="4.3#30")
        if not isinstance(raw, list | tuple):
            raise AdmError(
                "function_declarations",
                f"must be an array, got {json_type_name(raw)}",
                rule="4.3#30",
            )
        declarations: list[FunctionDeclaration] = []
        for i, item in enumerate(raw):
            item_path = index_path("function_declarations", i)
            try:
                declarations.append(FunctionDeclaration._parse(item, profile, item_path))
            except AdmError as exc:
                label = item.get("name") if isinstance(item, Mapping) else None
                if isinstance(label, str) and exc.path != join_path(item_path, "name"):
                    raise AdmError(
                        exc.path, f"in declaration {label!r}: {exc.reason}", rule=exc.rule
                    ) from None
                raise
        _check_declarations(declarations, "function_declarations")
        extensions = collect_extensions(data, _TOOL_FIELDS, "", profile, "Tool")
        return cls(function_declarations=tuple(declarations), extensions=extensions)

    def to_json(self) -> dict[str, object]:
        """Serialise to a plain JSON object.

        Returns:
            A fresh dict.
        """
        out: dict[str, object] = {
            "function_declarations": [d.to_json() for d in self.function_declarations]
        }
        out.update({key: to_plain(value) for key, value in self.extensions.items()})
        return out

    def get(self, name: str) -> FunctionDeclaration | None:
        """Find a declaration by exact (case-sensitive) name.

        Args:
            name: Function name.

        Returns:
            The declaration, or None if this Tool declares no such function.
        """
        for declaration in self.function_declarations:
            if declaration.name == name:
                return declaration
        return None


def _check_declarations(declarations: Iterable[object], path: str) -> None:
    """At least one FunctionDeclaration; names unique, compared case-sensitively (4.3#30, #31)."""
    seen: dict[str, int] = {}
    count = 0
    for i, declaration in enumerate(declarations):
        count += 1
        if not isinstance(declaration, FunctionDeclaration):
            raise AdmError(
                index_path(path, i),
                f"expected a FunctionDeclaration, got {type(declaration).__name__}",
            )
        if declaration.name in seen:
            raise AdmError(
                join_path(index_path(path, i), "name"),
                f"duplicate function name {declaration.name!r} (also at index {seen[declaration.name]})",
                rule="4.3#31",
            )
        seen[declaration.name] = i
    if count == 0:
        raise AdmError(path, "a Tool must declare at least one function", rule="4.3#30")
