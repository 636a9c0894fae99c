"""The counts behind a report, aggregated in SQL over the statistics' copy of the cases.

Only counsel.models.statistics is read: each case's codes in one narrow row under a small
integer key, and its consultations already summed per month, quarter and year with a count per
code (kept current by counsel.reporting.facts). Never a name, a number or a row of ciphertext,
and only cases whose statistics consent is valid on the day the report is made.

One statement: the counted cases are gathered once (a common table expression) and grouped
several ways in one UNION ALL; their consultations of the period are summed per site, a column
per code, from one row per person (the quarter's or year's row where the period is one, else
the months' rows summed per person first), and each column pair becomes a row of the union.
Python sees grouped rows only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import CTE, ColumnElement, Select, String, and_, cast, func, literal, or_, select, text, union_all

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
ACTIVITY = frozenset({"all", *ACTIVITY_CODES})


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
    active: dict[int, int] = field(default_factory=dict)  # counted cases active in the period, per site
    opened: dict[tuple[int, date], int] = field(default_factory=dict)  # of those, opened per month of the period
    closed: dict[tuple[int, date], int] = field(default_factory=dict)  # and closed per month of the period
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
    _read(figures, period, site_ids, day)
    return figures


def _consenting(site_ids: Sequence[int], day: date) -> CTE:
    """The cases of the sites whose consent to be counted is valid on the day (their keys)."""
    return (select(CaseFacts.id).where(CaseFacts.site_id.in_(site_ids), counted_on(day))
            .cte("consenting").prefix_with("MATERIALIZED"))


def _people(period: Period, consenting: CTE) -> CTE:
    """The counted people: consenting cases active in the period, with their codes."""
    facts = CaseFacts
    return (select(facts.id, facts.site_id, facts.opened_month, facts.closed_month, facts.violence,
                   *CASE_CODES.values())
            .where(_active(facts, period), facts.id.in_(select(consenting.c.id))).cte("people"))


def _active(facts: Any, period: Period) -> ColumnElement[bool]:
    return and_(facts.opened_month <= period.end, or_(facts.closed_month.is_(None), facts.closed_month >= period.start))


def _read(figures: Figures, period: Period, site_ids: Sequence[int], day: date) -> None:
    consenting = _consenting(site_ids, day)
    people = _people(period, consenting)
    selected = (select(literal("selected").label("kind"), CaseFacts.site_id, literal("").label("key"),
                       func.count().label("n"), literal(0).label("people"), literal(0).label("minutes"))
                .where(CaseFacts.site_id.in_(site_ids), _active(CaseFacts, period)).group_by(CaseFacts.site_id))
    parts = [
        selected,
        _grouped("opened", people, people.c.opened_month, people.c.opened_month >= period.start),
        _grouped("closed", people, people.c.closed_month, people.c.closed_month <= period.end),
        _grouped("active", people, None),
        *(_grouped(name, people, people.c[column.key]) for name, column in CASE_CODES.items()),
        _grouped("violence", people, people.c.violence),
        _grouped("language", people, FactLanguage.tag, join=(FactLanguage, FactLanguage.fact_id == people.c.id)),
        _risk(people, period),
        _months(consenting, period),
        *_activity(consenting, period),
    ]
    in_selection: dict[int, int] = {}
    for row in db.session.execute(union_all(*parts)):
        n = int(row.n or 0)  # PostgreSQL gives the union's sums as numeric
        if row.kind == "opened":
            figures.opened[(row.site_id, _month(row.key))] = n
        elif row.kind == "closed":
            figures.closed[(row.site_id, _month(row.key))] = n
        elif row.kind == "selected":
            in_selection[row.site_id] = n
        elif row.kind == "active":
            figures.active[row.site_id] = n
        elif row.kind == "violence":  # one row per combination of forms: each form it holds counts
            for form in codes.VIOLENCE_FORMS:
                if int(row.key) & violence_bit(form):
                    counts = figures.people.setdefault("violence", {})
                    counts[(row.site_id, form)] = counts.get((row.site_id, form), 0) + n
        elif row.kind == "month":
            month = _month(row.key)
            figures.activity.setdefault("month", {})[(row.site_id, f"{month.year * 100 + month.month}")] = Activity(
                n, int(row.people), int(row.minutes or 0))
        elif row.kind in ACTIVITY:
            if n:
                figures.activity.setdefault(row.kind, {})[(row.site_id, row.key)] = Activity(
                    n, int(row.people), int(row.minutes or 0))
        else:
            figures.people.setdefault(row.kind, {})[(row.site_id, row.key)] = n
    figures.excluded = {site: n - figures.active.get(site, 0) for site, n in in_selection.items()}


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

    Each assessment knows the day of the next one, so the latest by the period's end is the one
    whose span holds that day: an outer join, at most one row per person.
    """
    end = period.last_day
    latest = and_(FactRisk.fact_id == people.c.id, FactRisk.assessed_on <= end,
                  or_(FactRisk.next_on.is_(None), FactRisk.next_on > end))
    level = func.coalesce(FactRisk.level, "")
    return (select(literal("risk").label("kind"), people.c.site_id, level.label("key"), func.count().label("n"),
                   literal(0).label("people"), literal(0).label("minutes"))
            .select_from(people).outerjoin(FactRisk, latest).group_by(people.c.site_id, level))


