"""Plugin loading and the adapter registry (DESIGN §6, STYLE conventions 4-7)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from aesp.core.config import HostConfig, ProfileConfig
from aesp.core.errors import ConfigurationError
from aesp.core.host import build_control_ports
from aesp.core.plugins import build_ports, check_required, installed_profiles, load_registry
from aesp.core.ports.audit import AuditIndex
from aesp.core.ports.cost import CostLedger
from aesp.core.ports.identity import IdentityStore
from aesp.core.ports.policy import PolicyStore
from aesp.core.ports.rbac import RoleStore
from aesp.core.ports.state import StateStore
from aesp.core.ports.tenancy import TenantRegistry
from aesp.core.registry import AdapterRegistry
from aesp.hookspecs import hookimpl
from aesp.testing.inmemory import InMemoryTenantRegistry

REQUIRED = {"tenancy": TenantRegistry}


class FakeProfile:
    """A plugin object registering an in-memory tenancy port under profile 'fake'."""

    @hookimpl
    def aesp_register_adapters(self, registry: AdapterRegistry) -> None:
        registry.add(
            port=TenantRegistry,
            profile="fake",
            factory=lambda _c: InMemoryTenantRegistry(),
            distribution="aesp-fake",
        )


def test_hook_aesp_register_adapters_collects_factories() -> None:
    registry = load_registry([], plugins=[FakeProfile()])
    assert registry.find(TenantRegistry, "fake") is not None


def test_local_profile_is_installed_and_loads_by_name() -> None:
    assert "local" in installed_profiles()
    registry = load_registry(["local"])
    entry = registry.find(TenantRegistry, "local")
    assert entry is not None and entry.distribution == "aesp-local"


def test_unknown_profile_names_the_distribution_to_install() -> None:
    with pytest.raises(
        ConfigurationError, match=r"Profile 'gcp' is not installed; install aesp-gcp"
    ) as info:
        load_registry(["gcp"])
    assert info.value.code == "INVALID_CONFIG"


def test_a_profile_missing_a_required_port_stops_startup_naming_it() -> None:
    registry = AdapterRegistry()
    with pytest.raises(
        ConfigurationError, match=r"tenancy \(profile 'aws', provided by aesp-aws\)"
    ):
        check_required(registry, REQUIRED, {"tenancy": "aws"})


def test_a_second_registration_names_both_distributions() -> None:
    registry = AdapterRegistry()
    registry.add(port=TenantRegistry, profile="x", factory=lambda _c: None, distribution="aesp-one")
    with pytest.raises(ValueError, match="aesp-one and by aesp-two"):
        registry.add(
            port=TenantRegistry, profile="x", factory=lambda _c: None, distribution="aesp-two"
        )


async def test_a_factory_product_must_implement_the_port() -> None:
    registry = AdapterRegistry()
    registry.add(
        port=TenantRegistry, profile="x", factory=lambda _c: object(), distribution="aesp-bad"
    )
    with pytest.raises(TypeError, match="does not implement that port"):
        await registry.build(TenantRegistry, "x", None)


def test_a_misspelt_hookimpl_fails_at_startup() -> None:
    class Misspelt:
        @hookimpl
        def aesp_register_adaptors(self, registry: Any) -> None:  # sic
            pass

    with pytest.raises(Exception, match="unknown hook"):
        load_registry([], plugins=[Misspelt()])


async def test_build_ports_from_the_local_profile(tmp_path: Path) -> None:
    registry = load_registry(["local"])
    ports = await build_ports(
        registry, REQUIRED, {"tenancy": "local"}, HostConfig(data_dir=tmp_path)
    )
    assert isinstance(ports["tenancy"], TenantRegistry)
    await ports["tenancy"].close()
    assert (tmp_path / "tenants.sqlite3").is_file()


async def test_the_host_builds_every_control_port_from_its_profile(tmp_path: Path) -> None:
    ports = await build_control_ports(HostConfig(data_dir=tmp_path))
    try:
        assert isinstance(ports.identity, IdentityStore)
        assert isinstance(ports.roles, RoleStore)
        assert isinstance(ports.policies, PolicyStore)
        assert isinstance(ports.state, StateStore)
        assert isinstance(ports.cost, CostLedger)
        assert isinstance(ports.audit_index, AuditIndex)
    finally:
        for port in (ports.identity, ports.roles, ports.policies, ports.tenants, ports.state):
            await port.close()
        await ports.cost.close()
        if ports.audit_index is not None:
            await ports.audit_index.close()
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [
        "audit_index.sqlite3",
        "cost.sqlite3",
        "identity.sqlite3",
        "policies.sqlite3",
        "roles.sqlite3",
        "tenants.sqlite3",
    ]


@pytest.mark.parametrize(
    ("profile", "message"),
    [
        (
            ProfileConfig(default="azure"),
            r"Profile 'azure' is not installed; install aesp-azure \(installed profiles: aws, local\)",
        ),
        (
            ProfileConfig(default="local", state="memory"),
            r"Profile 'memory' is not installed; install aesp-memory ",
        ),
    ],
)
async def test_an_unknown_profile_stops_the_host_with_one_line(
    tmp_path: Path, profile: ProfileConfig, message: str
) -> None:
    config = HostConfig(data_dir=tmp_path, profile=profile)
    with pytest.raises(ConfigurationError, match=message) as info:
        await build_control_ports(config)
    assert "\n" not in info.value.message
    assert info.value.code == "INVALID_CONFIG"


async def test_the_local_profile_realises_every_port(tmp_path: Path) -> None:
    """aesp-local is the embedded default: every port of DESIGN §5 on SQLite or memory."""
    import aesp.core.ports as ports_module

    registry = load_registry(["local"])
    config = HostConfig(data_dir=tmp_path)
    for name in ports_module.__all__:
        port = getattr(ports_module, name)
        if name in ("AuditLog", "AuditQuery"):
            continue  # AuditLog is the core's durable buffer; AuditIndex realises AuditQuery
        if name in ("AuditSink", "AuditArchive", "CheckpointSigner"):
            continue  # optional copies of the log outside the Host: none on one machine
        if name in ("SessionRecord", "RuntimeRecord", "AuditSegment"):
            continue  # data crossing a port, not a port
        built = await registry.build(port, "local", config)
        try:
            assert isinstance(built, port), name
        finally:
            await built.close()
