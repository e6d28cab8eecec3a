"""The Identity port on SQLite (``data_dir/identity.sqlite3``).

Every write runs in one ``BEGIN IMMEDIATE`` transaction that also bumps the one-row revision
counter, so a reader never sees data without its revision nor a revision without its data, and
a refused write leaves nothing behind. ``IMMEDIATE`` takes the file's write lock before the first
read, so the checks a write makes (a duplicate name, a principal's tenant) cannot be raced by a
second Host writing the same file.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import fields
from pathlib import Path
from typing import Any, TypeVar

from aesp.core.ports._paging import Page, page_limit
from aesp.core.ports.identity import (
    DuplicateError,
    PrincipalRecord,
    PrincipalType,
    ServiceAccount,
)
from aesp.identity.apikeys import ApiKeyRecord
from aesp_local._db import Database

T = TypeVar("T")

MIGRATIONS = (
    """CREATE TABLE principals (
         principal_id TEXT PRIMARY KEY,
         tenant_id TEXT NOT NULL,
         principal_type TEXT NOT NULL,
         display_name TEXT NOT NULL,
         active INTEGER NOT NULL,
         security_clearance TEXT NOT NULL,
         data_classification TEXT NOT NULL,
         organization_id TEXT NOT NULL,
         business_unit TEXT NOT NULL,
         cost_center TEXT NOT NULL,
         source TEXT NOT NULL,
         created_at_ms INTEGER NOT NULL,
         updated_at_ms INTEGER NOT NULL,
         metadata TEXT NOT NULL
       );
       CREATE INDEX principals_by_tenant ON principals (tenant_id, principal_id);
       CREATE TABLE service_accounts (
         service_account_id TEXT PRIMARY KEY,
         tenant_id TEXT NOT NULL,
         name TEXT NOT NULL,
         description TEXT NOT NULL,
         created_by TEXT NOT NULL,
         metadata TEXT NOT NULL,
         principal_id TEXT NOT NULL REFERENCES principals (principal_id),
         key_id TEXT NOT NULL,
         key_hash TEXT NOT NULL,
         key_created_at_ms INTEGER NOT NULL,
         key_expires_at_ms INTEGER NOT NULL,
         key_revoked_at_ms INTEGER NOT NULL,
         UNIQUE (tenant_id, name)
       );
       CREATE UNIQUE INDEX service_accounts_by_key ON service_accounts (key_id);
       CREATE TABLE revision (
         id INTEGER PRIMARY KEY CHECK (id = 1),
         value INTEGER NOT NULL
       );
       INSERT INTO revision VALUES (1, 0)""",
)

_PRINCIPAL_FIELDS = tuple(f.name for f in fields(PrincipalRecord))  # = the column names
_PRINCIPAL_COLUMNS = ", ".join(_PRINCIPAL_FIELDS)
_PRINCIPAL_INSERT = (
    f"INSERT INTO principals ({_PRINCIPAL_COLUMNS}) "
    f"VALUES ({', '.join('?' * len(_PRINCIPAL_FIELDS))})"
)
# A replacement keeps the id, the tenant (checked unchanged first) and the first creation time.
_PRINCIPAL_UPSERT = (
    _PRINCIPAL_INSERT
    + " ON CONFLICT(principal_id) DO UPDATE SET "
    + ", ".join(
        f"{c} = excluded.{c}"
        for c in _PRINCIPAL_FIELDS
        if c not in ("principal_id", "tenant_id", "created_at_ms")
    )
)
_ACCOUNT_COLUMNS = (
    "service_account_id, tenant_id, name, description, created_by, metadata, key_id, key_hash, "
    "key_created_at_ms, key_expires_at_ms, key_revoked_at_ms"
)
# A revocation time never moves later: a second revocation keeps the earlier of the two.
_REVOKE_KEY = (
    "UPDATE service_accounts SET key_revoked_at_ms = CASE WHEN key_revoked_at_ms > 0 "
    "THEN MIN(key_revoked_at_ms, ?) ELSE ? END WHERE service_account_id = ?"
)
_DEACTIVATE = (
    "UPDATE principals SET active = 0, updated_at_ms = MAX(updated_at_ms, ?) "
    "WHERE principal_id = ? AND active = 1"
)


class SqliteIdentityStore:
    """Principals and service accounts (with their hashed keys) in one SQLite file."""

    def __init__(self, path: Path) -> None:
        self._db = Database(path, MIGRATIONS)

    async def get_principal(self, principal_id: str) -> PrincipalRecord | None:
        """The principal, or None."""
        rows = await self._db.execute(
            f"SELECT {_PRINCIPAL_COLUMNS} FROM principals WHERE principal_id = ?", (principal_id,)
        )
        return _principal(rows[0]) if rows else None

    async def put_principal(self, record: PrincipalRecord) -> None:
        """Create or replace, keeping the first creation time; the tenant may not change."""
        _require_ids(principal_id=record.principal_id, tenant_id=record.tenant_id)
        await self._write(lambda conn: _put_principal(conn, record))

    async def list_principals(
        self,
        *,
        tenant_id: str | None,
        principal_type: PrincipalType | None = None,
        include_inactive: bool = False,
        limit: int = 0,
        cursor: str = "",
    ) -> Page[PrincipalRecord]:
        """Principals by id; the cursor is the last id of the previous page."""
        size = page_limit(limit)
        where, params = _filters(
            ("tenant_id = ?", tenant_id),
            ("principal_type = ?", principal_type.value if principal_type else None),
            ("active = ?", None if include_inactive else 1),
        )
        rows = await self._db.execute(
            f"SELECT {_PRINCIPAL_COLUMNS} FROM principals WHERE principal_id > ?{where} "
            "ORDER BY principal_id LIMIT ?",
            (cursor, *params, size + 1),
        )
        items = [_principal(r) for r in rows[:size]]
        return Page(items, items[-1].principal_id if len(rows) > size else "")

    async def create_service_account(
        self, account: ServiceAccount, principal: PrincipalRecord
    ) -> None:
        """Store the account and its principal in one transaction.

        Raises:
            DuplicateError: The name is taken in the tenant, or the account id, principal id or
                key id exists; nothing is stored.
            ValueError: The key or principal names another account or tenant, or an id is empty.
        """
        _check_new_account(account, principal)
        await self._write(lambda conn: _create_account(conn, account, principal))

    async def get_service_account(self, service_account_id: str) -> ServiceAccount | None:
        """The account, or None."""
        return await self._db.run(lambda conn: _select_account(conn, service_account_id))

    async def find_key(self, key_id: str) -> ApiKeyRecord | None:
        """The key record (revoked or not: the caller checks), or None."""
        rows = await self._db.execute(
            f"SELECT {_ACCOUNT_COLUMNS} FROM service_accounts WHERE key_id = ?", (key_id,)
        )
        return _account(rows[0]).key if rows else None

    async def list_service_accounts(
        self,
        *,
        tenant_id: str | None,
        include_revoked: bool = False,
        limit: int = 0,
        cursor: str = "",
    ) -> Page[ServiceAccount]:
        """Accounts by id; the cursor is the last id of the previous page."""
        size = page_limit(limit)
        where, params = _filters(
            ("tenant_id = ?", tenant_id),
            ("key_revoked_at_ms = ?", None if include_revoked else 0),
        )
        rows = await self._db.execute(
            f"SELECT {_ACCOUNT_COLUMNS} FROM service_accounts WHERE service_account_id > ?{where} "
            "ORDER BY service_account_id LIMIT ?",
            (cursor, *params, size + 1),
        )
        items = [_account(r) for r in rows[:size]]
        return Page(items, items[-1].service_account_id if len(rows) > size else "")

    async def revoke_service_account(
        self, service_account_id: str, *, at_ms: int
    ) -> ServiceAccount | None:
        """Revoke the key (an earlier revocation time is kept) and deactivate the principal.

        Raises:
            ValueError: ``at_ms`` is not positive (0 would read as "not revoked").
        """
        _check_revocation_time(at_ms)
        return await self._write(lambda conn: _revoke(conn, service_account_id, at_ms))

    async def _write(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``work`` as one write transaction, shielded from the caller's cancellation:
        ``Database.run`` releases its lock when the awaiting task is cancelled, and a statement
        from the next caller would otherwise join the half-done transaction."""
        return await asyncio.shield(self._db.run(_transaction(work)))

    async def revision(self) -> int:
        """The write counter."""
        rows = await self._db.execute("SELECT value FROM revision WHERE id = 1")
        return int(rows[0][0])

    async def close(self) -> None:
        """Close the file."""
        await self._db.close()


