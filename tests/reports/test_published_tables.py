"""Over random datasets, no hidden cell of any published table can be worked out by a reader.

The reader is tests.reports.attacker: it sees only what a table publishes (numbers, "<k",
"×", which rows are totals, whether rows add up) and solves for each hidden cell.
"""

from __future__ import annotations

from datetime import date

from hypothesis import HealthCheck, given, settings, target
from hypothesis import strategies as st
from sqlalchemy import select

from counsel.access import today
from counsel.extensions import db
from counsel.models.site import Site
from counsel.reporting import periods
from counsel.reporting.report import Report, SiteRef, Table, make
from counsel.reporting.suppression import Cell, Grid, Outcome, Rule
from counsel.services.accounts import create_site
from tests.reports.attacker import derivable
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


def published(table: Table, sites: int) -> tuple[Grid, Outcome] | None:
    """What a reader knows of a table, as a grid: published numbers, marks, and its structure."""
    if table.unit in ("hours", "average") or table.withheld:
        return None
    rows = [cells for key, (_, cells) in zip(table.keys, table.rows, strict=True) if key != "hours"]
    lines = rows + ([table.total[1]] if table.total else [])
    cells, status = {}, {}
    for i, line in enumerate(lines):
        for j, cell in enumerate(line):
            value = int(cell.number) if cell.number is not None else 0
            cells[(i, j)] = Cell(value, value)
            status[(i, j)] = cell.status
    grid = Grid(len(rows), sites, cells, total_row=table.total is not None, total_col=len(table.columns) > sites,
                additive=not table.multi, counts_people=table.unit == "people")
    return grid, Outcome(status, True)


def assert_nothing_derivable(report: Report) -> int:
    hidden = 0
    for table in report.tables:
        known = published(table, len(report.sites))
        if known is None:
            continue
        grid, outcome = known
        hidden += len(outcome.suppressed())
        assert derivable(grid, outcome, report.rule) == [], table.id
    return hidden


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(data=st.data(), site_count=st.integers(1, 3), min_cell=st.sampled_from([3, 5]))
def test_no_hidden_cell_of_a_published_table_can_be_worked_out(owner, second_site, data, site_count, min_cell):
    third = db.session.scalar(select(Site).where(Site.code == "SB")) or create_site("SB", "Saarbrücken")
    db.session.commit()
    sites = [SiteRef(s.id, s.code, s.name) for s in (owner.site, second_site, third)][:site_count]
    chosen = data.draw(fakes(site_count))
    for fake in chosen:
        fake.site_id = sites[fake.site_id].id
    lay_down(owner, chosen)
    try:
        for rule, audience in ((Rule(min_cell), "team"), (Rule(10), "funder")):
            report = make(PERIOD, sites, audience, rule, today(), "de")
            if not report.too_few:
                target(float(assert_nothing_derivable(report)), label=f"hidden cells ({audience})")
    finally:
        clear_cases()
