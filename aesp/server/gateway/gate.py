"""The gateway's decision for one request, in SPEC order, with its audit trail.

SPEC §3.19 step 1: "The Gateway terminates TLS 1.3 and validates the token. Failure →
``INVALID_CREDENTIALS`` or ``AUTHENTICATION_FAILED``, plus an ``AUTHENTICATION_FAILURE`` audit
event. The Gateway rate-limits: ``RATE_LIMIT_EXCEEDED`` with ``retry_after_ms``." TLS 1.3 is
checked before this runs (:class:`aesp.server.tls.RequireTls13Interceptor`).

Every refusal decided here is audited here and marked ``audited``, so the servicer's in-band
refusal does not write a second event. Credentials never reach the audit log: only their kind
and a public id (an API key's id, an LDAP user name, a session token's id); never a SAML
assertion, a password or a token.
"""

from __future__ import annotations

import contextlib
from typing import Any

import grpc.aio

from aesp.core.audit import AuditEvent, AuditLog
from aesp.core.errors import AespError, AuthenticationError, ValidationError
from aesp.core.ids import accept_correlation_id
from aesp.core.ports.state import BucketSpec
from aesp.core.principal import Principal
from aesp.server.gateway.admission import Admission
from aesp.server.gateway.credentials import Authentication, CredentialResolver
from aesp.server.gateway.limits import RateLimits

__all__ = ["Gate"]


def _request_correlation_id(request: Any) -> str:
    value = getattr(request, "correlation_id", "")  # requests without the field have none
    return value if isinstance(value, str) else ""


class Gate:
    """Authenticates, rate-limits and size-checks requests; audits what it refuses.

    Args:
        credentials: Finds and verifies the request's credential.
        limits: The principal and tenant buckets.
        audit: Where authentication events and the gateway's refusals are recorded.
        max_request_bytes: Largest serialized request accepted.
    """

    def __init__(
        self,
        *,
        credentials: CredentialResolver,
        limits: RateLimits,
        audit: AuditLog,
        max_request_bytes: int,
    ) -> None:
        self._credentials = credentials
        self._limits = limits
        self._audit = audit
        self._max_request_bytes = max_request_bytes

    def apply_rate_limits(self, *, principal: BucketSpec, tenant: BucketSpec) -> None:
        """Change the rate limits of the running gateway (live configuration, SPEC §3.15)."""
        self._limits.apply(principal=principal, tenant=tenant)

    async def admit(self, request: Any, context: grpc.aio.ServicerContext, rpc: str) -> Admission:
        """Decide on one request: (1) authenticate, (2) rate limits, (3) request size.

        Args:
            request: The deserialized request; None for a request stream (no size check).
            context: The servicer context (TLS peer and metadata).
            rpc: The full method name, for the audit trail.

        Returns:
            The verdict; never raises for a refusal (GRID/AESP answer refusals in-band).
        """
        cid = accept_correlation_id(_request_correlation_id(request))
        # (1) authenticate: exactly one valid credential (items 148, 207; C-9).
        auth = await self._credentials.authenticate(context)
        if auth.error is not None or auth.principal is None:
            error = auth.error or AuthenticationError("AUTHENTICATION_FAILED", "No credential.")
            await self._failed(auth, error, cid, context.peer() or "", rpc)
            return Admission(cid, error=error)
        principal = auth.principal
        if auth.fresh:  # item 149, once per verification rather than per request
            try:
                await self._succeeded(auth, principal, cid, rpc)
            except AespError as exc:  # C-36: an unaudited authentication admits nobody
                exc.audited = True  # and gets no session token
                return Admission(cid, principal, exc)
        token = auth.session_token
        try:
            # (2) rate limits: principal, then tenant (item 208).
            await self._limits.check(principal)
            # (3) size: the request as serialized (checked after (2): a flood of large
            # requests is then limited like any other).
            if request is not None and request.ByteSize() > self._max_request_bytes:
                raise ValidationError(
                    "MESSAGE_TOO_LARGE",
                    f"The request is larger than the Host accepts ({self._max_request_bytes} "
                    "bytes).",
                    remediation_steps=("Send smaller arguments, or split the work.",),
                )
        except AespError as exc:
            await self._denied(principal, exc, cid, rpc)
            # The SAML response is spent: without its token the caller would have to log in
            # again only because of a rate limit.
            return Admission(cid, principal, exc, session_token=token)
        return Admission(cid, principal, session_token=token)

    async def _failed(
        self, auth: Authentication, exc: AespError, cid: str, source_ip: str, rpc: str
    ) -> None:
        exc.audited = True
        meta = {"code": exc.code, "reason": exc.message[:300], "credential": auth.method}
        if auth.hint:
            meta["credential_id"] = auth.hint
        with contextlib.suppress(AespError):  # the refusal reaches the caller regardless
            await self._audit.append(
                AuditEvent(
                    event_type="AUTHENTICATION_FAILURE",
                    outcome="DENIED",
                    action="authenticate",
                    resource=rpc,
                    correlation_id=cid,
                    source_ip=source_ip,
                    metadata=meta,
                )
            )

    async def _succeeded(
        self, auth: Authentication, principal: Principal, cid: str, rpc: str
    ) -> None:
        meta = {"credential": auth.method, "source": principal.source}
        if auth.hint:
            meta["credential_id"] = auth.hint
        if auth.session_token is not None:  # its id links the token's later uses to this login
            meta["session_token_id"] = auth.session_token.token_id
            meta["session_token_expires_ms"] = str(auth.session_token.expires_at_ms)
        await self._audit.append(
            AuditEvent(
                event_type="AUTHENTICATION_SUCCESS",
                outcome="SUCCESS",
                action="authenticate",
                principal_id=principal.principal_id,
                tenant_id=principal.tenant_id,
                resource=rpc,
                correlation_id=cid,
                source_ip=principal.source_ip,
                metadata=meta,
            )
        )

    async def _denied(self, principal: Principal, exc: AespError, cid: str, rpc: str) -> None:
        exc.audited = True
        meta = {"code": exc.code, "reason": exc.message[:300], **exc.details}
        if exc.retry_after_ms:
            meta["retry_after_ms"] = str(exc.retry_after_ms)
        with contextlib.suppress(AespError):
            await self._audit.append(
                AuditEvent(
                    event_type="AUTHORIZATION_DENIED",
                    outcome="DENIED",
                    action="admit",
                    principal_id=principal.principal_id,
                    tenant_id=principal.tenant_id,
                    resource=rpc,
                    correlation_id=cid,
                    source_ip=principal.source_ip,
                    metadata=meta,
                )
            )
