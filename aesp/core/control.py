"""The control plane the pipeline decides from: the ports, behind versioned in-memory snapshots.

Why snapshots: the per-call path must never wait on a store or a cloud API (DESIGN §2
principle 2). Roles and assignments become an :class:`~aesp.core.rbac.RbacSnapshot`, policies a
compiled :class:`~aesp.core.policy.PolicySet`, tenants and principal records in-memory maps.
A write made through this Host's admin API refreshes the affected snapshot before it returns;
writes made elsewhere (another Host on the same store, a cloud console) are picked up by a
background poll of each port's ``revision``.

One decision serves every operation (DESIGN §4): :meth:`ControlPlane.authorize` is what a
call, a stream, a governed local dispatch and ``ListTools`` all ask.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aesp.core import ids
from aesp.core.access import AccessConfig
from aesp.core.audit import AuditEvent, AuditIndex, AuditLog
from aesp.core.contracts import CLASSIFICATIONS, ToolContract
from aesp.core.errors import AuthorizationError, ValidationError
from aesp.core.manifest import Manifest, ManifestStore
from aesp.core.policy import (
    Activation,
    PolicyDefinition,
    PolicyOutcome,
    PolicySet,
    ResourceFacts,
    SessionFacts,
    TenantFacts,
    UserFacts,
    compile_policy,
)
from aesp.core.policy.model import ConflictStrategy, Verdict
from aesp.core.ports.audit import AuditArchive, AuditSink, CheckpointSigner
from aesp.core.ports.cost import CostLedger
from aesp.core.ports.identity import (
    DIRECTORY_GROUPS,
    IdentityStore,
    PrincipalRecord,
    PrincipalType,
)
from aesp.core.ports.policy import PolicyStore
from aesp.core.ports.rbac import RoleStore
from aesp.core.ports.state import StateStore
from aesp.core.ports.tenancy import Tenant, TenantRegistry, TenantStatus
from aesp.core.principal import Principal
from aesp.core.rbac import Decision, RbacSnapshot, VersionedSnapshot
from aesp.core.security import SecurityContext

log = logging.getLogger(__name__)

PLATFORM_PERMISSION = "aesp:platform:cross-tenant"
"""Held by platform operators: admin queries may name another tenant (SPEC §3.14, C-41)."""

PRINCIPAL_CACHE_SIZE = 100_000  # bounds memory: principal records kept between revisions


@dataclass(frozen=True, slots=True)
class ControlPorts:
    """The ports the control plane decides from (built from the configured profiles)."""

    identity: IdentityStore
    roles: RoleStore
    policies: PolicyStore
    tenants: TenantRegistry
    state: StateStore
    cost: CostLedger  # budgets and usage; the Host's Metering holds it, not the control plane
    audit_index: AuditIndex | None = None  # QueryEvents' store, fed by the Host's AuditShipper
    # Optional (a profile may realise none): copies of the log outside the Host (DESIGN §8).
    audit_sinks: tuple[AuditSink, ...] = ()  # at least once, idempotent by event id
    audit_archive: AuditArchive | None = None  # signed segments in immutable storage
    checkpoint_signer: CheckpointSigner | None = None  # signs the archived checkpoints


@dataclass(frozen=True, slots=True)
class CallFacts:
    """What a policy may read about the call itself (C-33 ``request.args``/``session``/``action``).

    Attributes:
        args: The parsed arguments, already checked against the contract's schema.
        session_id: The session.
        session_expires_at_ms: Its expiry.
        action: The action (``invoke``).
    """

    args: Any = None
    session_id: str = ""
    session_expires_at_ms: int = 0
    action: str = "invoke"


@dataclass(frozen=True, slots=True)
class CallDecision:
    """The RBAC and policy decision for one call (never a bare bool, STYLE 11).

    Attributes:
        rbac: The RBAC decision (roles, permissions, clearance, classification).
        policy: The policy outcome; None when RBAC denied (policies were not evaluated).
    """

    rbac: Decision
    policy: PolicyOutcome | None

    @property
    def allowed(self) -> bool:
        """Whether the call may proceed."""
        return self.rbac.allowed and self.policy is not None and self.policy.allowed

    def raise_if_denied(self) -> None:
        """Return if allowed.

        Raises:
            AuthorizationError: The RBAC or policy refusal, with its code and details.
        """
        self.rbac.raise_if_denied()
        if self.policy is not None:
            self.policy.raise_if_denied()


@dataclass(frozen=True, slots=True)
class _Grants:
    roles: tuple[str, ...]
    permissions: tuple[str, ...]
    hint: tuple[str, ...]


class ControlPlane:
    """The ports of one Host and the snapshots decided from. Call :meth:`start` on the loop."""

    def __init__(
        self,
        *,
        identity: IdentityStore,
        roles: RoleStore,
        policies: PolicyStore,
        tenants: TenantRegistry,
        audit: AuditLog,
        manifest: ManifestStore,
        access: AccessConfig | None = None,
    ) -> None:
        self.identity = identity
        self.roles = roles
        self.policies = policies
        self.tenants = tenants
        self.audit = audit
        self.access = access or AccessConfig()
        self._manifest = manifest
        self.rbac: VersionedSnapshot[RbacSnapshot] = VersionedSnapshot(RbacSnapshot.empty())
        self.policy: VersionedSnapshot[PolicySet] = VersionedSnapshot(
            PolicySet.build((), version=0)
        )
        self.broken_policies: tuple[tuple[PolicyDefinition, str], ...] = ()
        self._tenants: dict[str, Tenant] = {}
        self._principals: dict[str, PrincipalRecord] = {}
        self._grants: dict[tuple[str, str, tuple[str, ...]], _Grants] = {}
        self._revisions = {"identity": -1, "roles": -1, "policies": -1}
        self._version = 0
        self._refresh_lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        manifest.subscribe(self._manifest_changed)

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Seed the configured roles, load every snapshot, start polling for changes."""
        existing = {(r.tenant_id, r.name) for r in await self.roles.roles()}
        for role in self.access.roles:
            if (role.tenant_id, role.name) not in existing:
                await self.roles.put_role(role)
        await self.refresh(force=True)
        self._task = asyncio.create_task(self._poll())

    async def stop(self) -> None:
        """Stop polling and close the ports."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for port in (self.identity, self.roles, self.policies, self.tenants):
            await port.close()  # the State port belongs to the gateway, which closes it

    async def refresh(self, *, force: bool = False) -> None:
        """Reload whatever changed in the ports since the last refresh."""
        async with self._refresh_lock:
            self._tenants = await _all_tenants(self.tenants)
            identity = await self.identity.revision()
            if force or identity != self._revisions["identity"]:
                self._revisions["identity"] = identity
                self._principals.clear()
                self._grants.clear()
            roles = await self.roles.revision()
            if force or roles != self._revisions["roles"]:
                self._revisions["roles"] = roles
                await self._load_rbac()
            policies = await self.policies.revision()
            if force or policies != self._revisions["policies"]:
                self._revisions["policies"] = policies
                await self._load_policies()

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self.access.refresh_interval_ms / 1000)
            try:
                await self.refresh()
            except Exception:  # noqa: BLE001 - a store outage must not stop the Host
                log.exception("refreshing the control-plane snapshots failed; keeping the old ones")

    def _next_version(self) -> int:
        self._version += 1
        return self._version

    async def _load_rbac(self) -> None:
        roles = await self.roles.roles()
        assignments: dict[str | tuple[str, str], tuple[str, ...]] = {}
        for (tenant_id, principal_id), names in (await self.roles.assignments()).items():
            assignments[principal_id if not tenant_id else (tenant_id, principal_id)] = names
        try:
            snapshot = RbacSnapshot.build(roles, assignments, version=self._next_version())
        except ValueError:
            log.exception("the stored roles do not form a valid hierarchy; keeping the old one")
            return
        self.rbac.swap(snapshot)
        self._grants.clear()

    async def _load_policies(self) -> None:
        await self._compile(await self.policies.active())

    def _manifest_changed(self, _manifest: Manifest) -> None:
        # New contracts change what policies may reference: recompile against them.
        task = asyncio.get_running_loop().create_task(self._load_policies())
        task.add_done_callback(lambda t: t.exception() if not t.cancelled() else None)

    async def _compile(self, definitions: Sequence[PolicyDefinition]) -> None:
        schemas = self.contract_schemas()
        compiled, broken = [], []
        for definition in definitions:
            try:
                compiled.append(compile_policy(definition, contract_schemas=schemas))
            except ValidationError as exc:
                # NOTE: a stored policy that no longer compiles (a contract changed under it)
                # is not dropped silently: calls of the tools it covers fail closed.
                broken.append((definition, exc.message))
        policy_set = PolicySet.build(
            compiled, version=self._next_version(), conflicts=ConflictStrategy.USE_LATEST
        )
        self.policy.swap(policy_set)
        self.broken_policies = tuple(broken)

    def contract_schemas(self) -> dict[str, Mapping[str, Any]]:
        """Tool name → root parameter schema of every contract in the manifest."""
        manifest = self._manifest.current
        return {name: c.parameters for name, c in manifest.contracts.items()}

    # ------------------------------------------------------------------ after admin writes

    async def roles_changed(self) -> None:
        """Reload RBAC now (an admin write through this Host takes effect at once, item 154)."""
        async with self._refresh_lock:
            self._revisions["roles"] = await self.roles.revision()
            await self._load_rbac()

    async def policies_changed(self) -> None:
        """Recompile the policy set now."""
        async with self._refresh_lock:
            self._revisions["policies"] = await self.policies.revision()
            await self._load_policies()

    async def identity_changed(self) -> None:
        """Forget cached principal records (a principal was disabled, revoked or edited)."""
        async with self._refresh_lock:
            self._revisions["identity"] = await self.identity.revision()
            self._principals.clear()
            self._grants.clear()

    async def tenants_changed(self) -> None:
        """Reload the tenant map (a tenant was suspended or resumed)."""
        async with self._refresh_lock:
            self._tenants = await _all_tenants(self.tenants)

    # ------------------------------------------------------------------ the security context

    async def context(self, principal: Principal, correlation_id: str = "") -> SecurityContext:
        """The ``EnterpriseSecurityContext`` of a verified caller (SPEC §3.19 step 2, C-54).

        Raises:
            AuthorizationError: ``TENANT_SUSPENDED``; ``TENANT_ACCESS_DENIED`` when the principal
                record belongs to another tenant; ``ACCOUNT_LOCKED`` when the principal is
                disabled (item 150).
        """
        tenant = self._tenants.get(principal.tenant_id)
        if tenant is None:
            tenant = await self._provision_tenant(principal, correlation_id)
        if tenant.status is TenantStatus.SUSPENDED:
            raise AuthorizationError(
                "TENANT_SUSPENDED",
                f"Tenant '{tenant.tenant_id}' is suspended; its calls are refused until a "
                "platform administrator resumes it.",
            )
        record = self._principals.get(principal.principal_id)
        if record is None:
            record = await self._principal_record(principal, correlation_id)
        if record.tenant_id != principal.tenant_id:
            raise AuthorizationError(
                "TENANT_ACCESS_DENIED",
                f"The principal is registered in another tenant than '{principal.tenant_id}'.",
            )
        if not record.active:
            raise AuthorizationError(
                "ACCOUNT_LOCKED",
                f"Principal '{principal.principal_id}' is disabled in tenant "
                f"'{principal.tenant_id}'; ask an administrator to enable it.",
            )
        groups = _groups(principal) + _directory_groups(record)
        key = (principal.principal_id, principal.tenant_id, groups)
        grants = self._grants.get(key)
        snapshot = self.rbac.current
        if grants is None:
            hint = self._roles_for(groups)
            grants = _Grants(
                tuple(
                    sorted(
                        snapshot.effective_roles(
                            principal.principal_id, tenant_id=principal.tenant_id, roles_hint=hint
                        )
                    )
                ),
                snapshot.effective_permissions(
                    principal.principal_id, tenant_id=principal.tenant_id, roles_hint=hint
                ),
                hint,
            )
            if len(self._grants) >= PRINCIPAL_CACHE_SIZE:
                self._grants.clear()
            self._grants[key] = grants
        return SecurityContext(
            principal_id=principal.principal_id,
            tenant_id=principal.tenant_id,
            principal_type=record.principal_type,
            claims=principal.claims,
            organization_id=record.organization_id,
            business_unit=record.business_unit,
            cost_center=record.cost_center,
            roles=grants.roles,
            permissions=grants.permissions,
            security_clearance=record.security_clearance,
            data_classification=record.data_classification,
            roles_hint=grants.hint,
            mfa_verified=principal.mfa,
            source=principal.source,
            source_ip=principal.source_ip,
            credential_expires_at_ms=principal.expires_at_ms,
            rbac_version=snapshot.version,
        )

    def _roles_for(self, groups: tuple[str, ...]) -> tuple[str, ...]:
        mapped = {role for g in groups for role in self.access.group_roles.get(g, ())}
        return tuple(sorted(mapped))

    async def _provision_tenant(self, principal: Principal, correlation_id: str) -> Tenant:
        # Decision (docs/protocol-decisions.md): a tenant is registered the first time a
        # credential the Host trusts names it; suspension and metadata are then managed here.
        now = ids.now_ms()
        tenant = Tenant(principal.tenant_id, created_at_ms=now, updated_at_ms=now)
        existing = await self.tenants.get(principal.tenant_id)
        if existing is not None:
            self._tenants[existing.tenant_id] = existing
            return existing
        await self.tenants.put(tenant)
        self._tenants[tenant.tenant_id] = tenant
        await self.audit.append(
            AuditEvent(
                event_type="TENANT_PROVISION",
                outcome="SUCCESS",
                action="tenant_provision",
                principal_id=principal.principal_id,
                tenant_id=tenant.tenant_id,
                correlation_id=correlation_id,
                metadata={"source": principal.source},
            )
        )
        return tenant

    async def _principal_record(self, principal: Principal, correlation_id: str) -> PrincipalRecord:
        record = await self.identity.get_principal(principal.principal_id)
        if record is None:
            record = self._new_record(principal)
            await self.identity.put_principal(record)
            await self.audit.append(
                AuditEvent(
                    event_type="PRINCIPAL_PROVISION",
                    outcome="SUCCESS",
                    action="principal_provision",
                    principal_id=principal.principal_id,
                    tenant_id=principal.tenant_id,
                    correlation_id=correlation_id,
                    metadata={
                        "source": principal.source,
                        "security_clearance": record.security_clearance,
                    },
                )
            )
        if len(self._principals) >= PRINCIPAL_CACHE_SIZE:
            self._principals.clear()
        self._principals[principal.principal_id] = record
        return record

    def _new_record(self, principal: Principal) -> PrincipalRecord:
        """A record for a principal the IdP vouched for and the Host has not seen before."""
        ranks = [
            CLASSIFICATIONS.index(level)
            for g in _groups(principal)
            if (level := self.access.group_clearance.get(g, "").upper()) in CLASSIFICATIONS
        ]
        level = CLASSIFICATIONS[max(ranks)] if ranks else self.access.default_clearance
        kind = {
            "api_key": PrincipalType.SERVICE_ACCOUNT,
            "certificate": PrincipalType.SERVICE_ACCOUNT,
        }.get(principal.source, PrincipalType.USER)
        if principal.source == "certificate" and principal.kind == "host":
            kind = PrincipalType.SYSTEM_ACCOUNT
        now = ids.now_ms()
        return PrincipalRecord(
            principal_id=principal.principal_id,
            tenant_id=principal.tenant_id,
            principal_type=kind,
            display_name=principal.display_name or principal.name,
            security_clearance=level,
            data_classification=level,
            source=principal.source,
            created_at_ms=now,
            updated_at_ms=now,
        )

    # ------------------------------------------------------------------ decisions

    def authorize(
        self,
        ctx: SecurityContext,
        contract: ToolContract,
        facts: CallFacts | None = None,
        *,
        listing: bool = False,
    ) -> CallDecision:
        """RBAC, clearance and classification, then CEL policy (SPEC §3.19 steps 5-6).

        Args:
            ctx: The caller.
            contract: The Host's contract.
            facts: The call's arguments and session (none when listing).
            listing: Decide whether the tool is listed: policies that read the arguments are
                left out, every other rule is the same as for a call.
        """
        decision = self.check_rbac(ctx, contract)
        if not decision.allowed:
            return CallDecision(decision, None)
        return CallDecision(decision, self.evaluate_policies(ctx, contract, facts, listing=listing))

    def check_rbac(self, ctx: SecurityContext, contract: ToolContract) -> Decision:
        """The RBAC step alone (SPEC §3.19 step 5): roles, permissions, clearance, level."""
        return self.rbac.current.check_contract(ctx, contract)

    def evaluate_policies(
        self,
        ctx: SecurityContext,
        contract: ToolContract,
        facts: CallFacts | None = None,
        *,
        listing: bool = False,
    ) -> PolicyOutcome:
        """The policy step alone (SPEC §3.19 step 6), for a call RBAC allowed."""
        for definition, problem in self.broken_policies:
            if _applies(definition, ctx.tenant_id, contract.name):
                return PolicyOutcome(
                    Verdict.DENY,
                    "POLICY_EVALUATION_FAILED",
                    f"Policy '{definition.policy_id}' covers '{contract.name}' but no longer "
                    f"compiles ({problem}); calls fail closed until it is fixed.",
                    denied_by=definition.policy_id,
                )
        policy_set = self.policy.current
        if not policy_set.policies:
            return PolicyOutcome(
                Verdict.ALLOW, "", "No policy applies.", set_version=policy_set.version
            )
        activation = self.activation(ctx, contract, facts or CallFacts())
        return policy_set.evaluate(activation, without_args=listing)

    def activation(
        self, ctx: SecurityContext, contract: ToolContract, facts: CallFacts
    ) -> Activation:
        """The C-33 activation of a call, from the context and the Host's contract only."""
        tenant = self._tenants.get(ctx.tenant_id)
        return Activation.build(
            time_ms=ids.now_ms(),
            source_ip=ctx.source_ip,
            user=UserFacts(
                id=ctx.principal_id,
                roles=ctx.roles,
                permissions=ctx.permissions,
                security_clearance=ctx.security_clearance,
                data_classification=ctx.data_classification,
                mfa_verified=ctx.mfa_verified,
            ),
            tenant=TenantFacts(
                id=ctx.tenant_id, cost_center=ctx.cost_center, business_unit=ctx.business_unit
            ),
            resource=ResourceFacts(
                name=contract.name,
                classification=contract.security_classification,
                risk=contract.risk_assessment,
                compliance_tags=contract.compliance_tags,
            ),
            action=facts.action,
            args=facts.args if isinstance(facts.args, Mapping) else {},
            session=SessionFacts(id=facts.session_id, expires_at_ms=facts.session_expires_at_ms),
            organization=dict(tenant.metadata) if tenant is not None else {},
        )

    def visible(self, ctx: SecurityContext, contract: ToolContract) -> bool:
        """Whether ``ListTools`` shows ``contract`` to the caller: the call's own decision."""
        return self.authorize(ctx, contract, listing=True).allowed

    def require(self, ctx: SecurityContext, permission: str, *, tenant_id: str = "") -> str:
        """Authorise an administrative action (C-41) and resolve the tenant it acts on.

        Args:
            ctx: The caller.
            permission: ``aesp:<service>:<rpc>``.
            tenant_id: The tenant the request names; ``""`` means the caller's own.

        Returns:
            The tenant the action applies to.

        Raises:
            AuthorizationError: ``TENANT_ACCESS_DENIED`` when another tenant is named without
                the platform permission; ``PERMISSION_DENIED`` without the permission.
        """
        target = tenant_id or ctx.tenant_id
        if target != ctx.tenant_id and not self.is_platform(ctx):
            raise AuthorizationError(
                "TENANT_ACCESS_DENIED",
                f"The caller belongs to tenant '{ctx.tenant_id}' and may not act on another "
                "tenant; omit tenant_id to act on your own.",
            )
        self.rbac.current.decide(
            ctx.principal_id,
            tenant_id=ctx.tenant_id,
            permission=permission,
            roles_hint=ctx.roles_hint,
        ).raise_if_denied()
        return target

    def is_platform(self, ctx: SecurityContext) -> bool:
        """Whether the caller may name other tenants in admin requests."""
        return self.rbac.current.decide(
            ctx.principal_id,
            tenant_id=ctx.tenant_id,
            permission=PLATFORM_PERMISSION,
            roles_hint=ctx.roles_hint,
        ).allowed


