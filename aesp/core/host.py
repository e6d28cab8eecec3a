"""The GRID Host: composition, lifecycle, and the Runtime-facing operations.

Client-facing operations live in :mod:`aesp.core.pipeline`; the Host wires the pieces together,
runs the background duties (heartbeat watch, session expiry) and serves Runtimes: announce
(C-2, C-40, C-53), fulfil (F2), dynamic registration (F5), capability updates (F10) and the
work stream.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path

from aesp.core import ids, plugins
from aesp.core.audit import AuditEvent, AuditIndex, AuditLog, AuditQuery, FileAuditLog
from aesp.core.audit_shipper import AuditArchiver, AuditShipper
from aesp.core.config import HostConfig
from aesp.core.control import AccessConfig, ControlPlane, ControlPorts
from aesp.core.errors import AespError, AuthorizationError, StateError, ValidationError
from aesp.core.governance.enactors_budget import govern_budgets
from aesp.core.governance.service import Governance, open_governance
from aesp.core.identity import CertificateIdentity
from aesp.core.local_dispatch import AuthorizationStore
from aesp.core.manifest import Manifest, ManifestStore, load_manifest
from aesp.core.messages import (
    Announcement,
    ContractsChanged,
    Disconnect,
    HeartbeatEcho,
    RuntimeChunk,
    RuntimeResult,
)
from aesp.core.metering import Metering
from aesp.core.pipeline import Pipeline
from aesp.core.ports.audit import AuditArchive, AuditSink, CheckpointSigner
from aesp.core.ports.cost import CostLedger
from aesp.core.ports.identity import IdentityStore
from aesp.core.ports.policy import PolicyStore
from aesp.core.ports.rbac import RoleStore
from aesp.core.ports.state import StateStore
from aesp.core.ports.tenancy import TenantRegistry
from aesp.core.principal import Principal
from aesp.core.registration import RegistrationOutcome, refuse_all, register
from aesp.core.runtime_directory import RuntimeDirectory
from aesp.core.runtimes import RuntimeConnection, RuntimeRegistry
from aesp.core.sessions import Session, SessionManager
from aesp.core.shared_sessions import SharedSessions

log = logging.getLogger(__name__)

HOST_FEATURES = frozenset({"streaming", "heartbeat", "cancellation", "local-dispatch"})
PROTOCOL_VERSION = "1.0"
_RUNTIME_ID = re.compile(r"^[\x21-\x7E]{1,128}$")


class Host:
    """One Host process. Build it with :func:`build_host`; call :meth:`start` on its loop."""

    def __init__(
        self,
        config: HostConfig,
        manifest: Manifest,
        audit: AuditLog,
        ports: ControlPorts,
        access: AccessConfig | None = None,
    ) -> None:
        self.config = config
        self.level = 2 if config.compliance == "AESP" else 1
        self.manifest = ManifestStore(manifest)
        self.audit = audit
        self.state = ports.state  # what Host replicas share (rate-limit buckets)
        self.control = ControlPlane(
            identity=ports.identity,
            roles=ports.roles,
            policies=ports.policies,
            tenants=ports.tenants,
            audit=audit,
            manifest=self.manifest,
            access=access,
        )
        self.sessions = SessionManager(config.limits, on_expire=self._session_expired)
        # Sessions other replicas created are adopted from the State port (DESIGN §10).
        self.shared_sessions = SharedSessions(self.sessions, ports.state, self._background)
        self.runtimes = RuntimeRegistry(config.breaker, on_violation=self._runtime_violation)
        # Which replica holds which Runtime, published to the State port (DESIGN §10).
        self.runtime_directory = RuntimeDirectory(ports.state, self.runtimes)
        self.authorizations = AuthorizationStore()
        self.cost = ports.cost
        # SPEC §3.19 step 7: budgets at admission, usage at completion (aesp.core.metering).
        self.metering = Metering(
            ledger=ports.cost,
            audit=audit,
            config=config.cost,
            max_result_bytes=config.limits.max_message_bytes,
            refresh_ms=self.control.access.refresh_interval_ms,
        )
        self.pipeline = Pipeline(
            config=config,
            manifest=self.manifest,
            sessions=self.sessions,
            runtimes=self.runtimes,
            audit=audit,
            authorizations=self.authorizations,
            control=self.control,
            metering=self.metering,
            shared=self.shared_sessions,
            directory=self.runtime_directory,
        )
        self.manifest.subscribe(self._manifest_changed)
        # QueryEvents reads the index the shipper feeds from the file log; a log that answers
        # queries itself (MemoryAuditLog in tests) is read directly (decision 83).
        self.audit_index = ports.audit_index
        self.audit_shipper: AuditShipper | None = None
        self.audit_query: AuditQuery | None = ports.audit_index
        # Copies outside the Host (a cloud audit service, immutable storage), each resuming at
        # its own persisted position; they read the durable file, never the call path.
        self.audit_copies: list[AuditShipper | AuditArchiver] = []
        self._audit_ports = [*ports.audit_sinks, ports.audit_archive, ports.checkpoint_signer]
        if isinstance(audit, FileAuditLog) and audit.path.is_file():
            if ports.audit_index is not None:
                self.audit_shipper = AuditShipper(audit.path, ports.audit_index)
            for i, sink in enumerate(ports.audit_sinks):
                self.audit_copies.append(AuditShipper(audit.path, sink, name=f"sink{i}"))
            if ports.audit_archive is not None and ports.checkpoint_signer is not None:
                self.audit_copies.append(
                    AuditArchiver(audit.path, ports.audit_archive, ports.checkpoint_signer)
                )
        elif isinstance(audit, AuditQuery):
            self.audit_query = audit
        # Approval workflows and enactment (aesp.core.governance); built by build_host.
        self.governance: Governance | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._pending: set[asyncio.Task[None]] = set()
        self.stop_budget_s = STOP_BUDGET_S  # how long stop() waits on the ports together

    def apply_mode(self, mode: str) -> None:
        """Switch the operating mode live (``host.mode``); the configuration checks that an AESP
        Host never leaves STRICT (item 74)."""
        if mode != self.config.mode:
            self.config = dataclasses.replace(self.config, mode=mode)

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Load the control-plane snapshots, then start the background duties."""
        await self.control.start()
        if self.audit_shipper is not None:
            await self.audit_shipper.start()  # resumes at its persisted position
        for copier in self.audit_copies:
            await copier.start()
        if self.governance is not None:
            await self.governance.start()  # approved contracts are active again after a restart
        await self.runtime_directory.start()
        self._tasks.append(asyncio.create_task(self._watch_heartbeats()))
        self._tasks.append(asyncio.create_task(self._sweep()))

    async def stop(self) -> None:
        """Stop background duties, close every Runtime stream and flush the audit log."""
        for task in self._tasks:
            task.cancel()
        for conn in self.runtimes.connections():
            await self.detach(conn, "the Host is shutting down")
            conn.outbox.put_nowait(Disconnect("the Host is shutting down"))
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)
        # The ports may be remote (a cloud store in an outage, far behind): they share one
        # bounded wait, so a Host always stops. The audit log is local and always closed last.
        deadline = asyncio.get_running_loop().time() + self.stop_budget_s
        steps: list[tuple[str, Callable[[], Awaitable[None]]]] = []
        if self.governance is not None:
            steps.append(("the governance workflows", self.governance.stop))
        steps += [
            ("the control plane", self.control.stop),
            # settles and usage still queued reach the ledger first
            ("metering (settlements and usage records)", self.metering.close),
            ("the Cost port", self.cost.close),
            ("the runtime registry", self.runtime_directory.stop),  # withdraws our records
            ("the State port", self.state.close),
        ]
        for what, step in steps:
            await _within(deadline, what, step)
        await self.audit.close()
        if self.audit_shipper is not None:
            await self.audit_shipper.stop(flush=True)  # after close: the last events are written
        for copier in self.audit_copies:
            try:  # a copy that cannot catch up quickly resumes at its position at the next start
                await asyncio.wait_for(copier.stop(flush=True), AUDIT_COPY_FLUSH_S)
            except TimeoutError:
                log.warning(
                    "an audit copy was not flushed within %s s; it resumes at the next start",
                    AUDIT_COPY_FLUSH_S,
                )
        if self.audit_index is not None:
            await self.audit_index.close()
        for port in self._audit_ports:
            if port is not None:
                await port.close()

    # ------------------------------------------------------------------ Runtime operations

    async def announce(
        self, principal: Principal, certificate: CertificateIdentity, ann: Announcement
    ) -> tuple[RuntimeConnection, list[str], dict[str, str], list[str]]:
        """Accept an EnterpriseRuntimeAnnouncement (F2 steps 1-3, items 75-77, 138, 143, 145).

        Returns:
            The connection, the available contracts, the feature config and enabled features.

        Raises:
            AuthorizationError: ``CERTIFICATE_INVALID`` when the certificate is not a runtime's
                or the announcement claims another certificate; ``TENANT_ACCESS_DENIED`` when
                it claims another tenant.
            ValidationError: ``MALFORMED_REQUEST`` for a missing or malformed runtime_id.
        """
        try:
            if principal.kind != "runtime":
                raise AuthorizationError(
                    "CERTIFICATE_INVALID",
                    f"The certificate names a {principal.kind}, not a runtime; issue a runtime "
                    "certificate with `aesp certs issue --kind runtime`.",
                )
            if (ann.claimed_spiffe_id and ann.claimed_spiffe_id != certificate.spiffe_id) or (
                ann.claimed_fingerprint
                and ann.claimed_fingerprint != certificate.fingerprint_sha256
            ):
                raise AuthorizationError(
                    "CERTIFICATE_INVALID",
                    "The announced certificate_identity does not match the certificate presented "
                    "in the TLS handshake.",
                )
            if ann.claimed_tenant and ann.claimed_tenant != principal.tenant_id:
                raise AuthorizationError(
                    "TENANT_ACCESS_DENIED",
                    "The announced tenant_id differs from the tenant of the runtime's certificate.",
                )
            if not _RUNTIME_ID.match(ann.runtime_id):
                raise ValidationError(
                    "MALFORMED_REQUEST",
                    "runtime_id must be 1-128 printable ASCII characters without spaces.",
                )
        except AespError as exc:
            await self._runtime_event(
                "RUNTIME_CONNECT",
                "DENIED",
                principal,
                ann.correlation_id,
                {"code": exc.code, "runtime_id": ann.runtime_id[:128]},
            )
            raise
        level = min(self.level, max(0, ann.compliance_level))
        offered = set(ann.capabilities) | set(ann.optional_features)
        enabled = sorted(offered & HOST_FEATURES)
        if level == 0:
            enabled = [f for f in enabled if f not in ("streaming", "local-dispatch")]  # item 110
        conn = self.runtimes.register(principal, certificate, ann, level)
        conn.capabilities = frozenset(enabled)
        manifest = self.manifest.current
        available = [n for n in manifest.active_names() if conn.declares(n)]
        ignored = sorted(
            d for d in ann.declared_contracts if manifest.active(d.split("@", 1)[0]) is None
        )
        feature_config = {"heartbeat_interval_ms": str(self.config.limits.heartbeat_interval_ms)}
        if ignored:
            feature_config["ignored_declared_contracts"] = ",".join(ignored)  # item 145
        try:
            await self._runtime_event(
                "RUNTIME_CONNECT",
                "SUCCESS",
                principal,
                ann.correlation_id,
                {
                    "runtime_id": conn.runtime_id,
                    "connection_id": conn.connection_id,
                    "negotiated_level": str(level),
                    "features": ",".join(enabled),
                    **({"degraded": "level-1 runtime: streaming disabled"} if level == 0 else {}),
                },
            )
        except AespError:
            self.runtimes.detach(conn, "the connection could not be audited")  # fail closed
            raise
        return conn, available, feature_config, enabled

    async def fulfil(
        self,
        principal: Principal,
        *,
        session_id: str,
        runtime_id: str,
        names: Sequence[str],
        correlation_id: str,
    ) -> RegistrationOutcome:
        """FulfillTools (F2 steps 5-7, items 63, 78-80, 93, 183). Empty session_id = tenant-wide."""
        outcome = RegistrationOutcome()
        conn = self.runtimes.find(principal, runtime_id)
        session: Session | None = None
        error: AespError | None = None
        if conn is None:
            error = StateError(
                "PROTOCOL_VIOLATION",
                f"runtime_id '{runtime_id[:128]}' is not an announced runtime of this certificate.",
            )
        elif session_id:
            session = self.sessions.lookup(session_id)
            if session is None:
                error = ValidationError(
                    "INVALID_SESSION", "The session does not exist or has ended."
                )
            elif session.tenant_id != conn.tenant_id:
                error = AuthorizationError(
                    "TENANT_ACCESS_DENIED",
                    "The session belongs to another tenant; a runtime serves only its own tenant.",
                )
        if error is not None:
            for name in names:
                outcome.reject(name, error)
        else:
            assert conn is not None
            manifest = self.manifest.current
            for name in names:
                known = manifest.active(name) or (
                    session.dynamic_contracts.get(name) if session else None
                )
                if known is None:
                    outcome.reject(
                        name,
                        ValidationError(
                            "UNSUPPORTED_TOOL", f"'{name}' is not an active contract of this Host."
                        ),
                    )
                elif not conn.declares(name):
                    outcome.reject(
                        name,
                        ValidationError(
                            "UNSUPPORTED_TOOL",
                            f"'{name}' is not among the runtime's declared contracts.",
                        ),
                    )
                else:
                    self.runtimes.fulfil(conn, session, name)
                    outcome.accepted.append(name)
        await self._runtime_event(
            "CONTRACT_FULFILL" if outcome.accepted else "CONTRACT_FULFILL_REJECTED",
            "SUCCESS"
            if not outcome.rejected
            else ("FAILURE" if not outcome.accepted else "SUCCESS"),
            principal,
            correlation_id,
            {
                "runtime_id": runtime_id[:128],
                "session_id": session_id or "*",
                "fulfilled": ",".join(outcome.accepted),
                "rejected": ",".join(outcome.rejected),
            },
        )
        return outcome

    async def register_tools(
        self,
        principal: Principal,
        *,
        runtime_id: str,
        session_id: str,
        tools: Sequence[Mapping[str, object]],
    ) -> RegistrationOutcome:
        """RegisterTools (F5, items 62, 65-72, 146). Every attempt is audited (item 68)."""
        conn = self.runtimes.find(principal, runtime_id)
        session = self.sessions.lookup(session_id) if session_id else None
        if self.config.mode != "DEVELOPMENT":
            outcome = refuse_all(
                tools,
                ValidationError(
                    "FEATURE_UNAVAILABLE",
                    "This Host runs in STRICT mode: runtimes fulfil manifest contracts and cannot "
                    "register tools.",
                ),
            )
        elif conn is None:
            outcome = refuse_all(
                tools,
                StateError(
                    "PROTOCOL_VIOLATION",
                    "runtime_id is not an announced runtime of this certificate.",
                ),
            )
        elif session is None:
            outcome = refuse_all(
                tools,
                ValidationError(
                    "INVALID_SESSION", "Dynamic registration needs an existing session_id."
                ),
            )
        elif session.tenant_id != conn.tenant_id:
            outcome = refuse_all(
                tools,
                AuthorizationError(
                    "TENANT_ACCESS_DENIED", "The session belongs to another tenant."
                ),
            )
        else:
            outcome, added = register(
                session,
                self.manifest.current,
                tools,
                limit=self.config.limits.max_dynamic_tools_per_session,
            )
            for contract in added:
                session.dynamic_contracts[contract.name] = contract
                self.runtimes.fulfil(conn, session, contract.name)
        await self._runtime_event(
            "TOOL_REGISTRATION",
            "SUCCESS"
            if outcome.status == "SUCCESS"
            else ("FAILURE" if outcome.status == "FAILURE" else "SUCCESS"),
            principal,
            "",
            {
                "runtime_id": runtime_id[:128],
                "session_id": session_id,
                "status": outcome.status,
                "accepted": ",".join(outcome.accepted),
                "rejected": ",".join(outcome.rejected),
                "errors": " | ".join(e.message for e in outcome.errors)[:1000],
            },
        )
        return outcome

    def update_capabilities(
        self, principal: Principal, runtime_id: str, added: Sequence[str], removed: Sequence[str]
    ) -> tuple[str, list[str], list[str]]:
        """CapabilityUpdate (F10, item 112): returns (status, accepted, rejected)."""
        conn = self.runtimes.find(principal, runtime_id)
        if conn is None:
            return "REJECTED", [], list(added)
        accepted = [
            f
            for f in added
            if f in HOST_FEATURES and not (conn.negotiated_level == 0 and f == "streaming")
        ]
        rejected = [f for f in added if f not in accepted]
        conn.capabilities = (conn.capabilities | set(accepted)) - set(removed)
        status = "ACCEPTED" if not rejected else ("PARTIAL" if accepted else "REJECTED")
        return status, accepted, rejected

    def attach(self, connection_id: str, principal: Principal) -> RuntimeConnection:
        """Open the work stream of an announced connection."""
        return self.runtimes.attach(connection_id, principal)

    def heartbeat(self, conn: RuntimeConnection) -> None:
        """Record liveness and echo the Host's clock."""
        conn.last_seen = time.monotonic()
        conn.outbox.put_nowait(HeartbeatEcho(ids.now_ms()))

    def deliver_result(self, conn: RuntimeConnection, result: RuntimeResult) -> None:
        """A result arrived on a work stream."""
        conn.last_seen = time.monotonic()
        self.runtimes.deliver_result(conn, result)

    def deliver_chunk(self, conn: RuntimeConnection, chunk: RuntimeChunk) -> None:
        """A stream chunk arrived on a work stream."""
        conn.last_seen = time.monotonic()
        self.runtimes.deliver_chunk(conn, chunk)

    async def detach(self, conn: RuntimeConnection, reason: str) -> None:
        """The work stream ended: fail the calls in flight and audit the disconnect (once)."""
        if conn.closed:
            return
        failed = self.runtimes.detach(conn, reason)
        await self._runtime_event(
            "RUNTIME_DISCONNECT",
            "SUCCESS",
            conn.principal,
            "",
            {
                "runtime_id": conn.runtime_id,
                "connection_id": conn.connection_id,
                "reason": reason,
                "failed_in_flight": str(failed),
            },
        )

    # ------------------------------------------------------------------ internals

    def _manifest_changed(self, manifest: Manifest) -> None:
        for conn in self.runtimes.connections():
            if conn.attached:
                names = tuple(n for n in manifest.active_names() if conn.declares(n))
                conn.outbox.put_nowait(ContractsChanged(names, manifest.version))

    def _session_expired(self, session: Session) -> None:
        self.shared_sessions.dropped(session)
        self.authorizations.revoke_session(session.session_id)
        self.metering.release_session(session.session_id)
        self.runtimes.drop_session(session)
        self._background(
            self.audit.append(
                AuditEvent(
                    event_type="SESSION_EXPIRE",
                    outcome="SUCCESS",
                    action="session_expire",
                    principal_id=session.principal_id,
                    tenant_id=session.tenant_id,
                    session_id=session.session_id,
                )
            )
        )

    def _runtime_violation(self, conn: RuntimeConnection, invocation_id: str, what: str) -> None:
        # NOTE: a stray message is audited (item 95) but does not trip the breaker: only the
        # codes a Runtime itself reports as critical open it at once (item 132).
        self._background(
            self.audit.append(
                AuditEvent(
                    event_type="SECURITY_VIOLATION",
                    outcome="DENIED",
                    action="runtime_message",
                    principal_id=conn.principal.principal_id,
                    tenant_id=conn.tenant_id,
                    metadata={
                        "code": "PROTOCOL_VIOLATION",
                        "reason": what,
                        "runtime_id": conn.runtime_id,
                        "invocation_id": invocation_id[:128],
                    },
                )
            )
        )

    def _background(self, coro: object) -> None:
        task = asyncio.ensure_future(coro)  # type: ignore[arg-type]
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _runtime_event(
        self,
        event_type: str,
        outcome: str,
        principal: Principal,
        correlation_id: str,
        metadata: Mapping[str, str],
    ) -> None:
        await self.audit.append(
            AuditEvent(
                event_type=event_type,
                outcome=outcome,
                action=event_type.lower(),
                principal_id=principal.principal_id,
                tenant_id=principal.tenant_id,
                correlation_id=correlation_id,
                metadata=dict(metadata),
            )
        )

    async def _watch_heartbeats(self) -> None:
        limits = self.config.limits
        allowed = limits.heartbeat_interval_ms * limits.missed_heartbeats / 1000
        while True:
            await asyncio.sleep(min(limits.heartbeat_interval_ms / 2000, 5))
            now = time.monotonic()
            for conn in self.runtimes.connections():
                if conn.attached and now - conn.last_seen > allowed:
                    await self.detach(conn, f"{limits.missed_heartbeats} heartbeats missed")
                    conn.outbox.put_nowait(Disconnect("heartbeats missed"))

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(5)
            self.sessions.sweep()
            self.authorizations.sweep()
            self.metering.sweep()  # reservations of authorisations that were never used
            now = ids.now_ms()
            for session in self.sessions.all():
                stale = [k for k, v in session.calls.items() if v.expires_at_ms <= now]
                for key in stale:
                    del session.calls[key]


