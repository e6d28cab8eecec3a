"""Replaying past tool calls against a candidate policy (``TestPolicy`` replay window).

Why only some policies can be replayed: the audit log records each call's principal, tool,
time, source address and session, and only a *digest* of its arguments (DESIGN §8: arguments
are not kept in the log). A candidate whose condition reads ``request.args`` cannot be decided
for a past call, so replaying it is refused with ``FEATURE_UNAVAILABLE`` rather than reported
with made-up arguments. ``request.user`` is the principal as the Host knows it *now* (roles at
the time of the call are not recorded).

The events are those of this Host process (``AuditLog.events()``); the queryable durable log
comes with the audit issue, and replay will read from it then.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from aesp.core.admin._simulate import Subject, activation
from aesp.core.audit import AuditEvent
from aesp.core.control import ControlPlane
from aesp.core.errors import ExecutionError
from aesp.core.manifest import ManifestStore
from aesp.core.policy import Activation, CompiledPolicy, TenantFacts, UserFacts
from aesp.core.policy.engine import reads_args

__all__ = ["MAX_REPLAYED", "replay_activations"]

MAX_REPLAYED: Final = 10_000  # bounds one TestPolicy's work; narrow the window for more


def _calls(
    events: Iterable[AuditEvent], tenant: str | None, start_ms: int, end_ms: int
) -> list[AuditEvent]:
    """Admitted calls (``TOOL_INVOCATION_START``/``SUCCESS``) in the window, oldest first."""
    return [
        e
        for e in events
        if e.event_type == "TOOL_INVOCATION_START"
        and e.outcome == "SUCCESS"
        and (tenant is None or e.tenant_id == tenant)
        and e.timestamp_ms >= start_ms
        and (not end_ms or e.timestamp_ms < end_ms)
    ][:MAX_REPLAYED]


async def replay_activations(
    control: ControlPlane,
    manifest: ManifestStore,
    candidate: CompiledPolicy,
    *,
    tenant: str | None,
    start_ms: int,
    end_ms: int,
) -> list[Activation]:
    """The activations of the past calls in ``[start_ms, end_ms)`` (``end_ms`` 0: until now)
    of ``tenant`` (None: every tenant, for a platform candidate).

    Calls of tools no longer in the manifest are skipped.

    Raises:
        ExecutionError: ``FEATURE_UNAVAILABLE`` when the candidate reads ``request.args``.
    """
    if reads_args(candidate):
        raise ExecutionError(
            "FEATURE_UNAVAILABLE",
            "The candidate reads request.args, and the audit log keeps only a digest of past "
            "arguments; test it with test cases instead of a replay window.",
            details={"field": "replay_start_time"},
        )
    subjects: dict[tuple[str, str], Subject] = {}
    organizations: dict[str, dict[str, str]] = {}
    out: list[Activation] = []
    for event in _calls(control.audit.events(), tenant, start_ms, end_ms):
        contract = manifest.current.get(event.resource)
        if contract is None:
            continue
        key = (event.tenant_id, event.principal_id)
        if key not in subjects:
            subjects[key] = await _subject(control, *key)
        if event.tenant_id not in organizations:
            record = await control.tenants.get(event.tenant_id)
            organizations[event.tenant_id] = dict(record.metadata) if record else {}
        context = {"source_ip": event.source_ip, "session.id": event.session_id}
        out.append(
            activation(
                subjects[key],
                contract,
                action="invoke",
                context={k: v for k, v in context.items() if v},
                organization=organizations[event.tenant_id],
                now_ms=event.timestamp_ms,
            )
        )
    return out


async def _subject(control: ControlPlane, tenant: str, principal_id: str) -> Subject:
    """The principal as known now; one without a record in the tenant has only its id."""
    record = await control.identity.get_principal(principal_id)
    snapshot = control.rbac.current
    user = UserFacts(
        id=principal_id,
        roles=tuple(sorted(snapshot.effective_roles(principal_id, tenant_id=tenant))),
        permissions=snapshot.effective_permissions(principal_id, tenant_id=tenant),
    )
    if record is None or record.tenant_id != tenant:
        return Subject(user, TenantFacts(tenant))
    user = UserFacts(
        id=principal_id,
        roles=user.roles,
        permissions=user.permissions,
        security_clearance=record.security_clearance,
        data_classification=record.data_classification,
    )
    return Subject(user, TenantFacts(tenant, record.cost_center, record.business_unit))
