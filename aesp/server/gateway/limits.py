"""The gateway's rate limits: one token bucket per principal and one per tenant (item 208).

Why two buckets: the principal bucket stops one noisy client; the tenant bucket caps what all
of a tenant's principals together may ask of a shared Host, so one tenant cannot starve the
others (SPEC §3.14). Buckets live behind the State port, so Host replicas sharing a store share
the limits (DESIGN §10). A refusal says exactly when to retry: the bucket's own answer.
"""

from __future__ import annotations

from collections.abc import Callable

from aesp.core.errors import AuthorizationError
from aesp.core.ids import now_ms
from aesp.core.ports.state import BucketSpec, StateStore
from aesp.core.principal import Principal

__all__ = ["RateLimits"]


def _limited(whose: str, wait_ms: int, spec: BucketSpec) -> AuthorizationError:
    return AuthorizationError(
        "RATE_LIMIT_EXCEEDED",
        f"Too many requests {whose}; retry in {wait_ms} ms.",
        details={"limit": f"{spec.rate_per_s:g}/s, burst {spec.burst}"},
        retry_after_ms=wait_ms,  # item 107: non-zero, so retry_allowed is true
        remediation_steps=(
            f"Wait {wait_ms} ms before the next request.",
            f"Stay below {spec.rate_per_s:g} requests per second (bursts of {spec.burst}).",
        ),
    )


class RateLimits:
    """Takes one token per request from the caller's principal and tenant buckets.

    Args:
        state: Where buckets live.
        principal: Rate and burst of each principal.
        tenant: Rate and burst of each tenant (all its principals together).
        clock_ms: Unix milliseconds (tests pass a fake to make waits exact).
    """

    def __init__(
        self,
        state: StateStore,
        *,
        principal: BucketSpec,
        tenant: BucketSpec,
        clock_ms: Callable[[], int] = now_ms,
    ) -> None:
        self._state = state
        self._principal = principal
        self._tenant = tenant
        self._clock_ms = clock_ms

    def apply(self, *, principal: BucketSpec, tenant: BucketSpec) -> None:
        """Use new bucket specs from the next request on (live configuration, SPEC §3.15).

        Buckets keep their tokens; a lower burst caps them at the next refill.
        """
        self._principal, self._tenant = principal, tenant

    async def check(self, principal: Principal) -> None:
        """Admit one request of ``principal`` or refuse it.

        NOTE: the principal's token is taken before the tenant's is asked for, so a request
        refused by its tenant's bucket still used a token of its principal's. Refusing on the
        tenant first would instead let a principal's refused requests drain its tenant.

        Raises:
            AuthorizationError: ``RATE_LIMIT_EXCEEDED`` with ``retry_after_ms`` set.
            AespError: The State port's own failure (fail closed).
        """
        now = self._clock_ms()
        key = f"gateway:principal:{principal.principal_id}"
        wait = await self._state.take(key, self._principal, now_ms=now)
        if wait:
            raise _limited("from this principal", wait, self._principal)
        key = f"gateway:tenant:{principal.tenant_id}"
        wait = await self._state.take(key, self._tenant, now_ms=now)
        if wait:
            raise _limited(f"for tenant '{principal.tenant_id}'", wait, self._tenant)
