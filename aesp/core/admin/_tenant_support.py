"""Checks and refusals of the Tenant admin operations (:mod:`aesp.core.admin.tenants`).

Why a separate module: they are pure functions over a request or the control plane, kept apart
so the operations module holds only the operations.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from aesp.core.admin._guard import ALL_TENANTS, NOT_FOUND_CODE, clip
from aesp.core.control import PLATFORM_PERMISSION, ControlPlane
from aesp.core.errors import AespError, AuthorizationError, ValidationError
from aesp.core.rbac import DenialReason
from aesp.core.security import SecurityContext

__all__ = [
    "EVENT_TYPES",
    "MAX_METADATA_ENTRIES",
    "MAX_METADATA_KEY",
    "MAX_METADATA_VALUE",
    "check_metadata",
    "one_tenant",
    "require_platform",
    "tenant_not_found",
]

EVENT_TYPES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "SuspendTenant": "TENANT_SUSPEND",
        "ResumeTenant": "TENANT_RESUME",
        "UpdateTenantMetadata": "TENANT_UPDATE",
    }
)  # event type of each write; every other RPC is an ADMIN_QUERY
MAX_METADATA_ENTRIES: Final = 64  # copied into every call's CEL activation: keep it small
MAX_METADATA_KEY: Final = 128  # characters; a key is an organization.<key> name, not data
MAX_METADATA_VALUE: Final = 1024  # characters; bounds the tenant map every Host keeps


def tenant_not_found(tenant_id: str) -> AespError:
    """``NOT_FOUND`` for a tenant the registry does not hold.

    Only platform callers can get it: anyone else naming another tenant is refused with
    ``TENANT_ACCESS_DENIED`` before the registry is read, so existence never leaks.
    """
    return ValidationError(
        NOT_FOUND_CODE,
        f"There is no tenant '{clip(tenant_id, 128)}'; tenants appear on first verified use.",
        details={"reason": "NOT_FOUND", "field": "tenant_id"},
    )


def one_tenant(target: str) -> str:
    """``target`` when it names one tenant.

    Raises:
        ValidationError: ``MALFORMED_REQUEST`` for ``"*"``, which only selects every tenant in
            ``ListTenants``.
    """
    if target == ALL_TENANTS:
        raise ValidationError(
            "MALFORMED_REQUEST",
            "Name one tenant (or leave tenant_id empty for your own); '*' only selects every "
            "tenant in ListTenants.",
            details={"field": "tenant_id"},
        )
    return target


def check_metadata(metadata: Mapping[str, str]) -> None:
    """Refuse metadata outside the bounds (every call of the tenant converts it for CEL).

    Raises:
        ValidationError: ``MALFORMED_REQUEST`` with ``details.field = "metadata"``.
    """
    if len(metadata) > MAX_METADATA_ENTRIES or any(
        not key or len(key) > MAX_METADATA_KEY or len(value) > MAX_METADATA_VALUE
        for key, value in metadata.items()
    ):
        raise ValidationError(
            "MALFORMED_REQUEST",
            f"metadata holds at most {MAX_METADATA_ENTRIES} entries, keys of 1-"
            f"{MAX_METADATA_KEY} and values of at most {MAX_METADATA_VALUE} characters.",
            details={"field": "metadata"},
        )


def require_platform(control: ControlPlane, ctx: SecurityContext, rpc: str) -> None:
    """Return if the caller holds the platform permission (suspension is platform-only).

    Raises:
        AuthorizationError: ``PERMISSION_DENIED`` naming the permission in ``details``.
    """
    if control.is_platform(ctx):
        return
    raise AuthorizationError(
        "PERMISSION_DENIED",
        f"{rpc} needs the platform permission '{PLATFORM_PERMISSION}', also for your own "
        "tenant: a suspended tenant's administrators cannot call the Host to resume it.",
        details={
            "permission": PLATFORM_PERMISSION,
            "reason": DenialReason.INSUFFICIENT_PERMISSIONS,
        },
    )