def _transaction(work: Callable[[sqlite3.Connection], T]) -> Callable[[sqlite3.Connection], T]:
    """Wrap ``work`` in one write transaction, rolled back entirely if anything raises."""

    def run(conn: sqlite3.Connection) -> T:
        conn.execute("BEGIN IMMEDIATE")
        try:
            result = work(conn)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return result

    return run


def _bump(conn: sqlite3.Connection) -> None:
    conn.execute("UPDATE revision SET value = value + 1 WHERE id = 1")


def _put_principal(conn: sqlite3.Connection, record: PrincipalRecord) -> None:
    row = conn.execute(
        "SELECT tenant_id FROM principals WHERE principal_id = ?", (record.principal_id,)
    ).fetchone()
    if row is not None and row[0] != record.tenant_id:
        raise ValueError(
            f"principal {record.principal_id!r} belongs to tenant {row[0]!r}; its tenant cannot "
            f"change to {record.tenant_id!r}"
        )
    conn.execute(_PRINCIPAL_UPSERT, _principal_row(record))
    _bump(conn)


def _create_account(
    conn: sqlite3.Connection, account: ServiceAccount, principal: PrincipalRecord
) -> None:
    _refuse_duplicates(conn, account, principal)
    # NOTE: should the second insert still fail (a constraint the checks above do not cover),
    # ``_transaction`` rolls the first one back with it.
    conn.execute(_PRINCIPAL_INSERT, _principal_row(principal))
    conn.execute(
        f"INSERT INTO service_accounts ({_ACCOUNT_COLUMNS}, principal_id) "
        f"VALUES ({', '.join('?' * 12)})",
        (*_account_row(account), principal.principal_id),
    )
    _bump(conn)


