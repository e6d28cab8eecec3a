"""The pure cost rules every ledger shares: money in micros, periods, admission, validation."""

from __future__ import annotations

import pytest

from aesp.core.cost import (
    MAX_MICROS,
    Budget,
    BudgetPeriod,
    BudgetScope,
    UsageRecord,
    admits,
    from_micros,
    reserve_arguments,
    to_micros,
)
from aesp.core.ports.audit import AuditFilter

NOV_14 = 1_700_000_000_000  # 2023-11-14T22:13:20Z
NOV_1, DEC_1, JAN_1 = 1_698_796_800_000, 1_701_388_800_000, 1_704_067_200_000
OCT_1, JAN_1_2023 = 1_696_118_400_000, 1_672_531_200_000


def test_money_converts_at_the_sixth_decimal_and_sums_exactly() -> None:
    assert 0.1 + 0.2 != 0.3  # why the ledger does not add doubles
    assert to_micros(0.1) + to_micros(0.2) == to_micros(0.3) == 300_000
    assert to_micros(19.99) == 19_990_000
    assert to_micros(0.0000005) == 0 and to_micros(0.0000015) == 2  # half to even
    assert to_micros(-1.25) == -1_250_000
    assert from_micros(19_990_000) == 19.99
    for bad in (float("nan"), float("inf"), 1e13):
        with pytest.raises(ValueError):
            to_micros(bad)


def test_a_budget_admits_until_it_is_full_and_then_nothing() -> None:
    assert admits(100, 99, 1) and not admits(100, 99, 2)
    assert admits(100, 50, 0) and not admits(100, 100, 0)  # at 100%: even a free call is denied
    assert not admits(0, 0, 0)


@pytest.mark.parametrize(
    ("period", "at", "bounds"),
    [
        (BudgetPeriod.MONTHLY, NOV_14, (NOV_1, DEC_1)),
        (BudgetPeriod.MONTHLY, NOV_1, (NOV_1, DEC_1)),
        (BudgetPeriod.MONTHLY, NOV_1 - 1, (OCT_1, NOV_1)),
        (BudgetPeriod.MONTHLY, DEC_1 + 1, (DEC_1, JAN_1)),  # December rolls into the next year
        (BudgetPeriod.QUARTERLY, NOV_14, (OCT_1, JAN_1)),
        (BudgetPeriod.QUARTERLY, OCT_1 - 1, (1_688_169_600_000, OCT_1)),
        (BudgetPeriod.YEARLY, NOV_14, (JAN_1_2023, JAN_1)),
    ],
)
def test_periods_are_utc_calendar_periods(
    period: BudgetPeriod, at: int, bounds: tuple[int, int]
) -> None:
    assert Budget("b", "acme", 1, period=period).period_at(at) == bounds


def test_start_and_end_dates_clip_periods_and_bound_force() -> None:
    b = Budget("b", "acme", 1, start_date_ms=NOV_14, end_date_ms=DEC_1 + 5)
    assert b.period_at(NOV_14 - 1) is None
    assert b.period_at(NOV_14) == (NOV_14, DEC_1)
    assert b.period_at(DEC_1 + 4) == (DEC_1, DEC_1 + 5)
    assert b.period_at(DEC_1 + 5) is None


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"budget_id": ""}, ValueError),
        ({"amount_micros": -1}, ValueError),
        ({"amount_micros": 1.5}, TypeError),
        ({"amount_micros": True}, TypeError),
        ({"amount_micros": MAX_MICROS + 1}, ValueError),
        ({"currency": "usd"}, ValueError),
        ({"period": "WEEKLY"}, ValueError),
        ({"alert_thresholds": ("80",)}, ValueError),
        ({"alert_thresholds": "80%"}, TypeError),
        ({"scope": BudgetScope.TOOL}, ValueError),
        ({"scope_value": "cc-1"}, ValueError),
        ({"start_date_ms": 10, "end_date_ms": 10}, ValueError),
    ],
)
def test_an_invalid_budget_cannot_be_built(fields: dict[str, object], error: type) -> None:
    values: dict[str, object] = {"budget_id": "b", "tenant_id": "acme", "amount_micros": 1}
    with pytest.raises(error):
        Budget(**(values | fields))  # type: ignore[arg-type]


def test_budget_strings_become_enums_and_cost_center_follows_the_scope() -> None:
    b = Budget("b", "acme", 1, period="YEARLY", scope="COST_CENTER", scope_value="cc-1")  # type: ignore[arg-type]
    assert (b.period, b.scope, b.cost_center) == (
        BudgetPeriod.YEARLY,
        BudgetScope.COST_CENTER,
        "cc-1",
    )
    assert Budget("b", "acme", 1, scope=BudgetScope.TOOL, scope_value="t").cost_center == ""


@pytest.mark.parametrize(
    "fields",
    [
        {"event_id": ""},
        {"quantity": float("nan")},
        {"unit_cost": float("inf")},
        {"total_cost_micros": 2**63},
    ],
)
def test_an_invalid_usage_record_cannot_be_built(fields: dict[str, object]) -> None:
    values: dict[str, object] = {
        "event_id": "u",
        "timestamp_ms": 1,
        "tenant_id": "acme",
        "resource_type": "CPU",
        "quantity": 1.0,
        "unit": "seconds",
        "unit_cost": 0.5,
        "total_cost_micros": 500_000,
    }
    with pytest.raises(ValueError):
        UsageRecord(**(values | fields))  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        UsageRecord(**(values | {"total_cost_micros": 0.5}))  # type: ignore[arg-type]


def test_reserve_arguments_keep_the_callers_order_without_repeats() -> None:
    assert reserve_arguments(["b", "a", "b"], 0, "r", 1) == ("b", "a")
    with pytest.raises(TypeError):
        reserve_arguments("ab", 1, "r", 1)
    with pytest.raises(ValueError):
        reserve_arguments(["a"], 1, "", 1)


def test_an_audit_filter_refuses_a_bare_string_of_event_types() -> None:
    with pytest.raises(TypeError, match="not a string"):
        AuditFilter(event_types="TOOL_INVOCATION_START")  # type: ignore[arg-type]
    assert AuditFilter(event_types=["A", "B"]).event_types == ("A", "B")  # type: ignore[arg-type]
