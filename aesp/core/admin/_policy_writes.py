"""Write operations of ``EnterprisePolicyService``: create, update, delete (items 162-164).

The decisions they follow are listed in :mod:`aesp.core.admin.policy`.
"""

from __future__ import annotations

import dataclasses

from aesp.core.admin._guard import ADMIN_QUERY, Done, clip
from aesp.core.admin._policy_approvals import PendingDeletion, PendingPolicy, pending_note
from aesp.core.admin._policy_base import PolicyBase, policy_not_found
from aesp.core.admin._policy_support import prepare, stored_tenant, version_key, view
from aesp.core.admin.policy_types import PolicyDeletion, PolicyView
from aesp.core.errors import StateError
from aesp.core.policy import CompiledPolicy, PolicyDefinition
from aesp.core.ports.policy import VersionExistsError
from aesp.core.security import SecurityContext

__all__ = ["APPROVAL_REQUEST", "PolicyWrites"]

APPROVAL_REQUEST = "GOVERNANCE_APPROVAL_REQUEST"  # event type of a write submitted for approval


def _audit_meta(compiled: CompiledPolicy, dry_run: bool) -> dict[str, str]:
    d = compiled.definition
    meta = {
        "policy_id": d.policy_id,
        "version": d.version,
        "effect": compiled.effect.value,
        "applies_to": clip(",".join(d.applies_to)),
        "enabled": str(d.enabled).lower(),
    }
    if dry_run:
        meta["dry_run"] = "true"
    return meta


def _dry(compiled: CompiledPolicy) -> PolicyView:
    return PolicyView(compiled.definition, dry_run=True, warnings=compiled.warnings)


