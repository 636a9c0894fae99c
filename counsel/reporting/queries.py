"""The counts behind a report, aggregated in SQL: two GROUP BY statements over coded columns only.

Only plaintext codes are read (site, months, age band, country, …), never a name, number or
ciphertext, and only of cases whose statistics consent is valid on the day the report is made.
One statement: the counted cases are gathered once (a common table expression, read from a
narrow covering index) and grouped several ways in one UNION ALL; consultations, topics and
referrals of the period are summed per person first, with a column per code (conditional
sums), so each is read once and only one row per person meets the counted cases.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import (
    CTE,
    ColumnElement,
    Select,
    String,
    and_,
    case,
    cast,
    func,
    literal,
    or_,
    select,
    text,
    union_all,
)

from counsel import codes
from counsel.extensions import db
from counsel.models.case import Case, CaseLanguage, CaseViolenceForm
from counsel.models.consultation import Consultation, ConsultationReferral, ConsultationTopic
from counsel.models.safety import RiskAssessment
from counsel.reporting.periods import Period, add_months
from counsel.services.consent import statistics_case_ids

# Case codes counted once per person: report key -> column of cases.
ACTIVITY = frozenset({"all", "channel", "interpreting", "month", "topic", "referral"})
CASE_CODES = {
    "age_band": Case.age_band,
    "country": Case.country,
    "residence_status": Case.residence_status,
    "perpetrator_relation": Case.perpetrator_relation,
    "referral_source": Case.referral_source,
}


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
    # A closing month before the opening month (a data error) counts as the opening month, so a
    # new or closed case is always an active one too.
    closed = case((Case.closed_month < Case.opened_month, Case.opened_month), else_=Case.closed_month)
    counted = select(Case.id, Case.site_id, Case.opened_month, closed.label("closed_month"),
                     *CASE_CODES.values()).where(
        Case.site_id.in_(site_ids), Case.opened_month <= period.end, Case.id.in_(statistics_case_ids(day)),
    ).cte("counted")
    people = select(counted).where(or_(counted.c.closed_month.is_(None),
                                       counted.c.closed_month >= period.start)).cte("people")
    selected = (select(literal("selected").label("kind"), Case.site_id, literal("").label("key"),
                       func.count().label("n"), literal(0).label("people"), literal(0).label("minutes"))
                .where(Case.site_id.in_(site_ids), Case.opened_month <= period.end,
                       or_(closed.is_(None), closed >= period.start))
                .group_by(Case.site_id))
    parts = [
        selected,
        _grouped("opened", counted, counted.c.opened_month),
        _grouped("closed", counted, counted.c.closed_month, counted.c.closed_month.is_not(None)),
        _grouped("active", people, None),
        *(_grouped(name, people, people.c[name]) for name in CASE_CODES),
        _grouped("violence", people, CaseViolenceForm.form, join=(CaseViolenceForm,
                                                                  CaseViolenceForm.case_id == people.c.id)),
        _grouped("language", people, CaseLanguage.tag, join=(CaseLanguage, CaseLanguage.case_id == people.c.id)),
        _preferred(people),
        _risk(people, period),
    ]
    for group in _consultations(period, counted):
        parts += group
    if db.session.get_bind().dialect.name == "postgresql":
        # The planner overestimates these groupings and would spend seconds compiling them (JIT)
        # to save milliseconds; and their sorts fit in memory. Both only for this transaction.
        db.session.execute(text("SET LOCAL jit = off"))
        db.session.execute(text("SET LOCAL work_mem = '64MB'"))
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
        elif row.kind in ACTIVITY:
            if n:
                figures.activity.setdefault(row.kind, {})[(row.site_id, row.key)] = Activity(
                    n, int(row.people), int(row.minutes or 0))
        else:
            figures.people.setdefault(row.kind, {})[(row.site_id, row.key)] = n
    figures.excluded = {site: n - active.get(site, 0) for site, n in in_selection.items()}
    return figures


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


def _preferred(people: CTE) -> Select[Any]:
    """People by preferred language; an outer join, so people without one are counted too."""
    preferred = select(CaseLanguage.case_id, CaseLanguage.tag).where(CaseLanguage.preferred).subquery("preferred")
    return (select(literal("preferred").label("kind"), people.c.site_id,
                   func.coalesce(preferred.c.tag, "").label("key"), func.count().label("n"),
                   literal(0).label("people"), literal(0).label("minutes"))
            .select_from(people).outerjoin(preferred, preferred.c.case_id == people.c.id)
            .group_by(people.c.site_id, preferred.c.tag))


def _risk(people: CTE, period: Period) -> Select[Any]:
    """People by the level of their latest risk assessment up to the period's end, or none.

    The latest level is a correlated lookup per person (index on case_id), which both databases
    run in a single pass, unlike a join to a ranked subquery.
    """
    level = (select(RiskAssessment.level).where(RiskAssessment.case_id == people.c.id,
                                                RiskAssessment.assessed_on <= period.last_day)
             .order_by(RiskAssessment.assessed_on.desc(), RiskAssessment.created_at.desc(), RiskAssessment.id)
             .limit(1).correlate(people).scalar_subquery())
    levels = select(people.c.site_id, func.coalesce(level, "").label("level")).subquery("levels")
    return (select(literal("risk").label("kind"), levels.c.site_id, levels.c.level.label("key"),
                   func.count().label("n"), literal(0).label("people"), literal(0).label("minutes"))
            .group_by(levels.c.site_id, levels.c.level))


# Minutes are summed only where a report shows hours: in all and per month.
TIMED = frozenset({"all", "month"})
Bucket = tuple[str, str, Any]  # (kind, key, what a consultation or code row must match; None: all)


def _consultations(period: Period, counted: CTE) -> list[list[Select[Any]]]:
    """Consultations per site and code, with the distinct people they were with, and their minutes.

    Each source (the consultations, their topics, their referrals) is read once for the period,
    summed per person with a column per code and month; only those per-person rows meet the
    counted cases, and are summed per site. A person counts for a code where her column is
    above zero, so distinct people need no DISTINCT.
    """
    in_period = _within(Consultation.held_on, period)
    visits: list[Bucket] = [("all", "", None)]
    visits += [("channel", code, Consultation.channel == code) for code in codes.CHANNELS]
    visits += [("interpreting", code, Consultation.interpreting == code) for code in codes.INTERPRETING]
    visits += [("month", f"{m.year * 100 + m.month}",
                and_(Consultation.held_on >= m, Consultation.held_on < add_months(m, 1))) for m in period.months]
    topics = [("topic", code, ConsultationTopic.topic == code) for code in codes.TOPICS]
    referrals = [("referral", code, ConsultationReferral.referral == code) for code in codes.REFERRALS]
    return [
        _per_site("visits", visits, Consultation, in_period, counted, Consultation.minutes),
        # Topic and referral rows carry their consultation's case and day: no join to consultations.
        _per_site("topics", topics, ConsultationTopic, _within(ConsultationTopic.held_on, period), counted),
        _per_site("referrals", referrals, ConsultationReferral, _within(ConsultationReferral.held_on, period),
                  counted),
    ]


def _within(day: Any, period: Period) -> ColumnElement[bool]:
    return and_(day >= period.start, day <= period.last_day)


def _per_site(name: str, buckets: list[Bucket], source: Any, in_period: ColumnElement[bool],
              counted: CTE, minutes: Any = None) -> list[Select[Any]]:
    columns: list[Any] = [source.case_id]
    timed = [minutes is not None and kind in TIMED for kind, _, _ in buckets]
    for n, (_, _, match) in enumerate(buckets):
        count: Any = func.count()
        total: Any = func.sum(minutes)
        if match is not None:  # aggregate FILTER (WHERE …): SQLite 3.30+ and PostgreSQL
            count, total = count.filter(match), total.filter(match)
        columns.append(count.label(f"n{n}"))
        if timed[n]:
            columns.append(total.label(f"m{n}"))
    per_person = select(*columns).where(in_period).group_by(source.case_id).subquery(name)
    sums: list[Any] = [counted.c.site_id]
    for n in range(len(buckets)):
        sums += [func.sum(per_person.c[f"n{n}"]).label(f"n{n}"),
                 func.sum(case((per_person.c[f"n{n}"] > 0, 1), else_=0)).label(f"p{n}"),
                 func.sum(per_person.c[f"m{n}"]).label(f"m{n}") if timed[n] else literal(0).label(f"m{n}")]
    per_site = (select(*sums).join(counted, counted.c.id == per_person.c.case_id).group_by(counted.c.site_id)
                .cte(f"{name}_per_site"))
    return [select(literal(kind).label("kind"), per_site.c.site_id, literal(key).label("key"),
                   per_site.c[f"n{n}"].label("n"), per_site.c[f"p{n}"].label("people"),
                   per_site.c[f"m{n}"].label("minutes"))
            for n, (kind, key, _) in enumerate(buckets)]
