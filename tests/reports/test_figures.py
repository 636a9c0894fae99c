"""The published figures agree with a plain count of the same seeded rows, done here in Python."""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import insert, select

from counsel.clock import today
from counsel.extensions import db
from counsel.models.case import Case, CaseLanguage, CaseViolenceForm
from counsel.models.consultation import Consultation, ConsultationReferral, ConsultationTopic
from counsel.models.safety import Consent, RiskAssessment
from counsel.models.site import Site
from counsel.reporting import facts, periods
from counsel.reporting.periods import Period
from counsel.reporting.report import Report, SiteRef, make
from counsel.reporting.suppression import Rule, Status
from counsel.reporting.tables import OTHER
from counsel.services import demo

K = 5


@pytest.fixture
def seeded(app, settings):
    """Demo cases at six sites; nine in ten consented, some withdrew; risk assessed twice for some."""
    demo.seed(settings, app.extensions["counsel.vault"], 420, consultations_per_case=6)
    rows = db.session.execute(select(Case.id, Case.owner_id, Case.opened_month).order_by(Case.number)).all()
    consents, risks = [], []
    for n, row in enumerate(rows):
        if n % 10:
            consents.append(dict(id=uuid.uuid4(), case_id=row.id, purpose="statistics", given_on=row.opened_month,
                                 given_how="written", form_version="v1", recorded_by_id=row.owner_id,
                                 withdrawn_on=today() if n % 17 == 0 else None))
        if n % 3 == 0:
            for offset, level in ((0, "standard"), (40, "high" if n % 2 else "elevated")):
                risks.append(dict(id=uuid.uuid4(), case_id=row.id, assessed_on=row.opened_month + timedelta(offset),
                                  level=level, review_on=row.opened_month, assessed_by_id=row.owner_id))
    db.session.execute(insert(Consent.__table__), consents)
    db.session.execute(insert(RiskAssessment.__table__), risks)
    facts.refresh(db.session.connection(), [row.id for row in rows])  # bulk inserts pass no ORM hook
    db.session.commit()


def counted_ids(day: date) -> set[uuid.UUID]:
    return {c.case_id for c in db.session.scalars(select(Consent)) if c.purpose == "statistics" and c.valid_on(day)}


def plain_counts(period: Period, site_ids: list[int]) -> dict[str, dict[tuple[int, str], int]]:
    """Count with loops over the rows: the independent computation the report must agree with."""
    counted = counted_ids(today())
    cases = [c for c in db.session.execute(select(Case.__table__)).all() if c.site_id in site_ids and c.id in counted]
    active = {c.id: c for c in cases
              if c.opened_month <= period.end and (c.closed_month is None or c.closed_month >= period.start)}
    out: dict[str, Counter] = defaultdict(Counter)
    for c in active.values():
        opened_in = period.start <= c.opened_month <= period.end
        closed_in = c.closed_month is not None and period.start <= c.closed_month <= period.end
        out["cases"][(c.site_id, "new" if opened_in else "carried")] += 1
        out["closings"][(c.site_id, "closed" if closed_in else "still_open")] += 1
        for month in period.months:
            if c.opened_month <= month and (c.closed_month is None or c.closed_month >= month):
                out["trend_active"][(c.site_id, f"{month:%Y-%m}")] += 1
            if c.opened_month == month:
                out["trend_new"][(c.site_id, f"{month:%Y-%m}")] += 1
            if c.closed_month == month:
                out["trend_closed"][(c.site_id, f"{month:%Y-%m}")] += 1
    for c in db.session.execute(select(Case.__table__)).all():
        if (c.site_id in site_ids and c.id not in counted and c.opened_month <= period.end
                and (c.closed_month is None or c.closed_month >= period.start)):
            out["excluded"][(c.site_id, "excluded")] += 1
    for c in active.values():
        out["age"][(c.site_id, c.age_band)] += 1
        out["residence"][(c.site_id, c.residence_status)] += 1
        out["relation"][(c.site_id, c.perpetrator_relation)] += 1
        out["referral_source"][(c.site_id, c.referral_source or "")] += 1
        out["country"][(c.site_id, c.country or "")] += 1
    for row in db.session.execute(select(CaseViolenceForm.__table__)).all():
        if row.case_id in active:
            out["violence"][(active[row.case_id].site_id, row.form)] += 1
    preferred = {}
    for row in db.session.execute(select(CaseLanguage.__table__)).all():
        if row.case_id in active:
            out["languages"][(active[row.case_id].site_id, row.tag)] += 1
            if row.preferred:
                preferred[row.case_id] = row.tag
    for case_id, c in active.items():
        out["preferred"][(c.site_id, preferred.get(case_id, ""))] += 1
    latest: dict[uuid.UUID, tuple[date, datetime, str]] = {}  # the latest assessment; same day: the later entry
    for row in db.session.execute(select(RiskAssessment.__table__)).all():
        if row.case_id in active and row.assessed_on <= period.last_day:
            if row.case_id not in latest or (row.assessed_on, row.created_at) > latest[row.case_id][:2]:
                latest[row.case_id] = (row.assessed_on, row.created_at, row.level)
    for case_id, c in active.items():
        out["risk"][(c.site_id, latest[case_id][2] if case_id in latest else "")] += 1
    site_of = {c.id: c.site_id for c in cases}
    held = {}
    for v in db.session.execute(select(Consultation.__table__)).all():
        if v.case_id in site_of and period.start <= v.held_on <= period.last_day:
            site = site_of[v.case_id]
            held[v.id] = site
            out["channel"][(site, v.channel)] += 1
            out["interpreting"][(site, v.interpreting)] += 1
            out["trend_consultations"][(site, f"{v.held_on:%Y-%m}")] += 1
            out["activity"][(site, "consultations")] += 1
            out["minutes"][(site, "all")] += v.minutes
    for row in db.session.execute(select(ConsultationTopic.__table__)).all():
        if row.consultation_id in held:
            out["topics"][(held[row.consultation_id], row.topic)] += 1
    for row in db.session.execute(select(ConsultationReferral.__table__)).all():
        if row.consultation_id in held:
            out["referrals"][(held[row.consultation_id], row.referral)] += 1
    return out


