"""The Policy port in memory: every version of every policy in dicts, for tests and embedded use.

It passes the same conformance kit as the SQLite adapter: versions are immutable, the latest is
the most recent write, and a delete only hides a policy (its versions stay readable for audit).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field

from aesp.core.policy.model import PolicyDefinition
from aesp.core.ports._cursors import decode_pair_cursor, encode_pair_cursor
from aesp.core.ports._paging import Page, page_limit
from aesp.core.ports.policy import StoredPolicy, VersionExistsError, normalised

_Key = tuple[str, str]  # (tenant_id, policy_id)


@dataclass
class _Policy:
    """One policy id: its versions in write order, and whether it is deleted."""

    versions: dict[str, StoredPolicy] = field(default_factory=dict)
    deleted: bool = False
    deleted_at_ms: int = 0

    def view(self, stored: StoredPolicy) -> StoredPolicy:
        """``stored`` as readers see it now: the deleted flag belongs to the policy."""
        return dataclasses.replace(stored, deleted=self.deleted)

    def latest(self) -> StoredPolicy:
        """The most recently stored version (versions are kept in write order)."""
        return self.view(next(reversed(self.versions.values())))


class InMemoryPolicyStore:
    """Policy versions keyed by ``(tenant_id, policy_id, version)``."""

    def __init__(self) -> None:
        self._policies: dict[_Key, _Policy] = {}
        self._revision = 0

    async def add_version(
        self, definition: PolicyDefinition, *, created_by: str, at_ms: int
    ) -> StoredPolicy:
        """Store a new version and undelete the policy.

        Raises:
            VersionExistsError: That version is already stored (nothing changes).
            ValueError: ``definition.effect`` is not ALLOW, DENY, AUDIT or REQUIRE_APPROVAL.
        """
        definition = normalised(definition)
        key = (definition.tenant_id, definition.policy_id)
        policy = self._policies.get(key)
        if policy is not None and definition.version in policy.versions:
            raise VersionExistsError(_exists_message(definition))
        self._revision += 1
        stored = StoredPolicy(definition, self._revision, at_ms, created_by)
        policy = self._policies.setdefault(key, _Policy())
        policy.versions[definition.version] = stored
        policy.deleted, policy.deleted_at_ms = False, 0
        return stored

    async def get(self, tenant_id: str, policy_id: str, version: str = "") -> StoredPolicy | None:
        """One version (``""`` = latest), or None; only the owning tenant finds it."""
        policy = self._policies.get((tenant_id, policy_id))
        if policy is None:
            return None
        if not version:
            return policy.latest()
        stored = policy.versions.get(version)
        return policy.view(stored) if stored is not None else None

    async def versions(self, tenant_id: str, policy_id: str) -> Sequence[StoredPolicy]:
        """Every version, oldest (lowest revision) first."""
        policy = self._policies.get((tenant_id, policy_id))
        return [policy.view(s) for s in policy.versions.values()] if policy else []

    async def list_latest(
        self,
        *,
        tenant_id: str | None,
        include_deleted: bool = False,
        limit: int = 0,
        cursor: str = "",
    ) -> Page[StoredPolicy]:
        """Latest versions ordered by ``(tenant_id, policy_id)``; the cursor is that pair as JSON.

        Raises:
            ValueError: ``cursor`` was not returned by this store.
        """
        size = page_limit(limit)
        after = decode_pair_cursor(cursor, "list_latest")
        keys = sorted(
            key
            for key, policy in self._policies.items()
            if (tenant_id is None or key[0] == tenant_id)
            and (include_deleted or not policy.deleted)
            and (after is None or key > after)
        )
        items = [self._policies[key].latest() for key in keys[:size]]
        return Page(items, encode_pair_cursor(*keys[size - 1]) if len(keys) > size else "")

    async def delete(self, tenant_id: str, policy_id: str, *, at_ms: int) -> bool:
        """Mark the policy deleted; False if unknown or already deleted (no revision bump)."""
        policy = self._policies.get((tenant_id, policy_id))
        if policy is None or policy.deleted:
            return False
        policy.deleted, policy.deleted_at_ms = True, at_ms
        self._revision += 1
        return True

    async def active(self) -> Sequence[PolicyDefinition]:
        """Latest version of each live, enabled policy, ordered by ``(tenant_id, policy_id)``."""
        latest = (self._policies[key].latest() for key in sorted(self._policies))
        return [s.definition for s in latest if not s.deleted and s.definition.enabled]

    async def revision(self) -> int:
        """Bumped by every write."""
        return self._revision

    async def close(self) -> None:
        """Nothing to release."""

    def stored(self) -> list[StoredPolicy]:
        """Every version of every policy in write order, for assertions."""
        everything = [p.view(s) for p in self._policies.values() for s in p.versions.values()]
        return sorted(everything, key=lambda s: s.revision)


def _exists_message(definition: PolicyDefinition) -> str:
    return (
        f"policy {definition.policy_id!r} of tenant {definition.tenant_id!r} already has version "
        f"{definition.version!r}; versions are immutable, store a new version instead"
    )
