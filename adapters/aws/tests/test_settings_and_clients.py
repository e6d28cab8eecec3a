"""The ``[adapters.aws]`` table is validated, and the clients reach the configured endpoint."""

from __future__ import annotations

import pytest
from aesp_aws._aws import Aws, error_code
from aesp_aws._dynamo import ensure_table, from_item, to_item
from aesp_aws.settings import AwsSettings

from aesp.core.errors import ConfigurationError


def test_defaults_name_public_aws() -> None:
    settings = AwsSettings.from_mapping({})
    assert settings.region == "us-east-1"
    assert settings.endpoint("dynamodb") is None
    assert settings.table("tenants") == "aesp-tenants"


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ({"region": ""}, "region"),
        ({"endpoints": {"kms": 5}}, "endpoints"),
        ({"table_prefix": "a b"}, "table_prefix"),
        ({"sync_interval_s": 0}, "sync_interval_s"),
        ({"create_resources": "yes"}, "create_resources"),
    ],
)
def test_bad_common_keys_are_named(raw: dict, key: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        AwsSettings.from_mapping(raw)
    assert caught.value.code == "INVALID_CONFIG"
    assert key in caught.value.message


def test_missing_resource_key_says_what_it_names() -> None:
    with pytest.raises(ConfigurationError) as caught:
        AwsSettings.from_mapping({}).require("kms_key_id", "the KMS key that signs checkpoints")
    assert "kms_key_id" in caught.value.message
    assert "signs checkpoints" in caught.value.message


def test_per_service_endpoint_overrides_the_shared_one() -> None:
    settings = AwsSettings.from_mapping(
        {"endpoint_url": "http://a", "endpoints": {"cloudtrail-data": "http://b"}}
    )
    assert settings.endpoint("cloudtrail-data") == "http://b"
    assert settings.endpoint("kms") == "http://a"


async def test_table_is_created_once_and_items_round_trip(aws: Aws) -> None:
    name = aws.settings.table("probe")
    await ensure_table(aws, name)
    await ensure_table(aws, name)  # idempotent
    await aws.call(
        "dynamodb", "put_item", TableName=name, Item=to_item({"pk": "a", "sk": "b", "n": 7})
    )
    reply = await aws.call(
        "dynamodb", "get_item", TableName=name, Key=to_item({"pk": "a", "sk": "b"})
    )
    assert from_item(reply["Item"]) == {"pk": "a", "sk": "b", "n": 7}
    with pytest.raises(Exception) as caught:
        await aws.call(
            "dynamodb",
            "put_item",
            TableName=name,
            Item=to_item({"pk": "a", "sk": "b"}),
            ConditionExpression="attribute_not_exists(pk)",
        )
    assert error_code(caught.value) == "ConditionalCheckFailedException"