def grouped(counts: Counter, min_cell: int) -> Counter:
    """Countries and preferred languages too rare to show alone, summed as one row."""
    totals: Counter = Counter()
    for (_, key), n in counts.items():
        totals[key] += n
    rare = {key for key, n in totals.items() if key and n < min_cell}
    result: Counter = Counter()
    for (site, key), n in counts.items():
        result[(site, OTHER if key in rare else key)] += n
    return result


def compare(report: Report, expected, rule: Rule) -> int:
    """Check every published number against the plain count; return how many were checked.

    Rare countries and languages are grouped by the team's k, under the funders' rule too.
    """
    site_ids = [site.id for site in report.sites]
    checked = 0
    for table in report.tables:
        counts = expected.get(table.id)
        if counts is None or table.withheld:
            continue
        if table.id in ("country", "preferred"):
            counts = grouped(counts, K)
        for key, (_, cells) in zip(table.keys, table.rows, strict=True):
            if key == "hours":  # minutes shown as hours: compared on their own below
                continue
            values = [counts[(site, key)] for site in site_ids]
            for value, cell in zip([*values, sum(values)], cells, strict=False):
                if table.unit == "derived":  # worked out from published figures: exact where shown
                    assert cell.number in (None, value), (table.id, key, value, cell)
                    checked += cell.number is not None
                elif cell.status is Status.SHOWN:
                    assert cell.number == rule.publish(value), (table.id, key, value, cell)
                    checked += 1
                elif cell.status is Status.SMALL:  # consultations: hidden because few people had them
                    assert table.unit != "people" or value < rule.min_cell, (table.id, key, value)
                else:  # hidden to protect others: never a small count, never a zero
                    assert value >= rule.min_cell, (table.id, key, value)
    return checked


@pytest.mark.parametrize("token", ["quarter", "year"])
def test_published_figures_match_a_plain_count(seeded, token):
    period = periods.last_complete_quarter(today()) if token == "quarter" else periods.year(today().year - 1)
    sites = [SiteRef(s.id, s.code, s.name) for s in db.session.scalars(select(Site).order_by(Site.id))]
    expected = plain_counts(period, [s.id for s in sites])
    rule = Rule(K)
    report = make(period, sites, sites, "team", rule, today(), "de")
    assert not report.too_few
    assert compare(report, expected, rule) > 300
    active = [sum(n for (s, _), n in expected["age"].items() if s == site.id) for site in sites]
    published = report.overview[0].total[1]
    for value, cell in zip([*active, sum(active)], published, strict=True):
        assert cell.number in (None, value)
    minutes = [expected["minutes"][(site.id, "all")] for site in sites]
    hours = next(t for t in report.overview if t.id == "activity").rows[1][1]
    for value, cell in zip([*minutes, sum(minutes)], hours, strict=True):
        assert cell.number is None or cell.number == round(value / 60, 1)


def test_funder_figures_are_rounded_and_stricter(seeded):
    period = periods.year(today().year - 1)
    sites = [SiteRef(s.id, s.code, s.name) for s in db.session.scalars(select(Site).order_by(Site.id))]
    expected = plain_counts(period, [s.id for s in sites])
    rule = Rule(10, 5)
    report = make(period, sites, sites, "funder", rule, today(), "de", floor=Rule(K))
    assert compare(report, expected, rule) > 100
    numbers = [cell.number for table in report.tables if table.id != "averages" for _, cells in table.rows
               for cell in cells if cell.number is not None and table.unit != "hours"]
    assert numbers and all(number % 5 == 0 for number in numbers)
    assert all(cell.text != "<5" for table in report.tables for _, cells in table.rows for cell in cells)
