"""The Governance port on SQLite (``data_dir/governance.sqlite3``): approval requests and their
append-only decisions.

Every write is one ``BEGIN IMMEDIATE`` transaction (:mod:`aesp_local._revision`): the version
check, the decision insert, the status move and the revision bump happen under the file's write
lock, so two Hosts on one file serialise and exactly one compare-and-set wins. Triggers refuse
any UPDATE or DELETE of a decision and any change to a request except its status and version,
so even a stray statement cannot rewrite the approval trail.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path

from aesp.core.ports import _approvals as rules
from aesp.core.ports._cursors import decode_number, encode_number
from aesp.core.ports._errors import ConcurrentChangeError, DuplicateError, NotFoundError
from aesp.core.ports._paging import Page, page_limit
from aesp.core.ports.governance import (
    ApprovalDecision,
    ApprovalRequest,
    ApprovalStatus,
    ArtifactType,
)
from aesp_local import _governance_rows as _rows
from aesp_local import _revision
from aesp_local._db import Database

MIGRATIONS = (
    """CREATE TABLE approval_requests (
         seq INTEGER PRIMARY KEY,
         approval_request_id TEXT NOT NULL UNIQUE,
         tenant_id TEXT NOT NULL,
         artifact_type TEXT NOT NULL,
         artifact_id TEXT NOT NULL,
         artifact_data BLOB NOT NULL,
         artifact_digest TEXT NOT NULL,
         requester_id TEXT NOT NULL,
         justification TEXT NOT NULL,
         required_approvers TEXT NOT NULL,
         min_approvals INTEGER NOT NULL,
         status TEXT NOT NULL,
         created_at_ms INTEGER NOT NULL,
         expires_at_ms INTEGER NOT NULL,
         metadata TEXT NOT NULL,
         version INTEGER NOT NULL
       );
       CREATE INDEX approval_requests_by_tenant ON approval_requests (tenant_id, seq);
       CREATE TABLE approval_decisions (
         seq INTEGER PRIMARY KEY,
         approval_request_id TEXT NOT NULL REFERENCES approval_requests (approval_request_id),
         approver_id TEXT NOT NULL,
         decision TEXT NOT NULL,
         comments TEXT NOT NULL,
         conditions TEXT NOT NULL,
         decided_at_ms INTEGER NOT NULL,
         UNIQUE (approval_request_id, approver_id)
       );
       CREATE TRIGGER approval_decisions_no_update BEFORE UPDATE ON approval_decisions
         BEGIN SELECT RAISE(ABORT, 'approval decisions are append-only'); END;
       CREATE TRIGGER approval_decisions_no_delete BEFORE DELETE ON approval_decisions
         BEGIN SELECT RAISE(ABORT, 'approval decisions are append-only'); END;
       CREATE TRIGGER approval_requests_no_delete BEFORE DELETE ON approval_requests
         BEGIN SELECT RAISE(ABORT, 'approval requests are never deleted'); END;
       CREATE TRIGGER approval_requests_frozen BEFORE UPDATE OF seq, approval_request_id,
         tenant_id, artifact_type, artifact_id, artifact_data, artifact_digest, requester_id,
         justification, required_approvers, min_approvals, created_at_ms, expires_at_ms,
         metadata ON approval_requests
         BEGIN SELECT RAISE(ABORT, 'only the status and version of a request change'); END;
       CREATE TRIGGER approval_requests_final BEFORE UPDATE OF status ON approval_requests
         WHEN OLD.status != 'PENDING'
         BEGIN SELECT RAISE(ABORT, 'a decided approval request is final'); END;
       """
    + _revision.REVISION_TABLE,
)


class SqliteApprovalStore:
    """Approval requests and decisions in one SQLite file, shared safely by several Hosts."""

    def __init__(self, path: Path) -> None:
        self._db = Database(path, MIGRATIONS)

    async def create(self, request: ApprovalRequest) -> ApprovalRequest:
        """Store a new PENDING request with version 1.

        Raises:
            DuplicateError: The id exists (nothing changes).
            ValueError: The request is not PENDING.
        """
        rules.check_created(request)

        def work(conn: sqlite3.Connection) -> ApprovalRequest:
            if _select_request(conn, request.approval_request_id) is not None:
                raise DuplicateError(rules.duplicate_request(request.approval_request_id))
            conn.execute(
                f"INSERT INTO approval_requests ({_rows.REQUEST_COLUMNS}) "
                f"VALUES ({', '.join('?' * 15)})",
                _rows.request_row(request),
            )
            _revision.bump(conn)
            return _expect(conn, request.approval_request_id)

        return await _revision.write(self._db, work)

    async def get(self, approval_request_id: str) -> ApprovalRequest | None:
        """The request, or None."""
        return await self._db.run(lambda conn: _select_request(conn, approval_request_id))

    async def list(
        self,
        *,
        tenant_id: str | None,
        status: ApprovalStatus | None = None,
        artifact_type: ArtifactType | None = None,
        limit: int = 0,
        cursor: str = "",
    ) -> Page[ApprovalRequest]:
        """Matching requests in creation order; the cursor is the last one's row sequence.

        Raises:
            ValueError: ``cursor`` was not returned by this store.
        """
        size = page_limit(limit)
        clauses = ["seq > ?"]
        params: list[object] = [decode_number(cursor, "list")]
        for clause, value in (
            ("tenant_id = ?", tenant_id),
            ("status = ?", None if status is None else ApprovalStatus(status)),
            ("artifact_type = ?", None if artifact_type is None else ArtifactType(artifact_type)),
        ):
            if value is not None:
                clauses.append(clause)
                params.append(str(value))
        rows = await self._db.execute(
            f"SELECT seq, {_rows.REQUEST_COLUMNS} FROM approval_requests "
            f"WHERE {' AND '.join(clauses)} ORDER BY seq LIMIT ?",
            (*params, size + 1),
        )
        items = [_rows.request(r[1:]) for r in rows[:size]]
        return Page(items, encode_number(int(rows[size - 1][0])) if len(rows) > size else "")

    async def record_decision(
        self, decision: ApprovalDecision, *, expected_version: int, new_status: ApprovalStatus
    ) -> ApprovalRequest:
        """Append the decision and move the status in one transaction, if the version matches.

        Raises:
            ValueError, NotFoundError, ConcurrentChangeError, NotPendingError, DuplicateError:
                As :meth:`ApprovalStore.record_decision` documents; nothing is written.
        """
        status = rules.check_new_status(decision, new_status)
        request_id = decision.approval_request_id

        def work(conn: sqlite3.Connection) -> ApprovalRequest:
            request = _current(conn, request_id, expected_version)
            rules.check_decidable(request, decision)
            taken = conn.execute(
                "SELECT 1 FROM approval_decisions WHERE approval_request_id = ? "
                "AND approver_id = ?",
                (request_id, decision.approver_id),
            ).fetchone()
            if taken is not None:
                raise DuplicateError(rules.already_decided(decision))
            conn.execute(
                f"INSERT INTO approval_decisions ({_rows.DECISION_COLUMNS}) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                _rows.decision_row(decision),
            )
            return _move(conn, request, status)

        return await _revision.write(self._db, work)

    async def expire(
        self, approval_request_id: str, *, expected_version: int, at_ms: int
    ) -> ApprovalRequest:
        """Mark the request EXPIRED, if the version matches and its deadline has passed.

        Raises:
            NotFoundError, ConcurrentChangeError, NotPendingError, ValueError: As
                :meth:`ApprovalStore.expire` documents; nothing is written.
        """

        def work(conn: sqlite3.Connection) -> ApprovalRequest:
            request = _current(conn, approval_request_id, expected_version)
            rules.check_expirable(request, at_ms)
            return _move(conn, request, ApprovalStatus.EXPIRED)

        return await _revision.write(self._db, work)

    async def decisions(self, approval_request_id: str) -> Sequence[ApprovalDecision]:
        """Every decision, oldest (lowest row sequence) first; empty for an unknown id."""
        rows = await self._db.execute(
            f"SELECT {_rows.DECISION_COLUMNS} FROM approval_decisions "
            "WHERE approval_request_id = ? ORDER BY seq",
            (approval_request_id,),
        )
        return [_rows.decision(r) for r in rows]

    async def revision(self) -> int:
        """Bumped in the same transaction as every write."""
        return await self._db.run(_revision.current)

    async def close(self) -> None:
        """Close the file."""
        await self._db.close()


def _current(
    conn: sqlite3.Connection, approval_request_id: str, expected_version: int
) -> ApprovalRequest:
    """The stored request, checked to be at ``expected_version`` (inside the write lock)."""
    request = _select_request(conn, approval_request_id)
    if request is None:
        raise NotFoundError(f"no approval request {approval_request_id!r}")
    if request.version != expected_version:
        raise ConcurrentChangeError(
            f"approval request {approval_request_id!r}",
            expected=expected_version,
            actual=request.version,
        )
    return request


def _move(
    conn: sqlite3.Connection, request: ApprovalRequest, status: ApprovalStatus
) -> ApprovalRequest:
    """Set the status and bump the version; the caller checked the version under this same
    write lock (``BEGIN IMMEDIATE``), so no other writer can have moved it since."""
    conn.execute(
        "UPDATE approval_requests SET status = ?, version = version + 1 "
        "WHERE approval_request_id = ?",
        (status.value, request.approval_request_id),
    )
    _revision.bump(conn)
    return _expect(conn, request.approval_request_id)


def _select_request(conn: sqlite3.Connection, approval_request_id: str) -> ApprovalRequest | None:
    row = conn.execute(
        f"SELECT {_rows.REQUEST_COLUMNS} FROM approval_requests WHERE approval_request_id = ?",
        (approval_request_id,),
    ).fetchone()
    return _rows.request(row) if row is not None else None


def _expect(conn: sqlite3.Connection, approval_request_id: str) -> ApprovalRequest:
    """The request just written in this transaction (it cannot be missing: rows are never
    deleted, and the write lock is held)."""
    request = _select_request(conn, approval_request_id)
    if request is None:
        raise RuntimeError(f"approval request {approval_request_id!r} vanished mid-transaction")
    return request
