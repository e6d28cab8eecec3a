"""The registry of dynamic configuration keys and the checks a value must pass (SPEC §3.15).

Why a registry: ``SetConfigValue`` takes any key and any text, but a Host key such as
``limits.default_timeout_ms`` steers every governed call, so the *server* fixes its data type,
its bounds, whether it is sensitive and whether it needs approval (SPEC §3.15: "the server
decides"). Keys under :data:`APP_PREFIX` are free-form tenant keys of any data type, checked
only against the type the caller names. Every other key is refused, so a typo
(``limit.default_timeout_ms``) fails loudly instead of being stored and never read.

Breaker keys are deliberately absent: the circuit breakers are built once per Runtime from
``HostConfig.breaker`` and nothing in them can be swapped without restarting the breakers, so a
stored value would claim an effect it does not have (docs/protocol-decisions.md).
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from aesp.core.config import MODES, GatewayConfig, LimitsConfig
from aesp.core.errors import AespError, ConfigurationError, ValidationError
from aesp.core.ports.config import ConfigDataType

__all__ = [
    "APP_PREFIX",
    "HOST_KEYS",
    "POLL_KEY",
    "KeySpec",
    "LiveValues",
    "check_key",
    "check_value",
    "host_spec",
    "is_app_key",
    "live_values",
    "parse_value",
]

APP_PREFIX: Final = "app."  # free-form tenant keys
MODE_KEY: Final = "host.mode"  # GRID operating mode; an AESP Host refuses DEVELOPMENT (item 74)
POLL_KEY: Final = "config.poll_interval_ms"  # how often replicas look for each other's changes
MAX_KEY_CHARS: Final = 256  # bounds what a key costs in every store, event and audit record
MAX_VALUE_CHARS: Final = 64 * 1024  # a configuration value is not a document store
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
DAY_MS: Final = 86_400_000


@dataclass(frozen=True, slots=True)
class KeySpec:
    """What the server knows about one Host key.

    Attributes:
        key: The key (``section.field``).
        data_type: The only data type it accepts.
        minimum: Least accepted value (numbers).
        maximum: Greatest accepted value (numbers).
        sensitive: Masked on read; every change needs approval (V3 §6.2).
        approval: Every change needs governance approval even when not sensitive.
        doc: One line for ``aesp config list`` readers.
    """

    key: str
    data_type: ConfigDataType
    minimum: float
    maximum: float
    sensitive: bool = False
    approval: bool = False
    doc: str = ""
    choices: tuple[str, ...] = ()


def _int(key: str, low: int, high: int, doc: str) -> KeySpec:
    return KeySpec(key, ConfigDataType.INTEGER, low, high, doc=doc)


def _rate(key: str, doc: str) -> KeySpec:
    # No FLOAT data type exists (SPEC §3.7(6)); a JSON number carries "0.5" exactly.
    return KeySpec(key, ConfigDataType.JSON, 0.001, 1_000_000.0, doc=doc)


HOST_KEYS: Final[Mapping[str, KeySpec]] = {
    spec.key: spec
    for spec in (
        _int("limits.default_timeout_ms", 1, DAY_MS, "timeout of a call that names none"),
        _int("limits.max_timeout_ms", 1, DAY_MS, "cap on a call's own timeout"),
        _int("limits.default_session_ttl_seconds", 1, 30 * 86_400, "TTL of a new session"),
        _int("limits.max_session_ttl_seconds", 1, 30 * 86_400, "cap on a session's TTL"),
        _int("limits.authorization_ttl_ms", 1_000, DAY_MS, "life of a local-dispatch grant"),
        _rate("gateway.principal_rate_per_s", "requests/s each principal may sustain"),
        _int("gateway.principal_burst", 1, 10_000_000, "requests a principal may make at once"),
        _rate("gateway.tenant_rate_per_s", "requests/s one tenant may sustain"),
        _int("gateway.tenant_burst", 1, 10_000_000, "requests a tenant may make at once"),
        _int(POLL_KEY, 100, 3_600_000, "how often this Host reads other replicas' changes"),
        KeySpec(
            MODE_KEY,
            ConfigDataType.STRING,
            0,
            0,
            doc="STRICT or DEVELOPMENT (a GRID Host; an AESP Host is always STRICT)",
            choices=MODES,
        ),
    )
}
DEFAULT_POLL_MS: Final = 1_000  # without a stored value: a replica's change lands within ~1 s


def host_spec(key: str) -> KeySpec | None:
    """The spec of a Host key, or None (an ``app.*`` key or an unknown one)."""
    return HOST_KEYS.get(key)


def is_app_key(key: str) -> bool:
    """Whether ``key`` is a free-form tenant key (``app.<name>``)."""
    return key.startswith(APP_PREFIX) and len(key) > len(APP_PREFIX)


def _bad(key: str, why: str) -> ValidationError:
    return ValidationError(
        "MALFORMED_REQUEST",
        f"Configuration key '{key[:MAX_KEY_CHARS]}': {why}.",
        details={"field": "value", "key": key[:MAX_KEY_CHARS]},
    )


def check_key(key: str) -> None:
    """Refuse a key that is neither a registered Host key nor an ``app.*`` key.

    Raises:
        ValidationError: ``MALFORMED_REQUEST`` naming what is accepted.
    """
    if not key or len(key) > MAX_KEY_CHARS or not key.isprintable() or " " in key:
        raise _bad(key, f"a key is 1-{MAX_KEY_CHARS} printable characters without spaces")
    if key not in HOST_KEYS and not is_app_key(key):
        raise ValidationError(
            "MALFORMED_REQUEST",
            f"'{key}' is not a configuration key of this Host; use a registered Host key "
            f"({', '.join(sorted(HOST_KEYS))}) or a tenant key under '{APP_PREFIX}'.",
            details={"field": "key"},
        )


def parse_value(key: str, value: str, data_type: ConfigDataType) -> Any:
    """``value`` read as ``data_type`` (SPEC §3.15: INTEGER parses as int64, BOOLEAN is
    ``true``/``false``, JSON parses).

    Raises:
        ValidationError: ``MALFORMED_REQUEST`` saying why it does not parse.
    """
    if len(value) > MAX_VALUE_CHARS:
        raise _bad(key, f"a value is at most {MAX_VALUE_CHARS} characters")
    if data_type is ConfigDataType.INTEGER:
        text = value.strip()
        if not text or not text.lstrip("-").isdigit() or text != value:
            raise _bad(key, f"'{value[:64]}' is not an integer")
        number = int(text)
        if not INT64_MIN <= number <= INT64_MAX:
            raise _bad(key, "the value does not fit a signed 64-bit integer")
        return number
    if data_type is ConfigDataType.BOOLEAN:
        if value not in ("true", "false"):
            raise _bad(key, "a BOOLEAN is exactly 'true' or 'false'")
        return value == "true"
    if data_type is ConfigDataType.JSON:
        try:
            return json.loads(value, parse_constant=_no_constant)
        except ValueError as exc:
            raise _bad(key, f"the value is not JSON ({exc})") from None
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def check_value(key: str, value: str, data_type: ConfigDataType) -> Any:
    """Parse ``value`` and, for a Host key, enforce its data type and bounds.

    Raises:
        ValidationError: ``MALFORMED_REQUEST`` for an unknown key, a wrong data type, a value
            that does not parse, or one out of bounds.
    """
    check_key(key)
    spec = HOST_KEYS.get(key)
    if spec is not None and data_type is not spec.data_type:
        raise _bad(key, f"its data type is {spec.data_type.value}, not {data_type.value}")
    parsed = parse_value(key, value, data_type)
    if spec is None:
        return parsed
    if spec.choices:
        if parsed not in spec.choices:
            raise _bad(key, f"the value must be one of {', '.join(spec.choices)}")
        return parsed
    if isinstance(parsed, bool) or not isinstance(parsed, int | float):
        raise _bad(key, "the value must be a number")
    if not math.isfinite(parsed) or not spec.minimum <= parsed <= spec.maximum:
        raise _bad(key, f"the value must lie in [{spec.minimum:g}, {spec.maximum:g}]")
    return parsed


@dataclass(frozen=True, slots=True)
class LiveValues:
    """The Host's effective dynamic settings: the file's values overridden by stored ones."""

    limits: LimitsConfig
    gateway: GatewayConfig
    poll_interval_ms: int = DEFAULT_POLL_MS
    mode: str = "STRICT"
    compliance: str = "AESP"


def live_values(base: LiveValues, overrides: Mapping[str, Any]) -> LiveValues:
    """``base`` with parsed Host-key values applied, checked field by field and across fields.

    Raises:
        ValidationError: ``MALFORMED_REQUEST`` when a cross-field rule fails (a default above
            its maximum); nothing is applied then.
    """
    changes: dict[str, dict[str, Any]] = {"limits": {}, "gateway": {}}
    poll, mode = base.poll_interval_ms, base.mode
    for key, value in overrides.items():
        if key == POLL_KEY:
            poll = int(value)
            continue
        if key == MODE_KEY:
            mode = str(value)
            continue
        section, _, name = key.partition(".")
        if section in changes and key in HOST_KEYS:
            changes[section][name] = float(value) if name.endswith("_per_s") else int(value)
    try:
        limits = dataclasses.replace(base.limits, **changes["limits"])
        gateway = dataclasses.replace(base.gateway, **changes["gateway"])
    except AespError as exc:  # GatewayConfig's own checks
        raise _bad("gateway", exc.message) from None
    for default, cap in (
        ("default_timeout_ms", "max_timeout_ms"),
        ("default_session_ttl_seconds", "max_session_ttl_seconds"),
    ):
        if getattr(limits, default) > getattr(limits, cap):
            raise _bad(
                f"limits.{default}",
                f"{getattr(limits, default)} exceeds limits.{cap} ({getattr(limits, cap)}); "
                "lower the default or raise the maximum first",
            )
    if mode == "DEVELOPMENT" and base.compliance == "AESP":
        raise ConfigurationError(
            "INCOMPATIBLE_MODE",
            "An AESP Host cannot run in DEVELOPMENT mode: runtimes may never define tools in an "
            "enterprise deployment (SPEC checklist 74).",
            details={"field": "value", "key": MODE_KEY},
        )
    return LiveValues(limits, gateway, poll, mode, base.compliance)
