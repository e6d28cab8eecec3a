"""Per-call approval: a call its contract says needs approval runs only after other people
approved exactly that call, and then exactly once (SPEC §3.11 applied to one invocation).

A contract asks for it in ``governance_metadata``, or a ``REQUIRE_APPROVAL`` policy in its
``parameters`` (same keys, :func:`governing_rule` picks one; docs/protocol-decisions.md):

* ``approval = per_call`` (any other non-empty value is refused: an unknown mode must never
  mean "no approval");
* ``approvers``: comma-separated principal ids or ``role:<name>`` (required: an empty approver
  list would approve nothing or everything, so it refuses every call, STYLE 11);
* ``min_approvals``: m of n, 0 (the default) meaning all of them;
* ``approval_ttl_ms``: how long the request may be decided *and* the approval used.

The step, run by the pipeline after RBAC, schema and policy (:meth:`CallApprovals.check`):

(1) No approval id presented: open a request in the governance store, bound to the tenant,
    the requesting principal, the tool, the contract digest and the SHA-256 of the canonical
    arguments (the arguments themselves are in the artifact, for the approvers to read); audit
    ``GOVERNANCE_APPROVAL_REQUEST``; hold the call (``EMERGENCY_OVERRIDE_REQUIRED`` with
    ``details.approval_request_id``). The Runtime receives nothing.
(2) An id presented: it must name a per-call approval of this tenant, requested by this
    principal, for this tool, contract digest and argument hash (else ``PERMISSION_DENIED``;
    another tenant's id is indistinguishable from a missing one), before its deadline, and
    APPROVED (a PENDING one holds the call again, with the same id).
(3) Consume it: create its use record ``<id>.used`` in the same store. Creation of an existing
    id fails in every realisation of the port, so this is the compare-and-set: of any number of
    concurrent uses, on any number of Hosts sharing the store, exactly one wins, and a restart
    does not forget it. The loser gets ``PERMISSION_DENIED`` (``APPROVAL_ALREADY_USED``).

Separation of duties: the caller is dropped from the approvers it would be routed to, and the
engine refuses a requester's own decision.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from aesp.adm import canonical_json
from aesp.core.audit import AuditEvent, AuditLog
from aesp.core.contracts import ToolContract
from aesp.core.errors import AuthorizationError, ConfigurationError
from aesp.core.ids import now_ms
from aesp.core.policy.model import (
    APPROVAL_TTL_DEFAULT_MS,
    APPROVAL_TTL_MAX_MS,
    APPROVAL_TTL_MIN_MS,
    ApprovalRequirement,
    approval_requirement,
)
from aesp.core.ports._errors import ConcurrentChangeError, DuplicateError, NotFoundError
from aesp.core.ports.governance import (
    ApprovalRequest,
    ApprovalStatus,
    ApprovalStore,
    ArtifactType,
)
from aesp.core.principal import Principal

__all__ = [
    "APPROVAL_HEADER",
    "CALL_APPROVAL_KEY",
    "CALL_USE_KEY",
    "APPROVAL_ID_KEY",
    "CallApprovalRule",
    "CallApprovals",
    "CallBinding",
    "approval_rule",
    "governing_rule",
]

# Request metadata of a per-call approval: it approves one call, not a contract, so nothing is
# enacted when it is APPROVED and contract replay skips it. Only the Host writes "aesp." keys.
CALL_APPROVAL_KEY: Final = "aesp.call_approval"
# Request metadata of the record that consumed a per-call approval (its id is the value).
CALL_USE_KEY: Final = "aesp.call_approval_use"
APPROVAL_KEY: Final = "approval"  # governance_metadata: the approval mode
PER_CALL: Final = "per_call"
APPROVERS_KEY: Final = "approvers"
MIN_APPROVALS_KEY: Final = "min_approvals"
TTL_KEY: Final = "approval_ttl_ms"
APPROVAL_ID_KEY: Final = "approval_request_id"  # CallRequest.metadata / Authorize metadata
APPROVAL_HEADER: Final = "aesp-approval-request-id"  # gRPC metadata of CallTool(Stream)
DEFAULT_TTL_MS: Final = APPROVAL_TTL_DEFAULT_MS  # shared with REQUIRE_APPROVAL policies
MIN_TTL_MS: Final = APPROVAL_TTL_MIN_MS
MAX_TTL_MS: Final = APPROVAL_TTL_MAX_MS
APPROVAL_POLICY_KEY: Final = "aesp.approval_policy"  # request metadata: the governing policy
MAX_SHOWN_ARGS: Final = 64 * 1024  # larger arguments are shown to approvers by hash only
USED_SUFFIX: Final = ".used"
USE_APPROVER: Final = "aesp:host"  # the use record's nominal approver; its deadline is past
ID_BYTES: Final = 8
_MAX_ID = 128


# What a contract (or a REQUIRE_APPROVAL policy) requires of each call: approvers, m of n, TTL.
CallApprovalRule = ApprovalRequirement


def _misconfigured(contract: ToolContract, why: str) -> ConfigurationError:
    return ConfigurationError(
        "CONFIGURATION_ERROR",
        f"Contract '{contract.name}' asks for per-call approval but {why}; the call is refused "
        "until an operator fixes its governance_metadata.",
        details={"field": "governance_metadata", "tool": contract.name},
    )


def approval_rule(contract: ToolContract) -> CallApprovalRule | None:
    """The per-call approval ``contract`` requires, or None when it requires none.

    Raises:
        ConfigurationError: ``CONFIGURATION_ERROR`` for an unknown mode, no approvers, or
            ``min_approvals``/``approval_ttl_ms`` out of range (fail closed).
    """
    mode = contract.governance_metadata.get(APPROVAL_KEY, "").strip()
    if not mode:
        return None
    if mode != PER_CALL:
        raise _misconfigured(contract, f"approval mode {mode[:32]!r} is not '{PER_CALL}'")
    try:
        return approval_requirement(contract.governance_metadata)
    except ValueError as exc:
        raise _misconfigured(contract, str(exc)) from None


def governing_rule(
    contract: ToolContract, policies: Sequence[ApprovalRequirement] = ()
) -> tuple[CallApprovalRule | None, tuple[ApprovalRequirement, ...]]:
    """The one rule that governs a call, and the matching policies it does not come from.

    Decision (docs/protocol-decisions.md 103): the contract's rule wins when it has one; else a
    platform policy (a tenant's policy cannot replace the platform's requirement), else the
    first tenant policy in evaluation precedence (specificity, then recency). One request is
    opened; the other matching policies are recorded in its metadata, not combined.

    Raises:
        ConfigurationError: As :func:`approval_rule`.
    """
    rule = approval_rule(contract)
    if rule is None and policies:
        platform = [p for p in policies if not p.policy_tenant_id]
        rule = (platform or list(policies))[0]
    others = tuple(p for p in policies if p is not rule)
    return rule, others


@dataclass(frozen=True, slots=True)
class CallBinding:
    """What an approval is bound to (the facts a repeated call must match).

    Attributes:
        tenant_id: The caller's verified tenant.
        principal_id: The caller (the only one who may use the approval).
        tool: The contract name.
        contract_digest: The contract version approved for (a new version needs a new approval).
        args_sha256: ``sha256:<hex>`` of the canonical arguments.
        policy: ``<tenant>/<id>@<version>`` of the policy whose rule governs; ``""`` for a
            contract's rule.
    """

    tenant_id: str
    principal_id: str
    tool: str
    contract_digest: str
    args_sha256: str
    policy: str = ""

    def metadata(self) -> dict[str, str]:
        """The binding as the request's Host-only metadata (``aesp.`` keys).

        A rule from a policy adds ``aesp.approval_policy`` (``<tenant>/<id>@<version>``): an
        approval is then bound to that policy version too, so changed approvers (a new
        version) need a new approval. A contract's rule is already bound by the digest.
        """
        bound = {
            CALL_APPROVAL_KEY: PER_CALL,
            "aesp.tool": self.tool,
            "aesp.contract_digest": self.contract_digest,
            "aesp.args_sha256": self.args_sha256,
        }
        if self.policy:
            bound[APPROVAL_POLICY_KEY] = self.policy
        return bound

    def mismatch(self, request: ApprovalRequest) -> str:
        """Which bound fact of ``request`` differs from this call ("" when none)."""
        for key, value in self.metadata().items():
            if request.metadata.get(key) != value:
                return key.removeprefix("aesp.")
        return ""


def _refusal(reason: str, message: str, approval_request_id: str) -> AuthorizationError:
    return AuthorizationError(
        "PERMISSION_DENIED",
        message,
        details={"reason": reason, APPROVAL_ID_KEY: approval_request_id[:_MAX_ID]},
    )


def _held(request: ApprovalRequest) -> AuthorizationError:
    """The call is held until ``request`` is approved (EMERGENCY_OVERRIDE_REQUIRED)."""
    return AuthorizationError(
        "EMERGENCY_OVERRIDE_REQUIRED",
        f"'{request.metadata.get('aesp.tool', '')}' needs approval of this exact call by "
        f"{', '.join(request.required_approvers)}; approval request "
        f"'{request.approval_request_id}' is {request.status.value}. Once it is APPROVED, repeat "
        f"the same call with {APPROVAL_ID_KEY} = '{request.approval_request_id}'.",
        details={
            "reason": "APPROVAL_REQUIRED",
            APPROVAL_ID_KEY: request.approval_request_id,
            "approval_status": request.status.value,
            "expires_at_ms": str(request.expires_at_ms),
        },
        remediation_steps=(
            f"Ask an approver to run: aesp approvals approve {request.approval_request_id}",
            f"Repeat the call unchanged with {APPROVAL_ID_KEY} = {request.approval_request_id}",
        ),
    )


class CallApprovals:
    """The per-call approval step (see the module docstring).

    Args:
        store: The Governance port (requests, decisions and use records).
        audit: Where opened requests are recorded.
        clock_ms: Unix milliseconds.
    """

    def __init__(
        self, *, store: ApprovalStore, audit: AuditLog, clock_ms: Callable[[], int] = now_ms
    ) -> None:
        self._store = store
        self._audit = audit
        self._clock_ms = clock_ms

    async def check(
        self,
        principal: Principal,
        contract: ToolContract,
        *,
        args: Any,
        args_sha256: str,
        metadata: Mapping[str, str],
        correlation_id: str,
        session_id: str = "",
        policies: Sequence[ApprovalRequirement] = (),
    ) -> dict[str, str]:
        """Hold, refuse or admit one call that passed RBAC, schema and policy.

        Args:
            policies: The ``REQUIRE_APPROVAL`` policies that matched this call
                (``PolicyOutcome.approvals``); see :func:`governing_rule` for which rule wins.

        Returns:
            Audit metadata for the call's START record: empty when the contract needs no
            approval, else the consumed approval's id and approvers.

        Raises:
            AespError: ``EMERGENCY_OVERRIDE_REQUIRED`` (held; ``details.approval_request_id``),
                ``PERMISSION_DENIED`` (an unusable approval; ``details.reason``), or
                ``CONFIGURATION_ERROR`` (the contract's rule is broken).
        """
        rule, others = governing_rule(contract, policies)
        if rule is None:
            return {}
        binding = CallBinding(
            principal.tenant_id,
            principal.principal_id,
            contract.name,
            contract.digest,
            args_sha256,
            policy=rule.source.removeprefix("policy:") if rule.policy_id else "",
        )
        presented = metadata.get(APPROVAL_ID_KEY, "").strip()
        if not presented:  # (1)
            opened = await self._open(binding, rule, others, args, correlation_id, session_id)
            raise _held(opened)
        request = await self._usable(presented, binding)  # (2)
        await self._consume(request, binding)  # (3)
        used = {APPROVAL_ID_KEY: request.approval_request_id, "approval": "consumed"}
        return {**used, "approval_rule": rule.source}

    async def _open(
        self,
        binding: CallBinding,
        rule: CallApprovalRule,
        others: Sequence[ApprovalRequirement],
        args: Any,
        correlation_id: str,
        session_id: str,
    ) -> ApprovalRequest:
        # Separation of duties: the caller is never one of its own call's approvers.
        approvers = tuple(a for a in rule.approvers if a != binding.principal_id)
        if not approvers or rule.min_approvals > len(approvers):
            raise AuthorizationError(
                "PERMISSION_DENIED",
                f"'{binding.tool}' needs per-call approval, and its rule ({rule.source}) names no "
                "approver other than you; someone else must be able to approve your call.",
                details={"reason": "SEPARATION_OF_DUTIES", "approval_rule": rule.source},
            )
        now = self._clock_ms()
        shown: dict[str, Any] = {
            "kind": "TOOL_CALL",
            "tool": binding.tool,
            "contract_digest": binding.contract_digest,
            "args_sha256": binding.args_sha256,
            "tenant_id": binding.tenant_id,
            "principal_id": binding.principal_id,
        }
        encoded = canonical_json(args)
        if len(encoded) <= MAX_SHOWN_ARGS:
            shown["arguments"] = args
        request = await self._store.create(
            ApprovalRequest(
                approval_request_id=f"apr-{secrets.token_hex(ID_BYTES)}",
                tenant_id=binding.tenant_id,
                artifact_type=ArtifactType.TOOL_CONTRACT_V1,
                artifact_id=f"call:{binding.tool}:{binding.args_sha256.removeprefix('sha256:')[:16]}",
                artifact_data=canonical_json(shown),
                requester_id=binding.principal_id,
                required_approvers=approvers,
                justification=f"Per-call approval of '{binding.tool}' for {binding.principal_id}.",
                min_approvals=rule.min_approvals,
                created_at_ms=now,
                expires_at_ms=now + rule.ttl_ms,
                metadata={
                    **binding.metadata(),
                    "session_id": session_id[:128],
                    "aesp.approval_rule": rule.source[:300],
                    # The other matching REQUIRE_APPROVAL policies (not combined, decision 103).
                    "aesp.approval_policies": ",".join(p.source for p in others)[:1000],
                },
            )
        )
        await self._audit.append(
            AuditEvent(
                event_type="GOVERNANCE_APPROVAL_REQUEST",
                outcome="SUCCESS",
                action="request_call_approval",
                principal_id=binding.principal_id,
                tenant_id=binding.tenant_id,
                session_id=session_id,
                resource=binding.tool,
                correlation_id=correlation_id,
                metadata={
                    APPROVAL_ID_KEY: request.approval_request_id,
                    "artifact_type": request.artifact_type.value,
                    "artifact_id": request.artifact_id,
                    "artifact_digest": request.artifact_digest,
                    "args_sha256": binding.args_sha256,
                    "contract_digest": binding.contract_digest,
                    "required_approvers": ",".join(approvers)[:300],
                    "expires_at": str(request.expires_at_ms),
                    "mode": PER_CALL,
                    "approval_rule": rule.source[:300],
                },
            ),
            durable=True,
        )
        return request

    async def _usable(self, presented: str, binding: CallBinding) -> ApprovalRequest:
        """(2): the presented approval, if this call may use it now."""
        found = None
        if len(presented) <= _MAX_ID and not presented.endswith(USED_SUFFIX):
            found = await self._store.get(presented)
        if (
            found is None
            or found.tenant_id != binding.tenant_id
            or CALL_APPROVAL_KEY not in found.metadata
        ):
            raise _refusal(
                "APPROVAL_NOT_FOUND",
                f"There is no per-call approval '{presented[:_MAX_ID]}' for you; call without it "
                "to request one.",
                presented,
            )
        if found.requester_id != binding.principal_id:
            raise _refusal(
                "APPROVAL_NOT_YOURS",
                "That approval was requested by another principal; only its requester may use it.",
                presented,
            )
        differs = binding.mismatch(found)
        if differs:
            raise _refusal(
                "APPROVAL_BINDING_MISMATCH",
                f"That approval is for another call (its {differs} differs); a changed call needs "
                "its own approval: call without the id to request one.",
                presented,
            )
        if self._clock_ms() >= found.expires_at_ms or found.status is ApprovalStatus.EXPIRED:
            raise _refusal(
                "APPROVAL_EXPIRED",
                f"Approval '{presented}' expired at {found.expires_at_ms}; call without it to "
                "request a new one.",
                presented,
            )
        if found.status is ApprovalStatus.PENDING:
            raise _held(found)
        if found.status is ApprovalStatus.REJECTED:
            raise _refusal(
                "APPROVAL_REJECTED", f"Approval request '{presented}' was rejected.", presented
            )
        return found

    async def _consume(self, request: ApprovalRequest, binding: CallBinding) -> None:
        """(3): the compare-and-set that lets the approval be used exactly once."""
        now = self._clock_ms()
        use_id = request.approval_request_id + USED_SUFFIX
        try:
            await self._store.create(
                ApprovalRequest(
                    approval_request_id=use_id,
                    tenant_id=request.tenant_id,
                    artifact_type=request.artifact_type,
                    artifact_id=request.artifact_id,
                    artifact_data=canonical_json(
                        {"used": request.approval_request_id, "by": binding.principal_id, "at": now}
                    ),
                    requester_id=binding.principal_id,
                    required_approvers=(USE_APPROVER,),
                    justification=f"Use of per-call approval '{request.approval_request_id}'.",
                    created_at_ms=now,
                    # NOTE: a deadline of "now" means no decision can ever be recorded on it.
                    expires_at_ms=now,
                    metadata={CALL_USE_KEY: request.approval_request_id},
                )
            )
        except DuplicateError:
            raise _refusal(
                "APPROVAL_ALREADY_USED",
                f"Approval '{request.approval_request_id}' was already used; an approval admits "
                "one call. Call without it to request a new one.",
                request.approval_request_id,
            ) from None
        # Closed at once, so no listing ever offers it (the sweep would close it otherwise).
        with contextlib.suppress(ConcurrentChangeError, NotFoundError, ValueError):
            await self._store.expire(use_id, expected_version=1, at_ms=now)
