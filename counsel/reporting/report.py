"""A whole report: counts from SQL, tables protected together, every figure ready to publish.

Tables share figures (each table of cases ends in the same people per site), so suppression
runs over all of them until a figure hidden in one table is hidden in every table that shows
it. What leaves this module is text and published numbers only, never a raw count.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from datetime import date

from babel import Locale
from babel.dates import format_date
from babel.numbers import format_decimal, format_percent
from flask_babel import lazy_gettext as _l
from markupsafe import Markup

from counsel.languages import language_name
from counsel.reporting import charts, queries
from counsel.reporting.periods import Period
from counsel.reporting.queries import Figures
from counsel.reporting.suppression import Grid, Outcome, Rule, Status, protect
from counsel.reporting.tables import (
    ACTIVITY_TABLES,
    CASE_TABLES,
    TREND_TABLES,
    Builder,
    Built,
)

MIN_BASE = 10  # percentages and averages only over a published base of at least this
HIDDEN_MARK = "×"


@dataclass(frozen=True)
class Shown:
    """One published cell: its text, its number (None when suppressed) and a share where allowed."""

    text: str
    number: float | None
    status: Status = Status.SHOWN
    share: str = ""


@dataclass(frozen=True)
class Table:
    id: str
    title: str
    unit: str
    multi: bool
    columns: list[str]
    rows: list[tuple[str, list[Shown]]]
    total: tuple[str, list[Shown]] | None
    chart: str
    withheld: bool = False
    keys: tuple[str, ...] = ()  # the code behind each row, for exports and checks


@dataclass(frozen=True)
class SiteRef:
    id: int
    code: str
    name: str


@dataclass
class Report:
    period: Period
    sites: list[SiteRef]
    audience: str  # "team" or "funder"
    rule: Rule
    too_few: bool
    excluded: Shown
    overview: list[Table] = field(default_factory=list)
    averages: Table | None = None
    cases: list[Table] = field(default_factory=list)
    activity: list[Table] = field(default_factory=list)
    trends: list[Table] = field(default_factory=list)

    @property
    def tables(self) -> list[Table]:
        return [*self.overview, *([self.averages] if self.averages else []), *self.cases, *self.activity,
                *self.trends]

    @property
    def detail(self) -> str:
        """What the audit trail records about the report: period, sites, rule set."""
        return f"period={self.period.token} sites={','.join(s.code for s in self.sites)} audience={self.audience}"


def make(period: Period, sites: Sequence[SiteRef], audience: str, rule: Rule, day: date, locale: str) -> Report:
    """Count, protect and lay out the report for these sites and this period."""
    figures = queries.collect(period, [site.id for site in sites], day)
    return build(figures, period, sites, audience, rule, locale)


def build(figures: Figures, period: Period, sites: Sequence[SiteRef], audience: str, rule: Rule,
          locale: str) -> Report:
    """Lay out a report from counts already made (the pure half of `make`)."""
    ordered = sorted(sites, key=lambda site: site.id)
    ui = Locale.parse(locale)
    builder = Builder(figures, period, rule.min_cell,
                      name_country=lambda code: str(ui.territories.get(code, code)),
                      name_language=lambda tag: language_name(tag, locale))
    people = builder.people_in_report()
    report = Report(period, ordered, audience, rule, too_few=people < rule.min_cell,
                    excluded=_count_shown(figures.excluded, rule, locale))
    if report.too_few:
        report.excluded = Shown("", None)
        return report
    overview = [builder.overview_cases(), builder.overview_activity()]
    cases = [b for b in (builder.case_table(spec) for spec in CASE_TABLES) if b is not None]
    activity = [b for b in (builder.activity_table(spec) for spec in ACTIVITY_TABLES) if b is not None]
    trends = [builder.trend_table(spec, lambda m: format_date(m, "MMM yyyy", locale=locale))
              for spec in TREND_TABLES]
    outcomes = protect_together([*overview, *cases, *activity, *trends], rule)
    columns = [site.name for site in ordered] + ([str(_l("All selected sites"))] if len(ordered) > 1 else [])

    def lay_out(built: Built, shares: bool = False) -> Table:
        return _table(built, outcomes[built.spec.id], rule, columns, locale, shares)

    report.overview = [lay_out(b) for b in overview]
    report.averages = _averages(report.overview, columns, locale)
    report.cases = [lay_out(b, shares=True) for b in cases]
    report.activity = [lay_out(b, shares=True) for b in activity]
    report.trends = [lay_out(b) for b in trends]
    return report


def protect_together(builts: Sequence[Built], rule: Rule) -> dict[str, Outcome]:
    """Protect every table, hiding a shared figure everywhere once any table hides it."""
    forced: set[Hashable] = set()
    while True:
        outcomes = {built.spec.id: protect(built.grid, rule, forced) for built in builts}
        hidden = {built.grid.keys[pos] for built in builts for pos, status in outcomes[built.spec.id].status.items()
                  if status is Status.HIDDEN and pos in built.grid.keys}
        if hidden <= forced:
            return outcomes
        forced |= hidden


def _count_shown(count: int, rule: Rule, locale: str) -> Shown:
    if 0 < count < rule.min_cell:
        return Shown(f"<{rule.min_cell}", None, Status.SMALL)
    number = rule.publish(count)
    return Shown(format_decimal(number, locale=locale), number)


def _cell(grid: Grid, outcome: Outcome, pos: tuple[int, int], rule: Rule, hours: bool, locale: str) -> Shown:
    status = outcome.status[pos]
    if status is Status.SMALL:
        return Shown(f"<{rule.min_cell}", None, status)
    if status is Status.HIDDEN:
        return Shown(HIDDEN_MARK, None, status)
    value = grid.cells[pos].value
    if not hours:
        number = rule.publish(value)
        return Shown(format_decimal(number, locale=locale), number)
    if rule.rounding > 1:
        whole = rule.publish(round(value / 60))
        return Shown(format_decimal(whole, locale=locale), whole)
    exact = round(value / 60, 1)
    return Shown(format_decimal(exact, "#,##0.0", locale=locale), exact)


def _table(built: Built, outcome: Outcome, rule: Rule, columns: list[str], locale: str, shares: bool) -> Table:
    grid, spec = built.grid, built.spec
    width = grid.cols + (1 if grid.total_col else 0)
    withheld = not outcome.complete

    def line(i: int) -> list[Shown]:
        if withheld:
            return [Shown("", None, Status.HIDDEN) for _ in range(width)]
        return [_cell(grid, outcome, (i, j), rule, i in built.hours_rows, locale) for j in range(width)]

    total = line(grid.rows) if grid.total_row else None
    rows = []
    for i, label in enumerate(built.row_labels):
        cells = line(i)
        if shares and total is not None:
            cells = [_with_share(cell, base, locale) for cell, base in zip(cells, total, strict=True)]
        rows.append((label, cells))
    return Table(spec.id, str(spec.title), spec.unit, spec.multi, columns, rows,
                 (built.total_label or "", total) if total is not None else None, spec.chart, withheld,
                 built.row_keys)


def _with_share(cell: Shown, base: Shown, locale: str) -> Shown:
    """Add a percentage where both the cell and its base are published and the base is large enough."""
    if cell.number is None or base.number is None or base.number < MIN_BASE:
        return cell
    share = format_percent(cell.number / base.number, locale=locale)
    return Shown(cell.text, cell.number, cell.status, share)


def _averages(overview: list[Table], columns: list[str], locale: str) -> Table | None:
    """Averages worked out from published figures only, where the base is published and at least 10."""
    cases, activity = overview
    if cases.total is None:
        return None
    active = cases.total[1]
    consultations, hours = activity.rows[0][1], activity.rows[1][1]

    def ratio(top: Shown, base: Shown, factor: float) -> Shown:
        if top.number is None or base.number is None or base.number < MIN_BASE:
            return Shown("–", None)
        value = round(top.number * factor / base.number, 1)
        return Shown(format_decimal(value, "#,##0.0", locale=locale), value)

    rows = [
        (str(_l("Consultations per active case")),
         [ratio(c, a, 1) for c, a in zip(consultations, active, strict=True)]),
        (str(_l("Minutes per consultation")), [ratio(h, c, 60) for h, c in zip(hours, consultations, strict=True)]),
    ]
    return Table("averages", str(_l("Averages")), "average", False, columns, rows, None, "")


def chart_of(table: Table) -> Markup | None:
    """Chart the last column (all selected sites, or the one site) of a table."""
    if table.withheld or not table.chart or not table.rows:
        return None
    labels = [label for label, _ in table.rows]
    last = [cells[-1] for _, cells in table.rows]
    if table.chart == "lines":
        return charts.lines(table.title, labels, [cell.number for cell in last])
    return charts.bars(table.title, labels, [cell.number for cell in last], [cell.text for cell in last])
