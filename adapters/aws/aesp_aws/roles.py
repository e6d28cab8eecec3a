"""The RBAC port on AWS IAM: AESP roles are IAM roles, their permissions IAM policy documents.

Why IAM: on AWS it is where an organisation already says who may do what (issue 5), so an
operator can grant, revoke or deny in IAM and the Host follows within ``sync_interval_s``. The
Host never asks IAM during a call (DESIGN §2 principle 2): this store keeps an in-memory snapshot
refreshed every ``sync_interval_s`` and serves :meth:`IamRoleStore.roles` from it.

How a role lives in IAM (:mod:`aesp_aws.iam_documents` has the permission mapping):

* one IAM role per AESP role, path ``<iam_role_path><tenant>/`` (``_platform`` for the platform
  scope; no tenant id can start with ``_``), named ``<iam_role_name_prefix>-<name>-<digest>``
  (IAM names are account-wide and at most 64 characters, so a digest of ``(tenant, name)`` keeps
  tenants apart; the name is cut to fit);
* the AESP name in the tag ``aesp:role``, the parents space-separated in ``aesp:parents``
  (continued in ``aesp:parents.2`` ... when longer than a tag value; IAM tag values allow no
  commas or brackets);
* permissions and denials in the inline policy ``aesp-permissions`` (only that policy is read:
  others on the role may hold AWS permissions for other uses);
* trust policy: by default nobody may assume it (a Deny for every principal), because these roles
  are containers of AESP permissions, not credentials; ``iam_trust_policy`` replaces it. Even if
  assumed, the inline policy names only ``aesp:*`` actions, which no AWS service honours.

A document that cannot be read as AESP permissions fails closed (see
:func:`~aesp_aws.iam_documents.translate`); one IAM refuses outright cannot exist there.

Assignments ``(tenant, principal) → roles`` have no IAM home: Identity Center principals are not
IAM principals, and an IAM role cannot name who holds it in another tenant. They are items of the
DynamoDB table ``<table_prefix>-role-assignments`` (partition ``assignment``, sort key the JSON
pair ``[tenant, principal]``), beside the store's revision counter (``pk = revision``).

``revision()`` is the counter (an atomic ADD after every write of any Host) plus the number of
syncs that found IAM or the assignments different from this store's snapshot (a change made out
of band: a console edit, ``put_role_policy``). It is read from memory, so it is only as fresh as
the snapshot, which is the point: a Host that sees a new revision reads roles at least as new.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import re
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, Final

from aesp.core.errors import ConfigurationError, ExecutionError, ValidationError
from aesp.core.ports.tenancy import TENANT_ID
from aesp.core.rbac import RoleDefinition
from aesp_aws._aws import Aws, error_code
from aesp_aws._dynamo import ensure_table, from_item, to_item
from aesp_aws.iam_documents import (
    PolicyDocument,
    PolicyDocumentError,
    partition_of,
    to_document,
    translate,
)

__all__ = ["ASSIGNMENTS_TABLE", "POLICY_NAME", "IamRoleStore", "iam_role_name"]

log = logging.getLogger(__name__)

ASSIGNMENTS_TABLE: Final = "role-assignments"
POLICY_NAME: Final = "aesp-permissions"
PLATFORM_SEGMENT: Final = "_platform"
TAG_ROLE: Final = "aesp:role"
TAG_PARENTS: Final = "aesp:parents"
PARENT_TAGS: Final = 10  # at most aesp:parents .. aesp:parents.10 (IAM allows 50 tags a role)
TAG_VALUE_MAX: Final = 256
ROLE_NAME_MAX: Final = 64  # IAM
INLINE_POLICY_MAX: Final = 10_240  # IAM: all inline policies of a role, without whitespace
SYNC_CONCURRENCY: Final = 4  # IAM reads in flight during one sync (IAM throttles reads)
_ASSIGNMENT: Final = "assignment"
_REVISION_KEY: Final = {"pk": "revision", "sk": "roles"}
_ROLE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}\Z")
_NOBODY: Final = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}],
}
_FAIL_CLOSED: Final = ("*:*:*",)

_Key = tuple[str, str]


def iam_role_name(prefix: str, tenant_id: str, name: str) -> str:
    """The IAM role name of an AESP role: readable, unique per ``(tenant, name)``, ≤ 64 chars."""
    digest = hashlib.sha256(f"{tenant_id}\n{name}".encode()).hexdigest()[:16]
    room = ROLE_NAME_MAX - len(prefix) - len(digest) - 2
    return f"{prefix}-{name[:room]}-{digest}"


class IamRoleStore:
    """Roles in IAM and assignments in DynamoDB, served from a snapshot synced every interval.

    Args:
        aws: The Host's AWS clients. Keys read from ``[adapters.aws]``: ``iam_role_path``
            (default ``/<table_prefix>/``), ``iam_role_name_prefix`` (default
            ``<table_prefix>``), ``iam_trust_policy`` (JSON; default: nobody may assume).
    """

    def __init__(self, aws: Aws) -> None:
        settings = aws.settings
        self._aws = aws
        self._table = settings.table(ASSIGNMENTS_TABLE)
        self._path = str(settings.get("iam_role_path", f"/{settings.table_prefix}/"))
        self._prefix = str(settings.get("iam_role_name_prefix", settings.table_prefix))
        self._trust = str(settings.get("iam_trust_policy", "") or json.dumps(_NOBODY))
        self._partition = partition_of(settings.region)
        self._roles: dict[_Key, RoleDefinition] = {}
        self._assignments: dict[_Key, tuple[str, ...]] = {}
        self._counter = 0
        self._drift = 0
        self._generation = 0  # moves at the start and end of every write of this object
        self._writes_in_flight = 0
        self._task: asyncio.Task[None] | None = None
        self.approximations: dict[_Key, tuple[str, ...]] = {}
        """Per role, what its IAM document says that AESP could only approximate (fail-closed)."""
        self.last_sync_error: str = ""
        """Why the last sync failed ("" after a good one); the snapshot keeps serving meanwhile."""
        if not (self._path.startswith("/") and self._path.endswith("/")):
            raise _config("iam_role_path must start and end with '/', e.g. '/aesp/'")
        if not re.fullmatch(r"[A-Za-z0-9+=,.@_-]{1,24}", self._prefix):
            raise _config("iam_role_name_prefix must be 1-24 characters valid in IAM role names")
        try:
            json.loads(self._trust)  # the trust policy is IAM's to validate; its JSON is ours
        except ValueError:
            raise _config("iam_trust_policy must be a JSON trust policy document") from None

    @classmethod
    async def open(cls, aws: Aws) -> IamRoleStore:
        """Create the assignments table (with ``create_resources``), load the first snapshot
        and start the sync.

        Raises:
            ExecutionError: ``SERVICE_UNAVAILABLE`` when IAM or DynamoDB cannot be read.
        """
        store = cls(aws)
        try:
            await ensure_table(aws, store._table)
            await store._sync(initial=True)
        except Exception as exc:
            raise _unavailable("load the roles", exc) from exc
        store._task = asyncio.create_task(store._sync_forever(), name="aesp-iam-role-sync")
        return store

    # ------------------------------------------------------------------ reads (snapshot)

    async def roles(self) -> Sequence[RoleDefinition]:
        """Every role, ordered by ``(tenant_id, name)``, from the snapshot (never waits on IAM)."""
        return [self._roles[key] for key in sorted(self._roles)]

    async def assignments(self) -> Mapping[tuple[str, str], tuple[str, ...]]:
        """``(tenant_id, principal_id)`` → sorted role names, from the snapshot."""
        return {key: self._assignments[key] for key in sorted(self._assignments)}

    async def revision(self) -> int:
        """The write counter plus the out-of-band changes seen (module docstring)."""
        return self._counter + self._drift

    # ------------------------------------------------------------------ writes (IAM, DynamoDB)

    async def put_role(self, role: RoleDefinition) -> None:
        """Create or replace the IAM role, its tags and its ``aesp-permissions`` policy.

        Raises:
            ValueError: A name, permission or parent IAM cannot hold (reserved segments, too
                many parents, a document over IAM's 10,240 characters).
            ExecutionError: ``SERVICE_UNAVAILABLE`` when IAM or DynamoDB cannot be reached.
        """
        if not _ROLE_NAME.match(role.name):
            raise ValueError(f"role name {role.name!r} must be 1-128 letters, digits, '_.-'")
        document = to_document(role.permissions, role.denied, partition=self._partition)
        text = json.dumps(document, separators=(",", ":"))
        if len(text) > INLINE_POLICY_MAX:
            raise ValueError(
                f"role {role.name!r}: its IAM policy would be {len(text)} characters, over IAM's "
                f"{INLINE_POLICY_MAX}; split its permissions over parent roles"
            )
        tags = _tags(role)
        stored = RoleDefinition(
            role.name,
            tuple(role.permissions),
            tuple(role.parents),
            role.tenant_id,
            tuple(role.denied),
        )
        name = iam_role_name(self._prefix, role.tenant_id, role.name)
        async with self._writing("store the role"):
            created = await self._create(name, role, tags)
            if document["Statement"]:
                await self._iam(
                    "put_role_policy", RoleName=name, PolicyName=POLICY_NAME, PolicyDocument=text
                )
            elif not created:
                await self._iam_absent("delete_role_policy", RoleName=name, PolicyName=POLICY_NAME)
            if not created:
                await self._iam("tag_role", RoleName=name, Tags=tags)
                stale = [k for k in _parent_keys() if k not in {t["Key"] for t in tags}]
                if stale:
                    await self._iam("untag_role", RoleName=name, TagKeys=stale)
            self._roles[(role.tenant_id, role.name)] = stored
            self.approximations.pop((role.tenant_id, role.name), None)
            await self._bump()

    async def delete_role(self, tenant_id: str, name: str) -> bool:
        """Delete the IAM role and its inline policy; False (no bump) if it did not exist.

        Raises:
            ValidationError: ``INVALID_STATE`` when IAM refuses because someone attached other
                policies to the role out of band.
            ExecutionError: ``SERVICE_UNAVAILABLE`` when IAM or DynamoDB cannot be reached.
        """
        if not _ROLE_NAME.match(name):
            return False
        role_name = iam_role_name(self._prefix, tenant_id, name)
        async with self._writing("delete the role"):
            await self._iam_absent("delete_role_policy", RoleName=role_name, PolicyName=POLICY_NAME)
            try:
                await self._aws.call("iam", "delete_role", RoleName=role_name)
            except Exception as exc:
                code = error_code(exc)
                if code == "NoSuchEntity":
                    self._roles.pop((tenant_id, name), None)
                    return False
                if code == "DeleteConflict":
                    raise ValidationError(
                        "INVALID_STATE",
                        f"IAM refuses to delete role '{role_name}' (AESP role '{name}'): other "
                        "policies are attached to it. Detach them in IAM, then delete again.",
                    ) from exc
                raise _unavailable("delete the role", exc) from exc
            self._roles.pop((tenant_id, name), None)
            self.approximations.pop((tenant_id, name), None)
            await self._bump()
            return True

    async def set_assignment(
        self, principal_id: str, *, tenant_id: str, roles: Sequence[str]
    ) -> None:
        """Replace the principal's roles in the tenant (sorted, unique; empty removes).

        Raises:
            ExecutionError: ``SERVICE_UNAVAILABLE`` when DynamoDB cannot be reached.
        """
        held = tuple(sorted(set(roles)))
        key = {"pk": _ASSIGNMENT, "sk": json.dumps([tenant_id, principal_id])}
        async with self._writing("store the assignment"):
            if held:
                item = key | {"tenant_id": tenant_id, "principal_id": principal_id}
                await self._dynamo(
                    "put_item", TableName=self._table, Item=to_item(item | {"roles": list(held)})
                )
                self._assignments[(tenant_id, principal_id)] = held
            else:
                await self._dynamo("delete_item", TableName=self._table, Key=to_item(key))
                self._assignments.pop((tenant_id, principal_id), None)
            await self._bump()

    async def close(self) -> None:
        """Stop the sync."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    # ------------------------------------------------------------------ sync

    async def _sync_forever(self) -> None:
        while True:
            await asyncio.sleep(self._aws.settings.sync_interval_s)
            try:
                await self._sync()
                self.last_sync_error = ""
            except Exception as exc:  # keep serving the snapshot; say why once per failure
                reason = f"{error_code(exc) or type(exc).__name__}: {exc}"
                if reason != self.last_sync_error:
                    log.warning("IAM role sync failed, serving the last snapshot: %s", reason)
                self.last_sync_error = reason

    async def _sync(self, *, initial: bool = False) -> None:
        """Read the counter, IAM and the assignments; publish unless this object wrote meanwhile
        (its own write already updated the snapshot, and a read from before it would undo it)."""
        generation = self._generation
        counter = await self._read_counter()
        roles, notes = await self._read_roles()
        assignments = await self._read_assignments()
        if generation != self._generation or self._writes_in_flight:
            return
        if not initial and (roles != self._roles or assignments != self._assignments):
            self._drift += 1
        self._roles, self._assignments, self.approximations = roles, assignments, notes
        self._counter = max(self._counter, counter)

    async def _read_counter(self) -> int:
        reply = await self._aws.call(
            "dynamodb", "get_item", TableName=self._table, Key=to_item(_REVISION_KEY),
            ConsistentRead=True,
        )  # fmt: skip
        return int(from_item(reply.get("Item", {})).get("value", 0))

    async def _read_assignments(self) -> dict[_Key, tuple[str, ...]]:
        out: dict[_Key, tuple[str, ...]] = {}
        query: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": to_item({":pk": _ASSIGNMENT}),
            "ConsistentRead": True,
        }
        while True:
            reply = await self._aws.call("dynamodb", "query", **query)
            for raw in reply.get("Items", []):
                item = from_item(raw)
                key = (str(item["tenant_id"]), str(item["principal_id"]))
                out[key] = tuple(sorted(str(r) for r in item.get("roles", [])))
            if "LastEvaluatedKey" not in reply:
                return out
            query["ExclusiveStartKey"] = reply["LastEvaluatedKey"]

    async def _read_roles(self) -> tuple[dict[_Key, RoleDefinition], dict[_Key, tuple[str, ...]]]:
        listed: list[dict[str, Any]] = []
        marker: dict[str, str] = {}
        while True:
            reply = await self._aws.call("iam", "list_roles", PathPrefix=self._path, **marker)
            listed.extend(reply.get("Roles", []))
            if not reply.get("IsTruncated"):
                break
            marker = {"Marker": reply["Marker"]}
        gate = asyncio.Semaphore(SYNC_CONCURRENCY)

        async def one(entry: dict[str, Any]) -> tuple[RoleDefinition, tuple[str, ...]] | None:
            async with gate:
                return await self._read_role(entry)

        roles: dict[_Key, RoleDefinition] = {}
        notes: dict[_Key, tuple[str, ...]] = {}
        found = await asyncio.gather(*(one(entry) for entry in listed))
        for entry, result in zip(listed, found, strict=True):
            if result is None:
                continue
            role, approximations = result
            key = (role.tenant_id, role.name)
            canonical = iam_role_name(self._prefix, *key) == entry["RoleName"]
            if key in roles and not canonical:
                log.warning("IAM role %s repeats AESP role %s; ignored", entry["RoleName"], key)
                continue
            roles[key] = role
            if approximations:
                notes[key] = approximations
        return roles, notes

    async def _read_role(
        self, entry: dict[str, Any]
    ) -> tuple[RoleDefinition, tuple[str, ...]] | None:
        """One IAM role as an AESP role; None if it is not one (or vanished meanwhile)."""
        segment = str(entry.get("Path", ""))[len(self._path) : -1]
        if segment != PLATFORM_SEGMENT and not TENANT_ID.match(segment):
            return None  # deeper paths and foreign names are not AESP roles
        tenant = "" if segment == PLATFORM_SEGMENT else segment
        name = entry["RoleName"]
        try:
            tags = await self._read_tags(name)
        except Exception as exc:
            if error_code(exc) == "NoSuchEntity":
                return None  # the role went away between listing and reading
            raise
        document: Any = None
        try:
            reply = await self._aws.call(
                "iam", "get_role_policy", RoleName=name, PolicyName=POLICY_NAME
            )
            document = reply.get("PolicyDocument")
        except Exception as exc:
            if error_code(exc) != "NoSuchEntity":
                raise
        aesp_name = tags.get(TAG_ROLE, "")
        if not _ROLE_NAME.match(aesp_name):
            return None  # no aesp:role tag: not managed by AESP
        parents = tuple(
            " ".join(tags.get(k, "") for k in _parent_keys()).split()
        )  # fmt: skip
        if document is None:
            return RoleDefinition(aesp_name, (), parents, tenant), ()
        arn = str(entry.get("Arn", "")).split(":")
        partition, account = (arn[1], arn[4]) if len(arn) > 4 else (self._partition, "")
        try:
            meaning = translate(
                PolicyDocument.parse(document),
                partition=partition,
                region=self._aws.settings.region,
                account=account,
            )
        except PolicyDocumentError as exc:
            note = f"policy {POLICY_NAME} cannot be read ({exc}); the role denies everything"
            return RoleDefinition(aesp_name, (), parents, tenant, _FAIL_CLOSED), (note,)
        role = RoleDefinition(aesp_name, meaning.permissions, parents, tenant, meaning.denied)
        if meaning.approximations:
            log.warning("IAM role %s: %s", name, "; ".join(meaning.approximations))
        return role, meaning.approximations

    async def _read_tags(self, name: str) -> dict[str, str]:
        tags: dict[str, str] = {}
        marker: dict[str, str] = {}
        while True:
            reply = await self._aws.call("iam", "list_role_tags", RoleName=name, **marker)
            tags.update({t["Key"]: t["Value"] for t in reply.get("Tags", [])})
            if not reply.get("IsTruncated"):
                return tags
            marker = {"Marker": reply["Marker"]}

    # ------------------------------------------------------------------ machinery

    @contextlib.asynccontextmanager
    async def _writing(self, what: str) -> AsyncIterator[None]:
        """Mark a write in flight, so a sync that overlaps it discards what it read."""
        self._generation += 1
        self._writes_in_flight += 1
        try:
            yield
        finally:
            self._writes_in_flight -= 1
            self._generation += 1

    async def _create(self, name: str, role: RoleDefinition, tags: list[dict[str, str]]) -> bool:
        """Create the IAM role; False if it already exists (a replace)."""
        segment = role.tenant_id or PLATFORM_SEGMENT
        try:
            await self._aws.call(
                "iam",
                "create_role",
                RoleName=name,
                Path=f"{self._path}{segment}/",
                AssumeRolePolicyDocument=self._trust,
                Description=f"AESP role {role.name} ({role.tenant_id or 'platform'})"[:1000],
                Tags=tags,
            )
        except Exception as exc:
            if error_code(exc) == "EntityAlreadyExists":
                return False
            raise _unavailable("store the role", exc) from exc
        return True

    async def _iam(self, operation: str, **kwargs: Any) -> Any:
        try:
            return await self._aws.call("iam", operation, **kwargs)
        except Exception as exc:
            if error_code(exc) == "MalformedPolicyDocument":
                raise ValueError(f"IAM refused the role's policy: {exc}") from exc
            raise _unavailable(f"call IAM {operation}", exc) from exc

    async def _iam_absent(self, operation: str, **kwargs: Any) -> None:
        """An IAM delete for which "already gone" is success."""
        try:
            await self._aws.call("iam", operation, **kwargs)
        except Exception as exc:
            if error_code(exc) != "NoSuchEntity":
                raise _unavailable(f"call IAM {operation}", exc) from exc

    async def _dynamo(self, operation: str, **kwargs: Any) -> Any:
        try:
            return await self._aws.call("dynamodb", operation, **kwargs)
        except Exception as exc:
            raise _unavailable(f"write table {self._table}", exc) from exc

    async def _bump(self) -> None:
        reply = await self._dynamo(
            "update_item",
            TableName=self._table,
            Key=to_item(_REVISION_KEY),
            UpdateExpression="ADD #v :one",
            ExpressionAttributeNames={"#v": "value"},
            ExpressionAttributeValues=to_item({":one": 1}),
            ReturnValues="UPDATED_NEW",
        )
        self._counter = max(self._counter, int(from_item(reply["Attributes"])["value"]))


