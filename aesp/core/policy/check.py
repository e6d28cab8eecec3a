"""Static checks of a condition's references against C-33 and the tools' parameter schemas.

Why: a policy that reads a field that is never there fails closed on *every* call it applies
to, and one that compares a value with a literal of another type is silently never true
(CEL's heterogeneous ``==`` is false, not an error). Both are authoring mistakes that must be
refused when the policy is created (SPEC §3.12 "validate syntax and semantics"), not discovered
in production. The references come from :mod:`aesp.core.policy.refs`.

The activation is described here as an ADM-like schema (:data:`REQUEST_SCHEMA`) with two extra
types, ``TIMESTAMP`` and ``ANY``; ``request.args`` is replaced by each tool's own parameter
schema. ``NUMBER`` values are doubles in CEL (the engine converts them, see
:mod:`aesp.core.policy.activation`), ``INTEGER`` values are ints; CEL arithmetic does not mix
the two, so ``request.args.price + 1`` on a NUMBER is refused with a hint to write ``1.0``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from aesp.core.contracts import CLASSIFICATIONS, RISKS
from aesp.core.policy.refs import MACROS, Reference, Usage

__all__ = ["REQUEST_SCHEMA", "CheckError", "CheckResult", "check_references"]

Schema = Mapping[str, Any]

_S: Final = {"type": "STRING"}
_STRINGS: Final = {"type": "ARRAY", "items": _S}
_TIME: Final = {"type": "TIMESTAMP"}


def _object(**props: Schema) -> Schema:
    return {"type": "OBJECT", "properties": props, "required": list(props)}


_LEVELS: Final = {"type": "STRING", "enum": [*CLASSIFICATIONS, ""]}  # "" = unknown (denies)
REQUEST_SCHEMA: Final[Schema] = _object(
    time=_TIME,
    source_ip=_S,
    user=_object(
        id=_S,
        roles=_STRINGS,
        permissions=_STRINGS,
        security_clearance=_LEVELS,
        data_classification=_LEVELS,
        mfa_verified={"type": "BOOLEAN"},
        spending_limit={"type": "NUMBER"},
    ),
    tenant=_object(id=_S, cost_center=_S, business_unit=_S),
    resource=_object(
        type={"type": "STRING", "enum": ["tool"]},
        name=_S,
        classification={"type": "STRING", "enum": list(CLASSIFICATIONS)},
        risk={"type": "STRING", "enum": list(RISKS)},
        compliance_tags=_STRINGS,
        estimated_cost={"type": "NUMBER"},
    ),
    action=_S,
    args={"type": "OBJECT", "properties": {}},  # replaced by each tool's parameter schema
    session=_object(id=_S, expires_at=_TIME),
)  # C-33: the request activation

_STRING_METHODS: Final = frozenset({"startsWith", "endsWith", "matches", "contains"})
TIME_METHODS: Final = frozenset(
    {
        "getFullYear", "getMonth", "getDayOfYear", "getDayOfMonth", "getDate", "getDayOfWeek",
        "getHours", "getMinutes", "getSeconds", "getMilliseconds",
    }
)  # fmt: skip
_METHOD_TYPES: Final[Mapping[str, frozenset[str]]] = {
    **{m: frozenset({"STRING"}) for m in _STRING_METHODS},
    "size": frozenset({"STRING", "ARRAY", "OBJECT"}),
    **{m: frozenset({"ARRAY", "OBJECT"}) for m in MACROS},
    **{m: frozenset({"TIMESTAMP"}) for m in TIME_METHODS},
}
_LITERAL_TYPES: Final[Mapping[str, frozenset[str]]] = {
    "STRING": frozenset({"STRING"}),
    "INT": frozenset({"INTEGER", "NUMBER"}),
    "UINT": frozenset({"INTEGER", "NUMBER"}),
    "DOUBLE": frozenset({"INTEGER", "NUMBER"}),
    "BOOL": frozenset({"BOOLEAN"}),
    "BYTES": frozenset(),
}  # what a literal may be compared with (CEL compares int, uint and double with each other)
_ARITH_TYPES: Final[Mapping[str, frozenset[str]]] = {
    "INT": frozenset({"INTEGER"}),
    "DOUBLE": frozenset({"NUMBER"}),
    "UINT": frozenset(),
}  # CEL arithmetic does not mix int, uint and double
_LITERAL_WORDS: Final = {
    "STRING": "a string", "INT": "an int", "UINT": "a uint", "DOUBLE": "a double",
    "BOOL": "a bool", "BYTES": "bytes", "NULL": "null",
}  # fmt: skip


class CheckError(ValueError):
    """A reference that cannot work; ``reference`` and ``tool`` say where."""

    def __init__(self, message: str, *, reference: str, tool: str = "") -> None:
        super().__init__(message)
        self.reference = reference
        self.tool = tool


@dataclass(frozen=True, slots=True)
class CheckResult:
    """What the checks learnt.

    Attributes:
        warnings: Non-fatal findings (``PolicyDetails.warnings``), e.g. an unguarded optional
            argument.
        arg_schemas: tool → top-level argument → its schema, for every argument the condition
            reads (the engine converts those values to CEL's number types).
    """

    warnings: tuple[str, ...] = ()
    arg_schemas: Mapping[str, Mapping[str, Schema]] = field(default_factory=dict)


def check_references(
    references: Iterable[Reference], *, tools: Mapping[str, Schema | None]
) -> CheckResult:
    """Check every ``request`` reference; ``organization`` is free-form per tenant (unchecked).

    Args:
        references: From :func:`aesp.core.policy.refs.scan`.
        tools: Every tool the policy applies to → its parameter schema (None = not known).

    Raises:
        CheckError: An unknown field or argument, a field used as the wrong type, an enum
            compared with a value it can never have, or an argument of a tool without a schema.
    """
    refs = [r for r in references if r.root == "request"]
    guarded = {r.path for r in refs if r.in_has}
    warnings: list[str] = []
    arg_schemas: dict[str, dict[str, Schema]] = {}
    for ref in refs:
        if ref.path[:1] != ("args",):
            node, _ = _resolve(REQUEST_SCHEMA, ref.path, ref, tool="")
            _check_usage(node, ref, tool="")
            continue
        for tool, schema in tools.items():
            if schema is None:
                raise CheckError(
                    f"{ref.text} is read, but tool '{tool}' has no known parameter schema; "
                    "the argument cannot be checked.",
                    reference=ref.text,
                    tool=tool,
                )
            node, optional_at = _resolve(schema, ref.path[1:], ref, tool=tool)
            _check_usage(node, ref, tool=tool)
            if optional_at is not None and not ref.in_has:
                prefix = ref.path[: optional_at + 2]
                if prefix not in guarded:
                    warnings.append(
                        f"{ref.text} is optional in tool '{tool}': calls without it are denied "
                        f"(POLICY_EVALUATION_FAILED); guard it with has()."
                    )
            props = schema.get("properties") or {}
            keys = ref.path[1:2] or tuple(props)
            arg_schemas.setdefault(tool, {}).update({k: props[k] for k in keys if k in props})
    return CheckResult(tuple(dict.fromkeys(warnings)), arg_schemas)


def _where(ref: Reference, tool: str) -> str:
    return f"{ref.text} (tool '{tool}')" if tool else ref.text


def _resolve(
    schema: Schema, path: tuple[str, ...], ref: Reference, *, tool: str
) -> tuple[Schema | None, int | None]:
    """The schema at ``path`` (None = anything) and the index of the first optional step."""
    node: Schema = schema
    optional_at: int | None = None
    walked = "request.args" if tool else "request"
    for index, part in enumerate(path):
        kind = node.get("type")
        if kind == "ANY":
            return None, optional_at
        if kind == "OBJECT":
            props: Mapping[str, Schema] = node.get("properties") or {}
            if not props:
                return None, optional_at  # ADM: an empty map accepts any properties
            if part not in props:
                raise CheckError(
                    f"{_where(ref, tool)}: {walked} has no field {part!r} "
                    f"(it has {', '.join(sorted(props))}).",
                    reference=ref.text,
                    tool=tool,
                )
            if part not in (node.get("required") or ()) and optional_at is None:
                optional_at = index
            node = props[part]
            walked += f".{part}"
        elif kind == "ARRAY" and part == "[]":
            node = node.get("items") or {"type": "ANY"}
            walked += "[n]"
        else:
            raise CheckError(
                f"{_where(ref, tool)}: {walked} is {kind}, so it has no "
                + ("element " if part == "[]" else f"field {part!r} ")
                + "to read.",
                reference=ref.text,
                tool=tool,
            )
    return node, optional_at


def _check_usage(node: Schema | None, ref: Reference, *, tool: str) -> None:
    usage = ref.usage
    if node is None or usage is None or node.get("type") == "ANY":
        return
    kind = str(node.get("type"))
    problem = _problem(node, kind, usage)
    if problem:
        raise CheckError(
            f"{_where(ref, tool)} is {kind} but {problem}.", reference=ref.text, tool=tool
        )


def _problem(node: Schema, kind: str, usage: Usage) -> str:
    """Why ``usage`` cannot work on a value of ``node`` ("" when it can)."""
    if usage.kind == "logic":
        return "" if kind == "BOOLEAN" else f"is used as a condition ({usage.operator})"
    if usage.kind == "method":
        wanted = _METHOD_TYPES.get(usage.operator)
        if wanted is not None and kind not in wanted:
            return f"{usage.operator}() needs {' or '.join(sorted(wanted))}"
        if usage.operator in TIME_METHODS and usage.has_arguments:
            return f"{usage.operator}() with a time zone is not supported by the CEL engine"
        return ""
    if usage.kind == "arith":
        return _arith_problem(kind, usage)
    if usage.kind == "contains":
        return _contains_problem(node, kind, usage)
    for literal in usage.literal_types:  # compare, in_list
        if literal == "NULL":
            return "is compared with null, which an ADM value never is (use has())"
        if kind not in _LITERAL_TYPES.get(literal, frozenset()):
            return f"is compared with {_LITERAL_WORDS[literal]}: the condition can never be true"
    enum = node.get("enum")
    if enum is not None and usage.operator in ("==", "!=", "in"):
        for value in usage.values:
            if value not in enum:
                return f"can never equal {value!r} (allowed: {', '.join(map(repr, enum))})"
    return ""


def _arith_problem(kind: str, usage: Usage) -> str:
    if not usage.literal_types:  # unary minus
        return "" if kind in ("INTEGER", "NUMBER") else "is negated"
    literal = usage.literal_types[0]
    if literal == "STRING" and usage.operator == "+":
        return "" if kind == "STRING" else "is concatenated with a string"
    allowed = _ARITH_TYPES.get(literal, frozenset())
    if kind in allowed:
        return ""
    hint = {"INTEGER": " (write an int literal, or double(...))", "NUMBER": " (write 1.0, not 1)"}
    return (
        f"takes part in '{usage.operator}' with {_LITERAL_WORDS[literal]}; CEL arithmetic does "
        f"not mix types{hint.get(kind, '')}"
    )


def _contains_problem(node: Schema, kind: str, usage: Usage) -> str:
    literal = usage.literal_types[0]
    if kind == "ARRAY":
        items = str((node.get("items") or {}).get("type", "ANY"))
        if items == "ANY" or items in _LITERAL_TYPES.get(literal, frozenset()):
            enum = (node.get("items") or {}).get("enum")
            bad = [v for v in usage.values if enum is not None and v not in enum]
            return f"can never hold {bad[0]!r}" if bad else ""
        return f"holds {items} elements, never {_LITERAL_WORDS[literal]}"
    if kind == "OBJECT":
        if literal != "STRING":
            return "is searched for a non-string key"
        props = node.get("properties") or {}
        bad = [v for v in usage.values if props and v not in props]
        return f"has no key {bad[0]!r}" if bad else ""
    return "is searched with 'in', which needs a list or a map"
