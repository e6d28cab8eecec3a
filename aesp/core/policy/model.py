"""The policy engine's value types: definitions as stored, and outcomes as decided.

Why separate: adapters (SQLite, AppConfig bundles, ...) only store and fetch
:class:`PolicyDefinition` records; compiling and deciding is the core's job (DESIGN §2
principle 2), and these types are the seam between the two. Field names follow the
``PolicyDefinition``/``PolicyRule`` messages of ``altar.aesp.v1`` (SPEC §3.6, §3.12, C-33).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from aesp.core.errors import AuthorizationError

__all__ = [
    "APPROVAL_TTL_DEFAULT_MS",
    "APPROVAL_TTL_MAX_MS",
    "APPROVAL_TTL_MIN_MS",
    "EVALUATION_TIMEOUT_MS",
    "PLATFORM",
    "ApprovalRequirement",
    "ConflictStrategy",
    "Effect",
    "PolicyDefinition",
    "PolicyOutcome",
    "Verdict",
    "approval_requirement",
]

PLATFORM: Final = ""  # tenant_id of a platform policy: it applies to every tenant (C-33)
EVALUATION_TIMEOUT_MS: Final = 100  # SPEC §3.12: evaluation_timeout_ms; exceeded → deny (C-33)
# Per-call approval (docs/protocol-decisions.md 89, 102-106): the same bounds for a contract's
# governance_metadata and a REQUIRE_APPROVAL policy's parameters.
APPROVAL_TTL_DEFAULT_MS: Final = 3_600_000  # an hour: long enough to look, short enough
APPROVAL_TTL_MIN_MS: Final = 1_000  # shorter could expire before the approver's RPC arrives
APPROVAL_TTL_MAX_MS: Final = 7 * 24 * 3_600_000  # the engine's default request lifetime
APPROVERS_PARAMETER: Final = "approvers"
MIN_APPROVALS_PARAMETER: Final = "min_approvals"
APPROVAL_TTL_PARAMETER: Final = "approval_ttl_ms"
_ROLE_PREFIX: Final = "role:"  # aesp.core.ports.governance.ROLE_PREFIX (a test keeps them equal)


class Effect(enum.StrEnum):
    """What a policy does when its condition is true (SPEC §3.12)."""

    ALLOW = "ALLOW"
    DENY = "DENY"
    AUDIT = "AUDIT"
    # An extension (docs/protocol-decisions.md 102): the call needs per-call approval by the
    # approvers in the policy's parameters; DENY still overrides it.
    REQUIRE_APPROVAL = "REQUIRE_APPROVAL"


class Verdict(enum.StrEnum):
    """The engine's answer for one call."""

    ALLOW = "ALLOW"
    DENY = "DENY"


class ConflictStrategy(enum.StrEnum):
    """What to do when two versions of one policy id are active at once (SPEC §3.12).

    ``manual-resolution`` is :attr:`FAIL_FAST` for a pure builder: the set is refused, and an
    operator retires one version.
    """

    FAIL_FAST = "fail-fast"
    USE_LATEST = "use-latest"


@dataclass(frozen=True, slots=True)
class PolicyDefinition:
    """A policy as authored and stored; :func:`~aesp.core.policy.compile_policy` validates it.

    Attributes:
        policy_id: Stable id; several versions may share it.
        name: Human-readable name.
        version: SemVer ``major.minor.patch``.
        tenant_id: Owning tenant; ``""`` (:data:`PLATFORM`) applies to every tenant.
        applies_to: Tool names, ``*`` for every tool (``tool:<name>`` and ``tool:*`` accepted).
        actions: Actions (e.g. ``invoke``); empty or ``*`` means every action.
        effect: ``ALLOW``, ``DENY``, ``AUDIT`` or ``REQUIRE_APPROVAL``.
        condition: CEL expression over ``request`` and ``organization`` (C-33).
        enabled: Only enabled policies are evaluated.
        description: What the policy is for.
        parameters: ``PolicyRule.parameters``; read only by ``REQUIRE_APPROVAL`` (``approvers``,
            ``min_approvals``, ``approval_ttl_ms``, see :func:`approval_requirement`). Treat it
            as read-only: the definition is frozen, its mapping is not copied.
    """

    policy_id: str
    name: str
    version: str
    tenant_id: str
    applies_to: tuple[str, ...]
    effect: Effect | str
    condition: str
    actions: tuple[str, ...] = ()
    enabled: bool = True
    description: str = ""
    parameters: Mapping[str, str] = field(default_factory=dict, hash=False)


