"""The CEL policy engine: compile once, decide per call from an immutable set (SPEC §3.12, C-33).

Why a core package with no I/O: adapters only store and fetch :class:`PolicyDefinition`
records (SQLite, AppConfig bundles, ...); validation, compilation and every decision happen
here, against in-memory versioned snapshots (DESIGN §2 principle 2), so every profile decides
identically and the per-call path never waits on a store.

* :func:`compile_policy` validates a definition (syntax, item 162; C-33 fields; argument
  references against the contracts' parameter schemas) and compiles it once.
* :class:`PolicySet` indexes compiled policies by (tenant, tool) and decides one call
  (:meth:`PolicySet.evaluate`): deny-overrides, AUDIT collected, fail closed (items 160, 161).
* :class:`Activation` is the C-33 ``request``/``organization`` a condition reads.
* :func:`test_policy` simulates an unsaved policy (``TestPolicy``, ``dry_run``; item 163).
"""

from __future__ import annotations

from aesp.core.policy.activation import (
    MAX_ACTIVATION_ELEMENTS,
    Activation,
    ResourceFacts,
    SessionFacts,
    TenantFacts,
    UserFacts,
)
from aesp.core.policy.compile import (
    MAX_COMPREHENSION_NESTING,
    MAX_CONDITION_LENGTH,
    NATIVE_FUNCTIONS,
    CompiledPolicy,
    compile_policy,
)
from aesp.core.policy.engine import PolicySet, test_policy
from aesp.core.policy.model import (
    EVALUATION_TIMEOUT_MS,
    PLATFORM,
    ApprovalRequirement,
    ConflictStrategy,
    Effect,
    PolicyDefinition,
    PolicyOutcome,
    Verdict,
    approval_requirement,
)

__all__ = [
    "EVALUATION_TIMEOUT_MS",
    "MAX_ACTIVATION_ELEMENTS",
    "MAX_COMPREHENSION_NESTING",
    "MAX_CONDITION_LENGTH",
    "NATIVE_FUNCTIONS",
    "PLATFORM",
    "Activation",
    "ApprovalRequirement",
    "CompiledPolicy",
    "ConflictStrategy",
    "Effect",
    "PolicyDefinition",
    "PolicyOutcome",
    "PolicySet",
    "ResourceFacts",
    "SessionFacts",
    "TenantFacts",
    "UserFacts",
    "Verdict",
    "approval_requirement",
    "compile_policy",
    "test_policy",
]
