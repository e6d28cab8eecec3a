"""Validate a policy definition and compile its CEL condition once (SPEC §3.12 lifecycle step 1).

Why all the checks here: a policy is evaluated on every call (item 160) and fails closed on any
error (item 161), so a policy that cannot work would deny every call it applies to, and one
that is silently never true would let through calls it was written to stop. Everything that
can be known before the first call is checked when the policy is created or the set is rebuilt
(``ValidatePolicy``, ``CreatePolicy{dry_run}``), and a rejection names the policy, the stage
and the offending reference.

The evaluation timeout (C-33: 100 ms) cannot interrupt ``cel.Program.execute``: it is a
synchronous Rust call that holds the GIL. So its cost is bounded *before* it runs: conditions
are short (:data:`MAX_CONDITION_LENGTH`), comprehensions are not nested
(:data:`MAX_COMPREHENSION_NESTING`: a nested one is quadratic in list sizes a caller controls),
only the engine's native functions are allowed (no Python callback but this package's own
``matches()`` cache, which runs in linear time), and the activation's
size is capped per call (``MAX_ACTIVATION_ELEMENTS``). The engine then measures and denies when
the budget was exceeded anyway.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from aesp.core.errors import ValidationError
from aesp.core.policy._cel import cel as _cel
from aesp.core.policy.check import TIME_METHODS, CheckError, check_references
from aesp.core.policy.flatten import Binding, Needs, rewrite
from aesp.core.policy.matches import rename_matches
from aesp.core.policy.model import (
    ApprovalRequirement,
    Effect,
    PolicyDefinition,
    approval_requirement,
)
from aesp.core.policy.refs import ROOTS, Reference, scan

if TYPE_CHECKING:
    import cel

__all__ = [
    "MAX_COMPREHENSION_NESTING",
    "MAX_CONDITION_LENGTH",
    "NATIVE_FUNCTIONS",
    "CompiledPolicy",
    "compile_policy",
    "normalise_applies_to",
]

MAX_CONDITION_LENGTH: Final = 4096  # bounds parse/check time and keeps a condition reviewable
MAX_COMPREHENSION_NESTING: Final = 1  # nested macros are quadratic in caller-controlled sizes
NATIVE_FUNCTIONS: Final = frozenset(
    {
        "size",
        "contains",
        "startsWith",
        "endsWith",
        "matches",
        "string",
        "int",
        "uint",
        "double",
        "bytes",
        "timestamp",
        "duration",
        "dyn",
        "type",
        *TIME_METHODS,
    }
)  # what common-expression-language evaluates natively (a test runs each one)
_TYPE_NAMES: Final = frozenset(
    {"int", "uint", "double", "bool", "string", "bytes", "list", "map", "null_type", "type"}
)  # CEL type identifiers, e.g. type(x) == string
_POLICY_ID = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.:-]{0,127}\Z")
_SEMVER = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?\Z"
)
_TOOL = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_-]{0,63}\Z")  # ADM §4.2.2 function names
_ACTION = re.compile(r"^[A-Za-z0-9_.-]{1,64}\Z")


@dataclass(frozen=True, slots=True, eq=False)
class CompiledPolicy:
    """A validated policy with its program; immutable and shareable between threads.

    Attributes:
        definition: What was compiled.
        effect: The normalised effect.
        tools: Tool names it applies to; None = every tool.
        actions: Actions it applies to; None = every action.
        program: The compiled CEL program that runs: the flattened condition
            (:mod:`aesp.core.policy.flatten`), or the original when it cannot be flattened.
        executed_source: The source of ``program``.
        references: What the condition reads (for ``ValidatePolicy``).
        needs: The variables ``program`` reads.
        arg_schemas: tool → argument → schema, for the arguments the condition reads.
        warnings: Non-fatal findings, reported by ``ValidatePolicy``.
        version_key: Sortable form of the SemVer ``version``.
        approval: For ``REQUIRE_APPROVAL``, the rule its parameters state (validated here);
            None for every other effect.
    """

    definition: PolicyDefinition
    effect: Effect
    tools: frozenset[str] | None
    actions: frozenset[str] | None
    program: cel.Program = field(repr=False)
    executed_source: str = field(repr=False)
    references: tuple[Reference, ...] = field(repr=False)
    needs: Needs = field(repr=False)
    arg_schemas: Mapping[str, Mapping[str, Mapping[str, Any]]] = field(repr=False)
    warnings: tuple[str, ...]
    version_key: tuple[int, int, int, int, str]
    approval: ApprovalRequirement | None = None

    @property
    def policy_id(self) -> str:
        """The policy's id."""
        return self.definition.policy_id

    @property
    def tenant_id(self) -> str:
        """Owning tenant; ``""`` for a platform policy."""
        return self.definition.tenant_id


