"""The Tenant port: the registry of tenants and their state (SPEC §3.14, C-40).

The tenant of every request comes from verified identity; this port only says whether that
tenant exists and is active. A suspended tenant's calls are refused with ``TENANT_SUSPENDED``.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from aesp.core.ports._paging import Page

TENANT_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}\Z")  # the SPIFFE path segment rule


class TenantStatus(enum.StrEnum):
    """Lifecycle of a tenant."""

    ACTIVE = "ACTIVE"
    SUSPENDED = "SUSPENDED"


@dataclass(frozen=True, slots=True)
class Tenant:
    """A tenant record."""

    tenant_id: str
    display_name: str = ""
    status: TenantStatus = TenantStatus.ACTIVE
    created_at_ms: int = 0
    updated_at_ms: int = 0
    metadata: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not TENANT_ID.match(self.tenant_id):
            raise ValueError(
                f"tenant id {self.tenant_id!r} must be 1-63 lowercase letters, digits, '.', '_' "
                "or '-', starting with a letter or digit"
            )


@runtime_checkable
class TenantRegistry(Protocol):
    """Stores tenants. Implementations must be safe for concurrent use by several Hosts.

    No method raises for an unknown tenant: ``get`` returns None, and the caller decides the
    refusal (``TENANT_ACCESS_DENIED``).
    """

    async def get(self, tenant_id: str) -> Tenant | None:
        """The tenant, or None if it is not registered."""
        ...

    async def put(self, tenant: Tenant) -> None:
        """Create or replace a tenant record (idempotent)."""
        ...

    async def list(self, *, limit: int = 0, cursor: str = "") -> Page[Tenant]:
        """Tenants ordered by id, one page at a time."""
        ...

    async def close(self) -> None:
        """Release connections and files."""
        ...
