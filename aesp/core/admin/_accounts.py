"""Service-account operations of ``EnterpriseIdentityService`` (items 151, 152).

The decisions they follow are listed in :mod:`aesp.core.admin.identity`.
"""

from __future__ import annotations

import secrets
from typing import Final

from aesp.core.admin._grants import (
    conferred_permissions,
    own_role_name,
    require_covered,
    require_roles_exist,
)
from aesp.core.admin._guard import ADMIN_QUERY, ALL_TENANTS, Done, clip, not_found
from aesp.core.admin._identity_base import IdentityBase, one_tenant
from aesp.core.admin._identity_support import account_view, check_new_account
from aesp.core.admin.identity_types import (
    IssuedServiceAccount,
    NewServiceAccount,
    ServiceAccountView,
)
from aesp.core.errors import StateError
from aesp.core.ports._paging import Page
from aesp.core.ports.identity import (
    DuplicateError,
    PrincipalRecord,
    PrincipalType,
    ServiceAccount,
)
from aesp.core.rbac import RoleDefinition
from aesp.core.security import SecurityContext
from aesp.identity.apikeys import ApiKeyRecord, IssuedKey, generate_api_key

__all__ = ["ServiceAccountOps"]

ACCOUNT_ID_BYTES: Final = 12  # 96 random bits: ids never collide and cannot be enumerated


