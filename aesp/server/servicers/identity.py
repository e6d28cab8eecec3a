"""EnterpriseIdentityService: the gRPC edge of :class:`aesp.core.admin.IdentityAdmin`.

Thin (STYLE convention 8): each RPC converts the request, asks the gateway for the verified
caller (:func:`aesp.server.gateway.admitted`), builds its security context, calls the core
operation and converts the result. Permissions, tenant scope and audit are the core's; every
refusal travels in-band as the ``EnterpriseError`` of the response's ``oneof`` (item 147).

:func:`serve` is shared with the policy servicer.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

import grpc

from aesp.core.admin import (
    AuditTrailQuery,
    IdentityAdmin,
    NewServiceAccount,
    PrincipalDetails,
    PrincipalView,
    RoleChange,
    ServiceAccountView,
)
from aesp.core.audit import AuditEvent
from aesp.core.errors import AespError, ValidationError
from aesp.core.host import Host
from aesp.core.ports.identity import PrincipalType
from aesp.core.principal import Principal
from aesp.core.security import SecurityContext
from aesp.proto.altar.aesp.v1 import audit_pb2 as _audit_pb2
from aesp.proto.altar.aesp.v1 import enterprise_pb2 as _enterprise_pb2
from aesp.proto.altar.aesp.v1 import identity_pb2 as _identity_pb2
from aesp.proto.altar.aesp.v1 import identity_pb2_grpc as _identity_pb2_grpc
from aesp.server.errors import enterprise_error
from aesp.server.gateway import admitted, correlation_id, current_admission, pepper_for

__all__ = ["AdminEdge", "IdentityServicer", "serve"]

R = TypeVar("R")


class AdminEdge(Protocol):
    """What :func:`serve` needs of an admin facade (``IdentityAdmin``, ``PolicyAdmin``)."""

    async def context(
        self, principal: Principal, *, rpc: str, correlation_id: str
    ) -> SecurityContext:
        """The caller's security context (a refusal is audited)."""
        ...

    async def record_refusal(
        self, ctx: SecurityContext, rpc: str, exc: AespError, *, correlation_id: str
    ) -> None:
        """Audit a refusal raised at the edge (once)."""
        ...


_TYPES = {
    _enterprise_pb2.USER: PrincipalType.USER,
    _enterprise_pb2.SERVICE_ACCOUNT: PrincipalType.SERVICE_ACCOUNT,
    _enterprise_pb2.SYSTEM_ACCOUNT: PrincipalType.SYSTEM_ACCOUNT,
}
_TYPE_VALUES = {kind: number for number, kind in _TYPES.items()}


async def serve(
    rpc: str,
    admin: AdminEdge,
    respond: Callable[[SecurityContext, str], Awaitable[R]],
    response: Callable[..., R],
) -> R:
    """Run one admin RPC: admitted caller → security context → ``respond``.

    An :class:`AespError` becomes ``response(error=EnterpriseError)`` with the caller's tenant,
    principal and the correlation id filled (item 141). The gateway and the core audit their
    own refusals; one raised while converting the request is audited here, through the core.
    """
    cid = correlation_id()
    ctx: SecurityContext | None = None
    try:
        ctx = await admin.context(admitted(), rpc=rpc, correlation_id=cid)
        return await respond(ctx, cid)
    except AespError as exc:
        if ctx is not None and not exc.audited:
            await admin.record_refusal(ctx, rpc, exc, correlation_id=cid)
        verdict = current_admission()
        known = verdict.principal if verdict is not None else None
        tenant = ctx.tenant_id if ctx else (known.tenant_id if known else "")
        who = ctx.principal_id if ctx else (known.principal_id if known else "")
        error = enterprise_error(exc, correlation_id=cid, tenant_id=tenant, principal_id=who)
        return response(error=error)


def principal_type(value: int) -> PrincipalType | None:
    """The core type of a wire ``PrincipalType``; None for UNSPECIFIED (= every type).

    Raises:
        ValidationError: ``MALFORMED_REQUEST`` for a number the enum does not define.
    """
    if value == _enterprise_pb2.PRINCIPAL_TYPE_UNSPECIFIED:
        return None
    if value not in _TYPES:
        raise ValidationError(
            "MALFORMED_REQUEST",
            f"principal_type {value} is not a PrincipalType.",
            details={"field": "principal_type"},
        )
    return _TYPES[value]


def account_message(view: ServiceAccountView) -> _identity_pb2.ServiceAccount:
    """A service account without its credential."""
    return _identity_pb2.ServiceAccount(
        service_account_id=view.service_account_id,
        name=view.name,
        description=view.description,
        tenant_id=view.tenant_id,
        roles=view.roles,
        permissions=view.permissions,
        created_at=view.created_at_ms,
        expires_at=view.expires_at_ms,
        created_by=view.created_by,
        revoked=view.revoked,
        revoked_at=view.revoked_at_ms,
        metadata=dict(view.metadata),
    )


