"""Identifiers the Host generates (SPEC §2.9).

Correlation ids follow the recommended ``{component}-{unix_seconds}-{8 hex}`` form (checklist
106). Invocation, session and connection ids carry 128 random bits so they cannot be guessed:
they are capabilities (an invocation id authorises one governed local execution).
"""

from __future__ import annotations

import os
import re
import threading
import time

# A client-supplied correlation id is echoed unchanged when it is printable ASCII and short;
# anything else is replaced, so logs never carry control characters or unbounded strings.
MAX_CORRELATION_ID = 128  # bounds log and audit record size
_CORRELATION_OK = re.compile(r"^[\x21-\x7E]{1,128}$")


class _RandomPool:
    """Bytes from the operating system's CSPRNG, read 4 KiB at a time.

    One ``os.urandom`` per id costs a system call on every call the Host serves (and, with other
    threads running, a GIL hand-off around it). Reading ahead and slicing gives the same bytes
    the kernel would have given, so ids stay exactly as unguessable; the buffer is dropped in a
    forked child so parent and child never share ids.
    """

    CHUNK = 4096

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._buffer = b""
        self._offset = 0
        os.register_at_fork(after_in_child=self._forget)

    def _forget(self) -> None:
        self._buffer, self._offset = b"", 0

    def hex(self, nbytes: int) -> str:
        """``nbytes`` random bytes as lowercase hex (like ``secrets.token_hex``)."""
        with self._lock:
            end = self._offset + nbytes
            if end > len(self._buffer):
                self._buffer, self._offset, end = os.urandom(self.CHUNK), 0, nbytes
            chunk = self._buffer[self._offset : end]
            self._offset = end
        return chunk.hex()


_POOL = _RandomPool()


def now_ms() -> int:
    """Current Unix time in milliseconds (every protocol timestamp, C-31)."""
    return time.time_ns() // 1_000_000


def correlation_id(component: str = "host") -> str:
    """A new correlation id, e.g. ``host-1691568000-a7b9c3d2``."""
    return f"{component}-{int(time.time())}-{_POOL.hex(4)}"


def accept_correlation_id(candidate: str) -> str:
    """Echo a caller's correlation id if it is well-formed, else generate one (C-8, item 105)."""
    if candidate and _CORRELATION_OK.match(candidate):
        return candidate
    return correlation_id()


def invocation_id() -> str:
    """A fresh, unguessable invocation id (item 91)."""
    return f"inv-{_POOL.hex(16)}"


def session_id() -> str:
    """A fresh, unguessable session id."""
    return f"sess-{_POOL.hex(16)}"


def connection_id() -> str:
    """A fresh Runtime connection id."""
    return f"conn-{_POOL.hex(16)}"
