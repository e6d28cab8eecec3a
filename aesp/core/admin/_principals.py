"""Principal operations of ``EnterpriseIdentityService`` (items 153, 154).

The decisions they follow are listed in :mod:`aesp.core.admin.identity`.
"""

from __future__ import annotations

from aesp.core.admin._grants import (
    conferred_permissions,
    own_role_name,
    require_covered,
    require_roles_exist,
)
from aesp.core.admin._guard import ADMIN_QUERY, ALL_TENANTS, Done, clip
from aesp.core.admin._identity_base import IdentityBase, one_tenant
from aesp.core.admin._identity_support import principal_view, require_grants_bounded
from aesp.core.admin._trail import (
    principal_events,
    query_summary,
    query_trail,
    summarise,
    trail_page,
)
from aesp.core.admin.identity_types import (
    AuditEvents,
    AuditTrailQuery,
    PrincipalDetails,
    PrincipalView,
    RoleChange,
)
from aesp.core.errors import ValidationError
from aesp.core.ports._paging import Page
from aesp.core.ports.identity import PrincipalType
from aesp.core.security import SecurityContext

__all__ = ["PrincipalOps"]


class PrincipalOps(IdentityBase):
    """``ListPrincipals``, ``GetPrincipalDetails``, ``UpdatePrincipalRoles``,
    ``GetPrincipalAuditTrail``."""

    async def list_principals(
        self,
        ctx: SecurityContext,
        *,
        tenant_id: str = "",
        principal_type: PrincipalType | None = None,
        include_inactive: bool = False,
        limit: int = 0,
        cursor: str = "",
        correlation_id: str = "",
    ) -> Page[PrincipalView]:
        """``ListPrincipals`` (item 153): filters by tenant and type, leaves out inactive
        principals (disabled, revoked or expired) unless ``include_inactive``, pages by
        ``limit``/``cursor``. An expired service account is dropped after the store's page is
        read, so such a page may hold fewer than ``limit`` items."""

        async def act(target: str) -> Done[Page[PrincipalView]]:
            page = await self._control.identity.list_principals(
                tenant_id=None if target == ALL_TENANTS else target,
                principal_type=principal_type,
                include_inactive=include_inactive,
                limit=limit,
                cursor=cursor,
            )
            assignments = await self._control.roles.assignments()
            views = []
            for record in page.items:
                view = principal_view(record, assignments, expired=await self._expired(record))
                if include_inactive or view.active:
                    views.append(view)
            return Done(Page(views, page.next_cursor), metadata={"count": str(len(views))})

        return await self._guard.run(
            ctx,
            "ListPrincipals",
            ADMIN_QUERY,
            tenant_id=tenant_id,
            correlation_id=correlation_id,
            action=act,
        )

    async def get_principal_details(
        self,
        ctx: SecurityContext,
        principal_id: str,
        *,
        tenant_id: str = "",
        include_permissions: bool = False,
        include_audit_summary: bool = False,
        correlation_id: str = "",
    ) -> PrincipalDetails:
        """``GetPrincipalDetails``: effective permissions from the RBAC snapshot in force
        (roles that configuration maps from a credential's groups are applied at
        authentication and are not included), the audit summary from the AuditQuery port
        when the Host has one, else from this process's events (:mod:`aesp.core.admin._trail`).

        Raises:
            StateError: ``INVALID_STATE`` (not found) for a principal not in the tenant.
        """

        async def act(target: str) -> Done[PrincipalDetails]:
            tenant = one_tenant(target, "principal")
            record = await self._record_in(tenant, principal_id)
            assignments = await self._control.roles.assignments()
            view = principal_view(record, assignments, expired=await self._expired(record))
            snapshot = self._control.rbac.current
            effective = (
                snapshot.effective_permissions(principal_id, tenant_id=tenant)
                if include_permissions
                else ()
            )
            summary = None
            if include_audit_summary and self._audit_query is not None:
                summary = await query_summary(self._audit_query, tenant, principal_id)
            elif include_audit_summary:
                events = principal_events(self._control.audit.events(), tenant, principal_id)
                summary = summarise(events)
            own = own_role_name(principal_id.removeprefix(self.principal_id("")))
            direct = next(
                (
                    r.permissions
                    for r in await self._control.roles.roles()
                    if record.principal_type == PrincipalType.SERVICE_ACCOUNT
                    and r.tenant_id == tenant
                    and r.name == own
                ),
                (),
            )
            details = PrincipalDetails(view, tuple(effective), summary, tuple(direct))
            return Done(details, resource=f"principal:{principal_id}")

        return await self._guard.run(
            ctx,
            "GetPrincipalDetails",
            ADMIN_QUERY,
            tenant_id=tenant_id,
            correlation_id=correlation_id,
            action=act,
        )

    async def update_principal_roles(
        self, ctx: SecurityContext, change: RoleChange, *, correlation_id: str = ""
    ) -> PrincipalView:
        """``UpdatePrincipalRoles`` (item 154), audited ``IDENTITY_ASSIGN_ROLE``; in force before
        it returns (the RBAC snapshot is rebuilt).

        Steps: (1) the principal has a record in the tenant; (2) the added roles exist and no
        role is both added and removed; (3) the caller holds every permission the added and
        the actually removed roles carry (no escalation, no demotion of a more privileged
        principal); (4) store the new assignment; (5) rebuild the snapshot.

        Raises:
            ValidationError: ``MALFORMED_REQUEST`` (unknown role, role in both lists).
            AuthorizationError: ``PERMISSION_DENIED`` (escalation), or from the frame.
            StateError: ``INVALID_STATE`` (not found) for a principal not in the tenant.
        """

        async def act(target: str) -> Done[PrincipalView]:
            tenant = one_tenant(target, "principal")
            # (1)
            record = await self._record_in(tenant, change.principal_id)
            # (2)
            require_grants_bounded("roles_to_add", change.add)
            require_grants_bounded("roles_to_remove", change.remove)
            both = sorted(set(change.add) & set(change.remove))
            if both:
                raise ValidationError(
                    "MALFORMED_REQUEST",
                    f"Role '{both[0][:128]}' is both added and removed; send one of the two.",
                    details={"field": "roles_to_add"},
                )
            roles = await self._control.roles.roles()
            require_roles_exist(roles, tenant, change.add)
            assignments = await self._control.roles.assignments()
            current = set(assignments.get((tenant, change.principal_id), ()))
            added = sorted(set(change.add) - current)
            removed = sorted(current & set(change.remove))
            # (3)
            require_covered(
                self._control, ctx, conferred_permissions(roles, tenant, added), verb="grant"
            )
            require_covered(
                self._control, ctx, conferred_permissions(roles, tenant, removed), verb="revoke"
            )
            # (4), (5)
            new = sorted((current | set(added)) - set(removed))
            await self._control.roles.set_assignment(
                change.principal_id, tenant_id=tenant, roles=new
            )
            await self._control.roles_changed()
            after = dict(assignments)
            after[(tenant, change.principal_id)] = tuple(new)
            view = principal_view(record, after, expired=await self._expired(record))
            meta = {
                "added": ",".join(added),
                "removed": ",".join(removed),
                "roles": ",".join(new),
                "justification": clip(change.justification),
            }
            return Done(view, resource=f"principal:{change.principal_id}", metadata=meta)

        return await self._guard.run(
            ctx,
            "UpdatePrincipalRoles",
            "IDENTITY_ASSIGN_ROLE",
            tenant_id=change.tenant_id,
            correlation_id=correlation_id,
            action=act,
        )

    async def get_principal_audit_trail(
        self, ctx: SecurityContext, query: AuditTrailQuery, *, correlation_id: str = ""
    ) -> AuditEvents:
        """``GetPrincipalAuditTrail``: the principal's events in the resolved tenant, oldest
        first (append order). Reads the AuditQuery port when the Host has one, else this
        process's events (see :mod:`aesp.core.admin._trail`). A principal with no events in the tenant,
        whether it exists elsewhere or nowhere, gets an empty page."""

        async def act(target: str) -> Done[AuditEvents]:
            tenant = one_tenant(target, "principal")
            if self._audit_query is not None:
                page = await query_trail(self._audit_query, tenant, query)
            else:
                events = principal_events(self._control.audit.events(), tenant, query.principal_id)
                page = trail_page(events, query)
            meta = {"count": str(len(page.items))}
            return Done(page, resource=f"principal:{query.principal_id}", metadata=meta)

        return await self._guard.run(
            ctx,
            "GetPrincipalAuditTrail",
            ADMIN_QUERY,
            tenant_id=query.tenant_id,
            correlation_id=correlation_id,
            action=act,
        )
