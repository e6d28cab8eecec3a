"""The SAML replay cache on the State port, so a replay is refused by every Host replica.

Why: an assertion is single-use (SPEC checklist, SAML bearer rules). A per-process cache only
stops a replay to the same process; a deployment with several replicas behind one load balancer
would accept the assertion once more on each of them. The State port's :meth:`claim` is atomic
across every Host sharing the store (DynamoDB on the aws profile; memory, one process, on the
local profile), so the first presentation wins everywhere.

The verifier calls :meth:`StateReplayCache.remember` from the worker thread it verifies in
(:class:`~aesp.server.gateway.verifiers.SamlFront`), so the claim is handed to the event loop
and awaited there. A store that cannot answer raises, and the verifier refuses the login (fail
closed).
"""

from __future__ import annotations

import asyncio
import math
import threading
from typing import Final

from aesp.core.ports.state import StateStore

__all__ = ["CLAIM_PREFIX", "StateReplayCache"]

CLAIM_PREFIX: Final = "saml-assertion|"  # claim keys of assertions, apart from other claims
CLAIM_TIMEOUT_S: Final = 5.0  # the verifier's thread waits at most this long for the store


class StateReplayCache:
    """An :class:`~aesp.identity.saml.AssertionReplayCache` on the State port.

    Args:
        state: The Host's State port.
        loop: The event loop the store is used on (the Host's).
    """

    def __init__(self, state: StateStore, loop: asyncio.AbstractEventLoop) -> None:
        self._state = state
        self._loop = loop

    def remember(self, key: str, expires_at: float, now: float) -> bool:
        """Claim ``key`` until ``expires_at`` (epoch seconds); False when it was claimed before.

        Raises:
            RuntimeError: Called on the event loop's own thread (it would wait on itself).
            Exception: Whatever the store raised (``SERVICE_UNAVAILABLE``), or a timeout.
        """
        if threading.get_ident() == getattr(self._loop, "_thread_id", None):
            raise RuntimeError("the replay cache must be called off the event loop's thread")
        now_ms = int(now * 1000)
        until_ms = max(math.ceil(expires_at * 1000), now_ms + 1)
        claim = self._state.claim(CLAIM_PREFIX + key, until_ms=until_ms, now_ms=now_ms)
        return asyncio.run_coroutine_threadsafe(claim, self._loop).result(CLAIM_TIMEOUT_S)
