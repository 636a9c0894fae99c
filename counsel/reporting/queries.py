"""The counts behind a report, aggregated in SQL over the statistics' copy of the cases.

Only counsel.models.statistics is read: each case's codes in one narrow row under a small
integer key, and its consultations already summed per month, quarter and year with a count per
code (kept current by counsel.reporting.facts). Never a name, a number or a row of ciphertext,
and only cases whose statistics consent is valid on the day the report is made.

Two statements. The first gathers the counted cases once (a common table expression) and
groups them several ways in one UNION ALL; the second sums the consultations of the period per
site, one column per code, from one row per person: the quarter's or year's row where the
period is one, else the months' rows summed per person first. Python sees grouped rows only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import CTE, ColumnElement, Select, String, and_, case, cast, func, literal, or_, select, text, union_all

from counsel import codes
from counsel.extensions import db
from counsel.models.statistics import ACTIVITY_CODES, CaseFacts, FactLanguage, FactRisk, activity, code_column
from counsel.reporting.facts import counted_on, violence_bit
from counsel.reporting.periods import Period

# Codes counted once per person: report key -> column of the case's facts.
CASE_CODES = {
    "age_band": CaseFacts.age_band,
    "country": CaseFacts.country,
    "residence_status": CaseFacts.residence_status,
    "perpetrator_relation": CaseFacts.perpetrator_relation,
    "referral_source": CaseFacts.referral_source,
    "preferred": CaseFacts.preferred_language,
}
GRAINS = frozenset({"month", "quarter", "year"})


@dataclass(frozen=True)
class Activity:
    """Consultations, the distinct people they were with, and their minutes."""

    consultations: int = 0
    people: int = 0
    minutes: int = 0


@dataclass
class Figures:
    """Raw counts per site: what a report is made of before any suppression."""

    site_ids: list[int]
    opened: dict[tuple[int, date], int] = field(default_factory=dict)
    closed: dict[tuple[int, date], int] = field(default_factory=dict)
    excluded: dict[int, int] = field(default_factory=dict)  # active cases per site left out: no consent
    people: dict[str, dict[tuple[int, str], int]] = field(default_factory=dict)
    activity: dict[str, dict[tuple[int, str], Activity]] = field(default_factory=dict)


def collect(period: Period, site_ids: Sequence[int], day: date) -> Figures:
    """Count everything a report shows for these sites and this period, as consents stand on `day`."""
    figures = Figures(sorted(site_ids))
    if not site_ids:
        return figures
    if db.session.get_bind().dialect.name == "postgresql":
        # The planner overestimates these groupings and would spend seconds compiling them (JIT)
        # to save milliseconds; and their sorts fit in memory. Both only for this transaction.
        db.session.execute(text("SET LOCAL jit = off"))
        db.session.execute(text("SET LOCAL work_mem = '64MB'"))
    counted = _counted(period, site_ids, day)
    _read_people(figures, period, site_ids, counted)
    _read_activity(figures, period, site_ids, day)
    return figures


def _counted(period: Period, site_ids: Sequence[int], day: date) -> Select[Any]:
    return select(CaseFacts).where(CaseFacts.site_id.in_(site_ids), CaseFacts.opened_month <= period.end,
                                   counted_on(day))


def _active(facts: Any, period: Period) -> ColumnElement[bool]:
    return and_(facts.opened_month <= period.end, or_(facts.closed_month.is_(None), facts.closed_month >= period.start))


def _read_people(figures: Figures, period: Period, site_ids: Sequence[int], counted_query: Select[Any]) -> None:
    counted = counted_query.cte("counted")
    people = select(counted).where(or_(counted.c.closed_month.is_(None),
                                       counted.c.closed_month >= period.start)).cte("people")
    selected = (select(literal("selected").label("kind"), CaseFacts.site_id, literal("").label("key"),
                       func.count().label("n"), literal(0).label("people"), literal(0).label("minutes"))
                .where(CaseFacts.site_id.in_(site_ids), _active(CaseFacts, period)).group_by(CaseFacts.site_id))
    parts = [
        selected,
        _grouped("opened", counted, counted.c.opened_month),
        _grouped("closed", counted, counted.c.closed_month, counted.c.closed_month.is_not(None)),
        _grouped("active", people, None),
        *(_grouped(name, people, people.c[column.key]) for name, column in CASE_CODES.items()),
        _grouped("violence", people, people.c.violence),
        _grouped("language", people, FactLanguage.tag, join=(FactLanguage, FactLanguage.fact_id == people.c.id)),
        _risk(people, period),
        _months(counted, period),
    ]
    in_selection: dict[int, int] = {}
    active: dict[int, int] = {}
    for row in db.session.execute(union_all(*parts)):
        n = int(row.n or 0)  # PostgreSQL gives the union's sums as numeric
        if row.kind == "opened":
            figures.opened[(row.site_id, _month(row.key))] = n
        elif row.kind == "closed":
            figures.closed[(row.site_id, _month(row.key))] = n
        elif row.kind == "selected":
            in_selection[row.site_id] = n
        elif row.kind == "active":
            active[row.site_id] = n
        elif row.kind == "violence":  # one row per combination of forms: each form it holds counts
            for form in codes.VIOLENCE_FORMS:
                if int(row.key) & violence_bit(form):
                    counts = figures.people.setdefault("violence", {})
                    counts[(row.site_id, form)] = counts.get((row.site_id, form), 0) + n
        elif row.kind == "month":
            month = _month(row.key)
            figures.activity.setdefault("month", {})[(row.site_id, f"{month.year * 100 + month.month}")] = Activity(
                n, int(row.people), int(row.minutes or 0))
        else:
            figures.people.setdefault(row.kind, {})[(row.site_id, row.key)] = n
    figures.excluded = {site: n - active.get(site, 0) for site, n in in_selection.items()}


def _month(value: Any) -> date:
    """Read a month back from either database (a date, or its ISO text after the cast)."""
    if isinstance(value, date):
        return value.replace(day=1)
    return date.fromisoformat(str(value)[:10]).replace(day=1)


def _grouped(kind: str, source: CTE, key: Any, *conditions: ColumnElement[bool],
             join: tuple[Any, ColumnElement[bool]] | None = None) -> Select[Any]:
    """People of a selection grouped by site and key: (kind, site, key, people, 0, 0)."""
    key_column: ColumnElement[Any] = func.coalesce(cast(key, String), "") if key is not None else literal("")
    query = select(literal(kind).label("kind"), source.c.site_id, key_column.label("key"), func.count().label("n"),
                   literal(0).label("people"), literal(0).label("minutes")).select_from(source)
    if join is not None:
        query = query.join(join[0], join[1])
    return query.where(*conditions).group_by(source.c.site_id, *([key] if key is not None else []))


def _risk(people: CTE, period: Period) -> Select[Any]:
    """People by the level of their latest risk assessment up to the period's end, or none.

    The latest level is a correlated lookup per person (index on fact and day), which both
    databases run in a single pass, unlike a join to a ranked subquery.
    """
    level = (select(FactRisk.level).where(FactRisk.fact_id == people.c.id, FactRisk.assessed_on <= period.last_day)
             .order_by(FactRisk.assessed_on.desc(), FactRisk.created_at.desc(), FactRisk.id.desc())
             .limit(1).correlate(people).scalar_subquery())
    levels = select(people.c.site_id, func.coalesce(level, "").label("level")).subquery("levels")
    return (select(literal("risk").label("kind"), levels.c.site_id, levels.c.level.label("key"),
                   func.count().label("n"), literal(0).label("people"), literal(0).label("minutes"))
            .group_by(levels.c.site_id, levels.c.level))


def _months(counted: CTE, period: Period) -> Select[Any]:
    """Consultations, people and minutes per site and month; a month's row of a case is one person."""
    months = activity.alias("months")
    return (select(literal("month").label("kind"), months.c.site_id, cast(months.c.start, String).label("key"),
                   func.sum(months.c.consultations).label("n"), func.count().label("people"),
                   func.sum(months.c.minutes).label("minutes"))
            .where(months.c.grain == "month", months.c.start >= period.start, months.c.start <= period.end,
                   _among(months.c.fact_id, counted))
            .group_by(months.c.site_id, months.c.start))


