"""The reader who tries to work out hidden cells: integer programmes over what a table publishes.

Independent of counsel.reporting.suppression's own check: it reads only the published symbols
("<k", "×", numbers) and the table's structure, states every constraint a reader knows, and
asks scipy for the least and greatest value each hidden cell can take.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp

from counsel.reporting.suppression import Grid, Outcome, Pos, Rule, Status

LARGE = 1e6


def _reader_bounds(grid: Grid, outcome: Outcome, rule: Rule, pos: Pos) -> tuple[float, float]:
    """What the symbol alone tells: "×" is at least k; "<k" is below k, and above zero unless a
    line through it has a total shown as "<k" (where zeros show as "<k" too)."""
    status = outcome.status
    if status[pos] is Status.HIDDEN:
        return rule.min_cell, math.inf
    i, j = pos
    beside_small = (grid.total_col and j != grid.cols and status[(i, grid.cols)] is Status.SMALL) or (
        grid.total_row and i != grid.rows and status[(grid.rows, j)] is Status.SMALL)
    return (0 if beside_small else 1), (rule.min_cell - 1 if grid.counts_people else math.inf)


def feasible_ranges(grid: Grid, outcome: Outcome, rule: Rule) -> dict[Pos, tuple[float, float]]:
    """Return, for every suppressed cell, the least and greatest integer value consistent with the table."""
    hidden = sorted(outcome.suppressed())
    index = {pos: n for n, pos in enumerate(hidden)}
    rows: list[np.ndarray] = []
    lows: list[float] = []
    highs: list[float] = []

    def constrain(terms: dict[Pos, int], low: float, high: float) -> None:
        vector = np.zeros(len(hidden))
        constant = 0
        for pos, coefficient in terms.items():
            if pos in index:
                vector[index[pos]] += coefficient
            else:
                constant += coefficient * grid.cells[pos].value
        if not vector.any():
            assert low - 1e-9 <= constant <= high + 1e-9, "the published cells contradict each other"
            return
        rows.append(vector)
        lows.append(low - constant)
        highs.append(high - constant)

    last_row = grid.rows + 1 if grid.total_row else grid.rows
    last_col = grid.cols + 1 if grid.total_col else grid.cols
    if grid.total_col:
        for i in range(last_row):
            terms = {(i, j): 1 for j in range(grid.cols)}
            terms[(i, grid.cols)] = -1
            constrain(terms, 0, 0)
    if grid.total_row and grid.additive:
        for j in range(last_col):
            terms = {(i, j): 1 for i in range(grid.rows)}
            terms[(grid.rows, j)] = -1
            constrain(terms, 0, 0)
    if grid.total_row and not grid.additive:
        for j in range(last_col):
            for i in range(grid.rows):
                constrain({(i, j): 1, (grid.rows, j): -1}, -math.inf, 0)

    if not hidden:
        return {}
    lower, upper = zip(*(_reader_bounds(grid, outcome, rule, pos) for pos in hidden), strict=True)
    # "Unbounded" becomes a very large number, so every programme has an optimum.
    box = Bounds(np.array(lower, dtype=float), np.minimum(np.array(upper, dtype=float), LARGE))
    constraints = [LinearConstraint(np.array(rows), np.array(lows), np.array(highs))] if rows else []
    integrality = np.ones(len(hidden))
    ranges: dict[Pos, tuple[float, float]] = {}
    for pos, n in index.items():
        found = []
        for sense in (1.0, -1.0):
            objective = np.zeros(len(hidden))
            objective[n] = sense
            result = milp(objective, constraints=constraints, integrality=integrality, bounds=box)
            assert result.status == 0, f"the true table is not feasible for the reader ({result.message})"
            found.append(sense * result.fun)
        ranges[pos] = (found[0], found[1])
    return ranges


def derivable(grid: Grid, outcome: Outcome, rule: Rule) -> list[tuple[Pos, tuple[float, float]]]:
    """The suppressed cells whose value a reader can pin down."""
    return [(pos, (low, high)) for pos, (low, high) in feasible_ranges(grid, outcome, rule).items()
            if high - low < 0.5]
