"""Governed local dispatch: authorisations that are single-use, expiring and argument-bound.

An :class:`~aesp.core.messages.Authorization` lets the caller execute one call itself
(SPEC §2.12, F6). It is bound to the session, the principal, the call id, the function name and
the SHA-256 of the canonical arguments; it may be used to execute until ``expires_at_ms``
(``authorization_ttl_ms``) and its result must be logged before ``log_deadline_ms``
(``correlation_timeout_ms``). Logging consumes it: a second log is a replay (item 121).
"""

from __future__ import annotations

from aesp.core import ids
from aesp.core.errors import StateError
from aesp.core.messages import Authorization

MAX_OUTSTANDING = 100_000  # bounds memory; SPEC §2.12 max_concurrent_authorizations is 10000


class AuthorizationStore:
    """Outstanding authorisations of this Host, by invocation id."""

    def __init__(self) -> None:
        self._by_id: dict[str, Authorization] = {}

    def __len__(self) -> int:
        return len(self._by_id)

    def add(self, auth: Authorization) -> None:
        """Keep ``auth`` until it is consumed or its log deadline passes.

        Raises:
            StateError: ``RESOURCE_EXHAUSTED``-like refusal when too many are outstanding.
        """
        if len(self._by_id) >= MAX_OUTSTANDING:
            self.sweep()
        if len(self._by_id) >= MAX_OUTSTANDING:
            raise StateError(
                "INVALID_STATE",
                "Too many governed local authorisations are outstanding; log their results first.",
            )
        self._by_id[auth.invocation_id] = auth

    def consume(self, invocation_id: str) -> Authorization | None:
        """Remove and return the authorisation, or None if unknown, used or revoked."""
        return self._by_id.pop(invocation_id, None)

    def revoke_session(self, session_id: str) -> int:
        """Revoke every authorisation of a destroyed session (C-46); return how many."""
        doomed = [k for k, a in self._by_id.items() if a.session_id == session_id]
        for key in doomed:
            del self._by_id[key]
        return len(doomed)

    def sweep(self) -> int:
        """Drop authorisations past their log deadline; return how many."""
        now = ids.now_ms()
        doomed = [k for k, a in self._by_id.items() if a.log_deadline_ms <= now]
        for key in doomed:
            del self._by_id[key]
        return len(doomed)
