"""How the Identity port's records are laid out in DynamoDB and Secrets Manager.

One table, ``<table_prefix>-identity`` (partition key ``pk`` only), holds every item, so a write
and its checks fit in one ``TransactWriteItems`` call:

* ``principal#<principal_id>``: the AESP part of a principal (tenant, clearance, type...);
* ``account#<service_account_id>``: a service account, its key's public fields and the name and
  version of the secret that holds the key's verifier (never the verifier itself);
* ``account-name#["<tenant>", "<name>"]`` and ``key#<key_id>``: uniqueness guards, written in
  the same transaction as the account, so two Hosts racing for one name store exactly one;
* ``revision``: the shared write counter ``n``, raised by every write in its transaction, so a
  Host rescans the table only when it moved.

The key's verifier (the ``hmac-sha256:...`` stored hash) lives in Secrets Manager, one secret per
key, named ``<table_prefix>/service-accounts/<service_account_id>/<key_id>``: a stolen table
alone then holds no verifier, and access to verifiers is governed by its own IAM actions.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import fields
from decimal import Decimal
from typing import Any

from aesp.core.ports.identity import (
    DIRECTORY_GROUPS,
    PrincipalRecord,
    PrincipalType,
    ServiceAccount,
)
from aesp.identity.apikeys import ApiKeyRecord

PRINCIPAL = "principal#"
ACCOUNT = "account#"
NAME = "account-name#"
KEY = "key#"
REVISION = "revision"

#: Metadata keys the adapter derives from Identity Center on every read; never stored.
DERIVED_PREFIX = "identity_center."

_PRINCIPAL_FIELDS = tuple(f.name for f in fields(PrincipalRecord))
_INTS = ("created_at_ms", "updated_at_ms")
# Characters Secrets Manager allows in a secret name (besides the '/' separators we add).
_SAFE_NAME = re.compile(r"[A-Za-z0-9_+=.@-]{1,100}")


def name_guard(tenant_id: str, name: str) -> str:
    """The ``pk`` of the guard that keeps an account name unique in its tenant."""
    return NAME + json.dumps([tenant_id, name], ensure_ascii=False)


def principal_values(record: PrincipalRecord) -> dict[str, Any]:
    """The item attributes of a principal (``pk`` included); derived metadata is dropped."""
    values: dict[str, Any] = {name: getattr(record, name) for name in _PRINCIPAL_FIELDS}
    metadata = {k: v for k, v in record.metadata.items() if not _derived_key(k)}
    values.update(
        pk=PRINCIPAL + record.principal_id,
        principal_type=PrincipalType(record.principal_type).value,
        active=bool(record.active),
        metadata=json.dumps(metadata, sort_keys=True, ensure_ascii=False),
    )
    return values


def principal_from(values: Mapping[str, Any]) -> PrincipalRecord:
    """The principal in an item read back from DynamoDB."""
    args: dict[str, Any] = {name: values[name] for name in _PRINCIPAL_FIELDS}
    args.update(
        principal_type=PrincipalType(str(values["principal_type"])),
        active=bool(values["active"]),
        metadata=json.loads(str(values["metadata"])),
        **{name: int(values[name]) for name in _INTS},
    )
    return PrincipalRecord(**args)


def account_values(
    account: ServiceAccount, principal_id: str, secret_arn: str, secret_version: str
) -> dict[str, Any]:
    """The item attributes of a service account: everything but the key's verifier."""
    key = account.key
    return {
        "pk": ACCOUNT + account.service_account_id,
        "service_account_id": account.service_account_id,
        "tenant_id": account.tenant_id,
        "name": account.name,
        "description": account.description,
        "created_by": account.created_by,
        "metadata": json.dumps(dict(account.metadata), sort_keys=True, ensure_ascii=False),
        "principal_id": principal_id,
        "key_id": key.key_id,
        "key_created_at_ms": key.created_at_ms,
        "key_expires_at_ms": key.expires_at_ms,
        "key_revoked_at_ms": key.revoked_at_ms,
        "secret_arn": secret_arn,
        "secret_version": secret_version,
    }


def account_from(values: Mapping[str, Any], stored_hash: str) -> ServiceAccount:
    """The account in an item, completed with the verifier read from its secret."""
    account_id, tenant_id = str(values["service_account_id"]), str(values["tenant_id"])
    return ServiceAccount(
        service_account_id=account_id,
        tenant_id=tenant_id,
        name=str(values["name"]),
        description=str(values["description"]),
        created_by=str(values["created_by"]),
        metadata=json.loads(str(values["metadata"])),
        key=ApiKeyRecord(
            key_id=str(values["key_id"]),
            service_account_id=account_id,
            tenant_id=tenant_id,
            stored_hash=stored_hash,
            created_at_ms=_int(values["key_created_at_ms"]),
            expires_at_ms=_int(values["key_expires_at_ms"]),
            revoked_at_ms=_int(values["key_revoked_at_ms"]),
        ),
    )


def secret_name(prefix: str, service_account_id: str, key_id: str) -> str:
    """The secret holding a key's verifier (ids outside the allowed characters are hashed)."""
    return f"{prefix}/service-accounts/{_safe(service_account_id)}/{_safe(key_id)}"


def verifier_text(key: ApiKeyRecord) -> str:
    """The secret's value: the verifier bound to the key and account it belongs to."""
    return json.dumps(
        {
            "key_id": key.key_id,
            "service_account_id": key.service_account_id,
            "tenant_id": key.tenant_id,
            "stored_hash": key.stored_hash,
        },
        sort_keys=True,
    )


def verifier_from(text: str, values: Mapping[str, Any]) -> str | None:
    """The stored hash in a secret's value, or None when the secret names another key.

    NOTE: the binding check means a secret copied or swapped onto another account's item (by
    someone with write access to the table but not to the secret) cannot make that account's
    key verify against a hash its owner chose.
    """
    try:
        data = json.loads(text)
    except ValueError:
        return None
    expected = (values["key_id"], values["service_account_id"], values["tenant_id"])
    if not isinstance(data, dict) or (
        data.get("key_id"),
        data.get("service_account_id"),
        data.get("tenant_id"),
    ) != tuple(str(v) for v in expected):
        return None
    stored = data.get("stored_hash")
    return stored if isinstance(stored, str) and stored else None


def _safe(part: str) -> str:
    if _SAFE_NAME.fullmatch(part):
        return part
    return "h-" + hashlib.sha256(part.encode()).hexdigest()[:40]


def _int(value: Any) -> int:
    return int(value) if isinstance(value, int | Decimal | str) else 0


def _derived_key(key: str) -> bool:
    """Whether ``key`` is filled in from Identity Center on read, never stored."""
    return key.startswith(DERIVED_PREFIX) or key == DIRECTORY_GROUPS
