"""Live configuration: versioned keys that change the running Host (SPEC §3.15, C-38, §4.19).

:class:`ConfigManager` is the only writer of the Config port. Every write, from this Host or
from a replica on the same store, reaches the running Host through one ordered path:
:meth:`ConfigManager.sync` reads ``changes_since(last revision)`` until it is empty and, per
change in revision order, (1) recomputes the effective values of the Host keys, (2) swaps them
into the pipeline, session manager and gateway (:mod:`aesp.core._live_apply`) and (3) tells
subscribers. A local ``set`` calls ``sync`` before it returns, so its change is in force when
the RPC answers; other replicas pick it up at their next poll (``config.poll_interval_ms``).
One path means no change is applied twice or skipped.

Start-up: the file's ``[limits]`` and ``[gateway]`` values are the base; the latest stored
value of each registered Host key overrides them (the store is where operators changed them
at run time, so it wins over a file written before). A stored value that no longer passes its
checks is ignored with a warning and the base value kept.

Approval (SPEC §3.15, item 202): the *server* decides. A change needs approval when the key is
sensitive (registered so, stored so, or marked so by the request), registered as governed, or
the caller asked for it; ``requires_approval=false`` never removes the step. The change is
then handed to :class:`ConfigApprovals` and the old value stays in force; without one, the set
is refused with ``FEATURE_UNAVAILABLE`` and nothing changes. A Host with governance hands it
to :class:`~aesp.core._live_approvals.GovernedConfigApprovals` (decision 76).
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Final, Protocol

from aesp.core import _live_keys as keys
from aesp.core._live_apply import HostTargets, RateTarget
from aesp.core._live_events import ConfigChangeEvent, Subscription
from aesp.core.errors import AespError, StateError, ValidationError
from aesp.core.ids import now_ms
from aesp.core.ports.config import PLATFORM, ConfigEntry, ConfigStore
from aesp.core.ports.config import ConcurrentChangeError as _Conflict

if TYPE_CHECKING:
    from aesp.core.host import Host

__all__ = [
    "ConfigApprovals",
    "ConfigChangeEvent",
    "ConfigManager",
    "PendingChange",
    "SetOutcome",
    "approval_unavailable",
    "live_config_of",
    "start_live_config",
    "stop_live_config",
]

log = logging.getLogger(__name__)
PAGE: Final = 500  # changes read per changes_since call (bounds memory while catching up)
ROLLBACK_REASON: Final = "rollback to version {version}"  # first words of a rollback's reason


@dataclass(frozen=True, slots=True)
class PendingChange:
    """A validated change waiting to be written.

    Attributes:
        entry: What to store (``version``/``revision`` are assigned by the store).
        expected_version: The version it was decided against (compare-and-set).
        rollback_of: The version a rollback copies; 0 for a set.
    """

    entry: ConfigEntry
    expected_version: int
    rollback_of: int = 0


@dataclass(frozen=True, slots=True)
class SetOutcome:
    """What a set or rollback did.

    Attributes:
        in_force: The version in force after the call (the old one while approval is pending;
            None when the key had none).
        version: The version created; 0 while approval is pending.
        approval_request_id: The governance request; empty when applied at once.
        previous: The version in force before the call.
    """

    in_force: ConfigEntry | None
    version: int = 0
    approval_request_id: str = ""
    previous: ConfigEntry | None = None


class ConfigApprovals(Protocol):
    """The governance workflow for ``CONFIGURATION_KEY_V1`` artifacts (SPEC §3.15).

    ``submit`` opens an approval request and returns its id; once approved, the workflow's
    enactor calls :meth:`ConfigManager.enact` with the same change.
    """

    async def submit(self, change: PendingChange) -> str:
        """Open an approval request for ``change``; return its id."""
        ...


def approval_unavailable(key: str, why: str) -> ValidationError:
    """The refusal of a change that needs approval on a Host without a workflow for it."""
    return ValidationError(
        "FEATURE_UNAVAILABLE",
        f"Changing '{key}' needs governance approval ({why}), and this Host has no approval "
        "workflow for configuration keys; nothing was changed.",
        details={"field": "key", "reason": "APPROVAL_UNAVAILABLE"},
        remediation_steps=("Enable the governance service's CONFIGURATION_KEY_V1 enactor.",),
    )


class ConfigManager:
    """Reads, validates, writes and applies configuration (see the module docstring).

    Args:
        store: The Config port.
        base: The file's values of the Host keys.
        targets: Where effective Host values go.
        approvals: The approval workflow; None refuses changes that need one.
        clock_ms: Unix milliseconds.
    """

    def __init__(
        self,
        store: ConfigStore,
        *,
        base: keys.LiveValues,
        targets: HostTargets | None = None,
        approvals: ConfigApprovals | None = None,
        clock_ms: Any = now_ms,
    ) -> None:
        self.store = store
        self.approvals = approvals
        self._base = base
        self._values = base
        self._targets = targets or HostTargets()
        self._clock_ms = clock_ms
        self._overrides: dict[str, Any] = {}
        self._revision = 0
        self._sync_lock = asyncio.Lock()
        self._subscribers: set[Subscription] = set()
        self._poller: asyncio.Task[None] | None = None

    @property
    def values(self) -> keys.LiveValues:
        """The Host keys' effective values (what the running Host uses)."""
        return self._values

    # ------------------------------------------------------------------ lifecycle

    async def start(self, *, poll: bool = True) -> None:
        """Apply every stored Host value, then poll for replicas' changes."""
        await self.sync()
        if poll and self._poller is None:
            self._poller = asyncio.create_task(self._poll(), name="aesp-live-config")

    async def stop(self) -> None:
        """Stop polling and end every subscription cleanly."""
        if self._poller is not None:
            self._poller.cancel()
            await asyncio.gather(self._poller, return_exceptions=True)
            self._poller = None
        for sub in list(self._subscribers):
            sub.close()

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self._values.poll_interval_ms / 1000)
            try:
                await self.sync()
            except Exception:  # a store outage delays changes; it must not end the poller
                log.exception("reading configuration changes failed; retrying at the next poll")

    # ------------------------------------------------------------------ reads

    async def get(self, tenant_id: str, key: str, *, fallback: bool = True) -> ConfigEntry | None:
        """The latest version of ``key`` in ``tenant_id``, else (``fallback``) the platform's."""
        entry = await self.store.get(tenant_id, key)
        if entry is None and fallback and tenant_id != PLATFORM:
            entry = await self.store.get(PLATFORM, key)
        return entry

    def effective(self, key: str) -> str | None:
        """The value a Host key has in the running Host as text (file value when unset)."""
        if keys.host_spec(key) is None:
            return None
        if key == keys.POLL_KEY:
            return str(self._values.poll_interval_ms)
        section, _, name = key.partition(".")
        value = getattr(getattr(self._values, section), name)
        return f"{value:g}" if isinstance(value, float) else str(value)

    def subscribe(
        self, *, tenant_scope: str, patterns: tuple[str, ...] = (), reveal: bool = False
    ) -> Subscription:
        """A subscription to every change applied from now on (see :class:`Subscription`)."""
        sub = Subscription(
            tenant_scope=tenant_scope,
            patterns=patterns,
            reveal=reveal,
            on_close=self._subscribers.discard,
        )
        self._subscribers.add(sub)
        return sub

    # ------------------------------------------------------------------ writes

    def needs_approval(self, entry: ConfigEntry, current: ConfigEntry | None, asked: bool) -> str:
        """Why ``entry`` needs approval, or ``""`` (the server decides; ``asked`` only adds)."""
        spec = keys.host_spec(entry.key)
        if entry.sensitive or (current is not None and current.sensitive):
            return "the key is sensitive"
        if spec is not None and spec.approval:
            return "the key is governed"
        return "approval was requested" if asked else ""

    async def prepare(
        self,
        entry: ConfigEntry,
        *,
        expected_version: int = 0,
        check_version: bool = False,
        rollback_of: int = 0,
    ) -> tuple[PendingChange, ConfigEntry | None]:
        """Validate ``entry`` against its data type, bounds and cross-field rules.

        Raises:
            ValidationError: ``MALFORMED_REQUEST`` for a value that does not pass.
            StateError: ``INVALID_STATE`` when ``check_version`` and the key moved on.
        """
        parsed = keys.check_value(entry.key, entry.value, entry.data_type)
        current = await self.store.get(entry.tenant_id, entry.key)
        latest = current.version if current is not None else 0
        if check_version and expected_version != latest:
            raise _stale(entry.key, expected_version, latest)
        sensitive = entry.sensitive or (current is not None and current.sensitive)
        spec = keys.host_spec(entry.key)
        sensitive = sensitive or (spec is not None and spec.sensitive)
        if entry.tenant_id == PLATFORM and spec is not None:
            keys.live_values(self._base, {**self._overrides, entry.key: parsed})
        change = PendingChange(replace(entry, sensitive=sensitive), latest, rollback_of)
        return change, current

    async def enact(self, change: PendingChange) -> ConfigEntry:
        """Write ``change`` and put it in force before returning.

        Raises:
            StateError: ``INVALID_STATE`` when the key changed since the change was decided.
        """
        entry = replace(change.entry, changed_at_ms=self._clock_ms())
        try:
            stored = await self.store.set(entry, expected_version=change.expected_version)
        except _Conflict as exc:
            raise _stale(entry.key, exc.expected, exc.actual) from None
        await self.sync()
        return stored

    async def target_of_rollback(self, tenant_id: str, key: str, version: int) -> ConfigEntry:
        """The stored version a rollback copies.

        Raises:
            ValidationError: ``NOT_FOUND`` for a version the key does not have.
        """
        target = await self.store.get(tenant_id, key, version) if version > 0 else None
        if target is None:
            raise ValidationError(
                "NOT_FOUND",
                f"Configuration key '{key}' has no version {version}.",
                details={"field": "target_version", "reason": "NOT_FOUND"},
            )
        return target

    # ------------------------------------------------------------------ the ordered path

    async def sync(self) -> None:
        """Absorb every change the store holds beyond the last one absorbed, in order."""
        async with self._sync_lock:
            while True:
                batch = await self.store.changes_since(self._revision, limit=PAGE)
                if not batch:
                    return
                for entry in batch:
                    await self._absorb(entry)
                    self._revision = max(self._revision, entry.revision)

    async def _absorb(self, entry: ConfigEntry) -> None:
        """(1) recompute Host values, (2) apply them, (3) tell subscribers."""
        if entry.tenant_id == PLATFORM and keys.host_spec(entry.key) is not None:
            self._take(entry)
        if not self._subscribers:
            return
        old = None  # NOTE: version 0 would mean "the latest" to the store
        if entry.version > 1:
            old = await self.store.get(entry.tenant_id, entry.key, entry.version - 1)
        event = ConfigChangeEvent(
            tenant_id=entry.tenant_id,
            key=entry.key,
            old_value=old.value if old is not None else "",
            new_value=entry.value,
            timestamp_ms=entry.changed_at_ms,
            changed_by=entry.changed_by,
            change_reason=entry.change_reason,
            version=entry.version,
            sensitive=entry.sensitive or (old is not None and old.sensitive),
        )
        for sub in list(self._subscribers):
            sub.offer(event)

    def _take(self, entry: ConfigEntry) -> None:
        try:
            parsed = keys.check_value(entry.key, entry.value, entry.data_type)
            values = keys.live_values(self._base, {**self._overrides, entry.key: parsed})
        except AespError as exc:  # written by another Host version or a direct store edit
            log.warning("ignoring stored %s version %d: %s", entry.key, entry.version, exc)
            return
        self._overrides[entry.key] = parsed
        if values != self._values:
            self._values = values
            self._targets.apply(values)  # (2): one reference swap per target


