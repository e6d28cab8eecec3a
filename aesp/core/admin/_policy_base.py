"""State and look-ups shared by the Policy admin operations (:mod:`aesp.core.admin.policy`).

Why a base class: the operations are split over two modules (writes, reads) to keep each
small; both need the same ports, clock, compiler and scoped look-ups, defined once here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Final

from aesp.core.admin._guard import ADMIN_QUERY, ALL_TENANTS, AdminGuard
from aesp.core.admin._policy_approvals import PolicyApprovals
from aesp.core.control import ControlPlane
from aesp.core.errors import AespError, StateError
from aesp.core.ids import now_ms
from aesp.core.manifest import ManifestStore
from aesp.core.policy import PLATFORM, CompiledPolicy, PolicyDefinition, compile_policy
from aesp.core.ports.policy import StoredPolicy
from aesp.core.principal import Principal
from aesp.core.security import SecurityContext

__all__ = ["EVENT_TYPES", "PolicyBase", "policy_not_found"]

EVENT_TYPES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "CreatePolicy": "POLICY_CREATE",
        "UpdatePolicy": "POLICY_UPDATE",
        "DeletePolicy": "POLICY_DELETE",
    }
)  # SPEC §3.10 event type of each write; every other RPC is an ADMIN_QUERY


def policy_not_found(policy_id: str, scope: str, version: str = "") -> AespError:
    """``POLICY_NOT_FOUND``, the same whether the policy is in another tenant or nowhere."""
    what = f"policy '{policy_id[:128]}'" + (f" version '{version[:64]}'" if version else "")
    where = "the platform scope" if scope in (ALL_TENANTS, PLATFORM) else f"tenant '{scope}'"
    return StateError(
        "POLICY_NOT_FOUND",
        f"There is no {what} in {where}.",
        details={"field": "policy_id", "policy_id": policy_id[:128]},
    )


class PolicyBase:
    """The ports, clock and compiler of the Policy admin operations.

    Args:
        control: The Host's control plane (policy port, snapshots, audit).
        manifest: The Host's contracts (what policies apply to and are checked against).
        clock_ms: Unix milliseconds.
        approvals: Where writes go for approval (``[governance] policy_changes =
            "approval"``, item 165); None applies them at once (``"direct"``, not
            AESP-compliant). The Host's servicer chooses from its configuration.
    """

    def __init__(
        self,
        control: ControlPlane,
        manifest: ManifestStore,
        *,
        clock_ms: Callable[[], int] = now_ms,
        approvals: PolicyApprovals | None = None,
    ) -> None:
        self._control = control
        self._manifest = manifest
        self._guard = AdminGuard(control, service="policy")
        self._clock_ms = clock_ms
        self._approvals = approvals

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

    def _compile(self, definition: PolicyDefinition) -> CompiledPolicy:
        """Compile against the Host's contracts now (items 162, 163).

        Raises:
            ValidationError: ``MALFORMED_REQUEST`` (shape) or ``POLICY_EVALUATION_FAILED``
                (``details.stage`` ``compile`` or ``check``).
        """
        return compile_policy(definition, contract_schemas=self._control.contract_schemas())

    async def _find(self, target: str, policy_id: str, version: str = "") -> StoredPolicy:
        """A live policy readable from ``target``: the tenant's, else the platform's.

        Raises:
            StateError: ``POLICY_NOT_FOUND`` when neither exists or the policy was deleted.
        """
        scopes = (PLATFORM,) if target == ALL_TENANTS else (target, PLATFORM)
        for scope in scopes:
            stored = await self._control.policies.get(scope, policy_id, version)
            if stored is not None and not stored.deleted:
                return stored
        raise policy_not_found(policy_id, target, version)

    async def _first(self, stored: StoredPolicy) -> StoredPolicy:
        """The first stored version of ``stored``'s policy (its creation time and author)."""
        versions = await self._control.policies.versions(
            stored.definition.tenant_id, stored.definition.policy_id
        )
        return versions[0] if versions else stored