def _refuse_duplicates(
    conn: sqlite3.Connection, account: ServiceAccount, principal: PrincipalRecord
) -> None:
    """Name the first unique key the new account would collide with (the schema's unique
    constraints back this up)."""
    checks = (
        (
            "SELECT 1 FROM service_accounts WHERE tenant_id = ? AND name = ?",
            (account.tenant_id, account.name),
            f"tenant {account.tenant_id!r} already has a service account named {account.name!r}",
        ),
        (
            "SELECT 1 FROM service_accounts WHERE service_account_id = ?",
            (account.service_account_id,),
            f"service account {account.service_account_id!r} already exists",
        ),
        (
            "SELECT 1 FROM principals WHERE principal_id = ?",
            (principal.principal_id,),
            f"principal {principal.principal_id!r} already exists",
        ),
        (
            "SELECT 1 FROM service_accounts WHERE key_id = ?",
            (account.key.key_id,),
            f"API key id {account.key.key_id!r} is already in use",
        ),
    )
    for sql, params, sentence in checks:
        if conn.execute(sql, params).fetchone() is not None:
            raise DuplicateError(sentence)


def _revoke(conn: sqlite3.Connection, service_account_id: str, at_ms: int) -> ServiceAccount | None:
    row = conn.execute(
        "SELECT principal_id FROM service_accounts WHERE service_account_id = ?",
        (service_account_id,),
    ).fetchone()
    if row is None:
        return None
    conn.execute(_REVOKE_KEY, (at_ms, at_ms, service_account_id))
    conn.execute(_DEACTIVATE, (at_ms, row[0]))
    _bump(conn)
    return _select_account(conn, service_account_id)


