"""The Config port: the storage half of versioned configuration (SPEC §3.7 (6), §3.15, C-38).

Checking a value against its data type, masking sensitive values, deciding which keys need
approval and applying a change live are the core's job. This port keeps every version of every
key, forever and in order, and makes the one step that must be atomic across Host replicas
atomic: writing version n+1 only if the latest stored version is still n (compare-and-set).
Without it, two replicas setting one key at once would both write "version 5", or the second
would silently overwrite a change its author never saw.

Each write also gets a store-wide ``revision`` that increases in commit order, so every replica
can poll :meth:`ConfigStore.changes_since` to apply changes and feed ``SubscribeToChanges``
without missing or repeating one, whichever replica made the change. That is a duty of every
realisation: once a reader can see revision r, it must see every lower one too (SQLite gets it
by assigning the revision inside the serialised write transaction; a store whose sequence is
assigned before commit would let a poller skip a slow writer's change for ever).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from aesp.core.ports._errors import ConcurrentChangeError as ConcurrentChangeError
from aesp.core.ports._paging import Page

PLATFORM = ""  # the tenant id of platform-wide keys


class ConfigDataType(enum.StrEnum):
    """How ``value`` is to be read (``ConfigValue.data_type``); the core checks the value."""

    STRING = "STRING"
    INTEGER = "INTEGER"
    BOOLEAN = "BOOLEAN"
    JSON = "JSON"


@dataclass(frozen=True, slots=True)
class ConfigEntry:
    """One immutable version of one configuration key.

    Attributes:
        tenant_id: Owning tenant; ``""`` for a platform key.
        key: The key, unique within the tenant; never empty.
        value: The value as text, stored verbatim (never parsed or trimmed by a store).
        data_type: How the core reads ``value``.
        sensitive: The value is masked to readers without read-sensitive permission.
        version: Per key, 1 for the first write, +1 for each later one; assigned by the store.
        changed_by: Principal that made the change.
        change_reason: Why (``SetConfigValueRequest.justification``).
        changed_at_ms: When, Unix ms.
        approval_request_id: The governance request that approved it; empty if none was needed.
        revision: Store-wide sequence of this write, in commit order; assigned by the store.
    """

    tenant_id: str
    key: str
    value: str
    data_type: ConfigDataType = ConfigDataType.STRING
    sensitive: bool = False
    version: int = 0
    changed_by: str = ""
    change_reason: str = ""
    changed_at_ms: int = 0
    approval_request_id: str = ""
    revision: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "data_type", ConfigDataType(self.data_type))
        if not self.key:
            raise ValueError("a configuration key must not be empty")
        if self.version < 0 or self.revision < 0:
            raise ValueError("version and revision must not be negative")


@runtime_checkable
class ConfigStore(Protocol):
    """Stores configuration history. Safe for concurrent use by several Hosts: ``set`` is a
    compare-and-set, and history is append-only (no method changes or removes a version).

    A tenant's keys and the platform's (``tenant_id=""``) are separate namespaces: nothing a
    read returns for one tenant comes from another, so the core only has to pass the caller's
    verified tenant (item 184). Reads of unknown keys return None or empty, never raise.
    """

    async def set(self, entry: ConfigEntry, *, expected_version: int) -> ConfigEntry:
        """Append ``entry`` as the key's next version, only if its latest stored version is
        ``expected_version`` (0 for a key never set); returns it as stored, with ``version``
        ``expected_version + 1`` and a fresh ``revision``. The ``version`` and ``revision``
        that ``entry`` carries are ignored: the store assigns both.

        A rollback (SPEC §3.15) is a ``set`` of the old value: it never rewrites history.

        Raises:
            ConcurrentChangeError: The latest version is not ``expected_version``; nothing is
                written.
            ValueError: ``expected_version`` is negative.
        """
        ...

    async def get(self, tenant_id: str, key: str, version: int = 0) -> ConfigEntry | None:
        """One version of a key (0 = the latest), or None."""
        ...

    async def history(
        self, tenant_id: str, key: str, *, limit: int = 0, cursor: str = ""
    ) -> Page[ConfigEntry]:
        """Every version of a key, newest first (``GetConfigHistory``), one page at a time.

        Raises:
            ValueError: ``cursor`` was not returned by this method.
        """
        ...

    async def list_keys(
        self, tenant_id: str, *, limit: int = 0, cursor: str = ""
    ) -> Page[ConfigEntry]:
        """The latest version of each of the tenant's keys, ordered by key (``ListConfigKeys``)."""
        ...

    async def changes_since(
        self, revision: int, *, tenant_id: str | None = None, limit: int = 0
    ) -> Sequence[ConfigEntry]:
        """Writes with a revision above ``revision``, oldest first, at most one page.

        A poller keeps the last ``revision`` it handled and calls again until it gets an empty
        list; since revisions follow commit order, it never misses or repeats a change. The
        old value of a change is ``get(tenant_id, key, version - 1)``. ``tenant_id=None``
        means every tenant.
        """
        ...

    async def revision(self) -> int:
        """The revision of the latest write: 0 for an empty store, 1 after its first write,
        increasing with every later write and unchanged by reads and refused writes."""
        ...

    async def close(self) -> None:
        """Release connections and files."""
        ...
