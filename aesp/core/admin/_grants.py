"""Role look-ups and the no-escalation rule of the Identity admin operations.

Why a rule against escalation: ``aesp:identity:CreateServiceAccount`` and
``aesp:identity:UpdatePrincipalRoles`` let an administrator hand out permissions. Without a
bound, a tenant administrator holding only those two permissions could mint a service account
with ``*:*:*`` and act through it with every right in the tenant (least privilege, AESP §5
rule 5). So every permission an operation confers (or takes away) must be covered by the
caller's own effective permissions; only a platform caller (``aesp:platform:cross-tenant``) is
exempt, because it already stands above every tenant.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Final

from aesp.core.control import ControlPlane
from aesp.core.errors import AuthorizationError, StateError, ValidationError
from aesp.core.rbac import DenialReason, RbacSnapshot, RoleDefinition, permission_covers
from aesp.core.security import SecurityContext

__all__ = [
    "OWN_ROLE_PREFIX",
    "Assignments",
    "assigned_roles",
    "conferred_permissions",
    "own_role_name",
    "require_covered",
    "require_roles_exist",
]

OWN_ROLE_PREFIX: Final = "sa-"  # a service account's own role: "sa-<service_account_id>"

Assignments = Mapping[tuple[str, str], tuple[str, ...]]
"""``(tenant_id, principal_id)`` → role names, as the RBAC port returns them."""


def own_role_name(service_account_id: str) -> str:
    """The tenant role holding a service account's explicitly granted permissions."""
    return f"{OWN_ROLE_PREFIX}{service_account_id}"


def _resolves(roles: Sequence[RoleDefinition], tenant_id: str, name: str) -> bool:
    """Whether ``name`` means a role in ``tenant_id``: its own, else a platform role."""
    return any(r.name == name and r.tenant_id in (tenant_id, "") for r in roles)


def require_roles_exist(
    roles: Sequence[RoleDefinition], tenant_id: str, names: Iterable[str]
) -> None:
    """Refuse a role name that is neither the tenant's nor a platform role.

    Another tenant's role of that name is not visible, so the refusal is the same as for a
    name that exists nowhere.

    Raises:
        ValidationError: ``MALFORMED_REQUEST`` naming the first unknown role.
    """
    for name in names:
        if not _resolves(roles, tenant_id, name):
            raise ValidationError(
                "MALFORMED_REQUEST",
                f"Role '{name[:128]}' is neither a role of tenant '{tenant_id}' nor a platform "
                "role; create it first.",
                details={"field": "roles", "role": name[:128]},
            )


def conferred_permissions(
    roles: Sequence[RoleDefinition],
    tenant_id: str,
    names: Sequence[str],
    extra: Iterable[str] = (),
) -> tuple[str, ...]:
    """Every grant holding ``names`` in ``tenant_id`` gives (inheritance included), plus
    ``extra``, sorted.

    Raises:
        StateError: ``INVALID_STATE`` when the stored roles do not form a valid hierarchy (the
            Host keeps deciding from its last valid snapshot; nothing new may be granted
            until an operator fixes them).
    """
    try:
        snapshot = RbacSnapshot.build(roles, {}, version=1)
    except ValueError as exc:
        raise StateError(
            "INVALID_STATE",
            f"The stored roles do not form a valid hierarchy ({exc}); fix them before "
            "granting roles.",
        ) from None
    # NOTE: "" is never a principal id (the ports refuse empty ids), so the grants below are
    # exactly those of the named roles and nothing assigned to anyone.
    held = snapshot.effective_permissions("", tenant_id=tenant_id, roles_hint=tuple(names))
    return tuple(sorted({*held, *extra}))


def require_covered(
    control: ControlPlane, ctx: SecurityContext, permissions: Iterable[str], *, verb: str
) -> None:
    """Refuse to confer (or withdraw) a permission the caller does not hold itself.

    Args:
        control: For the platform check.
        ctx: The caller; ``ctx.permissions`` are its effective grants in its tenant.
        permissions: What the operation would confer or withdraw.
        verb: ``grant`` or ``revoke``, for the message.

    Raises:
        AuthorizationError: ``PERMISSION_DENIED`` (reason ``INSUFFICIENT_PERMISSIONS``) naming
            the first permission the caller does not hold.
    """
    if control.is_platform(ctx):
        return
    for wanted in permissions:
        if not any(permission_covers(grant, wanted) for grant in ctx.permissions):
            raise AuthorizationError(
                "PERMISSION_DENIED",
                f"The caller may not {verb} '{wanted}': it does not hold that permission itself "
                "(no privilege escalation).",
                details={
                    "reason": DenialReason.INSUFFICIENT_PERMISSIONS,
                    "rule": "no-escalation",
                    "permission": wanted,
                },
            )


def assigned_roles(assignments: Assignments, tenant_id: str, principal_id: str) -> tuple[str, ...]:
    """Roles assigned to the principal in the tenant, platform-wide assignments included."""
    scoped = assignments.get((tenant_id, principal_id), ())
    platform = assignments.get(("", principal_id), ())
    return tuple(sorted({*scoped, *platform}))
