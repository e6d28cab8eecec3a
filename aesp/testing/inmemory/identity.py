"""The Identity port in memory, for tests and embedded use; it passes the same kit as SQLite.

No method awaits, so each call runs to completion before another starts on the event loop: every
write, with its checks and its revision bump, is atomic under asyncio without a lock. Records
are copied in and out, so a caller mutating a metadata dict cannot change what is stored.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import TypeVar

from aesp.core.ports._paging import Page, page_limit
from aesp.core.ports.identity import (
    DuplicateError,
    PrincipalRecord,
    PrincipalType,
    ServiceAccount,
)
from aesp.identity.apikeys import ApiKeyRecord

R = TypeVar("R")


class InMemoryIdentityStore:
    """Principals and service accounts in dicts."""

    def __init__(self) -> None:
        self._principals: dict[str, PrincipalRecord] = {}
        self._accounts: dict[str, ServiceAccount] = {}
        self._account_principal: dict[str, str] = {}  # service_account_id -> principal_id
        self._revision = 0

    async def get_principal(self, principal_id: str) -> PrincipalRecord | None:
        """The principal, or None."""
        record = self._principals.get(principal_id)
        return _copy_principal(record) if record is not None else None

    async def put_principal(self, record: PrincipalRecord) -> None:
        """Create or replace, keeping the first creation time; the tenant may not change."""
        _require_ids(principal_id=record.principal_id, tenant_id=record.tenant_id)
        old = self._principals.get(record.principal_id)
        if old is not None and old.tenant_id != record.tenant_id:
            raise ValueError(
                f"principal {record.principal_id!r} belongs to tenant {old.tenant_id!r}; its "
                f"tenant cannot change to {record.tenant_id!r}"
            )
        if old is not None:
            record = replace(record, created_at_ms=old.created_at_ms)
        self._principals[record.principal_id] = _copy_principal(record)
        self._revision += 1

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
        matching = (
            p
            for p in self._principals.values()
            if (tenant_id is None or p.tenant_id == tenant_id)
            and (principal_type is None or p.principal_type == principal_type)
            and (include_inactive or p.active)
        )
        return _page(matching, lambda p: p.principal_id, _copy_principal, limit, cursor)

    async def create_service_account(
        self, account: ServiceAccount, principal: PrincipalRecord
    ) -> None:
        """Store the account and its principal together, or neither.

        Raises:
            DuplicateError: The name is taken in the tenant, or the account id, principal id or
                key id exists; nothing is stored.
            ValueError: The key or principal names another account or tenant, or an id is empty.
        """
        _check_new_account(account, principal)
        self._refuse_duplicates(account, principal)
        self._principals[principal.principal_id] = _copy_principal(principal)
        self._accounts[account.service_account_id] = _copy_account(account)
        self._account_principal[account.service_account_id] = principal.principal_id
        self._revision += 1

    async def get_service_account(self, service_account_id: str) -> ServiceAccount | None:
        """The account, or None."""
        account = self._accounts.get(service_account_id)
        return _copy_account(account) if account is not None else None

    async def find_key(self, key_id: str) -> ApiKeyRecord | None:
        """The key record (revoked or not: the caller checks), or None."""
        return next((a.key for a in self._accounts.values() if a.key.key_id == key_id), None)

    async def list_service_accounts(
        self,
        *,
        tenant_id: str | None,
        include_revoked: bool = False,
        limit: int = 0,
        cursor: str = "",
    ) -> Page[ServiceAccount]:
        """Accounts by id; the cursor is the last id of the previous page."""
        matching = (
            a
            for a in self._accounts.values()
            if (tenant_id is None or a.tenant_id == tenant_id)
            and (include_revoked or not a.revoked)
        )
        return _page(matching, lambda a: a.service_account_id, _copy_account, limit, cursor)

    async def revoke_service_account(
        self, service_account_id: str, *, at_ms: int
    ) -> ServiceAccount | None:
        """Revoke the key (an earlier revocation time is kept) and deactivate the principal.

        Raises:
            ValueError: ``at_ms`` is not positive (0 would read as "not revoked").
        """
        _check_revocation_time(at_ms)
        account = self._accounts.get(service_account_id)
        if account is None:
            return None
        previous = account.key.revoked_at_ms
        revoked_at = min(previous, at_ms) if previous > 0 else at_ms
        account = replace(account, key=replace(account.key, revoked_at_ms=revoked_at))
        self._accounts[service_account_id] = account
        self._deactivate(self._account_principal[service_account_id], at_ms)
        self._revision += 1
        return _copy_account(account)

    async def revision(self) -> int:
        """The write counter."""
        return self._revision

    async def close(self) -> None:
        """Nothing to release."""

    def principals(self) -> dict[str, PrincipalRecord]:
        """Every principal stored, by id, for assertions."""
        return {pid: _copy_principal(p) for pid, p in self._principals.items()}

    def service_accounts(self) -> dict[str, ServiceAccount]:
        """Every service account stored, by id, for assertions."""
        return {sid: _copy_account(a) for sid, a in self._accounts.items()}

    def _refuse_duplicates(self, account: ServiceAccount, principal: PrincipalRecord) -> None:
        """Name the first unique key the new account would collide with."""
        if any(
            a.tenant_id == account.tenant_id and a.name == account.name
            for a in self._accounts.values()
        ):
            raise DuplicateError(
                f"tenant {account.tenant_id!r} already has a service account named {account.name!r}"
            )
        if account.service_account_id in self._accounts:
            raise DuplicateError(f"service account {account.service_account_id!r} already exists")
        if principal.principal_id in self._principals:
            raise DuplicateError(f"principal {principal.principal_id!r} already exists")
        if any(a.key.key_id == account.key.key_id for a in self._accounts.values()):
            raise DuplicateError(f"API key id {account.key.key_id!r} is already in use")

    def _deactivate(self, principal_id: str, at_ms: int) -> None:
        principal = self._principals[principal_id]
        if principal.active:
            self._principals[principal_id] = replace(
                principal, active=False, updated_at_ms=max(principal.updated_at_ms, at_ms)
            )


def _page(
    items: Iterable[R],
    key: Callable[[R], str],
    copy: Callable[[R], R],
    limit: int,
    cursor: str,
) -> Page[R]:
    """One page of ``items`` ordered by ``key``, after ``cursor`` (the previous page's last id)."""
    size = page_limit(limit)
    ordered = sorted((i for i in items if key(i) > cursor), key=key)
    page = [copy(i) for i in ordered[:size]]
    return Page(page, key(page[-1]) if len(ordered) > size else "")


def _copy_principal(record: PrincipalRecord) -> PrincipalRecord:
    return replace(
        record, principal_type=PrincipalType(record.principal_type), metadata=dict(record.metadata)
    )


def _copy_account(account: ServiceAccount) -> ServiceAccount:
    return replace(account, metadata=dict(account.metadata))


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
