"""The Identity port: principals and service accounts with their API keys (SPEC §3.7 (1)).

Verification of tokens, assertions and LDAP binds lives in :mod:`aesp.identity`; this port
stores what the Host itself owns: the principal records the enterprise IdP vouches for (kept
so an administrator can disable one, set its clearance, or list them), and the service accounts
AESP issues, whose API keys are stored hashed only (:mod:`aesp.identity.apikeys`).
Role assignments live in the RBAC port.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

# Re-exported: it moved to _errors (shared with other ports); imports from here keep working.
from aesp.core.ports._errors import DuplicateError as DuplicateError
from aesp.core.ports._paging import Page
from aesp.identity.apikeys import ApiKeyRecord

# Metadata key under which an identity store reports the groups its directory (the enterprise's
# source of truth, synced by the adapter) holds a principal in, as a JSON list of strings. The
# Host maps them with ``[access] group_roles`` exactly like groups a credential asserted.
DIRECTORY_GROUPS = "directory.groups"


class PrincipalType(enum.StrEnum):
    """SPEC §3.6 ``PrincipalType``."""

    USER = "USER"
    SERVICE_ACCOUNT = "SERVICE_ACCOUNT"
    SYSTEM_ACCOUNT = "SYSTEM_ACCOUNT"


@dataclass(frozen=True, slots=True)
class PrincipalRecord:
    """A principal as the Host knows it.

    Attributes:
        principal_id: Globally unique id (``oidc|<iss>|<sub>``, a SPIFFE id, ``api_key|...``).
        tenant_id: The tenant the principal belongs to; fixed for the record's life.
        principal_type: User, service account or system account.
        display_name: Human-readable name.
        active: False disables the principal: its calls are refused (item 150).
        security_clearance: ``PUBLIC < INTERNAL < CONFIDENTIAL < RESTRICTED`` (C-32).
        data_classification: Highest data classification the principal may access (C-32).
        organization_id: Top-level enterprise id.
        business_unit: Department.
        cost_center: Cost centre calls are attributed to.
        source: Where the record came from (``oidc``, ``ldap``, ``saml``, ``api_key``, ...).
        created_at_ms: Creation time, Unix ms.
        updated_at_ms: Last change, Unix ms.
        metadata: Other key/values.
    """

    principal_id: str
    tenant_id: str
    principal_type: PrincipalType = PrincipalType.USER
    display_name: str = ""
    active: bool = True
    security_clearance: str = "PUBLIC"
    data_classification: str = "PUBLIC"
    organization_id: str = ""
    business_unit: str = ""
    cost_center: str = ""
    source: str = ""
    created_at_ms: int = 0
    updated_at_ms: int = 0
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ServiceAccount:
    """A non-human principal native to AESP, with its one API key.

    Attributes:
        service_account_id: Unique id; the principal id of its key is
            ``api_key|<issuer>|<service_account_id>``.
        tenant_id: Owning tenant.
        name: Unique within the tenant.
        description: What it is for.
        created_by: Principal that created it.
        key: The hashed key record (:class:`~aesp.identity.apikeys.ApiKeyRecord`).
        metadata: Other key/values.
    """

    service_account_id: str
    tenant_id: str
    name: str
    key: ApiKeyRecord
    description: str = ""
    created_by: str = ""
    metadata: Mapping[str, str] = field(default_factory=dict)

    @property
    def revoked(self) -> bool:
        """Whether the account's key was revoked."""
        return self.key.revoked_at_ms > 0


@runtime_checkable
class IdentityStore(Protocol):
    """Stores principals and service accounts. Safe for concurrent use by several Hosts.

    Lookups of unknown ids return None, never raise; the caller decides the refusal.
    ``revision`` increases with every write, so a Host can tell its snapshot is stale.
    """

    async def get_principal(self, principal_id: str) -> PrincipalRecord | None:
        """The principal, or None."""
        ...

    async def put_principal(self, record: PrincipalRecord) -> None:
        """Create or replace a principal (its tenant may not change: ``ValueError``)."""
        ...

    async def list_principals(
        self,
        *,
        tenant_id: str | None,
        principal_type: PrincipalType | None = None,
        include_inactive: bool = False,
        limit: int = 0,
        cursor: str = "",
    ) -> Page[PrincipalRecord]:
        """Principals ordered by id; ``tenant_id=None`` means every tenant (platform callers)."""
        ...

    async def create_service_account(
        self, account: ServiceAccount, principal: PrincipalRecord
    ) -> None:
        """Store a service account and its principal record atomically.

        Raises:
            DuplicateError: The tenant already has an account of that name, or the id exists.
        """
        ...

    async def get_service_account(self, service_account_id: str) -> ServiceAccount | None:
        """The account, or None."""
        ...

    async def find_key(self, key_id: str) -> ApiKeyRecord | None:
        """The key record of that public key id (the API-key authentication look-up), or None."""
        ...

    async def list_service_accounts(
        self,
        *,
        tenant_id: str | None,
        include_revoked: bool = False,
        limit: int = 0,
        cursor: str = "",
    ) -> Page[ServiceAccount]:
        """Service accounts ordered by id; ``tenant_id=None`` means every tenant."""
        ...

    async def revoke_service_account(
        self, service_account_id: str, *, at_ms: int
    ) -> ServiceAccount | None:
        """Revoke the account's key (idempotent: an earlier revocation time is kept) and mark its
        principal inactive. Returns the updated account, or None if unknown."""
        ...

    async def revision(self) -> int:
        """A counter that increases with every write."""
        ...

    async def close(self) -> None:
        """Release connections and files."""
        ...
