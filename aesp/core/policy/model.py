"""The policy engine's value types: definitions as stored, and outcomes as decided.

Why separate: adapters (SQLite, AppConfig bundles, ...) only store and fetch
:class:`PolicyDefinition` records; compiling and deciding is the core's job (DESIGN §2
principle 2), and these types are the seam between the two. Field names follow the
``PolicyDefinition``/``PolicyRule`` messages of ``altar.aesp.v1`` (SPEC §3.6, §3.12, C-33).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Final

from aesp.core.errors import AuthorizationError

__all__ = [
    "EVALUATION_TIMEOUT_MS",
    "PLATFORM",
    "ConflictStrategy",
    "Effect",
    "PolicyDefinition",
    "PolicyOutcome",
    "Verdict",
]

PLATFORM: Final = ""  # tenant_id of a platform policy: it applies to every tenant (C-33)
EVALUATION_TIMEOUT_MS: Final = 100  # SPEC §3.12: evaluation_timeout_ms; exceeded → deny (C-33)


class Effect(enum.StrEnum):
    """What a policy does when its condition is true (SPEC §3.12)."""

    ALLOW = "ALLOW"
    DENY = "DENY"
    AUDIT = "AUDIT"


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
        effect: ``ALLOW``, ``DENY`` or ``AUDIT``.
        condition: CEL expression over ``request`` and ``organization`` (C-33).
        enabled: Only enabled policies are evaluated.
        description: What the policy is for.
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

    @property
    def allowed(self) -> bool:
        """Whether the call may proceed past the policy step."""
        return self.decision is Verdict.ALLOW

    @property
    def matched(self) -> bool:
        """Whether some evaluated condition was true (``PolicyEvaluation.matched``)."""
        return bool(
            self.audits or self.allowed_by or self.code == "POLICY_VIOLATION" and self.denied_by
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
