"""Host configuration: validated once, every problem names its key."""

from __future__ import annotations

from pathlib import Path

import pytest

from aesp.core.config import HostConfig, load_config, parse_config
from aesp.core.errors import ConfigurationError


def test_defaults_are_strict_aesp() -> None:
    cfg = parse_config({}, base=Path("/srv"))
    assert cfg.mode == "STRICT" and cfg.compliance == "AESP"
    assert cfg.tls.ca == Path("/srv/pki/ca.pem")
    assert cfg.data_dir == Path("/srv/.aesp")


def test_relative_paths_resolve_against_the_file(tmp_path: Path) -> None:
    (tmp_path / "aesp.toml").write_text(
        '[host]\nmanifest_path = "m.json"\n[tls]\nca = "x/ca.pem"\n'
    )
    cfg = load_config(tmp_path / "aesp.toml")
    assert cfg.manifest_path == tmp_path / "m.json"
    assert cfg.tls.ca == tmp_path / "x/ca.pem"


def test_item_74_aesp_host_refuses_development_mode() -> None:
    with pytest.raises(ConfigurationError, match="DEVELOPMENT") as info:
        HostConfig(mode="DEVELOPMENT", compliance="AESP")
    assert info.value.code == "INCOMPATIBLE_MODE"
    assert info.value.remediation_steps


def test_grid_host_may_run_in_development_mode() -> None:
    assert HostConfig(mode="DEVELOPMENT", compliance="GRID").mode == "DEVELOPMENT"


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ({"host": {"mdoe": "STRICT"}}, "host.mdoe"),
        ({"limits": {"default_timeout_ms": "fast"}}, "limits.default_timeout_ms"),
        ({"limits": {"default_timeout_ms": -1}}, "default_timeout_ms"),
        ({"host": {"mode": "LAX"}}, "host.mode"),
        ({"host": {"client_listen": "nowhere"}}, "host.client_listen"),
        ({"sever": {}}, "sever"),
    ],
)
def test_invalid_settings_name_their_key(raw: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigurationError, match=key.replace(".", r"\.")) as info:
        parse_config(raw, base=Path("/srv"))
    assert info.value.code == "INVALID_CONFIG"


def test_missing_or_broken_file_is_invalid_config(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="does not exist"):
        load_config(tmp_path / "none.toml")
    (tmp_path / "bad.toml").write_text("[host\n")
    with pytest.raises(ConfigurationError, match="not valid TOML"):
        load_config(tmp_path / "bad.toml")


def test_nested_sections_are_not_settings_of_host() -> None:
    with pytest.raises(ConfigurationError, match="host.tls"):
        parse_config({"host": {"tls": {}}}, base=Path("/srv"))


def test_adapter_tables_are_kept_for_their_adapters() -> None:
    cfg = parse_config({"adapters": {"aws": {"region": "eu-west-1"}}}, base=Path("/tmp"))
    assert cfg.adapters == {"aws": {"region": "eu-west-1"}}


@pytest.mark.parametrize("raw", [{"adapters": "aws"}, {"adapters": {"aws": "eu-west-1"}}])
def test_adapters_must_hold_one_table_per_profile(raw: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError) as caught:
        parse_config(raw, base=Path("/tmp"))
    assert caught.value.code == "INVALID_CONFIG"
    assert "[adapters.aws]" in caught.value.message


def test_adapters_under_host_is_not_a_setting() -> None:
    with pytest.raises(ConfigurationError, match="host.adapters"):
        parse_config({"host": {"adapters": {}}}, base=Path("/tmp"))
