"""The ``local`` profile's plugin: registers the SQLite realisations of the ports."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aesp.core.ports.tenancy import TenantRegistry
from aesp.core.registry import AdapterRegistry
from aesp.hookspecs import hookimpl
from aesp_local.tenancy import SqliteTenantRegistry

DISTRIBUTION = "aesp-local"


def _tenancy(config: Any) -> SqliteTenantRegistry:
    return SqliteTenantRegistry(Path(config.data_dir) / "tenants.sqlite3")


@hookimpl
def aesp_register_adapters(registry: AdapterRegistry) -> None:
    """Register every port this distribution realises for the ``local`` profile."""
    registry.add(port=TenantRegistry, profile="local", factory=_tenancy, distribution=DISTRIBUTION)
