"""The core types of the Identity admin operations (SPEC §3.7 (1), C-39).

Why separate types and not the protobuf messages: the admin operations are core code, testable
without gRPC (STYLE conventions 3 and 8); the servicer converts these to and from the wire.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from aesp.core.audit import AuditEvent
from aesp.core.ports._paging import Page
from aesp.core.ports.identity import PrincipalType

__all__ = [
    "AuditEvents",
    "AuditSummary",
    "AuditTrailQuery",
    "IssuedServiceAccount",
    "NewServiceAccount",
    "Page",
    "PrincipalDetails",
    "PrincipalView",
    "RoleChange",
    "ServiceAccountView",
]


@dataclass(frozen=True, slots=True)
class NewServiceAccount:
    """A ``CreateServiceAccountRequest`` (SPEC §3.7 (1)).

    Attributes:
        name: Unique in the tenant (letters, digits, ``_ . -``; 1-64 characters).
        description: What it is for.
        tenant_id: ``""`` = the caller's tenant.
        roles: Existing roles (tenant or platform) to assign.
        permissions: Grants for a role ``sa-<id>`` of its own.
        expires_at_ms: Expiry, Unix ms; 0 = never expires.
        metadata: Free-form key/values.
    """

    name: str
    description: str = ""
    tenant_id: str = ""
    roles: tuple[str, ...] = ()
    permissions: tuple[str, ...] = ()
    expires_at_ms: int = 0
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ServiceAccountView:
    """A service account without its credential (``ServiceAccount`` of C-39).

    Attributes:
        service_account_id: The account id.
        principal_id: Its principal id, ``api_key|<issuer>|<service_account_id>``.
        name: Name.
        description: Description.
        tenant_id: Owning tenant.
        roles: Roles assigned to it in its tenant (its own ``sa-<id>`` role left out).
        permissions: The grants of its own ``sa-<id>`` role.
        created_at_ms: Creation, Unix ms.
        expires_at_ms: Expiry, Unix ms; 0 = never.
        created_by: Principal that created it.
        revoked_at_ms: Revocation, Unix ms; 0 = not revoked.
        metadata: Metadata given at creation.
    """

    service_account_id: str
    principal_id: str
    name: str
    description: str
    tenant_id: str
    roles: tuple[str, ...]
    permissions: tuple[str, ...]
    created_at_ms: int
    expires_at_ms: int
    created_by: str
    revoked_at_ms: int
    metadata: Mapping[str, str] = field(default_factory=dict)

    @property
    def revoked(self) -> bool:
        """Whether the account was revoked."""
        return self.revoked_at_ms > 0


@dataclass(frozen=True, slots=True)
class IssuedServiceAccount:
    """A new account with its API key, shown this once (item 151).

    Attributes:
        account: The account.
        api_key: The complete key ``<prefix>_<key id>_<secret>``; never stored, never logged
            (left out of ``repr``).
    """

    account: ServiceAccountView
    api_key: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class PrincipalView:
    """A principal as listed (``Principal`` of C-39).

    Attributes:
        principal_id: Stable id.
        principal_type: User, service account or system account.
        display_name: Human-readable name.
        tenant_id: Its tenant.
        roles: Roles assigned to it in that tenant, platform-wide assignments included.
        active: False once disabled, revoked or (a service account) expired.
        created_at_ms: First sight or creation, Unix ms.
        source: Where the identity comes from (``oidc``, ``ldap``, ``api_key``, ...).
        attributes: Organisation, business unit, cost centre, clearance and metadata.
    """

    principal_id: str
    principal_type: PrincipalType
    display_name: str
    tenant_id: str
    roles: tuple[str, ...]
    active: bool
    created_at_ms: int
    source: str
    attributes: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AuditSummary:
    """Counts of a principal's audit events (``PrincipalAuditSummary`` of C-39)."""

    total_events: int
    denied_events: int
    failed_events: int
    last_event_at_ms: int
    event_type_counts: Mapping[str, int]


@dataclass(frozen=True, slots=True)
class PrincipalDetails:
    """One principal with the optional extras.

    Attributes:
        principal: The principal.
        effective_permissions: Grants of its roles with inheritance; empty unless asked for.
        audit_summary: Its audit summary; None unless asked for.
        direct_permissions: A service account's own grants (its ``sa-<id>`` role).
    """

    principal: PrincipalView
    effective_permissions: tuple[str, ...] = ()
    audit_summary: AuditSummary | None = None
    direct_permissions: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RoleChange:
    """An ``UpdatePrincipalRolesRequest``.

    Attributes:
        principal_id: The principal.
        tenant_id: ``""`` = the caller's tenant.
        add: Roles to grant (granting a held role is a no-op).
        remove: Roles to revoke (revoking an absent role is a no-op).
        justification: Recorded in the audit event.
    """

    principal_id: str
    tenant_id: str = ""
    add: tuple[str, ...] = ()
    remove: tuple[str, ...] = ()
    justification: str = ""


@dataclass(frozen=True, slots=True)
class AuditTrailQuery:
    """A ``GetPrincipalAuditTrailRequest``.

    Attributes:
        principal_id: The principal.
        tenant_id: ``""`` = the caller's tenant.
        start_ms: Window start, inclusive; 0 = no bound.
        end_ms: Window end, exclusive; 0 = no bound.
        event_types: Types to keep; empty = all.
        limit: Page size; 0 = the default.
        cursor: From the previous page.
    """

    principal_id: str
    tenant_id: str = ""
    start_ms: int = 0
    end_ms: int = 0
    event_types: tuple[str, ...] = ()
    limit: int = 0
    cursor: str = ""


AuditEvents = Page[AuditEvent]
"""A page of audit events, oldest first."""
