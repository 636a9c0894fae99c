"""A whole report: counts from SQL, tables protected together, every figure ready to publish.

Tables share figures (each table of cases ends in the same people per site), so suppression
runs over all of them until a figure hidden in one table is hidden in every table that shows
it. What leaves this module is text and published numbers only, never a raw count.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

from babel import Locale
from babel.dates import format_date
from babel.numbers import format_decimal, format_percent
from flask_babel import lazy_gettext as _l
from markupsafe import Markup

from counsel.languages import language_name
from counsel.reporting import charts, linked, queries
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
UNSUMMED_MARK = "…"


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
    # Some of the sites she supervises, cut from tables protected over all of them: a "<k" may
    # then stand for 0 too (the zero rule follows totals this report does not show).
    partial: bool = False
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


def make(period: Period, sites: Sequence[SiteRef], scope: Sequence[SiteRef], audience: str, rule: Rule, day: date,
         locale: str, floor: Rule | None = None) -> Report:
    """Count, protect and lay out the report for the chosen sites out of all she supervises.

    Tables are protected over the whole `scope` and only then cut down to the chosen sites, so a
    site's cells are hidden alike in every report of the period, whichever sites are chosen with
    it: two reports for different selections cannot be set against each other. `floor` is the
    team's rule under a funder's stricter one: whatever the team's report hides stays hidden.
    """
    figures = queries.collect(period, [site.id for site in scope], day)
    return build(figures, period, sites, audience, rule, locale, floor)


def build(figures: Figures, period: Period, sites: Sequence[SiteRef], audience: str, rule: Rule,
          locale: str, floor: Rule | None = None) -> Report:
    """Lay out a report from counts already made over the scope (the pure half of `make`)."""
    chosen = sorted(sites, key=lambda site: site.id)
    ui = Locale.parse(locale)
    builder = Builder(figures, period, (floor or rule).min_cell,
                      name_country=lambda code: str(ui.territories.get(code, code)),
                      name_language=lambda tag: language_name(tag, locale))
    view = View([figures.site_ids.index(site.id) for site in chosen], len(figures.site_ids))
    people = sum(builder.active(site.id) for site in chosen)
    report = Report(period, chosen, audience, rule, too_few=people < rule.min_cell, excluded=Shown("", None),
                    partial=not view.whole)
    if report.too_few:
        return report
    overview = [builder.overview_cases(), builder.overview_closings(), builder.overview_activity(),
                builder.overview_excluded()]
    cases = [b for b in (builder.case_table(spec) for spec in CASE_TABLES) if b is not None]
    activity = [b for b in (builder.activity_table(spec) for spec in ACTIVITY_TABLES) if b is not None]
    trends = [builder.trend_table(spec, lambda m: format_date(m, "MMM yyyy", locale=locale))
              for spec in TREND_TABLES]
    everything = [*overview, *cases, *activity, *trends]
    outcomes = protect_together(everything, rule, protect_together(everything, floor) if floor else {})
    columns = [site.name for site in chosen] + ([str(_l("All selected sites"))] if len(chosen) > 1 else [])

    def lay_out(built: Built, shares: bool = False) -> Table:
        return _table(built, outcomes[built.spec.id], rule, view, columns, locale, shares)

    report.overview = [lay_out(b) for b in overview]
    report.excluded = report.overview[-1].rows[0][1][-1]  # the cases left out, in all (or at the one site)
    report.averages = _averages(report.overview, columns, locale)
    report.cases = [lay_out(b, shares=True) for b in cases]
    report.activity = [lay_out(b, shares=True) for b in activity]
    report.trends = [lay_out(b) for b in trends]
    if rule.rounding <= 1 and (active := active_by_month(report, locale)) is not None:
        report.trends.insert(2, active)
    return report


@dataclass(frozen=True)
class View:
    """Which columns of the protected grid (one per site of the scope) a report shows."""

    columns: list[int]
    scope: int

    @property
    def whole(self) -> bool:
        return len(self.columns) == self.scope


def protect_together(builts: Sequence[Built], rule: Rule,
                     floor: Mapping[str, Outcome] | None = None) -> dict[str, Outcome]:
    """Protect every table, and the tables together where they share a hidden figure.

    A shared figure hidden in one table is hidden in every table that shows it; then tables
    joined by hidden shared figures are solved together (counsel.reporting.linked), and a cell
    is hidden wherever they pin a figure between them. `floor` holds the outcomes under a milder
    rule; every cell suppressed there stays suppressed.
    """
    grids = {built.spec.id: built.grid for built in builts}
    forced: set[Hashable] = set()
    extra: dict[str, set[tuple[int, int]]] = {table: set() for table in grids}
    while True:
        outcomes = {table: protect(grid, rule, forced, [*(floor[table].suppressed() if floor else ()),
                                                         *extra[table]])
                    for table, grid in grids.items()}
        hidden = {grid.keys[pos] for table, grid in grids.items() for pos, status in outcomes[table].status.items()
                  if status is Status.HIDDEN and pos in grid.keys}
        if not hidden <= forced:
            forced |= hidden
            continue
        exposure = linked.exposed(grids, outcomes, rule)
        if exposure is None:
            return outcomes
        choice = linked.complement(grids, outcomes, rule, exposure)
        if choice is None:  # nothing left to hide: withhold the linked tables whole
            return {table: Outcome(outcome.status, complete=False) if table in exposure.tables else outcome
                    for table, outcome in outcomes.items()}
        extra[choice[0]].add(choice[1])


def _number(value: int, rule: Rule, hours: bool, locale: str) -> Shown:
    """A published value: a count rounded by the rule, or minutes shown as hours."""
    if not hours:
        number = rule.publish(value)
        return Shown(format_decimal(number, locale=locale), number)
    if rule.rounding > 1:  # whole hours, rounded like counts: some counselling never rounds to none
        whole = rule.publish(max(1, round(value / 60)) if value > 0 else 0)
        return Shown(format_decimal(whole, locale=locale), whole)
    exact = round(value / 60, 1)
    return Shown(format_decimal(exact, "#,##0.0", locale=locale), exact)


def _cell(grid: Grid, outcome: Outcome, pos: tuple[int, int], rule: Rule, hours: bool, locale: str) -> Shown:
    status = outcome.status[pos]
    if status is Status.SMALL:
        return Shown(f"<{rule.min_cell}", None, status)
    if status is Status.HIDDEN:
        return Shown(HIDDEN_MARK, None, status)
    return _number(grid.cells[pos].value, rule, hours, locale)


def _sum_cell(grid: Grid, outcome: Outcome, row: int, view: View, rule: Rule, hours: bool, locale: str) -> Shown:
    """The total over the chosen sites: the protected total when all are chosen, else their sum,
    published only where every part is (so it tells nothing the parts do not)."""
    if view.whole:
        return _cell(grid, outcome, (row, grid.cols), rule, hours, locale)
    parts = [(row, j) for j in view.columns]
    if any(outcome.status[pos] is not Status.SHOWN for pos in parts):
        return Shown(UNSUMMED_MARK, None, Status.UNSUMMED)
    return _number(sum(grid.cells[pos].value for pos in parts), rule, hours, locale)


def _table(built: Built, outcome: Outcome, rule: Rule, view: View, columns: list[str], locale: str,
           shares: bool) -> Table:
    grid, spec = built.grid, built.spec
    withheld = not outcome.complete

    def line(i: int) -> list[Shown]:
        if withheld:
            return [Shown("", None, Status.HIDDEN) for _ in columns]
        hours = i in built.hours_rows
        cells = [_cell(grid, outcome, (i, j), rule, hours, locale) for j in view.columns]
        if len(view.columns) > 1:
            cells.append(_sum_cell(grid, outcome, i, view, rule, hours, locale))
        return cells

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
    tables = {table.id: table for table in overview}
    cases, activity = tables["cases"], tables["activity"]
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


def active_by_month(report: Report, locale: str) -> Table | None:
    """Active cases in each month, worked out from published figures only (exact figures only).

    A case active in the period and not in month m was opened after m or closed before it, so
    active(m) = active in the period - new cases after m - closed cases before m. Where one of
    these is not published the month shows "–": the table tells nothing the others do not.
    """
    tables = {table.id: table for table in [*report.overview, *report.trends]}
    cases, new, closed = tables["cases"], tables["trend_new"], tables["trend_closed"]
    if cases.total is None:
        return None
    rows = []
    for m, (label, _) in enumerate(new.rows):
        cells = []
        for c, active in enumerate(cases.total[1]):
            parts = [active.number, *(cells_[c].number for _, cells_ in new.rows[m + 1:]),
                     *(cells_[c].number for _, cells_ in closed.rows[:m])]
            known = [part for part in parts if part is not None]
            if len(known) < len(parts):
                cells.append(Shown("–", None))
                continue
            value = int(2 * known[0] - sum(known))
            cells.append(Shown(format_decimal(value, locale=locale), value))
        rows.append((label, cells))
    return Table("trend_active", str(_l("Active cases per month (worked out from the figures above)")), "derived",
                 False, new.columns, rows, None, "lines", keys=new.keys)


def chart_of(table: Table) -> Markup | None:
    """Chart the last column (all selected sites, or the one site) of a table."""
    if table.withheld or not table.chart or not table.rows:
        return None
    labels = [label for label, _ in table.rows]
    last = [cells[-1] for _, cells in table.rows]
    if table.chart == "lines":
        return charts.lines(table.title, labels, [cell.number for cell in last])
    return charts.bars(table.title, labels, [cell.number for cell in last], [cell.text for cell in last])
