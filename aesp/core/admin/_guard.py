"""The frame every Enterprise admin operation runs in: authorise, act, audit (C-41, AESP §5).

Why one frame: C-41 says every Enterprise RPC "requires the permission aesp:<service>:<rpc>,
is tenant-scoped, and is audited", and AESP §5 wants "all administrative actions" in the
immutable log, refusals included. Writing that by hand in fifteen operations would let one of
them forget a step; :meth:`AdminGuard.run` does it once:

    (1) ``control.require(ctx, "aesp:<service>:<Rpc>", tenant_id=...)`` resolves the tenant the
        operation acts on (C-41, decision 32) or refuses;
    (2) the operation runs on that tenant only;
    (3) success is audited with the operation's event type; a refusal as
        ``AUTHORIZATION_DENIED`` (outcome DENIED) and any other failure with the operation's
        event type (outcome FAILURE), both with the code and never a secret.

Tenant scope of a request (decided here, documented for the integrator):

* ``tenant_id = ""`` is the caller's own tenant (SPEC §3.14 [REC]: "every admin query is
  implicitly filtered to the caller's tenant").
* another tenant needs ``aesp:platform:cross-tenant`` (else ``TENANT_ACCESS_DENIED``, which
  says nothing about that tenant);
* :data:`ALL_TENANTS` (``"*"``) is an explicit platform request: in a listing it means every
  tenant; in a policy request it means the platform scope (policies with tenant ``""`` that
  apply to every tenant). A caller without the platform permission gets
  ``TENANT_ACCESS_DENIED``.

An object named by id that is not in the resolved tenant is "not found" (:func:`not_found`),
exactly as if it did not exist anywhere: the answer never depends on other tenants' data.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Final, Generic, TypeVar

from aesp.core.audit import AuditEvent
from aesp.core.control import ControlPlane
from aesp.core.errors import AespError, AuthorizationError, ValidationError
from aesp.core.principal import Principal
from aesp.core.security import SecurityContext

__all__ = [
    "ADMIN_QUERY",
    "ALL_TENANTS",
    "NOT_FOUND_CODE",
    "AdminGuard",
    "Done",
    "clip",
    "not_found",
]

T = TypeVar("T")

ALL_TENANTS: Final = "*"  # explicit platform scope; see the module docstring
ADMIN_QUERY: Final = "ADMIN_QUERY"  # event type of reads and simulations (nothing changed)
NOT_FOUND_CODE: Final = "NOT_FOUND"  # an AESP extension code (docs/protocol-decisions.md)
AUDIT_TEXT: Final = 300  # characters of a free-text field kept in an audit event


def clip(text: str, limit: int = AUDIT_TEXT) -> str:
    """``text`` cut to ``limit`` characters, for audit metadata (bounds event size)."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def not_found(kind: str, name: str, tenant_id: str, *, field_name: str) -> AespError:
    """The refusal for an object the resolved tenant does not have.

    The same error whether the object exists in another tenant or nowhere, so the answer
    reveals nothing about other tenants (SPEC §3.14 rule 8). C-14 has no generic not-found
    code, so the Host adds ``NOT_FOUND`` (docs/protocol-decisions.md).
    """
    scope = f"tenant '{tenant_id}'" if tenant_id else "the platform scope"
    return ValidationError(
        NOT_FOUND_CODE,
        f"{scope[0].upper()}{scope[1:]} has no {kind} '{clip(name, 128)}'.",
        details={"reason": "NOT_FOUND", "field": field_name},
    )


@dataclass(frozen=True, slots=True)
class Done(Generic[T]):
    """What an operation returns to the frame: its result and what to audit about it.

    Attributes:
        result: The operation's return value.
        resource: The object acted on (``service_account:<id>``, ``policy:<id>@<version>``).
        metadata: Extra audit metadata (public values only, never a secret).
        event_type: Overrides the operation's event type (a dry run is only a query).
    """

    result: T
    resource: str = ""
    metadata: Mapping[str, str] = field(default_factory=dict)
    event_type: str = ""