def principal_message(view: PrincipalView) -> _identity_pb2.Principal:
    """A principal record."""
    return _identity_pb2.Principal(
        principal_id=view.principal_id,
        principal_type=_TYPE_VALUES[view.principal_type],
        display_name=view.display_name,
        tenant_id=view.tenant_id,
        roles=view.roles,
        active=view.active,
        created_at=view.created_at_ms,
        source=view.source,
        attributes=dict(view.attributes),
    )


def details_message(details: PrincipalDetails) -> _identity_pb2.PrincipalDetails:
    """A principal with its optional extras (the summary only when it was asked for)."""
    out = _identity_pb2.PrincipalDetails(
        principal=principal_message(details.principal),
        effective_permissions=details.effective_permissions,
        direct_permissions=details.direct_permissions,
    )
    summary = details.audit_summary
    if summary is not None:
        out.audit_summary.CopyFrom(
            _identity_pb2.PrincipalAuditSummary(
                total_events=summary.total_events,
                denied_events=summary.denied_events,
                failed_events=summary.failed_events,
                last_event_at=summary.last_event_at_ms,
                event_type_counts=dict(summary.event_type_counts),
            )
        )
    return out


def event_message(event: AuditEvent) -> _audit_pb2.AuditEvent:
    """An audit event as ``altar.aesp.v1.AuditEvent`` (integrity fields come with the audit
    issue's durable log)."""
    return _audit_pb2.AuditEvent(
        event_id=event.event_id,
        timestamp_ms=event.timestamp_ms,
        event_type=event.event_type,
        principal_id=event.principal_id,
        tenant_id=event.tenant_id,
        session_id=event.session_id,
        resource=event.resource,
        action=event.action,
        outcome=event.outcome,
        source_ip=event.source_ip,
        metadata=dict(event.metadata),
        policy_violations=event.policy_violations,
        correlation_id=event.correlation_id,
    )


