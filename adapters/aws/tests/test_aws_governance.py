"""The Governance port on AWS against moto in server mode: the approval store and the workflow
store pass their kits (a second store object on the same table is the second Host replica), and
each request's Step Functions execution ends the way the request did: SUCCEEDED with the
decision summary when approved, FAILED with the status when rejected or expired, and started
late (by any Host) when Step Functions was unreachable at creation."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from aesp_aws._aws import Aws
from aesp_aws.approval_workflow import definition, execution_name
from aesp_aws.governance import DynamoApprovalStore
from aesp_aws.settings import AwsSettings
from aesp_aws.workflows import DynamoWorkflowStore
from botocore.exceptions import ClientError

from aesp.core.errors import ConfigurationError, ExecutionError, ValidationError
from aesp.core.ports.governance import ApprovalStatus, Verdict
from aesp.testing.conformance._governance_races import decision, request
from aesp.testing.conformance.governance import AbstractApprovalStoreConformance
from aesp.testing.conformance.workflows import AbstractWorkflowStoreConformance
from tests.aws_doubles.moto_server import MotoServer

APPROVED, REJECTED = ApprovalStatus.APPROVED, ApprovalStatus.REJECTED
DEAD_ENDPOINT = "http://127.0.0.1:9"  # the discard port: nothing listens, connections fail fast
EXECUTION_WAIT_S = 20.0  # moto runs executions in threads; generous on a loaded 2-core machine


@pytest.fixture
def settings(aws_settings: AwsSettings) -> AwsSettings:
    """The test's settings with a 1 s long poll, so a closed store's receiver ends quickly."""
    return dataclasses.replace(
        aws_settings, options={**aws_settings.options, "approval_queue_wait_s": 1}
    )


@pytest.fixture
def clients(settings: AwsSettings) -> Iterator[list[Aws]]:
    """Every :class:`Aws` a test makes (one per simulated Host), closed at the end."""
    made: list[Aws] = []
    yield made
    for aws in made:
        aws.close()


async def open_host(clients: list[Aws], settings: AwsSettings) -> DynamoApprovalStore:
    """One Host's store: its own clients, the shared table, queue and state machine."""
    aws = Aws(settings)
    clients.append(aws)
    return await DynamoApprovalStore.open(aws)


class TestDynamoApprovalStore(AbstractApprovalStoreConformance):
    # The executions duty runs here too, at a calmer pace than in the Step Functions tests
    # below: the kit checks the record, and the duty must not disturb it.
    @pytest.fixture
    def kit_settings(self, settings: AwsSettings) -> AwsSettings:
        return dataclasses.replace(settings, sync_interval_s=1.0)

    @pytest.fixture
    async def port(
        self, kit_settings: AwsSettings, clients: list[Aws]
    ) -> AsyncIterator[DynamoApprovalStore]:
        store = await open_host(clients, kit_settings)
        yield store
        await store.close()

    @pytest.fixture
    async def replica(
        self, kit_settings: AwsSettings, clients: list[Aws], port: DynamoApprovalStore
    ) -> AsyncIterator[DynamoApprovalStore]:
        store = await open_host(clients, kit_settings)
        yield store
        await store.close()


class TestDynamoWorkflowStore(AbstractWorkflowStoreConformance):
    @pytest.fixture
    async def port(self, aws: Aws) -> AsyncIterator[DynamoWorkflowStore]:
        store = await DynamoWorkflowStore.open(aws)
        yield store
        await store.close()


@pytest.fixture
async def store(settings: AwsSettings, clients: list[Aws]) -> AsyncIterator[DynamoApprovalStore]:
    opened = await open_host(clients, settings)
    yield opened
    await opened.close()


async def finished_execution(
    aws: Aws, store: DynamoApprovalStore, request_id: str
) -> dict[str, Any]:
    """Poll ``describe_execution`` (executions are asynchronous) until it is no longer
    RUNNING."""
    machine = store.executions.state_machine_arn
    arn = machine.replace(":stateMachine:", ":execution:") + ":" + execution_name(request_id)
    sfn = aws.client("stepfunctions")
    deadline = asyncio.get_running_loop().time() + EXECUTION_WAIT_S
    while True:
        try:
            described = await asyncio.to_thread(sfn.describe_execution, executionArn=arn)
            if described["status"] != "RUNNING":
                return described
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ExecutionDoesNotExist":
                raise
        assert asyncio.get_running_loop().time() < deadline, f"{request_id} still running"
        await asyncio.sleep(0.1)


async def executions(aws: Aws, store: DynamoApprovalStore) -> list[dict[str, Any]]:
    reply = await asyncio.to_thread(
        aws.client("stepfunctions").list_executions,
        stateMachineArn=store.executions.state_machine_arn,
    )
    return list(reply["executions"])


async def test_an_approved_request_ends_its_execution_succeeded_with_the_decision(
    aws: Aws, store: DynamoApprovalStore
) -> None:
    await store.create(request("apr-1", required_approvers=("alice", "bob"), min_approvals=2))
    await store.record_decision(
        decision("apr-1", "alice", comments="fine"), expected_version=1, new_status="PENDING"
    )
    await store.record_decision(decision("apr-1", "bob"), expected_version=2, new_status=APPROVED)
    finished = await finished_execution(aws, store, "apr-1")
    assert finished["status"] == "SUCCEEDED"
    assert finished["name"] == "apr-1"
    output = json.loads(finished["output"])
    assert output["approval_request_id"] == "apr-1"
    assert output["outcome"]["status"] == "APPROVED"
    assert output["outcome"]["version"] == 3
    assert [
        (d["approver_id"], d["decision"], d["comments"]) for d in output["outcome"]["decisions"]
    ] == [
        ("alice", "APPROVE", "fine"),
        ("bob", "APPROVE", ""),
    ]
    got = await store.get("apr-1")
    assert got is not None and got.status is APPROVED  # DynamoDB stays the record


