"""The DynamoDB requests of the Identity port's writes: checks and revision bump in one call.

Every write is one ``TransactWriteItems`` that also adds 1 to the shared ``revision`` item, so
another Host never sees data without its revision nor a revision without its data, and a refused
write (a failed condition cancels the whole transaction) leaves nothing behind.
"""

from __future__ import annotations

from typing import Any

from aesp.core.ports.identity import DuplicateError, PrincipalRecord, PrincipalType, ServiceAccount
from aesp_aws._dynamo import to_item
from aesp_aws._identity_records import ACCOUNT, KEY, PRINCIPAL, REVISION, name_guard

ABSENT = "attribute_not_exists(pk)"


def bump(table: str) -> dict[str, Any]:
    """The transaction item that raises the shared revision."""
    return {
        "Update": {
            "TableName": table,
            "Key": to_item({"pk": REVISION}),
            "UpdateExpression": "ADD n :one",
            "ExpressionAttributeValues": to_item({":one": 1}),
        }
    }


def put(table: str, values: dict[str, Any], condition: str = ABSENT) -> dict[str, Any]:
    """A conditional ``Put`` transaction item."""
    return {"Put": {"TableName": table, "Item": to_item(values), "ConditionExpression": condition}}


def put_if(table: str, values: dict[str, Any], expected: dict[str, Any]) -> dict[str, Any]:
    """Replace an item only if its attributes still hold ``expected`` (optimistic)."""
    names = {f"#e{i}": k for i, k in enumerate(expected)}
    plain = {f":e{i}": v for i, v in enumerate(expected.values())}
    return {
        "Put": {
            "TableName": table,
            "Item": to_item(values),
            "ConditionExpression": " AND ".join(f"{n} = :{n[1:]}" for n in names),
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": to_item(plain),
        }
    }


def set_if(table: str, pk: str, new: dict[str, Any], expected: dict[str, Any]) -> dict[str, Any]:
    """Set ``new`` on item ``pk`` only if its attributes still hold ``expected`` (optimistic)."""
    names = {f"#n{i}": k for i, k in enumerate(new)}
    names.update({f"#e{i}": k for i, k in enumerate(expected)})
    plain = {f":n{i}": v for i, v in enumerate(new.values())}
    plain.update({f":e{i}": v for i, v in enumerate(expected.values())})
    return {
        "Update": {
            "TableName": table,
            "Key": to_item({"pk": pk}),
            "UpdateExpression": "SET " + ", ".join(f"#n{i} = :n{i}" for i in range(len(new))),
            "ConditionExpression": " AND ".join(f"#e{i} = :e{i}" for i in range(len(expected))),
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": to_item(plain),
        }
    }


def account_guards(account: ServiceAccount, principal: PrincipalRecord) -> list[tuple[str, str]]:
    """The unique keys of a new account, each with the sentence that names its collision, in
    the order they are reported."""
    return [
        (
            name_guard(account.tenant_id, account.name),
            f"tenant {account.tenant_id!r} already has a service account named {account.name!r}",
        ),
        (
            ACCOUNT + account.service_account_id,
            f"service account {account.service_account_id!r} already exists",
        ),
        (
            PRINCIPAL + principal.principal_id,
            f"principal {principal.principal_id!r} already exists",
        ),
        (KEY + account.key.key_id, f"API key id {account.key.key_id!r} is already in use"),
    ]


def first_collision(guards: list[tuple[str, str]], existing: set[str]) -> DuplicateError | None:
    """The error for the first guard whose item exists, or None."""
    for pk, sentence in guards:
        if pk in existing:
            return DuplicateError(sentence)
    return None


def require_ids(**ids: str) -> None:
    """Refuse empty ids: an empty id sorts before every cursor and could never be listed."""
    for name, value in ids.items():
        if not value:
            raise ValueError(f"{name} must not be empty")


def check_new_account(account: ServiceAccount, principal: PrincipalRecord) -> None:
    """Refuse an account whose parts disagree: a key or principal naming another tenant would
    let the key authenticate into a tenant the account does not belong to."""
    require_ids(
        service_account_id=account.service_account_id,
        tenant_id=account.tenant_id,
        name=account.name,
        key_id=account.key.key_id,
        principal_id=principal.principal_id,
    )
    if account.key.service_account_id != account.service_account_id:
        raise ValueError("the API key record names another service account")
    if account.key.tenant_id != account.tenant_id or principal.tenant_id != account.tenant_id:
        raise ValueError("the API key record and the principal must be in the account's tenant")
    if principal.principal_type != PrincipalType.SERVICE_ACCOUNT:
        raise ValueError("a service account's principal must be of type SERVICE_ACCOUNT")
