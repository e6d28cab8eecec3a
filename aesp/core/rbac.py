"""Hierarchical RBAC decided from an immutable, versioned in-memory snapshot (SPEC §3.19 step 5).

Why a snapshot: the per-call path must never wait on a store or a cloud API (DESIGN §2
principle 2). Adapters fetch role definitions and assignments from wherever they live (SQLite,
IAM, Azure RBAC, ...), hand them to :meth:`RbacSnapshot.build`, and publish the result through a
:class:`VersionedSnapshot`; every decision then reads ``holder.current`` and costs a few dict and
set look-ups. Everything here is pure: no I/O, no clock, no globals.

Semantics (SPEC §5 C-32, checklist 155-158):

* A permission is ``<resource>:<name>:<action>``; a grant may use ``*`` for a whole segment
  (``tool:*:invoke``, ``aesp:governance:*``, ``*:*:*``). Partial wildcards (``tool:get_*:invoke``)
  are not part of C-32 and are rejected. Matching is case-sensitive, because tool names are
  (ADM §4.2.2): ``tool:Search:invoke`` does not grant ``tool:search:invoke``.
* Roles are hierarchical: a role has its parents' permissions (item 157), and *is* each of its
  ancestors for ``required_roles``. Decision (C-32 leaves it open): a principal holding
  ``senior-analyst`` whose parent is ``analyst`` satisfies ``required_roles: [analyst]``, because
  inheritance means "a senior analyst is an analyst"; anything else would make a role hierarchy
  useless for contracts.
* Roles are tenant-scoped. A role with ``tenant_id=""`` is a platform role, usable in every
  tenant; a tenant role is only visible to calls of its tenant. A role name resolves to the
  tenant's own role first, then to the platform role of that name; a tenant role may inherit from
  platform roles (naming its own name as parent extends the platform role it shadows), a platform
  role only from platform roles.
* Default deny (item 155): a tool call needs a grant covering ``tool:<name>:invoke`` even when the
  contract lists no roles or permissions.
* Explicit deny: a role may also list ``denied`` permissions (same grammar). A denial held through
  any role, directly or inherited, beats every grant, so the order is explicit deny > grant >
  default deny. This is what stores whose source of truth has deny statements (cloud policy
  documents) need; a denial applies when it *overlaps* the wanted permission (``aesp:gov:*``
  wanted, ``aesp:gov:Approve`` denied: the caller does not hold all of ``aesp:gov:*``).
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final, Generic, Protocol, TypeAlias, TypeVar

from aesp.core.contracts import CLASSIFICATIONS
from aesp.core.errors import AuthorizationError

__all__ = [
    "CLASSIFICATION_RANK",
    "ContractRequirements",
    "Decision",
    "DenialReason",
    "RbacSnapshot",
    "RbacSubject",
    "RoleDefinition",
    "Subject",
    "Versioned",
    "VersionedSnapshot",
    "classification_rank",
    "parse_permission",
    "permission_covers",
]

WILDCARD: Final = "*"
PERMISSION_SEGMENTS: Final = 3  # C-32: <resource>:<name>:<action>
WILDCARD_CACHE_SIZE: Final = 8192  # bounds memory per snapshot: (grant set, permission) matches
GRANTS_CACHE_SIZE: Final = 4096  # bounds memory per snapshot: resolved (tenant, principal) grants
CLASSIFICATION_RANK: Final[Mapping[str, int]] = MappingProxyType(
    {level: rank for rank, level in enumerate(CLASSIFICATIONS)}
)  # C-32: PUBLIC < INTERNAL < CONFIDENTIAL < RESTRICTED

_SEGMENT = re.compile(r"^(?:\*|[A-Za-z0-9_][A-Za-z0-9_.-]*)\Z")
_ROLE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}\Z")

_RoleKey: TypeAlias = tuple[str, str]  # (tenant_id, name); tenant "" = platform
_Pattern: TypeAlias = tuple[str, str, str]


class DenialReason:
    """Values of ``details["reason"]`` on a ``PERMISSION_DENIED`` decision (C-14 aliases)."""

    ROLE_REQUIRED: Final = "ROLE_REQUIRED"
    INSUFFICIENT_PERMISSIONS: Final = "INSUFFICIENT_PERMISSIONS"


@dataclass(frozen=True, slots=True)
class Decision:
    """An authorization decision: never a bare bool (STYLE convention 11).

    Attributes:
        allowed: Whether the action may proceed.
        code: ``""`` when allowed; otherwise the ``EnterpriseError`` code of the refusal.
        reason: A sentence a person can act on.
        matched_rule: What decided: the grant that allowed (``role analyst: tool:*:invoke``) or
            the rule that denied (``required_roles``, ``default-deny``, ...).
        subcode: ``details["reason"]`` for ``PERMISSION_DENIED`` (:class:`DenialReason`).
    """

    allowed: bool
    code: str
    reason: str
    matched_rule: str
    subcode: str = ""

    @property
    def details(self) -> dict[str, str]:
        """Machine-readable details for the ``EnterpriseError``."""
        out = {"rule": self.matched_rule}
        if self.subcode:
            out["reason"] = self.subcode
        return out

    def raise_if_denied(self) -> None:
        """Return if allowed.

        Raises:
            AuthorizationError: With this decision's code, reason and details.
        """
        if not self.allowed:
            raise AuthorizationError(self.code, self.reason, details=self.details)


def _deny(code: str, reason: str, rule: str, subcode: str = "") -> Decision:
    return Decision(False, code, reason, rule, subcode)


@dataclass(frozen=True, slots=True)
class RoleDefinition:
    """A role as stored by an adapter.

    Attributes:
        name: Role name, unique within its tenant.
        permissions: Grants, ``<resource>:<name>:<action>`` with optional ``*`` segments.
        parents: Names of the roles this one inherits from.
        tenant_id: Owning tenant; ``""`` makes it a platform role visible in every tenant.
        denied: Explicit denials, same grammar as ``permissions``; inherited like grants, and a
            denial held through any role beats every grant. Stores that cannot hold denials
            keep the default (none).
    """

    name: str
    permissions: tuple[str, ...] = ()
    parents: tuple[str, ...] = ()
    tenant_id: str = ""
    denied: tuple[str, ...] = ()


class Subject(Protocol):
    """What :meth:`RbacSnapshot.check_contract` needs to know about the caller.

    Every attribute must come from verified identity (DESIGN §9), never from a request field.
    """

    @property
    def principal_id(self) -> str:
        """The principal's stable id."""
        ...

    @property
    def tenant_id(self) -> str:
        """The tenant bound at session creation."""
        ...

    @property
    def security_clearance(self) -> str:
        """Clearance level (C-32 levels; anything else ranks as unknown and denies)."""
        ...

    @property
    def data_classification(self) -> str:
        """Highest data classification the principal may handle (C-32 levels)."""
        ...

    @property
    def roles_hint(self) -> tuple[str, ...]:
        """Extra role names from the verified identity (IdP group mapping)."""
        ...


