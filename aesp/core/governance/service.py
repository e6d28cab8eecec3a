"""One Host's governance: its stores, the enactors, the engine, start-up replay and the sweep.

Lifecycle (what the Host does with it):

* :func:`open_governance` builds the Approval store (and, when the profile realises one, the
  workflow store) from the configured ``[profile] governance``.
* :meth:`Governance.start` replays approved contracts into the manifest
  (:func:`~aesp.core.governance.contracts.restore_contracts`), so they survive a restart, and
  starts the background duty: every :data:`SWEEP_INTERVAL_MS` it expires overdue requests and,
  if the approval store changed (another Host approved a contract), replays again.
* :meth:`Governance.stop` stops the duty and closes the stores.

Other components register enactors for their artifact types into :attr:`Governance.enactors`
(``BUDGET_V1`` by the cost component, ``CONFIGURATION_KEY_V1`` by the configuration one).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Final

from aesp.core import plugins
from aesp.core.call_approvals import CallApprovals
from aesp.core.config import HostConfig
from aesp.core.control import ControlPlane
from aesp.core.governance.contracts import ToolContractEnactor, restore_contracts
from aesp.core.governance.enactors import EnactorRegistry
from aesp.core.governance.engine import ApprovalEngine
from aesp.core.governance.store_enactors import PolicyEnactor, RoleEnactor
from aesp.core.governance.workflows import WorkflowStore
from aesp.core.ids import now_ms
from aesp.core.manifest import ManifestStore
from aesp.core.ports.governance import ApprovalStore, ArtifactType

__all__ = ["SWEEP_INTERVAL_MS", "Governance", "open_governance"]

log = logging.getLogger(__name__)

SWEEP_INTERVAL_MS: Final = 5_000  # how late an expiry or another Host's approval may be seen


class Governance:
    """The governance component of one Host.

    Args:
        control: The control plane (Policy and RBAC ports, audit log).
        manifest: The Host's manifest store.
        approvals: The Governance port.
        workflows: Workflow definitions, or None when the profile has no workflow store
            (``CreateApprovalWorkflow`` then answers ``FEATURE_UNAVAILABLE``).
        clock_ms: Unix milliseconds.
        sweep_interval_ms: Period of the background duty.
    """

    def __init__(
        self,
        *,
        control: ControlPlane,
        manifest: ManifestStore,
        approvals: ApprovalStore,
        workflows: WorkflowStore | None = None,
        clock_ms: Callable[[], int] = now_ms,
        sweep_interval_ms: int = SWEEP_INTERVAL_MS,
    ) -> None:
        self.control = control
        self.manifest = manifest
        self.approvals = approvals
        self.workflows = workflows
        self.enactors = EnactorRegistry()
        self.enactors.register(ArtifactType.TOOL_CONTRACT_V1, ToolContractEnactor(manifest))
        self.enactors.register(ArtifactType.POLICY_V1, PolicyEnactor(control))
        self.enactors.register(ArtifactType.ROLE_DEFINITION_V1, RoleEnactor(control))
        self.engine = ApprovalEngine(
            store=approvals,
            enactors=self.enactors,
            audit=control.audit,
            workflows=workflows,
            clock_ms=clock_ms,
        )
        # Per-call approval of governed calls (the pipeline's approval step).
        self.calls = CallApprovals(store=approvals, audit=control.audit, clock_ms=clock_ms)
        self._interval_s = sweep_interval_ms / 1000
        self._replayed = -1
        self._task: asyncio.Task[None] | None = None

    async def start(self, *, background: bool = True) -> None:
        """Replay approved contracts now; then, with ``background``, run the periodic duty."""
        await self.sync()
        if background and self._task is None:
            self._task = asyncio.create_task(self._duty())

    async def sync(self) -> None:
        """Replay approved contracts if the approval store changed since the last replay."""
        revision = await self.approvals.revision()
        if revision != self._replayed:
            installed = await restore_contracts(self.approvals, self.manifest)
            self._replayed = revision
            if installed:
                log.info("governance: activated %s", ", ".join(c.name for c in installed))

    async def stop(self) -> None:
        """Stop the duty and close the stores."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.approvals.close()
        if self.workflows is not None:
            await self.workflows.close()

    async def _duty(self) -> None:
        while True:
            await asyncio.sleep(self._interval_s)
            try:
                await self.engine.expire_due()
                await self.sync()
            except Exception:  # noqa: BLE001 - a store outage must not stop the Host
                log.exception("governance sweep failed; retrying at the next interval")


async def open_governance(
    config: HostConfig, control: ControlPlane, manifest: ManifestStore
) -> Governance:
    """Build the governance component from the configured profile (not yet started).

    Raises:
        ConfigurationError: ``INVALID_CONFIG`` when the profile is not installed or realises no
            Approval store.
    """
    profile = config.profile.choice(("governance",))["governance"]
    registry = plugins.load_registry({profile})
    plugins.check_required(registry, {"governance": ApprovalStore}, {"governance": profile})
    approvals = await registry.build(ApprovalStore, profile, config)
    workflows: WorkflowStore | None = None
    if registry.find(WorkflowStore, profile) is not None:
        workflows = await registry.build(WorkflowStore, profile, config)
    else:
        log.warning(
            "profile '%s' realises no approval-workflow store: workflow RPCs answer "
            "FEATURE_UNAVAILABLE and requests are routed to the approvers they name",
            profile,
        )
    return Governance(control=control, manifest=manifest, approvals=approvals, workflows=workflows)