def _stale(key: str, expected: int, actual: int) -> StateError:
    return StateError(
        "INVALID_STATE",
        f"Configuration key '{key}' is at version {actual}, not {expected}: it changed "
        "meanwhile; read it again and retry.",
        details={"field": "expected_version", "actual_version": str(actual)},
    )


_MANAGERS: weakref.WeakKeyDictionary[Host, ConfigManager] = weakref.WeakKeyDictionary()


def live_config_of(host: Host) -> ConfigManager | None:
    """The manager :func:`start_live_config` started for ``host``; None before that."""
    return _MANAGERS.get(host)


async def start_live_config(
    host: Host,
    *,
    store: ConfigStore | None = None,
    gateway: RateTarget | None = None,
    approvals: ConfigApprovals | None = None,
) -> ConfigManager:
    """Start live configuration for a running Host (call once, after the Host started).

    Args:
        host: The Host; its pipeline and session manager receive live limits.
        store: The Config port; built from ``[profile]`` (port ``config``) when None.
        gateway: The gateway's :class:`~aesp.server.gateway.gate.Gate` (``running.gateway.gate``).
        approvals: The ``CONFIGURATION_KEY_V1`` approval workflow; None uses the Host's
            governance (:func:`aesp.core._live_approvals.govern_config`) when it has one.
    """
    if store is None:
        from aesp.core import plugins

        choice = host.config.profile.choice(["config"])
        registry = plugins.load_registry(set(choice.values()))
        built = await plugins.build_ports(registry, {"config": ConfigStore}, choice, host.config)
        store = built["config"]
    targets = HostTargets(limits=(host.pipeline, host.sessions), rates=gateway, mode=host)
    base = keys.LiveValues(
        host.config.limits,
        host.config.gateway,
        mode=host.config.mode,
        compliance=host.config.compliance,
    )
    if approvals is None and host.governance is not None:
        from aesp.core._live_approvals import govern_config

        approvals = govern_config(host.governance, lambda: live_config_of(host))
    manager = ConfigManager(store, base=base, targets=targets, approvals=approvals)
    await manager.start()
    _MANAGERS[host] = manager
    return manager


async def stop_live_config(host: Host) -> None:
    """Stop polling, end subscriptions (their streams finish cleanly) and close the store."""
    manager = _MANAGERS.pop(host, None)
    if manager is not None:
        await manager.stop()
        await manager.store.close()
