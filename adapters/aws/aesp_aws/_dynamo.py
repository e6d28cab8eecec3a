"""DynamoDB helpers shared by the adapters that keep records there.

Tables are created by the deployment (``deploy/aesp-aws.yaml``); with
``create_resources = true`` (development, tests) an adapter creates its table at start-up.
Every table has a string partition key ``pk`` and, where it needs one, a string sort key ``sk``.
"""

from __future__ import annotations

from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from aesp_aws._aws import Aws, error_code

_SER = TypeSerializer()
_DES = TypeDeserializer()


def to_item(values: dict[str, Any]) -> dict[str, Any]:
    """A DynamoDB item (``{"S": ...}`` shapes) from plain Python values (ints, strs, bytes...)."""
    return {k: _SER.serialize(v) for k, v in values.items()}


def from_item(item: dict[str, Any]) -> dict[str, Any]:
    """Plain Python values from a DynamoDB item (numbers come back as ``Decimal``)."""
    return {k: _DES.deserialize(v) for k, v in item.items()}


async def ensure_table(aws: Aws, name: str, *, sort_key: bool = True) -> None:
    """Create table ``name`` (``pk`` [+ ``sk``], on-demand) if it is missing; wait until ACTIVE.

    Does nothing unless the settings say ``create_resources``.
    """
    if not aws.settings.create_resources:
        return
    keys = [{"AttributeName": "pk", "KeyType": "HASH"}]
    attrs = [{"AttributeName": "pk", "AttributeType": "S"}]
    if sort_key:
        keys.append({"AttributeName": "sk", "KeyType": "RANGE"})
        attrs.append({"AttributeName": "sk", "AttributeType": "S"})
    try:
        await aws.call(
            "dynamodb",
            "create_table",
            TableName=name,
            KeySchema=keys,
            AttributeDefinitions=attrs,
            BillingMode="PAY_PER_REQUEST",
        )
    except Exception as exc:
        if error_code(exc) != "ResourceInUseException":
            raise
    waiter = aws.client("dynamodb").get_waiter("table_exists")
    await aws.run(waiter.wait, TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
