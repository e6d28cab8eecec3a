"""Configuration changes that need approval go to the governance engine (SPEC §3.11, §3.15).

:class:`GovernedConfigApprovals` is the :class:`~aesp.core.live_config.ConfigApprovals` of a
Host with governance: ``submit`` opens a PENDING ``CONFIGURATION_KEY_V1`` request in the
change's scope, in the name of the change's author (the verified caller of ``SetConfigValue``
or ``RollbackConfig``), and returns its id. The old value stays in force; the
:class:`~aesp.core.governance.enactors_config.ConfigKeyEnactor` applies the change when the
request is approved.

Audit: ``SetConfigValue``/``RollbackConfig`` record the submission as the operation's own
``GOVERNANCE_APPROVAL_REQUEST`` event (:meth:`ConfigAdmin._write`), with the key, the masked
values and ``approval_request_id``; this module writes no second event for the same request.

Approvers (docs/protocol-decisions.md): unless the Host passes ``approvers``, a request names
every role that grants ``aesp:governance:AdjudicateApproval`` in the change's tenant (and, for
a platform-scope change, ``aesp:platform:cross-tenant`` too, because only a platform caller can
decide a platform request), and any one holder other than the requester completes it. When an
approval workflow routes ``CONFIGURATION_KEY_V1`` requests of that scope, the workflow's
approvers apply instead. Fixed ``approvers`` must all approve. No qualifying role means no one could approve: refused, fail closed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Final

from aesp.core.control import PLATFORM_PERMISSION, ControlPlane
from aesp.core.errors import ValidationError
from aesp.core.governance.enactors_config import ConfigKeyEnactor, change_facts, encode_change
from aesp.core.governance.engine import ApprovalEngine
from aesp.core.governance.model import NewRequest
from aesp.core.governance.workflows import MAX_APPROVERS, select_workflow
from aesp.core.live_config import ConfigManager, PendingChange
from aesp.core.ports.config import PLATFORM
from aesp.core.ports.governance import ROLE_PREFIX, ArtifactType

if TYPE_CHECKING:
    from aesp.core.governance.service import Governance

__all__ = ["ADJUDICATE", "GovernedConfigApprovals", "govern_config"]

ADJUDICATE: Final = "aesp:governance:AdjudicateApproval"
_PROBE: Final = "aesp:probe:config-approvers"  # a principal id no credential can carry
KIND: Final = ArtifactType.CONFIGURATION_KEY_V1


class GovernedConfigApprovals:
    """Submits configuration changes as ``CONFIGURATION_KEY_V1`` approval requests.

    Args:
        engine: The Host's approval engine.
        control: The control plane (roles, to find the default approvers).
        approvers: Fixed required approvers (principal ids or ``role:<name>``); None derives
            them from the roles (module docstring).
    """

    def __init__(
        self,
        *,
        engine: ApprovalEngine,
        control: ControlPlane,
        approvers: Sequence[str] | None = None,
    ) -> None:
        self._engine = engine
        self._control = control
        self._approvers = tuple(approvers) if approvers is not None else None

    async def submit(self, change: PendingChange) -> str:
        """Open a PENDING request for ``change`` in its scope; return its id.

        Raises:
            AespError: ``FEATURE_UNAVAILABLE`` when no one could approve it, or the engine's
                refusal (``MALFORMED_REQUEST``, ``INVALID_STATE``).
        """
        entry = change.entry
        named: tuple[str, ...] = ()
        any_one = self._approvers is None  # derived roles: any one holder; fixed: every entry
        if not await self._routed_by_workflow(change):
            fixed = self._approvers
            named = fixed if fixed is not None else await self.default_approvers(entry.tenant_id)
            if not named:
                raise _nobody(entry.key, entry.tenant_id)
        new = NewRequest(
            artifact_type=KIND.value,
            artifact_id=entry.key,
            artifact_data=encode_change(change),
            justification=entry.change_reason or f"change {entry.key}",
            required_approvers=named,
            min_approvals=1 if named and any_one else 0,
        )
        view = await self._engine.request(entry.changed_by, entry.tenant_id, new)
        return view.request.approval_request_id

    async def default_approvers(self, tenant_id: str) -> tuple[str, ...]:
        """``role:<name>`` of every role that lets its holder decide a request of ``tenant_id``."""
        # NOTE: the snapshot resolves a role name in the tenant first, then the platform, so
        # probing each name the tenant or the platform defines finds every candidate.
        names = {
            r.name
            for r in await self._control.roles.roles()
            if r.tenant_id in (PLATFORM, tenant_id)
        }
        snapshot = self._control.rbac.current
        wanted = (ADJUDICATE, PLATFORM_PERMISSION) if tenant_id == PLATFORM else (ADJUDICATE,)
        found: list[str] = []
        for name in sorted(names):
            if all(
                snapshot.decide(
                    _PROBE, tenant_id=tenant_id, permission=p, roles_hint=(name,)
                ).allowed
                for p in wanted
            ):
                found.append(f"{ROLE_PREFIX}{name}")
        return tuple(found[:MAX_APPROVERS])

    async def _routed_by_workflow(self, change: PendingChange) -> bool:
        workflows = self._engine.workflows
        if workflows is None:
            return False
        candidates = await workflows.list(tenant_id=None, artifact_type=KIND)
        tenant = change.entry.tenant_id
        return select_workflow(candidates, tenant, change_facts(change.entry)) is not None


def _nobody(key: str, tenant_id: str) -> ValidationError:
    where = f"tenant '{tenant_id}'" if tenant_id else "the platform scope"
    return ValidationError(
        "FEATURE_UNAVAILABLE",
        f"Changing '{key}' needs governance approval, but no role grants {ADJUDICATE} in "
        f"{where}, so no one could approve it; nothing was changed.",
        details={"field": "key", "reason": "NO_APPROVERS"},
        remediation_steps=(
            f"Give a role holding {ADJUDICATE} to a second operator, or create an approval "
            "workflow for CONFIGURATION_KEY_V1.",
        ),
    )


def govern_config(
    governance: Governance, manager: Callable[[], ConfigManager | None]
) -> GovernedConfigApprovals:
    """Put configuration changes under ``governance``: register the ``CONFIGURATION_KEY_V1``
    enactor (once per Host; it applies through whichever manager ``manager`` returns, so live
    configuration may be restarted) and return the approvals that submit to it.
    """
    if governance.enactors.get(KIND) is None:
        governance.enactors.register(KIND, ConfigKeyEnactor(manager))
    return GovernedConfigApprovals(engine=governance.engine, control=governance.control)
