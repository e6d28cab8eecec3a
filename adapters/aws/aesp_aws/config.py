"""The Config port on AWS: a DynamoDB change log as the record, AppConfig as the change signal.

Design, and why:

- **The serialisation point is one conditional ``PutItem``.** Every write is an item of the
  table ``<prefix>-config`` in partition ``log`` whose sort key is its store-wide revision
  (zero-padded). A writer first catches its snapshot up to the log's end, checks the key's
  latest version there against ``expected_version``, and then claims revision ``n + 1`` with
  ``attribute_not_exists(pk)``. Revisions are claimed one after another (a writer can only aim at
  ``n + 1`` once it has read ``n``), so if the claim succeeds, the snapshot the check used was
  complete: the compare-and-set is atomic across any number of Hosts, and revisions follow commit
  order (the port's duty). A lost claim means someone else committed first: catch up and check
  again; a key that moved meanwhile is a :class:`ConcurrentChangeError`. Config writes are rare
  and human-paced, so one global sequence costs nothing worth a wider scheme.
- **Why not AppConfig versions as the record.** A hosted configuration version is immutable and
  ``CreateHostedConfigurationVersion`` has a ``LatestVersionNumber`` precondition, but moto
  ignores it (its code says so), deploying a version is a separate, non-atomic step, and a
  document holding every tenant's keys would grow against the hosted store's size quota with
  every tenant. AppConfig instead carries the *signal* (:mod:`aesp_aws._appconfig`): each commit
  is deployed as ``{"revision": n}`` and every Host follows the environment through
  ``appconfigdata``, so a change made by another Host reaches this one's snapshot within
  ``sync_interval_s`` without any read.
- **Why not Parameter Store.** ``PutParameter`` has no compare-and-set (``Overwrite`` replaces
  whatever is there), and a parameter keeps only its last 100 versions, while this port keeps
  every version forever. Sensitive values are therefore kept in the table, which DynamoDB
  encrypts at rest (with a customer-managed KMS key if the deployment chooses one); masking them
  for readers is the core's job, as on SQLite.
- **Reads.** Every read first catches the snapshot up (one strongly consistent ``Query`` of the
  log after the snapshot's revision), because the port promises that a write on one replica is
  seen by the next read on another. If AWS cannot be reached, reads answer from the snapshot
  (the latest state this Host saw), retrying AWS once per ``sync_interval_s``; writes fail
  closed with ``DEPENDENCY_UNAVAILABLE``. The whole history lives in memory: configuration
  history is small (a few entries per key and change), and it makes ``history`` and
  ``list_keys`` local.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from aesp.core.errors import ExecutionError
from aesp.core.ports._config_rules import check_expected_version, describe
from aesp.core.ports._cursors import decode_number, encode_number
from aesp.core.ports._errors import ConcurrentChangeError
from aesp.core.ports._paging import Page, page_limit
from aesp.core.ports.config import ConfigDataType, ConfigEntry
from aesp_aws._appconfig import AppConfigIds, ChangeSignal, resolve_ids
from aesp_aws._aws import Aws, error_code, unreachable
from aesp_aws._dynamo import ensure_table, from_item, to_item

log = logging.getLogger(__name__)

LOG = "log"  # the partition of the change log
MAX_CLAIMS = 100  # lost revision claims before a write gives up (each loss is another commit)
_WIDTH = 20  # digits of a revision in a sort key, so string order is number order

_Key = tuple[str, str]  # (tenant_id, key)


class AwsConfigStore:
    """Configuration history in DynamoDB, shared by every Host on the same table."""

    def __init__(self, aws: Aws, table: str) -> None:
        self._aws = aws
        self._table = table
        self._versions: dict[_Key, list[ConfigEntry]] = {}  # index i holds version i + 1
        self._log: list[ConfigEntry] = []  # index i holds revision i + 1
        self._write_ids: dict[int, str] = {}  # revision -> id of the write that claimed it
        self._catching_up = asyncio.Lock()
        self._writing = asyncio.Lock()  # one claim in flight per Host: fewer lost claims
        self._grown = asyncio.Condition()
        self._offline_until = 0.0  # monotonic time before which reads skip AWS
        self._signal: ChangeSignal | None = None

    @classmethod
    async def open(cls, aws: Aws) -> AwsConfigStore:
        """Create the table (``create_resources``), load the log, start following AppConfig.

        Raises:
            ExecutionError: ``DEPENDENCY_UNAVAILABLE``: AWS cannot be reached at start-up.
            ConfigurationError: ``INVALID_CONFIG``: an AppConfig id is not configured, or
                AppConfig does not know it.
        """
        table = aws.settings.table("config")
        store = cls(aws, table)
        try:
            await ensure_table(aws, table)
            await store._catch_up()
            signal = ChangeSignal(aws, await resolve_ids(aws, table), store._on_signal)
            await signal.start()
        except Exception as exc:
            if unreachable(exc):
                raise store._unavailable("loaded") from exc
            raise
        store._signal = signal
        return store

    # ------------------------------------------------------------------ writes

    async def set(self, entry: ConfigEntry, *, expected_version: int) -> ConfigEntry:
        """Claim the next revision for the key's next version, if its latest is
        ``expected_version``.

        Raises:
            ConcurrentChangeError: The latest version differs; nothing is written.
            ValueError: ``expected_version`` is negative.
            ExecutionError: ``DEPENDENCY_UNAVAILABLE``: DynamoDB cannot be reached.
        """
        check_expected_version(expected_version)
        write_id = uuid.uuid4().hex
        async with self._writing:
            try:
                stored = await self._claim(entry, expected_version, write_id)
            except Exception as exc:
                if unreachable(exc):
                    raise self._unavailable("written") from exc
                raise
        if self._signal is not None:
            self._signal.committed(stored.revision)
        return stored

    async def _claim(self, entry: ConfigEntry, expected_version: int, write_id: str) -> ConfigEntry:
        await self._catch_up()
        for _ in range(MAX_CLAIMS):
            revision = len(self._log) + 1
            actual = len(self._versions.get((entry.tenant_id, entry.key), []))
            if actual != expected_version:
                raise ConcurrentChangeError(
                    describe(entry.tenant_id, entry.key), expected=expected_version, actual=actual
                )
            stored = replace(entry, version=expected_version + 1, revision=revision)
            try:
                await self._aws.call(
                    "dynamodb",
                    "put_item",
                    TableName=self._table,
                    Item=to_item(_item(stored, write_id)),
                    ConditionExpression="attribute_not_exists(pk)",
                )
            except Exception as exc:
                if error_code(exc) != "ConditionalCheckFailedException":
                    raise
                await self._catch_up()
                if self._write_ids.get(revision) == write_id:
                    return self._log[revision - 1]  # our own claim, retried after a lost reply
                continue  # someone else's commit: check the key again on top of it
            await self._absorb([(stored, write_id)])
            return stored
        raise ExecutionError(
            "SERVICE_UNAVAILABLE",
            f"{describe(entry.tenant_id, entry.key)} was not written: {MAX_CLAIMS} other "
            "configuration changes committed first. Retry the change.",
            retry_after_ms=1000,
        )

    # ------------------------------------------------------------------ the snapshot

    async def _catch_up(self) -> None:
        """Append every log item after the snapshot's revision (strongly consistent)."""
        async with self._catching_up:
            query: dict[str, Any] = {
                "TableName": self._table,
                "KeyConditionExpression": "pk = :log AND sk > :after",
                "ExpressionAttributeValues": to_item(
                    {":log": LOG, ":after": _sort_key(len(self._log))}
                ),
                "ConsistentRead": True,
            }
            while True:
                reply = await self._aws.call("dynamodb", "query", **query)
                await self._absorb([_entry(from_item(i)) for i in reply.get("Items", [])])
                if "LastEvaluatedKey" not in reply:
                    return
                query["ExclusiveStartKey"] = reply["LastEvaluatedKey"]

    async def _absorb(self, written: list[tuple[ConfigEntry, str]]) -> None:
        grew = False
        for entry, write_id in written:
            if entry.revision != len(self._log) + 1:
                continue  # already held (a concurrent catch-up); revisions have no gaps
            versions = self._versions.setdefault((entry.tenant_id, entry.key), [])
            if entry.version != len(versions) + 1:
                raise RuntimeError(f"config log item {entry.revision} breaks the version chain")
            versions.append(entry)
            self._log.append(entry)
            self._write_ids[entry.revision] = write_id
            grew = True
        if grew:
            async with self._grown:
                self._grown.notify_all()

    async def _fresh(self) -> None:
        """Catch up before a read; during an outage, serve the snapshot and retry later."""
        if time.monotonic() < self._offline_until:
            return
        try:
            await self._catch_up()
        except Exception as exc:
            if not unreachable(exc):
                raise
            self._offline_until = time.monotonic() + self._aws.settings.sync_interval_s
            log.warning(
                "config table %s unreachable; answering from the snapshot at revision %d: %s",
                self._table,
                len(self._log),
                exc,
            )

    async def _on_signal(self) -> None:
        """A new AppConfig deployment: someone committed, so catch up now."""
        try:
            await self._catch_up()
        except Exception as exc:
            log.warning("config change signalled but the log could not be read: %s", exc)

    @property
    def appconfig(self) -> AppConfigIds | None:
        """The AppConfig resources this store signals through (None once closed)."""
        return self._signal.ids if self._signal is not None else None

    def snapshot_revision(self) -> int:
        """The revision this Host holds, without asking AWS (for health checks and tests)."""
        return len(self._log)

    async def wait_for_revision(self, revision: int, timeout: float) -> bool:
        """Wait, without reading AWS, until the snapshot holds ``revision`` (as the AppConfig
        follower catches it up); False after ``timeout`` seconds."""
        async with self._grown:
            try:
                await asyncio.wait_for(
                    self._grown.wait_for(lambda: len(self._log) >= revision), timeout
                )
            except TimeoutError:
                return False
        return True

    # ------------------------------------------------------------------ reads

    async def get(self, tenant_id: str, key: str, version: int = 0) -> ConfigEntry | None:
        """One version (0 = latest), or None."""
        await self._fresh()
        versions = self._versions.get((tenant_id, key), [])
        if version == 0:
            return versions[-1] if versions else None
        return versions[version - 1] if 0 < version <= len(versions) else None

    async def history(
        self, tenant_id: str, key: str, *, limit: int = 0, cursor: str = ""
    ) -> Page[ConfigEntry]:
        """Versions newest first; the cursor is the last version handed out.

        Raises:
            ValueError: ``cursor`` was not returned by ``history``.
        """
        size = page_limit(limit)
        before = decode_number(cursor, "history")
        await self._fresh()
        versions = self._versions.get((tenant_id, key), [])
        newer_first = list(reversed(versions[: before - 1] if before else versions))
        items = newer_first[:size]
        return Page(items, encode_number(items[-1].version) if len(newer_first) > size else "")

    async def list_keys(
        self, tenant_id: str, *, limit: int = 0, cursor: str = ""
    ) -> Page[ConfigEntry]:
        """The latest version of each key of the tenant, by key; the cursor is the last key."""
        size = page_limit(limit)
        await self._fresh()
        keys = sorted(k for t, k in self._versions if t == tenant_id and k > cursor)
        items = [self._versions[(tenant_id, k)][-1] for k in keys[:size]]
        return Page(items, items[-1].key if len(keys) > size else "")

    async def changes_since(
        self, revision: int, *, tenant_id: str | None = None, limit: int = 0
    ) -> Sequence[ConfigEntry]:
        """Writes after ``revision`` in revision order, at most one page."""
        await self._fresh()
        later = self._log[max(revision, 0) :]
        matching = (e for e in later if tenant_id is None or e.tenant_id == tenant_id)
        return [e for _, e in zip(range(page_limit(limit)), matching, strict=False)]

    async def revision(self) -> int:
        """The revision of the latest write."""
        await self._fresh()
        return len(self._log)

    async def close(self) -> None:
        """Stop following AppConfig (the clients belong to the shared :class:`Aws`)."""
        if self._signal is not None:
            await self._signal.close()
            self._signal = None

    def _unavailable(self, done: str) -> ExecutionError:
        return ExecutionError(
            "DEPENDENCY_UNAVAILABLE",
            f"The configuration store (DynamoDB table {self._table}) cannot be reached, so the "
            f"configuration was not {done}. Check the Host's network access to AWS and retry.",
            retry_after_ms=int(self._aws.settings.sync_interval_s * 1000),
        )


def _sort_key(revision: int) -> str:
    return str(revision).zfill(_WIDTH)


def _item(e: ConfigEntry, write_id: str) -> dict[str, Any]:
    return {
        "pk": LOG,
        "sk": _sort_key(e.revision),
        "write_id": write_id,
        # One JSON attribute keeps every field verbatim (DynamoDB numbers would not round-trip
        # a value's type, and JSON strings keep "", "\r\n" and any Unicode exactly).
        "entry": json.dumps(
            {
                "tenant_id": e.tenant_id,
                "key": e.key,
                "value": e.value,
                "data_type": e.data_type.value,
                "sensitive": e.sensitive,
                "version": e.version,
                "changed_by": e.changed_by,
                "change_reason": e.change_reason,
                "changed_at_ms": e.changed_at_ms,
                "approval_request_id": e.approval_request_id,
            },
            ensure_ascii=False,
        ),
    }


def _entry(item: dict[str, Any]) -> tuple[ConfigEntry, str]:
    fields = json.loads(item["entry"])
    fields["data_type"] = ConfigDataType(fields["data_type"])
    return ConfigEntry(**fields, revision=int(item["sk"])), str(item["write_id"])
