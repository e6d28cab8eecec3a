"""Host configuration: one TOML file, validated once at start-up (GRID F1 step 1).

Unknown keys are refused (a misspelt setting must not be silently ignored), every value is
type- and range-checked, and every problem names the key and says what is allowed.
Relative paths are resolved against the configuration file's folder.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from aesp.core.errors import ConfigurationError

MODES = ("STRICT", "DEVELOPMENT")
COMPLIANCE = ("AESP", "GRID")


@dataclass(frozen=True)
class TlsConfig:
    """Certificates of the Host (PEM files)."""

    ca: Path = Path("pki/ca.pem")
    cert: Path = Path("pki/host.pem")
    key: Path = Path("pki/host.key")


@dataclass(frozen=True)
class LimitsConfig:
    """Timeouts, TTLs and sizes; defaults from SPEC §2.10, §2.12, C-44, C-45."""

    default_timeout_ms: int = 30_000
    max_timeout_ms: int = 300_000
    default_session_ttl_seconds: int = 3_600
    max_session_ttl_seconds: int = 86_400
    max_message_bytes: int = 4 * 1024 * 1024
    heartbeat_interval_ms: int = 30_000
    missed_heartbeats: int = 3
    authorization_ttl_ms: int = 300_000
    correlation_timeout_ms: int = 600_000
    idempotency_window_ms: int = 300_000
    max_dynamic_tools_per_session: int = 50
    max_sessions: int = 100_000


@dataclass(frozen=True)
class BreakerConfig:
    """Per-Runtime circuit breaker (SPEC §2.10 Host defaults)."""

    failure_threshold: int = 10
    failure_window_ms: int = 300_000
    recovery_timeout_ms: int = 600_000
    success_threshold: int = 3


@dataclass(frozen=True)
class HostConfig:
    """Everything the Host needs to start.

    Attributes:
        mode: ``STRICT`` (manifest only) or ``DEVELOPMENT`` (RegisterTools allowed).
        compliance: ``AESP`` (Level 3; refuses DEVELOPMENT, item 74) or ``GRID`` (Level 2).
        manifest_path: JSON manifest of trusted contracts (required in STRICT mode).
        client_listen: ``host:port`` of the client-facing service.
        runtime_listen: ``host:port`` of the Runtime-facing service.
        data_dir: Where the Host keeps its files (the audit log).
        trust_domain: SPIFFE trust domain of certificate identities.
    """

    mode: str = "STRICT"
    compliance: str = "AESP"
    manifest_path: Path | None = None
    client_listen: str = "127.0.0.1:7443"
    runtime_listen: str = "127.0.0.1:7444"
    data_dir: Path = Path(".aesp")
    trust_domain: str = "aesp.local"
    tls: TlsConfig = field(default_factory=TlsConfig)
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    breaker: BreakerConfig = field(default_factory=BreakerConfig)

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            _bad("host.mode", f"must be one of {', '.join(MODES)}, not {self.mode!r}")
        if self.compliance not in COMPLIANCE:
            _bad("host.compliance", f"must be one of {', '.join(COMPLIANCE)}")
        if self.compliance == "AESP" and self.mode == "DEVELOPMENT":
            raise ConfigurationError(
                "INCOMPATIBLE_MODE",
                "An AESP Host cannot run in DEVELOPMENT mode: runtimes may never define tools "
                "in an enterprise deployment (SPEC checklist 74).",
                remediation_steps=(
                    'Set host.mode = "STRICT" and list the tools in the manifest, or',
                    'set host.compliance = "GRID" for a non-production development Host.',
                ),
            )
        for section in (self.limits, self.breaker):
            for f in fields(section):
                value = getattr(section, f.name)
                if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                    _bad(f"{type(section).__name__}.{f.name}", "must be a positive integer")
        if self.limits.default_timeout_ms > self.limits.max_timeout_ms:
            _bad("limits.default_timeout_ms", "must not exceed limits.max_timeout_ms")
        for key in ("client_listen", "runtime_listen"):
            host, sep, port = getattr(self, key).rpartition(":")
            if not sep or not host or not port.isdigit() or int(port) > 65535:
                _bad(f"host.{key}", "must look like '127.0.0.1:7443' (port 0 picks a free one)")


def _bad(key: str, why: str) -> None:
    raise ConfigurationError("INVALID_CONFIG", f"Configuration key '{key}' {why}.")


_SECTIONS: Mapping[str, type] = {"tls": TlsConfig, "limits": LimitsConfig, "breaker": BreakerConfig}


def _section(cls: type, raw: Any, name: str, base: Path) -> Any:
    if not isinstance(raw, dict):
        _bad(name, "must be a table")
    known = {f.name: f for f in fields(cls) if f.name not in _SECTIONS}
    kwargs: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in known:
            _bad(f"{name}.{key}", f"is not a setting; known settings: {', '.join(sorted(known))}")
        default = known[key].default
        if key in ("manifest_path", "data_dir") or isinstance(default, Path):
            if not isinstance(value, str) or not value:
                _bad(f"{name}.{key}", "must be a non-empty path string")
            p = Path(value)
            kwargs[key] = p if p.is_absolute() else base / p
        elif isinstance(default, int) and not isinstance(value, int | bool):
            _bad(f"{name}.{key}", "must be an integer")
        elif isinstance(default, str) and not isinstance(value, str):
            _bad(f"{name}.{key}", "must be a string")
        else:
            kwargs[key] = value
    return cls(**kwargs)


def parse_config(raw: Mapping[str, Any], *, base: Path) -> HostConfig:
    """Build a :class:`HostConfig` from parsed TOML.

    Raises:
        ConfigurationError: ``INVALID_CONFIG`` naming the key, or ``INCOMPATIBLE_MODE``.
    """
    unknown = set(raw) - {"host", *_SECTIONS}
    if unknown:
        _bad(sorted(unknown)[0], f"is not a section; sections: host, {', '.join(_SECTIONS)}")
    host = raw.get("host", {})
    cfg = _section(HostConfig, host, "host", base)
    if "data_dir" not in host:
        cfg = replace(cfg, data_dir=base / ".aesp")
    extra = {
        name: _section(cls, raw[name], name, base) for name, cls in _SECTIONS.items() if name in raw
    }
    if "tls" not in raw:
        extra["tls"] = TlsConfig(
            ca=base / "pki/ca.pem", cert=base / "pki/host.pem", key=base / "pki/host.key"
        )
    return replace(cfg, **extra)


def load_config(path: Path) -> HostConfig:
    """Read and validate a TOML configuration file.

    Raises:
        ConfigurationError: ``INVALID_CONFIG`` when the file is missing, not TOML, or invalid.
    """
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigurationError(
            "INVALID_CONFIG", f"The configuration file {path} does not exist."
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError("INVALID_CONFIG", f"{path} is not valid TOML: {exc}.") from None
    return parse_config(raw, base=path.resolve().parent)
