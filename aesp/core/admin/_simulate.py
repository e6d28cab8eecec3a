"""Activations for simulated decisions: ``EvaluatePolicy``, ``TestPolicy`` and its replay.

Why the facts come from the Host and not the request: a simulation must answer "what would
the Host decide for this principal calling this tool", so ``request.user`` comes from the
principal's record and the RBAC snapshot, ``request.resource`` from the Host's contract and
``organization`` from the tenant record, exactly as for a call (C-33, C-54). The request's
``context`` map may only supply what a *call* supplies:

* ``args.<name>``: an argument, parsed as JSON (``"500"`` is the number 500, ``"\\"EUR\\""``
  a string); text that is not JSON is taken as a string;
* ``source_ip``, ``session.id``;
* ``session.expires_at`` and ``time``: Unix milliseconds;
* ``user.mfa_verified``: ``true`` or ``false``.

Any other key is refused (``MALFORMED_REQUEST``): silently ignoring it would report a decision
for a request other than the one the administrator described.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Any, Final

from aesp.core.admin._guard import not_found
from aesp.core.admin.policy_types import Evaluation
from aesp.core.contracts import ToolContract
from aesp.core.control import ControlPlane
from aesp.core.errors import ValidationError
from aesp.core.manifest import ManifestStore
from aesp.core.policy import (
    Activation,
    PolicyOutcome,
    ResourceFacts,
    SessionFacts,
    TenantFacts,
    UserFacts,
)
from aesp.core.security import SecurityContext

__all__ = ["CONTEXT_KEYS", "Subject", "activation", "contract_for", "evaluation", "subject"]

CONTEXT_KEYS: Final = (
    "args.<name>",
    "source_ip",
    "session.id",
    "session.expires_at",
    "time",
    "user.mfa_verified",
)
MAX_CONTEXT_ENTRIES: Final = 256  # bounds the activation a simulation builds


@dataclasses.dataclass(frozen=True, slots=True)
class Subject:
    """Who a simulated request acts for: ``request.user`` and ``request.tenant`` facts."""

    user: UserFacts
    tenant: TenantFacts


def _bad(sentence: str, field: str) -> ValidationError:
    return ValidationError("MALFORMED_REQUEST", sentence, details={"field": field})


async def subject(
    control: ControlPlane, ctx: SecurityContext, tenant: str, principal_id: str
) -> Subject:
    """The facts of ``principal_id`` in ``tenant`` (``""``: the caller itself).

    Raises:
        ValidationError: ``MALFORMED_REQUEST`` when no principal is named for another tenant.
        StateError: ``INVALID_STATE`` (not found) for a principal without a record in
            ``tenant``, the same answer whether it exists elsewhere or nowhere.
    """
    if not principal_id or (principal_id == ctx.principal_id and tenant == ctx.tenant_id):
        if tenant != ctx.tenant_id:
            raise _bad("Name the principal the request acts for in that tenant.", "principal_id")
        user = UserFacts(
            id=ctx.principal_id,
            roles=ctx.roles,
            permissions=ctx.permissions,
            security_clearance=ctx.security_clearance,
            data_classification=ctx.data_classification,
            mfa_verified=ctx.mfa_verified,
        )
        return Subject(user, TenantFacts(tenant, ctx.cost_center, ctx.business_unit))
    record = await control.identity.get_principal(principal_id)
    if record is None or record.tenant_id != tenant:
        raise not_found("principal", principal_id, tenant, field_name="principal_id")
    snapshot = control.rbac.current
    user = UserFacts(
        id=principal_id,
        roles=tuple(sorted(snapshot.effective_roles(principal_id, tenant_id=tenant))),
        permissions=snapshot.effective_permissions(principal_id, tenant_id=tenant),
        security_clearance=record.security_clearance,
        data_classification=record.data_classification,
    )
    return Subject(user, TenantFacts(tenant, record.cost_center, record.business_unit))


def contract_for(manifest: ManifestStore, resource: str) -> ToolContract:
    """The Host's contract a ``resource`` (``tool:<name>`` or ``<name>``) names.

    Raises:
        ValidationError: ``UNSUPPORTED_TOOL`` when the manifest has no such tool.
    """
    name = resource.removeprefix("tool:")
    found = manifest.current.get(name) if name else None
    if found is None:
        raise ValidationError(
            "UNSUPPORTED_TOOL",
            f"The manifest has no tool '{name[:128]}'; name a resource as tool:<name>.",
            details={"field": "resource"},
        )
    return found


def _millis(key: str, text: str) -> int:
    if not text.isdigit():
        raise _bad(f"context['{key}'] must be Unix milliseconds.", "context")
    return int(text)


def _argument(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def activation(
    who: Subject,
    contract: ToolContract,
    *,
    action: str,
    context: Mapping[str, str],
    organization: Mapping[str, str],
    now_ms: int,
) -> Activation:
    """The C-33 activation of a simulated call.

    Raises:
        ValidationError: ``MALFORMED_REQUEST`` for a context key outside
            :data:`CONTEXT_KEYS` or a malformed value.
    """
    if len(context) > MAX_CONTEXT_ENTRIES:
        raise _bad(f"context holds more than {MAX_CONTEXT_ENTRIES} entries.", "context")
    args: dict[str, Any] = {}
    values = {"source_ip": "", "session.id": "", "session.expires_at": 0, "time": now_ms}
    user = who.user
    for key, text in context.items():
        if key.startswith("args.") and len(key) > len("args."):
            args[key.removeprefix("args.")] = _argument(text)
        elif key in ("source_ip", "session.id"):
            values[key] = text
        elif key in ("session.expires_at", "time"):
            values[key] = _millis(key, text)
        elif key == "user.mfa_verified" and text in ("true", "false"):
            user = dataclasses.replace(user, mfa_verified=text == "true")
        else:
            raise _bad(
                f"context key '{key[:64]}' is not one a call supplies; use "
                f"{', '.join(CONTEXT_KEYS)} (user.mfa_verified is true or false).",
                "context",
            )
    return Activation.build(
        time_ms=int(values["time"]),
        source_ip=str(values["source_ip"]),
        user=user,
        tenant=who.tenant,
        resource=ResourceFacts(
            name=contract.name,
            classification=contract.security_classification,
            risk=contract.risk_assessment,
            compliance_tags=contract.compliance_tags,
        ),
        action=action or "invoke",
        args=args,
        session=SessionFacts(
            id=str(values["session.id"]), expires_at_ms=int(values["session.expires_at"])
        ),
        organization=organization,
    )


def evaluation(outcome: PolicyOutcome) -> Evaluation:
    """The reported form of an engine outcome (C-39 ``PolicyEvaluation``)."""
    if not outcome.allowed:
        effect = "DENY"
    elif outcome.audits:
        effect = "AUDIT"
    else:
        effect = "ALLOW"
    return Evaluation(
        matched=outcome.matched,
        effect=effect,
        reason=outcome.reason,
        applied_policies=outcome.evaluated,
        code=outcome.code,
    )