def _reject(defn: PolicyDefinition, stage: str, message: str, **details: str) -> ValidationError:
    code = "MALFORMED_REQUEST" if stage == "definition" else "POLICY_EVALUATION_FAILED"
    return ValidationError(
        code,
        f"Policy '{defn.policy_id}' is rejected: {message}",
        details={"stage": stage, "policy_id": defn.policy_id, **details},
    )


def normalise_applies_to(values: tuple[str, ...]) -> frozenset[str] | None:
    """Tool names from ``applies_to`` (``tool:`` prefix dropped); None when it holds ``*``.

    Raises:
        ValueError: Empty, or an entry that is neither ``*`` nor an ADM tool name.
    """
    if not values:
        raise ValueError("applies_to must name at least one tool or '*'")
    names = {v.removeprefix("tool:") for v in values}
    if "*" in names:
        return None
    bad = sorted(n for n in names if not _TOOL.match(n))
    if bad:
        raise ValueError(f"applies_to entry {bad[0]!r} is neither '*' nor a tool name")
    return frozenset(names)


def _version_key(version: str) -> tuple[int, int, int, int, str] | None:
    match = _SEMVER.match(version)
    if match is None:
        return None
    major, minor, patch, pre = match.groups()
    return int(major), int(minor), int(patch), 0 if pre else 1, pre or ""


def _shape(
    defn: PolicyDefinition,
) -> tuple[Effect, frozenset[str] | None, frozenset[str], tuple[int, int, int, int, str]]:
    """Step (1) of :func:`compile_policy`: the effect, tools, actions and version key."""
    if not _POLICY_ID.match(defn.policy_id):
        raise _reject(
            defn, "definition", "policy_id must be 1-128 of A-Z a-z 0-9 _ . : -", field="policy_id"
        )
    version_key = _version_key(defn.version)
    if version_key is None:
        raise _reject(
            defn,
            "definition",
            f"version {defn.version!r} is not SemVer major.minor.patch",
            field="version",
        )
    try:
        effect = Effect(str(defn.effect).upper())
    except ValueError:
        raise _reject(
            defn,
            "definition",
            f"effect {defn.effect!r} is not ALLOW, DENY, AUDIT or REQUIRE_APPROVAL",
            field="effect",
        ) from None
    try:
        tools = normalise_applies_to(defn.applies_to)
    except ValueError as exc:
        raise _reject(defn, "definition", str(exc), field="applies_to") from None
    actions = frozenset() if "*" in defn.actions else frozenset(defn.actions)
    if any(not _ACTION.match(a) for a in actions):
        raise _reject(defn, "definition", "actions must be names such as 'invoke'", field="actions")
    return effect, tools, actions, version_key


def _approval(defn: PolicyDefinition, effect: Effect) -> ApprovalRequirement | None:
    """Step (1) for ``REQUIRE_APPROVAL``: the approval rule in ``defn.parameters``.

    Why at creation: a broken rule would refuse every call it matches (fail closed), so it is
    refused before it is stored, like invalid CEL.
    """
    if effect is not Effect.REQUIRE_APPROVAL:
        return None
    try:
        rule = approval_requirement(defn.parameters)
    except ValueError as exc:
        raise _reject(
            defn,
            "definition",
            f"effect REQUIRE_APPROVAL needs parameters approvers (comma-separated principal ids "
            f"or role:<name>), optional min_approvals and approval_ttl_ms, but {exc}",
            field="parameters",
        ) from None
    return dataclasses.replace(
        rule,
        policy_id=defn.policy_id,
        policy_tenant_id=defn.tenant_id,
        policy_version=defn.version,
    )


