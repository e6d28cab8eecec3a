"""Approval requests as AWS Step Functions executions that wait for a task token.

Every approval request the Governance store records gets one execution of a small state machine
(:func:`definition`): a single task state ``arn:aws:states:::sqs:sendMessage.waitForTaskToken``
sends ``{approval_request_id, task_token}`` to an SQS queue and waits. When the request reaches
a final state, the Host calls ``SendTaskSuccess`` (APPROVED; the output is the decision
summary) or ``SendTaskFailure`` (REJECTED or EXPIRED; the error is the status). The execution
history in AWS is then the auditable trail "request -> decision"; DynamoDB stays the record
the Host reads and decides on.

Nothing here runs on a call path. :class:`ApprovalExecutions` is a background duty per Host:

* a daemon thread long-polls the queue (up to ``approval_queue_wait_s`` per request) and stores
  each token, with the execution's ARN, on its request's item. A thread, because a long poll
  blocks for seconds: it must neither hold a worker of the event loop nor delay shutdown;
* an asyncio task works through the *outbox* (one DynamoDB item per request whose execution is
  not finished, written in the same transaction as the request): it starts missing executions
  (``name=`` the sanitised request id, so a retry or a second Host cannot start a second one)
  and reports final outcomes whose token has arrived. It runs every ``sync_interval_s`` and as
  soon as a store on this Host writes a final state or a token arrives.

Step Functions unreachable, or a Host crashing half-way, only delays the execution: the outbox
item stays until some Host of the deployment has finished the execution's work, and each step
is idempotent (execution names are unique; a second report of one token fails with
``InvalidToken``/``TaskTimedOut``, which means "already reported").
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import re
import threading
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Final

from aesp.core.ports.governance import ApprovalDecision, ApprovalRequest, ApprovalStatus
from aesp_aws._aws import Aws, error_code
from aesp_aws._dynamo import from_item, to_item

log = logging.getLogger(__name__)

__all__ = [
    "OUTBOX_PK",
    "ApprovalExecutions",
    "definition",
    "ensure_workflow_resources",
    "execution_name",
    "request_key",
    "summary",
]

OUTBOX_PK: Final = "workflow-outbox"  # partition of the requests whose execution is unfinished
MAX_NAME: Final = 80  # Step Functions limit on an execution name
MAX_COMMENT: Final = 1024  # characters of a decision comment copied into the execution output
MAX_CAUSE: Final = 32_768  # SendTaskFailure limit on ``cause``
DEFAULT_WAIT_S: Final = 20  # SQS long-poll maximum: one request per 20 s while idle
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")  # execution names allow more; this set is safe in ARNs
_DONE_CODES: Final = frozenset({"InvalidToken", "TaskDoesNotExist", "TaskTimedOut"})
_FINAL = (ApprovalStatus.APPROVED, ApprovalStatus.REJECTED, ApprovalStatus.EXPIRED)

RequestReader = Callable[[dict[str, Any]], ApprovalRequest]
DecisionsReader = Callable[[str], Awaitable[Sequence[ApprovalDecision]]]


def request_key(approval_request_id: str) -> dict[str, Any]:
    """The DynamoDB key of a request's item (its workflow attributes live there too)."""
    return to_item({"pk": f"request#{approval_request_id}", "sk": "#"})


def execution_name(approval_request_id: str) -> str:
    """The execution name of a request: the id itself when it is safe and short, else a
    readable prefix plus a hash of the id, so distinct ids never share a name.

    Why always a name: StartExecution with a name is idempotent per state machine, which makes
    "start it again after an outage" and "two Hosts start it" harmless.
    """
    safe = _UNSAFE.sub("-", approval_request_id)
    if safe == approval_request_id and len(safe) <= MAX_NAME:
        return safe
    digest = hashlib.sha256(approval_request_id.encode()).hexdigest()[:16]
    return f"{safe[: MAX_NAME - 17]}-{digest}"


