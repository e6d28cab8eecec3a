"""Putting effective configuration into the running Host: no restart, no dropped call.

Why reference swaps: each target holds its settings in one frozen object (``LimitsConfig``,
two ``BucketSpec``). Replacing that reference is atomic on the event loop, so a call that read
the old object finishes with it and the next read sees the new one; nothing is paused, drained
or rebuilt. Targets are optional because a Host may run without a gateway (tests, embedded use).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from aesp.core._live_keys import LiveValues
from aesp.core.config import LimitsConfig
from aesp.core.ports.state import BucketSpec

__all__ = ["HostTargets", "LimitsTarget", "ModeTarget", "RateTarget"]


class LimitsTarget(Protocol):
    """Something that reads ``LimitsConfig`` per call (the pipeline, the session manager)."""

    def apply_limits(self, limits: LimitsConfig) -> None:
        """Use ``limits`` from the next read on."""
        ...


class RateTarget(Protocol):
    """The gateway's rate limits (:class:`aesp.server.gateway.gate.Gate`)."""

    def apply_rate_limits(self, *, principal: BucketSpec, tenant: BucketSpec) -> None:
        """Use these buckets' rate and burst from the next request on."""
        ...


class ModeTarget(Protocol):
    """The Host's operating mode (read when a Runtime registers tools, GRID F5)."""

    def apply_mode(self, mode: str) -> None:
        """Use ``mode`` from the next registration on."""
        ...


@dataclass(frozen=True, slots=True)
class HostTargets:
    """Where live values go.

    Attributes:
        limits: Readers of ``LimitsConfig`` (pipeline, sessions).
        rates: The gateway, when the Host serves one.
    """

    limits: tuple[LimitsTarget, ...] = ()
    rates: RateTarget | None = None
    mode: ModeTarget | None = None

    def apply(self, values: LiveValues) -> None:
        """Swap every target's settings for ``values``."""
        for target in self.limits:
            target.apply_limits(values.limits)
        if self.mode is not None:
            self.mode.apply_mode(values.mode)
        if self.rates is not None:
            gw = values.gateway
            self.rates.apply_rate_limits(
                principal=BucketSpec(gw.principal_rate_per_s, gw.principal_burst),
                tenant=BucketSpec(gw.tenant_rate_per_s, gw.tenant_burst),
            )
