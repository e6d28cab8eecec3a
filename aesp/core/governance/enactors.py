"""Enactors: what makes an approved artifact take effect, one per artifact type (SPEC §3.11).

"Approval enacts the artifact atomically: a contract becomes ACTIVE, a policy is activated, a
budget or configuration key is applied." The engine does not know how; each artifact type has
one :class:`Enactor`, kept in an :class:`EnactorRegistry` that other modules register into (the
cost and configuration components register ``BUDGET_V1`` and ``CONFIGURATION_KEY_V1``).

Fail closed: an artifact type with no enactor is refused at RequestApproval with
``FEATURE_UNAVAILABLE``, so nothing is ever approved and then silently not applied.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Protocol, runtime_checkable

from aesp.core.errors import AespError, ValidationError
from aesp.core.governance.model import Approval, Enacted, Prepared
from aesp.core.ports.governance import ArtifactType

__all__ = ["Enactor", "EnactorRegistry", "artifact_type", "unavailable"]


@runtime_checkable
class Enactor(Protocol):
    """Checks an artifact when approval is requested and applies it when approved.

    Both methods raise :class:`~aesp.core.errors.AespError` with a sentence a person can act on;
    the engine passes it to the caller. Neither may leave a partial change behind.
    """

    async def prepare(self, tenant_id: str, artifact_id: str, data: bytes) -> Prepared:
        """Validate the artifact for ``tenant_id`` (``""``: the platform scope) and return its
        normalised form: the exact bytes approvers will see and :meth:`enact` will apply.
        Nothing is applied.

        Raises:
            AespError: The artifact is malformed (``MALFORMED_REQUEST``, ``SCHEMA_VIOLATION``),
                not allowed in this scope, or cannot follow what is in force (``INVALID_STATE``).
        """
        ...

    async def enact(self, approval: Approval) -> Enacted:
        """Apply the approved artifact now. Idempotent: if exactly this artifact is already in
        force (another Host enacted it), change nothing and return ``changed=False``.

        Raises:
            AespError: It can no longer be applied (e.g. a newer version became active); nothing
                was changed, and the engine records no approval.
        """
        ...


def artifact_type(value: str) -> ArtifactType:
    """The artifact type named ``value``.

    Raises:
        ValidationError: ``MALFORMED_REQUEST`` naming the five ``_V1`` types.
    """
    try:
        return ArtifactType(value)
    except ValueError:
        names = ", ".join(t.value for t in ArtifactType)
        raise ValidationError(
            "MALFORMED_REQUEST",
            f"artifact_type {value[:64]!r} is not one of {names}.",
            details={"field": "artifact_type"},
        ) from None


class EnactorRegistry:
    """Artifact type → its enactor. Strict: a second registration of one type is refused."""

    def __init__(self) -> None:
        self._enactors: dict[ArtifactType, Enactor] = {}

    def register(self, kind: ArtifactType | str, enactor: Enactor) -> None:
        """Make ``enactor`` the one that applies approved artifacts of ``kind``.

        Raises:
            ValueError: ``kind`` already has an enactor, or is not an artifact type.
            TypeError: ``enactor`` does not implement :class:`Enactor`.
        """
        kind = ArtifactType(kind)
        if not isinstance(enactor, Enactor):
            raise TypeError(f"{type(enactor).__name__} does not implement Enactor")
        existing = self._enactors.get(kind)
        if existing is not None:
            raise ValueError(
                f"{kind.value} already has an enactor ({type(existing).__name__}); "
                f"cannot also register {type(enactor).__name__}"
            )
        self._enactors[kind] = enactor

    def get(self, kind: ArtifactType) -> Enactor | None:
        """The enactor of ``kind``, or None."""
        return self._enactors.get(kind)

    def require(self, kind: ArtifactType) -> Enactor:
        """The enactor of ``kind``.

        Raises:
            ValidationError: ``FEATURE_UNAVAILABLE`` when none is registered.
        """
        enactor = self._enactors.get(kind)
        if enactor is None:
            raise unavailable(kind)
        return enactor

    @property
    def entries(self) -> Mapping[ArtifactType, Enactor]:
        """A read-only view of the registrations."""
        return MappingProxyType(self._enactors)


def unavailable(kind: ArtifactType) -> AespError:
    """``FEATURE_UNAVAILABLE`` for an artifact type this Host cannot apply."""
    return ValidationError(
        "FEATURE_UNAVAILABLE",
        f"This Host cannot apply approved {kind.value} artifacts (no component registered an "
        "enactor for them), so it does not accept approval requests for them: an approval "
        "that changes nothing would be misleading.",
        details={"field": "artifact_type", "artifact_type": kind.value},
    )
