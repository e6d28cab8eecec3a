"""Approval workflows: named default routing for one artifact type in one tenant (KD).

The Governance port stores requests and decisions, not routing rules, so workflow definitions
have their own small store, :class:`WorkflowStore` (in memory in
:mod:`aesp.testing.inmemory.workflows`, SQLite in ``aesp_local.workflows``; both pass the kit in
:mod:`aesp.testing.conformance.workflows`).

Routing (docs/protocol-decisions.md): of the workflows for the request's artifact type whose
``conditions`` all equal the request's facts (what the enactor read from the artifact, e.g.
``risk_assessment``, then the request metadata), the most specific applies: the tenant's own
before the platform's, more conditions before fewer, then the oldest. At most one applies.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final, Protocol, runtime_checkable

from aesp.core.errors import ValidationError
from aesp.core.ports.governance import ROLE_PREFIX, ArtifactType

__all__ = [
    "MAX_APPROVERS",
    "ApprovalWorkflow",
    "WorkflowStore",
    "apply_workflow",
    "check_approvers",
    "check_workflow",
    "select_workflow",
]

MAX_APPROVERS: Final = 32  # entries per request or workflow; a matching over them stays cheap
MAX_LIFETIME_MS: Final = 90 * 24 * 3600 * 1000  # a pending change older than a quarter is stale
MAX_CONDITIONS: Final = 16  # routing conditions per workflow
MAX_TEXT: Final = 256  # characters of a name, id, condition key or value
_ROLE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}\Z")  # as RbacSnapshot accepts
_PRINCIPAL = re.compile(r"^[\x21-\x7E]{1,256}\Z")
_WORKFLOW_ID = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.:-]{0,127}\Z")


@dataclass(frozen=True, slots=True)
class ApprovalWorkflow:
    """One workflow definition (``ApprovalWorkflow`` of governance.proto).

    Attributes:
        workflow_id: Unique id (Host-assigned ``wf-<hex>`` when created without one).
        tenant_id: Owning tenant; ``""`` applies to every tenant.
        artifact_type: What it routes.
        required_approvers: Principal ids or ``role:<name>``; never empty.
        min_approvals: m of n; 0 means all of them.
        expires_after_ms: Lifetime of a request it routes; 0 means the Host default.
        conditions: Facts a request must have for the workflow to apply.
        name: Human-readable name.
        version: 1 when created, +1 on every replace (compare-and-set).
        created_at_ms: Creation time.
        updated_at_ms: Last change.
        updated_by: Principal of the last change.
    """

    workflow_id: str
    tenant_id: str
    artifact_type: ArtifactType
    required_approvers: tuple[str, ...]
    min_approvals: int = 0
    expires_after_ms: int = 0
    conditions: Mapping[str, str] = field(default_factory=dict[str, str])
    name: str = ""
    version: int = 1
    created_at_ms: int = 0
    updated_at_ms: int = 0
    updated_by: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "artifact_type", ArtifactType(self.artifact_type))
        object.__setattr__(self, "required_approvers", tuple(self.required_approvers))
        object.__setattr__(self, "conditions", dict(self.conditions))


@runtime_checkable
class WorkflowStore(Protocol):
    """Stores workflow definitions; safe for several Hosts (replace is compare-and-set).

    Reads of unknown ids return None; writes naming an unknown workflow raise
    :class:`~aesp.core.ports._errors.NotFoundError`.
    """

    async def create(self, workflow: ApprovalWorkflow) -> ApprovalWorkflow:
        """Store a new workflow at version 1 and return it as stored.

        Raises:
            DuplicateError: The id exists (nothing changes).
        """
        ...

    async def replace(
        self, workflow: ApprovalWorkflow, *, expected_version: int
    ) -> ApprovalWorkflow:
        """Replace the definition if the stored version is ``expected_version``; the stored
        version becomes one higher, ``tenant_id`` and ``created_at_ms`` never change.

        Raises:
            NotFoundError: No such workflow.
            ConcurrentChangeError: The stored version differs (nothing written).
        """
        ...

    async def get(self, workflow_id: str) -> ApprovalWorkflow | None:
        """The workflow, or None."""
        ...

    async def list(
        self, *, tenant_id: str | None, artifact_type: ArtifactType | None = None
    ) -> Sequence[ApprovalWorkflow]:
        """Matching workflows ordered by ``(tenant_id, workflow_id)``; ``tenant_id=None`` means
        every tenant."""
        ...

    async def revision(self) -> int:
        """0 for an empty store, +1 for every successful write."""
        ...

    async def close(self) -> None:
        """Release connections and files."""
        ...


def _bad(field_name: str, why: str) -> ValidationError:
    return ValidationError("MALFORMED_REQUEST", f"{why}.", details={"field": field_name})


def check_approvers(approvers: Sequence[str], min_approvals: int, *, field_name: str) -> None:
    """Refuse an approver list no decision could complete correctly.

    Empty is refused (fail closed: "every approver said yes" would be true before anyone
    looked), as are repeats, malformed entries, more than :data:`MAX_APPROVERS`, and an m
    larger than n.

    Raises:
        ValidationError: ``MALFORMED_REQUEST`` with ``details.field = field_name``.
    """
    if not approvers:
        raise _bad(field_name, "Name at least one approver (a principal id or role:<name>)")
    if len(approvers) > MAX_APPROVERS:
        raise _bad(field_name, f"At most {MAX_APPROVERS} approvers may be named")
    if len(set(approvers)) != len(approvers):
        raise _bad(field_name, "An approver is named twice")
    for entry in approvers:
        ok = (
            _ROLE_NAME.match(entry.removeprefix(ROLE_PREFIX))
            if entry.startswith(ROLE_PREFIX)
            else _PRINCIPAL.match(entry)
        )
        if not ok:
            raise _bad(field_name, f"{entry[:64]!r} is neither a principal id nor role:<name>")
    if not 0 <= min_approvals <= len(approvers):
        raise _bad(
            "min_approvals",
            f"min_approvals must be between 0 (all) and the {len(approvers)} approvers named",
        )


def check_workflow(workflow: ApprovalWorkflow) -> None:
    """Refuse a malformed definition.

    Raises:
        ValidationError: ``MALFORMED_REQUEST`` naming the field.
    """
    if not _WORKFLOW_ID.match(workflow.workflow_id):
        raise _bad("workflow_id", "workflow_id must be 1-128 letters, digits or '_.:-'")
    if len(workflow.name) > MAX_TEXT:
        raise _bad("name", f"name is longer than {MAX_TEXT} characters")
    check_approvers(
        workflow.required_approvers, workflow.min_approvals, field_name="required_approvers"
    )
    if not 0 <= workflow.expires_after_ms <= MAX_LIFETIME_MS:
        raise _bad("expires_after_ms", "expires_after_ms must be between 0 and 90 days")
    if len(workflow.conditions) > MAX_CONDITIONS or any(
        not k or len(k) > MAX_TEXT or len(v) > MAX_TEXT for k, v in workflow.conditions.items()
    ):
        raise _bad(
            "conditions",
            f"At most {MAX_CONDITIONS} conditions, keys of 1-{MAX_TEXT} and values of at most "
            f"{MAX_TEXT} characters",
        )


def select_workflow(
    workflows: Sequence[ApprovalWorkflow], tenant_id: str, facts: Mapping[str, str]
) -> ApprovalWorkflow | None:
    """The workflow that routes a request of ``tenant_id`` with ``facts`` (module docstring)."""
    matching = [
        w
        for w in workflows
        if w.tenant_id in ("", tenant_id)
        and all(facts.get(key) == value for key, value in w.conditions.items())
    ]
    if not matching:
        return None
    return min(
        matching,
        key=lambda w: (
            w.tenant_id != tenant_id,
            -len(w.conditions),
            w.created_at_ms,
            w.workflow_id,
        ),
    )


def apply_workflow(
    workflow: ApprovalWorkflow | None,
    named: Sequence[str],
    min_approvals: int,
    requester_id: str,
) -> tuple[tuple[str, ...], int]:
    """The approvers and m of a new request: what the requester named, plus its workflow.

    Rules (docs/protocol-decisions.md), chosen so that a requester can only ever make a
    request harder to approve, never easier:

    * Without a workflow, the named approvers and ``min_approvals`` apply as given.
    * With one, its approvers come first. If the requester names no one else, the workflow's
      m applies (a larger ``min_approvals`` may raise it); if it names others, every entry is
      required, since m of a pool the requester enlarged would let its own nominees approve
      in place of the workflow's approvers.
    * A workflow entry naming the requester is dropped (separation of duties) and m is capped
      at the entries left.

    Raises:
        ValidationError: ``MALFORMED_REQUEST`` when the requester names itself, or when no
            approver is left.
    """
    if requester_id in named:
        raise _bad(
            "required_approvers", "You cannot approve your own request; name other approvers"
        )
    if workflow is None:
        check_approvers(named, min_approvals, field_name="required_approvers")
        return tuple(named), min_approvals
    base = [a for a in workflow.required_approvers if a != requester_id]
    extra = [a for a in named if a not in base]
    approvers = tuple(base + extra)
    if extra or workflow.min_approvals == 0:
        needed = 0
    else:
        needed = min(max(workflow.min_approvals, min_approvals), len(approvers))
        needed = 0 if needed == len(approvers) else needed
    check_approvers(approvers, needed, field_name="required_approvers")
    return approvers, needed