def _months(consenting: CTE, period: Period) -> Select[Any]:
    """Consultations, people and minutes per site and month; a month's row of a case is one person."""
    months = activity.alias("months")
    return (select(literal("month").label("kind"), months.c.site_id, cast(months.c.start, String).label("key"),
                   func.sum(months.c.consultations).label("n"), func.count().label("people"),
                   func.sum(months.c.minutes).label("minutes"))
            .where(months.c.grain == "month", months.c.start >= period.start, months.c.start <= period.end,
                   _among(months.c.fact_id, consenting))
            .group_by(months.c.site_id, months.c.start))


def _among(fact_id: Any, consenting: Any) -> ColumnElement[bool]:
    """The fact is a consenting one. `+ 0` keeps SQLite from driving the scan through this lookup
    (it would look up every counted case in the period's rows instead of the other way round)."""
    shifted: ColumnElement[int] = fact_id + 0
    return shifted.in_(select(consenting.c.id))


def _activity(consenting: CTE, period: Period) -> list[Select[Any]]:
    """Consultations per site and code, with the distinct people they were with, and their minutes.

    Summed once per site into one wide row (a column and a people column per code); each code's
    pair of columns is then one row of the union: (kind, site, code, consultations, people, 0).
    """
    columns = ["consultations", "minutes",
               *(code_column(kind, code) for kind, values in ACTIVITY_CODES.items() for code in values)]
    rows = activity.alias("rows")
    among = _among(rows.c.fact_id, consenting)
    if period.kind in GRAINS:  # one row per person already: the quarter's, the year's, the month's
        per_person: Any = (select(rows.c.site_id, *(rows.c[name] for name in columns))
                           .where(rows.c.grain == period.kind, rows.c.start == period.start, among)
                           .subquery("per_person"))
    else:  # a run of months: sum each person's months first
        per_person = (select(rows.c.site_id, *(func.sum(rows.c[name]).label(name) for name in columns))
                      .where(rows.c.grain == "month", rows.c.start >= period.start, rows.c.start <= period.end,
                             among)
                      .group_by(rows.c.fact_id, rows.c.site_id).subquery("per_person"))
    sums: list[Any] = [per_person.c.site_id, func.count().label("people")]
    for name in columns:  # a code's column is NULL for people who did not have it
        sums += [func.sum(per_person.c[name]).label(name), func.count(per_person.c[name]).label(f"{name}_people")]
    per_site = select(*sums).group_by(per_person.c.site_id).cte("activity_per_site").prefix_with("MATERIALIZED")
    parts = [select(literal("all").label("kind"), per_site.c.site_id, literal("").label("key"),
                    per_site.c.consultations.label("n"), per_site.c.people, per_site.c.minutes)]
    for kind, values in ACTIVITY_CODES.items():
        for code in values:
            name = code_column(kind, code)
            parts.append(select(literal(kind).label("kind"), per_site.c.site_id, literal(code).label("key"),
                                per_site.c[name].label("n"), per_site.c[f"{name}_people"].label("people"),
                                literal(0).label("minutes")))
    return parts
