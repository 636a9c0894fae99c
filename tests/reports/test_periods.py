"""Periods lie on a grid of whole months and are named by tokens."""

from __future__ import annotations

from datetime import date

import pytest

from counsel.reporting import periods
from counsel.reporting.periods import PeriodError


@pytest.mark.parametrize("token, start, end, kind", [
    ("2026-07", date(2026, 7, 1), date(2026, 7, 1), "month"),
    ("2026-Q3", date(2026, 7, 1), date(2026, 9, 1), "quarter"),
    ("2026", date(2026, 1, 1), date(2026, 12, 1), "year"),
    ("2026-02..2026-05", date(2026, 2, 1), date(2026, 5, 1), "run"),
    ("2026-04..2026-06", date(2026, 4, 1), date(2026, 6, 1), "quarter"),
    ("2025-11..2026-02", date(2025, 11, 1), date(2026, 2, 1), "run"),
])
def test_tokens_name_whole_months(token, start, end, kind):
    period = periods.parse(token)
    assert (period.start, period.end, period.kind) == (start, end, kind)
    assert periods.parse(period.token) == period


@pytest.mark.parametrize("token", ["2026-13", "2026-07-14", "2026-Q5", "26", "2026-06..2026-01", "1999",
                                   "2000-01..2019-12", "", "x"])
def test_anything_off_the_grid_is_refused(token):
    with pytest.raises(PeriodError):
        periods.parse(token)


def test_a_period_knows_its_months_and_last_day():
    period = periods.parse("2024-Q1")
    assert period.months == [date(2024, 1, 1), date(2024, 2, 1), date(2024, 3, 1)]
    assert period.last_day == date(2024, 3, 31)


def test_recent_periods_and_the_default():
    offered = periods.recent(date(2026, 2, 10))
    assert offered["quarter"][0].token == "2026-Q1" and offered["month"][0].token == "2026-02"
    assert offered["year"][0].token == "2026"
    assert periods.last_complete_quarter(date(2026, 2, 10)).token == "2025-Q4"
    assert periods.last_complete_quarter(date(2026, 8, 1)).token == "2026-Q2"
