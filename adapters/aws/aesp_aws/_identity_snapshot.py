"""The in-memory view the Identity port answers every read from (DESIGN §2, principle 2).

It holds the AESP records (from DynamoDB), the service accounts with their verifiers (from
Secrets Manager) and the Identity Center users with their groups, and merges them:

* a principal whose id is ``<identity prefix><UserName>`` of an Identity Center user gets the
  user's groups and id in its metadata (``directory.groups`` as a JSON list, which the Host maps to roles,
  ``identity_center.user_id``), and is **inactive** while that user is missing from Identity
  Center (deleting the user there disables the principal on every Host within one sync);
* an Identity Center user with no AESP record is a principal of ``default_tenant`` (with default
  fields) when one is configured, and no principal otherwise.

Everything here is synchronous and runs on the event loop, so each change is atomic for readers.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import TypeVar

from aesp.core.ports._paging import Page, page_limit
from aesp.core.ports.identity import (
    DIRECTORY_GROUPS,
    PrincipalRecord,
    PrincipalType,
    ServiceAccount,
)
from aesp.identity.apikeys import ApiKeyRecord
from aesp_aws._identity_center import IdcUser
from aesp_aws._identity_records import DERIVED_PREFIX

R = TypeVar("R")

GROUPS_KEY = DIRECTORY_GROUPS  # the core maps them with [access] group_roles
USER_ID_KEY = DERIVED_PREFIX + "user_id"
SOURCE = "identity_center"


class Directory:
    """Principals, accounts and Identity Center users, with the merge rules above."""

    def __init__(self, *, prefix: str, default_tenant: str) -> None:
        self.prefix = prefix
        self.default_tenant = default_tenant
        self.principals: dict[str, PrincipalRecord] = {}
        self.accounts: dict[str, ServiceAccount] = {}
        self.keys: dict[str, str] = {}  # key_id -> service_account_id
        self.users: dict[str, IdcUser] = {}  # principal id -> Identity Center user

    # -- changes ---------------------------------------------------------------------------

    def put_principal(self, record: PrincipalRecord) -> None:
        """Store (or replace) an AESP record."""
        self.principals[record.principal_id] = record

    def put_account(self, account: ServiceAccount) -> None:
        """Store (or replace) an account and index its key."""
        old = self.accounts.get(account.service_account_id)
        if old is not None and self.keys.get(old.key.key_id) == old.service_account_id:
            del self.keys[old.key.key_id]
        self.accounts[account.service_account_id] = account
        self.keys[account.key.key_id] = account.service_account_id

    def replace(
        self,
        principals: dict[str, PrincipalRecord],
        accounts: dict[str, ServiceAccount],
        *,
        keep: set[str],
    ) -> None:
        """Swap in a fresh scan, keeping this Host's own records named in ``keep`` (written
        while the scan ran, so the local copy is at least as new as the scanned one)."""
        for pid in keep & self.principals.keys():
            principals[pid] = self.principals[pid]
        for sid in keep & self.accounts.keys():
            accounts[sid] = self.accounts[sid]
        self.principals = principals
        self.accounts = accounts
        self.keys = {a.key.key_id: sid for sid, a in accounts.items()}

    # -- reads -----------------------------------------------------------------------------

    def principal(self, principal_id: str) -> PrincipalRecord | None:
        """The merged principal, or None."""
        record = self.principals.get(principal_id)
        user = self.users.get(principal_id)
        if record is not None:
            return self._merge(record, user)
        if user is not None and self.default_tenant:
            return self._from_user(principal_id, user)
        return None

    def list_principals(
        self,
        *,
        tenant_id: str | None,
        principal_type: PrincipalType | None,
        include_inactive: bool,
        limit: int,
        cursor: str,
    ) -> Page[PrincipalRecord]:
        """Merged principals in id order, filtered before the page is cut."""
        ids = set(self.principals)
        if self.default_tenant:
            ids |= self.users.keys()
        merged = (self.principal(pid) for pid in sorted(i for i in ids if i > cursor))
        matching = (
            p
            for p in merged
            if p is not None
            and (tenant_id is None or p.tenant_id == tenant_id)
            and (principal_type is None or p.principal_type == principal_type)
            and (include_inactive or p.active)
        )
        return _page(matching, lambda p: p.principal_id, limit)

    def list_accounts(
        self, *, tenant_id: str | None, include_revoked: bool, limit: int, cursor: str
    ) -> Page[ServiceAccount]:
        """Accounts in id order, filtered before the page is cut."""
        matching = (
            self.accounts[sid]
            for sid in sorted(s for s in self.accounts if s > cursor)
            if (tenant_id is None or self.accounts[sid].tenant_id == tenant_id)
            and (include_revoked or not self.accounts[sid].revoked)
        )
        return _page(matching, lambda a: a.service_account_id, limit)

    def find_key(self, key_id: str) -> ApiKeyRecord | None:
        """The key record of that key id, or None."""
        account_id = self.keys.get(key_id)
        account = self.accounts.get(account_id) if account_id is not None else None
        return account.key if account is not None else None

    def groups(self, principal_id: str) -> tuple[str, ...]:
        """The principal's Identity Center groups (empty when it is not a user there)."""
        user = self.users.get(principal_id)
        return user.groups if user is not None else ()

    # -- merging ---------------------------------------------------------------------------

    def _merge(self, record: PrincipalRecord, user: IdcUser | None) -> PrincipalRecord:
        metadata = {k: v for k, v in record.metadata.items() if not _derived_key(k)}
        if user is not None:
            metadata.update(_derived(user))
            return replace(record, metadata=metadata)
        if self.prefix and record.principal_id.startswith(self.prefix):
            # The Identity Center user is gone: fail closed until it returns.
            return replace(record, active=False, metadata=metadata)
        return replace(record, metadata=metadata)

    def _from_user(self, principal_id: str, user: IdcUser) -> PrincipalRecord:
        return PrincipalRecord(
            principal_id=principal_id,
            tenant_id=self.default_tenant,
            principal_type=PrincipalType.USER,
            display_name=user.display_name,
            source=SOURCE,
            metadata=_derived(user),
        )


def _derived(user: IdcUser) -> dict[str, str]:
    return {
        GROUPS_KEY: json.dumps(list(user.groups), ensure_ascii=False),
        USER_ID_KEY: user.user_id,
    }


def _page(items: Iterable[R], key: Callable[[R], str], limit: int) -> Page[R]:
    size = page_limit(limit)
    taken: list[R] = []
    for item in items:
        if len(taken) == size:
            return Page(taken, key(taken[-1]))
        taken.append(item)
    return Page(taken, "")


def _derived_key(key: str) -> bool:
    """Whether ``key`` is filled in from Identity Center on read, never stored."""
    return key.startswith(DERIVED_PREFIX) or key == DIRECTORY_GROUPS
