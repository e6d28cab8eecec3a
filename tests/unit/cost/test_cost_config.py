"""The ``[cost]`` section: validated like every section, every problem names its key."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from aesp.core._metering import RateCard
from aesp.core.config import CostConfig, load_config, parse_config
from aesp.core.errors import ConfigurationError


def test_defaults_meter_at_no_cost_in_usd() -> None:
    cost = parse_config({}, base=Path("/srv")).cost
    assert cost == CostConfig()
    assert (cost.currency, cost.price_per_call, cost.reservation_ttl_ms) == ("USD", 0.0, 60_000)


def test_a_file_sets_prices_and_per_tool_overrides(tmp_path: Path) -> None:
    (tmp_path / "aesp.toml").write_text(
        "[cost]\n"
        'currency = "EUR"\n'
        "price_per_call = 0.002\n"
        "price_per_second = 1\n"
        "price_per_kib = 0.00001\n"
        "reservation_ttl_ms = 5000\n"
        "[cost.tools.transfer]\n"
        "price_per_call = 0.5\n",
        encoding="utf-8",
    )
    cost = load_config(tmp_path / "aesp.toml").cost
    assert cost.currency == "EUR" and cost.reservation_ttl_ms == 5000
    card = RateCard(cost)
    transfer, other = card.for_tool("transfer"), card.for_tool("lookup")
    # Prices become exact micro rates; a tool inherits what it does not override.
    assert (transfer.per_call, transfer.per_second) == (Decimal(500_000), Decimal(1_000_000))
    assert (other.per_call, other.per_kib) == (Decimal(2_000), Decimal(10))
    assert other.network_micros(512) == 5  # half a KiB at 10 micros per KiB


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ({"currency": "usd"}, "cost.currency"),
        ({"currency": "DOLLAR"}, "cost.currency"),
        ({"price_per_call": -0.01}, "cost.price_per_call"),
        ({"price_per_second": "cheap"}, "cost.price_per_second"),
        ({"price_per_kib": 1e12}, "cost.price_per_kib"),
        ({"reservation_ttl_ms": 0}, "cost.reservation_ttl_ms"),
        ({"tools": {"transfer": {"price_per_call": -1}}}, "cost.tools.transfer.price_per_call"),
        ({"tools": {"transfer": {"price": 1}}}, "cost.tools.transfer.price"),
        ({"tools": {"transfer": 3}}, "cost.tools.transfer"),
        ({"tools": []}, "cost.tools"),
        ({"price_per_hour": 1}, "cost.price_per_hour"),
    ],
)
def test_bad_values_name_their_key(raw: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigurationError, match=f"'{key}'") as info:
        parse_config({"cost": raw}, base=Path("/srv"))
    assert info.value.code == "INVALID_CONFIG"