REQUIRED_PORTS: Mapping[str, type] = {
    "identity": IdentityStore,
    "rbac": RoleStore,
    "policy": PolicyStore,
    "tenancy": TenantRegistry,
    "state": StateStore,
    "cost": CostLedger,
    "audit": AuditIndex,  # the query side; the durable buffer (FileAuditLog) is the core's
}
AUDIT_COPY_FLUSH_S = 5.0  # at stop, how long copies outside the Host may take to catch up
STOP_BUDGET_S = 15.0  # at stop, how long the ports together may take to flush and close


async def _within(deadline: float, what: str, step: Callable[[], Awaitable[None]]) -> None:
    """Run one stop step until ``deadline`` (loop time); log, never raise, when it fails."""
    left = max(0.5, deadline - asyncio.get_running_loop().time())
    try:
        await asyncio.wait_for(step(), left)
    except TimeoutError:
        log.error(
            "stopping: %s did not finish in time and was abandoned; what it had not written "
            "is lost (the audit log is closed all the same)",
            what,
        )
    except Exception:
        log.exception("stopping: %s failed; the Host stops all the same", what)


# Built when the audit port's profile realises them: the log's copies outside the Host.
OPTIONAL_AUDIT_PORTS: Mapping[str, type] = {
    "sink": AuditSink,
    "archive": AuditArchive,
    "signer": CheckpointSigner,
}