@pytest.mark.parametrize("final", ["REJECTED", "EXPIRED"])
async def test_a_rejected_or_expired_request_ends_its_execution_failed(
    aws: Aws, store: DynamoApprovalStore, final: str
) -> None:
    await store.create(request("apr-2", expires_at_ms=1_000))
    if final == "REJECTED":
        await store.record_decision(
            decision("apr-2", "alice", Verdict.REJECT), expected_version=1, new_status=REJECTED
        )
    else:
        await store.expire("apr-2", expected_version=1, at_ms=1_000)
    finished = await finished_execution(aws, store, "apr-2")
    assert finished["status"] == "FAILED"
    assert finished.get("error") == final
    assert "output" not in finished or not finished["output"]


async def test_a_pending_request_keeps_its_execution_waiting_for_the_token(
    aws: Aws, store: DynamoApprovalStore
) -> None:
    await store.create(request("apr-3", required_approvers=("alice", "bob")))
    await store.record_decision(
        decision("apr-3", "alice"), expected_version=1, new_status="PENDING"
    )
    dynamodb = aws.client("dynamodb")
    deadline = asyncio.get_running_loop().time() + EXECUTION_WAIT_S
    while True:  # the token travels: execution -> SQS -> the receiver thread -> DynamoDB
        reply = await asyncio.to_thread(
            dynamodb.get_item,
            TableName=aws.settings.table("governance"),
            Key={"pk": {"S": "request#apr-3"}, "sk": {"S": "#"}},
            ConsistentRead=True,
        )
        if "task_token" in reply["Item"]:
            break
        assert asyncio.get_running_loop().time() < deadline, "no task token arrived"
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.5)  # more duty passes: nothing reports a PENDING request
    (running,) = await executions(aws, store)
    assert (running["name"], running["status"]) == ("apr-3", "RUNNING")
    assert reply["Item"]["execution_arn"]["S"] == running["executionArn"]
    got = await store.get("apr-3")
    assert got is not None and (got.status, got.version) == (ApprovalStatus.PENDING, 2)
    assert await store.revision() == 2  # workflow bookkeeping is not a write of the record


async def test_step_functions_unreachable_at_creation_delays_the_execution_only(
    settings: AwsSettings, clients: list[Aws], aws: Aws
) -> None:
    # Host 0 creates the resources; Host A cannot reach Step Functions at all.
    setup = await open_host(clients, settings)
    machine = setup.executions.state_machine_arn
    queue = setup.executions._queue
    await setup.close()
    cut_off = dataclasses.replace(
        settings,
        create_resources=False,
        endpoints={"stepfunctions": DEAD_ENDPOINT},
        options={
            **settings.options,
            "approval_state_machine_arn": machine,
            "approval_queue_url": queue,
        },
    )
    host_a = await open_host(clients, cut_off)
    try:
        created = await host_a.create(request("apr-4"))
        assert await host_a.get("apr-4") == created  # recorded: the call path never waited
        await host_a.record_decision(
            decision("apr-4", "alice"), expected_version=1, new_status=APPROVED
        )
        await asyncio.sleep(0.8)  # Host A's duty tried and failed several times
        assert await executions(aws, setup) == []
        # Any Host that can reach Step Functions finishes the work the outbox still holds.
        host_b = await open_host(clients, settings)
        try:
            finished = await finished_execution(aws, host_b, "apr-4")
            assert finished["status"] == "SUCCEEDED"
            assert json.loads(finished["output"])["outcome"]["status"] == "APPROVED"
        finally:
            await host_b.close()
    finally:
        await host_a.close()


async def test_dynamodb_unreachable_fails_closed(
    store: DynamoApprovalStore, moto_server: MotoServer
) -> None:
    moto_server.stop()
    try:
        with pytest.raises(ExecutionError, match="The Host could not") as caught:
            await store.create(request("apr-5"))
        assert caught.value.code == "DEPENDENCY_UNAVAILABLE"
        with pytest.raises(ExecutionError, match="DEPENDENCY_UNAVAILABLE|could not read"):
            await store.revision()
    finally:
        moto_server.start()
    assert await store.get("apr-5") is None


async def test_without_create_resources_the_resources_must_be_named(
    settings: AwsSettings, clients: list[Aws]
) -> None:
    named = dataclasses.replace(settings, create_resources=False)
    with pytest.raises(ConfigurationError, match="approval_state_machine_arn is required"):
        await open_host(clients, named)


def test_execution_names_are_valid_and_distinct() -> None:
    ids = ["apr-0123abcd", "a:b", "a/b", "a-b", "x" * 200, "x" * 201, "call use#1 ü"]
    names = [execution_name(i) for i in ids]
    assert names[0] == "apr-0123abcd"
    assert len(set(names)) == len(ids)
    assert all(1 <= len(n) <= 80 and all(c.isalnum() or c in "-_." for c in n) for n in names)


def test_the_definition_waits_for_a_task_token() -> None:
    machine = json.loads(definition())
    state = machine["States"][machine["StartAt"]]
    assert state["Resource"] == "arn:aws:states:::sqs:sendMessage.waitForTaskToken"
    assert state["Parameters"]["MessageBody"]["task_token.$"] == "$$.Task.Token"


async def test_a_request_larger_than_one_item_is_refused_before_writing(
    store: DynamoApprovalStore,
) -> None:
    with pytest.raises(ValidationError, match="at most 380000 bytes") as caught:
        await store.create(request("apr-6", artifact_data=b"x" * 400_000))
    assert caught.value.code == "MALFORMED_REQUEST"
    assert await store.get("apr-6") is None
    assert await store.revision() == 0