def definition() -> str:
    """The state machine (Amazon States Language): wait for the Host's verdict.

    The queue comes from the execution input, so a deployment-owned state machine does not
    embed it; its IAM role limits where ``sqs:SendMessage`` may go.
    """
    await_state = {
        "Type": "Task",
        "Comment": "Send the task token to the Host; it reports the request's final state.",
        "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
        "Parameters": {
            "QueueUrl.$": "$.queue_url",
            "MessageBody": {
                "approval_request_id.$": "$.approval_request_id",
                "task_token.$": "$$.Task.Token",
                "execution_arn.$": "$$.Execution.Id",
            },
        },
        "ResultPath": "$.outcome",
        "End": True,
    }
    machine = {
        "Comment": "aesp approval request: PENDING until the Host reports its decision",
        "StartAt": "AwaitDecision",
        "States": {"AwaitDecision": await_state},
    }
    return json.dumps(machine, indent=2)


async def ensure_workflow_resources(aws: Aws) -> tuple[str, str]:
    """The state machine ARN and the token queue URL, created when ``create_resources``.

    Raises:
        ConfigurationError: ``INVALID_CONFIG``: not creating, and a key naming them is unset.
    """
    settings = aws.settings
    if not settings.create_resources:
        return (
            settings.require("approval_state_machine_arn", "the approval state machine"),
            settings.require("approval_queue_url", "the SQS queue of approval task tokens"),
        )
    name = settings.table("approvals")
    queue_url = (
        settings.get("approval_queue_url")
        or (await aws.call("sqs", "create_queue", QueueName=f"{name}-tokens"))["QueueUrl"]
    )
    attrs = await aws.call(
        "sqs", "get_queue_attributes", QueueUrl=queue_url, AttributeNames=["QueueArn"]
    )
    role_arn = await _ensure_role(aws, f"{name}-sfn", attrs["Attributes"]["QueueArn"])
    try:
        reply = await aws.call(
            "stepfunctions",
            "create_state_machine",
            name=name,
            definition=definition(),
            roleArn=role_arn,
            type="STANDARD",
        )
        return reply["stateMachineArn"], queue_url
    except Exception as exc:
        if error_code(exc) != "StateMachineAlreadyExists":
            raise
    pages = aws.client("stepfunctions").get_paginator("list_state_machines").paginate()
    for page in await aws.run(list, pages):
        for machine in page["stateMachines"]:
            if machine["name"] == name:
                return machine["stateMachineArn"], queue_url
    raise RuntimeError(f"state machine {name!r} exists but is not listed")


async def _ensure_role(aws: Aws, role: str, queue_arn: str) -> str:
    """The role Step Functions assumes: allowed only to send to the token queue."""
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "states.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    try:
        reply = await aws.call(
            "iam", "create_role", RoleName=role, AssumeRolePolicyDocument=json.dumps(trust)
        )
    except Exception as exc:
        if error_code(exc) != "EntityAlreadyExists":
            raise
        reply = await aws.call("iam", "get_role", RoleName=role)
    allow = {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": queue_arn}
    await aws.call(
        "iam",
        "put_role_policy",
        RoleName=role,
        PolicyName="send-approval-tokens",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [allow]}),
    )
    return str(reply["Role"]["Arn"])


def summary(request: ApprovalRequest, decisions: Sequence[ApprovalDecision]) -> dict[str, Any]:
    """The decision summary an execution ends with (its output, or its failure cause)."""
    return {
        "approval_request_id": request.approval_request_id,
        "status": request.status.value,
        "version": request.version,
        "decisions": [
            {
                "approver_id": d.approver_id,
                "decision": d.decision.value,
                "comments": d.comments[:MAX_COMMENT],
                "conditions": dict(d.conditions),
                "decided_at_ms": d.decided_at_ms,
            }
            for d in decisions
        ],
    }


