"""The RBAC port: role definitions and role assignments (SPEC §3.4 RBAC Engine, C-32).

Decisions are not made here: the Host builds an :class:`~aesp.core.rbac.RbacSnapshot` from what
this port returns and decides from memory (DESIGN §2 principle 2). The port's job is storage,
and a ``revision`` that tells the Host when its snapshot is stale.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol, runtime_checkable

from aesp.core.rbac import RoleDefinition


@runtime_checkable
class RoleStore(Protocol):
    """Stores roles (keyed by ``(tenant_id, name)``; tenant ``""`` = platform role) and, per
    ``(tenant_id, principal_id)``, the names of the roles the principal holds there.

    The store does not validate the hierarchy (the snapshot does, and refuses cycles); callers
    build a snapshot with the change applied *before* writing it.
    """

    async def put_role(self, role: RoleDefinition) -> None:
        """Create or replace a role."""
        ...

    async def delete_role(self, tenant_id: str, name: str) -> bool:
        """Delete a role; False if it did not exist."""
        ...

    async def roles(self) -> Sequence[RoleDefinition]:
        """Every role of every tenant, ordered by ``(tenant_id, name)``."""
        ...

    async def set_assignment(
        self, principal_id: str, *, tenant_id: str, roles: Sequence[str]
    ) -> None:
        """Replace the roles ``principal_id`` holds in ``tenant_id`` (empty removes them)."""
        ...

    async def assignments(self) -> Mapping[tuple[str, str], tuple[str, ...]]:
        """``(tenant_id, principal_id)`` → sorted role names, for every assignment; tenant ``""``
        is a platform assignment, held in every tenant."""
        ...

    async def revision(self) -> int:
        """A counter that increases with every write."""
        ...

    async def close(self) -> None:
        """Release connections and files."""
        ...
