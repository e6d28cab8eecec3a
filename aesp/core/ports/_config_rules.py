"""The refusal rules of the Config port, as pure code every realisation calls, so a ``set`` one
cloud refuses is refused on every cloud with the same sentence."""

from __future__ import annotations


def check_expected_version(expected_version: int) -> None:
    """Refuse a negative expected version (no key is ever at one).

    Raises:
        ValueError: ``expected_version`` is negative.
    """
    if expected_version < 0:
        raise ValueError(f"expected_version must be 0 (a new key) or more, not {expected_version}")


def describe(tenant_id: str, key: str) -> str:
    """How errors name a key: the platform's keys are not any tenant's."""
    return f"config key {key!r} of " + (f"tenant {tenant_id!r}" if tenant_id else "the platform")