@dataclass(frozen=True, slots=True)
class RbacSubject:
    """A plain :class:`Subject`."""

    principal_id: str
    tenant_id: str
    security_clearance: str = ""
    data_classification: str = ""
    roles_hint: tuple[str, ...] = ()


class ContractRequirements(Protocol):
    """The parts of a ``ToolContract`` that RBAC reads (``aesp.core.contracts.ToolContract``)."""

    @property
    def name(self) -> str:
        """Tool name: the grant needed is ``tool:<name>:invoke``."""
        ...

    @property
    def required_roles(self) -> tuple[str, ...]:
        """Any-of (C-32); empty adds no constraint."""
        ...

    @property
    def required_permissions(self) -> tuple[str, ...]:
        """All-of (C-32); empty adds no constraint."""
        ...

    @property
    def security_classification(self) -> str:
        """The contract's level (C-32)."""
        ...


def parse_permission(text: str) -> _Pattern:
    """Split a permission into its three segments.

    Raises:
        ValueError: Not three non-empty segments of letters, digits, ``_ . -``, or ``*``.
    """
    parts = text.split(":")
    if len(parts) != PERMISSION_SEGMENTS or not all(_SEGMENT.match(p) for p in parts):
        raise ValueError(
            f"permission {text!r} must be <resource>:<name>:<action>, each segment a name or '*'"
        )
    return parts[0], parts[1], parts[2]


