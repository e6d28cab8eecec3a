"""CONFIGURATION_KEY_V1: an approved configuration change, applied live (SPEC §3.11, §3.15).

The artifact is one change of one key, as a UTF-8 JSON object:

* ``key`` (required), ``value`` (required, text as in ``SetConfigValue``), ``data_type``
  (``STRING``/``INTEGER``/``BOOLEAN``/``JSON``; default STRING), ``sensitive`` (bool),
  ``change_reason`` (text), ``expected_version`` (the version the change was decided against;
  0 = the key is not set yet) and ``rollback_of`` (the version a rollback copies; 0 for a set).

The tenant is the request's scope, never the artifact's; a Host key (``limits.*``,
``gateway.*``) changes every tenant's service and is accepted only in the platform scope. The
author (``changed_by``) is the request's requester and the stored version names the approval
request, so the history shows who asked and which approval let it through.

Enactment writes through :meth:`ConfigManager.enact`, which puts the value in force before it
returns (decision 48's one ordered path). A key that moved on since the request was made is
refused with ``INVALID_STATE`` and nothing is recorded: the request must be rejected and asked
again against the new value (compare-and-set, never a silent overwrite).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from aesp.adm import AdmError, canonical_json, parse_json
from aesp.core._live_events import mask
from aesp.core._live_keys import check_key, host_spec
from aesp.core.errors import ValidationError
from aesp.core.governance.model import Approval, Enacted, Prepared
from aesp.core.live_config import ConfigManager, PendingChange
from aesp.core.ports.config import PLATFORM, ConfigDataType, ConfigEntry

__all__ = ["ConfigChangeArtifact", "ConfigKeyEnactor", "decode_change", "encode_change"]

log = logging.getLogger(__name__)

_FIELDS: Final = frozenset(
    {"key", "value", "data_type", "sensitive", "change_reason", "expected_version", "rollback_of"}
)
MAX_REASON: Final = 1_000  # characters of change_reason kept (the audit clips further)
UNDO_REASON: Final = "undo of approval {id}: its decision could not be recorded"


@dataclass(frozen=True, slots=True)
class ConfigChangeArtifact:
    """A CONFIGURATION_KEY_V1 artifact (see the module docstring for each field)."""

    key: str
    value: str
    data_type: ConfigDataType = ConfigDataType.STRING
    sensitive: bool = False
    change_reason: str = ""
    expected_version: int = 0
    rollback_of: int = 0


def _bad(why: str) -> ValidationError:
    return ValidationError("MALFORMED_REQUEST", f"{why}.", details={"field": "artifact_data"})


def _count(obj: Mapping[str, Any], name: str) -> int:
    value = obj.get(name, 0)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _bad(f"'{name}' must be a non-negative integer")
    return value


def decode_change(data: bytes) -> ConfigChangeArtifact:
    """The change in a CONFIGURATION_KEY_V1 artifact.

    Raises:
        ValidationError: ``MALFORMED_REQUEST`` naming the first problem.
    """
    try:
        obj = parse_json(data)
    except AdmError as exc:
        raise _bad(f"artifact_data is not a JSON configuration change: {exc.reason}") from None
    if not isinstance(obj, Mapping):
        raise _bad("artifact_data must be a JSON object describing one configuration change")
    unknown = sorted(set(obj) - _FIELDS)
    if unknown:
        raise _bad(f"'{unknown[0]}' is not a field of a configuration change")
    key, value, reason = obj.get("key"), obj.get("value"), obj.get("change_reason", "")
    if not isinstance(key, str) or not key:
        raise _bad("'key' must be a non-empty string")
    if not isinstance(value, str) or not isinstance(reason, str):
        raise _bad("'value' and 'change_reason' must be strings")
    sensitive = obj.get("sensitive", False)
    if not isinstance(sensitive, bool):
        raise _bad("'sensitive' must be true or false")
    try:
        kind = ConfigDataType(str(obj.get("data_type", "STRING")).upper())
    except ValueError:
        raise _bad("'data_type' must be STRING, INTEGER, BOOLEAN or JSON") from None
    return ConfigChangeArtifact(
        key,
        value,
        kind,
        sensitive,
        reason[:MAX_REASON],
        _count(obj, "expected_version"),
        _count(obj, "rollback_of"),
    )


def encode_change(change: PendingChange) -> bytes:
    """The canonical artifact bytes of a change :class:`ConfigManager` prepared."""
    e = change.entry
    return canonical_json(
        {
            "key": e.key,
            "value": e.value,
            "data_type": e.data_type.value,
            "sensitive": e.sensitive,
            "change_reason": e.change_reason[:MAX_REASON],
            "expected_version": change.expected_version,
            "rollback_of": change.rollback_of,
        }
    )


def change_facts(entry: ConfigEntry) -> dict[str, str]:
    """Facts approval workflows may route on (``conditions`` of a workflow)."""
    return {"config_key": entry.key, "sensitive": str(entry.sensitive).lower()}


class ConfigKeyEnactor:
    """Applies approved configuration changes through the Host's :class:`ConfigManager`.

    Args:
        manager: Returns the Host's running manager, or None before live configuration started
            (then requests are refused with ``FEATURE_UNAVAILABLE``). A function, not the
            manager, because live configuration may be restarted with a new store.
    """

    def __init__(self, manager: Callable[[], ConfigManager | None]) -> None:
        self._manager = manager

    def _require(self) -> ConfigManager:
        manager = self._manager()
        if manager is None:
            raise ValidationError(
                "FEATURE_UNAVAILABLE",
                "Live configuration is not running on this Host, so approved configuration "
                "changes cannot be applied; nothing was changed.",
                details={"field": "artifact_type", "artifact_type": "CONFIGURATION_KEY_V1"},
            )
        return manager

    async def prepare(self, tenant_id: str, artifact_id: str, data: bytes) -> Prepared:
        """Validate the change as ``SetConfigValue`` would (key, type, bounds, version).

        Raises:
            ValidationError: ``MALFORMED_REQUEST`` (bad artifact, value, or a Host key outside
                the platform scope), ``FEATURE_UNAVAILABLE`` (no live configuration).
            StateError: ``INVALID_STATE`` when the key is not at ``expected_version``.
        """
        manager = self._require()
        art = decode_change(data)
        if artifact_id and artifact_id != art.key:
            raise _bad(f"artifact_id must be empty or the key '{art.key}'")
        check_key(art.key)
        if host_spec(art.key) is not None and tenant_id != PLATFORM:
            raise _bad(
                f"'{art.key}' is a Host key: it changes every tenant's service, so request its "
                "approval in the platform scope (tenant_id '*')"
            )
        entry = ConfigEntry(
            tenant_id, art.key, art.value, art.data_type, art.sensitive,
            change_reason=art.change_reason,
        )  # fmt: skip
        change, _ = await manager.prepare(
            entry,
            expected_version=art.expected_version,
            check_version=True,
            rollback_of=art.rollback_of,
        )
        return Prepared(art.key, encode_change(change), change_facts(change.entry))

    async def enact(self, approval: Approval) -> Enacted:
        """Write the approved change and put it in force on this Host before returning.

        Idempotent: if the key's latest version already names this approval request (another
        Host enacted it), nothing changes.

        Raises:
            StateError: ``INVALID_STATE`` when the key changed since the request was made.
            ValidationError: ``FEATURE_UNAVAILABLE`` without live configuration.
        """
        manager = self._require()
        request = approval.request
        art = decode_change(request.artifact_data)
        current = await manager.store.get(request.tenant_id, art.key)
        entry = ConfigEntry(
            request.tenant_id,
            art.key,
            art.value,
            art.data_type,
            art.sensitive,
            changed_by=request.requester_id,
            change_reason=art.change_reason,
            approval_request_id=request.approval_request_id,
        )
        if current is not None and current.approval_request_id == request.approval_request_id:
            return self._enacted(current, current, art, changed=False)
        before = manager.effective(art.key)  # the file's value of a Host key never stored
        stored = await manager.enact(PendingChange(entry, art.expected_version, art.rollback_of))

        async def undo() -> None:
            await self._undo(manager, stored, current, before)

        return self._enacted(stored, current, art, changed=True, rollback=undo)

    @staticmethod
    async def _undo(
        manager: ConfigManager,
        stored: ConfigEntry,
        previous: ConfigEntry | None,
        before: str | None,
    ) -> None:
        """Put back what was in force: versions are immutable, so this writes a new one."""
        value = previous.value if previous is not None else before
        if value is None:  # NOTE: an app.* key set for the first time cannot be unset
            log.error(
                "cannot undo %s version %d (approval %s): the key had no earlier value",
                stored.key, stored.version, stored.approval_request_id,
            )  # fmt: skip
            return
        reason = UNDO_REASON.format(id=stored.approval_request_id)
        kind = previous.data_type if previous is not None else stored.data_type
        restore = ConfigEntry(
            stored.tenant_id, stored.key, value, kind, stored.sensitive,
            changed_by=stored.changed_by, change_reason=reason,
        )  # fmt: skip
        await manager.enact(PendingChange(restore, stored.version))

    @staticmethod
    def _enacted(
        stored: ConfigEntry,
        previous: ConfigEntry | None,
        art: ConfigChangeArtifact,
        *,
        changed: bool,
        rollback: Callable[[], Awaitable[None]] | None = None,
    ) -> Enacted:
        sensitive = stored.sensitive
        old = previous.value if previous is not None and previous is not stored else ""
        meta = {
            "key": stored.key,
            "version": str(stored.version),
            "old_value": mask(old, sensitive=sensitive, reveal=False),
            "new_value": mask(stored.value, sensitive=sensitive, reveal=False),
            "data_type": stored.data_type.value,
        }
        if art.rollback_of:
            meta["rollback_of_version"] = str(art.rollback_of)
        event = "CONFIGURATION_ROLLBACK" if art.rollback_of else "CONFIGURATION_UPDATE"
        if rollback is None:
            return Enacted(event, f"config:{stored.key}", meta, changed=changed)
        return Enacted(event, f"config:{stored.key}", meta, rollback=rollback, changed=changed)
