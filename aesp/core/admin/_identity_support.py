"""Request checks and record-to-view conversion for :mod:`aesp.core.admin.identity`.

Kept apart so the operations module reads as the numbered steps of each operation; everything
here is pure (no port is called).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

from aesp.core.admin._grants import Assignments, assigned_roles, own_role_name
from aesp.core.admin.identity_types import NewServiceAccount, PrincipalView, ServiceAccountView
from aesp.core.errors import ValidationError
from aesp.core.ports.identity import PrincipalRecord, ServiceAccount
from aesp.core.ports.tenancy import TENANT_ID
from aesp.core.rbac import RoleDefinition, parse_permission

__all__ = [
    "MAX_GRANTS",
    "account_view",
    "check_new_account",
    "principal_view",
    "require_grants_bounded",
]

ACCOUNT_NAME: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}\Z")
MAX_DESCRIPTION: Final = 1024  # characters; keeps records and listings small
MAX_METADATA_ENTRIES: Final = 64  # bounds a record's size
MAX_METADATA_KEY: Final = 128
MAX_METADATA_VALUE: Final = 1024
MAX_GRANTS: Final = 64  # roles or permissions in one request; bounds the escalation check


def _bad(field: str, sentence: str) -> ValidationError:
    return ValidationError("MALFORMED_REQUEST", sentence, details={"field": field})


def require_grants_bounded(field: str, values: Sequence[str]) -> None:
    """Refuse more than :data:`MAX_GRANTS` roles or permissions in one request.

    Raises:
        ValidationError: ``MALFORMED_REQUEST`` naming the field.
    """
    if len(values) > MAX_GRANTS:
        raise _bad(field, f"{field} lists more than {MAX_GRANTS} entries; split the change.")


def check_new_account(request: NewServiceAccount, tenant_id: str, now_ms: int) -> None:
    """Check a ``CreateServiceAccountRequest`` before anything is stored.

    Raises:
        ValidationError: ``MALFORMED_REQUEST`` naming the first bad field: the tenant (one
            tenant, not ``*``), the name, the description, the metadata, an expiry in the past,
            too many or malformed permissions or roles.
    """
    if not TENANT_ID.match(tenant_id):
        raise _bad(
            "tenant_id",
            "A service account belongs to exactly one tenant; name it (or omit tenant_id for "
            "your own).",
        )
    if not ACCOUNT_NAME.match(request.name):
        raise _bad(
            "name",
            "name must be 1-64 letters, digits, '_', '.' or '-', starting with a letter or digit.",
        )
    if len(request.description) > MAX_DESCRIPTION:
        raise _bad("description", f"description is longer than {MAX_DESCRIPTION} characters.")
    if len(request.metadata) > MAX_METADATA_ENTRIES or any(
        not k or len(k) > MAX_METADATA_KEY or len(v) > MAX_METADATA_VALUE
        for k, v in request.metadata.items()
    ):
        raise _bad(
            "metadata",
            f"metadata holds at most {MAX_METADATA_ENTRIES} entries, keys of 1-"
            f"{MAX_METADATA_KEY} and values of at most {MAX_METADATA_VALUE} characters.",
        )
    if request.expires_at_ms and request.expires_at_ms <= now_ms:
        raise _bad(
            "expires_at",
            "expires_at is in the past; give a future Unix time in milliseconds, or 0 for an "
            "account that never expires.",
        )
    require_grants_bounded("roles", request.roles)
    require_grants_bounded("permissions", request.permissions)
    for permission in request.permissions:
        try:
            parse_permission(permission)
        except ValueError as exc:
            raise _bad("permissions", f"{exc}.") from None


def account_view(
    account: ServiceAccount,
    principal_id: str,
    assignments: Assignments,
    roles: Sequence[RoleDefinition],
) -> ServiceAccountView:
    """The listing form of an account: its assigned roles and its own role's grants."""
    own = own_role_name(account.service_account_id)
    grants = next(
        (r.permissions for r in roles if r.tenant_id == account.tenant_id and r.name == own), ()
    )
    held = assigned_roles(assignments, account.tenant_id, principal_id)
    return ServiceAccountView(
        service_account_id=account.service_account_id,
        principal_id=principal_id,
        name=account.name,
        description=account.description,
        tenant_id=account.tenant_id,
        roles=tuple(r for r in held if r != own),
        permissions=tuple(grants),
        created_at_ms=account.key.created_at_ms,
        expires_at_ms=account.key.expires_at_ms,
        created_by=account.created_by,
        revoked_at_ms=account.key.revoked_at_ms,
        metadata=dict(account.metadata),
    )


def principal_view(
    record: PrincipalRecord, assignments: Assignments, *, expired: bool = False
) -> PrincipalView:
    """The listing form of a principal record; ``expired`` marks a lapsed service account."""
    attributes: dict[str, str] = dict(record.metadata)
    attributes.update(
        {
            key: value
            for key, value in (
                ("organization_id", record.organization_id),
                ("business_unit", record.business_unit),
                ("cost_center", record.cost_center),
                ("security_clearance", record.security_clearance),
                ("data_classification", record.data_classification),
            )
            if value
        }
    )
    return PrincipalView(
        principal_id=record.principal_id,
        principal_type=record.principal_type,
        display_name=record.display_name,
        tenant_id=record.tenant_id,
        roles=assigned_roles(assignments, record.tenant_id, record.principal_id),
        active=record.active and not expired,
        created_at_ms=record.created_at_ms,
        source=record.source,
        attributes=attributes,
    )
