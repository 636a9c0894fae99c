"""What a report shows: which tables, their rows and columns, built from the raw counts.

Each table crosses the sites with one coded field (never more than two identifying
dimensions; the site is not one of them). Rows follow the code tables; countries and
languages too rare to show alone are grouped, or, where a person can have several, left out.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from flask_babel import lazy_gettext as _l

from counsel import codes
from counsel.reporting.periods import Period
from counsel.reporting.queries import Activity, Figures
from counsel.reporting.suppression import Cell, Grid

ALL = "all"
OTHER = "__other__"
# Dimensions that can single a person out when crossed (see docs/statistics.md).
IDENTIFYING = frozenset({"age_band", "country", "language", "preferred", "residence_status", "violence"})
MAX_IDENTIFYING = 2


class DimensionError(ValueError):
    """A table would cross more identifying dimensions than allowed."""


def check_dimensions(dimensions: Iterable[str]) -> None:
    """Refuse a table that crosses more than two identifying dimensions."""
    if len(IDENTIFYING.intersection(dimensions)) > MAX_IDENTIFYING:
        raise DimensionError("a table may cross at most two identifying dimensions")


@dataclass(frozen=True)
class Spec:
    """One table of the report: what it counts and how its rows relate to its total."""

    id: str
    title: Any
    source: str  # key into Figures.people / Figures.activity, or a trend
    unit: str  # people, consultations or hours
    multi: bool = False  # several answers per person or consultation: rows do not add up
    codes: Mapping[str, object] | None = None
    blank: Any = None  # label of the row for people without a value, if any
    chart: str = "bars"

    @property
    def dimensions(self) -> tuple[str, str]:
        return ("site", self.source)


CASE_TABLES = [
    Spec("age", _l("Age band"), "age_band", "people", codes=codes.AGE_BANDS),
    Spec("country", _l("Country of origin"), "country", "people", blank=_l("not recorded")),
    Spec("residence", _l("Residence status"), "residence_status", "people", codes=codes.RESIDENCE_STATUS),
    Spec("violence", _l("Forms of violence"), "violence", "people", multi=True, codes=codes.VIOLENCE_FORMS),
    Spec("relation", _l("Relationship to the alleged perpetrator"), "perpetrator_relation", "people",
         codes=codes.RELATIONSHIPS),
    Spec("languages", _l("Languages spoken"), "language", "people", multi=True),
    Spec("preferred", _l("Preferred language"), "preferred", "people", blank=_l("not recorded")),
    Spec("referral_source", _l("How she came to the service"), "referral_source", "people",
         codes=codes.REFERRAL_SOURCES, blank=_l("not recorded")),
    Spec("risk", _l("Risk level (latest assessment)"), "risk", "people", codes=codes.RISK_LEVELS,
         blank=_l("no assessment")),
]
ACTIVITY_TABLES = [
    Spec("channel", _l("Consultations by channel"), "channel", "consultations", codes=codes.CHANNELS),
    Spec("interpreting", _l("Consultations by interpreting"), "interpreting", "consultations",
         codes=codes.INTERPRETING),
    Spec("topics", _l("Consultations by topic"), "topic", "consultations", multi=True, codes=codes.TOPICS),
    Spec("referrals", _l("Referrals made in consultations"), "referral", "consultations", multi=True,
         codes=codes.REFERRALS),
]
# Every figure about cases over time is a partition of the active cases or of one of its parts,
# so the only sums that join two tables are figures both tables show (linked, protected together).
# "Active in a month" is not among them: it follows from these, so a reader could subtract it
# from them; it is worked out from the published figures instead (report.active_by_month).
TREND_TABLES = [
    Spec("trend_new", _l("New cases per month"), "new", "people", chart="lines"),
    Spec("trend_closed", _l("Closed cases per month"), "closed", "people", chart="lines"),
    Spec("trend_consultations", _l("Consultations per month"), "month", "consultations", chart="lines"),
    Spec("trend_hours", _l("Counselling hours per month"), "month", "hours", chart="lines"),
]
OVERVIEW_CASES = Spec("cases", _l("Cases"), "cases", "people", chart="")
OVERVIEW_CLOSINGS = Spec("closings", _l("Cases closed and still open"), "closings", "people", chart="")
OVERVIEW_ACTIVITY = Spec("activity", _l("Consultations and counselling hours"), "activity", "consultations",
                         chart="")
OVERVIEW_EXCLUDED = Spec("excluded", _l("Cases left out for lack of consent"), "excluded", "people", chart="")


@dataclass(frozen=True)
class Built:
    """A table's grid with the labels of its rows and its total row."""

    spec: Spec
    grid: Grid
    row_labels: list[str]
    total_label: str | None
    hours_rows: frozenset[int] = frozenset()  # lines whose values are minutes, shown as hours
    row_keys: tuple[str, ...] = ()  # the code behind each row ("" not recorded, OTHER grouped)


