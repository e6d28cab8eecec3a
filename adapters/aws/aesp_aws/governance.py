"""The Governance port on DynamoDB, with each request mirrored by a Step Functions execution.

One table (``<table_prefix>-governance``, string ``pk`` + ``sk``) holds:

=============================  =====================  =========================================
pk                             sk                     what
=============================  =====================  =========================================
``request#<id>``               ``#``                  the request, its ``version``, ``seq``, and
                                                      its execution's ARN and task token
``request#<id>``               ``decision#<who>``     one decision (never updated or deleted)
``requests``                   ``<seq, 20 digits>``   listing index in creation order
``workflow-outbox``            ``<id>``               execution work still to do
``counter``                    ``counters``           ``n`` (the revision), ``seq`` (creation)
=============================  =====================  =========================================

Every write is one ``TransactWriteItems``: the compare-and-set on the request's ``version``, the
decision (``attribute_not_exists``), the status move, the listing entry and the revision bump
commit together or not at all, so two Hosts on one table behave as one (DESIGN §10). A create
also compare-and-sets the sequence counter, so creation order is commit order and a paging
reader never skips a request committed behind its cursor. The port's refusal rules
(:mod:`aesp.core.ports._approvals`) run on a consistent read just before the transaction; the
version condition makes that read still true when the transaction commits, because every change
of a request moves its version.

How Hosts learn outcomes without polling a hot path: ``revision()`` is one consistent read of
the counter item, which every write bumps in its own transaction. The Governance service reads
it on its periodic duty, never per call, and re-reads requests only when it moved; a decision
made on another Host is therefore seen within one duty interval. Step Functions is the audit
side (:mod:`aesp_aws.approval_workflow`), fed from the outbox in the background.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import random
from collections.abc import Sequence
from typing import Any, Final

from botocore.exceptions import BotoCoreError, ClientError

from aesp.core.errors import ExecutionError, ValidationError
from aesp.core.ports import _approvals as rules
from aesp.core.ports._cursors import decode_number, encode_number
from aesp.core.ports._errors import ConcurrentChangeError, DuplicateError, NotFoundError
from aesp.core.ports._paging import Page, page_limit
from aesp.core.ports.governance import (
    ApprovalDecision,
    ApprovalRequest,
    ApprovalStatus,
    ArtifactType,
    Verdict,
)
from aesp_aws._aws import Aws, error_code
from aesp_aws._dynamo import ensure_table, from_item, to_item
from aesp_aws.approval_workflow import (
    OUTBOX_PK,
    ApprovalExecutions,
    ensure_workflow_resources,
    request_key,
)

__all__ = ["DynamoApprovalStore"]

TABLE: Final = "governance"
BATCH: Final = 100  # keys per BatchGetItem (the API's limit)
MAX_ATTEMPTS: Final = 64  # transaction retries on a busy counter: each round lets one writer win
MAX_REQUEST_BYTES: Final = 380_000  # a DynamoDB item holds 400 KB; the rest is names and numbers
_LIST_PK: Final = "requests"
_COUNTER_PK: Final = "counter"
_FINAL = (ApprovalStatus.APPROVED, ApprovalStatus.REJECTED, ApprovalStatus.EXPIRED)
_NAMES = {"#s": "status", "#v": "version"}  # "status" is a DynamoDB reserved word


def unavailable(what: str, exc: BaseException) -> ExecutionError:
    """The fail-closed refusal when AWS cannot serve a read or write of the Governance stores
    (unreachable, throttled, or refusing the Host's credentials)."""
    code = error_code(exc) or type(exc).__name__
    return ExecutionError(
        "DEPENDENCY_UNAVAILABLE",
        f"The Host could not {what}: AWS answered {code}. Nothing was changed by "
        "this attempt; retry shortly, and check the Host's network path and IAM permissions.",
        details={"aws_error": code},
        retry_after_ms=1000,
    )


def busy(what: str) -> ExecutionError:
    """The refusal when concurrent writers kept cancelling this write's transaction."""
    return ExecutionError(
        "DEPENDENCY_UNAVAILABLE",
        f"The Host could not {what}: the approval table stayed busy with concurrent writes "
        f"for {MAX_ATTEMPTS} attempts. Nothing was changed by this attempt; retry shortly.",
        retry_after_ms=1000,
    )


def _check_size(r: ApprovalRequest) -> None:
    """Refuse a request one DynamoDB item cannot hold, before anything is written."""
    size = len(r.artifact_data) + len(r.justification.encode()) + len(r.artifact_id.encode())
    size += sum(len(k.encode()) + len(v.encode()) for k, v in r.metadata.items())
    size += sum(len(a.encode()) for a in r.required_approvers)
    if size > MAX_REQUEST_BYTES:
        raise ValidationError(
            "MALFORMED_REQUEST",
            f"The approval request is {size} bytes; the AWS approval store keeps at most "
            f"{MAX_REQUEST_BYTES} bytes of artifact, justification and metadata per request "
            "(one DynamoDB item). Submit a smaller artifact, or one that refers to stored data.",
            details={"field": "artifact_data"},
        )


def _request_item(r: ApprovalRequest, seq: int) -> dict[str, Any]:
    """A new request's item: PENDING at version 1, whatever ``r`` carries there."""
    return to_item(
        {
            "pk": f"request#{r.approval_request_id}",
            "sk": "#",
            "approval_request_id": r.approval_request_id,
            "tenant_id": r.tenant_id,
            "artifact_type": r.artifact_type.value,
            "artifact_id": r.artifact_id,
            "artifact_data": r.artifact_data,
            "artifact_digest": r.artifact_digest,
            "requester_id": r.requester_id,
            "justification": r.justification,
            "required_approvers": json.dumps(list(r.required_approvers)),
            "min_approvals": r.min_approvals,
            "status": ApprovalStatus.PENDING.value,
            "created_at_ms": r.created_at_ms,
            "expires_at_ms": r.expires_at_ms,
            "metadata": json.dumps(dict(r.metadata), sort_keys=True),
            "version": 1,
            "seq": seq,
        }
    )


def _request(v: dict[str, Any]) -> ApprovalRequest:
    """The request an item holds; the stored digest is checked against the stored data."""
    return ApprovalRequest(
        approval_request_id=str(v["approval_request_id"]),
        tenant_id=str(v["tenant_id"]),
        artifact_type=ArtifactType(str(v["artifact_type"])),
        artifact_id=str(v["artifact_id"]),
        artifact_data=bytes(v["artifact_data"]),
        artifact_digest=str(v["artifact_digest"]),
        requester_id=str(v["requester_id"]),
        justification=str(v["justification"]),
        required_approvers=tuple(json.loads(str(v["required_approvers"]))),
        min_approvals=int(v["min_approvals"]),
        status=ApprovalStatus(str(v["status"])),
        created_at_ms=int(v["created_at_ms"]),
        expires_at_ms=int(v["expires_at_ms"]),
        metadata=json.loads(str(v["metadata"])),
        version=int(v["version"]),
    )


def _decision_item(d: ApprovalDecision, order: int) -> dict[str, Any]:
    return to_item(
        {
            "pk": f"request#{d.approval_request_id}",
            "sk": f"decision#{d.approver_id}",
            "approver_id": d.approver_id,
            "decision": d.decision.value,
            "comments": d.comments,
            "conditions": json.dumps(dict(d.conditions), sort_keys=True),
            "decided_at_ms": d.decided_at_ms,
            "order": order,
        }
    )


def _decision(request_id: str, v: dict[str, Any]) -> ApprovalDecision:
    return ApprovalDecision(
        approval_request_id=request_id,
        approver_id=str(v["approver_id"]),
        decision=Verdict(str(v["decision"])),
        comments=str(v["comments"]),
        conditions=json.loads(str(v["conditions"])),
        decided_at_ms=int(v["decided_at_ms"]),
    )


async def backoff(attempt: int) -> None:
    """Jittered exponential pause, so racing writers stop colliding."""
    await asyncio.sleep(random.uniform(0, 0.004 * 2 ** min(attempt, 6)))


class DynamoApprovalStore:
    """Approval requests and decisions in DynamoDB, shared safely by every Host replica.

    Use :meth:`open`. Each store runs the background duty that keeps the Step Functions
    executions in step (:class:`~aesp_aws.approval_workflow.ApprovalExecutions`).
    """

    def __init__(self, aws: Aws, *, table: str, state_machine_arn: str, queue_url: str) -> None:
        self._aws = aws
        self._table = table
        self.executions = ApprovalExecutions(
            aws,
            table=table,
            state_machine_arn=state_machine_arn,
            queue_url=queue_url,
            request=_request,
            decisions=self.decisions,
        )

    @classmethod
    async def open(cls, aws: Aws) -> DynamoApprovalStore:
        """Create the table, queue and state machine when ``create_resources``; start the duty.

        Raises:
            ConfigurationError: ``INVALID_CONFIG``: a resource key is missing.
            ExecutionError: ``DEPENDENCY_UNAVAILABLE``: AWS could not be reached.
        """
        table = aws.settings.table(TABLE)
        try:
            await ensure_table(aws, table)
            machine, queue = await ensure_workflow_resources(aws)
        except (ClientError, BotoCoreError) as exc:
            raise unavailable("open the approval table, queue and state machine", exc) from exc
        store = cls(aws, table=table, state_machine_arn=machine, queue_url=queue)
        store.executions.start()
        return store

    async def create(self, request: ApprovalRequest) -> ApprovalRequest:
        """Store a new PENDING request at version 1; its execution starts in the background.

        Raises:
            DuplicateError: The id exists (nothing changes).
            ValueError: The request is not PENDING.
            ValidationError: ``MALFORMED_REQUEST``: it is too large for one DynamoDB item.
            ExecutionError: ``DEPENDENCY_UNAVAILABLE``: DynamoDB is unreachable.
        """
        rules.check_created(request)
        _check_size(request)
        request_id = request.approval_request_id
        for attempt in range(MAX_ATTEMPTS):
            seq = await self._counter("seq")
            item = _request_item(request, seq + 1)
            index = {"id": request_id, "tenant_id": request.tenant_id}
            status = {"status": ApprovalStatus.PENDING.value}
            index |= {**status, "artifact_type": request.artifact_type.value}
            committed = await self._transact(
                {"Put": self._put(item, "attribute_not_exists(pk)")},
                {"Put": self._put(to_item({"pk": _LIST_PK, "sk": f"{seq + 1:020d}", **index}))},
                {"Put": self._put(to_item({"pk": OUTBOX_PK, "sk": request_id, **status}))},
                self._create_step(seq),
            )
            if committed:  # its execution starts on the duty's next pass
                return _request(from_item(item))
            if await self._read(request_id) is not None:
                raise DuplicateError(rules.duplicate_request(request_id))
            await backoff(attempt)
        raise busy("create the approval request")

    async def get(self, approval_request_id: str) -> ApprovalRequest | None:
        """The request (consistent read), or None."""
        found = await self._read(approval_request_id)
        return None if found is None else found[0]

    async def list(
        self,
        *,
        tenant_id: str | None,
        status: ApprovalStatus | None = None,
        artifact_type: ArtifactType | None = None,
        limit: int = 0,
        cursor: str = "",
    ) -> Page[ApprovalRequest]:
        """Matching requests in creation order; the cursor is the last one's sequence number.

        Raises:
            ValueError: ``cursor`` was not returned by this store.
        """
        size = page_limit(limit)
        after = decode_number(cursor, "list")
        wanted = {"tenant_id": tenant_id, "status": status, "artifact_type": artifact_type}
        filters = {k: str(getattr(v, "value", v)) for k, v in wanted.items() if v is not None}
        entries = await self._index(after, filters, size + 1)
        items = await self._read_many([str(e["id"]) for e in entries[:size]])
        more = len(entries) > size
        return Page(items, encode_number(int(entries[size - 1]["sk"])) if more else "")

    async def record_decision(
        self, decision: ApprovalDecision, *, expected_version: int, new_status: ApprovalStatus
    ) -> ApprovalRequest:
        """Append the decision and move the status in one transaction, if the version matches.

        Raises:
            ValueError, NotFoundError, ConcurrentChangeError, NotPendingError, DuplicateError:
                As :meth:`ApprovalStore.record_decision` documents; nothing is written.
            ExecutionError: ``DEPENDENCY_UNAVAILABLE``: DynamoDB is unreachable.
        """
        status = rules.check_new_status(decision, new_status)
        request_id = decision.approval_request_id
        for attempt in range(MAX_ATTEMPTS):
            request, seq = await self._current(request_id, expected_version)
            rules.check_decidable(request, decision)
            if await self._decided(decision):
                raise DuplicateError(rules.already_decided(decision))
            put = self._put(_decision_item(decision, request.version), "attribute_not_exists(pk)")
            if await self._transact(
                *self._move(request, seq, status), {"Put": put}, self._revision_step()
            ):
                return self._moved(request, status)
            await backoff(attempt)
        raise busy("record the approval decision")

    async def expire(
        self, approval_request_id: str, *, expected_version: int, at_ms: int
    ) -> ApprovalRequest:
        """Mark the request EXPIRED, if the version matches and its deadline has passed.

        Raises:
            NotFoundError, ConcurrentChangeError, NotPendingError, ValueError: As
                :meth:`ApprovalStore.expire` documents; nothing is written.
            ExecutionError: ``DEPENDENCY_UNAVAILABLE``: DynamoDB is unreachable.
        """
        for attempt in range(MAX_ATTEMPTS):
            request, seq = await self._current(approval_request_id, expected_version)
            rules.check_expirable(request, at_ms)
            expired = ApprovalStatus.EXPIRED
            if await self._transact(*self._move(request, seq, expired), self._revision_step()):
                return self._moved(request, expired)
            await backoff(attempt)
        raise busy("expire the approval request")

    async def decisions(self, approval_request_id: str) -> Sequence[ApprovalDecision]:
        """Every decision, oldest first (ordered by the version each was recorded at)."""
        values = await self._query(
            KeyConditionExpression="pk = :p AND begins_with(sk, :d)",
            ExpressionAttributeValues=to_item(
                {":p": f"request#{approval_request_id}", ":d": "decision#"}
            ),
        )
        values.sort(key=lambda v: int(v["order"]))
        return [_decision(approval_request_id, v) for v in values]

    async def revision(self) -> int:
        """The shared counter every write bumps in its own transaction (module docstring)."""
        return await self._counter("n")

    async def close(self) -> None:
        """Stop the background duty (the clients belong to the shared :class:`Aws`)."""
        await self.executions.close()

    # -- the transaction steps -------------------------------------------------------------

    def _put(self, item: dict[str, Any], condition: str = "") -> dict[str, Any]:
        step: dict[str, Any] = {"TableName": self._table, "Item": item}
        if condition:
            step["ConditionExpression"] = condition
        return step

    def _counter_key(self) -> dict[str, Any]:
        return to_item({"pk": _COUNTER_PK, "sk": "counters"})

    def _revision_step(self) -> dict[str, Any]:
        # NOTE: unconditional ADD: the transaction serialises it with the rest of the write.
        key = self._counter_key()
        values = to_item({":one": 1})
        return {
            "Update": {
                "TableName": self._table,
                "Key": key,
                "UpdateExpression": "ADD n :one",
                "ExpressionAttributeValues": values,
            }
        }

    def _create_step(self, seq: int) -> dict[str, Any]:
        """The revision bump of a create, with the compare-and-set of the creation sequence
        (same item): creates commit in sequence order."""
        step: dict[str, Any] = {
            "TableName": self._table,
            "Key": self._counter_key(),
            "UpdateExpression": "SET seq = :next ADD n :one",
        }
        if seq:
            step["ConditionExpression"] = "seq = :seq"
            step["ExpressionAttributeValues"] = to_item({":next": seq + 1, ":seq": seq, ":one": 1})
        else:
            step["ConditionExpression"] = "attribute_not_exists(seq)"
            step["ExpressionAttributeValues"] = to_item({":next": 1, ":one": 1})
        return {"Update": step}

    def _move(
        self, request: ApprovalRequest, seq: int, status: ApprovalStatus
    ) -> list[dict[str, Any]]:
        """The status move, conditioned on the version the caller's checks ran against."""
        values = to_item({":s": status.value, ":old": request.version, ":new": request.version + 1})
        move = {
            "TableName": self._table,
            "Key": request_key(request.approval_request_id),
            "UpdateExpression": "SET #s = :s, #v = :new",
            "ConditionExpression": "#v = :old",
            "ExpressionAttributeNames": _NAMES,
            "ExpressionAttributeValues": values,
        }
        steps = [{"Update": move}]
        # The listing entry and the outbox entry (which tells the executions duty that there is
        # an outcome to report) carry the status too, moved in the same transaction.
        for key in (
            {"pk": _LIST_PK, "sk": f"{seq:020d}"},
            {"pk": OUTBOX_PK, "sk": request.approval_request_id},
        ):
            update = {
                "TableName": self._table,
                "Key": to_item(key),
                "UpdateExpression": "SET #s = :s",
                "ExpressionAttributeNames": {"#s": "status"},
                "ExpressionAttributeValues": to_item({":s": status.value}),
            }
            steps.append({"Update": update})
        return steps

    def _moved(self, request: ApprovalRequest, status: ApprovalStatus) -> ApprovalRequest:
        if status in _FINAL:
            self.executions.wake()  # report the outcome to Step Functions now, not next interval
        # ``request`` was read from the table for this write, so the copy shares nothing.
        return dataclasses.replace(request, status=status, version=request.version + 1)

    async def _transact(self, *steps: dict[str, Any]) -> bool:
        """Commit ``steps`` atomically; False when a condition or a concurrent transaction
        cancelled it (nothing was written)."""
        try:
            await self._aws.call("dynamodb", "transact_write_items", TransactItems=list(steps))
        except Exception as exc:
            if error_code(exc) == "TransactionCanceledException":
                return False
            raise unavailable("write the approval table", exc) from exc
        return True

    # -- reads -----------------------------------------------------------------------------

    async def _call(self, operation: str, **kwargs: Any) -> Any:
        try:
            return await self._aws.call("dynamodb", operation, TableName=self._table, **kwargs)
        except Exception as exc:
            raise unavailable("read the approval table", exc) from exc

    async def _query(self, **kwargs: Any) -> list[dict[str, Any]]:
        values: list[dict[str, Any]] = []
        start: dict[str, Any] | None = None
        while True:
            extra = {"ExclusiveStartKey": start} if start else {}
            reply = await self._call("query", ConsistentRead=True, **kwargs, **extra)
            values.extend(from_item(i) for i in reply.get("Items", []))
            start = reply.get("LastEvaluatedKey")
            if not start:
                return values

    async def _counter(self, name: str) -> int:
        """``"n"`` (the revision) or ``"seq"`` (the last creation sequence number)."""
        reply = await self._call("get_item", Key=self._counter_key(), ConsistentRead=True)
        return int(from_item(reply.get("Item", {})).get(name, 0))

    async def _read(self, approval_request_id: str) -> tuple[ApprovalRequest, int] | None:
        reply = await self._call(
            "get_item", Key=request_key(approval_request_id), ConsistentRead=True
        )
        if "Item" not in reply:
            return None
        values = from_item(reply["Item"])
        return _request(values), int(values["seq"])

    async def _read_many(self, ids: Sequence[str]) -> list[ApprovalRequest]:
        """The requests of ``ids``, in that order (BatchGetItem, 100 keys a call)."""
        found: dict[str, ApprovalRequest] = {}
        for first in range(0, len(ids), BATCH):
            keys = [request_key(i) for i in ids[first : first + BATCH]]
            while keys:
                table = {"Keys": keys, "ConsistentRead": True}
                reply = await self._batch_get(table)
                for item in reply.get("Responses", {}).get(self._table, []):
                    request = _request(from_item(item))
                    found[request.approval_request_id] = request
                keys = reply.get("UnprocessedKeys", {}).get(self._table, {}).get("Keys", [])
                if keys:
                    await backoff(3)  # throttled: DynamoDB asks for a pause
        return [found[i] for i in ids if i in found]

    async def _batch_get(self, table: dict[str, Any]) -> Any:
        try:
            return await self._aws.call(
                "dynamodb", "batch_get_item", RequestItems={self._table: table}
            )
        except Exception as exc:
            raise unavailable("read the approval table", exc) from exc

    async def _current(
        self, approval_request_id: str, expected_version: int
    ) -> tuple[ApprovalRequest, int]:
        found = await self._read(approval_request_id)
        if found is None:
            raise NotFoundError(f"no approval request {approval_request_id!r}")
        if found[0].version != expected_version:
            raise ConcurrentChangeError(
                f"approval request {approval_request_id!r}",
                expected=expected_version,
                actual=found[0].version,
            )
        return found

    async def _decided(self, decision: ApprovalDecision) -> bool:
        key = to_item(
            {
                "pk": f"request#{decision.approval_request_id}",
                "sk": f"decision#{decision.approver_id}",
            }
        )
        reply = await self._call(
            "get_item", Key=key, ConsistentRead=True, ProjectionExpression="pk"
        )
        return "Item" in reply

    async def _index(self, after: int, filters: dict[str, str], count: int) -> list[dict[str, Any]]:
        """Up to ``count`` listing entries after sequence ``after`` matching ``filters``."""
        names = {f"#f{i}": k for i, k in enumerate(filters)}
        values = {f":f{i}": v for i, v in enumerate(filters.values())}
        extra: dict[str, Any] = {}
        if filters:
            extra["FilterExpression"] = " AND ".join(f"#f{i} = :f{i}" for i in range(len(filters)))
            extra["ExpressionAttributeNames"] = names
        entries: list[dict[str, Any]] = []
        start: dict[str, Any] | None = None
        while len(entries) < count:
            if start:
                extra["ExclusiveStartKey"] = start
            reply = await self._call(
                "query",
                ConsistentRead=True,
                KeyConditionExpression="pk = :p AND sk > :after",
                ExpressionAttributeValues=to_item(
                    {":p": _LIST_PK, ":after": f"{after:020d}", **values}
                ),
                **extra,
            )
            entries.extend(from_item(i) for i in reply.get("Items", []))
            start = reply.get("LastEvaluatedKey")
            if not start:
                break
        return entries[:count]
