"""Suppression, proven against a reader who solves for every hidden cell."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from counsel.reporting.suppression import Grid, Outcome, Rule, Status, primary, protect
from tests.reports.attacker import derivable
from tests.reports.grids import activity_grid, people_grid


def lines_only(grid: Grid) -> Grid:
    """Rows that are separate figures across sites, without a total row (the activity overview)."""
    cells = {pos: cell for pos, cell in grid.cells.items() if pos[0] < grid.rows}
    return Grid(grid.rows, grid.cols, cells, total_row=False, total_col=True, counts_people=False)


@st.composite
def tables(draw):
    rng = random.Random(draw(st.integers(0, 2**32 - 1)))
    rows, cols = draw(st.integers(1, 7)), draw(st.integers(1, 6))
    shape = dict(additive=draw(st.booleans()), total_col=cols > 1 and draw(st.booleans()) or cols > 1,
                 scale=draw(st.sampled_from([3, 8, 20, 60])))
    kind = draw(st.sampled_from(["people", "activity", "lines"]))
    if kind == "people":
        return people_grid(rng, rows, cols, **shape)
    grid = activity_grid(rng, rows, cols, **shape)
    return lines_only(grid) if kind == "lines" and cols > 1 else grid


@settings(max_examples=600, deadline=None)
@given(grid=tables(), k=st.sampled_from([3, 5, 10]))
def test_no_suppressed_cell_can_be_worked_out(grid, k):
    rule = Rule(k)
    outcome = protect(grid, rule)
    if not outcome.complete:
        return  # withheld whole: nothing is published
    for pos, status in outcome.status.items():
        if 0 < grid.cells[pos].people < k:
            assert status is Status.SMALL
    assert derivable(grid, outcome, rule) == []


def test_the_reader_does_find_what_primary_suppression_alone_leaves_open():
    """The check bites: without complementary cells, many random tables give small counts away."""
    exposed = 0
    for seed in range(60):
        rng = random.Random(seed)
        grid = people_grid(rng, 4, 3, additive=True, total_col=True, scale=8)
        rule = Rule(5)
        lonely = Outcome(primary(grid, rule), complete=True)
        exposed += bool(derivable(grid, lonely, rule))
        assert derivable(grid, protect(grid, rule), rule) == []
    assert exposed > 10
