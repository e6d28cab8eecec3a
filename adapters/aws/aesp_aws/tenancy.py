"""The Tenant port on DynamoDB (table ``<prefix>-tenants``).

Why one partition: the port lists tenants in id order, and a DynamoDB Scan is unordered, so
every tenant is an item of the single partition ``pk = "tenant"`` with ``sk = <tenant id>`` and a
Query returns them sorted by id. Tenants are few and change rarely (an administrator's action),
far below one partition's throughput; the call path never reads this table (the core keeps its
own map of tenants and reloads it on change).

Writes are single UpdateItem calls, so two Hosts writing one tenant never lose the creation
time: ``created_at_ms`` is set with ``if_not_exists`` and kept by every later ``put``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from aesp.core.errors import ExecutionError
from aesp.core.ports._paging import Page, page_limit
from aesp.core.ports.tenancy import Tenant, TenantStatus
from aesp_aws._aws import Aws, error_code
from aesp_aws._dynamo import ensure_table, from_item, to_item

__all__ = ["PARTITION", "DynamoTenantRegistry"]

PARTITION = "tenant"  # the one partition key of every tenant item


class DynamoTenantRegistry:
    """Tenants as items of one DynamoDB partition, read with strong consistency.

    Args:
        aws: The Host's AWS clients; the table is ``aws.settings.table("tenants")``.
    """

    def __init__(self, aws: Aws) -> None:
        self._aws = aws
        self._table = aws.settings.table("tenants")

    @classmethod
    async def open(cls, aws: Aws) -> DynamoTenantRegistry:
        """The registry, after creating its table when the settings say ``create_resources``."""
        try:
            await ensure_table(aws, aws.settings.table("tenants"))
        except Exception as exc:
            raise _unavailable(aws.settings.table("tenants"), exc) from exc
        return cls(aws)

    async def get(self, tenant_id: str) -> Tenant | None:
        """The tenant, or None if it is not registered.

        Raises:
            ExecutionError: ``SERVICE_UNAVAILABLE`` when DynamoDB cannot be reached.
        """
        if not tenant_id:
            return None  # DynamoDB refuses an empty key; no tenant has one
        reply = await self._call(
            "get_item",
            Key=to_item({"pk": PARTITION, "sk": tenant_id}),
            ConsistentRead=True,
        )
        item = reply.get("Item")
        return _tenant(from_item(item)) if item else None

    async def put(self, tenant: Tenant) -> None:
        """Create or replace the tenant, keeping the creation time of an existing record.

        Raises:
            ExecutionError: ``SERVICE_UNAVAILABLE`` when DynamoDB cannot be reached.
        """
        await self._call(
            "update_item",
            Key=to_item({"pk": PARTITION, "sk": tenant.tenant_id}),
            UpdateExpression=(
                "SET #name = :name, #status = :status, #updated = :updated, #meta = :meta, "
                "#created = if_not_exists(#created, :created)"
            ),
            ExpressionAttributeNames={
                "#name": "display_name",
                "#status": "status",
                "#updated": "updated_at_ms",
                "#meta": "metadata",
                "#created": "created_at_ms",
            },
            ExpressionAttributeValues=to_item(
                {
                    ":name": tenant.display_name,
                    ":status": tenant.status.value,
                    ":updated": tenant.updated_at_ms,
                    ":meta": dict(tenant.metadata),
                    ":created": tenant.created_at_ms,
                }
            ),
        )

    async def list(self, *, limit: int = 0, cursor: str = "") -> Page[Tenant]:
        """Tenants ordered by id; the cursor is the last id of the previous page.

        Raises:
            ExecutionError: ``SERVICE_UNAVAILABLE`` when DynamoDB cannot be reached.
        """
        size = page_limit(limit)
        condition = "pk = :pk AND sk > :after" if cursor else "pk = :pk"
        values: dict[str, Any] = {":pk": PARTITION} | ({":after": cursor} if cursor else {})
        query: dict[str, Any] = {
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": to_item(values),
            "ConsistentRead": True,
        }
        found: list[Tenant] = []
        # NOTE: one more item than the page tells whether a next page exists; a reply may stop
        # early at DynamoDB's 1 MB limit, hence the loop on LastEvaluatedKey.
        while len(found) <= size:
            reply = await self._call("query", Limit=size + 1 - len(found), **query)
            found += [_tenant(from_item(item)) for item in reply.get("Items", [])]
            last = reply.get("LastEvaluatedKey")
            if not last:
                break
            query["ExclusiveStartKey"] = last
        items = found[:size]
        return Page(items, items[-1].tenant_id if len(found) > size else "")

    async def close(self) -> None:
        """Nothing to release: the clients belong to the Host's :class:`Aws`."""

    async def _call(self, operation: str, **kwargs: Any) -> Any:
        try:
            return await self._aws.call("dynamodb", operation, TableName=self._table, **kwargs)
        except Exception as exc:
            raise _unavailable(self._table, exc) from exc


def _tenant(item: dict[str, Any]) -> Tenant:
    return Tenant(
        tenant_id=str(item["sk"]),
        display_name=str(item.get("display_name", "")),
        status=TenantStatus(str(item["status"])),
        created_at_ms=_int(item.get("created_at_ms")),
        updated_at_ms=_int(item.get("updated_at_ms")),
        metadata={str(k): str(v) for k, v in item.get("metadata", {}).items()},
    )


def _int(value: object) -> int:
    return int(value) if isinstance(value, Decimal | int) else 0


def _unavailable(table: str, exc: BaseException) -> ExecutionError:
    """Fail closed: the tenant registry is out of reach (or its table is missing)."""
    return ExecutionError(
        "SERVICE_UNAVAILABLE",
        f"The tenant registry (DynamoDB table '{table}') cannot be used "
        f"({error_code(exc) or type(exc).__name__}).",
        retry_after_ms=1000,
        remediation_steps=(
            "Check that the Host reaches DynamoDB and that its role may use the table.",
            "Check that the table exists (deploy/aesp-aws.yaml creates it).",
        ),
    )
