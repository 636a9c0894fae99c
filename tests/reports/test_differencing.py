"""The attacks an audit found, replayed: nothing hidden can be worked out by setting figures side by side.

- within one report: new cases of the period's first month = active that month - (active in
  the period - new in the period), when active cases per month were a table of their own;
- between reports: the same figure hidden for one choice of sites and shown for another;
- between the team's report and the funders', whose marks tell more of a hidden cell.
"""

from __future__ import annotations

from datetime import date

import pytest

from counsel.audit import OPERATOR
from counsel.clock import today
from counsel.reporting import exports, periods
from counsel.reporting.report import SiteRef, make
from counsel.reporting.suppression import Rule, Status
from counsel.services.accounts import create_site
from tests.reports.attacker import Reader
from tests.reports.conftest import Fake, lay_down

QUARTER = periods.quarter(2025, 2)
TEAM = Rule(5, band=10)
FUNDER = Rule(10)


@pytest.fixture
def sites(owner, second_site):
    return [SiteRef(s.id, s.code, s.name) for s in (owner.site, second_site)]


def cases(site, count: int, opened: date = date(2025, 1, 1), **fields) -> list[Fake]:
    return [Fake(site_id=site.id, opened=opened, **fields) for _ in range(count)]


def cell(report, table_id: str, key: str, column: int) -> Status:
    table = next(t for t in report.tables if t.id == table_id)
    rows = dict(zip(table.keys, (cells for _, cells in table.rows), strict=True))
    return rows[key][column].status


def test_new_cases_of_a_month_cannot_be_worked_out_from_active_cases(owner, sites):
    dortmund, duisburg = sites
    lay_down(owner, cases(dortmund, 40) + cases(dortmund, 2, date(2025, 4, 1)) + cases(dortmund, 20, date(2025, 5, 1))
             + cases(dortmund, 20, date(2025, 6, 1)) + cases(duisburg, 30))
    report = make(QUARTER, sites, sites, "team", TEAM, today(), "de")
    assert cell(report, "trend_new", "2025-04", 0) is Status.SMALL
    ids = {table.id for table in report.tables}
    assert "trend_active" in ids  # worked out from published figures only ...
    active = next(t for t in report.tables if t.id == "trend_active")
    assert active.rows[0][1][0].number is None  # ... so April cannot be shown, where it would tell
    reader = Reader()
    reader.read(report)
    assert reader.derivable() == []


def test_a_figure_is_hidden_alike_whichever_sites_are_chosen(owner, sites):
    dortmund, duisburg = sites
    lay_down(owner, cases(dortmund, 2, age_band="18_26") + cases(dortmund, 20, age_band="27_35")
             + cases(duisburg, 12, age_band="18_26") + cases(duisburg, 15, age_band="27_35"))
    both = make(QUARTER, sites, sites, "team", TEAM, today(), "de")
    alone = make(QUARTER, [duisburg], sites, "team", TEAM, today(), "de")
    assert cell(both, "age", "18_26", 0) is Status.SMALL
    assert cell(both, "age", "18_26", 1) is cell(alone, "age", "18_26", 0) is Status.HIDDEN
    reader = Reader()
    for report in (both, alone, make(QUARTER, [dortmund], sites, "team", TEAM, today(), "de")):
        reader.read(report)
    assert reader.derivable() == []


def test_a_sum_over_some_of_the_sites_is_shown_only_where_its_parts_are(owner, sites):
    third = create_site("SB", "Saarbrücken", actor=OPERATOR)
    scope = [*sites, SiteRef(third.id, third.code, third.name)]
    dortmund, duisburg, saarbruecken = scope
    lay_down(owner, cases(dortmund, 2, age_band="18_26") + cases(dortmund, 20, age_band="27_35")
             + cases(duisburg, 12, age_band="18_26") + cases(saarbruecken, 15, age_band="27_35"))
    pair = make(QUARTER, [dortmund, duisburg], scope, "team", TEAM, today(), "de")
    assert pair.partial and cell(pair, "age", "18_26", 2) is Status.UNSUMMED
    assert cell(pair, "age", "over_60", 2) is Status.SHOWN  # 0 + 0: both parts shown
    assert "Dieser Bericht zeigt einen Teil Ihrer Standorte: Hier kann <5 auch für 0 stehen." in exports.legend(pair)


def test_the_funders_report_hides_everything_the_teams_hides(owner, sites):
    dortmund, duisburg = sites
    lay_down(owner, cases(dortmund, 3, age_band="18_26") + cases(dortmund, 14, age_band="27_35")
             + cases(dortmund, 12, age_band="36_45") + cases(duisburg, 11, age_band="18_26")
             + cases(duisburg, 25, age_band="27_35"))
    team = make(QUARTER, sites, sites, "team", TEAM, today(), "de")
    funder = make(QUARTER, sites, sites, "funder", FUNDER, today(), "de", floor=TEAM)
    for mine, theirs in zip(team.tables, funder.tables, strict=True):
        if mine.unit == "derived":
            continue
        for (_, ours), (_, others) in zip(mine.rows, theirs.rows, strict=True):
            for a, b in zip(ours, others, strict=True):
                assert a.status is Status.SHOWN or b.status is not Status.SHOWN, (mine.id, a, b)
    reader = Reader()
    reader.read(team)
    reader.read(funder)
    assert reader.derivable() == []
