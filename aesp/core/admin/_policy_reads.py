"""Read operations of ``EnterprisePolicyService``: get and list, audited ``ADMIN_QUERY``.

The decisions they follow are listed in :mod:`aesp.core.admin.policy`.
"""

from __future__ import annotations

from aesp.core.admin._guard import ADMIN_QUERY, ALL_TENANTS, Done
from aesp.core.admin._policy_base import PolicyBase
from aesp.core.admin._policy_support import list_page, matches_resource, view
from aesp.core.admin.policy_types import PolicyView
from aesp.core.policy import PLATFORM
from aesp.core.ports._paging import MAX_PAGE, Page
from aesp.core.ports.policy import StoredPolicy
from aesp.core.security import SecurityContext

__all__ = ["PolicyReads"]


class PolicyReads(PolicyBase):
    """``GetPolicy``, ``ListPolicies``."""

    async def get_policy(
        self,
        ctx: SecurityContext,
        policy_id: str,
        *,
        tenant_id: str = "",
        version: str = "",
        correlation_id: str = "",
    ) -> PolicyView:
        """``GetPolicy``: the latest or a given version (item 164: old versions stay readable).

        Raises:
            StateError: ``POLICY_NOT_FOUND``.
        """

        async def act(target: str) -> Done[PolicyView]:
            stored = await self._find(target, policy_id, version)
            out = view(stored, await self._first(stored))
            return Done(out, f"policy:{policy_id}@{stored.definition.version}")

        return await self._guard.run(
            ctx,
            "GetPolicy",
            ADMIN_QUERY,
            tenant_id=tenant_id,
            correlation_id=correlation_id,
            action=act,
        )

    async def _latest_in(self, scope: str | None) -> list[StoredPolicy]:
        """Every live policy's latest version in ``scope`` (None: every tenant)."""
        out: list[StoredPolicy] = []
        cursor = ""
        while True:
            page = await self._control.policies.list_latest(
                tenant_id=scope, limit=MAX_PAGE, cursor=cursor
            )
            out.extend(page.items)
            if not page.next_cursor:
                return out
            cursor = page.next_cursor

    async def list_policies(
        self,
        ctx: SecurityContext,
        *,
        tenant_id: str = "",
        resource: str = "",
        include_disabled: bool = False,
        limit: int = 0,
        cursor: str = "",
        correlation_id: str = "",
    ) -> Page[PolicyView]:
        """``ListPolicies``: a tenant's policies plus the platform's (``"*"``: every tenant's),
        ordered by ``(tenant_id, policy_id)``, filtered by resource and enabled state."""

        async def act(target: str) -> Done[Page[PolicyView]]:
            if target == ALL_TENANTS:
                found = await self._latest_in(None)
            else:
                found = [*await self._latest_in(PLATFORM), *await self._latest_in(target)]
            kept = [
                s
                for s in found
                if (include_disabled or s.definition.enabled)
                and matches_resource(s.definition, resource)
            ]
            page = list_page(kept, limit=limit, cursor=cursor)
            views = [view(s, await self._first(s)) for s in page.items]
            return Done(Page(views, page.next_cursor), metadata={"count": str(len(views))})

        return await self._guard.run(
            ctx,
            "ListPolicies",
            ADMIN_QUERY,
            tenant_id=tenant_id,
            correlation_id=correlation_id,
            action=act,
        )
