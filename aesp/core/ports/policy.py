"""The Policy port: versioned CEL policy definitions (SPEC §3.7 (2), §3.12, C-33).

Compiling and deciding is the core's job (:mod:`aesp.core.policy`); this port stores every
version of every policy, never overwriting one, keyed by ``(tenant_id, policy_id, version)``.
A tenant can only ever address its own policies, so another tenant's policy is simply not found.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from aesp.core.policy.model import Effect, PolicyDefinition
from aesp.core.ports._paging import Page


def normalised(definition: PolicyDefinition) -> PolicyDefinition:
    """``definition`` as every store keeps it: the effect an :class:`Effect` (case-insensitive,
    as compiled), private tuples and a plain ``dict[str, str]`` of parameters.

    Why: the model accepts plain strings and any sequence or mapping, but readers of a store
    must get one type back, and a caller mutating its dict later must not change a stored
    version.

    Raises:
        ValueError: The effect is not ALLOW, DENY, AUDIT or REQUIRE_APPROVAL.
    """
    try:
        effect = Effect(str(definition.effect).upper())
    except ValueError:
        raise ValueError(
            f"policy {definition.policy_id!r}: effect {definition.effect!r} is not "
            "ALLOW, DENY, AUDIT or REQUIRE_APPROVAL"
        ) from None
    return dataclasses.replace(
        definition,
        effect=effect,
        applies_to=tuple(definition.applies_to),
        actions=tuple(definition.actions),
        parameters={str(k): str(v) for k, v in definition.parameters.items()},
    )


@dataclass(frozen=True, slots=True)
class StoredPolicy:
    """One stored version of a policy.

    Attributes:
        definition: The policy as authored (``definition.tenant_id`` scopes it).
        revision: Store-wide sequence number of this write (orders versions by recency).
        created_at_ms: When this version was stored, Unix ms.
        created_by: Principal that stored it.
        deleted: True once the policy was deleted; deleted policies are never evaluated, and
            their versions stay readable for audit.
    """

    definition: PolicyDefinition
    revision: int
    created_at_ms: int
    created_by: str = ""
    deleted: bool = False


class VersionExistsError(ValueError):
    """The ``(tenant_id, policy_id, version)`` is already stored; versions are immutable."""


@runtime_checkable
class PolicyStore(Protocol):
    """Stores policy versions. Safe for concurrent use by several Hosts."""

    async def add_version(
        self, definition: PolicyDefinition, *, created_by: str, at_ms: int
    ) -> StoredPolicy:
        """Store a new version (undeleting the policy if it was deleted).

        Raises:
            VersionExistsError: That version is already stored.
        """
        ...

    async def get(self, tenant_id: str, policy_id: str, version: str = "") -> StoredPolicy | None:
        """One version (``""`` = the latest stored), or None. Deleted policies are returned
        with ``deleted=True``."""
        ...

    async def versions(self, tenant_id: str, policy_id: str) -> Sequence[StoredPolicy]:
        """Every version of a policy, oldest first."""
        ...

    async def list_latest(
        self,
        *,
        tenant_id: str | None,
        include_deleted: bool = False,
        limit: int = 0,
        cursor: str = "",
    ) -> Page[StoredPolicy]:
        """The latest version of each policy, ordered by ``(tenant_id, policy_id)``;
        ``tenant_id=None`` means every tenant."""
        ...

    async def delete(self, tenant_id: str, policy_id: str, *, at_ms: int) -> bool:
        """Mark a policy deleted (its versions are kept); False if unknown or already deleted."""
        ...

    async def active(self) -> Sequence[PolicyDefinition]:
        """The latest version of every policy that is neither deleted nor disabled."""
        ...

    async def revision(self) -> int:
        """A counter that increases with every write."""
        ...

    async def close(self) -> None:
        """Release connections and files."""
        ...
