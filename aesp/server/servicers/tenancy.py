"""EnterpriseTenantService: the gRPC edge of :class:`aesp.core.admin.TenantAdmin`.

Thin (STYLE convention 8): each RPC asks the gateway for the verified caller (through
:func:`aesp.server.servicers.identity.serve`, which uses :func:`aesp.server.gateway.admitted`
and the core's ``context``), calls the core operation and converts the core
:class:`~aesp.core.ports.tenancy.Tenant` to the wire. Permissions, the platform-only rule for
suspension, tenant scope and audit are the core's; every refusal travels in-band as the
``EnterpriseError`` of the response's ``oneof`` (item 147).
"""

from __future__ import annotations

import grpc

from aesp.core.admin import TenantAdmin
from aesp.core.host import Host
from aesp.core.ports.tenancy import Tenant
from aesp.core.security import SecurityContext
from aesp.proto.altar.aesp.v1 import tenancy_pb2 as _tenancy_pb2
from aesp.proto.altar.aesp.v1 import tenancy_pb2_grpc as _tenancy_pb2_grpc
from aesp.server.servicers.identity import serve

__all__ = ["TenantServicer", "tenant_message"]


def tenant_message(tenant: Tenant) -> _tenancy_pb2.Tenant:
    """A tenant record on the wire (status as its name, times in Unix ms)."""
    return _tenancy_pb2.Tenant(
        tenant_id=tenant.tenant_id,
        display_name=tenant.display_name,
        status=tenant.status.value,
        created_at=tenant.created_at_ms,
        updated_at=tenant.updated_at_ms,
        metadata=dict(tenant.metadata),
    )


class TenantServicer(_tenancy_pb2_grpc.EnterpriseTenantServiceServicer):
    """Serves EnterpriseTenantService from a :class:`~aesp.core.host.Host`.

    Args:
        host: The Host (its control plane holds the Tenant port and the tenant map).
    """

    def __init__(self, host: Host) -> None:
        self._admin = TenantAdmin(host.control)

    async def ListTenants(
        self, request: _tenancy_pb2.ListTenantsRequest, context: grpc.aio.ServicerContext
    ) -> _tenancy_pb2.ListTenantsResponse:
        """A page of tenants: the caller's own, or every tenant for ``tenant_id="*"``."""

        async def respond(ctx: SecurityContext, cid: str) -> _tenancy_pb2.ListTenantsResponse:
            page = await self._admin.list_tenants(
                ctx,
                tenant_id=request.tenant_id,
                limit=request.limit,
                cursor=request.cursor,
                correlation_id=cid,
            )
            return _tenancy_pb2.ListTenantsResponse(
                success_details=_tenancy_pb2.TenantList(
                    items=[tenant_message(t) for t in page.items], next_cursor=page.next_cursor
                )
            )

        return await serve("ListTenants", self._admin, respond, _tenancy_pb2.ListTenantsResponse)

    async def GetTenant(
        self, request: _tenancy_pb2.GetTenantRequest, context: grpc.aio.ServicerContext
    ) -> _tenancy_pb2.GetTenantResponse:
        """One tenant (empty ``tenant_id``: the caller's own)."""

        async def respond(ctx: SecurityContext, cid: str) -> _tenancy_pb2.GetTenantResponse:
            tenant = await self._admin.get_tenant(ctx, request.tenant_id, correlation_id=cid)
            return _tenancy_pb2.GetTenantResponse(success_details=tenant_message(tenant))

        return await serve("GetTenant", self._admin, respond, _tenancy_pb2.GetTenantResponse)

    async def SuspendTenant(
        self, request: _tenancy_pb2.SuspendTenantRequest, context: grpc.aio.ServicerContext
    ) -> _tenancy_pb2.SuspendTenantResponse:
        """Suspend a tenant; its next session or call gets ``TENANT_SUSPENDED``."""

        async def respond(ctx: SecurityContext, cid: str) -> _tenancy_pb2.SuspendTenantResponse:
            tenant = await self._admin.suspend_tenant(
                ctx, request.tenant_id, justification=request.justification, correlation_id=cid
            )
            return _tenancy_pb2.SuspendTenantResponse(success_details=tenant_message(tenant))

        return await serve(
            "SuspendTenant", self._admin, respond, _tenancy_pb2.SuspendTenantResponse
        )

    async def ResumeTenant(
        self, request: _tenancy_pb2.ResumeTenantRequest, context: grpc.aio.ServicerContext
    ) -> _tenancy_pb2.ResumeTenantResponse:
        """Resume a suspended tenant."""

        async def respond(ctx: SecurityContext, cid: str) -> _tenancy_pb2.ResumeTenantResponse:
            tenant = await self._admin.resume_tenant(
                ctx, request.tenant_id, justification=request.justification, correlation_id=cid
            )
            return _tenancy_pb2.ResumeTenantResponse(success_details=tenant_message(tenant))

        return await serve("ResumeTenant", self._admin, respond, _tenancy_pb2.ResumeTenantResponse)

    async def UpdateTenantMetadata(
        self,
        request: _tenancy_pb2.UpdateTenantMetadataRequest,
        context: grpc.aio.ServicerContext,
    ) -> _tenancy_pb2.UpdateTenantMetadataResponse:
        """Replace a tenant's metadata (the CEL ``organization`` facts)."""

        async def respond(
            ctx: SecurityContext, cid: str
        ) -> _tenancy_pb2.UpdateTenantMetadataResponse:
            tenant = await self._admin.update_tenant_metadata(
                ctx, dict(request.metadata), tenant_id=request.tenant_id, correlation_id=cid
            )
            return _tenancy_pb2.UpdateTenantMetadataResponse(success_details=tenant_message(tenant))

        return await serve(
            "UpdateTenantMetadata",
            self._admin,
            respond,
            _tenancy_pb2.UpdateTenantMetadataResponse,
        )
