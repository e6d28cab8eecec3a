"""The activation a condition sees (SPEC §5 C-33), and the per-call projection of it.

Why a projection: turning Python values into CEL values is most of a decision's cost (a full
C-33 ``request`` takes ~55 µs to convert; a compiled expression runs in ~1 µs, notes §F). The
engine therefore binds, once per call, only the flat variables the applicable policies read
(:class:`~aesp.core.policy.flatten.Needs`, computed from their references at compile time, and
turned into a :data:`Plan` once per policy bucket). A value that is not there stays unbound, so
a condition reading it fails closed exactly as it would on the full activation (a property test
compares both).

Two more duties live here because they touch every value the engine converts:

* ``NUMBER`` arguments become doubles and integral ``INTEGER`` floats become ints, following
  the tool's schema, so CEL arithmetic sees the types the static checks assumed;
* the number of list and map elements converted from arguments and organization data is capped
  (:data:`MAX_ACTIVATION_ELEMENTS`), so a huge argument cannot make conversion or a
  comprehension run for seconds.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from aesp.core.policy.flatten import Needs

__all__ = [
    "MAX_ACTIVATION_ELEMENTS",
    "Activation",
    "ActivationTooLarge",
    "Plan",
    "ResourceFacts",
    "SessionFacts",
    "TenantFacts",
    "UserFacts",
    "coercers_for",
    "make_coercer",
    "plan",
    "project",
]

MAX_ACTIVATION_ELEMENTS: Final = 10_000  # bounds CEL conversion and a comprehension to ~5 ms

Coercer = Callable[[Any], Any]


class ActivationTooLarge(ValueError):
    """The values a call's policies read hold more list/map elements than allowed."""


@dataclass(frozen=True, slots=True)
class UserFacts:
    """``request.user``: from verified identity and the RBAC snapshot, never from the caller."""

    id: str
    roles: tuple[str, ...] = ()
    permissions: tuple[str, ...] = ()
    security_clearance: str = ""
    data_classification: str = ""
    mfa_verified: bool = False
    spending_limit: float = 0.0


@dataclass(frozen=True, slots=True)
class TenantFacts:
    """``request.tenant``: from the Tenant Manager."""

    id: str
    cost_center: str = ""
    business_unit: str = ""


@dataclass(frozen=True, slots=True)
class ResourceFacts:
    """``request.resource``: from the Host's trusted contract."""

    name: str
    classification: str = "INTERNAL"
    risk: str = "LOW"
    compliance_tags: tuple[str, ...] = ()
    estimated_cost: float = 0.0


@dataclass(frozen=True, slots=True)
class SessionFacts:
    """``request.session``."""

    id: str
    expires_at_ms: int = 0


def _timestamp(ms: int) -> _dt.datetime:
    return _dt.datetime.fromtimestamp(ms / 1000, tz=_dt.UTC)


@dataclass(frozen=True, slots=True)
class Activation:
    """One call's activation: ``request`` and ``organization`` exactly as CEL sees them.

    Build it with :meth:`build` in the pipeline; tests and TestPolicy may pass dicts directly.
    ``tenant_id``, ``tool`` and ``action`` (read from ``request``) select the policies.

    Raises:
        ValueError: ``request`` lacks ``tenant.id``, ``resource.name`` or ``action`` strings.
    """

    request: Mapping[str, Any]
    organization: Mapping[str, Any] = field(default_factory=dict)
    tenant_id: str = field(init=False)
    tool: str = field(init=False)
    action: str = field(init=False)

    def __post_init__(self) -> None:
        try:
            tenant, tool, action = (
                self.request["tenant"]["id"],
                self.request["resource"]["name"],
                self.request["action"],
            )
        except (KeyError, TypeError):
            tenant = tool = action = None
        if not all(isinstance(v, str) for v in (tenant, tool, action)):
            raise ValueError("an activation needs request.tenant.id, resource.name and action")
        object.__setattr__(self, "tenant_id", tenant)
        object.__setattr__(self, "tool", tool)
        object.__setattr__(self, "action", action)

    @classmethod
    def build(
        cls,
        *,
        time_ms: int,
        source_ip: str,
        user: UserFacts,
        tenant: TenantFacts,
        resource: ResourceFacts,
        action: str,
        args: Mapping[str, Any],
        session: SessionFacts,
        organization: Mapping[str, Any] | None = None,
    ) -> Activation:
        """The C-33 activation. Timestamps are epoch ms (C-31) and become CEL timestamps.

        Lists are tuples (CEL sees a list either way): ``tuple()`` of the facts' own tuples is
        the same object, so a principal's cached roles reach the context cache unchanged and
        are not converted again (:mod:`aesp.core.policy.contexts`).
        """
        request = {
            "time": _timestamp(time_ms),
            "source_ip": source_ip,
            "user": {
                "id": user.id,
                "roles": tuple(user.roles),
                "permissions": tuple(user.permissions),
                "security_clearance": user.security_clearance.upper(),
                "data_classification": user.data_classification.upper(),
                "mfa_verified": bool(user.mfa_verified),
                "spending_limit": float(user.spending_limit),
            },
            "tenant": {
                "id": tenant.id,
                "cost_center": tenant.cost_center,
                "business_unit": tenant.business_unit,
            },
            "resource": {
                "type": "tool",
                "name": resource.name,
                "classification": resource.classification.upper(),
                "risk": resource.risk.upper(),
                "compliance_tags": tuple(resource.compliance_tags),
                "estimated_cost": float(resource.estimated_cost),
            },
            "action": action,
            "args": args,
            "session": {"id": session.id, "expires_at": _timestamp(session.expires_at_ms)},
        }
        return cls(request=request, organization=dict(organization or {}))


