"""``host.mode`` applied live: a GRID Host switches mode; an AESP Host never leaves STRICT."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from aesp.core._live_apply import HostTargets
from aesp.core._live_keys import LiveValues, check_value
from aesp.core.audit import MemoryAuditLog
from aesp.core.config import GatewayConfig, HostConfig, LimitsConfig
from aesp.core.errors import AespError
from aesp.core.host import build_host
from aesp.core.live_config import ConfigManager
from aesp.core.ports.config import ConfigDataType, ConfigEntry
from aesp.testing.inmemory.config import InMemoryConfigStore


@dataclass
class ModeRecorder:
    """A Host stand-in that records the modes it was switched to."""

    modes: list[str] = field(default_factory=list)

    def apply_mode(self, mode: str) -> None:
        self.modes.append(mode)


def manager(compliance: str) -> tuple[ConfigManager, ModeRecorder]:
    rec = ModeRecorder()
    base = LiveValues(LimitsConfig(), GatewayConfig(), mode="STRICT", compliance=compliance)
    return ConfigManager(InMemoryConfigStore(), base=base, targets=HostTargets(mode=rec)), rec


async def set_mode(m: ConfigManager, value: str) -> None:
    entry = ConfigEntry("", "host.mode", value, ConfigDataType.STRING, changed_by="op")
    change, _ = await m.prepare(entry)
    await m.enact(change)


async def test_a_grid_host_switches_mode_live_and_back() -> None:
    m, rec = manager("GRID")
    await set_mode(m, "DEVELOPMENT")
    await set_mode(m, "STRICT")
    assert rec.modes[-2:] == ["DEVELOPMENT", "STRICT"]


async def test_item_74_an_aesp_host_refuses_development_mode() -> None:
    m, rec = manager("AESP")
    with pytest.raises(AespError) as info:
        await set_mode(m, "DEVELOPMENT")
    assert info.value.code == "INCOMPATIBLE_MODE"
    assert "DEVELOPMENT" not in rec.modes


@pytest.mark.parametrize("value", ["strict", "LAX", ""])
def test_only_the_two_modes_are_values(value: str) -> None:
    with pytest.raises(AespError, match="must be one of STRICT, DEVELOPMENT"):
        check_value("host.mode", value, ConfigDataType.STRING)


async def test_the_host_applies_the_mode_to_its_configuration(tmp_path: Path) -> None:
    config = HostConfig(mode="DEVELOPMENT", compliance="GRID", data_dir=tmp_path)
    host = await build_host(config, audit=MemoryAuditLog())
    try:
        host.apply_mode("STRICT")
        assert host.config.mode == "STRICT"
        host.apply_mode("DEVELOPMENT")
        assert host.config.mode == "DEVELOPMENT"
    finally:
        await host.stop()
