"""The error-code registry of C-14 and its retry rules (items 87, 107, 108)."""

from __future__ import annotations

import pytest

from aesp.core.errors import ALIASES, REGISTRY, AespError, canonical_code


@pytest.mark.parametrize(
    "code", ["PERMISSION_DENIED", "SCHEMA_VIOLATION", "UNSUPPORTED_TOOL", "INVALID_SESSION"]
)
def test_item_108_caller_errors_are_not_retryable(code: str) -> None:
    assert AespError(code, "x").retry_allowed is False


def test_item_107_rate_limit_is_retryable() -> None:
    assert AespError("RATE_LIMIT_EXCEEDED", "slow down", retry_after_ms=250).retry_allowed


def test_aliases_resolve_and_are_never_emitted() -> None:
    for alias, canonical in ALIASES.items():
        assert canonical in REGISTRY
        assert alias not in REGISTRY
        assert AespError(alias, "x").code == canonical
    assert canonical_code("SESSION_INVALID") == "INVALID_SESSION"


def test_unknown_code_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown error code"):
        AespError("NOT_A_CODE", "x")
