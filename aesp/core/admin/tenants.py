"""``EnterpriseTenantService`` as core operations (SPEC §3.4 Tenant Manager, §3.14, C-41).

AESP mandates a Tenant Manager but none of its six services administers tenants; this is an
aesp extension service. Each operation runs in the frame of
:class:`~aesp.core.admin._guard.AdminGuard`: permission ``aesp:tenant:<Rpc>``, tenant
resolution (``""`` = the caller's own tenant, another tenant needs
``aesp:platform:cross-tenant``), audit of success and refusal. Decisions made here, for the
integrator to record (docs/protocol-decisions.md):

* **Who may do what.** A tenant administrator may ``GetTenant`` and ``UpdateTenantMetadata`` of
  its *own* tenant and list it (``ListTenants`` with ``tenant_id = ""``). Naming another tenant,
  or ``"*"`` (every tenant) in a listing, needs the platform permission; without it the answer
  is ``TENANT_ACCESS_DENIED`` and never depends on whether that tenant exists.
* **Suspension is platform-only, even of one's own tenant.** ``SuspendTenant`` and
  ``ResumeTenant`` need the platform permission whatever tenant they name, for three reasons:
  a suspended tenant's principals are refused *every* call (``ResumeTenant`` included), so a
  tenant administrator who suspended its own tenant could never undo it and would need a
  platform operator anyway; suspension shuts out every principal of the tenant, a decision
  about the whole tenant's service that belongs to whoever operates the platform (KD's
  tenant lifecycle); and ``TENANT_SUSPENDED`` tells the refused caller that "a platform
  administrator" resumes it, which must stay true. A platform operator *may* suspend its own
  tenant (an emergency stop of a compromised tenant must not need a second person); it then
  locks itself out too, and a platform operator of another tenant resumes it.
* **In force at once, idempotent.** After a write the Host's tenant map is reloaded
  (:meth:`ControlPlane.tenants_changed`) before the operation returns, so the next session or
  call of a suspended tenant gets ``TENANT_SUSPENDED``; calls already past admission finish.
  Other Hosts on the same store pick the change up with their next poll
  (``access.refresh_interval_ms``). Suspending a suspended tenant (or resuming an active one)
  changes nothing and succeeds; it is still audited, with ``changed = "false"``.
* **Metadata is replaced, not merged**, and it is what CEL policies read as
  ``organization.<key>`` (C-33), so it is bounded like every per-call input. Audit events name
  the keys, never the values (SPEC §3.14 rule 7: tenant metadata is isolated).
* **An unknown tenant** named by a platform caller is ``NOT_FOUND``; there is no CreateTenant,
  because tenants are registered on first verified use (decision 27).
* **Concurrent writes.** The Tenant port offers create-or-replace only, so writes through this
  Host are serialised by a lock (no lost update between a suspension and a metadata change);
  two Hosts writing the same tenant at the same instant resolve as last-writer-wins.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable, Mapping

from aesp.core.admin._guard import ADMIN_QUERY, ALL_TENANTS, AdminGuard, Done, clip
from aesp.core.admin._tenant_support import (
    EVENT_TYPES,
    check_metadata,
    one_tenant,
    require_platform,
    tenant_not_found,
)
from aesp.core.control import ControlPlane
from aesp.core.errors import AespError
from aesp.core.ids import now_ms
from aesp.core.ports._paging import Page
from aesp.core.ports.tenancy import Tenant, TenantStatus
from aesp.core.principal import Principal
from aesp.core.security import SecurityContext

__all__ = ["TenantAdmin"]


class TenantAdmin:
    """The Tenant Manager's admin operations over the control plane.

    Build it once per Host: ``TenantAdmin(host.control)``.

    Args:
        control: The Host's control plane (Tenant port, tenant map, permissions, audit).
        clock_ms: Unix milliseconds (``updated_at`` of changed records).
    """

    def __init__(self, control: ControlPlane, *, clock_ms: Callable[[], int] = now_ms) -> None:
        self._control = control
        self._guard = AdminGuard(control, service="tenant")
        self._clock_ms = clock_ms
        self._write_lock = asyncio.Lock()  # read-modify-write of a record (see module notes)

    async def context(
        self, principal: Principal, *, rpc: str, correlation_id: str
    ) -> SecurityContext:
        """The caller's context; a refusal is audited (see :meth:`AdminGuard.context`)."""
        return await self._guard.context(principal, rpc=rpc, correlation_id=correlation_id)

    async def record_refusal(
        self, ctx: SecurityContext, rpc: str, exc: AespError, *, correlation_id: str
    ) -> None:
        """Audit a refusal the edge raised for ``rpc`` (an unconvertible request)."""
        await self._guard.reject(ctx, rpc, EVENT_TYPES.get(rpc, ADMIN_QUERY), exc, correlation_id)

    # ------------------------------------------------------------------ reads

    async def list_tenants(
        self,
        ctx: SecurityContext,
        *,
        tenant_id: str = "",
        limit: int = 0,
        cursor: str = "",
        correlation_id: str = "",
    ) -> Page[Tenant]:
        """``ListTenants``: the resolved tenant alone, or every tenant for ``"*"`` (platform
        callers), ordered by id; ``cursor`` is the last id of the previous page."""

        async def act(target: str) -> Done[Page[Tenant]]:
            if target == ALL_TENANTS:
                page = await self._control.tenants.list(limit=limit, cursor=cursor)
            else:
                found = await self._control.tenants.get(target)
                keep = found is not None and found.tenant_id > cursor
                page = Page([found] if found is not None and keep else [])
            return Done(page, metadata={"count": str(len(page.items))})

        return await self._guard.run(
            ctx,
            "ListTenants",
            ADMIN_QUERY,
            tenant_id=tenant_id,
            correlation_id=correlation_id,
            action=act,
        )

    async def get_tenant(
        self, ctx: SecurityContext, tenant_id: str = "", *, correlation_id: str = ""
    ) -> Tenant:
        """``GetTenant``: one tenant (``""``: the caller's own).

        Raises:
            ValidationError: ``NOT_FOUND`` (platform callers naming an unknown tenant),
                ``MALFORMED_REQUEST`` for ``"*"``.
        """

        async def act(target: str) -> Done[Tenant]:
            tenant = await self._find(one_tenant(target))
            return Done(tenant, resource=f"tenant:{tenant.tenant_id}")

        return await self._guard.run(
            ctx,
            "GetTenant",
            ADMIN_QUERY,
            tenant_id=tenant_id,
            correlation_id=correlation_id,
            action=act,
        )

    # ------------------------------------------------------------------ writes

    async def suspend_tenant(
        self,
        ctx: SecurityContext,
        tenant_id: str = "",
        *,
        justification: str = "",
        correlation_id: str = "",
    ) -> Tenant:
        """``SuspendTenant``, audited ``TENANT_SUSPEND`` (durably). Idempotent.

        Raises:
            AuthorizationError: ``PERMISSION_DENIED`` without the platform permission (also for
                the caller's own tenant), or ``TENANT_ACCESS_DENIED`` from the frame.
            ValidationError: ``NOT_FOUND`` for an unknown tenant.
        """
        return await self._set_status(
            ctx, "SuspendTenant", tenant_id, TenantStatus.SUSPENDED, justification, correlation_id
        )

    async def resume_tenant(
        self,
        ctx: SecurityContext,
        tenant_id: str = "",
        *,
        justification: str = "",
        correlation_id: str = "",
    ) -> Tenant:
        """``ResumeTenant``, audited ``TENANT_RESUME`` (durably). Idempotent.

        Raises:
            AuthorizationError: As :meth:`suspend_tenant`.
            ValidationError: ``NOT_FOUND`` for an unknown tenant.
        """
        return await self._set_status(
            ctx, "ResumeTenant", tenant_id, TenantStatus.ACTIVE, justification, correlation_id
        )

    async def update_tenant_metadata(
        self,
        ctx: SecurityContext,
        metadata: Mapping[str, str],
        *,
        tenant_id: str = "",
        correlation_id: str = "",
    ) -> Tenant:
        """``UpdateTenantMetadata``: replace the metadata (keys left out are removed), in force
        for the next policy decision; audited ``TENANT_UPDATE`` with the keys, not the values.

        Raises:
            ValidationError: ``MALFORMED_REQUEST`` (bounds), ``NOT_FOUND`` (unknown tenant).
        """
        wanted = dict(metadata)

        async def act(target: str) -> Done[Tenant]:
            tenant_id = one_tenant(target)
            check_metadata(wanted)
            async with self._write_lock:
                current = await self._find(tenant_id)
                removed = sorted(set(current.metadata) - set(wanted))
                changed = dict(current.metadata) != wanted
                if changed:
                    current = await self._store(
                        dataclasses.replace(
                            current, metadata=wanted, updated_at_ms=self._clock_ms()
                        )
                    )
            await self._control.tenants_changed()
            meta = {
                "keys": clip(",".join(sorted(wanted))),
                "changed": str(changed).lower(),
                "removed_keys": clip(",".join(removed)),
            }
            return Done(current, resource=f"tenant:{tenant_id}", metadata=meta)

        return await self._guard.run(
            ctx,
            "UpdateTenantMetadata",
            EVENT_TYPES["UpdateTenantMetadata"],
            tenant_id=tenant_id,
            correlation_id=correlation_id,
            action=act,
        )

    # ------------------------------------------------------------------ internals

    async def _set_status(
        self,
        ctx: SecurityContext,
        rpc: str,
        tenant_id: str,
        status: TenantStatus,
        justification: str,
        correlation_id: str,
    ) -> Tenant:
        """Suspend or resume: (1) the frame checks ``aesp:tenant:<Rpc>`` and the tenant scope;
        (2) the platform permission, whatever tenant is named; (3) write if the status differs;
        (4) reload the tenant map, so the next admission decides with it."""

        async def act(target: str) -> Done[Tenant]:
            # (2): see the module docstring for why even one's own tenant needs it.
            require_platform(self._control, ctx, rpc)
            tenant_id = one_tenant(target)
            async with self._write_lock:
                current = await self._find(tenant_id)
                previous = current.status
                if previous is not status:  # (3)
                    current = await self._store(
                        dataclasses.replace(current, status=status, updated_at_ms=self._clock_ms())
                    )
            # (4): "a suspended tenant gets TENANT_SUSPENDED" from the very next admission.
            await self._control.tenants_changed()
            meta = {
                "status": status.value,
                "previous_status": previous.value,
                "changed": str(previous is not status).lower(),
                "justification": clip(justification),
            }
            return Done(current, resource=f"tenant:{tenant_id}", metadata=meta)

        return await self._guard.run(
            ctx,
            rpc,
            EVENT_TYPES[rpc],
            tenant_id=tenant_id,
            correlation_id=correlation_id,
            action=act,
        )

    async def _find(self, tenant_id: str) -> Tenant:
        """The registered tenant.

        Raises:
            ValidationError: ``NOT_FOUND``.
        """
        tenant = await self._control.tenants.get(tenant_id)
        if tenant is None:
            raise tenant_not_found(tenant_id)
        return tenant

    async def _store(self, tenant: Tenant) -> Tenant:
        """Write ``tenant`` and return what the registry now holds (it keeps ``created_at``)."""
        await self._control.tenants.put(tenant)
        return await self._control.tenants.get(tenant.tenant_id) or tenant