class AdminGuard:
    """Runs admin operations of one service (``identity``, ``policy``) in the C-41 frame.

    Args:
        control: The Host's control plane (permissions, tenants, audit).
        service: The ``<service>`` segment of ``aesp:<service>:<Rpc>``.
    """

    def __init__(self, control: ControlPlane, *, service: str) -> None:
        self.control = control
        self.service = service

    async def context(
        self, principal: Principal, *, rpc: str, correlation_id: str
    ) -> SecurityContext:
        """The caller's security context; a refusal (suspended tenant, disabled principal) is
        audited ``AUTHORIZATION_DENIED`` before it is raised.

        Raises:
            AespError: As :meth:`ControlPlane.context`.
        """
        try:
            return await self.control.context(principal, correlation_id)
        except AespError as exc:
            await self._refused(
                principal.principal_id,
                principal.tenant_id,
                rpc,
                exc,
                correlation_id,
                "",
                source_ip=principal.source_ip,
            )
            raise

    async def run(
        self,
        ctx: SecurityContext,
        rpc: str,
        event_type: str,
        *,
        tenant_id: str,
        correlation_id: str,
        action: Callable[[str], Awaitable[Done[T]]],
    ) -> T:
        """Authorise ``rpc`` for ``ctx``, run ``action(target_tenant)``, audit the outcome.

        Args:
            ctx: The caller.
            rpc: The RPC name (``CreateServiceAccount``).
            event_type: The SPEC §3.10 event type of a success.
            tenant_id: The tenant the request names (``""``: the caller's; ``"*"``: platform).
            correlation_id: Recorded with every event.
            action: The operation; receives the resolved tenant (or ``"*"``).

        Returns:
            The operation's result.

        Raises:
            AespError: ``TENANT_ACCESS_DENIED``/``PERMISSION_DENIED`` from (1), or whatever the
                operation raised; each is audited once and marked ``audited``.
        """
        # (1): "Every enterprise RPC requires the permission aesp:<service>:<rpc>" (C-41).
        try:
            target = self.control.require(ctx, f"aesp:{self.service}:{rpc}", tenant_id=tenant_id)
        except AespError as exc:
            await self._refused(
                ctx.principal_id,
                ctx.tenant_id,
                rpc,
                exc,
                correlation_id,
                tenant_id,
                source_ip=ctx.source_ip,
            )
            raise
        # (2): the operation acts on the resolved tenant only.
        try:
            done = await action(target)
        except AuthorizationError as exc:  # e.g. privilege escalation refused
            await self._refused(
                ctx.principal_id,
                ctx.tenant_id,
                rpc,
                exc,
                correlation_id,
                tenant_id,
                source_ip=ctx.source_ip,
            )
            raise
        except AespError as exc:
            await self._failed(ctx, rpc, event_type, target, exc, correlation_id)
            raise
        # (3): "all administrative actions" are audited (AESP §5). A write is already made, so
        # NOTE: a failing audit log surfaces as AUDIT_REQUIREMENT_NOT_MET to the caller, who
        # then knows the change happened unrecorded and an operator must restore the log.
        kind = done.event_type or event_type
        await self.control.audit.append(
            AuditEvent(
                event_type=kind,
                outcome="SUCCESS",
                action=rpc,
                principal_id=ctx.principal_id,
                tenant_id=_event_tenant(target),
                resource=done.resource,
                correlation_id=correlation_id,
                source_ip=ctx.source_ip,
                metadata=_meta(ctx, target, done.metadata),
            ),
            durable=kind != ADMIN_QUERY,
        )
        return done.result

    async def reject(
        self,
        ctx: SecurityContext,
        rpc: str,
        event_type: str,
        exc: AespError,
        correlation_id: str,
    ) -> None:
        """Audit a refusal raised for ``rpc`` outside :meth:`run` (a request the edge could not
        convert): as :meth:`run` would, once (an ``audited`` error is left alone)."""
        if isinstance(exc, AuthorizationError):
            await self._refused(
                ctx.principal_id,
                ctx.tenant_id,
                rpc,
                exc,
                correlation_id,
                "",
                source_ip=ctx.source_ip,
            )
        else:
            await self._failed(ctx, rpc, event_type, ctx.tenant_id, exc, correlation_id)

    async def _refused(
        self,
        principal_id: str,
        tenant_id: str,
        rpc: str,
        exc: AespError,
        correlation_id: str,
        requested_tenant: str,
        *,
        source_ip: str,
    ) -> None:
        """Audit a refusal in the *caller's* tenant (the victim tenant learns of no probe, and
        the prober's own trail shows it)."""
        meta = {"code": exc.code, "reason": clip(exc.message), "rpc": rpc}
        if requested_tenant:
            meta["requested_tenant"] = clip(requested_tenant, 64)
        await self._append_quietly(
            exc,
            AuditEvent(
                event_type="AUTHORIZATION_DENIED",
                outcome="DENIED",
                action=rpc,
                principal_id=principal_id,
                tenant_id=tenant_id,
                resource=f"aesp:{self.service}:{rpc}",
                correlation_id=correlation_id,
                source_ip=source_ip,
                metadata=meta,
            ),
        )

    async def _failed(
        self,
        ctx: SecurityContext,
        rpc: str,
        event_type: str,
        target: str,
        exc: AespError,
        correlation_id: str,
    ) -> None:
        meta = {"code": exc.code, "reason": clip(exc.message), **exc.details}
        await self._append_quietly(
            exc,
            AuditEvent(
                event_type=event_type,
                outcome="FAILURE",
                action=rpc,
                principal_id=ctx.principal_id,
                tenant_id=_event_tenant(target),
                correlation_id=correlation_id,
                source_ip=ctx.source_ip,
                metadata=_meta(ctx, target, meta),
            ),
        )

    async def _append_quietly(self, exc: AespError, event: AuditEvent) -> None:
        if exc.audited:
            return
        exc.audited = True
        # The refusal reaches the caller whether or not the log accepts its record.
        with contextlib.suppress(AespError):
            await self.control.audit.append(event)


def _event_tenant(target: str) -> str:
    """The tenant an event belongs to: the one acted on; platform-wide actions have none."""
    return "" if target == ALL_TENANTS else target


def _meta(ctx: SecurityContext, target: str, extra: Mapping[str, str]) -> dict[str, str]:
    meta = dict(extra)
    if target != ctx.tenant_id:  # a platform caller acting elsewhere: say from where
        meta["actor_tenant"] = ctx.tenant_id
    return meta
