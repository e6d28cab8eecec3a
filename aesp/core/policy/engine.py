"""Decide a call against the policies that apply to it (SPEC §3.12 [REC], §3.19 step 6, C-33).

Why an immutable, indexed set: the decision runs on every call (item 160) inside a 100 µs
budget (DESIGN §12), so the engine must never scan all policies or wait on a store. Adapters
fetch definitions; :meth:`PolicySet.compile` validates and compiles them once into a versioned
set that a :class:`~aesp.core.rbac.VersionedSnapshot` publishes (DESIGN §2 principle 2). The set
is indexed by (tenant, tool): a call evaluates only its tenant's and the platform's policies,
for its tool and for ``*`` (item 186: tenant B's DENY never touches tenant A).

Per call, one ``cel.Context`` serves every applicable policy; it binds only the flat variables
those policies read (:mod:`aesp.core.policy.flatten`) and is reused from the bucket's previous
call with only the changed values re-converted (:mod:`aesp.core.policy.contexts`).

Combining (SPEC §3.12 [REC]): deny-overrides. The engine runs only after RBAC allowed, so an
``ALLOW`` policy can never override an RBAC denial; by default ALLOW policies only record that
they matched (``allowed_by``). With ``require_allow=True`` the set also needs a true ALLOW
policy, for deployments that want an explicit permit at the policy layer as well.

Timeouts, honestly: ``cel.Program.execute`` is a synchronous Rust call holding the GIL, so
nothing can interrupt it. Its cost is bounded up front (see :mod:`aesp.core.policy.compile` and
``MAX_ACTIVATION_ELEMENTS``), and the engine measures the elapsed time after every policy and
denies with ``POLICY_EVALUATION_FAILED`` once the budget (``timeout_ms``, 100 by default) is
exceeded: a slow evaluation is refused, but only after it has finished.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from aesp.core.policy.activation import (
    MAX_ACTIVATION_ELEMENTS,
    Activation,
    ActivationTooLarge,
    Coercer,
    Plan,
    coercers_for,
    plan,
    project,
)
from aesp.core.policy.compile import CompiledPolicy, compile_policy
from aesp.core.policy.contexts import ContextCache
from aesp.core.policy.flatten import Needs, readable
from aesp.core.policy.matches import FUNCTION as MATCHES_FUNCTION
from aesp.core.policy.model import (
    EVALUATION_TIMEOUT_MS,
    PLATFORM,
    ApprovalRequirement,
    ConflictStrategy,
    Effect,
    PolicyDefinition,
    PolicyOutcome,
    Verdict,
)

__all__ = ["BUCKET_CACHE_SIZE", "PolicySet", "test_policy"]

BUCKET_CACHE_SIZE: Final = 4096  # bounds memory: (tenant, tool, action) selections kept per set
ANY_TOOL: Final = "*"
_ERROR_TEXT: Final = 200  # characters of a CEL error kept in a reason


@dataclass(frozen=True, slots=True)
class _Bucket:
    """The policies for one (tenant, tool, action), in evaluation order, with what they read.

    ``ordered`` is DENY, then REQUIRE_APPROVAL, AUDIT and ALLOW policies, each as (policy, id,
    program, effect), read once here instead of through attributes on every call; ``ids`` are
    their ids in that order (a decision reports the ones it evaluated).
    """

    ordered: tuple[tuple[CompiledPolicy, str, Any, Effect], ...]
    ids: tuple[str, ...]
    plan: Plan
    coercers: Mapping[str, Coercer]


class PolicySet:
    """An immutable, versioned set of enabled, compiled policies. Build it with :meth:`build`."""

    __slots__ = (
        "_bucket_cached",
        "_clock",
        "_contexts",
        "_index",
        "_policies",
        "max_activation_elements",
        "require_allow",
        "timeout_ms",
        "version",
    )

    def __init__(
        self,
        *,
        version: int,
        policies: tuple[CompiledPolicy, ...],
        require_allow: bool,
        timeout_ms: float,
        max_activation_elements: int,
        clock: Callable[[], float],
    ) -> None:
        self.version = version
        self.require_allow = require_allow
        self.timeout_ms = timeout_ms
        self.max_activation_elements = max_activation_elements
        self._clock = clock
        self._policies = policies
        index: dict[tuple[str, str], list[CompiledPolicy]] = {}
        for policy in policies:
            for tool in sorted(policy.tools) if policy.tools is not None else (ANY_TOOL,):
                index.setdefault((policy.tenant_id, tool), []).append(policy)
        for group in index.values():  # precedence inside a scope: recency, then id
            group.sort(key=lambda p: p.policy_id)
            group.sort(key=lambda p: p.version_key, reverse=True)
        self._index = {k: tuple(v) for k, v in index.items()}
        self._bucket_cached = functools.lru_cache(maxsize=BUCKET_CACHE_SIZE)(self._bucket)
        self._contexts = ContextCache()

    @classmethod
    def build(
        cls,
        policies: Iterable[CompiledPolicy],
        *,
        version: int,
        conflicts: ConflictStrategy = ConflictStrategy.FAIL_FAST,
        require_allow: bool = False,
        timeout_ms: float = EVALUATION_TIMEOUT_MS,
        max_activation_elements: int = MAX_ACTIVATION_ELEMENTS,
        clock: Callable[[], float] = time.perf_counter,
    ) -> PolicySet:
        """A set of the *enabled* policies among ``policies``.

        Args:
            policies: Compiled policies of every tenant and the platform.
            version: Monotonically increasing set version (reported in every outcome).
            conflicts: Two enabled versions of one (tenant, policy id): refuse, or keep the
                highest SemVer (SPEC §3.12).
            require_allow: Also require a true ALLOW policy (see the module docstring).
            timeout_ms: Evaluation budget per call (C-33: 100 ms).
            max_activation_elements: Cap on list/map elements converted per call.
            clock: Monotonic seconds; tests pass a fake to exercise the timeout.

        Raises:
            ValueError: ``FAIL_FAST`` and two enabled versions of one policy id.
        """
        chosen: dict[tuple[str, str], CompiledPolicy] = {}
        for policy in policies:
            if not policy.definition.enabled:
                continue
            key = (policy.tenant_id, policy.policy_id)
            other = chosen.get(key)
            if other is None or (
                conflicts is ConflictStrategy.USE_LATEST and policy.version_key > other.version_key
            ):
                chosen[key] = policy
            elif conflicts is ConflictStrategy.FAIL_FAST:
                raise ValueError(
                    f"policy '{policy.policy_id}' of tenant '{policy.tenant_id}' is enabled in "
                    f"versions {other.definition.version} and {policy.definition.version}; "
                    "disable one (conflict strategy fail-fast)"
                )
        return cls(
            version=version,
            policies=tuple(chosen.values()),
            require_allow=require_allow,
            timeout_ms=timeout_ms,
            max_activation_elements=max_activation_elements,
            clock=clock,
        )

    @classmethod
    def compile(
        cls,
        definitions: Iterable[PolicyDefinition],
        *,
        contract_schemas: Mapping[str, Mapping[str, Any]],
        version: int,
        **options: Any,
    ) -> PolicySet:
        """Compile ``definitions`` against the current contracts and build a set.

        Raises:
            ValidationError: The first policy that does not compile (it is named).
            ValueError: As :meth:`build`.
        """
        compiled = [compile_policy(d, contract_schemas=contract_schemas) for d in definitions]
        return cls.build(compiled, version=version, **options)

    def with_policy(self, policy: CompiledPolicy, *, version: int) -> PolicySet:
        """A copy of this set where ``policy`` replaces its (tenant, id) namesake (simulation)."""
        key = (policy.tenant_id, policy.policy_id)
        kept = [p for p in self._policies if (p.tenant_id, p.policy_id) != key]
        enabled = dataclasses.replace(policy.definition, enabled=True)
        return PolicySet(
            version=version,
            policies=(*kept, dataclasses.replace(policy, definition=enabled)),
            require_allow=self.require_allow,
            timeout_ms=self.timeout_ms,
            max_activation_elements=self.max_activation_elements,
            clock=self._clock,
        )

    @property
    def policies(self) -> tuple[CompiledPolicy, ...]:
        """Every enabled policy in the set."""
        return self._policies

    def applicable(self, tenant_id: str, tool: str, action: str) -> tuple[CompiledPolicy, ...]:
        """The policies a call evaluates, in evaluation-precedence order.

        Order: the tenant's tool policies, the tenant's ``*`` policies, the platform's tool
        policies, the platform's ``*`` policies (specificity), each by version (recency).
        """
        scopes = [(tenant_id, tool), (tenant_id, ANY_TOOL)] if tenant_id != PLATFORM else []
        scopes += [(PLATFORM, tool), (PLATFORM, ANY_TOOL)]
        return tuple(
            p
            for scope in scopes
            for p in self._index.get(scope, ())
            if p.actions is None or action in p.actions
        )

    def _bucket(self, tenant_id: str, tool: str, action: str, without_args: bool) -> _Bucket:
        picked = self.applicable(tenant_id, tool, action)
        if without_args:
            # Listing: no arguments exist yet, and a tool that needs approval is still listed.
            picked = tuple(
                p for p in picked if not reads_args(p) and p.effect is not Effect.REQUIRE_APPROVAL
            )
        needs = Needs.none()
        schemas: dict[str, Mapping[str, Any]] = {}
        for policy in picked:
            needs = needs.union(policy.needs)
            schemas.update(policy.arg_schemas.get(tool, {}))
        order = (Effect.DENY, Effect.REQUIRE_APPROVAL, Effect.AUDIT, Effect.ALLOW)
        ordered = tuple(
            (p, p.policy_id, p.program, p.effect)
            for effect in order
            for p in picked
            if p.effect is effect
        )
        return _Bucket(
            ordered=ordered,
            ids=tuple(entry[1] for entry in ordered),
            plan=plan(needs),
            coercers=coercers_for(schemas),
        )

    def evaluate(self, activation: Activation, *, without_args: bool = False) -> PolicyOutcome:
        """Decide one call that RBAC already allowed (items 160, 161, 186; C-33).

        With ``without_args`` the policies that read ``request.args`` are left out: that is the
        question "could this caller call this tool at all?" asked when listing tools, where no
        arguments exist yet; ``REQUIRE_APPROVAL`` policies are left out too (a tool that needs
        approval is listed). Every other policy decides exactly as it does for a call.

        Steps:
            (1) Select the applicable policies from the index (tenant + platform, tool + ``*``,
                action).
            (2) Project the activation onto what they read; too large → deny.
            (3) One ``cel.Context`` for all of them (reused per bucket, changed values replaced).
            (4) DENY policies: the first true one denies with ``POLICY_VIOLATION``.
            (5) REQUIRE_APPROVAL policies: each true one is collected (the pipeline's approval
                step holds the call); AUDIT policies: each true one is collected (audited, not
                blocking).
            (6) ALLOW policies: each true one is collected.
            (7) Combine: deny-overrides; with ``require_allow``, no true ALLOW denies.
            Any CEL error, a non-bool result, or the time budget exceeded after any policy
            denies with ``POLICY_EVALUATION_FAILED`` naming the policy (fail closed, item 161).
        """
        start = self._clock()
        # (1): only what applies; tenant B's policies are not in tenant A's buckets (186).
        bucket = self._bucket_cached(
            activation.tenant_id, activation.tool, activation.action, without_args
        )
        if not bucket.ordered:
            return self._no_policy(activation)
        # (2) and (3): one conversion per call, shared by every policy.
        try:
            variables = project(
                activation, bucket.plan, bucket.coercers, max_elements=self.max_activation_elements
            )
            key = (activation.tenant_id, activation.tool, activation.action)
            context = self._contexts.context(key, variables)
        except ActivationTooLarge as exc:
            return self._failed("", f"{exc} (limit {self.max_activation_elements})", (), None)
        except Exception as exc:  # noqa: BLE001 - an unconvertible value fails closed
            return self._failed("", f"the activation cannot be converted: {_short(exc)}", (), None)
        budget = self.timeout_ms / 1000
        clock = self._clock
        matched: dict[Effect, list[str]] = {
            Effect.REQUIRE_APPROVAL: [],
            Effect.AUDIT: [],
            Effect.ALLOW: [],
        }
        approvals: list[ApprovalRequirement] = []
        for k, (policy, policy_id, program, effect) in enumerate(bucket.ordered):
            try:
                result = program.execute(context)
            except Exception as exc:  # noqa: BLE001 - "A CEL evaluation error denies" (161)
                return self._failed(policy_id, _short(exc), bucket.ids[: k + 1], matched)
            if result is True:
                if effect is Effect.DENY:  # (4): "If any DENY condition is true, deny."
                    return self._denied(policy, activation, bucket.ids[: k + 1])
                matched[effect].append(policy_id)  # (5), (6)
                if policy.approval is not None:
                    approvals.append(policy.approval)
            elif result is not False:
                reason = f"the condition returned {type(result).__name__}, not a bool"
                return self._failed(policy_id, reason, bucket.ids[: k + 1], matched)
            if clock() - start > budget:
                reason = f"evaluation exceeded the {self.timeout_ms:g} ms budget"
                return self._failed(policy_id, reason, bucket.ids[: k + 1], matched)
        evaluated = bucket.ids
        # (7): deny-overrides is done; ALLOW matters only when the set requires one.
        audits, allowed_by = tuple(matched[Effect.AUDIT]), tuple(matched[Effect.ALLOW])
        if self.require_allow and not allowed_by:
            return PolicyOutcome(
                Verdict.DENY,
                "POLICY_VIOLATION",
                f"No ALLOW policy permits '{activation.action}' on tool '{activation.tool}' "
                f"in tenant '{activation.tenant_id}'.",
                audits=audits,
                evaluated=tuple(evaluated),
                set_version=self.version,
            )
        held = f"; {len(approvals)} require approval" if approvals else ""
        return PolicyOutcome(
            Verdict.ALLOW,
            "",
            f"No DENY policy matched ({len(evaluated)} evaluated{held}).",
            audits=audits,
            allowed_by=allowed_by,
            evaluated=tuple(evaluated),
            set_version=self.version,
            approvals=tuple(approvals),
        )

    def _no_policy(self, activation: Activation) -> PolicyOutcome:
        if self.require_allow:
            # NOTE: under require_allow an empty selection denies, like an empty role set
            # (STYLE 11): "nothing permits it" must never read as "nothing forbids it".
            return PolicyOutcome(
                Verdict.DENY,
                "POLICY_VIOLATION",
                f"No policy applies to tool '{activation.tool}' in tenant "
                f"'{activation.tenant_id}', and this policy set requires an ALLOW policy.",
                set_version=self.version,
            )
        # NOTE: in deny-overrides mode the policy layer only restricts what RBAC granted
        # explicitly (RBAC is default-deny), so no applicable policy means no extra restriction.
        return PolicyOutcome(
            Verdict.ALLOW, "", "No policy applies to this call.", set_version=self.version
        )

    def _denied(
        self, policy: CompiledPolicy, activation: Activation, evaluated: tuple[str, ...]
    ) -> PolicyOutcome:
        defn = policy.definition
        return PolicyOutcome(
            Verdict.DENY,
            "POLICY_VIOLATION",
            f"Policy '{defn.name}' ({defn.policy_id} v{defn.version}) denies "
            f"'{activation.action}' on tool '{activation.tool}'.",
            denied_by=defn.policy_id,
            evaluated=tuple(evaluated),
            set_version=self.version,
        )

    def _failed(
        self,
        policy_id: str,
        why: str,
        evaluated: Iterable[str],
        matched: Mapping[Effect, list[str]] | None,
    ) -> PolicyOutcome:
        audits = tuple(matched[Effect.AUDIT]) if matched else ()
        where = (
            f"Policy '{policy_id}' could not be evaluated"
            if policy_id
            else "Policies could not be evaluated"
        )
        return PolicyOutcome(
            Verdict.DENY,
            "POLICY_EVALUATION_FAILED",
            f"{where}: {why}. The call is denied (fail closed).",
            denied_by=policy_id,
            audits=audits,
            evaluated=tuple(evaluated),
            set_version=self.version,
        )


def reads_args(policy: CompiledPolicy) -> bool:
    """Whether the policy's condition reads the call's arguments (or the whole request)."""
    return any(
        b.root == "request" and (not b.path or b.path[0] == "args")
        for b in policy.needs.bindings.values()
    )


def _short(exc: Exception) -> str:
    text = " ".join(str(exc).split()).replace(MATCHES_FUNCTION, "matches")
    text = readable(text) or type(exc).__name__
    return f"{type(exc).__name__}: {text[:_ERROR_TEXT]}"


def test_policy(
    defn: PolicyDefinition,
    activations: Iterable[Activation],
    *,
    contract_schemas: Mapping[str, Mapping[str, Any]],
    base: PolicySet | None = None,
) -> list[PolicyOutcome]:
    """Simulate an unsaved policy (``TestPolicy``, ``CreatePolicy{dry_run}``; item 163).

    Nothing is stored or enforced: the policy is compiled (raising as
    :func:`~aesp.core.policy.compile_policy` does), treated as enabled, and evaluated against
    each activation, alone or, with ``base``, in place of its namesake in that set.
    """
    compiled = compile_policy(defn, contract_schemas=contract_schemas)
    trial = (base or PolicySet.build((), version=0)).with_policy(compiled, version=0)
    return [trial.evaluate(a) for a in activations]


# NOTE: pytest would collect an imported ``test_*`` function as a test; this opts it out.
test_policy.__dict__["__test__"] = False
