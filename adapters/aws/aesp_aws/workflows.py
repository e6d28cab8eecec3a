"""Approval-workflow definitions in DynamoDB (``<table_prefix>-workflows``).

Definitions are few (a handful per tenant and artifact type) and read as a set by the routing
rule, so they live in one partition (``pk = "workflows"``, ``sk`` = the workflow id): a get is
one GetItem, a listing one Query. Each write is one ``TransactWriteItems`` with the revision
counter (``pk = "counter"``), and a replace is compare-and-set on ``version``, so two Hosts on
one table serialise and exactly one writer of a version wins.

How another Host learns of a change: ``revision()`` reads the counter the write bumped in the
same transaction; a Host that caches definitions re-reads them when it moved.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Final

from botocore.exceptions import BotoCoreError, ClientError

from aesp.core.governance.workflows import ApprovalWorkflow
from aesp.core.ports._errors import ConcurrentChangeError, DuplicateError, NotFoundError
from aesp.core.ports.governance import ArtifactType
from aesp_aws._aws import Aws, error_code
from aesp_aws._dynamo import ensure_table, from_item, to_item
from aesp_aws.governance import MAX_ATTEMPTS, backoff, busy, unavailable

__all__ = ["DynamoWorkflowStore"]

TABLE: Final = "workflows"
_PK: Final = "workflows"
_COUNTER: Final = {"pk": "counter", "sk": "revision"}


def _item(w: ApprovalWorkflow, version: int, *, tenant_id: str, created_at_ms: int) -> dict:
    return to_item(
        {
            "pk": _PK,
            "sk": w.workflow_id,
            "tenant_id": tenant_id,
            "artifact_type": w.artifact_type.value,
            "required_approvers": json.dumps(list(w.required_approvers)),
            "min_approvals": w.min_approvals,
            "expires_after_ms": w.expires_after_ms,
            "conditions": json.dumps(dict(w.conditions), sort_keys=True),
            "name": w.name,
            "version": version,
            "created_at_ms": created_at_ms,
            "updated_at_ms": w.updated_at_ms,
            "updated_by": w.updated_by,
        }
    )


def _workflow(v: dict[str, Any]) -> ApprovalWorkflow:
    return ApprovalWorkflow(
        workflow_id=str(v["sk"]),
        tenant_id=str(v["tenant_id"]),
        artifact_type=ArtifactType(str(v["artifact_type"])),
        required_approvers=tuple(json.loads(str(v["required_approvers"]))),
        min_approvals=int(v["min_approvals"]),
        expires_after_ms=int(v["expires_after_ms"]),
        conditions=json.loads(str(v["conditions"])),
        name=str(v["name"]),
        version=int(v["version"]),
        created_at_ms=int(v["created_at_ms"]),
        updated_at_ms=int(v["updated_at_ms"]),
        updated_by=str(v["updated_by"]),
    )


class DynamoWorkflowStore:
    """Workflow definitions in DynamoDB, shared safely by every Host replica. Use :meth:`open`."""

    def __init__(self, aws: Aws, *, table: str) -> None:
        self._aws = aws
        self._table = table

    @classmethod
    async def open(cls, aws: Aws) -> DynamoWorkflowStore:
        """Create the table when ``create_resources``.

        Raises:
            ExecutionError: ``DEPENDENCY_UNAVAILABLE``: DynamoDB could not be reached.
        """
        table = aws.settings.table(TABLE)
        try:
            await ensure_table(aws, table)
        except (ClientError, BotoCoreError) as exc:
            raise unavailable("open the workflow table", exc) from exc
        return cls(aws, table=table)

    async def create(self, workflow: ApprovalWorkflow) -> ApprovalWorkflow:
        """Store a new workflow at version 1.

        Raises:
            DuplicateError: The id exists (nothing changes).
            ExecutionError: ``DEPENDENCY_UNAVAILABLE``: DynamoDB is unreachable.
        """
        item = _item(
            workflow, 1, tenant_id=workflow.tenant_id, created_at_ms=workflow.created_at_ms
        )
        for attempt in range(MAX_ATTEMPTS):
            if await self._write(item, "attribute_not_exists(pk)", {}):
                return _workflow(from_item(item))
            if await self.get(workflow.workflow_id) is not None:
                raise DuplicateError(f"approval workflow {workflow.workflow_id!r} already exists")
            await backoff(attempt)  # a concurrent transaction on the counter: try again
        raise busy("create the workflow")

    async def replace(
        self, workflow: ApprovalWorkflow, *, expected_version: int
    ) -> ApprovalWorkflow:
        """Replace the definition at ``expected_version``; tenant and creation time are kept.

        Raises:
            NotFoundError: No such workflow.
            ConcurrentChangeError: The stored version differs (nothing written).
            ExecutionError: ``DEPENDENCY_UNAVAILABLE``: DynamoDB is unreachable.
        """
        for attempt in range(MAX_ATTEMPTS):
            current = await self.get(workflow.workflow_id)
            if current is None or current.version != expected_version:
                break
            item = _item(
                workflow,
                expected_version + 1,
                tenant_id=current.tenant_id,
                created_at_ms=current.created_at_ms,
            )
            if await self._write(item, "version = :v", {":v": expected_version}):
                return _workflow(from_item(item))
            await backoff(attempt)  # lost to a writer of this or another item; re-read
        else:
            raise busy("replace the workflow")
        if current is None:
            raise NotFoundError(f"no approval workflow {workflow.workflow_id!r}")
        raise ConcurrentChangeError(
            f"approval workflow {workflow.workflow_id!r}",
            expected=expected_version,
            actual=current.version,
        )

    async def get(self, workflow_id: str) -> ApprovalWorkflow | None:
        """The workflow (consistent read), or None."""
        key = to_item({"pk": _PK, "sk": workflow_id})
        reply = await self._call("get_item", Key=key, ConsistentRead=True)
        return _workflow(from_item(reply["Item"])) if "Item" in reply else None

    async def list(
        self, *, tenant_id: str | None, artifact_type: ArtifactType | None = None
    ) -> Sequence[ApprovalWorkflow]:
        """Matching workflows ordered by ``(tenant_id, workflow_id)``."""
        found: list[ApprovalWorkflow] = []
        start: dict[str, Any] | None = None
        while True:
            extra = {"ExclusiveStartKey": start} if start else {}
            reply = await self._call(
                "query",
                KeyConditionExpression="pk = :p",
                ExpressionAttributeValues=to_item({":p": _PK}),
                ConsistentRead=True,
                **extra,
            )
            found.extend(_workflow(from_item(i)) for i in reply.get("Items", []))
            start = reply.get("LastEvaluatedKey")
            if not start:
                break
        kind = None if artifact_type is None else ArtifactType(artifact_type)
        return sorted(
            (
                w
                for w in found
                if tenant_id in (None, w.tenant_id) and kind in (None, w.artifact_type)
            ),
            key=lambda w: (w.tenant_id, w.workflow_id),
        )

    async def revision(self) -> int:
        """The counter every write bumps in its own transaction."""
        reply = await self._call("get_item", Key=to_item(_COUNTER), ConsistentRead=True)
        return int(from_item(reply["Item"])["n"]) if "Item" in reply else 0

    async def close(self) -> None:
        """Nothing to release: the clients belong to the shared :class:`Aws`."""

    async def _write(self, item: dict, condition: str, values: dict[str, Any]) -> bool:
        """Put ``item`` if ``condition`` holds, bumping the revision in the same transaction;
        False when the condition failed (nothing written)."""
        put: dict[str, Any] = {"TableName": self._table, "Item": item}
        put["ConditionExpression"] = condition
        if values:
            put["ExpressionAttributeValues"] = to_item(values)
        bump = {
            "TableName": self._table,
            "Key": to_item(_COUNTER),
            "UpdateExpression": "ADD n :one",
            "ExpressionAttributeValues": to_item({":one": 1}),
        }
        try:
            await self._aws.call(
                "dynamodb",
                "transact_write_items",
                TransactItems=[{"Put": put}, {"Update": bump}],
            )
        except Exception as exc:
            if error_code(exc) == "TransactionCanceledException":
                return False
            raise unavailable("write the workflow table", exc) from exc
        return True

    async def _call(self, operation: str, **kwargs: Any) -> Any:
        try:
            return await self._aws.call("dynamodb", operation, TableName=self._table, **kwargs)
        except Exception as exc:
            raise unavailable("read the workflow table", exc) from exc
