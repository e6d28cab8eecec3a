"""POLICY_V1 and ROLE_DEFINITION_V1: approved policies and roles, written through their ports.

A policy is stored with :meth:`PolicyStore.add_version` and the Host's policy set recompiled
(``control.policies_changed()``); a role is stored with :meth:`RoleStore.put_role` after the
hierarchy with it is validated by :meth:`RbacSnapshot.build` (cycles refused), then the RBAC
snapshot reloaded (``control.roles_changed()``). Both take effect on this Host before the
decision is answered, and on other Hosts at their next poll.

Artifact formats (UTF-8 JSON objects; the tenant is the request's scope, never the artifact's):

* POLICY_V1: ``policy_id``, ``version``, ``applies_to``, ``effect``, ``condition`` and
  optionally ``name``, ``actions``, ``enabled``, ``description``, ``parameters`` (an object of
  strings), as in ``PolicyDefinition`` (:func:`encode_policy`); or a deletion, ``{"policy_id": ..., "delete": true}`` and nothing
  else (:func:`encode_deletion`), whose ``artifact_id`` is ``<policy_id>@delete``: approved, the
  policy is soft-deleted as by ``DeletePolicy`` (its versions stay for audit).
* ROLE_DEFINITION_V1: ``name``, ``permissions``, ``parents``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, Final

from aesp.adm import AdmError, canonical_json, parse_json
from aesp.core.control import ControlPlane
from aesp.core.errors import StateError, ValidationError
from aesp.core.governance._semver import version_key
from aesp.core.governance.model import Approval, Enacted, Prepared
from aesp.core.ids import now_ms
from aesp.core.policy import PolicyDefinition, compile_policy
from aesp.core.policy.model import Effect
from aesp.core.ports.policy import StoredPolicy, VersionExistsError
from aesp.core.rbac import RbacSnapshot, RoleDefinition

__all__ = [
    "DELETE_SUFFIX",
    "PolicyEnactor",
    "RoleEnactor",
    "encode_deletion",
    "encode_policy",
    "parse_deletion",
    "parse_policy",
    "parse_role",
]

ROLLBACK_AUTHOR: Final = "aesp:governance-rollback"  # created_by of a rolled-back policy version
DELETE_SUFFIX: Final = "@delete"  # artifact_id of a POLICY_V1 deletion: <policy_id>@delete
_POLICY_KEYS: Final = frozenset(
    {"policy_id", "name", "version", "tenant_id", "applies_to", "actions", "effect"}
    | {"condition", "enabled", "description", "parameters"}
)
_DELETION_KEYS: Final = frozenset({"policy_id", "delete", "tenant_id"})
_ROLE_KEYS: Final = frozenset({"name", "permissions", "parents", "tenant_id"})


def _object(data: bytes, kind: str, allowed: frozenset[str], tenant_id: str) -> Mapping[str, Any]:
    try:
        obj = parse_json(data)
    except AdmError as exc:
        raise _bad(f"artifact_data is not a JSON {kind}: {exc.reason}") from None
    if not isinstance(obj, Mapping):
        raise _bad(f"artifact_data must be a JSON object describing a {kind}")
    unknown = sorted(set(obj) - allowed)
    if unknown:
        raise _bad(f"'{unknown[0]}' is not a field of a {kind}")
    if obj.get("tenant_id", tenant_id) != tenant_id:
        raise _bad(f"the {kind}'s tenant is the request's scope; leave tenant_id out")
    return obj


def _bad(why: str) -> ValidationError:
    return ValidationError("MALFORMED_REQUEST", f"{why}.", details={"field": "artifact_data"})


def _text(obj: Mapping[str, Any], key: str, default: str | None = None) -> str:
    value = obj.get(key, default)
    if not isinstance(value, str) or (default is None and not value):
        raise _bad(f"'{key}' must be a non-empty string")
    return value


def _texts(obj: Mapping[str, Any], key: str) -> tuple[str, ...]:
    value = obj.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise _bad(f"'{key}' must be a list of non-empty strings")
    return tuple(value)


def parse_policy(data: bytes, tenant_id: str) -> PolicyDefinition:
    """The policy in a POLICY_V1 artifact, scoped to ``tenant_id``.

    Raises:
        ValidationError: ``MALFORMED_REQUEST`` naming the first problem.
    """
    obj = _object(data, "policy", _POLICY_KEYS, tenant_id)
    try:
        effect = Effect(_text(obj, "effect").upper())
    except ValueError:
        raise _bad("'effect' must be ALLOW, DENY or AUDIT") from None
    enabled = obj.get("enabled", True)
    if not isinstance(enabled, bool):
        raise _bad("'enabled' must be true or false")
    parameters = obj.get("parameters", {})
    if not isinstance(parameters, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in parameters.items()
    ):
        raise _bad("'parameters' must be an object of strings")
    policy_id = _text(obj, "policy_id")
    return PolicyDefinition(
        policy_id=policy_id,
        name=_text(obj, "name", policy_id) or policy_id,
        version=_text(obj, "version"),
        tenant_id=tenant_id,
        applies_to=_texts(obj, "applies_to"),
        effect=effect,
        condition=_text(obj, "condition", ""),
        actions=_texts(obj, "actions"),
        enabled=enabled,
        description=_text(obj, "description", ""),
        parameters=dict(parameters),
    )


def parse_deletion(data: bytes, tenant_id: str) -> str | None:
    """The policy id of a POLICY_V1 deletion artifact, or None when ``data`` is a policy.

    Raises:
        ValidationError: ``MALFORMED_REQUEST`` for a deletion with other fields, or a
            ``delete`` that is not ``true``.
    """
    try:
        obj = parse_json(data)
    except AdmError:
        return None  # parse_policy names the problem
    if not isinstance(obj, Mapping) or "delete" not in obj:
        return None
    obj = _object(data, "policy deletion", _DELETION_KEYS, tenant_id)
    if obj["delete"] is not True:
        raise _bad("'delete' must be true (a deletion has only 'policy_id' and 'delete')")
    return _text(obj, "policy_id")


def _policy_json(definition: PolicyDefinition) -> dict[str, Any]:
    out = {f.name: getattr(definition, f.name) for f in dataclasses.fields(definition)}
    out.pop("tenant_id")
    out["effect"] = str(Effect(definition.effect).value)
    out["applies_to"], out["actions"] = list(definition.applies_to), list(definition.actions)
    out["parameters"] = dict(definition.parameters)
    return out


def encode_policy(definition: PolicyDefinition) -> bytes:
    """The POLICY_V1 artifact of ``definition`` (its tenant is the request's scope)."""
    return canonical_json(_policy_json(definition))


def encode_deletion(policy_id: str) -> bytes:
    """The POLICY_V1 artifact that deletes ``policy_id`` in the request's scope."""
    return canonical_json({"delete": True, "policy_id": policy_id})


def _live(stored: StoredPolicy | None) -> StoredPolicy | None:
    return stored if stored is not None and not stored.deleted else None


class PolicyEnactor:
    """Stores approved policy versions (the policy set is recompiled at once).

    Args:
        control: The Host's control plane (Policy port, contracts, snapshots).
    """

    def __init__(self, control: ControlPlane) -> None:
        self._control = control

    def _compile(self, definition: PolicyDefinition) -> None:
        compile_policy(definition, contract_schemas=self._control.contract_schemas())

    async def _check_newer(self, definition: PolicyDefinition) -> StoredPolicy | None:
        latest = _live(await self._control.policies.get(definition.tenant_id, definition.policy_id))
        if latest is not None and version_key(definition.version) <= version_key(
            latest.definition.version
        ):
            raise StateError(
                "INVALID_STATE",
                f"Policy '{definition.policy_id}' is at version {latest.definition.version}; "
                "an approved change needs a greater SemVer version.",
                details={"field": "version", "current_version": latest.definition.version},
            )
        return latest

    async def prepare(self, tenant_id: str, artifact_id: str, data: bytes) -> Prepared:
        """Parse, compile against the Host's contracts and check the version order.

        Raises:
            ValidationError: Malformed, or ``POLICY_EVALUATION_FAILED`` (does not compile).
            StateError: ``INVALID_STATE`` for a version not greater than the stored one.
        """
        deleted = parse_deletion(data, tenant_id)
        if deleted is not None:
            return await self._prepare_deletion(tenant_id, artifact_id, deleted)
        definition = parse_policy(data, tenant_id)
        expected = f"{definition.policy_id}@{definition.version}"
        if artifact_id and artifact_id != expected:
            raise _bad(f"artifact_id must be empty or '{expected}'")
        self._compile(definition)
        await self._check_newer(definition)
        facts = {"policy_id": definition.policy_id, "effect": str(definition.effect)}
        return Prepared(expected, canonical_json(_policy_json(definition)), facts)

    async def enact(self, approval: Approval) -> Enacted:
        """Store the approved version and recompile the policy set.

        Raises:
            ValidationError: It no longer compiles (a contract changed under it).
            StateError: ``INVALID_STATE`` when an equal or newer version was stored since.
        """
        request = approval.request
        deleted = parse_deletion(request.artifact_data, request.tenant_id)
        if deleted is not None:
            return await self._enact_deletion(approval, deleted)
        definition = parse_policy(request.artifact_data, request.tenant_id)
        resource = f"policy:{definition.policy_id}@{definition.version}"
        meta = {"policy_id": definition.policy_id, "version": definition.version}
        found = await self._control.policies.get(
            definition.tenant_id, definition.policy_id, definition.version
        )
        if found is not None and found.definition == definition:
            return Enacted("POLICY_UPDATE", resource, meta, changed=False)
        self._compile(definition)
        previous = await self._check_newer(definition)
        try:
            await self._control.policies.add_version(
                definition, created_by=approval.approved_by, at_ms=approval.approved_at_ms
            )
        except VersionExistsError:
            raise StateError(
                "INVALID_STATE",
                f"Policy '{definition.policy_id}' already has another version "
                f"{definition.version}; submit a greater version.",
                details={"field": "version"},
            ) from None
        await self._control.policies_changed()

        async def rollback() -> None:
            latest = await self._control.policies.get(definition.tenant_id, definition.policy_id)
            if latest is None or latest.definition != definition:
                return  # someone stored a version after ours: leave theirs
            if previous is None:
                await self._control.policies.delete(
                    definition.tenant_id, definition.policy_id, at_ms=now_ms()
                )
            else:
                # Versions are immutable: the previous content comes back under our version
                # with build metadata, so the next change must still exceed ours.
                base = definition.version.split("+", 1)[0]
                suffix = request.approval_request_id.removeprefix("apr-")
                await self._control.policies.add_version(
                    dataclasses.replace(previous.definition, version=f"{base}+rollback.{suffix}"),
                    created_by=ROLLBACK_AUTHOR,
                    at_ms=now_ms(),
                )
            await self._control.policies_changed()

        kind = "POLICY_UPDATE" if previous is not None else "POLICY_CREATE"
        return Enacted(kind, resource, meta, rollback)

    async def _prepare_deletion(self, tenant_id: str, artifact_id: str, policy_id: str) -> Prepared:
        """A deletion names a policy live in exactly the request's scope.

        Raises:
            ValidationError: ``MALFORMED_REQUEST`` for another ``artifact_id``.
            StateError: ``POLICY_NOT_FOUND`` when the policy is not live in the scope.
        """
        expected = f"{policy_id}{DELETE_SUFFIX}"
        if artifact_id and artifact_id != expected:
            raise _bad(f"artifact_id must be empty or '{expected}'")
        if _live(await self._control.policies.get(tenant_id, policy_id)) is None:
            raise _missing(policy_id, tenant_id)
        facts = {"policy_id": policy_id, "effect": "DELETE"}
        return Prepared(expected, encode_deletion(policy_id), facts)

    async def _enact_deletion(self, approval: Approval, policy_id: str) -> Enacted:
        """Soft-delete the policy and recompile; already deleted (by another Host, or since)
        is ``changed=False``. The rollback stores the deleted content again, under build
        metadata as for an update, so nothing made after it is overwritten."""
        tenant_id = approval.request.tenant_id
        resource = f"policy:{policy_id}"
        meta = {"policy_id": policy_id, "operation": "delete"}
        previous = _live(await self._control.policies.get(tenant_id, policy_id))
        if previous is None:
            return Enacted("POLICY_DELETE", resource, meta, changed=False)
        if not await self._control.policies.delete(
            tenant_id, policy_id, at_ms=approval.approved_at_ms
        ):
            return Enacted("POLICY_DELETE", resource, meta, changed=False)
        await self._control.policies_changed()
        suffix = approval.request.approval_request_id.removeprefix("apr-")

        async def rollback() -> None:
            latest = await self._control.policies.get(tenant_id, policy_id)
            if latest is None or not latest.deleted or latest.definition != previous.definition:
                return  # stored again after us: leave it
            base = previous.definition.version.split("+", 1)[0]
            await self._control.policies.add_version(
                dataclasses.replace(previous.definition, version=f"{base}+rollback.{suffix}"),
                created_by=ROLLBACK_AUTHOR,
                at_ms=now_ms(),
            )
            await self._control.policies_changed()

        return Enacted("POLICY_DELETE", resource, meta, rollback)


def _missing(policy_id: str, tenant_id: str) -> StateError:
    where = f"tenant '{tenant_id}'" if tenant_id else "the platform scope"
    return StateError(
        "POLICY_NOT_FOUND",
        f"There is no policy '{policy_id[:128]}' in {where} to delete.",
        details={"field": "policy_id", "policy_id": policy_id[:128]},
    )


def parse_role(data: bytes, tenant_id: str) -> RoleDefinition:
    """The role in a ROLE_DEFINITION_V1 artifact, owned by ``tenant_id`` (``""``: platform).

    Raises:
        ValidationError: ``MALFORMED_REQUEST`` naming the first problem.
    """
    obj = _object(data, "role", _ROLE_KEYS, tenant_id)
    return RoleDefinition(
        name=_text(obj, "name"),
        permissions=_texts(obj, "permissions"),
        parents=_texts(obj, "parents"),
        tenant_id=tenant_id,
    )


class RoleEnactor:
    """Stores approved role definitions once the hierarchy with them is valid.

    Args:
        control: The Host's control plane (RBAC port and snapshot).
    """

    def __init__(self, control: ControlPlane) -> None:
        self._control = control

    async def _validated(self, role: RoleDefinition) -> RoleDefinition | None:
        """The role it replaces (None if new), once every stored role plus it builds a
        snapshot: malformed permissions, unknown parents and cycles are refused."""
        roles = list(await self._control.roles.roles())
        key = (role.tenant_id, role.name)
        previous = next((r for r in roles if (r.tenant_id, r.name) == key), None)
        others = [r for r in roles if (r.tenant_id, r.name) != key]
        try:
            RbacSnapshot.build([*others, role], {}, version=0)
        except ValueError as exc:
            raise _bad(f"the role hierarchy with '{role.name}' is invalid: {exc}") from None
        return previous

    async def prepare(self, tenant_id: str, artifact_id: str, data: bytes) -> Prepared:
        """Parse the role and validate the hierarchy with it.

        Raises:
            ValidationError: ``MALFORMED_REQUEST`` (shape, permission, parent or cycle).
        """
        role = parse_role(data, tenant_id)
        expected = f"role:{role.name}"
        if artifact_id and artifact_id != expected:
            raise _bad(f"artifact_id must be empty or '{expected}'")
        await self._validated(role)
        body = {"name": role.name, "permissions": role.permissions, "parents": role.parents}
        return Prepared(expected, canonical_json(body), {"name": role.name})

    async def enact(self, approval: Approval) -> Enacted:
        """Store the role and reload the RBAC snapshot.

        Raises:
            ValidationError: The hierarchy changed so that the role no longer fits.
        """
        role = parse_role(approval.request.artifact_data, approval.request.tenant_id)
        previous = await self._validated(role)
        resource = f"role:{role.name}"
        meta = {"name": role.name, "permissions": ",".join(role.permissions)[:300]}
        if previous == role:
            return Enacted("ROLE_DEFINITION_CHANGE", resource, meta, changed=False)
        await self._control.roles.put_role(role)
        await self._control.roles_changed()

        async def rollback() -> None:
            current = next(
                (
                    r
                    for r in await self._control.roles.roles()
                    if (r.tenant_id, r.name) == (role.tenant_id, role.name)
                ),
                None,
            )
            if current != role:
                return  # changed after us: leave it
            if previous is None:
                await self._control.roles.delete_role(role.tenant_id, role.name)
            else:
                await self._control.roles.put_role(previous)
            await self._control.roles_changed()

        return Enacted("ROLE_DEFINITION_CHANGE", resource, meta, rollback)
