"""``EnterpriseAuditService`` as core operations (SPEC §3.7 (3), §3.10, C-35, C-41).

Every operation needs ``aesp:audit:<Rpc>`` and runs on the tenant the request resolves to
(:class:`~aesp.core.admin._guard.AdminGuard`: ``""`` = the caller's own tenant, another tenant
or ``"*"`` needs ``aesp:platform:cross-tenant``, item 184). Reads are audited ``ADMIN_QUERY``,
exports ``AUDIT_EXPORT`` (durably, before the first byte leaves), refusals
``AUTHORIZATION_DENIED``. There is no update or delete operation (item 190).

Where the data comes from:

* ``QueryEvents`` and the counts read the Host's :class:`~aesp.core.ports.audit.AuditQuery`:
  the index the :class:`~aesp.core.audit_shipper.AuditShipper` feeds from the file log (it lags
  the log by at most a poll interval), or the log itself when it answers queries;
* exports, proofs, checkpoints and the integrity check read the verifiable file log itself,
  so they never depend on the index being complete.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from aesp.core.admin._audit_support import (
    FORMATS,
    EventDraft,
    EventQuery,
    cef_line,
    chunked,
    csv_lines,
    event_line,
    find_leaf,
    json_lines,
    malformed,
    verify_tenant,
)
from aesp.core.admin._guard import ADMIN_QUERY, ALL_TENANTS, AdminGuard, Done, not_found
from aesp.core.audit import AuditEvent, AuditLog, AuditQuery, FileAuditLog
from aesp.core.audit_export import records
from aesp.core.audit_keys import Checkpoint
from aesp.core.control import ControlPlane
from aesp.core.errors import AespError, ValidationError
from aesp.core.ids import now_ms
from aesp.core.ports._paging import MAX_PAGE, Page
from aesp.core.ports.audit import AuditFilter
from aesp.core.principal import Principal
from aesp.core.security import SecurityContext

__all__ = [
    "AuditAdmin",
    "AuditStatisticsView",
    "ComplianceFindingView",
    "ComplianceReportView",
    "ConsistencyView",
    "EventDraft",
    "EventQuery",
    "InclusionView",
    "LoggedEvent",
]

LOOKBACK = 4096  # newest leaves searched for a just-logged event's position
EVIDENCE = 50  # event ids attached to one finding
VIOLATION_TYPES = ("POLICY_VIOLATION", "SECURITY_VIOLATION")
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class LoggedEvent:
    """Where a ``LogEvent`` landed; position and hash only when it was made durable."""

    event_id: str
    durable: bool
    leaf_index: int | None = None
    hash: str = ""


@dataclass(frozen=True, slots=True)
class AuditStatisticsView:
    """Counts over a window (``AuditStatistics``)."""

    total_events: int
    event_type_counts: dict[str, int]
    outcome_counts: dict[str, int]
    unique_principals: int
    tree_size: int
    oldest_event_ms: int
    newest_event_ms: int


@dataclass(frozen=True, slots=True)
class ComplianceFindingView:
    """One control check: PASS, FAIL or NOT_APPLICABLE."""

    control_id: str
    status: str
    description: str
    evidence_event_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ComplianceReportView:
    """A log-derived evidence summary over a window (decision 88)."""

    report_id: str
    tenant_id: str
    framework: str
    start_ms: int
    end_ms: int
    generated_at_ms: int
    statistics: AuditStatisticsView
    denied_events: int
    policy_violations: int
    findings: tuple[ComplianceFindingView, ...]
    checkpoint: Checkpoint | None
    integrity_verified: bool


@dataclass(frozen=True, slots=True)
class InclusionView:
    """An RFC 9162 inclusion proof and, when the sizes match, the checkpoint it meets."""

    leaf_index: int
    tree_size: int
    hashes: tuple[bytes, ...]
    leaf_hash: bytes
    checkpoint: Checkpoint | None


@dataclass(frozen=True, slots=True)
class ConsistencyView:
    """An RFC 9162 consistency proof and, when the sizes match, the newer checkpoint."""

    first_size: int
    second_size: int
    hashes: tuple[bytes, ...] = field(default=())
    checkpoint: Checkpoint | None = None


class AuditAdmin:
    """The Audit Manager's operations. Build it once per Host.

    Args:
        control: The control plane (permissions, tenants, the audit log refusals go to).
        log: The Host's audit log (``LogEvent`` appends here).
        query: What ``QueryEvents`` reads (None: queries answer ``FEATURE_UNAVAILABLE``).
        log_path: The file of a :class:`FileAuditLog` (exports, proofs); None for other logs.
        clock_ms: Unix milliseconds.
    """

    def __init__(
        self,
        control: ControlPlane,
        *,
        log: AuditLog,
        query: AuditQuery | None,
        log_path: Path | None = None,
        clock_ms: Callable[[], int] = now_ms,
    ) -> None:
        self._control = control
        self._guard = AdminGuard(control, service="audit")
        self._log = log
        self._query = query
        self._file = log if isinstance(log, FileAuditLog) and log_path else None
        self._path = log_path if self._file is not None else None
        self._clock_ms = clock_ms

    async def context(
        self, principal: Principal, *, rpc: str, correlation_id: str
    ) -> SecurityContext:
        """The caller's context; a refusal is audited (see :meth:`AdminGuard.context`)."""
        return await self._guard.context(principal, rpc=rpc, correlation_id=correlation_id)

    async def record_refusal(
        self, ctx: SecurityContext, rpc: str, exc: AespError, *, correlation_id: str
    ) -> None:
        """Audit a refusal the edge raised for ``rpc`` (an unconvertible request)."""
        kind = "AUDIT_EXPORT" if rpc == "ExportAuditLogs" else ADMIN_QUERY
        await self._guard.reject(ctx, rpc, kind, exc, correlation_id)

    # ------------------------------------------------------------------ LogEvent

    async def log_event(
        self,
        ctx: SecurityContext,
        draft: EventDraft,
        *,
        immediate_flush: bool = False,
        correlation_id: str = "",
    ) -> LoggedEvent:
        """``LogEvent``: append one event to the caller's tenant log (append only, item 190).

        (1) authorise ``aesp:audit:LogEvent`` on the caller's own tenant; (2) check the draft;
        (3) the Host sets id, time, principal and tenant from the verified caller (decision
        84); (4) append, durably when asked; (5) find its leaf when durable. The event is its
        own audit record: no second event is written.

        Raises:
            AespError: ``PERMISSION_DENIED``, ``MALFORMED_REQUEST``, ``AUDIT_REQUIREMENT_NOT_MET``.
        """
        try:
            # (1): never another tenant's log, whatever the caller's permissions.
            self._control.require(ctx, "aesp:audit:LogEvent")
            draft.check()  # (2)
        except AespError as exc:
            await self._guard.reject(ctx, "LogEvent", ADMIN_QUERY, exc, correlation_id)
            raise
        meta = dict(draft.metadata)
        meta["logged_by"] = "LogEvent"  # tells client-logged events from the Host's own
        if draft.client_event_id:
            meta["client_event_id"] = draft.client_event_id
        if draft.client_timestamp_ms:
            meta["client_timestamp_ms"] = str(draft.client_timestamp_ms)
        event = AuditEvent(  # (3)
            event_type=draft.event_type,
            outcome=draft.outcome,
            action=draft.action,
            principal_id=ctx.principal_id,
            tenant_id=ctx.tenant_id,
            session_id=draft.session_id,
            resource=draft.resource,
            correlation_id=draft.correlation_id or correlation_id,
            metadata=meta,
            policy_violations=draft.policy_violations,
            source_ip=draft.source_ip or ctx.source_ip,
            timestamp_ms=self._clock_ms(),
            user_agent=draft.user_agent,
            risk_score=draft.risk_score,
            trace_id=draft.trace_id,
            organization_id=draft.organization_id,
            applied_policies=draft.applied_policies,
        )
        await self._log.append(event, durable=immediate_flush)  # (4)
        if not immediate_flush or self._file is None:
            return LoggedEvent(event.event_id, durable=immediate_flush)
        found = await asyncio.to_thread(self._recent_leaf, ctx.tenant_id, event.event_id)  # (5)
        if found is None:
            return LoggedEvent(event.event_id, durable=True)
        return LoggedEvent(event.event_id, durable=True, leaf_index=found[0], hash=found[1])

    def _recent_leaf(self, tenant: str, event_id: str) -> tuple[int, str] | None:
        assert self._file is not None
        size = self._file.size(tenant)
        for index in range(size - 1, max(-1, size - 1 - LOOKBACK), -1):
            leaf = self._file.leaf(tenant, index)
            if leaf.event_id == event_id:
                return index, leaf.hash
        return None

    # ------------------------------------------------------------------ queries

    async def query_events(
        self, ctx: SecurityContext, query: EventQuery, *, correlation_id: str = ""
    ) -> Page[AuditEvent]:
        """``QueryEvents``: one page, oldest first; ``"*"`` = every tenant (platform only).

        Raises:
            AespError: ``TENANT_ACCESS_DENIED``, ``PERMISSION_DENIED``, ``MALFORMED_REQUEST``
                (bad filter key or cursor), ``FEATURE_UNAVAILABLE`` (no query store).
        """

        async def act(target: str) -> Done[Page[AuditEvent]]:
            flt = query.to_filter(None if target == ALL_TENANTS else target)
            try:
                page = await self._source().query(flt, limit=query.limit, cursor=query.cursor)
            except ValueError:
                raise malformed("cursor was not returned by QueryEvents.", "cursor") from None
            return Done(page, metadata={"count": str(len(page.items))})

        return await self._read(ctx, "QueryEvents", query.tenant_id, correlation_id, act)

    async def statistics(
        self,
        ctx: SecurityContext,
        *,
        tenant_id: str = "",
        start_ms: int = 0,
        end_ms: int = 0,
        correlation_id: str = "",
    ) -> AuditStatisticsView:
        """``GetAuditStatistics``: counts over ``[start_ms, end_ms)`` (0 = unbounded)."""

        async def act(target: str) -> Done[AuditStatisticsView]:
            tenant = None if target == ALL_TENANTS else target
            flt = AuditFilter(tenant_id=tenant, start_ms=start_ms or None, end_ms=end_ms or None)
            return Done(await self._stats(flt, tenant, []))

        return await self._read(ctx, "GetAuditStatistics", tenant_id, correlation_id, act)

    async def compliance_report(
        self,
        ctx: SecurityContext,
        *,
        tenant_id: str = "",
        framework: str = "",
        start_ms: int = 0,
        end_ms: int = 0,
        correlation_id: str = "",
    ) -> ComplianceReportView:
        """``GetComplianceReport``: counts, denials, violations, checkpoint and integrity.

        It is an evidence summary computed from the log, not a certification: the same checks
        run whatever ``framework`` names (decision 88).
        """

        async def act(target: str) -> Done[ComplianceReportView]:
            tenant = _one(target)
            generated = self._clock_ms()
            end = end_ms or generated
            if len(framework) > 64:
                raise malformed("framework is limited to 64 characters.", "framework")
            flt = AuditFilter(tenant_id=tenant, start_ms=start_ms or None, end_ms=end)
            violations: list[AuditEvent] = []
            stats = await self._stats(flt, tenant, violations)
            verified, problem = await self._integrity(tenant)
            report = ComplianceReportView(
                report_id=_report_id(tenant, framework, start_ms, end, generated),
                tenant_id=tenant,
                framework=framework or "GENERIC",
                start_ms=start_ms,
                end_ms=end,
                generated_at_ms=generated,
                statistics=stats,
                denied_events=stats.outcome_counts.get("DENIED", 0),
                policy_violations=sum(stats.event_type_counts.get(t, 0) for t in VIOLATION_TYPES),
                findings=self._findings(verified, problem, violations),
                checkpoint=self._file.checkpoint(tenant) if self._file else None,
                integrity_verified=verified,
            )
            return Done(report, resource=f"compliance:{report.framework}")

        return await self._read(ctx, "GetComplianceReport", tenant_id, correlation_id, act)

    # ------------------------------------------------------------------ export

    async def export(
        self, ctx: SecurityContext, query: EventQuery, fmt: str, *, correlation_id: str = ""
    ) -> AsyncIterator[bytes]:
        """``ExportAuditLogs``: authorise and audit ``AUDIT_EXPORT``, then return the chunks.

        JSON from a file log is the tenant's own lines, verifiable offline; it takes no filter
        but the tenant (a selection could not verify). CSV and CEF apply every filter.

        Raises:
            AespError: refusals, ``MALFORMED_REQUEST`` (format, filters), before any byte.
        """
        kind = (fmt or "JSON").upper()

        async def act(target: str) -> Done[str]:
            tenant = _one(target)
            if kind not in FORMATS:
                raise malformed(f"format must be one of {', '.join(FORMATS)}.", "format")
            query.to_filter(tenant)  # checks the filter keys
            if kind == "JSON" and self._path is not None and query.selects_part:
                raise malformed(
                    "A JSON export is the tenant's whole verifiable log and takes no filter but "
                    "tenant_id; use CSV or CEF for a selection.",
                    "query",
                )
            if self._path is None:
                self._source()  # FEATURE_UNAVAILABLE before the export is audited
            return Done(tenant, resource=f"audit:{tenant}", metadata={"format": kind})

        tenant = await self._guard.run(
            ctx,
            "ExportAuditLogs",
            "AUDIT_EXPORT",
            tenant_id=query.tenant_id,
            correlation_id=correlation_id,
            action=act,
        )
        return self._stream(tenant, query, kind)

    async def _stream(self, tenant: str, query: EventQuery, kind: str) -> AsyncIterator[bytes]:
        flt = query.to_filter(tenant)
        if self._path is not None:
            chunks = chunked(self._file_parts(self._path, tenant, flt, kind))
            while (chunk := await asyncio.to_thread(next, chunks, None)) is not None:
                yield chunk
            return
        render = {"JSON": event_line, "CSV": None, "CEF": cef_line}[kind]
        batch: list[AuditEvent] = []
        first = True
        async for event in self._all(flt):
            batch.append(event)
            if len(batch) >= MAX_PAGE:
                yield self._render(batch, render, header=first)
                batch, first = [], False
        if batch or first:
            yield self._render(batch, render, header=first)

    @staticmethod
    def _render(
        events: list[AuditEvent], render: Callable[[AuditEvent], bytes] | None, *, header: bool
    ) -> bytes:
        if render is not None:
            return b"".join(render(e) for e in events)
        lines = list(csv_lines((None, e) for e in events))
        return b"".join(lines if header else lines[1:])

    @staticmethod
    def _file_parts(path: Path, tenant: str, flt: AuditFilter, kind: str) -> Iterator[bytes]:
        if kind == "JSON":
            yield from json_lines(path, tenant)
            return
        selected = (
            (int(r["index"]), AuditEvent.from_json(r["event"]))
            for _, r in records(path, tenant)
            if r.get("kind") == "leaf"
        )
        matching = ((i, e) for i, e in selected if flt.matches(e))
        if kind == "CSV":
            yield from csv_lines(matching)
        else:
            yield from (cef_line(e) for _, e in matching)

    # ------------------------------------------------------------------ proofs

    async def checkpoint(
        self, ctx: SecurityContext, *, tenant_id: str = "", correlation_id: str = ""
    ) -> Checkpoint:
        """``GetCheckpoint``: the tenant's latest signed checkpoint.

        Raises:
            AespError: ``NOT_FOUND`` before the tenant's first checkpoint;
                ``FEATURE_UNAVAILABLE`` without a file log.
        """

        async def act(target: str) -> Done[Checkpoint]:
            tenant = _one(target)
            found = self._proofs().checkpoint(tenant)
            if found is None:
                raise not_found("checkpoint", "latest", tenant, field_name="tenant_id")
            return Done(found, metadata={"tree_size": str(found.size)})

        return await self._read(ctx, "GetCheckpoint", tenant_id, correlation_id, act)

    async def inclusion_proof(
        self,
        ctx: SecurityContext,
        event_id: str,
        *,
        tenant_id: str = "",
        tree_size: int = 0,
        correlation_id: str = "",
    ) -> InclusionView:
        """``GetInclusionProof`` of ``event_id`` against ``tree_size`` (0 = latest checkpoint).

        Raises:
            AespError: ``NOT_FOUND`` (no such event in the tenant's log, or not yet covered by a
                checkpoint), ``MALFORMED_REQUEST`` (a size beyond the durable log or not above
                the event's leaf), ``FEATURE_UNAVAILABLE`` without a file log.
        """

        async def act(target: str) -> Done[InclusionView]:
            tenant, log = _one(target), self._proofs()
            assert self._path is not None
            found = await asyncio.to_thread(find_leaf, self._path, tenant, event_id)
            if found is None:
                raise not_found("audit event", event_id, tenant, field_name="event_id")
            index, leaf_hash = found
            latest = log.checkpoint(tenant)
            size = tree_size or (latest.size if latest else 0)
            if size <= index:
                if tree_size:
                    raise malformed(f"tree_size must exceed the event's leaf {index}.", "tree_size")
                raise not_found(
                    "checkpoint covering event", event_id, tenant, field_name="event_id"
                )
            try:
                hashes = log.inclusion_proof(tenant, index, size)
            except ValueError as exc:
                raise malformed(str(exc), "tree_size") from None
            cp = latest if latest is not None and latest.size == size else None
            view = InclusionView(index, size, tuple(hashes), bytes.fromhex(leaf_hash), cp)
            return Done(view, resource=f"audit_event:{event_id[:128]}")

        return await self._read(ctx, "GetInclusionProof", tenant_id, correlation_id, act)

    async def consistency_proof(
        self,
        ctx: SecurityContext,
        *,
        first_size: int,
        second_size: int = 0,
        tenant_id: str = "",
        correlation_id: str = "",
    ) -> ConsistencyView:
        """``GetConsistencyProof`` between two sizes (``second_size`` 0 = latest checkpoint).

        Raises:
            AespError: ``MALFORMED_REQUEST`` unless ``1 <= first_size <= second_size <=`` the
                durable leaves; ``FEATURE_UNAVAILABLE`` without a file log.
        """

        async def act(target: str) -> Done[ConsistencyView]:
            tenant, log = _one(target), self._proofs()
            latest = log.checkpoint(tenant)
            second = second_size or (latest.size if latest else 0)
            if not 1 <= first_size <= second:
                raise malformed("need 1 <= first_size <= second_size.", "first_size")
            try:
                hashes = log.consistency_proof(tenant, first_size, second)
            except ValueError as exc:
                raise malformed(str(exc), "second_size") from None
            cp = latest if latest is not None and latest.size == second else None
            return Done(ConsistencyView(first_size, second, tuple(hashes), cp))

        return await self._read(ctx, "GetConsistencyProof", tenant_id, correlation_id, act)

    # ------------------------------------------------------------------ internals

    async def _read(
        self,
        ctx: SecurityContext,
        rpc: str,
        tenant_id: str,
        correlation_id: str,
        act: Callable[[str], Awaitable[Done[T]]],
    ) -> T:
        return await self._guard.run(
            ctx, rpc, ADMIN_QUERY, tenant_id=tenant_id, correlation_id=correlation_id, action=act
        )

    def _source(self) -> AuditQuery:
        if self._query is None:
            raise ValidationError(
                "FEATURE_UNAVAILABLE", "This Host has no audit query store; configure [profile]."
            )
        return self._query

    def _proofs(self) -> FileAuditLog:
        if self._file is None:
            raise ValidationError(
                "FEATURE_UNAVAILABLE",
                "This Host's audit log is not the verifiable file log; it has no proofs.",
            )
        return self._file

    async def _all(self, flt: AuditFilter) -> AsyncIterator[AuditEvent]:
        cursor = ""
        while True:
            page = await self._source().query(flt, limit=MAX_PAGE, cursor=cursor)
            for event in page.items:
                yield event
            if not page.next_cursor:
                return
            cursor = page.next_cursor

    async def _stats(
        self, flt: AuditFilter, tenant: str | None, violations: list[AuditEvent]
    ) -> AuditStatisticsView:
        types: Counter[str] = Counter()
        outcomes: Counter[str] = Counter()
        principals: set[str] = set()
        oldest = newest = 0
        async for event in self._all(flt):
            types[event.event_type] += 1
            outcomes[event.outcome] += 1
            principals.add(event.principal_id)
            oldest = min(oldest or event.timestamp_ms, event.timestamp_ms)
            newest = max(newest, event.timestamp_ms)
            if event.event_type in VIOLATION_TYPES and len(violations) < EVIDENCE:
                violations.append(event)
        size = self._file.size(tenant) if self._file is not None and tenant is not None else 0
        return AuditStatisticsView(
            sum(types.values()), dict(types), dict(outcomes), len(principals), size, oldest, newest
        )

    async def _integrity(self, tenant: str) -> tuple[bool, str]:
        key = self._file.public_key if self._file is not None else None
        if self._path is None or key is None:
            return False, "the Host's audit log is not the verifiable file log"
        return await asyncio.to_thread(verify_tenant, self._path, tenant, key)

    def _findings(
        self, verified: bool, problem: str, violations: list[AuditEvent]
    ) -> tuple[ComplianceFindingView, ...]:
        if self._path is None:
            integrity = ComplianceFindingView("AUDIT.INTEGRITY", "NOT_APPLICABLE", problem)
        else:
            integrity = ComplianceFindingView(
                "AUDIT.INTEGRITY",
                "PASS" if verified else "FAIL",
                "The tenant's hash chain, Merkle tree and checkpoint signatures were re-checked "
                "against the Host's public key: " + ("all verified." if verified else problem),
            )
        ids = tuple(e.event_id for e in violations)
        policy = ComplianceFindingView(
            "POLICY.VIOLATIONS",
            "FAIL" if ids else "PASS",
            f"{'Some' if ids else 'No'} POLICY_VIOLATION or SECURITY_VIOLATION events were "
            "recorded in the window.",
            ids,
        )
        return integrity, policy


def _one(target: str) -> str:
    """A single tenant's log: ``"*"`` names none (each tenant has its own tree)."""
    if target == ALL_TENANTS:
        raise malformed("Name one tenant; each tenant's audit log is its own tree.", "tenant_id")
    return target


def _report_id(tenant: str, framework: str, start: int, end: int, generated: int) -> str:
    digest = hashlib.sha256(f"{tenant}\n{framework}\n{start}\n{end}\n{generated}".encode())
    return "RPT-" + digest.hexdigest()[:16]
