"""The Policy port on DynamoDB (table ``<table_prefix>-policies``): immutable policy versions.

Why DynamoDB: policy versions are records the Host writes and reads, with immutability and
"latest of each" to enforce under concurrent writers; conditional writes and transactions do
exactly that, and every Host of a deployment shares the table (DESIGN §10).

Items (string ``pk`` and ``sk``):

* a version: ``pk = "version#" + JSON [tenant, policy]``, ``sk = <version>``; written once, with
  ``attribute_not_exists`` (SPEC item 164: versions are immutable);
* a head per policy: ``pk = "head"``, ``sk`` = tenant and policy id in an order-preserving
  encoding (``\\x01`` escaped, ``\\x01\\x01`` between them), so a Query returns heads in
  ``(tenant_id, policy_id)`` order and a tenant is a key prefix. The head carries a copy of the
  latest version, the soft-delete flag and ``rev``, the revision of the last write to it;
* the counter: ``pk = "revision"``, ``sk = "policies"``.

A write reserves its revision with an atomic ADD on the counter, commits (a version and its head
in one transaction; the head only moves forward: ``rev < :n``), then ADDs once more to publish.
Revisions therefore order writes across Hosts, and a counter value read before a query never
promises data the query cannot see: the publishing ADD comes after the commit.

``active()`` and ``revision()`` are served from memory (the Host polls them): a snapshot of the
heads, reloaded every ``sync_interval_s`` when the counter moved and updated at once by this
object's own writes. ``revision()`` is local to the object: it moves with each of its writes
and with each reload that changed the heads, so it never announces policies the snapshot does not
hold yet (a counter read from DynamoDB could). Everything else reads DynamoDB with strong
consistency.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import weakref
from collections.abc import AsyncIterator, Sequence
from typing import Any, Final

from aesp.core.errors import ExecutionError
from aesp.core.policy.model import Effect, PolicyDefinition
from aesp.core.ports._cursors import decode_pair_cursor, encode_pair_cursor
from aesp.core.ports._paging import Page, page_limit
from aesp.core.ports.policy import StoredPolicy, VersionExistsError, normalised
from aesp_aws._aws import Aws, error_code
from aesp_aws._dynamo import ensure_table, from_item, to_item

__all__ = ["POLICIES_TABLE", "DynamoPolicyStore"]

log = logging.getLogger(__name__)

POLICIES_TABLE: Final = "policies"
_HEAD: Final = "head"
_REVISION_KEY: Final = {"pk": "revision", "sk": "policies"}
_ESCAPE: Final = "\x01"
_SEPARATOR: Final = "\x01\x01"

_Key = tuple[str, str]


@dataclasses.dataclass(frozen=True, slots=True)
class _Head:
    stored: StoredPolicy
    rev: int  # the last write to the head (an add or a delete)


class DynamoPolicyStore:
    """Policy versions in one DynamoDB table, shared by every Host of a deployment.

    Args:
        aws: The Host's AWS clients; the table is ``aws.settings.table("policies")``.
    """

    def __init__(self, aws: Aws) -> None:
        self._aws = aws
        self._table = aws.settings.table(POLICIES_TABLE)
        self._heads: dict[_Key, _Head] = {}
        self._version = 0  # revision(): moves with each own write and each changed reload
        self._seen = -1  # the counter value of the last sync's read (-1: never synced)
        self._generation = 0
        self._writes_in_flight = 0
        self._locks: weakref.WeakValueDictionary[_Key, asyncio.Lock] = weakref.WeakValueDictionary()
        self._task: asyncio.Task[None] | None = None
        self.last_sync_error = ""
        """Why the last sync failed ("" after a good one); the snapshot keeps serving meanwhile."""

    @classmethod
    async def open(cls, aws: Aws) -> DynamoPolicyStore:
        """Create the table (with ``create_resources``), load the snapshot, start the sync.

        Raises:
            ExecutionError: ``SERVICE_UNAVAILABLE`` when DynamoDB cannot be used.
        """
        store = cls(aws)
        try:
            await ensure_table(aws, store._table)
            await store._sync()
        except Exception as exc:
            raise _unavailable(store._table, exc) from exc
        store._task = asyncio.create_task(store._sync_forever(), name="aesp-policy-sync")
        return store

    # ------------------------------------------------------------------ writes

    async def add_version(
        self, definition: PolicyDefinition, *, created_by: str, at_ms: int
    ) -> StoredPolicy:
        """Store a new version, make it the latest and undelete the policy.

        Raises:
            VersionExistsError: That version is already stored (nothing changes).
            ValueError: An unknown effect, or an id holding ``\\x00``.
            ExecutionError: ``SERVICE_UNAVAILABLE`` when DynamoDB cannot be reached.
        """
        d = _normalise(definition)
        key = (d.tenant_id, d.policy_id)
        version_key = {"pk": _version_pk(*key), "sk": d.version}
        async with self._writing(key):
            found = await self._call(
                "get_item", TableName=self._table, Key=to_item(version_key), ConsistentRead=True
            )
            if "Item" in found:
                raise _exists(d)
            revision = await self._add_to_counter()
            stored = StoredPolicy(d, revision, at_ms, created_by)
            body = _record(stored)
            put = {
                "TableName": self._table,
                "Item": to_item(version_key | body),
                "ConditionExpression": "attribute_not_exists(pk)",
            }
            head = {
                "TableName": self._table,
                "Key": to_item({"pk": _HEAD, "sk": _sort_key(*key)}),
                "UpdateExpression": (
                    "SET #b = :b, #rev = :n, #del = :f, #t = :t, #p = :p, #v = :v"
                ),
                "ConditionExpression": "attribute_not_exists(pk) OR #rev < :n",
                "ExpressionAttributeNames": {
                    "#b": "body", "#rev": "rev", "#del": "deleted", "#t": "tenant_id",
                    "#p": "policy_id", "#v": "version",
                },
                "ExpressionAttributeValues": to_item({
                    ":b": json.dumps(body, sort_keys=True), ":n": revision, ":f": False,
                    ":t": d.tenant_id, ":p": d.policy_id, ":v": d.version,
                }),
            }  # fmt: skip
            try:
                await self._aws.call(
                    "dynamodb",
                    "transact_write_items",
                    TransactItems=[{"Put": put}, {"Update": head}],
                )
                moved = True
            except Exception as exc:
                reasons = _cancellation_codes(exc)
                if not reasons:
                    raise _unavailable(self._table, exc) from exc
                if reasons[0] == "ConditionalCheckFailed":
                    raise _exists(d) from None
                # A newer write already moved the head: this version is stored, not latest.
                try:
                    await self._aws.call("dynamodb", "put_item", **put)
                except Exception as again:
                    if error_code(again) == "ConditionalCheckFailedException":
                        raise _exists(d) from None
                    raise _unavailable(self._table, again) from again
                moved = False
            if moved:
                self._apply(key, _Head(stored, revision))
            await self._publish()
            return stored

    async def delete(self, tenant_id: str, policy_id: str, *, at_ms: int) -> bool:
        """Mark the policy deleted; False if unknown or already deleted (no revision bump).

        Raises:
            ExecutionError: ``SERVICE_UNAVAILABLE`` when DynamoDB cannot be reached.
        """
        key = {"pk": _HEAD, "sk": _sort_key(tenant_id, policy_id)}
        async with self._writing((tenant_id, policy_id)):
            head = await self._head(tenant_id, policy_id)
            if head is None or head.stored.deleted:
                return False
            revision = await self._add_to_counter()
            try:
                reply = await self._aws.call(
                    "dynamodb",
                    "update_item",
                    TableName=self._table,
                    Key=to_item(key),
                    UpdateExpression="SET #del = :t, #at = :at, #rev = :n",
                    ConditionExpression="attribute_exists(pk) AND #del = :f AND #rev < :n",
                    ExpressionAttributeNames={"#del": "deleted", "#at": "deleted_at_ms",
                                              "#rev": "rev"},
                    ExpressionAttributeValues=to_item(
                        {":t": True, ":f": False, ":at": at_ms, ":n": revision}
                    ),
                    ReturnValues="ALL_NEW",
                )  # fmt: skip
            except Exception as exc:
                if error_code(exc) != "ConditionalCheckFailedException":
                    raise _unavailable(self._table, exc) from exc
                # Deleted meanwhile (False), or re-added by a later write, which in revision
                # order came after this delete: the delete happened and was superseded (True).
                current = await self._head(tenant_id, policy_id)
                await self._publish()
                return current is not None and not current.stored.deleted
            self._apply((tenant_id, policy_id), _head_of(from_item(reply["Attributes"])))
            await self._publish()
            return True

    # ------------------------------------------------------------------ reads

    async def get(self, tenant_id: str, policy_id: str, version: str = "") -> StoredPolicy | None:
        """One version (``""`` = the latest written), or None; only the owning tenant finds it."""
        if not version:
            head = await self._head(tenant_id, policy_id)
            return head.stored if head else None
        reply = await self._call(
            "get_item",
            TableName=self._table,
            Key=to_item({"pk": _version_pk(tenant_id, policy_id), "sk": version}),
            ConsistentRead=True,
        )
        if "Item" not in reply:
            return None
        head = await self._head(tenant_id, policy_id)
        return _stored(from_item(reply["Item"]), deleted=bool(head and head.stored.deleted))

    async def versions(self, tenant_id: str, policy_id: str) -> Sequence[StoredPolicy]:
        """Every version, oldest (lowest revision) first."""
        items = await self._query(
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues=to_item({":pk": _version_pk(tenant_id, policy_id)}),
        )
        if not items:
            return []
        head = await self._head(tenant_id, policy_id)
        deleted = bool(head and head.stored.deleted)
        return sorted((_stored(i, deleted=deleted) for i in items), key=lambda s: s.revision)

    async def list_latest(
        self,
        *,
        tenant_id: str | None,
        include_deleted: bool = False,
        limit: int = 0,
        cursor: str = "",
    ) -> Page[StoredPolicy]:
        """Latest versions ordered by ``(tenant_id, policy_id)``; the cursor is that pair as JSON.

        Raises:
            ValueError: ``cursor`` was not returned by this store.
        """
        size = page_limit(limit)
        after = decode_pair_cursor(cursor, "list_latest")
        values: dict[str, Any] = {":pk": _HEAD}
        condition = "pk = :pk"
        if tenant_id is not None:
            condition += " AND begins_with(sk, :prefix)"
            values[":prefix"] = _escape(tenant_id) + _SEPARATOR
        query: dict[str, Any] = {"KeyConditionExpression": condition}
        if not include_deleted:
            query["FilterExpression"] = "#del = :f"
            query["ExpressionAttributeNames"] = {"#del": "deleted"}
            values[":f"] = False
        query["ExpressionAttributeValues"] = to_item(values)
        if after is not None:
            query["ExclusiveStartKey"] = to_item({"pk": _HEAD, "sk": _sort_key(*after)})
        items = await self._query(stop_after=size + 1, **query)
        page = [_head_of(i).stored for i in items[:size]]
        last = page[-1].definition if len(items) > size else None
        return Page(page, encode_pair_cursor(last.tenant_id, last.policy_id) if last else "")

    async def active(self) -> Sequence[PolicyDefinition]:
        """Latest version of each live, enabled policy, ordered by ``(tenant_id, policy_id)``;
        from the snapshot (no AWS call)."""
        return [
            head.stored.definition
            for _, head in sorted(self._heads.items())
            if not head.stored.deleted and head.stored.definition.enabled
        ]

    async def revision(self) -> int:
        """Moves with every write of this object and whenever a sync finds the heads changed
        (another Host wrote); no AWS call, and never ahead of what :meth:`active` serves."""
        return self._version

    async def close(self) -> None:
        """Stop the sync."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    # ------------------------------------------------------------------ snapshot

    async def _sync_forever(self) -> None:
        while True:
            await asyncio.sleep(self._aws.settings.sync_interval_s)
            try:
                await self._sync()
                self.last_sync_error = ""
            except Exception as exc:  # keep serving the snapshot; say why once per failure
                reason = f"{error_code(exc) or type(exc).__name__}: {exc}"
                if reason != self.last_sync_error:
                    log.warning("policy sync failed, serving the last snapshot: %s", reason)
                self.last_sync_error = reason

    async def _sync(self) -> None:
        """Reload the heads when the counter moved; discard the read if this object wrote
        meanwhile (its write already updated the snapshot)."""
        generation = self._generation
        counter = await self._read_counter()
        if counter == self._seen:
            return
        items = await self._query(
            KeyConditionExpression="pk = :pk", ExpressionAttributeValues=to_item({":pk": _HEAD})
        )
        if generation != self._generation or self._writes_in_flight:
            return
        heads = {(h.stored.definition.tenant_id, h.stored.definition.policy_id): h
                 for h in map(_head_of, items)}  # fmt: skip
        if heads != self._heads:
            self._heads = heads
            self._version += 1
        self._seen = counter

    def _apply(self, key: _Key, head: _Head) -> None:
        current = self._heads.get(key)
        if current is None or current.rev < head.rev:
            self._heads[key] = head

    @contextlib.asynccontextmanager
    async def _writing(self, key: _Key) -> AsyncIterator[None]:
        """One write of this object per policy at a time, marked in flight for the sync.

        Why serialise per policy: this object's writes to one head then never race each other,
        so a transaction is only cancelled by another Host's write (cancellations are costly:
        the reserved revision is spent, and the version is written again on its own).
        """
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()
        async with lock:
            self._generation += 1
            self._writes_in_flight += 1
            try:
                yield
            finally:
                self._writes_in_flight -= 1
                self._generation += 1

    # ------------------------------------------------------------------ DynamoDB

    async def _head(self, tenant_id: str, policy_id: str) -> _Head | None:
        reply = await self._call(
            "get_item",
            TableName=self._table,
            Key=to_item({"pk": _HEAD, "sk": _sort_key(tenant_id, policy_id)}),
            ConsistentRead=True,
        )
        return _head_of(from_item(reply["Item"])) if "Item" in reply else None

    async def _read_counter(self) -> int:
        reply = await self._call(
            "get_item", TableName=self._table, Key=to_item(_REVISION_KEY), ConsistentRead=True
        )
        return int(from_item(reply.get("Item", {})).get("value", 0))

    async def _add_to_counter(self) -> int:
        reply = await self._call(
            "update_item",
            TableName=self._table,
            Key=to_item(_REVISION_KEY),
            UpdateExpression="ADD #v :one",
            ExpressionAttributeNames={"#v": "value"},
            ExpressionAttributeValues=to_item({":one": 1}),
            ReturnValues="UPDATED_NEW",
        )
        return int(from_item(reply["Attributes"])["value"])

    async def _publish(self) -> None:
        """The second ADD of a write: tells every Host there is something new to read."""
        await self._add_to_counter()
        self._version += 1

    async def _query(self, *, stop_after: int = 0, **query: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        while True:
            reply = await self._call("query", TableName=self._table, ConsistentRead=True, **query)
            items.extend(from_item(i) for i in reply.get("Items", []))
            if "LastEvaluatedKey" not in reply or (stop_after and len(items) >= stop_after):
                return items
            query["ExclusiveStartKey"] = reply["LastEvaluatedKey"]

    async def _call(self, operation: str, **kwargs: Any) -> Any:
        try:
            return await self._aws.call("dynamodb", operation, **kwargs)
        except Exception as exc:
            raise _unavailable(self._table, exc) from exc


# ---------------------------------------------------------------------- encoding


def _escape(text: str) -> str:
    if "\x00" in text:
        raise ValueError(f"{text!r}: tenant and policy ids cannot hold the character \\x00")
    return text.replace(_ESCAPE, _ESCAPE + "\x02")


def _sort_key(tenant_id: str, policy_id: str) -> str:
    """Sorts as the pair does: the separator is below every character an id may hold."""
    return _escape(tenant_id) + _SEPARATOR + _escape(policy_id)


def _version_pk(tenant_id: str, policy_id: str) -> str:
    return "version#" + json.dumps([tenant_id, policy_id], separators=(",", ":"))


def _record(stored: StoredPolicy) -> dict[str, Any]:
    d = stored.definition
    return {
        "tenant_id": d.tenant_id,
        "policy_id": d.policy_id,
        "version": d.version,
        "name": d.name,
        "applies_to": json.dumps(list(d.applies_to)),
        "actions": json.dumps(list(d.actions)),
        "effect": str(d.effect),
        "condition": d.condition,
        "enabled": d.enabled,
        "description": d.description,
        "parameters": json.dumps(dict(d.parameters), sort_keys=True),
        "revision": stored.revision,
        "created_at_ms": stored.created_at_ms,
        "created_by": stored.created_by,
    }


def _stored(item: dict[str, Any], *, deleted: bool) -> StoredPolicy:
    definition = PolicyDefinition(
        policy_id=str(item["policy_id"]),
        name=str(item["name"]),
        version=str(item["version"]),
        tenant_id=str(item["tenant_id"]),
        applies_to=tuple(json.loads(str(item["applies_to"]))),
        effect=Effect(str(item["effect"])),
        condition=str(item["condition"]),
        actions=tuple(json.loads(str(item["actions"]))),
        enabled=bool(item["enabled"]),
        description=str(item["description"]),
        parameters={str(k): str(v) for k, v in json.loads(str(item["parameters"])).items()},
    )
    return StoredPolicy(
        definition,
        int(item["revision"]),
        int(item["created_at_ms"]),
        str(item["created_by"]),
        deleted,
    )


def _head_of(item: dict[str, Any]) -> _Head:
    body = json.loads(str(item["body"]))
    return _Head(_stored(body, deleted=bool(item.get("deleted"))), int(item["rev"]))


def _normalise(definition: PolicyDefinition) -> PolicyDefinition:
    """:func:`~aesp.core.ports.policy.normalised`, and ids that keep the keys in order.

    Raises:
        ValueError: As ``normalised``, or an id holds ``\\x00`` (it would break the order of
            the keys).
    """
    _sort_key(definition.tenant_id, definition.policy_id)
    return normalised(definition)


def _exists(d: PolicyDefinition) -> VersionExistsError:
    return VersionExistsError(
        f"policy {d.policy_id!r} of tenant {d.tenant_id!r} already has version {d.version!r}; "
        "versions are immutable, store a new version instead"
    )


def _cancellation_codes(exc: BaseException) -> list[str]:
    """The per-item codes of a cancelled transaction ([] if ``exc`` is something else)."""
    if error_code(exc) != "TransactionCanceledException":
        return []
    reasons = getattr(exc, "response", {}).get("CancellationReasons") or []
    if reasons:
        return [str(r.get("Code", "None")) for r in reasons]
    # Some endpoints only put the reasons in the message: "[ConditionalCheckFailed, None]".
    text = str(exc)
    inside = text[text.rfind("[") + 1 : text.rfind("]")]
    return [part.strip() for part in inside.split(",")]


def _unavailable(table: str, exc: BaseException) -> ExecutionError:
    """Fail closed: the policy table is out of reach (or missing)."""
    return ExecutionError(
        "SERVICE_UNAVAILABLE",
        f"The policy store (DynamoDB table '{table}') cannot be used "
        f"({error_code(exc) or type(exc).__name__}).",
        retry_after_ms=1000,
        remediation_steps=(
            "Check that the Host reaches DynamoDB and that its role may use the table.",
            "Check that the table exists (deploy/aesp-aws.yaml creates it).",
        ),
    )