def _directory_groups(record: PrincipalRecord) -> tuple[str, ...]:
    """Groups the identity store's directory holds the principal in (``DIRECTORY_GROUPS``)."""
    raw = record.metadata.get(DIRECTORY_GROUPS)
    if not raw:
        return ()
    try:
        groups = json.loads(raw)
    except ValueError:
        log.warning("principal %s has unreadable directory groups", record.principal_id)
        return ()
    if not isinstance(groups, list):
        return ()
    return tuple(sorted(g for g in groups if isinstance(g, str)))


def _groups(principal: Principal) -> tuple[str, ...]:
    if principal.source == "certificate":
        return (*principal.groups, f"certificate:{principal.kind}")
    return principal.groups


def _applies(definition: PolicyDefinition, tenant_id: str, tool: str) -> bool:
    if definition.tenant_id not in ("", tenant_id):
        return False
    targets = {t.removeprefix("tool:") for t in definition.applies_to}
    return "*" in targets or tool in targets


async def _all_tenants(registry: TenantRegistry) -> dict[str, Tenant]:
    out: dict[str, Tenant] = {}
    cursor = ""
    while True:
        page = await registry.list(limit=1000, cursor=cursor)
        out.update((t.tenant_id, t) for t in page.items)
        if not page.next_cursor:
            return out
        cursor = page.next_cursor