@dataclass(frozen=True, slots=True)
class ApprovalRequirement:
    """What a per-call approval rule requires (a contract's or a ``REQUIRE_APPROVAL`` policy's).

    Attributes:
        approvers: Principal ids or ``role:<name>`` entries, no repeats, never empty.
        min_approvals: m of n; 0 means every entry.
        ttl_ms: Lifetime of a request and of its approval.
        policy_id: The policy that asks for it; ``""`` for a contract's rule.
        policy_tenant_id: That policy's tenant (``""`` for a platform policy or a contract).
        policy_version: That policy's version (``""`` for a contract).
    """

    approvers: tuple[str, ...]
    min_approvals: int
    ttl_ms: int
    policy_id: str = ""
    policy_tenant_id: str = ""
    policy_version: str = ""

    @property
    def source(self) -> str:
        """``contract``, or ``policy:<tenant>/<id>@<version>`` (``<tenant>`` empty = platform)."""
        if not self.policy_id:
            return "contract"
        return f"policy:{self.policy_tenant_id}/{self.policy_id}@{self.policy_version}"


def _parameter_int(parameters: Mapping[str, str], key: str, default: int) -> int:
    raw = str(parameters.get(key, "")).strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{key} {raw[:32]!r} is not an integer") from None


def approval_requirement(parameters: Mapping[str, str]) -> ApprovalRequirement:
    """The approval rule written in ``parameters`` (``approvers``, ``min_approvals``,
    ``approval_ttl_ms``), without its source.

    Raises:
        ValueError: No approvers (an empty list would approve nothing or everything), a bare
            ``role:``, or ``min_approvals``/``approval_ttl_ms`` not an integer or out of range;
            the message says which.
    """
    raw = str(parameters.get(APPROVERS_PARAMETER, ""))
    approvers = tuple(dict.fromkeys(a.strip() for a in raw.split(",") if a.strip()))
    if not approvers or any(a == _ROLE_PREFIX for a in approvers):
        raise ValueError("it names no approvers")
    needed = _parameter_int(parameters, MIN_APPROVALS_PARAMETER, 0)
    if not 0 <= needed <= len(approvers):
        raise ValueError(f"min_approvals is not between 0 and {len(approvers)}")
    ttl = _parameter_int(parameters, APPROVAL_TTL_PARAMETER, APPROVAL_TTL_DEFAULT_MS)
    if not APPROVAL_TTL_MIN_MS <= ttl <= APPROVAL_TTL_MAX_MS:
        raise ValueError(
            f"approval_ttl_ms is not between {APPROVAL_TTL_MIN_MS} and {APPROVAL_TTL_MAX_MS}"
        )
    return ApprovalRequirement(approvers, needed, ttl)


@dataclass(frozen=True, slots=True)
class PolicyOutcome:
    """The engine's decision for one call (never a bare bool, STYLE 11).

    Attributes:
        decision: ``ALLOW`` or ``DENY``.
        code: ``""`` when allowed; ``POLICY_VIOLATION`` (a DENY policy matched, or no ALLOW
            matched under ``require_allow``) or ``POLICY_EVALUATION_FAILED`` (an error, a timeout
            or an oversized activation: fail closed, item 161).
        reason: A sentence a person can act on, naming the deciding policy.
        denied_by: Policy id that denied; ``""`` when allowed or when no single policy did.
        audits: Ids of AUDIT policies whose condition was true (audited, not blocking).
        allowed_by: Ids of ALLOW policies whose condition was true.
        approvals: The ``REQUIRE_APPROVAL`` policies whose condition was true, in evaluation
            precedence order; the pipeline's approval step holds the call (only when allowed).
        evaluated: Ids of the policies evaluated, in order (``applied_policies`` of C-39).
        set_version: Version of the policy set that decided.
    """

    decision: Verdict
    code: str
    reason: str
    denied_by: str = ""
    audits: tuple[str, ...] = ()
    allowed_by: tuple[str, ...] = ()
    evaluated: tuple[str, ...] = ()
    set_version: int = 0
    approvals: tuple[ApprovalRequirement, ...] = ()

    @property
    def allowed(self) -> bool:
        """Whether the call may proceed past the policy step."""
        return self.decision is Verdict.ALLOW

    @property
    def matched(self) -> bool:
        """Whether some evaluated condition was true (``PolicyEvaluation.matched``)."""
        return bool(
            self.audits
            or self.allowed_by
            or self.approvals
            or self.code == "POLICY_VIOLATION"
            and self.denied_by
        )

    def raise_if_denied(self) -> None:
        """Return if allowed.

        Raises:
            AuthorizationError: ``POLICY_VIOLATION`` or ``POLICY_EVALUATION_FAILED``, with the
                deciding policy in ``details["policy_id"]``.
        """
        if self.decision is Verdict.DENY:
            details = {"policy_id": self.denied_by, "policy_set_version": str(self.set_version)}
            raise AuthorizationError(self.code, self.reason, details=details)