def _covers(grant: _Pattern, wanted: _Pattern) -> bool:
    # NOTE: a '*' in the *wanted* permission is matched only by a '*' grant segment, so a
    # contract requiring 'aesp:governance:*' needs a grant at least that broad.
    return all(g in (WILDCARD, w) for g, w in zip(grant, wanted, strict=True))


def _overlaps(denial: _Pattern, wanted: _Pattern) -> bool:
    # NOTE: a denial hits a wanted permission whenever some concrete permission falls under both.
    return all(WILDCARD in (d, w) or d == w for d, w in zip(denial, wanted, strict=True))


def permission_covers(grant: str, wanted: str) -> bool:
    """Whether ``grant`` covers ``wanted`` (both validated; malformed input covers nothing)."""
    try:
        return _covers(parse_permission(grant), parse_permission(wanted))
    except ValueError:
        return False


def classification_rank(level: str) -> int | None:
    """Rank of a C-32 level, case-insensitively; None for an unknown level."""
    return CLASSIFICATION_RANK.get(level.upper()) if isinstance(level, str) else None


class _Grants:
    """Everything one (tenant, set of held roles) is entitled to, precomputed."""

    __slots__ = ("denials", "exact", "patterns", "permissions", "roles")

    def __init__(
        self,
        roles: frozenset[str],
        grants: Sequence[tuple[str, str]],
        denials: Sequence[tuple[str, str]] = (),
    ) -> None:
        self.roles = roles
        self.denials = tuple(
            (parse_permission(d), f"role {role}: deny {d}") for role, d in sorted(denials)
        )
        exact: dict[str, str] = {}
        patterns: list[tuple[_Pattern, str]] = []
        for role, grant in sorted(grants):
            rule = f"role {role}: {grant}"
            if WILDCARD in grant.split(":"):
                patterns.append((parse_permission(grant), rule))
            else:
                exact.setdefault(grant, rule)
        self.exact: Mapping[str, str] = exact
        self.patterns = tuple(patterns)
        self.permissions = tuple(sorted({g for _, g in grants}))


_NO_GRANTS = _Grants(frozenset(), ())