def _among(fact_id: Any, counted: Any) -> ColumnElement[bool]:
    """The fact is a counted one. `+ 0` keeps SQLite from driving the scan through this lookup
    (it would look up every counted case in the period's rows instead of the other way round)."""
    shifted: ColumnElement[int] = fact_id + 0
    return shifted.in_(select(counted.c.id))


def _read_activity(figures: Figures, period: Period, site_ids: Sequence[int], day: date) -> None:
    """Consultations per site and code, with the distinct people they were with, and their minutes."""
    counted = _counted(period, site_ids, day).subquery("counted")
    columns = ["consultations", "minutes",
               *(code_column(kind, code) for kind, values in ACTIVITY_CODES.items() for code in values)]
    rows = activity.alias("rows")
    span = [rows.c.start >= period.start, rows.c.start <= period.end, _among(rows.c.fact_id, counted)]
    if period.kind in GRAINS:  # one row per person already: the quarter's, the year's, the month's
        per_person: Any = (select(rows.c.site_id, *(rows.c[name] for name in columns))
                           .where(rows.c.grain == period.kind, rows.c.start == period.start, *span[2:])
                           .subquery("per_person"))
    else:  # a run of months: sum each person's months first
        per_person = (select(rows.c.site_id, *(func.sum(rows.c[name]).label(name) for name in columns))
                      .where(rows.c.grain == "month", *span).group_by(rows.c.fact_id, rows.c.site_id)
                      .subquery("per_person"))
    sums: list[Any] = [per_person.c.site_id, func.count().label("people")]
    for name in columns:
        sums += [func.sum(per_person.c[name]).label(name),
                 func.sum(case((per_person.c[name] > 0, 1), else_=0)).label(f"{name}_people")]
    for row in db.session.execute(select(*sums).group_by(per_person.c.site_id)).mappings():
        site = row["site_id"]
        figures.activity.setdefault("all", {})[(site, "")] = Activity(
            int(row["consultations"] or 0), int(row["people"]), int(row["minutes"] or 0))
        for kind, values in ACTIVITY_CODES.items():
            for code in values:
                name = code_column(kind, code)
                if n := int(row[name] or 0):
                    figures.activity.setdefault(kind, {})[(site, code)] = Activity(n, int(row[f"{name}_people"]))
