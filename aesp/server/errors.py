"""The one place an :class:`~aesp.core.errors.AespError` becomes a wire error (STYLE convention 10).

In-band, every GRID response that can carry an error carries an ``EnhancedError`` (C-5 mapping
``code -> type``), extended with the ``EnterpriseError`` fields (tenant, principal, security
implications, escalation) so nothing is lost. RPCs whose response has no error field (the
Runtime handshake and the work stream) end with a gRPC status from :data:`GRPC_STATUS`, the
code in the ``aesp-error-code`` trailer.
"""

from __future__ import annotations

from types import MappingProxyType

import grpc

from aesp.core.errors import AespError
from aesp.core.ids import now_ms
from aesp.proto.altar.aesp.v1 import enterprise_pb2 as _enterprise_pb2
from aesp.proto.altar.grid.v1 import grid_pb2 as _grid_pb2

ERROR_CODE_TRAILER = "aesp-error-code"

# gRPC status for refusals that cannot travel in-band.
GRPC_STATUS = MappingProxyType(
    {
        "AUTHENTICATION_FAILED": grpc.StatusCode.UNAUTHENTICATED,
        "INVALID_CREDENTIALS": grpc.StatusCode.UNAUTHENTICATED,
        "CERTIFICATE_INVALID": grpc.StatusCode.UNAUTHENTICATED,
        "PERMISSION_DENIED": grpc.StatusCode.PERMISSION_DENIED,
        "TENANT_ACCESS_DENIED": grpc.StatusCode.PERMISSION_DENIED,
        "MALFORMED_REQUEST": grpc.StatusCode.INVALID_ARGUMENT,
        "SCHEMA_VIOLATION": grpc.StatusCode.INVALID_ARGUMENT,
        "PROTOCOL_VIOLATION": grpc.StatusCode.FAILED_PRECONDITION,
        "INVALID_STATE": grpc.StatusCode.FAILED_PRECONDITION,
        "UNSUPPORTED_TOOL": grpc.StatusCode.NOT_FOUND,
        "INVALID_SESSION": grpc.StatusCode.NOT_FOUND,
        "RESOURCE_EXHAUSTED": grpc.StatusCode.RESOURCE_EXHAUSTED,
        "RATE_LIMIT_EXCEEDED": grpc.StatusCode.RESOURCE_EXHAUSTED,
        "QUOTA_EXCEEDED": grpc.StatusCode.RESOURCE_EXHAUSTED,
        "MESSAGE_TOO_LARGE": grpc.StatusCode.RESOURCE_EXHAUSTED,
        "SERVICE_UNAVAILABLE": grpc.StatusCode.UNAVAILABLE,
        "TIMEOUT": grpc.StatusCode.DEADLINE_EXCEEDED,
        "FEATURE_UNAVAILABLE": grpc.StatusCode.UNIMPLEMENTED,
    }
)


def enhanced_error(
    err: AespError,
    *,
    correlation_id: str,
    tenant_id: str = "",
    principal_id: str = "",
    session_id: str = "",
    tool_name: str = "",
    runtime_id: str = "",
) -> _grid_pb2.EnhancedError:
    """The in-band form of ``err`` (items 104, 141)."""
    return _grid_pb2.EnhancedError(
        message=err.message,
        type=err.code,
        details=err.details,
        correlation_id=correlation_id,
        timestamp=now_ms(),
        retry_allowed=err.retry_allowed,
        retry_after_ms=err.retry_after_ms,
        remediation_steps=err.remediation_steps,
        component="host",
        session_id=session_id,
        runtime_id=runtime_id,
        tool_name=tool_name,
        severity=_grid_pb2.ERROR,
        category=int(err.category),
        tenant_id=tenant_id,
        principal_id=principal_id,
        escalation_required=err.escalation_required,
    )


def enterprise_error(
    err: AespError, *, correlation_id: str, tenant_id: str = "", principal_id: str = ""
) -> _enterprise_pb2.EnterpriseError:
    """The ``EnterpriseError`` form of ``err`` (for the Enterprise services)."""
    return _enterprise_pb2.EnterpriseError(
        code=err.code,
        message=err.message,
        details=err.details,
        tenant_id=tenant_id,
        principal_id=principal_id,
        correlation_id=correlation_id,
        retry_after_ms=err.retry_after_ms,
        remediation_steps=err.remediation_steps,
        escalation_required=err.escalation_required,
    )


async def abort(context: grpc.aio.ServicerContext, err: AespError) -> None:
    """End the RPC with the gRPC status for ``err`` and its code in a trailer."""
    context.set_trailing_metadata(((ERROR_CODE_TRAILER, err.code),))
    await context.abort(GRPC_STATUS.get(err.code, grpc.StatusCode.INTERNAL), str(err))