def _parent_keys() -> list[str]:
    return [TAG_PARENTS] + [f"{TAG_PARENTS}.{i}" for i in range(2, PARENT_TAGS + 1)]


def _tags(role: RoleDefinition) -> list[dict[str, str]]:
    """The role's tags: its AESP name and its parents in as many tag values as needed.

    Raises:
        ValueError: A parent name IAM cannot hold, or more parents than :data:`PARENT_TAGS`
            tag values carry.
    """
    chunks: list[str] = []
    for parent in role.parents:
        if not _ROLE_NAME.match(parent):
            raise ValueError(f"role {role.name!r}: parent {parent!r} is not a valid role name")
        if chunks and len(chunks[-1]) + 1 + len(parent) <= TAG_VALUE_MAX:
            chunks[-1] += f" {parent}"
        else:
            chunks.append(parent)
    if len(chunks) > PARENT_TAGS:
        raise ValueError(f"role {role.name!r} has more parents than IAM tags can hold")
    tags = [{"Key": TAG_ROLE, "Value": role.name}]
    return tags + [{"Key": k, "Value": v} for k, v in zip(_parent_keys(), chunks, strict=False)]


def _config(message: str) -> ConfigurationError:
    return ConfigurationError("INVALID_CONFIG", f"[adapters.aws] {message}.")


def _unavailable(what: str, exc: BaseException) -> ExecutionError:
    """Fail closed: IAM or the assignments table is out of reach."""
    return ExecutionError(
        "SERVICE_UNAVAILABLE",
        f"The RBAC store cannot {what} ({error_code(exc) or type(exc).__name__}).",
        retry_after_ms=1000,
        remediation_steps=(
            "Check that the Host reaches IAM and DynamoDB and that its role may use them "
            "(iam:*Role*, dynamodb on the role-assignments table).",
            "Check that the role-assignments table exists (deploy/aesp-aws.yaml creates it).",
        ),
    )
