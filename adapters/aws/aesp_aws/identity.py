"""The Identity port on IAM Identity Center, DynamoDB and Secrets Manager.

* **Identity Center** (``identitystore``) is the source of users and their groups. Its users are
  principals with id ``<identity_principal_prefix><UserName>``; their group memberships become
  the principal's groups, which the Host maps to roles with its ``[access]`` table. The Host
  only reads Identity Center.
* **DynamoDB** (``<table_prefix>-identity``) holds what Identity Center cannot: each principal's
  tenant, type, clearance, status and metadata, the service accounts, and the shared revision
  (layout in :mod:`aesp_aws._identity_records`).
* **Secrets Manager** holds each API key's verifier (its stored hash, never the key), one secret
  per key under ``<table_prefix>/service-accounts/``.

Reads, ``find_key`` on the API-key call path included, answer from an in-memory snapshot
(:mod:`aesp_aws._identity_snapshot`) refreshed every ``sync_interval_s``: the table is rescanned
only when the shared revision moved, verifiers are fetched once per key (they never change), and
Identity Center is re-read every time. A change made directly in Identity Center, or a write or
revocation by another Host, is therefore seen within one interval; while AWS is unreachable the
snapshot keeps answering and writes fail closed with ``DEPENDENCY_UNAVAILABLE``.

Keys of ``[adapters.aws]`` read here:

* ``identity_store_id``: the Identity Center store (``d-...``); empty finds the account's
  instance with ``sso-admin ListInstances``; ``"off"`` uses no Identity Center at all.
* ``identity_principal_prefix``: what precedes the UserName in a user's principal id (default
  ``identity_center|<identity_store_id>|``); set it to the prefix your Host's verifier gives
  those users (e.g. ``saml|<issuer>|`` when Identity Center's SAML app sends the UserName).
* ``identity_default_tenant``: tenant of Identity Center users that have no AESP record yet;
  empty means such users are not principals until the Host records them with a tenant.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Sequence
from dataclasses import replace

from aesp.core.errors import AespError
from aesp.core.ports._paging import Page
from aesp.core.ports.identity import PrincipalRecord, PrincipalType, ServiceAccount
from aesp.identity.apikeys import ApiKeyRecord
from aesp_aws import _identity_records as records
from aesp_aws import _identity_writes as w
from aesp_aws._aws import Aws
from aesp_aws._dynamo import ensure_table
from aesp_aws._identity_center import discover_store, read_users
from aesp_aws._identity_io import Cancelled, IdentityIo, contended, failure
from aesp_aws._identity_snapshot import Directory

log = logging.getLogger(__name__)

TABLE = "identity"
OFF = "off"
MAX_ATTEMPTS = 5  # optimistic writes retried on a concurrent change before giving up


class IdentityCenterStore:
    """Principals from Identity Center + DynamoDB, service-account keys in Secrets Manager."""

    def __init__(self, aws: Aws, *, identity_store_id: str, prefix: str, default_tenant: str):
        self._aws = aws
        self._table = aws.settings.table(TABLE)
        self._io = IdentityIo(aws, self._table)
        self._store_id = identity_store_id
        self._dir = Directory(prefix=prefix, default_tenant=default_tenant)
        self._revision = 0
        self._scanned = -1  # the shared revision the last table scan saw
        self._dirty: set[str] = set()  # ids written here since the current scan began
        self._sync_lock = asyncio.Lock()
        # NOTE: one write at a time per Host. Every write's transaction also updates the shared
        # revision item, and DynamoDB refuses concurrent transactions on one item
        # (TransactionConflict); serialising them here also applies this Host's own writes to
        # its snapshot in the order DynamoDB took them. Identity writes are admin operations.
        self._write_lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None

    @classmethod
    async def open(cls, aws: Aws) -> IdentityCenterStore:
        """Create the table (``create_resources``), find the identity store, load the snapshot
        and start syncing.

        Raises:
            ConfigurationError: No identity store is configured or discoverable.
            ExecutionError: ``DEPENDENCY_UNAVAILABLE``: AWS cannot be reached.
        """
        settings = aws.settings
        store_id = str(settings.get("identity_store_id", "") or "")
        try:
            await ensure_table(aws, settings.table(TABLE), sort_key=False)
            if not store_id:
                store_id = await discover_store(aws)
        except AespError:
            raise
        except Exception as exc:
            raise failure("start", exc) from exc
        store_id = "" if store_id == OFF else store_id
        default_prefix = f"identity_center|{store_id}|" if store_id else ""
        store = cls(
            aws,
            identity_store_id=store_id,
            prefix=str(settings.get("identity_principal_prefix", default_prefix) or ""),
            default_tenant=str(settings.get("identity_default_tenant", "") or ""),
        )
        await store.sync()
        store._task = asyncio.create_task(store._run())
        return store

    async def close(self) -> None:
        """Stop syncing (the boto3 clients belong to the Host's :class:`Aws`)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    # -- reads: the snapshot only ----------------------------------------------------------

    async def get_principal(self, principal_id: str) -> PrincipalRecord | None:
        """The principal (with its Identity Center groups in metadata), or None."""
        return self._dir.principal(principal_id)

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
        return self._dir.list_principals(
            tenant_id=tenant_id,
            principal_type=principal_type,
            include_inactive=include_inactive,
            limit=limit,
            cursor=cursor,
        )

    async def get_service_account(self, service_account_id: str) -> ServiceAccount | None:
        """The account, or None."""
        return self._dir.accounts.get(service_account_id)

    async def find_key(self, key_id: str) -> ApiKeyRecord | None:
        """The key record (revoked or not: the caller checks), or None; never waits on AWS."""
        return self._dir.find_key(key_id)

    async def list_service_accounts(
        self,
        *,
        tenant_id: str | None,
        include_revoked: bool = False,
        limit: int = 0,
        cursor: str = "",
    ) -> Page[ServiceAccount]:
        """Accounts by id; the cursor is the last id of the previous page."""
        return self._dir.list_accounts(
            tenant_id=tenant_id, include_revoked=include_revoked, limit=limit, cursor=cursor
        )

    async def revision(self) -> int:
        """This Host's snapshot generation: it rises with each of its own writes and with each
        sync that brings in another Host's write or an Identity Center change (values differ
        between Hosts; each only compares its own)."""
        return self._revision

    def groups(self, principal_id: str) -> tuple[str, ...]:
        """The principal's Identity Center group names, for the Host's group → role mapping."""
        return self._dir.groups(principal_id)

    # -- writes: DynamoDB (and Secrets Manager), then the local snapshot -------------------

    async def put_principal(self, record: PrincipalRecord) -> None:
        """Create or replace, keeping the first creation time; the tenant may not change.

        Raises:
            ValueError: An id is empty, or the principal exists in another tenant.
            ExecutionError: ``DEPENDENCY_UNAVAILABLE``: DynamoDB cannot be reached.
        """
        w.require_ids(principal_id=record.principal_id, tenant_id=record.tenant_id)
        async with self._write_lock:
            await self._put_principal(record)

    async def _put_principal(self, record: PrincipalRecord) -> None:
        values = records.principal_values(record)
        pk = values["pk"]
        for _ in range(MAX_ATTEMPTS):
            # Optimistic: read the stored record, then write on the condition it is unchanged
            # in the two fields the write keeps (its tenant and first creation time).
            stored = (await self._io.get([pk])).get(pk)
            if stored is None:
                condition = w.put(self._table, values)
            elif stored["tenant_id"] != record.tenant_id:
                raise ValueError(
                    f"principal {record.principal_id!r} belongs to tenant "
                    f"{stored['tenant_id']!r}; its tenant cannot change to {record.tenant_id!r}"
                )
            else:
                values["created_at_ms"] = int(stored["created_at_ms"])
                condition = w.put_if(
                    self._table,
                    values,
                    {"tenant_id": record.tenant_id, "created_at_ms": values["created_at_ms"]},
                )
            try:
                await self._io.transact([condition, w.bump(self._table)])
            except Cancelled:
                await _backoff()
                continue
            self._apply(principals=[records.principal_from(values)])
            return
        raise contended("save principal " + repr(record.principal_id))

    async def create_service_account(
        self, account: ServiceAccount, principal: PrincipalRecord
    ) -> None:
        """Store the verifier in Secrets Manager, then the account, its principal and its
        uniqueness guards in one DynamoDB transaction.

        Raises:
            DuplicateError: The name is taken in the tenant, or the account id, principal id or
                key id exists; nothing is stored.
            ValueError: The key or principal names another account or tenant, or an id is empty.
            ExecutionError: ``DEPENDENCY_UNAVAILABLE``: AWS cannot be reached.
        """
        w.check_new_account(account, principal)
        async with self._write_lock:
            await self._create(account, principal)

    async def _create(self, account: ServiceAccount, principal: PrincipalRecord) -> None:
        guards = w.account_guards(account, principal)
        # (1) Refuse known duplicates before creating anything.
        duplicate = w.first_collision(guards, set(await self._io.get([pk for pk, _ in guards])))
        if duplicate is not None:
            raise duplicate
        # (2) The verifier first: an account item is never visible without its secret.
        arn, version = await self._io.create_secret(account)
        # (3) Account, principal and guards together, or nothing.
        items = [
            w.put(self._table, records.principal_values(principal)),
            w.put(
                self._table, records.account_values(account, principal.principal_id, arn, version)
            ),
            w.put(
                self._table, {"pk": guards[0][0], "service_account_id": account.service_account_id}
            ),
            w.put(
                self._table, {"pk": guards[3][0], "service_account_id": account.service_account_id}
            ),
            w.bump(self._table),
        ]
        # NOTE: only a refused transaction deletes the secret. After any other failure the
        # outcome is unknown (the reply may have been lost after the commit), and deleting the
        # verifier of a stored account would lock its key out; an orphan secret costs nothing.
        for _ in range(MAX_ATTEMPTS):
            try:
                await self._io.transact(items)
                break
            except Cancelled:
                existing = set(await self._io.get([pk for pk, _ in guards]))
                duplicate = w.first_collision(guards, existing)
                if duplicate is not None:
                    await self._io.delete_secret(arn)
                    raise duplicate from None
                await _backoff()
        else:
            await self._io.delete_secret(arn)
            raise contended(f"create service account {account.service_account_id!r}")
        self._apply(
            principals=[records.principal_from(records.principal_values(principal))],
            accounts=[replace(account, metadata=dict(account.metadata))],
        )

    async def revoke_service_account(
        self, service_account_id: str, *, at_ms: int
    ) -> ServiceAccount | None:
        """Revoke the key (an earlier revocation time is kept) and deactivate the principal.

        Raises:
            ValueError: ``at_ms`` is not positive (0 would read as "not revoked").
            ExecutionError: ``DEPENDENCY_UNAVAILABLE``: AWS cannot be reached.
        """
        if at_ms <= 0:
            raise ValueError("the revocation time must be a positive Unix time in milliseconds")
        async with self._write_lock:
            return await self._revoke(service_account_id, at_ms)

    async def _revoke(self, service_account_id: str, at_ms: int) -> ServiceAccount | None:
        account_pk = records.ACCOUNT + service_account_id
        for _ in range(MAX_ATTEMPTS):
            item = (await self._io.get([account_pk])).get(account_pk)
            if item is None:
                return None
            principal_pk = records.PRINCIPAL + str(item["principal_id"])
            holder = (await self._io.get([principal_pk])).get(principal_pk)
            old = int(item["key_revoked_at_ms"])
            new = min(old, at_ms) if old > 0 else at_ms
            ops = [
                w.set_if(
                    self._table, account_pk, {"key_revoked_at_ms": new}, {"key_revoked_at_ms": old}
                )
            ]
            if holder is not None and holder["active"]:
                updated = max(int(holder["updated_at_ms"]), at_ms)
                ops.append(
                    w.set_if(
                        self._table,
                        principal_pk,
                        {"active": False, "updated_at_ms": updated},
                        {"active": True, "updated_at_ms": holder["updated_at_ms"]},
                    )
                )
                holder = {**holder, "active": False, "updated_at_ms": updated}
            try:
                await self._io.transact([*ops, w.bump(self._table)])
            except Cancelled:
                await _backoff()
                continue
            account = await self._io.load_account({**item, "key_revoked_at_ms": new})
            self._apply(
                principals=[records.principal_from(holder)] if holder is not None else [],
                accounts=[account] if account is not None else [],
            )
            return account
        raise contended(f"revoke service account {service_account_id!r}")

    # -- sync ------------------------------------------------------------------------------

    async def sync(self) -> None:
        """Refresh the snapshot now: rescan the table if the shared revision moved and re-read
        Identity Center; :meth:`revision` moves when either changed what the snapshot holds.

        Raises:
            ExecutionError: ``DEPENDENCY_UNAVAILABLE``: AWS cannot be reached (the snapshot
                is kept as it was).
        """
        async with self._sync_lock:
            try:
                await self._sync()
            except AespError:
                raise
            except Exception as exc:
                raise failure("refresh the identity snapshot", exc) from exc

    async def _sync(self) -> None:
        head = (await self._io.get([records.REVISION])).get(records.REVISION, {})
        shared = int(head.get("n", 0))
        if shared != self._scanned:  # another Host (or this one) wrote since the last scan
            self._dirty = set()
            principals, accounts = await self._io.load_all()
            changed = principals != self._dir.principals or accounts != self._dir.accounts
            self._dir.replace(principals, accounts, keep=self._dirty)
            self._scanned = shared
            self._revision += 1 if changed else 0
        if self._store_id:
            client = self._aws.client("identitystore")
            users = await self._aws.run(read_users, client, self._store_id, self._dir.prefix)
            if users != self._dir.users:  # a change made in Identity Center
                self._dir.users = users
                self._revision += 1

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._aws.settings.sync_interval_s)
            try:
                await self.sync()
            except Exception as exc:  # noqa: BLE001 - an outage must not stop the sync for good
                log.warning("identity sync failed (%s); serving the previous snapshot", exc)

    # -- snapshot -------------------------------------------------------------------------

    def _apply(
        self,
        *,
        principals: Sequence[PrincipalRecord] = (),
        accounts: Sequence[ServiceAccount] = (),
    ) -> None:
        """Put this Host's own write into the snapshot at once (read-your-writes)."""
        for record in principals:
            self._dir.put_principal(record)
            self._dirty.add(record.principal_id)
        for account in accounts:
            self._dir.put_account(account)
            self._dirty.add(account.service_account_id)
        self._revision += 1


async def _backoff() -> None:
    """A short random pause before retrying a write another Host's write got in the way of."""
    await asyncio.sleep(random.uniform(0.01, 0.05))
