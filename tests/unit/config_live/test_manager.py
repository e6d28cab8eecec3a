"""ConfigManager and the key registry on the in-memory Config port (SPEC §3.15, §4.19).

Two managers on one store stand for two Host replicas: what one writes, the other applies
through ``changes_since`` alone.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import pytest

from aesp.core._live_apply import HostTargets
from aesp.core._live_keys import LiveValues, check_value
from aesp.core.config import GatewayConfig, LimitsConfig
from aesp.core.errors import AespError
from aesp.core.live_config import ConfigManager, PendingChange
from aesp.core.ports.config import ConfigDataType, ConfigEntry
from aesp.core.ports.state import BucketSpec
from aesp.testing.inmemory.config import InMemoryConfigStore

BASE = LiveValues(LimitsConfig(), GatewayConfig())
T = ConfigDataType


@dataclass
class Recorder:
    """A live target that records what it was given."""

    limits: list[LimitsConfig] = field(default_factory=list)
    rates: list[tuple[BucketSpec, BucketSpec]] = field(default_factory=list)

    def apply_limits(self, limits: LimitsConfig) -> None:
        self.limits.append(limits)

    def apply_rate_limits(self, *, principal: BucketSpec, tenant: BucketSpec) -> None:
        self.rates.append((principal, tenant))


def manager(store: InMemoryConfigStore, rec: Recorder | None = None) -> ConfigManager:
    rec = rec or Recorder()
    return ConfigManager(store, base=BASE, targets=HostTargets(limits=(rec,), rates=rec))


async def put(m: ConfigManager, key: str, value: str, kind: T = T.INTEGER, **kw: object) -> int:
    change, _ = await m.prepare(ConfigEntry("", key, value, kind, changed_by="op", **kw))  # type: ignore[arg-type]
    return (await m.enact(change)).version


@pytest.mark.parametrize(
    ("key", "value", "kind", "expected"),
    [
        ("app.n", "42", T.INTEGER, 42),
        ("app.n", "-9223372036854775808", T.INTEGER, -(2**63)),
        ("app.flag", "true", T.BOOLEAN, True),
        ("app.doc", '{"a": [1, 2]}', T.JSON, {"a": [1, 2]}),
        ("app.s", "", T.STRING, ""),
        ("gateway.principal_rate_per_s", "0.5", T.JSON, 0.5),
    ],
)
def test_values_parse_as_their_data_type(key: str, value: str, kind: T, expected: object) -> None:
    assert check_value(key, value, kind) == expected


@pytest.mark.parametrize(
    ("key", "value", "kind", "why"),
    [
        ("app.n", "4.5", T.INTEGER, "not an integer"),
        ("app.n", "9223372036854775808", T.INTEGER, "64-bit"),
        ("app.n", " 4", T.INTEGER, "not an integer"),
        ("app.flag", "True", T.BOOLEAN, "exactly 'true' or 'false'"),
        ("app.flag", "1", T.BOOLEAN, "exactly"),
        ("app.doc", "{a: 1}", T.JSON, "not JSON"),
        ("app.doc", "NaN", T.JSON, "not JSON"),
        ("limits.default_timeout_ms", "0", T.INTEGER, r"in \[1, "),
        ("limits.default_timeout_ms", "100", T.STRING, "data type is INTEGER"),
        ("limit.default_timeout_ms", "100", T.INTEGER, "not a configuration key"),
    ],
)
def test_bad_values_are_refused(key: str, value: str, kind: T, why: str) -> None:
    with pytest.raises(AespError, match=why) as info:
        check_value(key, value, kind)
    assert info.value.code == "MALFORMED_REQUEST"


async def test_a_host_key_applies_at_once_and_cross_field_rules_hold() -> None:
    store, rec = InMemoryConfigStore(), Recorder()
    m = manager(store, rec)
    await m.start(poll=False)
    assert await put(m, "limits.default_timeout_ms", "250") == 1
    assert rec.limits[-1].default_timeout_ms == 250 and m.values.limits.default_timeout_ms == 250
    await put(m, "gateway.principal_burst", "3")
    assert rec.rates[-1][0] == BucketSpec(100.0, 3)
    with pytest.raises(AespError, match="exceeds limits.max_timeout_ms"):
        await put(m, "limits.default_timeout_ms", str(10**6))
    assert m.values.limits.default_timeout_ms == 250


async def test_history_is_newest_first_and_a_stale_expected_version_is_refused() -> None:
    m = manager(InMemoryConfigStore())
    for value in ("1", "2", "3"):
        await put(m, "app.n", value)
    page = await m.store.history("", "app.n")
    assert [(e.version, e.value) for e in page.items] == [(3, "3"), (2, "2"), (1, "1")]
    entry = ConfigEntry("", "app.n", "4", T.INTEGER)
    with pytest.raises(AespError, match="at version 3, not 1") as info:
        await m.prepare(entry, expected_version=1, check_version=True)
    assert info.value.code == "INVALID_STATE"
    stale = PendingChange(entry, expected_version=2)  # decided before version 3 landed
    with pytest.raises(AespError, match="changed meanwhile"):
        await m.enact(stale)


async def test_the_server_decides_approval_and_the_client_can_only_add_it() -> None:
    m = manager(InMemoryConfigStore())
    await put(m, "app.secret", "s3cret", T.STRING, sensitive=True)
    plain, _ = await m.prepare(ConfigEntry("", "app.plain", "x"))
    assert m.needs_approval(plain.entry, None, asked=False) == ""
    assert m.needs_approval(plain.entry, None, asked=True) == "approval was requested"
    # Once sensitive, always sensitive: a request saying sensitive=false changes nothing.
    change, current = await m.prepare(ConfigEntry("", "app.secret", "other", sensitive=False))
    assert change.entry.sensitive
    assert m.needs_approval(change.entry, current, asked=False) == "the key is sensitive"


async def test_a_replica_picks_up_changes_in_order_and_tells_subscribers() -> None:
    store, rec = InMemoryConfigStore(), Recorder()
    writer, reader = manager(store), manager(store, rec)
    await reader.start(poll=False)
    sub = reader.subscribe(tenant_scope="acme", patterns=("app.*", "limits.*"))
    await put(writer, "limits.default_timeout_ms", "100")
    await put(writer, "limits.default_timeout_ms", "200")
    other, _ = await writer.prepare(ConfigEntry("globex", "app.x", "1"))
    await writer.enact(other)  # another tenant: not for this subscriber
    await put(writer, "app.key", "v", T.STRING, sensitive=True)
    assert reader.values.limits.default_timeout_ms == 30_000  # nothing until it polls
    await reader.sync()
    assert [lim.default_timeout_ms for lim in rec.limits] == [100, 200]
    got = [await asyncio.wait_for(sub.__anext__(), 1) for _ in range(3)]
    assert [(e.key, e.old_value, e.new_value, e.version) for e in got] == [
        ("limits.default_timeout_ms", "", "100", 1),
        ("limits.default_timeout_ms", "100", "200", 2),
        ("app.key", "***", "***", 1),
    ]
    await reader.stop()
    assert [e async for e in sub] == [] and sub.closed


async def test_stored_values_override_the_file_at_start_up_and_bad_ones_are_ignored() -> None:
    store = InMemoryConfigStore()
    await store.set(
        ConfigEntry("", "limits.max_timeout_ms", "50000", T.INTEGER), expected_version=0
    )
    await store.set(ConfigEntry("", "gateway.tenant_burst", "x", T.STRING), expected_version=0)
    rec = Recorder()
    m = manager(store, rec)
    await m.start(poll=False)
    assert m.values.limits.max_timeout_ms == 50000
    assert m.values.gateway.tenant_burst == GatewayConfig().tenant_burst
    assert m.effective("limits.max_timeout_ms") == "50000"


async def test_a_slow_subscriber_is_ended_not_waited_for() -> None:
    m = manager(InMemoryConfigStore())
    sub = m.subscribe(tenant_scope="*")
    for i in range(1_001):
        sub.offer(_event(i))
    assert sub.closed
    with pytest.raises(AespError, match="fell 1000 changes behind"):
        async for _ in sub:
            pass


def _event(version: int):  # type: ignore[no-untyped-def]
    from aesp.core._live_events import ConfigChangeEvent

    return ConfigChangeEvent("", "app.k", "", str(version), 0, "op", "", version)
