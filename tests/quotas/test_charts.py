from datetime import date
from decimal import Decimal

import pytest

from quotas import charts


@pytest.mark.parametrize("value,top", [(0, 1), (Decimal("0.8"), 1), (Decimal("1.2"), 2), (3, 5), (7, 10),
                                       (Decimal("23.5"), 25), (260, 500), (Decimal("0.013"), Decimal("0.02"))])
def test_it_rounds_the_axis_up_to_a_nice_number(value, top):
    assert charts.nice_ceiling(value) == top


def test_bars_are_proportional_and_sit_on_the_baseline():
    days = charts.days_ending(date(2026, 3, 10), 4)
    chart = charts.bar_chart(days, [0, 1, 2, Decimal("0.5")], width=400, height=200, left=40, top=10,
                             bottom_margin=20)
    assert [bar.day for bar in chart.bars] == [date(2026, 3, 7), date(2026, 3, 8), date(2026, 3, 9), date(2026, 3, 10)]
    heights = [bar.height for bar in chart.bars]
    assert heights[0] == 0 and heights[2] == 170 and heights[1] == 85 and heights[3] == 42.5  # axis top is 2
    assert all(bar.y + bar.height == chart.bottom for bar in chart.bars)
    assert [tick.label for tick in chart.ticks] == ["0", "0.5", "1", "1.5", "2"]
    assert chart.total == Decimal("3.5") and "most on 9 Mar" in chart.summary


def test_a_tiny_value_stays_visible_and_an_empty_chart_says_so():
    days = charts.days_ending(date(2026, 3, 10), 2)
    chart = charts.bar_chart(days, [Decimal("0.01"), 100])
    assert chart.bars[0].height >= 1.5
    empty = charts.bar_chart(days, [0, 0], name="spend")
    assert empty.is_empty and empty.summary == "No spend from 9 Mar to 10 Mar."


def test_a_month_of_days_ends_today():
    days = charts.days_ending(date(2026, 3, 1), 30)
    assert len(days) == 30 and days[0] == date(2026, 1, 31) and days[-1] == date(2026, 3, 1)