class RbacSnapshot:
    """An immutable, versioned set of roles and assignments; decisions are pure reads.

    Build it with :meth:`build`. Two LRU caches per snapshot (:data:`GRANTS_CACHE_SIZE`,
    :data:`WILDCARD_CACHE_SIZE`) keep repeated decisions to dictionary look-ups; they die with the
    snapshot, so a new version never sees stale answers.
    """

    __slots__ = (
        "_ancestors",
        "_assignments",
        "_grants_cached",
        "_match_cached",
        "_roles",
        "version",
    )

    def __init__(
        self,
        *,
        version: int,
        roles: Mapping[_RoleKey, RoleDefinition],
        ancestors: Mapping[_RoleKey, frozenset[_RoleKey]],
        assignments: Mapping[str | tuple[str, str], tuple[str, ...]],
    ) -> None:
        self.version = version
        self._roles = roles
        self._ancestors = ancestors
        self._assignments = assignments
        self._grants_cached = functools.lru_cache(maxsize=GRANTS_CACHE_SIZE)(self._grants_for)
        self._match_cached = functools.lru_cache(maxsize=WILDCARD_CACHE_SIZE)(self._match)

    # ------------------------------------------------------------------ building

    @classmethod
    def build(
        cls,
        roles: Iterable[RoleDefinition],
        assignments: Mapping[str | tuple[str, str], Sequence[str]],
        *,
        version: int,
    ) -> RbacSnapshot:
        """Validate definitions and precompute every role's ancestors.

        Args:
            roles: Role definitions of every tenant and the platform.
            assignments: Role names a principal holds, resolved in the call's tenant. A key
                ``(tenant_id, principal_id)`` applies only to calls in that tenant; a plain
                ``principal_id`` key (a platform assignment) applies in every tenant.
            version: Monotonically increasing snapshot version.

        Raises:
            ValueError: A malformed name or permission, a duplicate role, an unknown parent, or an
                inheritance cycle (the message names the cycle path, e.g. ``a -> b -> a``).
        """
        table: dict[_RoleKey, RoleDefinition] = {}
        for role in roles:
            if not _ROLE_NAME.match(role.name):
                raise ValueError(f"role name {role.name!r} must be 1-128 letters, digits, '_.-'")
            key = (role.tenant_id, role.name)
            if key in table:
                raise ValueError(f"role {_label(key)} is defined twice")
            for grant in (*role.permissions, *role.denied):
                try:
                    parse_permission(grant)
                except ValueError as exc:
                    raise ValueError(f"role {_label(key)}: {exc}") from None
            table[key] = role
        parents = {key: tuple(_parent_keys(table, key)) for key in table}
        ancestors = _ancestor_closure(parents)
        frozen = {p: tuple(names) for p, names in assignments.items()}
        return cls(version=version, roles=table, ancestors=ancestors, assignments=frozen)

    @classmethod
    def empty(cls, *, version: int = 0) -> RbacSnapshot:
        """A snapshot with no roles: every decision denies (the state before the first sync)."""
        return cls(version=version, roles={}, ancestors={}, assignments={})

    # ------------------------------------------------------------------ reads

    def effective_roles(
        self, principal_id: str, *, tenant_id: str, roles_hint: Sequence[str] = ()
    ) -> frozenset[str]:
        """Role names the principal holds in ``tenant_id``, inherited ancestors included."""
        return self._grants(principal_id, tenant_id, roles_hint).roles

    def effective_permissions(
        self, principal_id: str, *, tenant_id: str, roles_hint: Sequence[str] = ()
    ) -> tuple[str, ...]:
        """Sorted grants (wildcards kept) the principal holds in ``tenant_id``."""
        return self._grants(principal_id, tenant_id, roles_hint).permissions

    def decide(
        self,
        principal_id: str,
        *,
        tenant_id: str,
        permission: str,
        roles_hint: Sequence[str] = (),
    ) -> Decision:
        """Whether the principal holds a grant covering ``permission`` (default deny, item 155).

        A malformed ``permission`` denies: nothing can grant what cannot be named.
        """
        grants = self._grants(principal_id, tenant_id, roles_hint)
        return self._decide(grants, permission, tenant_id)

    def check_contract(self, subject: Subject, contract: ContractRequirements) -> Decision:
        """The RBAC step of a governed call (SPEC §3.19 step 5, C-32, items 155-158).

        Steps:
            (1) Resolve the subject's roles in its tenant; an empty role set denies.
            (2) Default deny: a grant must cover ``tool:<name>:invoke``.
            (3) ``required_permissions``: all of them (``PERMISSION_DENIED``,
                reason ``INSUFFICIENT_PERMISSIONS``).
            (4) ``required_roles``: any of them, inherited roles count (reason ``ROLE_REQUIRED``).
            (5) ``security_clearance`` ≥ the contract's level (``SECURITY_CLEARANCE_INSUFFICIENT``).
            (6) ``data_classification`` ≥ the contract's level (``DATA_CLASSIFICATION_MISMATCH``).
        """
        # (1): roles from the snapshot plus the verified identity's hint, scoped to the tenant.
        grants = self._grants(subject.principal_id, subject.tenant_id, subject.roles_hint)
        # (2): "With no grant, an action is denied (default deny)" (item 155).
        invoke = self._decide(grants, f"tool:{contract.name}:invoke", subject.tenant_id)
        if not invoke.allowed:
            return invoke
        # (3): "the caller needs ... every required permission" (item 156).
        for permission in contract.required_permissions:
            decision = self._decide(grants, permission, subject.tenant_id)
            if not decision.allowed:
                return decision
        # (4): "... at least one required role" (item 156); an empty list adds no constraint.
        required = contract.required_roles
        if required and grants.roles.isdisjoint(required):
            return _deny(
                "PERMISSION_DENIED",
                f"Tool '{contract.name}' requires one of the roles {', '.join(required)}; "
                f"the caller holds {', '.join(sorted(grants.roles))}.",
                "required_roles",
                DenialReason.ROLE_REQUIRED,
            )
        # (5) and (6): ordered levels, compared case-insensitively; unknown ranks deny (C-32).
        needed = classification_rank(contract.security_classification)
        for attribute, value, code in (
            ("security_clearance", subject.security_clearance, "SECURITY_CLEARANCE_INSUFFICIENT"),
            ("data_classification", subject.data_classification, "DATA_CLASSIFICATION_MISMATCH"),
        ):
            held = classification_rank(value)
            if needed is None or held is None or held < needed:
                return _deny(
                    code,
                    f"Tool '{contract.name}' is {contract.security_classification or '(unset)'}; "
                    f"the caller's {attribute} is {value or '(unset)'} "
                    f"(levels: {' < '.join(CLASSIFICATIONS)}).",
                    attribute,
                )
        return invoke

    # ------------------------------------------------------------------ machinery

    def _grants(self, principal_id: str, tenant_id: str, roles_hint: Sequence[str]) -> _Grants:
        held = self._assignments.get(principal_id, ())
        scoped = self._assignments.get((tenant_id, principal_id))
        if scoped:
            held = tuple(sorted({*held, *scoped}))
        if roles_hint:
            held = tuple(sorted({*held, *roles_hint}))
        if not held:
            return _NO_GRANTS
        return self._grants_cached(tenant_id, held)

    def _grants_for(self, tenant_id: str, held: tuple[str, ...]) -> _Grants:
        keys = {k for name in held if (k := _resolve(self._roles, tenant_id, name)) is not None}
        closure = {a for k in keys for a in self._ancestors[k]}
        grants = [(key[1], g) for key in closure for g in self._roles[key].permissions]
        denials = [(key[1], d) for key in closure for d in self._roles[key].denied]
        return _Grants(frozenset(key[1] for key in closure), grants, denials)

    def _decide(self, grants: _Grants, permission: str, tenant_id: str) -> Decision:
        if not grants.roles:
            # NOTE: an empty role set denies explicitly rather than "matching nothing": no rule,
            # wildcard or future default may ever turn "no roles" into a grant (STYLE 11).
            return _deny(
                "PERMISSION_DENIED",
                f"The caller holds no role in tenant '{tenant_id}', so '{permission}' is denied.",
                "default-deny",
                DenialReason.INSUFFICIENT_PERMISSIONS,
            )
        if grants.denials:
            denial = self._match_cached(grants, permission, True)
            if denial is not None:
                return _deny(
                    "PERMISSION_DENIED",
                    f"'{permission}' is explicitly denied to the caller ({denial}); a denial "
                    "overrides every grant, so remove it from that role to allow this.",
                    denial,
                    DenialReason.INSUFFICIENT_PERMISSIONS,
                )
        rule = grants.exact.get(permission)
        if rule is None and grants.patterns:
            rule = self._match_cached(grants, permission)
        if rule is None:
            return _deny(
                "PERMISSION_DENIED",
                f"No role of the caller grants '{permission}' (roles: "
                f"{', '.join(sorted(grants.roles))}).",
                "default-deny",
                DenialReason.INSUFFICIENT_PERMISSIONS,
            )
        return Decision(True, "", f"'{permission}' granted", rule)

    @staticmethod
    def _match(grants: _Grants, permission: str, denial: bool = False) -> str | None:
        try:
            wanted = parse_permission(permission)
        except ValueError:
            return None
        if denial:
            return next((rule for d, rule in grants.denials if _overlaps(d, wanted)), None)
        for pattern, rule in grants.patterns:
            if _covers(pattern, wanted):
                return rule
        return None


