"""The reader who tries to work out hidden cells: integer programmes over what a table publishes.

Independent of counsel.reporting.suppression's own check: it reads only the published symbols
("<k", "×", numbers) and the table's structure, states every constraint a reader knows, and
asks scipy for the least and greatest value each hidden cell can take.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp

from counsel.reporting.suppression import Grid, Outcome, Pos, Rule, Status

LARGE = 1e6
TOTAL = "__total__"
Var = tuple[str, frozenset[str]]


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


# --- the reader of several reports at once ---------------------------------------------------------
# Figures that different tables publish under different names: a reader sees that the totals
# of every table of people are the active cases, that the new cases of the overview are the
# total of the new cases per month, and so on.
SAME_FIGURE = {
    ("cases", TOTAL): "active", ("closings", TOTAL): "active", ("cases", "new"): "new",
    ("trend_new", TOTAL): "new", ("closings", "closed"): "closed", ("trend_closed", TOTAL): "closed",
    ("activity", "consultations"): "consultations", ("trend_consultations", TOTAL): "consultations",
}
SKIPPED_UNITS = ("hours", "average", "derived")  # minutes as rounded hours; figures worked out from others


def _figure(table: Any, key: str) -> str:
    if (table.id, key) in SAME_FIGURE:
        return SAME_FIGURE[(table.id, key)]
    if key == TOTAL and table.unit == "people" and table.id != "excluded":
        return "active"
    if key == TOTAL and table.unit == "consultations":
        return "consultations"
    return f"{table.id}:{key}"


class Reader:
    """Everything several published reports tell together, as one integer programme.

    A variable is a figure for a set of sites: (figure, frozenset of site codes). The total
    column of a report is the figure for its chosen sites, which the reader knows is the sum of
    the single sites; a figure shown anywhere is known exactly everywhere.
    """

    def __init__(self) -> None:
        self.known: dict[Var, int] = {}
        self.low: dict[Var, float] = defaultdict(float)
        self.high: dict[Var, float] = defaultdict(lambda: math.inf)
        self.suppressed: set[Var] = set()
        self.sums: list[tuple[dict[Var, int], float, float]] = []

    def read(self, report: Any) -> None:
        k = report.rule.min_cell
        codes = [site.code for site in report.sites]
        for table in report.tables:
            if table.withheld or table.unit in SKIPPED_UNITS:
                continue
            columns = [frozenset([code]) for code in codes] + ([frozenset(codes)] if len(codes) > 1 else [])
            lines = [(key, cells) for key, (_, cells) in zip(table.keys, table.rows, strict=True) if key != "hours"]
            total = table.total[1] if table.total else None
            if total is not None:
                lines.append((TOTAL, total))
            for key, cells in lines:
                for c, (sites, cell) in enumerate(zip(columns, cells, strict=True)):
                    beside_small = report.partial  # the legend: "<k" can stand for 0 in a report on some sites
                    beside_small |= cells[-1].status is Status.SMALL and len(columns) > 1 and c < len(columns) - 1
                    beside_small |= key != TOTAL and total is not None and total[c].status is Status.SMALL
                    self._cell((_figure(table, key), sites), cell, k, table.unit == "people", beside_small)
            for sites in columns:
                if total is None:
                    continue
                parts = {(_figure(table, key), sites): 1 for key, _ in lines if key != TOTAL}
                whole = (_figure(table, TOTAL), sites)
                if table.multi:
                    for part in parts:
                        self.sums.append(({part: 1, whole: -1}, -math.inf, 0))
                else:
                    self.sums.append(({**parts, whole: -1}, 0, 0))

    def _cell(self, var: Var, cell: Any, k: int, people: bool, beside_small: bool) -> None:
        if cell.status is Status.SHOWN:
            assert self.known.get(var, cell.number) == cell.number, f"{var} published as two numbers"
            self.known[var] = int(cell.number)
            return
        self.low[var] = max(self.low[var], 0)
        if cell.status is not Status.UNSUMMED:  # "…" protects nothing: it is a sum left undone
            self.suppressed.add(var)
        if cell.status is Status.HIDDEN:
            self.low[var] = max(self.low[var], k)
        elif cell.status is Status.SMALL:
            self.low[var] = max(self.low[var], 0 if beside_small else 1)
            if people:
                self.high[var] = min(self.high[var], k - 1)

    def derivable(self) -> list[tuple[Var, tuple[float, float]]]:
        """The suppressed figures whose value the reader can pin down from all reports together."""
        sums = self.sums + [({(figure, sites): -1, **{(figure, frozenset([site])): 1 for site in sites}}, 0, 0)
                            for figure, sites in {*self.low, *self.known} if len(sites) > 1]
        free = sorted({var for terms, _, _ in sums for var in terms} | set(self.low) - set(self.known), key=str)
        index = {var: n for n, var in enumerate(free)}
        rows, lows, highs = [], [], []
        for terms, low, high in sums:
            vector = np.zeros(len(free))
            constant = 0.0
            for var, coefficient in terms.items():
                if var in self.known:
                    constant += coefficient * self.known[var]
                else:
                    vector[index[var]] += coefficient
            if vector.any():
                rows.append(vector)
                lows.append(low - constant)
                highs.append(high - constant)
        box = Bounds(np.array([self.low.get(var, 0) for var in free], dtype=float),
                     np.minimum(np.array([self.high.get(var, math.inf) for var in free], dtype=float), LARGE))
        constraints = [LinearConstraint(np.array(rows), np.array(lows), np.array(highs))] if rows else []
        found = []
        for var in sorted(self.suppressed - set(self.known), key=str):
            ends = []
            for sense in (1.0, -1.0):
                objective = np.zeros(len(free))
                objective[index[var]] = sense
                result = milp(objective, constraints=constraints, integrality=np.ones(len(free)), bounds=box)
                assert result.status == 0, f"the true reports are not feasible for the reader ({result.message})"
                ends.append(sense * result.fun)
            if ends[1] - ends[0] < 0.5:
                found.append((var, (ends[0], ends[1])))
        return found
