"""``EnterpriseConfigurationService`` as core operations (SPEC §3.7(6), §3.15, C-38, C-41).

Each operation runs in the :class:`~aesp.core.admin._guard.AdminGuard` frame: permission
``aesp:config:<Rpc>``, tenant resolution (``""`` = the caller's own, ``"*"`` = the platform
scope, platform permission needed), audit of success and refusal. Decisions made here
(docs/protocol-decisions.md):

* **Host keys are platform keys.** A registered Host key (``limits.*``, ``gateway.*``) changes
  every tenant's service, so setting or rolling it back needs ``aesp:platform:cross-tenant``
  whatever ``tenant_id`` says; reading it needs only ``aesp:config:GetConfigValue`` (the values
  are not secret, and callers may want to know their timeout). A Host key never set reads as
  the running value with version 0.
* **Tenant keys** (``app.*``) live in the resolved tenant; a read falls back to the platform's
  value of the same key (``SetConfigValue{tenant_id: "*"}`` writes that one).
* **Masking**: a sensitive value reads as ``***`` without ``aesp:config:ReadSensitive``; audit
  events always carry ``***`` for it, whoever asked.
* **Environments**: this Host serves one environment; naming another is ``FEATURE_UNAVAILABLE``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Final, TypeVar

from aesp.core._live_events import MASK, Subscription, mask
from aesp.core._live_keys import check_key, host_spec
from aesp.core.admin._guard import ADMIN_QUERY, ALL_TENANTS, AdminGuard, Done, clip
from aesp.core.control import PLATFORM_PERMISSION, ControlPlane
from aesp.core.errors import AespError, AuthorizationError, ValidationError
from aesp.core.live_config import (
    ROLLBACK_REASON,
    ConfigManager,
    PendingChange,
    SetOutcome,
    approval_unavailable,
)
from aesp.core.ports._paging import Page
from aesp.core.ports.config import PLATFORM, ConfigDataType, ConfigEntry
from aesp.core.principal import Principal
from aesp.core.security import SecurityContext

__all__ = ["READ_SENSITIVE", "ConfigAdmin", "SetRequest"]

READ_SENSITIVE: Final = "aesp:config:ReadSensitive"
UPDATE: Final = "CONFIGURATION_UPDATE"
ROLLBACK: Final = "CONFIGURATION_ROLLBACK"
T = TypeVar("T")
EVENT_TYPES: Final = {"SetConfigValue": UPDATE, "RollbackConfig": ROLLBACK}


@dataclass(frozen=True, slots=True)
class SetRequest:
    """A ``SetConfigValue`` request in core terms (see the proto for each field)."""

    key: str
    value: str
    data_type: str = ""
    sensitive: bool = False
    justification: str = ""
    requires_approval: bool = False
    environment: str = ""
    tenant_id: str = ""
    expected_version: int = 0


class ConfigAdmin:
    """Configuration admin operations over a :class:`ConfigManager`.

    Args:
        control: The Host's control plane (permissions, audit).
        manager: The live configuration of this Host.
    """

    def __init__(self, control: ControlPlane, manager: ConfigManager) -> None:
        self._control = control
        self._manager = manager
        self._guard = AdminGuard(control, service="config")

    async def context(
        self, principal: Principal, *, rpc: str, correlation_id: str
    ) -> SecurityContext:
        """The caller's context; a refusal is audited (see :meth:`AdminGuard.context`)."""
        return await self._guard.context(principal, rpc=rpc, correlation_id=correlation_id)

    async def record_refusal(
        self, ctx: SecurityContext, rpc: str, exc: AespError, *, correlation_id: str
    ) -> None:
        """Audit a refusal the edge raised for ``rpc``."""
        await self._guard.reject(ctx, rpc, EVENT_TYPES.get(rpc, ADMIN_QUERY), exc, correlation_id)

    def reveals(self, ctx: SecurityContext) -> bool:
        """Whether ``ctx`` may read sensitive values (``aesp:config:ReadSensitive``)."""
        return self._control.rbac.current.decide(
            ctx.principal_id,
            tenant_id=ctx.tenant_id,
            permission=READ_SENSITIVE,
            roles_hint=ctx.roles_hint,
        ).allowed

    # ------------------------------------------------------------------ reads

    async def get_value(
        self,
        ctx: SecurityContext,
        key: str,
        *,
        tenant_id: str = "",
        environment: str = "",
        correlation_id: str = "",
    ) -> ConfigEntry:
        """``GetConfigValue``: the key's value in force (masked when sensitive).

        Raises:
            ValidationError: ``NOT_FOUND`` for a key never set, ``MALFORMED_REQUEST``.
        """

        async def act(target: str) -> Done[ConfigEntry]:
            _one_environment(environment)
            scope = self._scope(ctx, key, target, write=False)
            entry = await self._manager.get(scope, key)
            running = self._manager.effective(key)
            if entry is None and running is not None:
                spec = host_spec(key)
                kind = spec.data_type if spec else ConfigDataType.STRING
                entry = ConfigEntry(PLATFORM, key, running, kind)
            if entry is None:
                raise _missing(key, scope)
            return Done(self.shown(ctx, entry), resource=f"config:{key}")

        return await self._run(ctx, "GetConfigValue", tenant_id, correlation_id, act)

    async def history(
        self,
        ctx: SecurityContext,
        key: str,
        *,
        tenant_id: str = "",
        environment: str = "",
        limit: int = 0,
        cursor: str = "",
        correlation_id: str = "",
    ) -> Page[ConfigEntry]:
        """``GetConfigHistory``: the key's versions, newest first (masked when sensitive)."""

        async def act(target: str) -> Done[Page[ConfigEntry]]:
            _one_environment(environment)
            scope = self._scope(ctx, key, target, write=False)
            try:
                page = await self._manager.store.history(scope, key, limit=limit, cursor=cursor)
            except ValueError as exc:
                raise _bad_cursor(exc) from None
            items = [self.shown(ctx, e) for e in page.items]
            return Done(Page(items, page.next_cursor), resource=f"config:{key}")

        return await self._run(ctx, "GetConfigHistory", tenant_id, correlation_id, act)

    async def list_keys(
        self,
        ctx: SecurityContext,
        *,
        prefix: str = "",
        tenant_id: str = "",
        environment: str = "",
        limit: int = 0,
        cursor: str = "",
        correlation_id: str = "",
    ) -> Page[ConfigEntry]:
        """``ListConfigKeys``: the scope's keys with their latest values, ordered by key."""

        async def act(target: str) -> Done[Page[ConfigEntry]]:
            _one_environment(environment)
            scope = PLATFORM if target == ALL_TENANTS else target
            try:
                page = await self._manager.store.list_keys(scope, limit=limit, cursor=cursor)
            except ValueError as exc:
                raise _bad_cursor(exc) from None
            items = [self.shown(ctx, e) for e in page.items if e.key.startswith(prefix)]
            return Done(Page(items, page.next_cursor), metadata={"count": str(len(items))})

        return await self._run(ctx, "ListConfigKeys", tenant_id, correlation_id, act)

    async def subscribe(
        self,
        ctx: SecurityContext,
        keys: Sequence[str],
        *,
        tenant_id: str = "",
        environment: str = "",
        correlation_id: str = "",
    ) -> Subscription:
        """``SubscribeToChanges``: changes of the scope's and the platform's keys from now on."""

        async def act(target: str) -> Done[Subscription]:
            _one_environment(environment)
            sub = self._manager.subscribe(
                tenant_scope=target, patterns=tuple(keys), reveal=self.reveals(ctx)
            )
            return Done(sub, metadata={"keys": clip(",".join(keys))})

        return await self._run(ctx, "SubscribeToChanges", tenant_id, correlation_id, act)

    # ------------------------------------------------------------------ writes

    async def set_value(
        self, ctx: SecurityContext, request: SetRequest, *, correlation_id: str = ""
    ) -> SetOutcome:
        """``SetConfigValue``: validate, decide approval (server side), write, apply, audit
        ``CONFIGURATION_UPDATE`` with old and new values (``***`` when sensitive)."""

        async def act(target: str) -> Done[SetOutcome]:
            _one_environment(request.environment)
            scope = self._scope(ctx, request.key, target, write=True)
            kind = _data_type(request.key, request.data_type)
            entry = ConfigEntry(
                scope,
                request.key,
                request.value,
                kind,
                request.sensitive,
                changed_by=ctx.principal_id,
                change_reason=request.justification,
            )
            change, current = await self._manager.prepare(
                entry,
                expected_version=request.expected_version,
                check_version=request.expected_version > 0,
            )
            why = self._manager.needs_approval(change.entry, current, request.requires_approval)
            return await self._write(change, current, why)

        return await self._run(ctx, "SetConfigValue", request.tenant_id, correlation_id, act)

    async def rollback(
        self,
        ctx: SecurityContext,
        key: str,
        target_version: int,
        *,
        tenant_id: str = "",
        environment: str = "",
        justification: str = "",
        correlation_id: str = "",
    ) -> SetOutcome:
        """``RollbackConfig``: a NEW version copying ``target_version``'s value (SPEC §3.15),
        under the approval rules of a set; audited ``CONFIGURATION_ROLLBACK``."""

        async def act(target: str) -> Done[SetOutcome]:
            _one_environment(environment)
            scope = self._scope(ctx, key, target, write=True)
            old = await self._manager.target_of_rollback(scope, key, target_version)
            reason = ROLLBACK_REASON.format(version=target_version)
            entry = dataclasses.replace(
                old,
                changed_by=ctx.principal_id,
                approval_request_id="",
                change_reason=f"{reason}: {justification}" if justification else reason,
            )
            change, current = await self._manager.prepare(entry, rollback_of=target_version)
            why = self._manager.needs_approval(change.entry, current, False)
            done = await self._write(change, current, why)
            done.metadata["rollback_of_version"] = str(target_version)
            return done

        return await self._run(ctx, "RollbackConfig", tenant_id, correlation_id, act)

    # ------------------------------------------------------------------ internals

    async def _write(
        self, change: PendingChange, current: ConfigEntry | None, why: str
    ) -> Done[SetOutcome]:
        """Apply now, or hand to governance while the old value stays in force."""
        entry = change.entry
        meta = {
            "key": clip(entry.key, 256),
            "old_value": clip(mask(current.value, sensitive=entry.sensitive, reveal=False))
            if current is not None
            else "",
            "new_value": clip(mask(entry.value, sensitive=entry.sensitive, reveal=False)),
            "data_type": entry.data_type.value,
            "justification": clip(entry.change_reason),
        }
        if why:
            if self._manager.approvals is None:
                raise approval_unavailable(entry.key, why)
            request_id = await self._manager.approvals.submit(change)
            meta |= {"approval_request_id": request_id, "applied": "false"}
            outcome = SetOutcome(current, 0, request_id, current)
            return Done(
                outcome,
                resource=f"config:{entry.key}",
                metadata=meta,
                event_type="GOVERNANCE_APPROVAL_REQUEST",
            )
        stored = await self._manager.enact(change)
        meta |= {"version": str(stored.version), "applied": "true"}
        return Done(
            SetOutcome(stored, stored.version, "", current),
            resource=f"config:{entry.key}",
            metadata=meta,
        )

    async def _run(
        self,
        ctx: SecurityContext,
        rpc: str,
        tenant_id: str,
        correlation_id: str,
        act: Callable[[str], Awaitable[Done[T]]],
    ) -> T:
        event = EVENT_TYPES.get(rpc, ADMIN_QUERY)
        return await self._guard.run(
            ctx, rpc, event, tenant_id=tenant_id, correlation_id=correlation_id, action=act
        )

    def _scope(self, ctx: SecurityContext, key: str, target: str, *, write: bool) -> str:
        """The store tenant a request acts on (see the module docstring)."""
        check_key(key)
        if host_spec(key) is not None:
            if write and not self._control.is_platform(ctx):
                raise AuthorizationError(
                    "PERMISSION_DENIED",
                    f"'{key}' is a Host key: it changes every tenant's service, so only a "
                    "platform operator may change it.",
                    details={"permission": PLATFORM_PERMISSION},
                )
            return PLATFORM
        return PLATFORM if target == ALL_TENANTS else target

    def shown(self, ctx: SecurityContext, entry: ConfigEntry) -> ConfigEntry:
        """``entry`` as ``ctx`` may see it (sensitive values masked, SPEC §3.15)."""
        if entry.sensitive and not self.reveals(ctx):
            return dataclasses.replace(entry, value=MASK)
        return entry


