"""Over random datasets, no hidden cell of any published table can be worked out by a reader.

The reader is tests.reports.attacker.Reader: she sees only what reports publish (numbers,
"<k", "×", "…", which rows are totals, whether rows add up, which figures two tables share)
and solves for each hidden figure, with every report of the period in hand at once.
"""

from __future__ import annotations

from datetime import date
from itertools import combinations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from counsel.audit import OPERATOR
from counsel.clock import today
from counsel.extensions import db
from counsel.models.site import Site
from counsel.reporting import periods
from counsel.reporting.report import SiteRef, make
from counsel.reporting.suppression import Rule
from counsel.services.accounts import create_site
from tests.reports.attacker import Reader
from tests.reports.conftest import Fake, Visit, clear_cases, lay_down

PERIOD = periods.quarter(2025, 2)
MONTHS = [date(2025, m, 1) for m in range(1, 8)]


def visits() -> st.SearchStrategy[Visit]:
    return st.builds(Visit, held_on=st.dates(date(2025, 4, 1), date(2025, 6, 30)),
                     minutes=st.sampled_from([30, 60, 90]), channel=st.sampled_from(["in_person", "phone", "video"]),
                     interpreting=st.sampled_from(["none", "professional"]),
                     topics=st.sets(st.sampled_from(["residence", "housing", "money"]), max_size=2),
                     referrals=st.sets(st.sampled_from(["shelter", "lawyer"]), max_size=1))


def fakes(site_count: int) -> st.SearchStrategy[list[Fake]]:
    one = st.builds(
        Fake, site_id=st.integers(0, site_count - 1), opened=st.sampled_from(MONTHS[:6]),
        closed=st.one_of(st.none(), st.sampled_from(MONTHS)), consent=st.sampled_from([True, True, True, False]),
        age_band=st.sampled_from(["18_26", "27_35", "36_45"]), country=st.sampled_from(["SY", "UA", "ER", None]),
        residence_status=st.sampled_from(["asylum_procedure", "residence_permit", "no_papers"]),
        perpetrator_relation=st.sampled_from(["partner", "ex_partner", "family"]),
        referral_source=st.sampled_from(["self", "police", None]),
        violence=st.sets(st.sampled_from(["physical", "psychological", "fgm", "trafficking"]), max_size=3),
        languages=st.sampled_from([[("ar", True)], [("uk", True), ("de", False)], [("ti", True)], []]),
        risks=st.lists(st.tuples(st.sampled_from(MONTHS), st.sampled_from(["standard", "high"])), max_size=2),
        visits=st.lists(visits(), max_size=3),
    )
    return st.lists(one, max_size=70)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(data=st.data(), min_cell=st.sampled_from([3, 5]))
def test_no_hidden_figure_can_be_worked_out_from_all_reports_together(owner, second_site, data, min_cell):
    """One reader holds every report of the period: each choice of sites, for the team and for funders.

    She knows which figures two tables share, that a total over sites is their sum, and what
    every mark means; she solves for every figure hidden anywhere.
    """
    third = db.session.scalar(select(Site).where(Site.code == "SB")) or create_site("SB", "Saarbrücken", actor=OPERATOR)
    db.session.commit()
    scope = [SiteRef(s.id, s.code, s.name) for s in (owner.site, second_site, third)]
    chosen = data.draw(fakes(3))
    for fake in chosen:
        fake.site_id = scope[fake.site_id].id
    lay_down(owner, chosen)
    try:
        reader = Reader()
        team = Rule(min_cell, band=10)  # as the app makes it: the funders' k is known
        for size in (1, 2, 3):
            for sites in combinations(scope, size):
                for rule, floor in ((team, None), (Rule(10), team)):
                    report = make(PERIOD, list(sites), scope, "funder" if floor else "team", rule, today(), "de",
                                  floor)
                    if not report.too_few:
                        reader.read(report)
        assert reader.derivable() == []
    finally:
        clear_cases()
