"""``[access]``: how verified identities map to roles and clearance, and the starting roles.

The enterprise IdP says who someone is and which groups they are in; this configuration says
what those groups mean to the Host. A fresh Host grants nothing it is not told to (default
deny), so the first administrator's rights come from here, e.g. an IdP group ``aesp-admins``
mapped to a platform role holding ``aesp:*:*``.

Example::

    [access]
    default_clearance = "PUBLIC"

    [access.group_roles]
    "aesp-admins" = ["platform-admin"]
    "certificate:client" = ["tool-user"]

    [access.group_clearance]
    "aesp-admins" = "RESTRICTED"

    [[access.roles]]
    name = "platform-admin"
    permissions = ["aesp:*:*", "aesp:platform:cross-tenant", "tool:*:invoke"]

    [[access.roles]]
    name = "tool-user"
    permissions = ["tool:*:invoke"]
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aesp.core.contracts import CLASSIFICATIONS
from aesp.core.errors import ConfigurationError
from aesp.core.rbac import RbacSnapshot, RoleDefinition


@dataclass(frozen=True)
class AccessConfig:
    """How verified identities map to roles and levels, and the roles a fresh store starts with.

    Attributes:
        roles: Roles created at start-up when the RBAC store lacks them (never overwritten:
            an administrator's later change wins).
        group_roles: Verified group → role names (IdP groups; a certificate principal is in
            the group ``certificate:<kind>``, e.g. ``certificate:client``).
        group_clearance: Verified group → clearance and data classification given to a
            principal record created on first sight; the highest level of its groups wins.
        default_clearance: The level of a principal in none of those groups.
        refresh_interval_ms: How often the ports are polled for changes made elsewhere.
    """

    roles: tuple[RoleDefinition, ...] = ()
    group_roles: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    group_clearance: Mapping[str, str] = field(default_factory=dict)
    default_clearance: str = "PUBLIC"
    refresh_interval_ms: int = 2_000


_KEYS = ("roles", "group_roles", "group_clearance", "default_clearance", "refresh_interval_ms")
_ROLE_KEYS = ("name", "permissions", "parents", "tenant")


def _bad(key: str, why: str) -> ConfigurationError:
    return ConfigurationError("INVALID_CONFIG", f"Configuration key 'access.{key}' {why}.")


def _strings(value: Any, key: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise _bad(key, "must be a list of non-empty strings")
    return tuple(value)


def _level(value: Any, key: str) -> str:
    if not isinstance(value, str) or value.upper() not in CLASSIFICATIONS:
        raise _bad(key, f"must be one of {', '.join(CLASSIFICATIONS)}")
    return value.upper()


def _role(raw: Any, index: int) -> RoleDefinition:
    where = f"roles[{index}]"
    if not isinstance(raw, dict):
        raise _bad(where, "must be a table with name and permissions")
    unknown = set(raw) - set(_ROLE_KEYS)
    if unknown:
        raise _bad(f"{where}.{sorted(unknown)[0]}", f"is not a setting ({', '.join(_ROLE_KEYS)})")
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        raise _bad(f"{where}.name", "must be a non-empty string")
    tenant = raw.get("tenant", "")
    if not isinstance(tenant, str):
        raise _bad(f"{where}.tenant", "must be a string ('' for a platform role)")
    return RoleDefinition(
        name=name,
        permissions=_strings(raw.get("permissions", []), f"{where}.permissions"),
        parents=_strings(raw.get("parents", []), f"{where}.parents"),
        tenant_id=tenant,
    )


def parse_access(raw: Any) -> AccessConfig:
    """Validate an ``[access]`` table.

    Raises:
        ConfigurationError: ``INVALID_CONFIG`` naming the key; roles that do not form a valid
            hierarchy (unknown parent, cycle, malformed permission) are refused here, at start-up.
    """
    if not isinstance(raw, dict):
        raise _bad("", "must be a table")
    unknown = set(raw) - set(_KEYS)
    if unknown:
        raise _bad(sorted(unknown)[0], f"is not a setting; known settings: {', '.join(_KEYS)}")
    roles_raw = raw.get("roles", [])
    if not isinstance(roles_raw, list):
        raise _bad("roles", "must be an array of tables ([[access.roles]])")
    roles = tuple(_role(r, i) for i, r in enumerate(roles_raw))
    try:
        RbacSnapshot.build(roles, {}, version=1)
    except ValueError as exc:
        raise _bad("roles", f"do not form a valid hierarchy: {exc}") from None
    group_roles = raw.get("group_roles", {})
    group_clearance = raw.get("group_clearance", {})
    if not isinstance(group_roles, dict) or not isinstance(group_clearance, dict):
        raise _bad("group_roles", "and group_clearance must be tables keyed by group")
    interval = raw.get("refresh_interval_ms", 2_000)
    if not isinstance(interval, int) or isinstance(interval, bool) or interval <= 0:
        raise _bad("refresh_interval_ms", "must be a positive integer")
    return AccessConfig(
        roles=roles,
        group_roles={g: _strings(v, f"group_roles.{g}") for g, v in group_roles.items()},
        group_clearance={g: _level(v, f"group_clearance.{g}") for g, v in group_clearance.items()},
        default_clearance=_level(raw.get("default_clearance", "PUBLIC"), "default_clearance"),
        refresh_interval_ms=interval,
    )
