"""The Identity port's AWS calls, each turning an AWS failure into one clear refusal.

A write that cannot reach AWS fails closed with ``DEPENDENCY_UNAVAILABLE`` (retryable), naming
what was not done; botocore exceptions never cross the port. Transactions refused by a condition
or by a concurrent transaction surface as :class:`Cancelled`, for the caller to name the
collision or retry.
"""

from __future__ import annotations

import logging
from typing import Any

from aesp.core.errors import ExecutionError
from aesp.core.ports.identity import DuplicateError, PrincipalRecord, ServiceAccount
from aesp_aws import _identity_records as records
from aesp_aws._aws import Aws, error_code, unreachable
from aesp_aws._dynamo import from_item, to_item

log = logging.getLogger("aesp_aws.identity")

_GET_BATCH = 100  # BatchGetItem's limit per call
_CANCELLED = ("TransactionCanceledException", "TransactionConflictException")


class Cancelled(Exception):
    """A transaction refused by a condition or a concurrent transaction."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(str(cause))
        self.cause = cause


class IdentityIo:
    """DynamoDB and Secrets Manager calls on the identity table and the verifier secrets."""

    def __init__(self, aws: Aws, table: str) -> None:
        self.aws = aws
        self.table = table
        self._verifiers: dict[tuple[str, str], str] = {}  # (secret arn, version) -> hash

    async def transact(self, items: list[dict[str, Any]]) -> None:
        """One ``TransactWriteItems``.

        Raises:
            Cancelled: A condition failed or a concurrent transaction interfered.
            ExecutionError: ``DEPENDENCY_UNAVAILABLE``: DynamoDB failed or is unreachable.
        """
        try:
            await self.aws.call("dynamodb", "transact_write_items", TransactItems=items)
        except Exception as exc:
            if error_code(exc) in _CANCELLED:
                raise Cancelled(exc) from exc
            raise failure("save to the identity table", exc) from exc

    async def get(self, pks: list[str], *, best_effort: bool = False) -> dict[str, dict[str, Any]]:
        """The items of ``pks`` that exist (strongly consistent reads), keyed by ``pk``.

        With ``best_effort`` a failure returns what was read so far instead of raising (used to
        read back a write that already succeeded).
        """
        found: dict[str, dict[str, Any]] = {}
        wanted = list(dict.fromkeys(pks))
        try:
            for i in range(0, len(wanted), _GET_BATCH):
                keys = [to_item({"pk": pk}) for pk in wanted[i : i + _GET_BATCH]]
                request: dict[str, Any] = {self.table: {"Keys": keys, "ConsistentRead": True}}
                while request:
                    reply = await self.aws.call("dynamodb", "batch_get_item", RequestItems=request)
                    for raw in reply.get("Responses", {}).get(self.table, []):
                        item = from_item(raw)
                        found[str(item["pk"])] = item
                    request = reply.get("UnprocessedKeys") or {}
        except Exception as exc:
            if best_effort:
                log.warning("reading back a write failed; the next sync corrects it", exc_info=True)
                return found
            raise failure("read the identity table", exc) from exc
        return found

    async def scan(self) -> list[dict[str, Any]]:
        """Every item of the table (strongly consistent)."""
        items: list[dict[str, Any]] = []
        start: dict[str, Any] = {}
        while True:
            reply = await self.aws.call(
                "dynamodb", "scan", TableName=self.table, ConsistentRead=True, **start
            )
            items += [from_item(raw) for raw in reply.get("Items", [])]
            if "LastEvaluatedKey" not in reply:
                return items
            start = {"ExclusiveStartKey": reply["LastEvaluatedKey"]}

    async def load_all(self) -> tuple[dict[str, PrincipalRecord], dict[str, ServiceAccount]]:
        """Every principal and service account in the table, keyed by id."""
        principals: dict[str, PrincipalRecord] = {}
        accounts: dict[str, ServiceAccount] = {}
        for item in await self.scan():
            pk = str(item["pk"])
            if pk.startswith(records.PRINCIPAL):
                record = records.principal_from(item)
                principals[record.principal_id] = record
            elif pk.startswith(records.ACCOUNT):
                account = await self.load_account(item)
                if account is not None:
                    accounts[account.service_account_id] = account
        return principals, accounts

    async def create_secret(self, account: ServiceAccount) -> tuple[str, str]:
        """Store the key's verifier in a new secret; returns its ARN and version id.

        Raises:
            DuplicateError: The secret exists (the key id is taken, or a creation failed
                part-way).
            ExecutionError: ``DEPENDENCY_UNAVAILABLE``: Secrets Manager failed.
        """
        name = records.secret_name(
            self.aws.settings.table_prefix, account.service_account_id, account.key.key_id
        )
        try:
            reply = await self.aws.call(
                "secretsmanager",
                "create_secret",
                Name=name,
                SecretString=records.verifier_text(account.key),
                Description="aesp: the verifier (stored hash) of one service-account API key",
            )
        except Exception as exc:
            if error_code(exc) == "ResourceExistsException":
                raise DuplicateError(
                    f"API key id {account.key.key_id!r} of service account "
                    f"{account.service_account_id!r} is already in use (or a creation of it "
                    "failed part-way); issue a new key id"
                ) from exc
            raise failure("store the API key's verifier in Secrets Manager", exc) from exc
        arn, version = str(reply["ARN"]), str(reply["VersionId"])
        self._verifiers[(arn, version)] = account.key.stored_hash
        return arn, version

    async def delete_secret(self, arn: str) -> None:
        """Remove the secret of a refused account (it is this call's own: names are unique)."""
        try:
            await self.aws.call(
                "secretsmanager", "delete_secret", SecretId=arn, ForceDeleteWithoutRecovery=True
            )
        except Exception:  # noqa: BLE001 - an orphan secret is harmless: no item names it
            log.warning("could not delete the unused secret %s", arn, exc_info=True)

    async def load_account(self, item: dict[str, Any]) -> ServiceAccount | None:
        """The account of an item with its verifier (cached: a key's secret never changes), or
        None when the secret is missing or names another key (that key then never verifies)."""
        ref = (str(item["secret_arn"]), str(item["secret_version"]))
        stored = self._verifiers.get(ref)
        if stored is None:
            try:
                reply = await self.aws.call(
                    "secretsmanager", "get_secret_value", SecretId=ref[0], VersionId=ref[1]
                )
            except Exception as exc:
                if error_code(exc) != "ResourceNotFoundException":
                    raise failure("read an API key's verifier", exc) from exc
                log.error("the verifier secret of %s is missing; its key is refused", item["pk"])
                return None
            stored = records.verifier_from(str(reply.get("SecretString", "")), item)
            if stored is None:
                log.error("the verifier secret of %s names another key; refused", item["pk"])
                return None
            self._verifiers[ref] = stored
        return records.account_from(item, stored)


def failure(what: str, exc: BaseException) -> ExecutionError:
    """The refusal for an AWS failure: fail closed, say what did not happen and why."""
    code = error_code(exc)
    reason = (
        "AWS could not be reached"
        if unreachable(exc) or not code
        else f"AWS refused the request ({code})"
    )
    return ExecutionError(
        "DEPENDENCY_UNAVAILABLE",
        f"The identity store could not {what}: {reason}. Reads keep answering from the last "
        "snapshot; writes fail until AWS answers again.",
        retry_after_ms=1000,
        remediation_steps=(
            "Check the Host's network path and credentials for DynamoDB, Secrets Manager and "
            "IAM Identity Center, and its IAM policy (see the aesp-aws README), then retry.",
        ),
    )


def contended(what: str) -> ExecutionError:
    """The refusal when optimistic retries kept colliding with other Hosts' writes."""
    return ExecutionError(
        "DEPENDENCY_UNAVAILABLE",
        f"The identity store could not {what}: other Hosts kept changing the same records; "
        "retry in a moment.",
        retry_after_ms=200,
    )
