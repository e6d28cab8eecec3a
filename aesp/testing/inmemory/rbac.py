"""The RBAC port in memory: roles and assignments in dicts, for tests and embedded use.

It passes the same conformance kit as the SQLite adapter, so a test that builds an
:class:`~aesp.core.rbac.RbacSnapshot` from it sees exactly what a real store would return.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aesp.core.rbac import RoleDefinition


class InMemoryRoleStore:
    """Roles keyed by ``(tenant_id, name)``; assignments keyed by ``(tenant_id, principal_id)``."""

    def __init__(self) -> None:
        self._roles: dict[tuple[str, str], RoleDefinition] = {}
        self._assignments: dict[tuple[str, str], tuple[str, ...]] = {}
        self._revision = 0

    async def put_role(self, role: RoleDefinition) -> None:
        """Create or replace a role (a copy with tuples, so a caller's list cannot change it)."""
        self._roles[(role.tenant_id, role.name)] = RoleDefinition(
            name=role.name,
            permissions=tuple(role.permissions),
            parents=tuple(role.parents),
            tenant_id=role.tenant_id,
        )
        self._revision += 1

    async def delete_role(self, tenant_id: str, name: str) -> bool:
        """Delete a role; False (and no revision bump: nothing changed) if it did not exist."""
        if self._roles.pop((tenant_id, name), None) is None:
            return False
        self._revision += 1
        return True

    async def roles(self) -> Sequence[RoleDefinition]:
        """Every role, ordered by ``(tenant_id, name)``."""
        return [self._roles[key] for key in sorted(self._roles)]

    async def set_assignment(
        self, principal_id: str, *, tenant_id: str, roles: Sequence[str]
    ) -> None:
        """Replace the principal's roles in the tenant; sorted and de-duplicated, empty removes."""
        key = (tenant_id, principal_id)
        held = tuple(sorted(set(roles)))
        if held:
            self._assignments[key] = held
        else:
            self._assignments.pop(key, None)
        self._revision += 1

    async def assignments(self) -> Mapping[tuple[str, str], tuple[str, ...]]:
        """A copy of every assignment, ordered by key."""
        return {key: self._assignments[key] for key in sorted(self._assignments)}

    async def revision(self) -> int:
        """Bumped by every write."""
        return self._revision

    async def close(self) -> None:
        """Nothing to release."""