async def build_control_ports(config: HostConfig) -> ControlPorts:
    """Load the configured profiles' plugins and build every port from its chosen profile.

    Raises:
        ConfigurationError: ``INVALID_CONFIG`` naming a profile that is not installed or a port
            it does not realise, and the distribution that provides it (DESIGN §6).
    """
    choice = config.profile.choice(REQUIRED_PORTS)
    registry = plugins.load_registry(set(choice.values()))
    built = await plugins.build_ports(registry, REQUIRED_PORTS, choice, config)
    extras = {}
    for name, port in OPTIONAL_AUDIT_PORTS.items():  # realised by the audit port's profile
        if registry.find(port, choice["audit"]) is not None:
            extras[name] = await registry.build(port, choice["audit"], config)
    return ControlPorts(
        identity=built["identity"],
        roles=built["rbac"],
        policies=built["policy"],
        tenants=built["tenancy"],
        state=built["state"],
        cost=built["cost"],
        audit_index=built["audit"],
        audit_sinks=(extras["sink"],) if "sink" in extras else (),
        audit_archive=extras.get("archive"),
        checkpoint_signer=extras.get("signer"),
    )


async def build_host(
    config: HostConfig,
    *,
    audit: AuditLog | None = None,
    ports: ControlPorts | None = None,
    access: AccessConfig | None = None,
) -> Host:
    """The composition root: load the manifest (F1), build the ports, open the audit log.

    Raises:
        ConfigurationError: ``MISSING_MANIFEST`` / ``INVALID_CONFIG`` (item 61), or a profile
            problem (:func:`build_control_ports`).
    """
    if config.mode == "STRICT" or config.manifest_path is not None:
        manifest = load_manifest(config.manifest_path)
    else:
        manifest = Manifest("1.0.0", {}, {})
    if ports is None:
        ports = await build_control_ports(config)
    if audit is None:
        audit = FileAuditLog(Path(config.data_dir) / "audit.jsonl")
    host = Host(config, manifest, audit, ports, access or config.access)
    host.governance = await open_governance(config, host.control, host.manifest)
    host.pipeline.call_approvals = host.governance.calls  # per-call approval (governance)
    govern_budgets(host)  # approved BUDGET_V1 artifacts are stored through the Cost port
    await host.start()
    return host


__all__ = ["REQUIRED_PORTS", "Host", "build_control_ports", "build_host"]
