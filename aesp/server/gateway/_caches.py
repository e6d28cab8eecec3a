"""Bounded caches of credentials already verified, keyed by a digest, never the secret.

Why: a client sends its credential with every RPC. Verifying an LDAP password means a network
bind, and auditing every verification would write an ``AUTHENTICATION_SUCCESS`` event per call.
A hit here means "this exact credential was verified a moment ago"; the gateway then skips the
expensive part and does not audit again (SPEC checklist 149 asks for the event per
authentication, not per request).

Keys are HMAC-SHA-256 digests under a random key made when the process starts: a memory dump
shows neither the credentials nor hashes that could be tested offline against guessed passwords.
Used only from the event loop's thread, so no lock is needed.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

V = TypeVar("V")

_PROCESS_KEY = secrets.token_bytes(32)


def credential_digest(kind: str, *parts: str) -> bytes:
    """A process-local digest of a credential (``kind`` separates e.g. API keys from binds)."""
    mac = hmac.new(_PROCESS_KEY, kind.encode(), hashlib.sha256)
    for part in parts:
        data = part.encode("utf-8", "surrogatepass")
        mac.update(len(data).to_bytes(8, "big") + data)  # length-prefixed: no ambiguity
    return mac.digest()


class VerifiedCache(Generic[V]):
    """An LRU of at most ``max_entries`` values, each living at most ``ttl_s`` seconds.

    Args:
        max_entries: Capacity; 0 disables the cache.
        ttl_s: Lifetime of an entry; 0 disables the cache.
        clock: Monotonic seconds.
    """

    def __init__(
        self, max_entries: int, ttl_s: float, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._max = max_entries if ttl_s > 0 else 0
        self._ttl_s = ttl_s
        self._clock = clock
        self._entries: OrderedDict[bytes, tuple[float, V]] = OrderedDict()

    def get(self, key: bytes) -> V | None:
        """The value stored under ``key`` if it has not expired, else None."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        if self._clock() >= entry[0]:
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return entry[1]

    def put(self, key: bytes, value: V) -> None:
        """Remember ``value`` for the cache's lifetime, evicting the least recently used."""
        if not self._max:
            return
        self._entries[key] = (self._clock() + self._ttl_s, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)
