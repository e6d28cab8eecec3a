"""The CloudTrail Data fake, driven by the real boto3 ``cloudtrail-data`` client: the shapes it
answers are the ones botocore's model parses, and its errors map to the model's exceptions."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, EndpointConnectionError

from tests.aws_doubles.cloudtrail_data_fake import CloudTrailDataFake
from tests.aws_doubles.moto_server import use_test_credentials


@pytest.fixture
def fake() -> Iterator[CloudTrailDataFake]:
    server = CloudTrailDataFake().start()
    yield server
    server.stop()


@pytest.fixture
def client(fake: CloudTrailDataFake) -> Any:
    use_test_credentials()
    return boto3.client(
        "cloudtrail-data",
        region_name="us-east-1",
        endpoint_url=fake.url,
        config=Config(retries={"max_attempts": 1}, connect_timeout=1),
    )


def data(uid: str) -> str:
    return json.dumps(
        {
            "version": "1.0",
            "userIdentity": {"type": "T", "principalId": "p"},
            "eventSource": "s",
            "eventName": "n",
            "eventTime": "2026-01-01T00:00:00Z",
            "UID": uid,
            "recipientAccountId": "123456789012",
        }
    )


def entry(uid: str, checksum: bool = True) -> dict[str, str]:
    item = {"id": uid, "eventData": data(uid)}
    if checksum:
        digest = hashlib.sha256(item["eventData"].encode()).digest()
        item["eventDataChecksum"] = base64.b64encode(digest).decode()
    return item


def test_put_stores_events_and_drops_a_repeated_id(fake: CloudTrailDataFake, client: Any) -> None:
    arn = fake.add_channel()
    reply = client.put_audit_events(
        channelArn=arn, externalId="ext-1", auditEvents=[entry("a"), entry("b", checksum=False)]
    )
    assert [ok["id"] for ok in reply["successful"]] == ["a", "b"] and reply["failed"] == []
    again = client.put_audit_events(channelArn=arn, auditEvents=[entry("a")])
    assert again["successful"][0]["eventID"] == reply["successful"][0]["eventID"]
    stored = fake.stored(arn)
    assert [e.id for e in stored] == ["a", "b"] and stored[0].external_id == "ext-1"
    assert stored[0].data["UID"] == "a"


def test_a_bad_checksum_and_an_injected_failure_land_in_failed(
    fake: CloudTrailDataFake, client: Any
) -> None:
    arn = fake.add_channel()
    bad = entry("x") | {"eventDataChecksum": base64.b64encode(b"0" * 32).decode()}
    fake.reject_next(["y"])
    reply = client.put_audit_events(channelArn=arn, auditEvents=[bad, entry("y"), entry("z")])
    assert [ok["id"] for ok in reply["successful"]] == ["z"]
    assert {(f["id"], f["errorCode"]) for f in reply["failed"]} == {
        ("x", "InvalidChecksum"),
        ("y", "ServiceUnavailable"),
    }
    assert client.put_audit_events(channelArn=arn, auditEvents=[entry("y")])["failed"] == []


@pytest.mark.parametrize(
    ("arn", "events", "code"),
    [
        ("arn:aws:cloudtrail:us-east-1:123456789012:channel/nope", [entry("a")], "ChannelNotFound"),
        ("arn:aws:s3:::bucket", [entry("a")], "InvalidChannelARN"),
        (None, [entry("a"), entry("a")], "DuplicatedAuditEventId"),
        (None, [{"id": "a", "eventData": "{}"}], "ChannelUnsupportedSchema"),
        (None, [entry(f"e{n}") for n in range(101)], "ValidationException"),
    ],
)
def test_request_errors_use_the_model_codes(
    fake: CloudTrailDataFake, client: Any, arn: str | None, events: list[dict[str, str]], code: str
) -> None:
    with pytest.raises(ClientError) as caught:
        client.put_audit_events(channelArn=arn or fake.add_channel(), auditEvents=events)
    assert caught.value.response["Error"]["Code"] == code
    if code in {"ChannelNotFound", "DuplicatedAuditEventId"}:
        modelled = getattr(client.exceptions, code)
        assert isinstance(caught.value, modelled)  # botocore mapped it to the model's exception


def test_stop_and_start_is_an_outage_on_the_same_port(
    fake: CloudTrailDataFake, client: Any
) -> None:
    arn = fake.add_channel()
    port = fake.port
    fake.stop()
    with pytest.raises(EndpointConnectionError):
        client.put_audit_events(channelArn=arn, auditEvents=[entry("a")])
    fake.start()
    assert fake.port == port
    assert client.put_audit_events(channelArn=arn, auditEvents=[entry("a")])["failed"] == []
