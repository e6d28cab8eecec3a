"""The governed call: every client operation of the Host, as numbered steps (SPEC §3.19).

Each public method takes the *verified* :class:`~aesp.core.principal.Principal` (the edge has
authenticated it, step 1) and a core request, and either returns a result or raises an
:class:`~aesp.core.errors.AespError`. Every refusal is audited before it is raised, and a call
refused at any step before dispatch never reaches a Runtime (items 86, 209).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncIterator, Mapping
from dataclasses import replace
from typing import Any

from aesp.adm import AdmError, canonical_json, parse_json, validate_call_id
from aesp.core import ids, runtime_directory
from aesp.core.audit import AuditEvent, AuditLog
from aesp.core.breaker import OPEN_IMMEDIATELY
from aesp.core.call_approvals import CallApprovals, approval_rule
from aesp.core.config import HostConfig, LimitsConfig
from aesp.core.contracts import ToolContract
from aesp.core.control import CallFacts, ControlPlane
from aesp.core.errors import (
    AespError,
    Category,
    ConfigurationError,
    ExecutionError,
    StateError,
    ValidationError,
)
from aesp.core.local_dispatch import AuthorizationStore
from aesp.core.manifest import ManifestStore
from aesp.core.messages import (
    Authorization,
    CallOutcome,
    CallRequest,
    Cancel,
    Dispatch,
    RuntimeChunk,
    RuntimeResult,
)
from aesp.core.metering import Admission, Metering, Usage
from aesp.core.policy import PolicyOutcome
from aesp.core.principal import Principal
from aesp.core.results import check_result
from aesp.core.runtime_directory import RuntimeDirectory
from aesp.core.runtimes import Invocation, RuntimeConnection, RuntimeRegistry
from aesp.core.security import SecurityContext
from aesp.core.sessions import CachedCall, Session, SessionManager
from aesp.core.shared_sessions import SharedSessions

EXECUTION_GRACE_MS = 5_000  # clock skew tolerated between the caller and the Host


class Pipeline:
    """Client-facing operations of the Host."""

    def __init__(
        self,
        *,
        config: HostConfig,
        manifest: ManifestStore,
        sessions: SessionManager,
        runtimes: RuntimeRegistry,
        audit: AuditLog,
        authorizations: AuthorizationStore,
        control: ControlPlane,
        metering: Metering,
        shared: SharedSessions | None = None,
        directory: RuntimeDirectory | None = None,
    ) -> None:
        self._cfg = config
        self._shared = shared  # sessions other Host replicas created (aesp.core.shared_sessions)
        self._directory = directory  # other replicas' Runtimes (aesp.core.runtime_directory)
        self._control = control
        self._metering = metering
        self._limits = config.limits
        self._manifest = manifest
        self._sessions = sessions
        self._runtimes = runtimes
        self._audit = audit
        self._auths = authorizations
        self._background: set[asyncio.Task[None]] = set()
        # Per-call approval (aesp.core.call_approvals); attached by the composition root. A
        # contract that asks for it is refused while this is None (fail closed).
        self.call_approvals: CallApprovals | None = None

    def apply_limits(self, limits: LimitsConfig) -> None:
        """Use ``limits`` from the next call on (live configuration, SPEC §3.15).

        One reference swap of a frozen object: a call that already read the old limits keeps
        them, so no running call is disturbed, and no lock is needed on the event loop.
        """
        self._limits = limits

    # ------------------------------------------------------------------ sessions

    async def create_session(
        self,
        principal: Principal,
        *,
        ttl_seconds: int,
        metadata: Mapping[str, str],
        correlation_id: str,
    ) -> Session:
        """Create a session bound to the caller's verified tenant and principal (F3, C-54)."""
        try:
            # (2) tenant active, principal known and enabled (items 150, 180).
            await self._control.context(principal, correlation_id)
            session = self._sessions.create(
                principal,
                ttl_seconds=ttl_seconds,
                metadata=metadata,
                credential_expires_at_ms=principal.expires_at_ms,
            )
        except AespError as exc:
            await self._refused("SESSION_CREATE", principal, exc, correlation_id)
            raise
        try:
            await self._record("SESSION_CREATE", "SUCCESS", principal, correlation_id, session)
        except AespError:
            self._sessions.destroy(session, force=True)  # an unaudited session must not exist
            raise
        if self._shared is not None:
            await self._shared.publish(session)
        return session

    async def destroy_session(
        self, principal: Principal, session_id: str, *, force: bool, correlation_id: str
    ) -> None:
        """Destroy a session; with ``force`` cancel its invocations and authorisations (C-46)."""
        try:
            session = await self._resolve(session_id, principal)
            self._sessions.destroy(session, force=force)
        except AespError as exc:
            await self._refused("SESSION_DESTROY", principal, exc, correlation_id)
            raise
        if self._shared is not None:
            await self._shared.forget(session)
        revoked = self._auths.revoke_session(session.session_id)
        self._metering.release_session(session.session_id)  # unused authorisations
        self._runtimes.drop_session(session)
        await self._record(
            "SESSION_DESTROY",
            "SUCCESS",
            principal,
            correlation_id,
            session,
            metadata={"force": str(force).lower(), "revoked_authorizations": str(revoked)},
        )

    async def list_tools(
        self, principal: Principal, session_id: str, correlation_id: str = ""
    ) -> list[ToolContract]:
        """The contracts this caller may call in this session (Host's own contracts only).

        A tool is listed when the call's own decision (:meth:`ControlPlane.authorize` with
        ``listing=True``) allows it: RBAC, clearance, and every policy that does not read the
        arguments. There is no second rule set for listing.
        """
        ctx = await self._control.context(principal, correlation_id)
        session = await self._resolve(session_id, principal)
        manifest = self._manifest.current
        tools = [manifest.contracts[n] for n in manifest.active_names()]
        tools += sorted(session.dynamic_contracts.values(), key=lambda c: c.name)
        return [c for c in tools if self._control.visible(ctx, c)]

    # ------------------------------------------------------------------ the governed call

    async def call(self, principal: Principal, req: CallRequest) -> CallOutcome:
        """A synchronous governed call (F4, SPEC §3.19). Raises AespError on any refusal."""
        session: Session | None = None
        contract: ToolContract | None = None
        args_digest = ""
        try:
            # (2) the security context: tenant active, principal enabled, roles from RBAC.
            ctx = await self._control.context(principal, req.correlation_id)
            # (3) session: unknown -> INVALID_SESSION, expired, other tenant or principal.
            session = await self._resolve(req.session_id, principal)
            # FunctionCall well-formed (ADM §4.4) and arguments parseable.
            args, args_digest = self._parse_call(req)
            # C-44: the same call_id within the window returns the first outcome.
            cached = self._idempotent(session, req, args_digest)
            if cached is not None:
                return await asyncio.shield(cached)
            # (4) contract: ACTIVE in the manifest snapshot (or registered for this session).
            contract = self._contract(session, req.name)
            if contract.supports_streaming:
                raise ValidationError(
                    "FEATURE_UNAVAILABLE",
                    f"'{req.name}' is a streaming tool; call it with CallToolStream.",
                )
            # (5) RBAC, (8) arguments, (6) policy.
            governance, outcome = self._govern(ctx, session, contract, args, req)
            governance.update(
                await self._approve(principal, session, contract, args, args_digest, req, outcome)
            )
        except AespError as exc:
            await self._refused(
                "TOOL_INVOCATION_START",
                principal,
                exc,
                req.correlation_id,
                session,
                req.name,
                args_digest=args_digest,
                args_json=req.args_json,
            )
            raise
        entry = CachedCall(
            args_digest,
            asyncio.get_running_loop().create_future(),
            ids.now_ms() + self._limits.idempotency_window_ms,
        )
        session.calls[req.call_id] = entry
        admission: Admission | None = None
        try:
            await self._audit_policies(principal, session, contract, req, outcome)
            # (7) quota and budget, once the call id is taken (a duplicate waits for this one).
            admission = await self._admit(ctx, principal, session, contract, req, args_digest)
            result = await self._dispatch(
                principal, session, contract, req, args_digest, governance, admission
            )
        except BaseException as exc:
            if admission is not None:
                self._metering.release(admission)  # not executed (a dispatched call is settled)
            session.calls.pop(req.call_id, None)  # a failed dispatch may be retried (C-44)
            if not entry.outcome.done():
                entry.outcome.set_exception(exc if isinstance(exc, AespError) else _internal())
                entry.outcome.exception()  # mark retrieved: duplicates may never await it
            raise
        entry.outcome.set_result(result)
        return result

    async def _dispatch(
        self,
        principal: Principal,
        session: Session,
        contract: ToolContract,
        req: CallRequest,
        args_digest: str,
        governance: Mapping[str, str],
        admission: Admission,
    ) -> CallOutcome:
        inv_id = ids.invocation_id()
        started = ids.now_ms()
        try:
            # (9) START is durable before dispatch (C-36).
            await self._record(
                "TOOL_INVOCATION_START",
                "SUCCESS",
                principal,
                req.correlation_id,
                session,
                resource=contract.name,
                durable=True,
                metadata={
                    "invocation_id": inv_id,
                    "contract_digest": contract.digest,
                    "args_sha256": args_digest,
                    **governance,
                },
            )
            # (10) a Runtime of this tenant that fulfils the tool, breaker permitting.
            conn = self._pick(session, contract.name, need_streaming=False)
        except AespError as exc:
            await self._refused(
                "TOOL_INVOCATION_START",
                principal,
                exc,
                req.correlation_id,
                session,
                contract.name,
                args_digest=args_digest,
                args_json=req.args_json,
            )
            raise
        loop = asyncio.get_running_loop()
        inv = Invocation(
            inv_id,
            session,
            contract,
            conn,
            req.call_id,
            streaming=False,
            future=loop.create_future(),
        )
        timeout_ms = self._timeout(req)
        conn.in_flight[inv_id] = inv
        session.active[inv_id] = lambda err: _fail(inv, err)
        sent_at = ids.now_ms()
        try:
            # (11) dispatch with a fresh invocation id and the propagated correlation id.
            conn.send(
                Dispatch(
                    inv_id,
                    req.correlation_id,
                    session.session_id,
                    req.call_id,
                    req.name,
                    req.args_json,
                    timeout_ms,
                )
            )
            future = inv.future
            assert future is not None
            # NOTE: a timer instead of asyncio.wait_for, which wraps the await in a new task.
            timer = loop.call_later(timeout_ms / 1000, _deadline, future)
            try:
                result = await future
                elapsed_ms = ids.now_ms() - sent_at
            except _DeadlineExceeded:
                inv.done = True
                conn.outbox.put_nowait(Cancel(inv_id, "timeout"))
                raise ExecutionError(
                    "TIMEOUT",
                    f"'{contract.name}' did not finish within {timeout_ms} ms; the runtime was told "
                    "to cancel it.",
                    retry_after_ms=1000,
                ) from None
            finally:
                timer.cancel()
            # (12) the result must be valid ADM and match the call (items 43, 96).
            violation = check_result(result, req.call_id, contract)
            if violation is not None:
                await self._violation(
                    conn.runtime_id, principal, session, req.correlation_id, violation
                )
                raise ExecutionError(
                    "TOOL_EXECUTION_FAILED",
                    f"The runtime returned an invalid result for '{contract.name}'; it was not "
                    "forwarded.",
                    details={"reason": violation},
                )
        except AespError as exc:
            # It was dispatched: the Runtime may have worked on it, so it is charged.
            self._metering.settle(admission, Usage(ids.now_ms() - sent_at, 0, inv_id, exc.code))
            await self._dispatch_failed(exc, conn, principal, req, session, contract, inv_id)
            raise
        except asyncio.CancelledError:  # the caller went away; the Runtime may still work
            self._metering.settle(admission, Usage(ids.now_ms() - sent_at, 0, inv_id, "CANCELLED"))
            raise
        finally:
            conn.finish(inv_id)
            session.active.pop(inv_id, None)
        if result.status == "ERROR" and result.error_type in OPEN_IMMEDIATELY:
            conn.breaker.record_failure(result.error_type)  # item 132
        else:
            conn.breaker.record_success()
        # (13) COMPLETE, with both ids (F4 step 9), then the cost settles (also if the record
        # fails: the call ran).
        try:
            await self._record(
                "TOOL_INVOCATION_COMPLETE",
                "SUCCESS",
                principal,
                req.correlation_id,
                session,
                resource=contract.name,
                metadata={
                    "invocation_id": inv_id,
                    "status": result.status,
                    "runtime_id": conn.runtime_id,
                    "duration_ms": str(ids.now_ms() - started),
                },
            )
        finally:
            size = len(result.content_json or b"")
            self._metering.settle(admission, Usage(elapsed_ms, size, inv_id, result.status))
        return CallOutcome(inv_id, req.correlation_id, result, contract.digest)

    async def call_stream(
        self, principal: Principal, req: CallRequest
    ) -> AsyncIterator[RuntimeChunk]:
        """A streaming governed call (F7): the same checks, then chunks as they arrive.

        Streaming calls are not replayed by call_id (docs/protocol-decisions.md).
        """
        session: Session | None = None
        contract: ToolContract | None = None
        admission: Admission | None = None
        args_digest = ""
        try:
            ctx = await self._control.context(principal, req.correlation_id)
            session = await self._resolve(req.session_id, principal)
            args, args_digest = self._parse_call(req)
            contract = self._contract(session, req.name)
            if not contract.supports_streaming:
                raise ValidationError(
                    "FEATURE_UNAVAILABLE",
                    f"'{req.name}' does not stream (its contract has supports_streaming=false); "
                    "call it with CallTool.",
                )
            governance, outcome = self._govern(ctx, session, contract, args, req)
            governance.update(
                await self._approve(principal, session, contract, args, args_digest, req, outcome)
            )
            # (7) quota and budget.
            admission = await self._metering.admit(
                ctx, contract, session, self._timeout(req), len(req.args_json), mode="stream"
            )
            await self._audit_policies(principal, session, contract, req, outcome)
            inv_id = ids.invocation_id()
            await self._record(
                "TOOL_INVOCATION_START",
                "SUCCESS",
                principal,
                req.correlation_id,
                session,
                resource=contract.name,
                durable=True,
                metadata={
                    "invocation_id": inv_id,
                    "contract_digest": contract.digest,
                    "args_sha256": args_digest,
                    "streaming": "true",
                    **governance,
                },
            )
            conn = self._pick(session, contract.name, need_streaming=True)
        except AespError as exc:
            if admission is not None:
                self._metering.release(admission)  # refused before it was dispatched
            await self._refused(
                "TOOL_INVOCATION_START",
                principal,
                exc,
                req.correlation_id,
                session,
                req.name,
                args_digest=args_digest,
                args_json=req.args_json,
            )
            raise
        return self._stream(principal, session, contract, req, conn, inv_id, admission)

    async def _stream(
        self,
        principal: Principal,
        session: Session,
        contract: ToolContract,
        req: CallRequest,
        conn: RuntimeConnection,
        inv_id: str,
        admission: Admission,
    ) -> AsyncIterator[RuntimeChunk]:
        queue: asyncio.Queue[RuntimeChunk | AespError] = asyncio.Queue()
        inv = Invocation(inv_id, session, contract, conn, req.call_id, streaming=True, chunks=queue)
        timeout_ms = self._timeout(req)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_ms / 1000
        conn.in_flight[inv_id] = inv
        session.active[inv_id] = lambda err: _fail(inv, err)
        count = nbytes = 0
        finished = False
        status = "CANCELLED"
        sent_at = ids.now_ms()
        try:
            conn.send(
                Dispatch(
                    inv_id,
                    req.correlation_id,
                    session.session_id,
                    req.call_id,
                    req.name,
                    req.args_json,
                    timeout_ms,
                )
            )
            while True:
                try:
                    item = await asyncio.wait_for(queue.get(), max(deadline - loop.time(), 0))
                except TimeoutError:
                    inv.done = True
                    conn.outbox.put_nowait(Cancel(inv_id, "timeout"))
                    raise ExecutionError(
                        "TIMEOUT",
                        f"'{contract.name}' did not finish streaming within {timeout_ms} ms.",
                        retry_after_ms=1000,
                    ) from None
                if isinstance(item, AespError):
                    raise item
                count += 1
                nbytes += len(item.payload)
                chunk = RuntimeChunk(
                    inv_id,
                    item.chunk_id,
                    item.payload,
                    item.is_final,
                    req.correlation_id,
                    item.error_code,
                    item.error_message,
                )
                if item.is_final or item.error_code:
                    # NOTE: recorded *before* the last chunk is handed out: once the client has
                    # it, it may close the stream and this generator is never resumed.
                    finished = True
                    status = item.error_code or "SUCCESS"
                    if item.error_code in OPEN_IMMEDIATELY:
                        conn.breaker.record_failure(item.error_code)  # item 132
                    else:
                        conn.breaker.record_success()
                    await self._record(
                        "TOOL_INVOCATION_COMPLETE",
                        "ERROR" if item.error_code else "SUCCESS",
                        principal,
                        req.correlation_id,
                        session,
                        resource=contract.name,
                        metadata={
                            "invocation_id": inv_id,
                            "chunks": str(count),
                            "runtime_id": conn.runtime_id,
                        },
                    )
                    usage = Usage(ids.now_ms() - sent_at, nbytes, inv_id, status)
                    self._metering.settle(admission, usage)  # before the client may go away
                    yield chunk
                    return
                yield chunk
        except AespError as exc:
            finished = True
            status = exc.code
            await self._dispatch_failed(exc, conn, principal, req, session, contract, inv_id)
            raise
        finally:
            # Dispatched, so charged whatever the ending (a no-op once settled above).
            self._metering.settle(admission, Usage(ids.now_ms() - sent_at, nbytes, inv_id, status))
            conn.finish(inv_id)
            session.active.pop(inv_id, None)
            if not inv.done:  # the client went away mid-stream: tell the runtime to stop
                inv.done = True
                conn.outbox.put_nowait(Cancel(inv_id, "the client cancelled the stream"))
            if not finished:
                self._audit_later(
                    "TOOL_INVOCATION_FAILED",
                    "ERROR",
                    principal,
                    req.correlation_id,
                    session,
                    resource=contract.name,
                    metadata={
                        "invocation_id": inv_id,
                        "code": "CANCELLED",
                        "reason": "the client closed the stream",
                        "chunks": str(count),
                    },
                )

    # ------------------------------------------------------------------ governed local dispatch

    async def authorize(self, principal: Principal, req: CallRequest) -> Authorization:
        """Authorise a call the caller will execute locally (F6 steps 1-4).

        The budget reservation is made here and settled by ``LogToolResult``; an authorisation
        never used gives it back when it expires or its session ends.
        """
        session: Session | None = None
        admission: Admission | None = None
        args_digest = ""
        try:
            ctx = await self._control.context(principal, req.correlation_id)
            session = await self._resolve(req.session_id, principal)
            args, args_digest = self._parse_call(req)
            contract = self._contract(session, req.name)
            # item 114: args validated at authorisation, with RBAC and policy as for a call.
            governance, outcome = self._govern(ctx, session, contract, args, req)
            governance.update(
                await self._approve(principal, session, contract, args, args_digest, req, outcome)
            )
            await self._audit_policies(principal, session, contract, req, outcome)
            now = ids.now_ms()
            auth = Authorization(
                invocation_id=ids.invocation_id(),
                session_id=session.session_id,
                principal_id=principal.principal_id,
                tenant_id=principal.tenant_id,
                call_id=req.call_id,
                name=req.name,
                args_digest=args_digest,
                contract_digest=contract.digest,
                correlation_id=req.correlation_id,
                issued_at_ms=now,
                expires_at_ms=now + self._limits.authorization_ttl_ms,
                log_deadline_ms=now + self._limits.correlation_timeout_ms,
            )
            # (7) quota and budget: the execution may take up to the authorisation's lifetime.
            admission = await self._metering.admit(
                ctx,
                contract,
                session,
                self._limits.authorization_ttl_ms,
                len(req.args_json),
                mode="governed_local",
                reservation_id=auth.invocation_id,
                hold_ms=auth.log_deadline_ms - now,
            )
            await self._record(
                "AUTHORIZATION_SUCCESS",
                "SUCCESS",
                principal,
                req.correlation_id,
                session,
                resource=req.name,
                durable=True,
                metadata={
                    "invocation_id": auth.invocation_id,
                    "args_sha256": args_digest,
                    "contract_digest": contract.digest,
                    "mode": "governed_local",
                    **governance,
                },
            )
            self._auths.add(auth)
            self._metering.hold_local(auth.invocation_id, admission, auth.log_deadline_ms)
        except AespError as exc:
            if admission is not None:
                self._metering.release(admission)
            await self._refused(
                "AUTHORIZATION_DENIED",
                principal,
                exc,
                req.correlation_id,
                session,
                req.name,
                args_digest=args_digest,
                args_json=req.args_json,
            )
            raise
        return auth

    async def log_result(
        self,
        principal: Principal,
        *,
        session_id: str,
        invocation_id: str,
        result: RuntimeResult,
        args_digest: str,
        execution_time_ms: int,
        correlation_id: str,
        finished_at_ms: int = 0,
    ) -> None:
        """Record a governed local execution (F6 steps 7-9, items 119-123).

        Raises:
            StateError: ``PROTOCOL_VIOLATION`` for an unknown, foreign, replayed, late or
                mismatched invocation; a ``SECURITY_VIOLATION`` audit event is written.
        """
        session = None
        try:
            session = await self._resolve(session_id, principal)
        except AespError as exc:
            await self._refused("SECURITY_VIOLATION", principal, exc, correlation_id, None, "")
            raise
        auth = self._auths.consume(invocation_id)
        problem = _log_problem(auth, session, principal, result, args_digest, finished_at_ms)
        used = Usage(execution_time_ms, len(result.content_json or b""), invocation_id)
        if problem is not None:
            if auth is not None and problem.startswith("foreign"):
                self._auths.add(auth)  # another session's id: do not let a stranger burn it
            elif auth is not None:  # consumed: the caller says it ran, so it is charged
                self._metering.settle_local(invocation_id, used)
            await self._violation("", principal, session, correlation_id, problem)
            error = StateError(
                "PROTOCOL_VIOLATION",
                f"The result was not logged: {problem}. Authorise the call again before executing it.",
            )
            error.audited = True
            raise error
        assert auth is not None
        manifest_contract = self._manifest.current.get(auth.name) or session.dynamic_contracts.get(
            auth.name
        )
        violation = None
        if manifest_contract is not None:
            violation = check_result(result, auth.call_id, manifest_contract)
        outcome = "SUCCESS" if result.status == "SUCCESS" and violation is None else "ERROR"
        try:
            await self._record(
                "TOOL_INVOCATION_COMPLETE",
                outcome,
                principal,
                correlation_id or auth.correlation_id,
                session,
                resource=auth.name,
                durable=True,
                metadata={
                    "invocation_id": invocation_id,
                    "mode": "governed_local",
                    "status": result.status,
                    "execution_time_ms": str(execution_time_ms),
                    **({"violation": violation} if violation else {}),
                },
            )
        finally:  # settled at LogToolResult, after the COMPLETE record
            self._metering.settle_local(invocation_id, replace(used, status=result.status))

    # ------------------------------------------------------------------ steps

    def _pick(self, session: Session, name: str, *, need_streaming: bool) -> RuntimeConnection:
        """A Runtime for the call (step 10); a refusal says if other replicas' Runtimes serve it."""
        try:
            return self._runtimes.pick(session, name, need_streaming=need_streaming)
        except ExecutionError as exc:
            if exc.code == "UNSUPPORTED_TOOL" and self._directory is not None:
                others = self._directory.elsewhere(session.tenant_id, name)
                if others:
                    raise runtime_directory.refusal(name, others) from None
            raise

    async def _resolve(self, session_id: str, principal: Principal) -> Session:
        """The caller's live session (SPEC §3.19 step 3), adopted if another Host created it."""
        if self._shared is not None:
            return await self._shared.resolve(session_id, principal)
        return self._sessions.resolve(session_id, principal)

    def _parse_call(self, req: CallRequest) -> tuple[Any, str]:
        try:
            validate_call_id(req.call_id, "call.call_id")
        except AdmError as exc:
            raise ValidationError(
                "SCHEMA_VIOLATION", f"The call is invalid: {exc}.", details={"field": exc.path}
            ) from None
        if len(req.args_json) > self._limits.max_message_bytes:
            raise ValidationError(
                "MESSAGE_TOO_LARGE", "The arguments exceed the Host's size limit."
            )
        try:
            args = parse_json(req.args_json)
            digest = "sha256:" + hashlib.sha256(canonical_json(args)).hexdigest()
        except AdmError as exc:
            raise ValidationError(
                "MALFORMED_REQUEST",
                f"call.args is not valid JSON ({exc.reason}); send the arguments as a JSON object.",
                details={"field": "call.args"},
            ) from None
        return args, digest

    def _idempotent(
        self, session: Session, req: CallRequest, args_digest: str
    ) -> asyncio.Future[Any] | None:
        entry = session.calls.get(req.call_id)
        if entry is None:
            return None
        if entry.expires_at_ms <= ids.now_ms():
            del session.calls[req.call_id]
            return None
        if entry.args_digest != args_digest:
            raise StateError(
                "INVALID_STATE",
                f"call_id '{req.call_id}' was already used in this session with other arguments; "
                "use a new call_id for a new call.",
            )
        return entry.outcome

    def _govern(
        self,
        ctx: SecurityContext,
        session: Session,
        contract: ToolContract,
        args: Any,
        req: CallRequest,
    ) -> tuple[dict[str, str], PolicyOutcome]:
        """RBAC, then the argument schema, then CEL policy; raises the first refusal.

        Decision (docs/protocol-decisions.md): the schema check runs between RBAC and policy,
        not after policy as SPEC §3.19 lists it. RBAC first, so a caller who may not call a tool
        learns nothing about its schema; schema before policy, so a condition only ever reads
        arguments of the types the contract declares.

        Returns:
            Audit metadata of the decision, and the policy outcome (for its AUDIT matches).
        """
        rbac = self._control.check_rbac(ctx, contract)
        rbac.raise_if_denied()
        self._check_args(contract, args, req)
        outcome = self._control.evaluate_policies(
            ctx, contract, CallFacts(args, session.session_id, session.expires_at_ms)
        )
        outcome.raise_if_denied()
        governance = {
            "rbac_rule": rbac.matched_rule,
            "rbac_version": str(ctx.rbac_version),
            "policy_set_version": str(outcome.set_version),
        }
        if outcome.evaluated:
            governance["applied_policies"] = ",".join(outcome.evaluated)
        return governance, outcome

    async def _approve(
        self,
        principal: Principal,
        session: Session,
        contract: ToolContract,
        args: Any,
        args_digest: str,
        req: CallRequest,
        outcome: PolicyOutcome,
    ) -> dict[str, str]:
        """The per-call approval step, after (5)-(8) and before (7) budget (SPEC §3.11).

        A contract without ``governance_metadata.approval`` and with no true ``REQUIRE_APPROVAL``
        policy (``outcome.approvals``) passes with no store access. Otherwise the call is held
        (``EMERGENCY_OVERRIDE_REQUIRED``, a request opened) until the same call comes back with
        an APPROVED, unexpired approval, which this step consumes (compare-and-set); see
        "Per-call approval" in docs/protocol-decisions.md.

        Returns:
            Audit metadata for the START or AUTHORIZATION_SUCCESS record.
        """
        if approval_rule(contract) is None and not outcome.approvals:
            return {}
        if self.call_approvals is None:
            raise ConfigurationError(
                "CONFIGURATION_ERROR",
                f"'{contract.name}' needs per-call approval, and this Host has no governance "
                "component to hold it; the call is refused.",
            )
        return await self.call_approvals.check(
            principal,
            contract,
            args=args,
            args_sha256=args_digest,  # computed once, by _parse_call
            metadata=req.metadata,
            correlation_id=req.correlation_id,
            session_id=session.session_id,
            policies=outcome.approvals,
        )

    async def _admit(
        self,
        ctx: SecurityContext,
        principal: Principal,
        session: Session,
        contract: ToolContract,
        req: CallRequest,
        args_digest: str,
    ) -> Admission:
        """(7) Reserve the call's maximum cost on its budgets; a refusal (``QUOTA_EXCEEDED``)
        is audited as ``AUTHORIZATION_DENIED`` like every refusal before dispatch."""
        try:
            return await self._metering.admit(
                ctx, contract, session, self._timeout(req), len(req.args_json)
            )
        except AespError as exc:
            await self._refused(
                "TOOL_INVOCATION_START",
                principal,
                exc,
                req.correlation_id,
                session,
                contract.name,
                args_digest=args_digest,
            )
            raise

    async def _audit_policies(
        self,
        principal: Principal,
        session: Session,
        contract: ToolContract,
        req: CallRequest,
        outcome: PolicyOutcome,
    ) -> None:
        """AUDIT policies whose condition held: recorded, not blocking (item 161)."""
        if outcome.audits:
            await self._record(
                "POLICY_VIOLATION",
                "SUCCESS",
                principal,
                req.correlation_id,
                session,
                resource=contract.name,
                metadata={"effect": "AUDIT", "policies": ",".join(outcome.audits)},
            )

    def _contract(self, session: Session, name: str) -> ToolContract:
        manifest = self._manifest.current
        contract = manifest.active(name) or session.dynamic_contracts.get(name)
        if contract is None:
            held = manifest.get(name)
            state = (
                f" (version {held.contract_version} is {held.approval_status.value}; only ACTIVE "
                "contracts are callable)"
                if held is not None
                else ""
            )
            raise ValidationError(
                "UNSUPPORTED_TOOL",
                f"'{name}' is not an active tool of this Host{state}; list the available tools "
                "with ListTools.",
                details={"status": held.approval_status.value} if held is not None else None,
            )
        return contract

    @staticmethod
    def _check_args(contract: ToolContract, args: Any, req: CallRequest) -> None:
        try:
            contract.check_args(args)
        except AdmError as exc:
            raise ValidationError(
                "SCHEMA_VIOLATION",
                f"The arguments do not match the contract of '{contract.name}': {exc}.",
                details={"field": exc.path, "reason": exc.reason},
            ) from None

    def _timeout(self, req: CallRequest) -> int:
        if req.timeout_ms <= 0:
            return self._limits.default_timeout_ms
        return min(req.timeout_ms, self._limits.max_timeout_ms)

    # ------------------------------------------------------------------ audit

    async def _record(
        self,
        event_type: str,
        outcome: str,
        principal: Principal,
        correlation_id: str,
        session: Session | None = None,
        *,
        resource: str = "",
        durable: bool = False,
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        event = AuditEvent(
            event_type=event_type,
            outcome=outcome,
            action=event_type.lower(),
            principal_id=principal.principal_id,
            tenant_id=principal.tenant_id,
            session_id=session.session_id if session else "",
            resource=resource,
            correlation_id=correlation_id,
            metadata=metadata or {},
        )
        await self._audit.append(event, durable=durable)

    async def _dispatch_failed(
        self,
        exc: AespError,
        conn: RuntimeConnection,
        principal: Principal,
        req: CallRequest,
        session: Session,
        contract: ToolContract,
        inv_id: str,
    ) -> None:
        """A dispatched call failed: count it against the Runtime's breaker and audit it."""
        if exc.code != "INVALID_STATE":  # a forced destroy is not the Runtime's fault
            conn.breaker.record_failure(exc.code)
        await self._record(
            "TOOL_INVOCATION_FAILED",
            "ERROR",
            principal,
            req.correlation_id,
            session,
            resource=contract.name,
            metadata=_error_meta(exc, invocation_id=inv_id),
        )

    def _audit_later(self, *args: Any, **kwargs: Any) -> None:
        """Record an event from a context that cannot await (a closing generator)."""
        task = asyncio.get_running_loop().create_task(self._record(*args, **kwargs))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def record_refusal(
        self, event_type: str, principal: Principal | None, exc: AespError, correlation_id: str
    ) -> None:
        """Audit a refusal the edge raised before the pipeline ran (e.g. a malformed envelope)."""
        if exc.audited:
            return
        if principal is None:
            exc.audited = True
            with contextlib.suppress(AespError):
                await self._audit.append(
                    AuditEvent(
                        event_type="AUTHENTICATION_FAILURE",
                        outcome="DENIED",
                        action="authenticate",
                        correlation_id=correlation_id,
                        metadata=_error_meta(exc),
                    )
                )
            return
        await self._refused(event_type, principal, exc, correlation_id)

    async def _refused(
        self,
        event_type: str,
        principal: Principal,
        exc: AespError,
        correlation_id: str,
        session: Session | None = None,
        resource: str = "",
        args_digest: str = "",
        args_json: bytes = b"",
    ) -> None:
        """Audit a refusal (every refusal writes an event, DESIGN §4; item 116: with the args)."""
        exc.audited = True
        if not args_digest and args_json:
            args_digest = _digest_or_empty(args_json)
        if exc.code == "AUDIT_REQUIREMENT_NOT_MET":
            return  # the log itself is failing; the refusal reaches the caller regardless
        denied = exc.category in (Category.AUTHORIZATION, Category.VALIDATION)
        kind = event_type
        if event_type in ("TOOL_INVOCATION_START", "AUTHORIZATION_DENIED") and exc.code in (
            "POLICY_VIOLATION",
            "POLICY_EVALUATION_FAILED",
        ):
            kind = "POLICY_VIOLATION"  # item 160: a policy denial is a POLICY_VIOLATION event
        elif event_type == "TOOL_INVOCATION_START":
            # SPEC §3.19: every refusal before dispatch is an AUTHORIZATION_DENIED event.
            kind = "AUTHORIZATION_DENIED" if denied else "TOOL_INVOCATION_FAILED"
        with contextlib.suppress(AespError):  # the original refusal is what the caller must see
            await self._record(
                kind,
                "DENIED" if denied else "FAILURE",
                principal,
                correlation_id,
                session,
                resource=resource,
                metadata=_error_meta(exc, **({"args_sha256": args_digest} if args_digest else {})),
            )

    async def _violation(
        self,
        runtime_id: str,
        principal: Principal,
        session: Session | None,
        correlation_id: str,
        what: str,
    ) -> None:
        await self._record(
            "SECURITY_VIOLATION",
            "DENIED",
            principal,
            correlation_id,
            session,
            metadata={
                "code": "PROTOCOL_VIOLATION",
                "reason": what,
                **({"runtime_id": runtime_id} if runtime_id else {}),
            },
        )


class _DeadlineExceeded(Exception):
    """The call's timeout passed before the Runtime answered (C-45)."""


def _deadline(future: asyncio.Future[RuntimeResult]) -> None:
    if not future.done():
        future.set_exception(_DeadlineExceeded())


def _fail(inv: Invocation, error: AespError) -> None:
    """Fail an in-flight invocation (forced destroy or expiry) and tell its Runtime to stop."""
    if inv.done:
        return
    inv.done = True
    inv.connection.outbox.put_nowait(Cancel(inv.invocation_id, error.message))
    if inv.future is not None and not inv.future.done():
        inv.future.set_exception(error)
    if inv.chunks is not None:
        inv.chunks.put_nowait(error)


def _error_meta(exc: AespError, **extra: str) -> dict[str, str]:
    return {"code": exc.code, "reason": exc.message[:300], **exc.details, **extra}


def _digest_or_empty(args_json: bytes) -> str:
    """The argument digest for an audit record, or "" when the bytes are not JSON."""
    try:
        return "sha256:" + hashlib.sha256(canonical_json(parse_json(args_json))).hexdigest()
    except AdmError:
        return ""


def _internal() -> AespError:
    return ExecutionError("INTERNAL_ERROR", "The Host failed while running the call.")


def _log_problem(
    auth: Authorization | None,
    session: Session,
    principal: Principal,
    result: RuntimeResult,
    args_digest: str,
    finished_at_ms: int,
) -> str | None:
    """Why a LogToolResult must be rejected, or None (items 120-123, 117)."""
    if auth is None:
        return "the invocation id is unknown, was already used, or was revoked"
    if auth.session_id != session.session_id or auth.principal_id != principal.principal_id:
        return "foreign invocation id: it was issued for another session"
    if ids.now_ms() > auth.log_deadline_ms:
        return "the authorisation's audit deadline has passed"
    if result.call_id != auth.call_id or result.name != auth.name:
        return "the result's call_id or name differs from the authorised call"
    if args_digest != auth.args_digest:
        return "the argument hash differs from the authorised call"
    if finished_at_ms > auth.expires_at_ms + EXECUTION_GRACE_MS:
        return "the call finished after its authorisation expired"
    return None
