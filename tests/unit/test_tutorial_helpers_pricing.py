"""tutorial_helpers.pricing: messages metered in 32 KB increments, tiers, connection minutes."""

from __future__ import annotations

import pytest

from tutorial_helpers.pricing import (
    US_EAST_1,
    Prices,
    Workload,
    billed_messages,
    cost_table,
    monthly_cost,
)


@pytest.mark.parametrize(
    ("size", "billed"),
    [(0, 1), (1, 1), (32 * 1024, 1), (32 * 1024 + 1, 2), (70 * 1024, 3), (128 * 1024, 4)],
)
def test_each_started_32_kb_is_one_billed_message(size: int, billed: int) -> None:
    assert billed_messages(size) == billed


def test_a_negative_size_is_refused() -> None:
    with pytest.raises(ValueError, match="cannot have -1 bytes"):
        billed_messages(-1)


def test_connection_minutes_and_messages_at_the_first_tier() -> None:
    cost = monthly_cost(Workload("w", 100, 600, 2_000_000, message_bytes=33 * 1024))
    assert cost["connection minutes"] == 60_000
    assert cost["billed messages"] == 4_000_000  # 33 KB: two increments each
    assert cost["connection cost ($)"] == pytest.approx(60_000 * 0.25 / 1e6)
    assert cost["message cost ($)"] == pytest.approx(4.0)
    assert cost["total ($)"] == pytest.approx(4.015)


def test_messages_past_the_first_billion_get_the_second_price() -> None:
    cost = monthly_cost(Workload("w", 0, 0, 1_500_000_000))
    assert cost["message cost ($)"] == pytest.approx(1_000 * 1.00 + 500 * 0.80)


def test_prices_are_parameters() -> None:
    doubled = Prices(2.0, 1.6, 0.5, region="elsewhere", as_of="test")
    workload = Workload("w", 10, 10, 10)
    assert monthly_cost(workload, doubled)["total ($)"] == pytest.approx(
        2 * monthly_cost(workload, US_EAST_1)["total ($)"]
    )


def test_cost_table_has_a_row_per_workload() -> None:
    table = cost_table([Workload("a", 1, 1, 1), Workload("b", 2, 2, 2)])
    assert list(table.index) == ["a", "b"]
    assert table.loc["b", "connection minutes"] == 4