class IdentityServicer(_identity_pb2_grpc.EnterpriseIdentityServiceServicer):
    """Serves EnterpriseIdentityService from a :class:`~aesp.core.host.Host`.

    Args:
        host: The Host (its control plane and configuration).
        pepper: The API-key pepper; by default the gateway's (:func:`pepper_for`), so keys
            issued here authenticate there.

    Raises:
        ConfigurationError: The pepper file is unusable.
    """

    def __init__(self, host: Host, *, pepper: bytes | None = None) -> None:
        self._admin = IdentityAdmin(
            host.control,
            pepper=pepper if pepper is not None else pepper_for(host.config),
            key_prefix=host.config.identity.api_keys.prefix,
            audit_query=host.audit_query,  # the shipped, durable audit index (decision 101)
        )

    async def CreateServiceAccount(
        self,
        request: _identity_pb2.CreateServiceAccountRequest,
        context: grpc.aio.ServicerContext,
    ) -> _identity_pb2.CreateServiceAccountResponse:
        """Create an account; the key is in ``api_key`` and ``secret``, shown this once."""

        async def respond(
            ctx: SecurityContext, cid: str
        ) -> _identity_pb2.CreateServiceAccountResponse:
            issued = await self._admin.create_service_account(
                ctx,
                NewServiceAccount(
                    name=request.name,
                    description=request.description,
                    tenant_id=request.tenant_id,
                    roles=tuple(request.roles),
                    permissions=tuple(request.permissions),
                    expires_at_ms=request.expires_at,
                    metadata=dict(request.metadata),
                ),
                correlation_id=cid,
            )
            account = issued.account
            return _identity_pb2.CreateServiceAccountResponse(
                success_details=_identity_pb2.ServiceAccountDetails(
                    service_account_id=account.service_account_id,
                    api_key=issued.api_key,
                    secret=issued.api_key,
                    created_at=account.created_at_ms,
                    expires_at=account.expires_at_ms,
                )
            )

        return await serve(
            "CreateServiceAccount",
            self._admin,
            respond,
            _identity_pb2.CreateServiceAccountResponse,
        )

    async def ListServiceAccounts(
        self, request: _identity_pb2.ListServiceAccountsRequest, context: grpc.aio.ServicerContext
    ) -> _identity_pb2.ListServiceAccountsResponse:
        """A page of the tenant's service accounts (``tenant_id="*"``: every tenant)."""

        async def respond(
            ctx: SecurityContext, cid: str
        ) -> _identity_pb2.ListServiceAccountsResponse:
            page = await self._admin.list_service_accounts(
                ctx,
                tenant_id=request.tenant_id,
                include_revoked=request.include_revoked,
                limit=request.limit,
                cursor=request.cursor,
                correlation_id=cid,
            )
            return _identity_pb2.ListServiceAccountsResponse(
                success_details=_identity_pb2.ServiceAccountList(
                    items=[account_message(v) for v in page.items], next_cursor=page.next_cursor
                )
            )

        return await serve(
            "ListServiceAccounts", self._admin, respond, _identity_pb2.ListServiceAccountsResponse
        )

    async def RevokeServiceAccount(
        self, request: _identity_pb2.RevokeServiceAccountRequest, context: grpc.aio.ServicerContext
    ) -> _identity_pb2.RevokeServiceAccountResponse:
        """Revoke an account; its key is refused from now on (item 152)."""

        async def respond(
            ctx: SecurityContext, cid: str
        ) -> _identity_pb2.RevokeServiceAccountResponse:
            view = await self._admin.revoke_service_account(
                ctx,
                request.service_account_id,
                tenant_id=request.tenant_id,
                reason=request.reason,
                correlation_id=cid,
            )
            return _identity_pb2.RevokeServiceAccountResponse(success_details=account_message(view))

        return await serve(
            "RevokeServiceAccount",
            self._admin,
            respond,
            _identity_pb2.RevokeServiceAccountResponse,
        )

    async def ListPrincipals(
        self, request: _identity_pb2.ListPrincipalsRequest, context: grpc.aio.ServicerContext
    ) -> _identity_pb2.ListPrincipalsResponse:
        """A page of principals (item 153)."""

        async def respond(ctx: SecurityContext, cid: str) -> _identity_pb2.ListPrincipalsResponse:
            page = await self._admin.list_principals(
                ctx,
                tenant_id=request.tenant_id,
                principal_type=principal_type(request.principal_type),
                include_inactive=request.include_inactive,
                limit=request.limit,
                cursor=request.cursor,
                correlation_id=cid,
            )
            return _identity_pb2.ListPrincipalsResponse(
                success_details=_identity_pb2.PrincipalList(
                    items=[principal_message(v) for v in page.items], next_cursor=page.next_cursor
                )
            )

        return await serve(
            "ListPrincipals", self._admin, respond, _identity_pb2.ListPrincipalsResponse
        )

    async def GetPrincipalDetails(
        self, request: _identity_pb2.GetPrincipalDetailsRequest, context: grpc.aio.ServicerContext
    ) -> _identity_pb2.GetPrincipalDetailsResponse:
        """One principal, optionally with effective permissions and an audit summary."""

        async def respond(
            ctx: SecurityContext, cid: str
        ) -> _identity_pb2.GetPrincipalDetailsResponse:
            details = await self._admin.get_principal_details(
                ctx,
                request.principal_id,
                tenant_id=request.tenant_id,
                include_permissions=request.include_permissions,
                include_audit_summary=request.include_audit_summary,
                correlation_id=cid,
            )
            return _identity_pb2.GetPrincipalDetailsResponse(
                success_details=details_message(details)
            )

        return await serve(
            "GetPrincipalDetails", self._admin, respond, _identity_pb2.GetPrincipalDetailsResponse
        )

    async def UpdatePrincipalRoles(
        self, request: _identity_pb2.UpdatePrincipalRolesRequest, context: grpc.aio.ServicerContext
    ) -> _identity_pb2.UpdatePrincipalRolesResponse:
        """Grant and revoke roles in one change, in force at once (item 154)."""

        async def respond(
            ctx: SecurityContext, cid: str
        ) -> _identity_pb2.UpdatePrincipalRolesResponse:
            view = await self._admin.update_principal_roles(
                ctx,
                RoleChange(
                    principal_id=request.principal_id,
                    tenant_id=request.tenant_id,
                    add=tuple(request.roles_to_add),
                    remove=tuple(request.roles_to_remove),
                    justification=request.justification,
                ),
                correlation_id=cid,
            )
            return _identity_pb2.UpdatePrincipalRolesResponse(
                success_details=principal_message(view)
            )

        return await serve(
            "UpdatePrincipalRoles",
            self._admin,
            respond,
            _identity_pb2.UpdatePrincipalRolesResponse,
        )

    async def GetPrincipalAuditTrail(
        self,
        request: _identity_pb2.GetPrincipalAuditTrailRequest,
        context: grpc.aio.ServicerContext,
    ) -> _identity_pb2.GetPrincipalAuditTrailResponse:
        """A page of the principal's audit events in the tenant, oldest first."""

        async def respond(
            ctx: SecurityContext, cid: str
        ) -> _identity_pb2.GetPrincipalAuditTrailResponse:
            page = await self._admin.get_principal_audit_trail(
                ctx,
                AuditTrailQuery(
                    principal_id=request.principal_id,
                    tenant_id=request.tenant_id,
                    start_ms=request.start_time,
                    end_ms=request.end_time,
                    event_types=tuple(request.event_types),
                    limit=request.limit,
                    cursor=request.cursor,
                ),
                correlation_id=cid,
            )
            return _identity_pb2.GetPrincipalAuditTrailResponse(
                success_details=_audit_pb2.AuditEventList(
                    items=[event_message(e) for e in page.items], next_cursor=page.next_cursor
                )
            )

        return await serve(
            "GetPrincipalAuditTrail",
            self._admin,
            respond,
            _identity_pb2.GetPrincipalAuditTrailResponse,
        )
