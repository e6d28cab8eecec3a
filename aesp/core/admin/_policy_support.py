"""Definition checks, version order, views and listing pages for the Policy admin operations.

Pure helpers (no port is called) kept apart so :mod:`aesp.core.admin.policy` reads as the
numbered steps of each operation.
"""

from __future__ import annotations

import dataclasses
import re
import secrets
from collections.abc import Sequence
from typing import Final

from aesp.core.admin._guard import ALL_TENANTS
from aesp.core.admin.policy_types import PolicyView
from aesp.core.errors import ValidationError
from aesp.core.policy import PLATFORM, PolicyDefinition
from aesp.core.ports._cursors import decode_pair_cursor, encode_pair_cursor
from aesp.core.ports._paging import Page, page_limit
from aesp.core.ports.policy import StoredPolicy

__all__ = [
    "DEFAULT_VERSION",
    "list_page",
    "matches_resource",
    "prepare",
    "stored_tenant",
    "version_key",
    "view",
]

DEFAULT_VERSION: Final = "1.0.0"  # a new policy's version when the request gives none
POLICY_ID_BYTES: Final = 8  # a Host-assigned id: "pol-<16 hex>"
MAX_NAME: Final = 256  # characters; keeps listings readable
MAX_DESCRIPTION: Final = 2048
# NOTE: the SemVer grammar of aesp.core.policy.compile, repeated here only to *order* stored
# versions (which that module already validated when they were stored).
_SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-([0-9A-Za-z.-]+))?(?:\+.*)?\Z")


def stored_tenant(target: str) -> str:
    """The ``tenant_id`` a policy is stored under: ``""`` for the platform scope ``"*"``."""
    return PLATFORM if target == ALL_TENANTS else target


def version_key(version: str) -> tuple[int, int, int, int, str]:
    """SemVer precedence: a release sorts after its pre-releases. Malformed sorts first."""
    match = _SEMVER.match(version)
    if match is None:
        return (-1, -1, -1, -1, "")
    major, minor, patch, pre = match.groups()
    return int(major), int(minor), int(patch), 0 if pre else 1, pre or ""


def prepare(definition: PolicyDefinition, tenant: str, *, creating: bool) -> PolicyDefinition:
    """``definition`` scoped to ``tenant``, with a Host-assigned id and default version when
    creating without them, and its name and description checked.

    Raises:
        ValidationError: ``MALFORMED_REQUEST`` for a missing id (on update), an over-long name
            or description.
    """
    policy_id, version = definition.policy_id, definition.version
    if not policy_id:
        if not creating:
            raise ValidationError(
                "MALFORMED_REQUEST",
                "policy.policy_id names the policy to update.",
                details={"field": "policy_id"},
            )
        policy_id = f"pol-{secrets.token_hex(POLICY_ID_BYTES)}"
    if creating and not version:
        version = DEFAULT_VERSION
    name = definition.name or policy_id
    for field, value, limit in (
        ("name", name, MAX_NAME),
        ("description", definition.description, MAX_DESCRIPTION),
    ):
        if len(value) > limit:
            raise ValidationError(
                "MALFORMED_REQUEST",
                f"policy.{field} is longer than {limit} characters.",
                details={"field": field},
            )
    return dataclasses.replace(
        definition, policy_id=policy_id, version=version, name=name, tenant_id=tenant
    )


def view(latest: StoredPolicy, first: StoredPolicy | None = None) -> PolicyView:
    """The reported form of a stored version; ``first`` is its policy's first version."""
    origin = first or latest
    return PolicyView(
        definition=latest.definition,
        created_at_ms=origin.created_at_ms,
        updated_at_ms=latest.created_at_ms,
        created_by=origin.created_by,
    )


def matches_resource(definition: PolicyDefinition, resource: str) -> bool:
    """Whether the policy's ``applies_to`` covers ``resource`` (``""`` matches every policy)."""
    if not resource:
        return True
    name = resource.removeprefix("tool:")
    targets = {t.removeprefix("tool:") for t in definition.applies_to}
    return "*" in targets or name in targets


def _decode(cursor: str) -> tuple[str, str] | None:
    try:
        return decode_pair_cursor(cursor, "ListPolicies")
    except ValueError:
        raise ValidationError(
            "MALFORMED_REQUEST",
            "The cursor was not returned by ListPolicies; start again without one.",
            details={"field": "cursor"},
        ) from None


def list_page(policies: Sequence[StoredPolicy], *, limit: int, cursor: str) -> Page[StoredPolicy]:
    """One page of ``policies`` ordered by ``(tenant_id, policy_id)`` after ``cursor``.

    Raises:
        ValidationError: ``MALFORMED_REQUEST`` for a cursor this listing did not return.
    """
    after = _decode(cursor)
    ordered = sorted(policies, key=lambda s: (s.definition.tenant_id, s.definition.policy_id))
    if after is not None:
        ordered = [s for s in ordered if (s.definition.tenant_id, s.definition.policy_id) > after]
    size = page_limit(limit)
    page = ordered[:size]
    if len(ordered) <= size:
        return Page(page)
    last = page[-1].definition
    return Page(page, encode_pair_cursor(last.tenant_id, last.policy_id))