def _one_environment(environment: str) -> None:
    if environment:
        raise ValidationError(
            "FEATURE_UNAVAILABLE",
            f"This Host serves one environment; per-environment values ('{clip(environment, 32)}')"
            " are not supported. Leave environment empty or ask that environment's Host.",
            details={"field": "environment"},
        )


def _data_type(key: str, text: str) -> ConfigDataType:
    spec = host_spec(key)
    if not text:
        return spec.data_type if spec is not None else ConfigDataType.STRING
    try:
        return ConfigDataType(text.upper())
    except ValueError:
        raise ValidationError(
            "MALFORMED_REQUEST",
            f"data_type '{clip(text, 32)}' is not STRING, INTEGER, BOOLEAN or JSON.",
            details={"field": "data_type"},
        ) from None


def _missing(key: str, scope: str) -> ValidationError:
    where = f"tenant '{scope}'" if scope else "the platform scope"
    return ValidationError(
        "NOT_FOUND",
        f"Configuration key '{clip(key, 128)}' is not set in {where}.",
        details={"reason": "NOT_FOUND", "field": "key"},
    )


def _bad_cursor(exc: ValueError) -> ValidationError:
    return ValidationError(
        "MALFORMED_REQUEST",
        f"The cursor is not one this Host issued ({exc}).",
        details={"field": "cursor"},
    )
