"""Identifiers the Host generates (SPEC §2.9).

Correlation ids follow the recommended ``{component}-{unix_seconds}-{8 hex}`` form (checklist
106). Invocation, session and connection ids carry 128 random bits so they cannot be guessed:
they are capabilities (an invocation id authorises one governed local execution).
"""

from __future__ import annotations

import re
import secrets
import time

# A client-supplied correlation id is echoed unchanged when it is printable ASCII and short;
# anything else is replaced, so logs never carry control characters or unbounded strings.
MAX_CORRELATION_ID = 128  # bounds log and audit record size
_CORRELATION_OK = re.compile(r"^[\x21-\x7E]{1,128}$")


def now_ms() -> int:
    """Current Unix time in milliseconds (every protocol timestamp, C-31)."""
    return time.time_ns() // 1_000_000


def correlation_id(component: str = "host") -> str:
    """A new correlation id, e.g. ``host-1691568000-a7b9c3d2``."""
    return f"{component}-{int(time.time())}-{secrets.token_hex(4)}"


def accept_correlation_id(candidate: str) -> str:
    """Echo a caller's correlation id if it is well-formed, else generate one (C-8, item 105)."""
    if candidate and _CORRELATION_OK.match(candidate):
        return candidate
    return correlation_id()


def invocation_id() -> str:
    """A fresh, unguessable invocation id (item 91)."""
    return f"inv-{secrets.token_hex(16)}"


def session_id() -> str:
    """A fresh, unguessable session id."""
    return f"sess-{secrets.token_hex(16)}"


def connection_id() -> str:
    """A fresh Runtime connection id."""
    return f"conn-{secrets.token_hex(16)}"
