"""Report periods on a fixed grid of whole months: a month, a quarter, a year or a run of months.

A period is named by a token that goes into URLs and the audit trail ("2026-07", "2026-Q3",
"2026", "2026-01..2026-06"); nothing finer than a month can be asked for or shown.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

MAX_MONTHS = 120
MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")
YEAR = re.compile(r"^(\d{4})$")


class PeriodError(ValueError):
    """The period token is not on the grid; the message never repeats what was typed."""


def first_of(year: int, month: int) -> date:
    return date(year, month, 1)


def add_months(month: date, count: int) -> date:
    """Return the first of the month `count` months after (or before) the given month."""
    year, index = divmod(month.year * 12 + month.month - 1 + count, 12)
    return date(year, index + 1, 1)


@dataclass(frozen=True)
class Period:
    """Whole months from `start` to `end` inclusive (both the first of their month)."""

    start: date
    end: date
    kind: str  # month, quarter, year or run

    @property
    def months(self) -> list[date]:
        count = (self.end.year - self.start.year) * 12 + self.end.month - self.start.month
        return [add_months(self.start, step) for step in range(count + 1)]

    @property
    def last_day(self) -> date:
        return add_months(self.end, 1) - timedelta(days=1)

    @property
    def token(self) -> str:
        if self.kind == "month":
            return f"{self.start:%Y-%m}"
        if self.kind == "quarter":
            return f"{self.start.year}-Q{(self.start.month - 1) // 3 + 1}"
        if self.kind == "year":
            return f"{self.start.year}"
        return f"{self.start:%Y-%m}..{self.end:%Y-%m}"


def month(year: int, number: int) -> Period:
    start = first_of(year, number)
    return Period(start, start, "month")


def quarter(year: int, number: int) -> Period:
    start = first_of(year, 3 * (number - 1) + 1)
    return Period(start, add_months(start, 2), "quarter")


def year(number: int) -> Period:
    return Period(first_of(number, 1), first_of(number, 12), "year")


def run(start: date, end: date) -> Period:
    """A run of whole months; a run that is exactly a month, quarter or year is named as such."""
    start, end = start.replace(day=1), end.replace(day=1)
    if end < start:
        raise PeriodError("the period ends before it starts")
    if start == end:
        return Period(start, end, "month")
    if start.month % 3 == 1 and end == add_months(start, 2):
        return Period(start, end, "quarter")
    if start.month == 1 and end == add_months(start, 11):
        return Period(start, end, "year")
    period = Period(start, end, "run")
    if len(period.months) > MAX_MONTHS:
        raise PeriodError("the period is longer than allowed")
    return period


def parse(token: str) -> Period:
    """Turn a token into a period, or raise PeriodError."""
    token = token.strip()
    if match := MONTH.match(token):
        return _checked(month(int(match[1]), int(match[2])))
    if match := QUARTER.match(token):
        return _checked(quarter(int(match[1]), int(match[2])))
    if match := YEAR.match(token):
        return _checked(year(int(match[1])))
    first, sep, last = token.partition("..")
    if sep and (a := MONTH.match(first)) and (b := MONTH.match(last)):
        return _checked(run(first_of(int(a[1]), int(a[2])), first_of(int(b[1]), int(b[2]))))
    raise PeriodError("not a period on the grid")


def _checked(period: Period) -> Period:
    if period.start.year < 2000 or period.end.year > 2100:
        raise PeriodError("the period lies outside the years the service can report on")
    return period


def last_complete_quarter(today: date) -> Period:
    current = (today.month - 1) // 3
    if current == 0:
        return quarter(today.year - 1, 4)
    return quarter(today.year, current)


def recent(today: date) -> dict[str, list[Period]]:
    """Offer the recent quarters, months and years, newest first."""
    this_month = today.replace(day=1)
    months = [month(m.year, m.month) for m in (add_months(this_month, -step) for step in range(24))]
    quarters: list[Period] = []
    for candidate in months:
        named = quarter(candidate.start.year, (candidate.start.month - 1) // 3 + 1)
        if named not in quarters:
            quarters.append(named)
    years = [year(today.year - step) for step in range(5)]
    return {"quarter": quarters, "month": months, "year": years}
