"""Change events and the subscriptions that receive them (``SubscribeToChanges``, SPEC §3.15).

Why a bounded queue per subscriber that is closed when full: a subscriber that stops reading
(a stalled client) must never hold back the poller that applies configuration to the running
Host, nor make it buffer without limit. A subscriber that falls :data:`QUEUE_LIMIT` events
behind is ended with a refusal naming why; it re-subscribes and reads the history it missed.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from aesp.core.errors import AespError, StateError

__all__ = ["MASK", "ConfigChangeEvent", "Subscription", "mask"]

MASK: Final = "***"  # what a masked value reads as (SPEC §3.15)
QUEUE_LIMIT: Final = 1_000  # events a subscriber may fall behind before it is ended


def mask(value: str, *, sensitive: bool, reveal: bool) -> str:
    """``value``, or :data:`MASK` when it is sensitive and the reader may not see it."""
    return MASK if sensitive and not reveal else value


@dataclass(frozen=True, slots=True)
class ConfigChangeEvent:
    """One applied change (SPEC §3.7(6) ``ConfigChangeEvent``), values unmasked.

    Attributes:
        tenant_id: Owning tenant; ``""`` for a platform (or Host) key.
        key: The key.
        old_value: Value before the change; ``""`` for a new key.
        new_value: Value after the change.
        timestamp_ms: When it was applied.
        changed_by: Principal that made it.
        change_reason: Its justification.
        version: Version it created.
        sensitive: Whether readers without read-sensitive permission see :data:`MASK`.
    """

    tenant_id: str
    key: str
    old_value: str
    new_value: str
    timestamp_ms: int
    changed_by: str
    change_reason: str
    version: int
    sensitive: bool = False

    def masked(self, *, reveal: bool) -> ConfigChangeEvent:
        """This event as a reader with (``reveal``) or without read-sensitive permission sees it."""
        if not self.sensitive or reveal:
            return self
        return dataclasses.replace(self, old_value=MASK, new_value=MASK)


class Subscription:
    """An async iterator of the changes one subscriber may see.

    Args:
        tenant_scope: ``"*"`` for every tenant; else this tenant's and the platform's keys.
        patterns: Keys to watch; an entry ending in ``*`` is a prefix; empty = every key.
        reveal: The subscriber holds the read-sensitive permission.
        on_close: Called once when the subscription ends (the manager forgets it).
    """

    def __init__(
        self,
        *,
        tenant_scope: str,
        patterns: tuple[str, ...],
        reveal: bool,
        on_close: Callable[[Subscription], None],
    ) -> None:
        self.tenant_scope = tenant_scope
        self.patterns = patterns
        self.reveal = reveal
        self._on_close = on_close
        self._queue: asyncio.Queue[ConfigChangeEvent | AespError | None] = asyncio.Queue()
        self._closed = False

    def wants(self, event: ConfigChangeEvent) -> bool:
        """Whether ``event`` is in this subscriber's tenant scope and key patterns."""
        scoped = self.tenant_scope == "*" or event.tenant_id in ("", self.tenant_scope)
        if not scoped:
            return False
        if not self.patterns:
            return True
        return any(
            event.key.startswith(p[:-1]) if p.endswith("*") else event.key == p
            for p in self.patterns
        )

    def offer(self, event: ConfigChangeEvent) -> None:
        """Queue ``event`` if wanted; end a subscriber that fell too far behind."""
        if self._closed or not self.wants(event):
            return
        if self._queue.qsize() >= QUEUE_LIMIT:
            self.close(
                StateError(
                    "RESOURCE_EXHAUSTED",
                    f"The subscriber fell {QUEUE_LIMIT} changes behind and was ended; "
                    "subscribe again and read GetConfigHistory for what it missed.",
                    retry_after_ms=1_000,
                )
            )
            return
        self._queue.put_nowait(event.masked(reveal=self.reveal))

    def close(self, error: AespError | None = None) -> None:
        """End the subscription: the iterator raises ``error``, or stops when None."""
        if self._closed:
            return
        self._closed = True
        self._queue.put_nowait(error)
        self._on_close(self)

    @property
    def closed(self) -> bool:
        """Whether the subscription has ended."""
        return self._closed

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> ConfigChangeEvent:
        item = await self._queue.get()
        if item is None:
            raise StopAsyncIteration
        if isinstance(item, AespError):
            raise item
        return item