class ApprovalExecutions:
    """The background duty that keeps each request's execution in step with its record.

    Args:
        aws: The clients.
        table: The Governance table.
        state_machine_arn: The approval state machine.
        queue_url: Where executions send task tokens.
        request: Reads the request of an item (the store's conversion).
        decisions: Reads a request's decisions (the store's consistent read).
    """

    def __init__(
        self,
        aws: Aws,
        *,
        table: str,
        state_machine_arn: str,
        queue_url: str,
        request: RequestReader,
        decisions: DecisionsReader,
    ) -> None:
        self._aws = aws
        self._table = table
        self._machine = state_machine_arn
        self._queue = queue_url
        self._request = request
        self._decisions = decisions
        self._wait_s = int(aws.settings.get("approval_queue_wait_s", DEFAULT_WAIT_S))
        self._wake = asyncio.Event()
        self._stop = threading.Event()
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def state_machine_arn(self) -> str:
        """The state machine whose executions mirror the requests."""
        return self._machine

    def start(self) -> None:
        """Start the token receiver thread and the outbox task (on the running loop)."""
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.create_task(self._duty())
        threading.Thread(target=self._receive, name="aesp-approval-tokens", daemon=True).start()

    def wake(self) -> None:
        """Work through the outbox now (a final state was written); never waits."""
        self._wake.set()

    async def close(self) -> None:
        """Stop both; executions keep waiting in AWS for any Host to report them."""
        self._stop.set()
        self._wake.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _duty(self) -> None:
        interval = self._aws.settings.sync_interval_s
        # NOTE: the stop flag, not only cancellation, ends the loop: a cancellation arriving as
        # the wait ends can be absorbed, and close() must never wait on a loop that goes on.
        while not self._stop.is_set():
            try:
                await self.reconcile()
            except Exception:  # noqa: BLE001 - an outage must not end the duty
                log.warning("approval workflows: outbox pass failed; retrying", exc_info=True)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(interval):
                    await self._wake.wait()
            self._wake.clear()

    async def reconcile(self) -> None:
        """One pass over the outbox: start missing executions, report final outcomes."""
        start: dict[str, Any] | None = None
        while True:
            extra = {"ExclusiveStartKey": start} if start else {}
            # Only entries with work: not started yet, or final (waiting to be reported). A
            # started PENDING request costs nothing per pass.
            reply = await self._aws.call(
                "dynamodb",
                "query",
                TableName=self._table,
                KeyConditionExpression="pk = :p",
                FilterExpression="attribute_not_exists(started) OR #s <> :pending",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues=to_item({":p": OUTBOX_PK, ":pending": "PENDING"}),
                ConsistentRead=True,
                **extra,
            )
            for item in reply.get("Items", []):
                entry = from_item(item)
                try:
                    await self._advance(str(entry["sk"]), started=bool(entry.get("started")))
                except Exception:  # noqa: BLE001 - one failure must not stall the others
                    log.warning("approval workflow of %r: retrying later", entry, exc_info=True)
            start = reply.get("LastEvaluatedKey")
            if not start:
                return

    async def _advance(self, request_id: str, *, started: bool) -> None:
        state = await self._workflow_state(request_id)
        if state is None:
            return
        request = self._request(state)
        if not started:
            await self._start(request)
        token = str(state.get("task_token", ""))
        if request.status in _FINAL and token:
            # (no token yet: the execution has not sent it; the receiver wakes us when it has)
            await self._report(request, await self._decisions(request_id), token)
            await self._finish(request_id)

    async def _workflow_state(self, request_id: str) -> dict[str, Any] | None:
        """The request's item: the request and, once it arrived, its task token."""
        reply = await self._aws.call(
            "dynamodb",
            "get_item",
            TableName=self._table,
            Key=request_key(request_id),
            ConsistentRead=True,
        )
        item = reply.get("Item")
        return None if item is None else from_item(item)

    async def _start(self, request: ApprovalRequest) -> None:
        name = execution_name(request.approval_request_id)
        execution_input = {
            "approval_request_id": request.approval_request_id,
            "tenant_id": request.tenant_id,
            "artifact_type": request.artifact_type.value,
            "artifact_id": request.artifact_id,
            "artifact_digest": request.artifact_digest,
            "requester_id": request.requester_id,
            "required_approvers": list(request.required_approvers),
            "min_approvals": request.min_approvals,
            "expires_at_ms": request.expires_at_ms,
            "queue_url": self._queue,
        }
        try:
            await self._aws.call(
                "stepfunctions",
                "start_execution",
                stateMachineArn=self._machine,
                name=name,
                input=json.dumps(execution_input),
            )
        except Exception as exc:
            if error_code(exc) != "ExecutionAlreadyExists":
                raise
            # NOTE: started before (by this Host before a crash, or by another Host).
        await self._aws.call(
            "dynamodb",
            "update_item",
            TableName=self._table,
            Key=to_item({"pk": OUTBOX_PK, "sk": request.approval_request_id}),
            UpdateExpression="SET started = :t",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues=to_item({":t": True}),
        )

    async def _report(
        self, request: ApprovalRequest, decisions: Sequence[ApprovalDecision], token: str
    ) -> None:
        outcome = summary(request, decisions)
        try:
            if request.status is ApprovalStatus.APPROVED:
                await self._aws.call(
                    "stepfunctions",
                    "send_task_success",
                    taskToken=token,
                    output=json.dumps(outcome),
                )
            else:
                cause = json.dumps(outcome)
                if len(cause) > MAX_CAUSE:
                    cause = json.dumps({k: v for k, v in outcome.items() if k != "decisions"})
                await self._aws.call(
                    "stepfunctions",
                    "send_task_failure",
                    taskToken=token,
                    error=request.status.value,
                    cause=cause,
                )
        except Exception as exc:
            if error_code(exc) not in _DONE_CODES:
                raise
            # NOTE: another Host reported it first, or the execution was stopped by an operator.

    async def _finish(self, request_id: str) -> None:
        """Drop the outbox entry; the request item keeps the execution ARN for auditors."""
        await self._aws.call(
            "dynamodb",
            "delete_item",
            TableName=self._table,
            Key=to_item({"pk": OUTBOX_PK, "sk": request_id}),
        )

    def _receive(self) -> None:
        """The receiver thread: long-poll the queue, store each token with its request."""
        sqs = self._aws.client("sqs")
        while not self._stop.is_set():
            try:
                reply = sqs.receive_message(
                    QueueUrl=self._queue, MaxNumberOfMessages=10, WaitTimeSeconds=self._wait_s
                )
                messages = reply.get("Messages", [])
                for message in messages:
                    self._accept(message)
            except Exception:  # noqa: BLE001 - keep polling through an outage
                if self._stop.is_set():
                    return
                log.warning("approval workflows: token queue unreachable", exc_info=True)
                self._stop.wait(self._aws.settings.sync_interval_s)
                continue
            if messages and self._loop is not None:
                with contextlib.suppress(RuntimeError):  # the loop closed: nothing to wake
                    self._loop.call_soon_threadsafe(self._wake.set)

    def _accept(self, message: Mapping[str, Any]) -> None:
        """Store one token; the message is deleted only once the token is safe in DynamoDB
        (until then SQS redelivers it after its visibility timeout)."""
        try:
            body = json.loads(message["Body"])
            request_id, token = str(body["approval_request_id"]), str(body["task_token"])
            execution_arn = str(body["execution_arn"])
        except (ValueError, KeyError, TypeError):
            request_id, token = "", ""  # not ours: dropped below, never redelivered forever
        try:
            if token:
                self._aws.client("dynamodb").update_item(
                    TableName=self._table,
                    Key=request_key(request_id),
                    UpdateExpression="SET task_token = :t, execution_arn = :a",
                    ConditionExpression="attribute_exists(pk)",
                    ExpressionAttributeValues=to_item({":t": token, ":a": execution_arn}),
                )
        except Exception as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise
            token = ""
        if not token:
            log.warning("approval workflows: dropped a message naming no known request")
        self._aws.client("sqs").delete_message(
            QueueUrl=self._queue, ReceiptHandle=message["ReceiptHandle"]
        )