def _select_account(conn: sqlite3.Connection, service_account_id: str) -> ServiceAccount | None:
    row = conn.execute(
        f"SELECT {_ACCOUNT_COLUMNS} FROM service_accounts WHERE service_account_id = ?",
        (service_account_id,),
    ).fetchone()
    return _account(row) if row is not None else None


def _filters(*pairs: tuple[str, object]) -> tuple[str, list[object]]:
    """`` AND <clause>`` for every pair whose value is not None, with the values in order."""
    used = [(clause, value) for clause, value in pairs if value is not None]
    return "".join(f" AND {clause}" for clause, _ in used), [value for _, value in used]


def _metadata(metadata: Mapping[str, str]) -> str:
    return json.dumps(dict(metadata), sort_keys=True)


def _principal_row(record: PrincipalRecord) -> tuple[object, ...]:
    values: dict[str, object] = {name: getattr(record, name) for name in _PRINCIPAL_FIELDS}
    values.update(
        principal_type=PrincipalType(record.principal_type).value,
        active=1 if record.active else 0,
        metadata=_metadata(record.metadata),
    )
    return tuple(values.values())


def _principal(row: tuple[Any, ...]) -> PrincipalRecord:
    values: dict[str, Any] = dict(zip(_PRINCIPAL_FIELDS, row, strict=True))
    values.update(
        principal_type=PrincipalType(values["principal_type"]),
        active=bool(values["active"]),
        metadata=json.loads(values["metadata"]),
    )
    return PrincipalRecord(**values)


def _account_row(account: ServiceAccount) -> tuple[object, ...]:
    key = account.key
    return (
        account.service_account_id,
        account.tenant_id,
        account.name,
        account.description,
        account.created_by,
        _metadata(account.metadata),
        key.key_id,
        key.stored_hash,
        key.created_at_ms,
        key.expires_at_ms,
        key.revoked_at_ms,
    )


def _account(row: tuple[Any, ...]) -> ServiceAccount:
    account_id, tenant_id = str(row[0]), str(row[1])
    return ServiceAccount(
        service_account_id=account_id,
        tenant_id=tenant_id,
        name=str(row[2]),
        description=str(row[3]),
        created_by=str(row[4]),
        metadata=json.loads(str(row[5])),
        key=ApiKeyRecord(
            key_id=str(row[6]),
            service_account_id=account_id,
            tenant_id=tenant_id,
            stored_hash=str(row[7]),
            created_at_ms=int(row[8]),
            expires_at_ms=int(row[9]),
            revoked_at_ms=int(row[10]),
        ),
    )


def _require_ids(**ids: str) -> None:
    """Refuse empty ids: an empty id sorts before every cursor and could never be listed."""
    for name, value in ids.items():
        if not value:
            raise ValueError(f"{name} must not be empty")


def _check_new_account(account: ServiceAccount, principal: PrincipalRecord) -> None:
    """Refuse an account whose parts disagree: a key or principal naming another tenant would
    let the key authenticate into a tenant the account does not belong to."""
    _require_ids(
        service_account_id=account.service_account_id,
        tenant_id=account.tenant_id,
        name=account.name,
        key_id=account.key.key_id,
        principal_id=principal.principal_id,
    )
    if account.key.service_account_id != account.service_account_id:
        raise ValueError("the API key record names another service account")
    if account.key.tenant_id != account.tenant_id or principal.tenant_id != account.tenant_id:
        raise ValueError("the API key record and the principal must be in the account's tenant")
    if principal.principal_type != PrincipalType.SERVICE_ACCOUNT:
        raise ValueError("a service account's principal must be of type SERVICE_ACCOUNT")


def _check_revocation_time(at_ms: int) -> None:
    if at_ms <= 0:
        raise ValueError("the revocation time must be a positive Unix time in milliseconds")