class PolicyWrites(PolicyBase):
    """``CreatePolicy``, ``UpdatePolicy``, ``DeletePolicy``.

    With approvals (item 165) a validated write is submitted instead of stored: the answer is a
    :class:`PendingPolicy` / :class:`PendingDeletion` carrying the request id, audited
    ``GOVERNANCE_APPROVAL_REQUEST`` with ``approval_request_id`` and ``applied = false``.
    """

    async def _submit(
        self, ctx: SecurityContext, compiled: CompiledPolicy, justification: str
    ) -> tuple[PendingPolicy, dict[str, str]]:
        """Submit a validated version for approval: the pending answer and its audit facts."""
        assert self._approvals is not None
        request_id = await self._approvals.submit_policy(
            ctx.principal_id, compiled.definition, justification
        )
        pending = PendingPolicy(
            compiled.definition,
            warnings=(*compiled.warnings, pending_note(request_id)),
            approval_request_id=request_id,
        )
        return pending, {"approval_request_id": request_id, "applied": "false"}

    async def _store(
        self, ctx: SecurityContext, compiled: CompiledPolicy, *, first: PolicyView | None
    ) -> PolicyView:
        """Store a compiled version and recompile the Host's set so it is in force at once."""
        try:
            stored = await self._control.policies.add_version(
                compiled.definition, created_by=ctx.principal_id, at_ms=self._clock_ms()
            )
        except VersionExistsError:
            raise StateError(
                "INVALID_STATE",
                f"Policy '{compiled.policy_id}' already has version "
                f"'{compiled.definition.version}'; versions are immutable, use a higher one.",
                details={"field": "version"},
            ) from None
        await self._control.policies_changed()
        out = view(stored)
        if first is not None:
            out = dataclasses.replace(
                out, created_at_ms=first.created_at_ms, created_by=first.created_by
            )
        return dataclasses.replace(out, warnings=compiled.warnings)

    async def create_policy(
        self,
        ctx: SecurityContext,
        definition: PolicyDefinition,
        *,
        tenant_id: str = "",
        dry_run: bool = False,
        correlation_id: str = "",
    ) -> PolicyView:
        """``CreatePolicy``, audited ``POLICY_CREATE`` (a dry run: ``ADMIN_QUERY``).

        Steps: (1) scope the definition to the resolved tenant (``"*"``: platform); (2) compile
        it (item 162); (3) a dry run returns here, storing nothing (item 163); (4) refuse an id
        already live in the scope; (5) with approvals, submit a ``POLICY_V1`` request and
        return it pending (item 165); else store and recompile the Host's policy set.

        Raises:
            ValidationError: ``MALFORMED_REQUEST`` / ``POLICY_EVALUATION_FAILED`` (compile).
            StateError: ``INVALID_STATE`` when the policy exists (use ``UpdatePolicy``).
        """

        async def act(target: str) -> Done[PolicyView]:
            # (1), (2)
            compiled = self._compile(prepare(definition, stored_tenant(target), creating=True))
            d = compiled.definition
            # (3): "CreatePolicy{dry_run:true} persists nothing" (item 163).
            if dry_run:
                return Done(
                    _dry(compiled),
                    resource=f"policy:{d.policy_id}@{d.version}",
                    metadata=_audit_meta(compiled, True),
                    event_type=ADMIN_QUERY,
                )
            # (4)
            existing = await self._control.policies.get(d.tenant_id, d.policy_id)
            if existing is not None and not existing.deleted:
                raise StateError(
                    "INVALID_STATE",
                    f"Policy '{d.policy_id}' already exists; change it with UpdatePolicy.",
                    details={"field": "policy_id"},
                )
            # (5) with approvals: submit, store nothing (item 165)
            if self._approvals is not None:
                pending, facts = await self._submit(ctx, compiled, "")
                meta = {**_audit_meta(compiled, False), **facts, "operation": "CreatePolicy"}
                resource = f"policy:{d.policy_id}@{d.version}"
                return Done(pending, resource, meta, event_type=APPROVAL_REQUEST)
            stored = await self._store(ctx, compiled, first=None)
            return Done(
                stored,
                resource=f"policy:{d.policy_id}@{d.version}",
                metadata=_audit_meta(compiled, False),
            )

        return await self._guard.run(
            ctx,
            "CreatePolicy",
            "POLICY_CREATE",
            tenant_id=tenant_id,
            correlation_id=correlation_id,
            action=act,
        )

    async def update_policy(
        self,
        ctx: SecurityContext,
        definition: PolicyDefinition,
        *,
        tenant_id: str = "",
        dry_run: bool = False,
        justification: str = "",
        expected_version: str = "",
        correlation_id: str = "",
    ) -> PolicyView:
        """``UpdatePolicy`` (item 164): a new, greater version; the old ones stay retrievable.
        Audited ``POLICY_UPDATE`` (a dry run: ``ADMIN_QUERY``).

        Steps: (1) the policy is live in exactly the named scope; (2) ``expected_version``
        matches the latest, when given; (3) compile the new version; (4) its version is greater
        than the latest; (5) a dry run returns here; (6) with approvals, submit and return
        it pending (item 165); else store and recompile.

        Raises:
            StateError: ``POLICY_NOT_FOUND``; ``INVALID_STATE`` for a stale
                ``expected_version`` or a version that does not increase.
            ValidationError: ``MALFORMED_REQUEST`` / ``POLICY_EVALUATION_FAILED`` (compile).
        """

        async def act(target: str) -> Done[PolicyView]:
            scope = stored_tenant(target)
            prepared = prepare(definition, scope, creating=False)
            # (1): writes never fall back to the platform scope.
            latest = await self._control.policies.get(scope, prepared.policy_id)
            if latest is None or latest.deleted:
                raise policy_not_found(prepared.policy_id, scope)
            previous = latest.definition.version
            # (2)
            if expected_version and expected_version != previous:
                raise StateError(
                    "INVALID_STATE",
                    f"Policy '{prepared.policy_id}' is at version '{previous}', not "
                    f"'{expected_version[:64]}'; read it again before changing it.",
                    details={"field": "expected_version", "current_version": previous},
                )
            # (3), (4)
            compiled = self._compile(prepared)
            if compiled.version_key <= version_key(previous):
                raise StateError(
                    "INVALID_STATE",
                    f"Version '{prepared.version}' is not greater than the current version "
                    f"'{previous}'; a new version must increase (SemVer).",
                    details={"field": "version", "current_version": previous},
                )
            meta = {
                **_audit_meta(compiled, dry_run),
                "previous_version": previous,
                "justification": clip(justification),
            }
            resource = f"policy:{prepared.policy_id}@{prepared.version}"
            # (5)
            if dry_run:
                return Done(_dry(compiled), resource, meta, event_type=ADMIN_QUERY)
            # (6)
            if self._approvals is not None:
                pending, facts = await self._submit(ctx, compiled, justification)
                meta |= {**facts, "operation": "UpdatePolicy"}
                return Done(pending, resource, meta, event_type=APPROVAL_REQUEST)
            first = view(await self._first(latest))
            return Done(await self._store(ctx, compiled, first=first), resource, meta)

        return await self._guard.run(
            ctx,
            "UpdatePolicy",
            "POLICY_UPDATE",
            tenant_id=tenant_id,
            correlation_id=correlation_id,
            action=act,
        )

    async def delete_policy(
        self,
        ctx: SecurityContext,
        policy_id: str,
        *,
        tenant_id: str = "",
        justification: str = "",
        correlation_id: str = "",
    ) -> PolicyDeletion:
        """``DeletePolicy``: soft; evaluated no more from the moment it returns. Audited
        ``POLICY_DELETE``. With approvals (item 165) the policy must be live in the scope; the
        deletion is submitted and the policy stays in force until it is approved.

        Raises:
            StateError: ``POLICY_NOT_FOUND`` (unknown, another tenant's, or already deleted).
        """

        async def act(target: str) -> Done[PolicyDeletion]:
            scope = stored_tenant(target)
            if self._approvals is not None:
                live = await self._control.policies.get(scope, policy_id)
                if live is None or live.deleted:
                    raise policy_not_found(policy_id, scope)
                request_id = await self._approvals.submit_deletion(
                    ctx.principal_id, scope, policy_id, justification
                )
                meta = {
                    "policy_id": policy_id,
                    "justification": clip(justification),
                    "approval_request_id": request_id,
                    "applied": "false",
                    "operation": "DeletePolicy",
                }
                pending = PendingDeletion(policy_id, 0, approval_request_id=request_id)
                return Done(pending, f"policy:{policy_id}", meta, event_type=APPROVAL_REQUEST)
            at = self._clock_ms()
            if not await self._control.policies.delete(scope, policy_id, at_ms=at):
                raise policy_not_found(policy_id, scope)
            await self._control.policies_changed()
            meta = {"policy_id": policy_id, "justification": clip(justification)}
            return Done(PolicyDeletion(policy_id, at), f"policy:{policy_id}", meta)

        return await self._guard.run(
            ctx,
            "DeletePolicy",
            "POLICY_DELETE",
            tenant_id=tenant_id,
            correlation_id=correlation_id,
            action=act,
        )