class Builder:
    """Turn the raw counts of one report into grids; labels in the interface language."""

    def __init__(self, figures: Figures, period: Period, group_below: int,
                 name_country: Callable[[str], str], name_language: Callable[[str], str]) -> None:
        self.figures = figures
        self.period = period
        # Countries and languages rarer than this are grouped (or left out): the team's k in every
        # report, so that the funders' tables have the very rows of the team's and cannot be set
        # against them.
        self.group_below = group_below
        self.sites = figures.site_ids
        self.name_country = name_country
        self.name_language = name_language
        self.months = _Months(figures.opened, figures.closed)

    # --- per site: the counts every table of cases shares -------------------------------------
    def active(self, site: int) -> int:
        return self.figures.active.get(site, 0)

    def people_in_report(self) -> int:
        return sum(self.active(site) for site in self.sites)

    def _grid(self, spec: Spec, rows: list[list[Cell]], total: list[Cell] | None, total_key: str | None,
              links: list[str | None] | None = None) -> Grid:
        """Lay out rows across sites; with several sites, a total column sums each row."""
        check_dimensions(spec.dimensions)
        several = len(self.sites) > 1
        lines = rows + ([total] if total is not None else [])
        cells: dict[tuple[int, int], Cell] = {}
        keys: dict[tuple[int, int], Hashable] = {}
        for i, line in enumerate(lines):
            for j, cell in enumerate(line):
                cells[(i, j)] = cell
            if several:
                cells[(i, len(self.sites))] = Cell(sum(c.value for c in line), sum(c.people for c in line))
            key = total_key if total is not None and i == len(rows) else (links[i] if links else None)
            if key is not None:
                for j, site in enumerate([*self.sites, ALL] if several else self.sites):
                    keys[(i, j)] = (key, site)
        return Grid(len(rows), len(self.sites), cells, total_row=total is not None, total_col=several,
                    additive=not spec.multi, counts_people=spec.unit == "people", keys=keys)

    # --- tables --------------------------------------------------------------------------------
    def overview_cases(self) -> Built:
        """Active cases as those carried over from before the period and those opened in it."""
        new = [self.months.opened_between(s, self.period.start, self.period.end) for s in self.sites]
        active = [self.active(s) for s in self.sites]
        rows = [[_people(a - n) for a, n in zip(active, new, strict=True)], [_people(n) for n in new]]
        grid = self._grid(OVERVIEW_CASES, rows, [_people(a) for a in active], "active", ["carried", "new"])
        return Built(OVERVIEW_CASES, grid, [str(_l("Carried over from before the period")), str(_l("New cases"))],
                     str(_l("Active cases")), row_keys=("carried", "new"))

    def overview_closings(self) -> Built:
        """Active cases as those closed in the period and those still open at its end."""
        closed = [self.months.closed_between(s, self.period.start, self.period.end) for s in self.sites]
        active = [self.active(s) for s in self.sites]
        rows = [[_people(c) for c in closed], [_people(a - c) for a, c in zip(active, closed, strict=True)]]
        grid = self._grid(OVERVIEW_CLOSINGS, rows, [_people(a) for a in active], "active", ["closed", "still_open"])
        return Built(OVERVIEW_CLOSINGS, grid, [str(_l("Closed cases")), str(_l("Still open at the end"))],
                     str(_l("Active cases")), row_keys=("closed", "still_open"))

    def overview_excluded(self) -> Built:
        """Active cases of the sites that are not counted: no valid consent to statistics."""
        rows = [[_people(self.figures.excluded.get(s, 0)) for s in self.sites]]
        grid = self._grid(OVERVIEW_EXCLUDED, rows, None, None)
        return Built(OVERVIEW_EXCLUDED, grid, [str(_l("Not counted"))], None, row_keys=("excluded",))

    def overview_activity(self) -> Built:
        counts = self.figures.activity.get("all", {})
        per_site = [counts.get((s, ""), Activity()) for s in self.sites]
        rows = [[Cell(a.consultations, a.people) for a in per_site], [Cell(a.minutes, a.people) for a in per_site]]
        grid = self._grid(OVERVIEW_ACTIVITY, rows, None, None, ["consultations", "minutes"])
        return Built(OVERVIEW_ACTIVITY, grid, [str(_l("Consultations")), str(_l("Counselling hours"))], None,
                     frozenset({1}), ("consultations", "hours"))

    def case_table(self, spec: Spec) -> Built | None:
        counts = self.figures.people.get(spec.source, {})
        order, grouped = self._order(spec, counts)
        if not order:
            return None
        rows = [[_people(_count(counts, site, key, grouped)) for site in self.sites] for key, _ in order]
        total = [_people(self.active(s)) for s in self.sites]
        return Built(spec, self._grid(spec, rows, total, "active"), [label for _, label in order],
                     str(_l("All people in the report")) if spec.multi else str(_l("Total")),
                     row_keys=tuple(key for key, _ in order))

    def activity_table(self, spec: Spec) -> Built | None:
        counts = self.figures.activity.get(spec.source, {})
        order, _ = self._order(spec, {key: a.consultations for key, a in counts.items()})
        if not order:
            return None
        rows = [[_consultations(counts.get((site, key), Activity())) for site in self.sites] for key, _ in order]
        everything = self.figures.activity.get("all", {})
        total = [_consultations(everything.get((s, ""), Activity())) for s in self.sites]
        return Built(spec, self._grid(spec, rows, total, "consultations"), [label for _, label in order],
                     str(_l("All consultations")) if spec.multi else str(_l("Total")),
                     row_keys=tuple(key for key, _ in order))

    def trend_table(self, spec: Spec, month_label: Callable[[date], str]) -> Built:
        months = self.period.months
        source = self.figures.activity.get("month", {})

        def key(month: date) -> str:
            return f"{month.year * 100 + month.month}"

        if spec.source in ("new", "closed"):
            between = self.months.opened_between if spec.source == "new" else self.months.closed_between
            rows = [[_people(between(s, m, m)) for s in self.sites] for m in months]
            total, total_key = [_people(between(s, months[0], months[-1])) for s in self.sites], spec.source
        else:
            everything = self.figures.activity.get("all", {})
            pick = _consultations if spec.unit == "consultations" else _minutes
            rows = [[pick(source.get((s, key(m)), Activity())) for s in self.sites] for m in months]
            total = [pick(everything.get((s, ""), Activity())) for s in self.sites]
            total_key = "consultations" if spec.unit == "consultations" else "minutes"
        label = str(_l("Total"))
        hours = frozenset(range(len(months) + 1)) if spec.unit == "hours" else frozenset()
        return Built(spec, self._grid(spec, rows, total, total_key), [month_label(m) for m in months], label, hours,
                     tuple(f"{m:%Y-%m}" for m in months))

    # --- rows ----------------------------------------------------------------------------------
    def _order(self, spec: Spec, counts: Mapping[tuple[int, str], int]) -> tuple[list[tuple[str, str]], set[str]]:
        """Rows as (key, label) in the code table's order, or the largest first for countries and
        languages, with the keys grouped as "other"."""
        totals: dict[str, int] = {}
        for (_, key), n in counts.items():
            totals[key] = totals.get(key, 0) + n
        grouped: set[str] = set()
        if spec.codes is not None:
            keys = [k for k in spec.codes] + sorted(k for k in totals if k and k not in spec.codes)
            rows = [(k, codes.label(spec.codes, k)) for k in keys]
        else:
            name = self.name_country if spec.source == "country" else self.name_language
            present = sorted((k for k in totals if k), key=lambda k: (-totals[k], k))
            shown = [k for k in present if totals[k] >= self.group_below]
            grouped = set(present) - set(shown)
            rows = [(k, name(k)) for k in shown]
            if grouped and not spec.multi:
                label = _l("Other countries") if spec.source == "country" else _l("Other languages")
                rows.append((OTHER, str(label)))
        if spec.blank is not None and not spec.multi:
            rows.append(("", str(spec.blank)))
        return (rows if totals else []), grouped


def _count(counts: Mapping[tuple[int, str], int], site: int, key: str, grouped: set[str]) -> int:
    if key == OTHER:
        return sum(n for (s, k), n in counts.items() if s == site and k in grouped)
    return counts.get((site, key), 0)


class _Months:
    """Cases opened and closed per site and month of the period."""

    def __init__(self, opened: Mapping[tuple[int, date], int], closed: Mapping[tuple[int, date], int]) -> None:
        self.opened = opened
        self.closed = closed

    def opened_between(self, site: int, start: date, end: date) -> int:
        return sum(n for (s, m), n in self.opened.items() if s == site and start <= m <= end)

    def closed_between(self, site: int, start: date, end: date) -> int:
        return sum(n for (s, m), n in self.closed.items() if s == site and start <= m <= end)


def _people(count: int) -> Cell:
    return Cell(count, count)


def _consultations(activity: Activity) -> Cell:
    return Cell(activity.consultations, activity.people)


def _minutes(activity: Activity) -> Cell:
    return Cell(activity.minutes, activity.people)