class ServiceAccountOps(IdentityBase):
    """``CreateServiceAccount``, ``ListServiceAccounts``, ``RevokeServiceAccount``."""

    async def create_service_account(
        self, ctx: SecurityContext, request: NewServiceAccount, *, correlation_id: str = ""
    ) -> IssuedServiceAccount:
        """``CreateServiceAccount`` (item 151), audited ``IDENTITY_CREATE_SERVICE_ACCOUNT``.

        Steps: (1) check the request; (2) the roles exist in the tenant or platform; (3) no
        escalation; (4) issue the key and store account and principal atomically; (5) its own
        role and its assignment (the account is revoked if they cannot be stored); (6) the
        snapshots are refreshed, so the account can act at once.

        Raises:
            ValidationError: ``MALFORMED_REQUEST`` for a bad field or unknown role.
            AuthorizationError: ``PERMISSION_DENIED`` (escalation), or from the frame.
            StateError: ``INVALID_STATE`` when the tenant already has an account of that name.
        """

        async def act(target: str) -> Done[IssuedServiceAccount]:
            now = self._clock_ms()
            tenant = one_tenant(target, "service account")
            # (1), (2), (3)
            check_new_account(request, tenant, now)
            roles = await self._control.roles.roles()
            require_roles_exist(roles, tenant, request.roles)
            conferred = conferred_permissions(roles, tenant, request.roles, request.permissions)
            require_covered(self._control, ctx, conferred, verb="grant")
            # (4): the key is generated here and leaves only in the result.
            account_id = secrets.token_hex(ACCOUNT_ID_BYTES)
            principal_id = self.principal_id(account_id)
            issued = generate_api_key(self._prefix, pepper=self._pepper)
            account, record = self._new_records(ctx, request, tenant, account_id, issued, now)
            try:
                await self._control.identity.create_service_account(account, record)
            except DuplicateError:
                raise StateError(
                    "INVALID_STATE",
                    f"Tenant '{tenant}' already has a service account named '{request.name}'.",
                    details={"field": "name"},
                ) from None
            # (5)
            held = await self._grant_own_role(account, principal_id, request)
            # (6): item 154, "take effect immediately".
            await self._control.roles_changed()
            await self._control.identity_changed()
            grants = tuple(sorted(set(request.permissions)))
            own = (RoleDefinition(own_role_name(account_id), grants, (), tenant),)
            view = account_view(account, principal_id, {(tenant, principal_id): held}, own)
            meta = {
                "name": request.name,
                "key_id": issued.key_id,  # public: names the key, proves nothing
                "roles": ",".join(request.roles),
                "permissions": clip(",".join(request.permissions)),
                "expires_at": str(request.expires_at_ms),
            }
            return Done(
                IssuedServiceAccount(view, issued.secret_to_show_once),
                resource=f"service_account:{account_id}",
                metadata=meta,
            )

        return await self._guard.run(
            ctx,
            "CreateServiceAccount",
            "IDENTITY_CREATE_SERVICE_ACCOUNT",
            tenant_id=request.tenant_id,
            correlation_id=correlation_id,
            action=act,
        )

    def _new_records(
        self,
        ctx: SecurityContext,
        request: NewServiceAccount,
        tenant: str,
        account_id: str,
        issued: IssuedKey,
        now: int,
    ) -> tuple[ServiceAccount, PrincipalRecord]:
        """The account (with only the key's hash) and its principal record, not yet stored."""
        account = ServiceAccount(
            service_account_id=account_id,
            tenant_id=tenant,
            name=request.name,
            key=ApiKeyRecord(
                key_id=issued.key_id,
                service_account_id=account_id,
                tenant_id=tenant,
                stored_hash=issued.stored_hash,
                created_at_ms=now,
                expires_at_ms=request.expires_at_ms,
            ),
            description=request.description,
            created_by=ctx.principal_id,
            metadata=dict(request.metadata),
        )
        level = self._control.access.default_clearance
        record = PrincipalRecord(
            principal_id=self.principal_id(account_id),
            tenant_id=tenant,
            principal_type=PrincipalType.SERVICE_ACCOUNT,
            display_name=request.name,
            security_clearance=level,
            data_classification=level,
            source="api_key",
            created_at_ms=now,
            updated_at_ms=now,
        )
        return account, record

    async def _grant_own_role(
        self, account: ServiceAccount, principal_id: str, request: NewServiceAccount
    ) -> tuple[str, ...]:
        """Store the account's own role and its assignment; on failure revoke the account so a
        half-made account can never authenticate."""
        tenant = account.tenant_id
        held = set(request.roles)
        try:
            if request.permissions:
                own = own_role_name(account.service_account_id)
                grants = tuple(sorted(set(request.permissions)))
                await self._control.roles.put_role(RoleDefinition(own, grants, (), tenant))
                held.add(own)
            if held:
                await self._control.roles.set_assignment(
                    principal_id, tenant_id=tenant, roles=sorted(held)
                )
        except BaseException:
            await self._control.identity.revoke_service_account(
                account.service_account_id, at_ms=max(1, self._clock_ms())
            )
            raise
        return tuple(sorted(held))

    async def list_service_accounts(
        self,
        ctx: SecurityContext,
        *,
        tenant_id: str = "",
        include_revoked: bool = False,
        limit: int = 0,
        cursor: str = "",
        correlation_id: str = "",
    ) -> Page[ServiceAccountView]:
        """``ListServiceAccounts``: the resolved tenant's accounts (``"*"``: every tenant, for
        platform callers), without credentials. Without ``include_revoked``, revoked and
        expired accounts are left out (a page may then hold fewer than ``limit`` items)."""

        async def act(target: str) -> Done[Page[ServiceAccountView]]:
            page = await self._control.identity.list_service_accounts(
                tenant_id=None if target == ALL_TENANTS else target,
                include_revoked=include_revoked,
                limit=limit,
                cursor=cursor,
            )
            assignments = await self._control.roles.assignments()
            roles = await self._control.roles.roles()
            now = self._clock_ms()
            views = [
                account_view(a, self.principal_id(a.service_account_id), assignments, roles)
                for a in page.items
                if include_revoked or not (a.key.expires_at_ms and a.key.expires_at_ms <= now)
            ]
            return Done(Page(views, page.next_cursor), metadata={"count": str(len(views))})

        return await self._guard.run(
            ctx,
            "ListServiceAccounts",
            ADMIN_QUERY,
            tenant_id=tenant_id,
            correlation_id=correlation_id,
            action=act,
        )

    async def revoke_service_account(
        self,
        ctx: SecurityContext,
        service_account_id: str,
        *,
        tenant_id: str = "",
        reason: str = "",
        correlation_id: str = "",
    ) -> ServiceAccountView:
        """``RevokeServiceAccount`` (item 152), audited ``IDENTITY_REVOKE_SERVICE_ACCOUNT``.
        Idempotent: revoking again keeps the first revocation time.

        Raises:
            StateError: ``INVALID_STATE`` (not found) for an account not in the tenant.
        """

        async def act(target: str) -> Done[ServiceAccountView]:
            tenant = one_tenant(target, "service account")
            found = await self._control.identity.get_service_account(service_account_id)
            if found is None or found.tenant_id != tenant:
                raise not_found(
                    "service account", service_account_id, tenant, field_name="service_account_id"
                )
            revoked = await self._control.identity.revoke_service_account(
                service_account_id, at_ms=self._clock_ms()
            )
            if revoked is None:  # deleted between the two reads
                raise not_found(
                    "service account", service_account_id, tenant, field_name="service_account_id"
                )
            await self._control.identity_changed()
            principal_id = self.principal_id(service_account_id)
            view = account_view(
                revoked,
                principal_id,
                await self._control.roles.assignments(),
                await self._control.roles.roles(),
            )
            meta = {"key_id": revoked.key.key_id, "reason": clip(reason)}
            return Done(view, resource=f"service_account:{service_account_id}", metadata=meta)

        return await self._guard.run(
            ctx,
            "RevokeServiceAccount",
            "IDENTITY_REVOKE_SERVICE_ACCOUNT",
            tenant_id=tenant_id,
            correlation_id=correlation_id,
            action=act,
        )