_PLAIN, _ARGS_LEAF, _ARGS_MAP, _REQUEST, _ORGANIZATION = range(5)
# _PLAIN: a C-33 value the Host built, converted as is; _ARGS_LEAF: request.args.<key>, coerced
# per the tool's schema and counted; _ARGS_MAP: request.args projected, every key coerced and
# counted; _REQUEST: the whole request, its args coerced and counted; _ORGANIZATION: counted.

Plan = tuple[tuple[str, bool, tuple[str, ...], frozenset[str] | None, int], ...]
"""Per-call projection steps: (variable, from organization, path, keys, kind)."""


def plan(needs: Needs) -> Plan:
    """The per-call projection steps for ``needs`` (computed once per policy bucket)."""
    steps = []
    for name, b in sorted(needs.bindings.items()):
        if b.root == "organization":
            kind = _ORGANIZATION
        elif not b.path:
            kind = _REQUEST
        elif b.path[0] != "args":
            kind = _PLAIN
        else:
            kind = _ARGS_MAP if len(b.path) == 1 else _ARGS_LEAF
        steps.append((name, b.root == "organization", b.path, b.keys, kind))
    return tuple(steps)


def project(
    activation: Activation,
    steps: Plan,
    coercers: Mapping[str, Coercer],
    *,
    max_elements: int = MAX_ACTIVATION_ELEMENTS,
) -> dict[str, Any]:
    """The variables to bind for one call: only what ``steps`` read, arguments converted.

    A value that is not there is left unbound, so a condition reading it fails closed.

    Raises:
        ActivationTooLarge: The arguments and organization values read hold more than
            ``max_elements`` list/map elements.
    """
    budget = [max_elements]
    out: dict[str, Any] = {}
    request, organization = activation.request, activation.organization
    for name, from_org, path, keys, kind in steps:
        value: Any = organization if from_org else request
        try:
            for part in path:
                value = value[part]
        except (KeyError, TypeError, IndexError):
            continue  # missing: left unbound
        if keys is not None and isinstance(value, Mapping):
            value = {k: value[k] for k in keys if k in value}
        if kind == _ARGS_LEAF:
            coerce = coercers.get(path[1]) if len(path) == 2 else None
            value = value if coerce is None else coerce(value)
            _spend(value, budget)
        elif kind == _ARGS_MAP:
            value = _coerce_args(value, coercers)
            _spend(value, budget)
        elif kind == _REQUEST and isinstance(value, Mapping) and "args" in value:
            value = {**value, "args": _coerce_args(value["args"], coercers)}
            _spend(value["args"], budget)
        elif kind == _ORGANIZATION:
            _spend(value, budget)
        out[name] = value
    return out


def _coerce_args(args: Any, coercers: Mapping[str, Coercer]) -> Any:
    if not isinstance(args, Mapping) or not coercers:
        return args  # not an object: a condition reading it fails closed
    return {k: (coercers[k](v) if k in coercers else v) for k, v in args.items()}


def _spend(value: Any, budget: list[int]) -> None:
    """Count list and map elements in ``value`` against ``budget[0]``; stop once it is spent."""
    if not isinstance(value, (dict, list, tuple)) and not isinstance(value, Mapping):
        return
    stack: list[Any] = [value]
    while stack:
        item = stack.pop()
        items = item.values() if isinstance(item, Mapping) else item
        budget[0] -= len(item)
        if budget[0] < 0:
            raise ActivationTooLarge(
                "the values the policies read hold too many list or map elements"
            )
        stack.extend(v for v in items if isinstance(v, (Mapping, list, tuple)))


def make_coercer(schema: Mapping[str, Any]) -> Coercer | None:
    """A function converting a value to CEL's number types per ``schema`` (None: nothing to do).

    ``NUMBER`` ints become floats; ``INTEGER`` integral floats become ints (ADM accepts ``3.0``,
    C-20). Anything else is left alone: arguments are not yet schema-validated at the policy
    step (SPEC §3.19 step 6 runs before step 8), so a wrong value must pass through unchanged
    and fail closed in CEL, never crash here.
    """
    kind = schema.get("type")
    if kind == "NUMBER":
        return lambda v: float(v) if type(v) is int else v
    if kind == "INTEGER":
        return lambda v: int(v) if type(v) is float and v.is_integer() else v
    if kind == "ARRAY":
        inner = make_coercer(schema.get("items") or {})
        if inner is None:
            return None
        return lambda v: [inner(x) for x in v] if isinstance(v, list) else v
    if kind == "OBJECT":
        props: Mapping[str, Any] = schema.get("properties") or {}
        parts = {k: c for k, s in props.items() if (c := make_coercer(s)) is not None}
        if not parts:
            return None
        return lambda v: _coerce_object(v, parts) if isinstance(v, Mapping) else v
    return None


def _coerce_object(value: Mapping[str, Any], parts: Mapping[str, Coercer]) -> dict[str, Any]:
    return {k: (parts[k](x) if k in parts else x) for k, x in value.items()}


def coercers_for(schemas: Mapping[str, Mapping[str, Any]]) -> dict[str, Coercer]:
    """Coercers of the top-level arguments in ``schemas`` (argument → schema)."""
    return {k: c for k, s in schemas.items() if (c := make_coercer(s)) is not None}
