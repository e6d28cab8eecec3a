"""Governance: approval workflows over the Governance port, and enactment of what they approve
(SPEC §3.7 (4), §3.9, §3.11, checklist 164-179).

* :class:`ApprovalEngine` opens, decides, lists and expires requests (m of n, role approvers,
  separation of duties, compare-and-set with retry) and enacts approved artifacts.
* Enactors apply one artifact type each (:class:`EnactorRegistry`): tool contracts into the
  manifest at run time (C-10), policies and role definitions through their ports; other
  components register ``BUDGET_V1`` and ``CONFIGURATION_KEY_V1``.
* :func:`restore_contracts` makes approved contracts ACTIVE again after a restart.
* :class:`Governance` holds all of it for one Host; :func:`open_governance` builds it.
* :mod:`~aesp.core.governance.promotion` turns a LATER tool or ADM declaration into a contract.
"""

from __future__ import annotations

from aesp.core.governance.contracts import ToolContractEnactor, parse_contract, restore_contracts
from aesp.core.governance.enactors import Enactor, EnactorRegistry
from aesp.core.governance.engine import ApprovalEngine
from aesp.core.governance.model import (
    Adjudication,
    Approval,
    ApprovalView,
    Approver,
    DecisionResult,
    Enacted,
    NewRequest,
    Prepared,
    public_conditions,
)
from aesp.core.governance.service import Governance, open_governance
from aesp.core.governance.store_enactors import PolicyEnactor, RoleEnactor
from aesp.core.governance.workflows import ApprovalWorkflow, WorkflowStore

__all__ = [
    "Adjudication",
    "Approval",
    "ApprovalEngine",
    "ApprovalView",
    "ApprovalWorkflow",
    "Approver",
    "DecisionResult",
    "Enacted",
    "Enactor",
    "EnactorRegistry",
    "Governance",
    "NewRequest",
    "PolicyEnactor",
    "Prepared",
    "RoleEnactor",
    "ToolContractEnactor",
    "WorkflowStore",
    "open_governance",
    "parse_contract",
    "public_conditions",
    "restore_contracts",
]
