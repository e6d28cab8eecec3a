"""``aesp budgets`` and ``aesp usage`` without a Host: arguments, dates and tables."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from aesp.cli_cost import _instant, _print_budgets, _print_usage, main


def test_dates_are_utc_unless_they_say_otherwise() -> None:
    assert _instant("2023-11-14") == 1_699_920_000_000
    assert _instant("2023-11-14T22:13:20Z") == 1_700_000_000_000
    assert _instant("2023-11-14T23:13:20+01:00") == 1_700_000_000_000
    assert _instant("1700000000000") == 1_700_000_000_000
    with pytest.raises(argparse.ArgumentTypeError, match="not a date"):
        _instant("last tuesday")


def test_budgets_print_as_an_aligned_table(capsys: pytest.CaptureFixture[str]) -> None:
    budget = {
        "budget_id": "b-1",
        "scope": "TOOL",
        "scope_value": "transfer",
        "period": "MONTHLY",
        "amount": 1000.0,
        "spent": 12.5,
        "reserved": 0.000125,
        "currency": "USD",
        "hard_limit": True,
        "alert_thresholds": ["50%", "80%"],
    }
    _print_budgets([budget])
    header, row = capsys.readouterr().out.splitlines()
    assert header.split() == [
        "BUDGET",
        "SCOPE",
        "PERIOD",
        "LIMIT",
        "SPENT",
        "RESERVED",
        "HARD",
        "ALERTS",
    ]
    assert row.split() == [
        "b-1",
        "TOOL:transfer",
        "MONTHLY",
        "1,000.00",
        "USD",
        "12.50",
        "USD",
        "0.000125",
        "USD",
        "yes",
        "50%,80%",
    ]
    assert row.index("TOOL") == header.index("SCOPE")


def test_usage_prints_its_group_columns_and_total(capsys: pytest.CaptureFixture[str]) -> None:
    bucket = {
        "period_start": 1_700_000_000_000,
        "resource_type": "API_CALL",
        "quantity": 3.0,
        "unit": "calls",
        "total_cost": 0.03,
        "events": 3,
        "group": {"tool": "echo"},
    }
    _print_usage({"buckets": [bucket], "currency": "USD", "total_cost": 0.03})
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["PERIOD", "RESOURCE", "TOOL", "QUANTITY", "EVENTS", "COST"]
    assert lines[1].split() == ["2023-11-14", "API_CALL", "echo", "3", "calls", "3", "0.03", "USD"]
    assert lines[2] == "total: 0.03 USD"


def test_missing_credentials_are_refused_before_any_connection(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="give --pki DIR"):
        main(["budgets", "list", "--target", "localhost:1"])
    with pytest.raises(SystemExit, match="does not exist"):
        main(["usage", "--pki", str(tmp_path), "--target", "localhost:1"])
