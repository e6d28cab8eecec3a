"""``EnterprisePolicyService`` as core operations (SPEC §3.7 (2), §3.12, items 162-164, C-41).

Each operation runs in the frame of :class:`~aesp.core.admin._guard.AdminGuard`: permission
``aesp:policy:<Rpc>``, tenant resolution, audit of success and refusal. Decisions made here, for
the integrator to record:

* **Scope.** ``tenant_id = ""`` is the caller's own tenant; ``"*"`` is the *platform* scope
  (policies stored with tenant ``""``, applying to every tenant), which only a platform caller
  may name. (The proto comment of ``CreatePolicyRequest.tenant_id`` says "empty = platform
  policy"; aesp reads empty as "my tenant" everywhere, so an omitted field can never widen a
  policy to every tenant.) Reads (``GetPolicy``, ``EvaluatePolicy``) of a tenant find the
  tenant's policy first, then the platform's of that id, because platform policies apply to
  the tenant; writes touch exactly the named scope. ``ListPolicies`` of a tenant includes the
  platform policies; ``"*"`` lists every tenant's.
* **Compilation** is :func:`~aesp.core.policy.compile_policy` against the Host's contracts:
  invalid CEL is ``POLICY_EVALUATION_FAILED`` with ``details.stage = "compile"`` (item 162);
  argument references are checked against each tool's schema (``stage = "check"``).
* **Versions** (item 164): ``UpdatePolicy`` stores a new version, which must be greater (SemVer)
  than the latest; every version stays retrievable with ``GetPolicy{version}``. ``CreatePolicy``
  with no ``policy_id`` gets ``pol-<16 hex>``, with no ``version`` gets ``1.0.0``.
* **Dry runs** (item 163) store nothing and are audited as ``ADMIN_QUERY``, like ``TestPolicy``,
  ``ValidatePolicy`` and ``EvaluatePolicy``: nothing changed.
* **Delete** is soft: the policy stops being evaluated, its versions stay in the store for audit,
  and reads answer ``POLICY_NOT_FOUND``.
* **Governed writes** (item 165). Built with :class:`PolicyApprovals` (the Host's
  ``[governance] policy_changes = "approval"``, the default), a validated ``CreatePolicy``,
  ``UpdatePolicy`` or ``DeletePolicy`` stores nothing: it opens a ``POLICY_V1`` request in the
  policy's scope and answers :class:`PendingPolicy` / :class:`PendingDeletion` with its
  ``approval_request_id`` (and a ``PENDING_APPROVAL`` warning); the policy set changes only
  when another administrator approves it (:mod:`aesp.core.admin._policy_approvals`). Dry runs
  never need approval.
* **In force at once** without approvals (``policy_changes = "direct"``, development Hosts; not
  AESP-compliant): after a write the Host's policy set is recompiled before the operation
  returns.
"""

from __future__ import annotations

from aesp.core.admin._policy_approvals import PendingDeletion, PendingPolicy, PolicyApprovals
from aesp.core.admin._policy_reads import PolicyReads
from aesp.core.admin._policy_simulations import PolicySimulations
from aesp.core.admin._policy_writes import PolicyWrites

__all__ = ["PendingDeletion", "PendingPolicy", "PolicyAdmin", "PolicyApprovals"]


class PolicyAdmin(PolicyWrites, PolicyReads, PolicySimulations):
    """The Policy Engine's admin operations over the control plane.

    Build it once per Host: ``PolicyAdmin(host.control, host.manifest)``.

    Args:
        control: The Host's control plane (policy port, snapshots, audit).
        manifest: The Host's contracts (what policies apply to and are checked against).
        clock_ms: Unix milliseconds.
        approvals: Submit writes for approval (item 165); None applies them at once.
    """
