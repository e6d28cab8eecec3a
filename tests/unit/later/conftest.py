"""Fixtures for LATER tests: every test gets its own registry, never the process-wide one."""

from __future__ import annotations

import pytest

from aesp.later import Executor, ToolRegistry


@pytest.fixture
def registry() -> ToolRegistry:
    """A fresh, empty Global Tool Definition Registry."""
    return ToolRegistry()


@pytest.fixture
def executor(registry: ToolRegistry) -> Executor:
    """An executor over the test's registry."""
    return Executor(registry)