def _label(key: _RoleKey) -> str:
    tenant, name = key
    return f"{tenant}/{name}" if tenant else name


def _resolve(
    table: Mapping[_RoleKey, RoleDefinition], tenant_id: str, name: str
) -> _RoleKey | None:
    """The role a name means in a tenant: the tenant's own, else the platform's."""
    if (tenant_id, name) in table:
        return (tenant_id, name)
    if ("", name) in table:
        return ("", name)
    return None


def _parent_keys(table: Mapping[_RoleKey, RoleDefinition], key: _RoleKey) -> Iterable[_RoleKey]:
    tenant, name = key
    for parent in table[key].parents:
        # NOTE: a tenant role naming itself as parent extends the platform role of that name
        # (tenant 'acme' refines the platform 'analyst'); without one it is a self-cycle.
        if tenant and parent == name and ("", name) in table:
            yield ("", name)
            continue
        resolved = _resolve(table, tenant, parent)
        if resolved is None:
            raise ValueError(f"role {_label(key)} names unknown parent role {parent!r}")
        yield resolved


def _ancestor_closure(
    parents: Mapping[_RoleKey, tuple[_RoleKey, ...]],
) -> dict[_RoleKey, frozenset[_RoleKey]]:
    """Each role's ancestors including itself; rejects cycles naming the path (iterative DFS)."""
    done: dict[_RoleKey, frozenset[_RoleKey]] = {}
    for root in parents:
        if root in done:
            continue
        path: list[_RoleKey] = [root]
        on_path = {root}
        stack = [iter(parents[root])]
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                node = path.pop()
                on_path.discard(node)
                stack.pop()
                done[node] = frozenset({node}.union(*(done[p] for p in parents[node])))
            elif nxt in on_path:
                cycle = [*path[path.index(nxt) :], nxt]
                raise ValueError("role inheritance cycle: " + " -> ".join(map(_label, cycle)))
            elif nxt not in done:
                path.append(nxt)
                on_path.add(nxt)
                stack.append(iter(parents[nxt]))
    return done


class Versioned(Protocol):
    """Anything with a monotonically increasing integer version."""

    @property
    def version(self) -> int:
        """The snapshot's version."""
        ...


S = TypeVar("S", bound=Versioned)


class VersionedSnapshot(Generic[S]):
    """Holds the current snapshot; readers take ``.current``, one writer swaps (DESIGN §2 p. 2).

    A reader that took ``.current`` keeps a consistent snapshot for its whole decision even if a
    swap happens meanwhile (snapshots are immutable; the swap is one reference assignment).
    Versions only go forward, so an out-of-order sync can never roll back policy silently; a
    rollback is published as a *new* version with the old content (SPEC §3.15).
    """

    __slots__ = ("_current", "_lock")

    def __init__(self, initial: S) -> None:
        self._current = initial
        self._lock = threading.Lock()

    @property
    def current(self) -> S:
        """The snapshot in force."""
        return self._current

    def swap(self, new: S) -> S:
        """Publish ``new`` and return the snapshot it replaced.

        Raises:
            ValueError: ``new.version`` is not greater than the current version.
        """
        with self._lock:
            old = self._current
            if new.version <= old.version:
                raise ValueError(
                    f"snapshot version {new.version} is not newer than {old.version} in force"
                )
            self._current = new
            return old
