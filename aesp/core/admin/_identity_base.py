"""State and helpers shared by the Identity admin operations (:mod:`aesp.core.admin.identity`).

Why a base class: the operations are split over two modules (service accounts, principals) to
keep each small; both need the same ports, clock, key settings and look-ups, defined once here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Final

from aesp.core.admin._guard import ADMIN_QUERY, ALL_TENANTS, AdminGuard, not_found
from aesp.core.control import ControlPlane
from aesp.core.errors import AespError, ValidationError
from aesp.core.ids import now_ms
from aesp.core.ports.audit import AuditQuery
from aesp.core.ports.identity import PrincipalRecord, PrincipalType
from aesp.core.principal import Principal
from aesp.core.security import SecurityContext
from aesp.identity.apikeys import hash_api_key_secret

__all__ = ["EVENT_TYPES", "IdentityBase", "one_tenant"]

EVENT_TYPES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "CreateServiceAccount": "IDENTITY_CREATE_SERVICE_ACCOUNT",
        "RevokeServiceAccount": "IDENTITY_REVOKE_SERVICE_ACCOUNT",
        "UpdatePrincipalRoles": "IDENTITY_ASSIGN_ROLE",
    }
)  # SPEC §3.10 event type of each write; every other RPC is an ADMIN_QUERY


def one_tenant(target: str, what: str) -> str:
    """``target`` when it names one tenant.

    Raises:
        ValidationError: ``MALFORMED_REQUEST`` for ``"*"``, which only selects every tenant in
            listings.
    """
    if target == ALL_TENANTS:
        raise ValidationError(
            "MALFORMED_REQUEST",
            f"Name the tenant of the {what}; '*' only selects every tenant in listings.",
            details={"field": "tenant_id"},
        )
    return target


class IdentityBase:
    """The ports, clock and API-key settings of the Identity admin operations.

    Args:
        control: The Host's control plane.
        pepper: The deployment's API-key pepper (the gateway verifies keys with the same one).
        key_prefix: Prefix of issued keys (``[identity.api_keys] prefix``).
        issuer: The issuer segment of service-account principal ids (the gateway's).
        clock_ms: Unix milliseconds.
        audit_query: The Host's AuditQuery port (``host.audit_query``), which
            ``GetPrincipalAuditTrail`` and the audit summary read; None reads only this
            process's events (:mod:`aesp.core.admin._trail`).

    Raises:
        ValueError: The pepper is shorter than the API-key module accepts.
    """

    def __init__(
        self,
        control: ControlPlane,
        *,
        pepper: bytes,
        key_prefix: str = "aesp",
        issuer: str = "aesp",
        clock_ms: Callable[[], int] = now_ms,
        audit_query: AuditQuery | None = None,
    ) -> None:
        hash_api_key_secret("0", "0", pepper=pepper)  # refuse a short pepper at start-up
        self._control = control
        self._guard = AdminGuard(control, service="identity")
        self._pepper = pepper
        self._prefix = key_prefix
        self._issuer = issuer
        self._clock_ms = clock_ms
        self._audit_query = audit_query

    def principal_id(self, service_account_id: str) -> str:
        """The principal id a service account's key authenticates as."""
        return f"api_key|{self._issuer}|{service_account_id}"

    async def context(
        self, principal: Principal, *, rpc: str, correlation_id: str
    ) -> SecurityContext:
        """The caller's context; a refusal is audited (see :meth:`AdminGuard.context`)."""
        return await self._guard.context(principal, rpc=rpc, correlation_id=correlation_id)

    async def record_refusal(
        self, ctx: SecurityContext, rpc: str, exc: AespError, *, correlation_id: str
    ) -> None:
        """Audit a refusal the edge raised for ``rpc`` (an unconvertible request)."""
        event_type = EVENT_TYPES.get(rpc, ADMIN_QUERY)
        await self._guard.reject(ctx, rpc, event_type, exc, correlation_id)

    async def _expired(self, record: PrincipalRecord) -> bool:
        """Whether ``record`` is a service account whose key has lapsed."""
        prefix = self.principal_id("")
        if record.principal_type != PrincipalType.SERVICE_ACCOUNT or not (
            record.principal_id.startswith(prefix)
        ):
            return False
        account = await self._control.identity.get_service_account(
            record.principal_id.removeprefix(prefix)
        )
        expiry = account.key.expires_at_ms if account is not None else 0
        return bool(expiry) and expiry <= self._clock_ms()

    async def _record_in(self, tenant: str, principal_id: str) -> PrincipalRecord:
        """The principal's record in ``tenant``; "not found" whether it is elsewhere or nowhere."""
        record = await self._control.identity.get_principal(principal_id)
        if record is None or record.tenant_id != tenant:
            raise not_found("principal", principal_id, tenant, field_name="principal_id")
        return record