def compile_policy(
    defn: PolicyDefinition, *, contract_schemas: Mapping[str, Mapping[str, Any]]
) -> CompiledPolicy:
    """Validate ``defn`` and compile its condition (items 162, 163; SPEC §3.12, C-33).

    Steps:
        (1) Definition shape: id, SemVer version, effect, applies_to, actions, and for
            ``REQUIRE_APPROVAL`` a valid ``approvers`` parameter (``MALFORMED_REQUEST``,
            ``details.stage="definition"``).
        (2) Length cap, then CEL syntax via ``cel.compile`` (``POLICY_EVALUATION_FAILED``,
            ``details.stage="compile"``, item 162).
        (3) Variables are ``request``/``organization`` (or comprehension variables), functions
            are native, literal ``matches()`` patterns are valid, comprehensions are not nested
            (``stage="check"``).
        (4) Every ``request.…`` field exists in C-33 and is used as its type; every
            ``request.args.…`` exists, with a compatible type, in the parameter schema of every
            tool the policy applies to (``stage="check"``, ``details.reference``/``tool``).
        (5) Flatten the condition for execution (:mod:`aesp.core.policy.flatten`).

    Args:
        defn: The policy. Disabled policies are checked all the same, so enabling one later
            cannot bring in an error.
        contract_schemas: tool name → the contract's root parameter schema (ADM OBJECT). A
            ``*`` policy is checked against every tool here.

    Raises:
        ValidationError: As listed in the steps; the message names the policy and the problem.
    """
    # (1): the definition's shape.
    effect, tools, actions, version_key = _shape(defn)
    approval = _approval(defn, effect)
    # (2): size, then syntax. "CreatePolicy with syntactically invalid CEL is rejected" (162).
    if len(defn.condition) > MAX_CONDITION_LENGTH:
        raise _reject(
            defn, "compile", f"the condition is longer than {MAX_CONDITION_LENGTH} characters"
        )
    if not defn.condition.strip():
        raise _reject(defn, "compile", "the condition is empty")
    try:
        program = _cel().compile(defn.condition)
    except Exception as exc:  # noqa: BLE001 - cel raises ValueError; anything else is as bad
        raise _reject(
            defn, "compile", f"the condition is not valid CEL: {_first_line(exc)}"
        ) from None
    # (3): names and shape.
    try:
        found = scan(defn.condition)
    except ValueError as exc:
        raise _reject(defn, "check", f"the condition cannot be read: {exc}") from None
    unknown = set(program.variables()) - ROOTS - found.binders - _TYPE_NAMES
    if unknown:
        raise _reject(
            defn,
            "check",
            f"unknown variable {sorted(unknown)[0]!r}; a condition reads request and organization (C-33)",
        )
    functions = {f for f in program.functions() if f[0] not in "_@!-"}
    if functions - NATIVE_FUNCTIONS:
        raise _reject(
            defn, "check", f"function {sorted(functions - NATIVE_FUNCTIONS)[0]!r} is not available"
        )
    for pattern in found.patterns:
        try:
            _cel().compile(f"''.matches({pattern})").execute()
        except Exception as exc:  # noqa: BLE001 - a bad pattern would fail every call
            raise _reject(
                defn,
                "check",
                f"matches() pattern {pattern} is not a valid RE2 expression: {_first_line(exc)}",
            ) from None
    if found.max_nesting > MAX_COMPREHENSION_NESTING:
        raise _reject(
            defn, "check", "comprehensions (all, exists, map, ...) may not be nested; use 'in'"
        )
    # (4): references against C-33 and every applicable tool's schema.
    names = sorted(contract_schemas) if tools is None else sorted(tools)
    try:
        result = check_references(
            found.references, tools={t: contract_schemas.get(t) for t in names}
        )
    except CheckError as exc:
        raise _reject(defn, "check", str(exc), reference=exc.reference, tool=exc.tool) from None
    # (5): the program that runs reads flat variables (cheaper to bind per call), and calls
    # matches() through the cache of compiled patterns (aesp.core.policy.matches).
    executed, needs = _flattened(defn.condition, found.references, found.binders)
    executed = _cached_matches(executed or program)
    return CompiledPolicy(
        definition=defn,
        effect=effect,
        tools=tools,
        actions=actions or None,
        program=executed,
        executed_source=executed.source,
        references=found.references,
        needs=needs,
        arg_schemas=result.arg_schemas,
        warnings=result.warnings,
        version_key=version_key,
        approval=approval,
    )


def _flattened(
    source: str, references: tuple[Reference, ...], binders: frozenset[str]
) -> tuple[cel.Program | None, Needs]:
    """The flattened program and its variables; (None, whole roots) when it cannot be used."""
    if not binders & ROOTS:
        flat_source, needs = rewrite(source, references)
        try:
            return _cel().compile(flat_source), needs
        except Exception:  # noqa: BLE001 - keep the original program, which compiled
            pass
    roots = {ref.root for ref in references}
    return None, Needs({root: Binding(root, (), None) for root in roots})


def _cached_matches(program: cel.Program) -> cel.Program:
    """``program`` calling :data:`~aesp.core.policy.matches.FUNCTION` for ``matches()``.

    The original is kept when the condition has no ``matches`` or the renamed one does not
    compile (the engine's built-in then runs, with the same answers, only slower).
    """
    renamed = rename_matches(program.source)
    if renamed is None:
        return program
    try:
        return _cel().compile(renamed)
    except Exception:  # noqa: BLE001 - keep the program that compiled
        return program


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__
