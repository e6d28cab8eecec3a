"""EnterpriseConfigurationService: the gRPC edge of :class:`aesp.core.admin.config.ConfigAdmin`.

Thin (STYLE convention 8): each RPC asks the gateway for the verified caller (:func:`serve`),
calls the core operation and converts the result. Permissions, scope, masking, approval and
audit are the core's. The manager is the one :func:`aesp.core.live_config.start_live_config`
started for the Host; before that every RPC answers ``FEATURE_UNAVAILABLE``.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

import grpc

from aesp.core.admin.config import ConfigAdmin, SetRequest
from aesp.core.errors import AespError, ValidationError
from aesp.core.host import Host
from aesp.core.live_config import SetOutcome, live_config_of
from aesp.core.ports.config import ConfigEntry
from aesp.core.security import SecurityContext
from aesp.proto.altar.aesp.v1 import configuration_pb2 as _pb2
from aesp.proto.altar.aesp.v1 import configuration_pb2_grpc as _pb2_grpc
from aesp.server.errors import abort, enterprise_error
from aesp.server.gateway import admitted, correlation_id
from aesp.server.servicers.identity import serve

__all__ = ["ConfigurationServicer", "value_message"]

R = TypeVar("R")
_ROLLBACK_OF = re.compile(r"^rollback to version (\d+)")


def value_message(entry: ConfigEntry) -> _pb2.ConfigValue:
    """A (possibly masked) configuration value on the wire."""
    return _pb2.ConfigValue(
        key=entry.key,
        value=entry.value,
        data_type=entry.data_type.value,
        sensitive=entry.sensitive,
        last_updated=entry.changed_at_ms,
        updated_by=entry.changed_by,
        version=entry.version,
    )


def _version_message(entry: ConfigEntry) -> _pb2.ConfigVersion:
    found = _ROLLBACK_OF.match(entry.change_reason)
    return _pb2.ConfigVersion(
        value=value_message(entry),
        change_reason=entry.change_reason,
        approval_request_id=entry.approval_request_id,
        rollback_of_version=int(found.group(1)) if found else 0,
    )


def _details(
    admin: ConfigAdmin, ctx: SecurityContext, outcome: SetOutcome
) -> _pb2.SetConfigValueDetails:
    shown = admin.shown(ctx, outcome.in_force) if outcome.in_force is not None else None
    value = value_message(shown) if shown is not None else None
    return _pb2.SetConfigValueDetails(
        value=value, version=outcome.version, approval_request_id=outcome.approval_request_id
    )


class ConfigurationServicer(_pb2_grpc.EnterpriseConfigurationServiceServicer):
    """Serves EnterpriseConfigurationService from a :class:`~aesp.core.host.Host`."""

    def __init__(self, host: Host) -> None:
        self._host = host
        self._admins: dict[int, ConfigAdmin] = {}

    def _edge(self) -> ConfigAdmin:
        """The admin facade of the Host's running live configuration.

        Raises:
            ValidationError: ``FEATURE_UNAVAILABLE`` before live configuration started.
        """
        manager = live_config_of(self._host)
        if manager is None:
            raise ValidationError(
                "FEATURE_UNAVAILABLE",
                "Live configuration is not running on this Host; it starts with the Host.",
            )
        admin = self._admins.get(id(manager))
        if admin is None:
            self._admins = {id(manager): ConfigAdmin(self._host.control, manager)}
            admin = self._admins[id(manager)]
        return admin

    async def _serve(
        self,
        rpc: str,
        respond: Callable[[ConfigAdmin, SecurityContext, str], Awaitable[R]],
        response: Callable[..., R],
    ) -> R:
        try:
            admin = self._edge()
        except AespError as exc:
            return response(error=enterprise_error(exc, correlation_id=correlation_id()))

        async def bound(ctx: SecurityContext, cid: str) -> R:
            return await respond(admin, ctx, cid)

        return await serve(rpc, admin, bound, response)

    async def GetConfigValue(
        self, request: _pb2.GetConfigValueRequest, context: grpc.aio.ServicerContext
    ) -> _pb2.GetConfigValueResponse:
        """A key's value in force; sensitive values masked without read-sensitive permission."""

        async def respond(
            admin: ConfigAdmin, ctx: SecurityContext, cid: str
        ) -> _pb2.GetConfigValueResponse:
            entry = await admin.get_value(
                ctx,
                request.key,
                tenant_id=request.tenant_id,
                environment=request.environment,
                correlation_id=cid,
            )
            return _pb2.GetConfigValueResponse(success_details=value_message(entry))

        return await self._serve("GetConfigValue", respond, _pb2.GetConfigValueResponse)

    async def SetConfigValue(
        self, request: _pb2.SetConfigValueRequest, context: grpc.aio.ServicerContext
    ) -> _pb2.SetConfigValueResponse:
        """Set a key: applied at once, or pending governance approval (server's decision)."""

        async def respond(
            admin: ConfigAdmin, ctx: SecurityContext, cid: str
        ) -> _pb2.SetConfigValueResponse:
            outcome = await admin.set_value(
                ctx,
                SetRequest(
                    key=request.key,
                    value=request.value,
                    data_type=request.data_type,
                    sensitive=request.sensitive,
                    justification=request.justification,
                    requires_approval=request.requires_approval,
                    environment=request.environment,
                    tenant_id=request.tenant_id,
                    expected_version=request.expected_version,
                ),
                correlation_id=cid,
            )
            return _pb2.SetConfigValueResponse(success_details=_details(admin, ctx, outcome))

        return await self._serve("SetConfigValue", respond, _pb2.SetConfigValueResponse)

    async def RollbackConfig(
        self, request: _pb2.RollbackConfigRequest, context: grpc.aio.ServicerContext
    ) -> _pb2.RollbackConfigResponse:
        """A new version copying an older one's value."""

        async def respond(
            admin: ConfigAdmin, ctx: SecurityContext, cid: str
        ) -> _pb2.RollbackConfigResponse:
            outcome = await admin.rollback(
                ctx,
                request.key,
                request.target_version,
                tenant_id=request.tenant_id,
                environment=request.environment,
                justification=request.justification,
                correlation_id=cid,
            )
            return _pb2.RollbackConfigResponse(success_details=_details(admin, ctx, outcome))

        return await self._serve("RollbackConfig", respond, _pb2.RollbackConfigResponse)

    async def ListConfigKeys(
        self, request: _pb2.ListConfigKeysRequest, context: grpc.aio.ServicerContext
    ) -> _pb2.ListConfigKeysResponse:
        """A page of keys with their current values."""

        async def respond(
            admin: ConfigAdmin, ctx: SecurityContext, cid: str
        ) -> _pb2.ListConfigKeysResponse:
            page = await admin.list_keys(
                ctx,
                prefix=request.prefix,
                tenant_id=request.tenant_id,
                environment=request.environment,
                limit=request.limit,
                cursor=request.cursor,
                correlation_id=cid,
            )
            items = [value_message(e) for e in page.items]
            listing = _pb2.ConfigKeyList(items=items, next_cursor=page.next_cursor)
            return _pb2.ListConfigKeysResponse(success_details=listing)

        return await self._serve("ListConfigKeys", respond, _pb2.ListConfigKeysResponse)

    async def GetConfigHistory(
        self, request: _pb2.GetConfigHistoryRequest, context: grpc.aio.ServicerContext
    ) -> _pb2.GetConfigHistoryResponse:
        """A key's versions, newest first."""

        async def respond(
            admin: ConfigAdmin, ctx: SecurityContext, cid: str
        ) -> _pb2.GetConfigHistoryResponse:
            page = await admin.history(
                ctx,
                request.key,
                tenant_id=request.tenant_id,
                environment=request.environment,
                limit=request.limit,
                cursor=request.cursor,
                correlation_id=cid,
            )
            items = [_version_message(e) for e in page.items]
            history = _pb2.ConfigHistory(items=items, next_cursor=page.next_cursor)
            return _pb2.GetConfigHistoryResponse(success_details=history)

        return await self._serve("GetConfigHistory", respond, _pb2.GetConfigHistoryResponse)

    async def SubscribeToChanges(
        self, request: _pb2.SubscribeToChangesRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[_pb2.ConfigChangeEvent]:
        """Every applied change from now on; a refusal ends the stream with a non-OK status.

        The stream ends cleanly when the Host stops live configuration; when the client goes
        away, gRPC cancels this handler and the subscription is closed in ``finally``.
        """
        cid = correlation_id()
        try:
            admin = self._edge()
            ctx = await admin.context(admitted(), rpc="SubscribeToChanges", correlation_id=cid)
            sub = await admin.subscribe(
                ctx,
                list(request.keys),
                tenant_id=request.tenant_id,
                environment=request.environment,
                correlation_id=cid,
            )
        except AespError as exc:
            await abort(context, exc)
            return
        try:
            async for event in sub:
                yield _pb2.ConfigChangeEvent(
                    key=event.key,
                    old_value=event.old_value,
                    new_value=event.new_value,
                    timestamp=event.timestamp_ms,
                    changed_by=event.changed_by,
                    change_reason=event.change_reason,
                    version=event.version,
                )
        except AespError as exc:  # the subscriber fell too far behind
            await abort(context, exc)
        finally:
            sub.close()
