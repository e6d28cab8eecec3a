"""GridRuntimeService: the Runtime-facing edge (announce, fulfil, register, capabilities, work).

Every RPC reads the Runtime's identity from the certificate the TLS handshake verified; what a
Runtime says about itself is only checked against it (C-2, C-40).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import grpc

from aesp.core.errors import AespError, StateError, ValidationError
from aesp.core.host import HOST_FEATURES, PROTOCOL_VERSION, Host
from aesp.core.ids import accept_correlation_id
from aesp.core.messages import Announcement, Disconnect
from aesp.core.registration import RegistrationOutcome
from aesp.proto.altar.aesp.v1 import enterprise_pb2 as _enterprise_pb2
from aesp.proto.altar.aesp.v1 import host_pb2 as _host_pb2
from aesp.proto.altar.aesp.v1 import host_pb2_grpc as _host_pb2_grpc
from aesp.proto.altar.grid.v1 import grid_pb2 as _grid_pb2
from aesp.server import convert
from aesp.server.auth import authenticate
from aesp.server.errors import abort, enhanced_error

_Fulfil = _grid_pb2.FulfillToolsResponse
_Register = _grid_pb2.RegisterToolsResponse
_Capability = _grid_pb2.CapabilityUpdateResponse


class RuntimeServicer(_host_pb2_grpc.GridRuntimeServiceServicer):
    """Serves GridRuntimeService from a :class:`~aesp.core.host.Host`."""

    def __init__(self, host: Host) -> None:
        self._host = host
        self._trust_domain = host.config.trust_domain

    async def AnnounceRuntime(
        self,
        request: _enterprise_pb2.EnterpriseRuntimeAnnouncement,
        context: grpc.aio.ServicerContext,
    ) -> _grid_pb2.AnnounceRuntimeResponse:
        """Accept an EnterpriseRuntimeAnnouncement; the certificate decides identity and tenant."""
        cid = accept_correlation_id(request.correlation_id)
        try:
            principal, certificate = authenticate(context, self._trust_domain)
            ann = Announcement(
                runtime_id=request.runtime_id,
                language=request.language,
                version=request.version,
                capabilities=tuple(request.capabilities),
                declared_contracts=tuple(request.declared_contracts),
                compliance_level=int(request.compliance_level),
                optional_features=tuple(request.optional_features),
                claimed_spiffe_id=request.certificate_identity.spiffe_id,
                claimed_fingerprint=request.certificate_identity.fingerprint_sha256,
                claimed_tenant=request.tenant_id,
                correlation_id=cid,
            )
            conn, available, feature_config, enabled = await self._host.announce(
                principal, certificate, ann
            )
        except AespError as exc:
            await abort(context, exc)
            raise AssertionError("unreachable") from exc
        return _grid_pb2.AnnounceRuntimeResponse(
            connection_id=conn.connection_id,
            available_contracts=available,
            correlation_id=cid,
            negotiated_level=conn.negotiated_level,
            enabled_features=enabled,
            feature_config=feature_config,
            negotiated_version=PROTOCOL_VERSION,
            available_features=sorted(HOST_FEATURES),
        )

    async def FulfillTools(
        self, request: _grid_pb2.FulfillTools, context: grpc.aio.ServicerContext
    ) -> _grid_pb2.FulfillToolsResponse:
        """Fulfil manifest contracts for a session (or, with no session, the whole tenant)."""
        cid = accept_correlation_id(request.correlation_id)
        try:
            principal, _ = authenticate(context, self._trust_domain)
            outcome = await self._host.fulfil(
                principal,
                session_id=request.session_id,
                runtime_id=request.runtime_id,
                names=list(request.tool_names),
                correlation_id=cid,
            )
        except AespError as exc:  # authentication, or the audit log failing (C-36)
            await abort(context, exc)
            raise AssertionError("unreachable") from exc
        return _Fulfil(
            status=_Fulfil.Status.Value(outcome.status),
            fulfilled_tools=outcome.accepted,
            rejected_tools=outcome.rejected,
            errors=_errors(outcome, cid, principal.tenant_id, principal.principal_id),
            session_id=request.session_id,
            correlation_id=cid,
        )

    async def RegisterTools(
        self, request: _grid_pb2.RegisterToolsRequest, context: grpc.aio.ServicerContext
    ) -> _grid_pb2.RegisterToolsResponse:
        """Dynamic registration: refused in STRICT mode, per-tool validated in DEVELOPMENT."""
        try:
            principal, _ = authenticate(context, self._trust_domain)
            tools = [convert.tool_json(t) for t in request.tools]
            outcome = await self._host.register_tools(
                principal, runtime_id=request.runtime_id, session_id=request.session_id, tools=tools
            )
        except AespError as exc:  # authentication, or the audit log failing (C-36)
            await abort(context, exc)
            raise AssertionError("unreachable") from exc
        return _Register(
            status=_Register.Status.Value(outcome.status),
            accepted_tools=outcome.accepted,
            rejected_tools=outcome.rejected,
            errors=_errors(outcome, "", principal.tenant_id, principal.principal_id),
            session_id=request.session_id,
        )

    async def UpdateCapabilities(
        self, request: _grid_pb2.CapabilityUpdate, context: grpc.aio.ServicerContext
    ) -> _grid_pb2.CapabilityUpdateResponse:
        """Change the Runtime's features mid-connection."""
        try:
            principal, _ = authenticate(context, self._trust_domain)
        except AespError as exc:
            await abort(context, exc)
            raise AssertionError("unreachable") from exc
        status, accepted, rejected = self._host.update_capabilities(
            principal, request.runtime_id, request.new_features, request.deprecated_features
        )
        errors = [
            enhanced_error(
                ValidationError("FEATURE_UNAVAILABLE", f"The Host does not offer '{name}' here."),
                correlation_id="",
                tenant_id=principal.tenant_id,
                principal_id=principal.principal_id,
            )
            for name in rejected
        ]
        return _Capability(
            status=_Capability.Status.Value(status),
            accepted_features=accepted,
            rejected_features=rejected,
            errors=errors,
        )

    async def Connect(
        self,
        request_iterator: AsyncIterator[_host_pb2.RuntimeMessage],
        context: grpc.aio.ServicerContext,
    ) -> AsyncIterator[_host_pb2.HostMessage]:
        """The work stream: Host pushes calls, the Runtime answers (first message: ``open``)."""
        try:
            principal, _ = authenticate(context, self._trust_domain)
            first = await anext(aiter(request_iterator), None)
            if first is None or first.WhichOneof("kind") != "open":
                raise StateError(
                    "PROTOCOL_VIOLATION", "The first message on Connect must be 'open'."
                )
            conn = self._host.attach(first.open.connection_id, principal)
        except AespError as exc:
            await abort(context, exc)
            return
        reader = asyncio.create_task(self._read(conn, request_iterator))
        reason = "the runtime closed the stream"
        try:
            yield _host_pb2.HostMessage(
                status=_grid_pb2.RuntimeStatusNotification(
                    runtime_id=conn.runtime_id, status=_grid_pb2.RECONNECTED, message="connected"
                )
            )
            while True:
                message = await conn.outbox.get()
                if isinstance(message, Disconnect):
                    reason = message.reason
                    break
                yield convert.host_message(message)
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reader
            await self._host.detach(conn, reason)

    async def _read(self, conn, request_iterator) -> None:  # noqa: ANN001
        """Consume Runtime messages until the stream ends, then close the writer side."""
        reason = "the runtime closed the stream"
        try:
            async for message in request_iterator:
                kind = message.WhichOneof("kind")
                if kind == "result":
                    self._host.deliver_result(conn, convert.runtime_result(message.result))
                elif kind == "chunk":
                    self._host.deliver_chunk(conn, convert.runtime_chunk(message.chunk))
                elif kind == "heartbeat":
                    self._host.heartbeat(conn)
        except grpc.RpcError:
            reason = "the connection to the runtime was lost"
        except asyncio.CancelledError:
            raise
        conn.outbox.put_nowait(Disconnect(reason))


def _errors(
    outcome: RegistrationOutcome, cid: str, tenant_id: str, principal_id: str
) -> list[_grid_pb2.EnhancedError]:
    return [
        enhanced_error(
            e,
            correlation_id=cid,
            tenant_id=tenant_id,
            principal_id=principal_id,
            tool_name=name[:64],
        )
        for name, e in zip(outcome.rejected, outcome.errors, strict=True)
    ]
