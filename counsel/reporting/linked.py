"""Tables that share a hidden figure, checked together: reading them side by side pins nothing.

`suppression.protect` makes each table safe on its own. Tables that publish the same figure
(the active cases of a site close every table of people; the new cases of the overview are the
total of the new cases per month) are linked. While a shared figure is published it is a known
number to every table, and the tables cannot inform each other. Once it is hidden, a reader may
intersect what each table allows for it, and the intersection can be a single value although
no table alone pins it. So the tables joined by hidden shared figures are solved together: for
every hidden cell, the least and the greatest value that all their published cells, totals and
marks allow, by a small integer programme (scipy's HiGHS). Where the two meet, one more cell is
hidden and the tables are protected again.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Hashable, Iterable, Iterator, Mapping
from dataclasses import dataclass

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp

from counsel.reporting.suppression import Grid, Outcome, Pos, Rule, Status, mark_bounds

LARGE = 1e9  # "no upper bound", finite so that every programme has an optimum
Var = Hashable  # a shared figure's key, or (table id, position) for a cell of one table
Term = tuple[str, Pos]


@dataclass(frozen=True)
class Exposure:
    """A hidden figure that the linked tables pin down, and the tables that hold it."""

    var: Var
    tables: frozenset[str]


def _var(table: str, grid: Grid, pos: Pos) -> Var:
    return grid.keys.get(pos, (table, pos))


def _lines(grid: Grid) -> Iterator[tuple[list[Pos], float, float]]:
    """Every line of a table as (cells, least, greatest) of the sum of its cells, totals negated."""
    if grid.total_col:
        for i in range(grid.rows + (1 if grid.total_row else 0)):
            yield [*((i, j) for j in range(grid.cols)), (i, grid.cols)], 0, 0
    if grid.total_row:
        for j in range(grid.cols + (1 if grid.total_col else 0)):
            if grid.additive:
                yield [*((i, j) for i in range(grid.rows)), (grid.rows, j)], 0, 0
            else:  # several answers per person: each row at most the total
                for i in range(grid.rows):
                    yield [(i, j), (grid.rows, j)], -math.inf, 0


def _groups(grids: Mapping[str, Grid], outcomes: Mapping[str, Outcome]) -> list[set[str]]:
    """The sets of two or more tables joined by a hidden figure they share."""
    holders: dict[Var, set[str]] = defaultdict(set)
    for table, grid in grids.items():
        for pos in outcomes[table].suppressed():
            if pos in grid.keys:
                holders[grid.keys[pos]].add(table)
    parent = {table: table for table in grids}

    def root(table: str) -> str:
        while parent[table] != table:
            table = parent[table]
        return table

    for tables in holders.values():
        first, *rest = sorted(tables)
        for other in rest:
            parent[root(other)] = root(first)
    groups: dict[str, set[str]] = defaultdict(set)
    for table in grids:
        groups[root(table)].add(table)
    return [group for group in groups.values() if len(group) > 1]


class _Programme:
    """What a reader knows of a group of linked tables, ready to be solved for its hidden figures."""

    def __init__(self, grids: Mapping[str, Grid], status: Mapping[str, Mapping[Pos, Status]], rule: Rule,
                 tables: set[str]) -> None:
        low: dict[Var, float] = {}
        high: dict[Var, float] = {}
        truth: dict[Var, int] = {}
        for table in sorted(tables):
            grid = grids[table]
            for pos, mark in status[table].items():
                if mark is not Status.SHOWN:
                    var = _var(table, grid, pos)
                    least, most = mark_bounds(grid, status[table], rule, pos)
                    low[var] = max(low.get(var, 0), least)
                    high[var] = min(high.get(var, math.inf), most)
                    truth[var] = grid.cells[pos].value
        self.vars = sorted(low, key=repr)
        self.index = {var: n for n, var in enumerate(self.vars)}
        self.truth = np.array([truth[var] for var in self.vars], dtype=float)
        rows, lows, highs = [], [], []
        for table in sorted(tables):
            grid = grids[table]
            for cells, least, most in _lines(grid):
                vector = np.zeros(len(self.vars))
                known = 0.0
                for pos in cells:
                    sign = -1 if pos == cells[-1] else 1  # the line's total comes last
                    if status[table][pos] is Status.SHOWN:
                        known += sign * grid.cells[pos].value
                    else:
                        vector[self.index[_var(table, grid, pos)]] += sign
                if vector.any():
                    rows.append(vector)
                    lows.append(least - known)
                    highs.append(most - known)
        self.constraints = [LinearConstraint(np.array(rows), np.array(lows), np.array(highs))] if rows else []
        self.bounds = Bounds(np.array([low[v] for v in self.vars]),
                             np.array([min(high[v], LARGE) for v in self.vars]))

    def _other(self, objective: np.ndarray) -> np.ndarray | None:
        """A solution a reader cannot rule out that goes as far as it can along `objective`."""
        result = milp(objective, constraints=self.constraints, integrality=np.ones(len(self.vars)),
                      bounds=self.bounds)
        return np.round(result.x) if result.status == 0 else None

    def pinned(self, only: Iterable[Var] | None = None) -> list[Var]:
        """The hidden figures (of `only`, or all) that the reader can work out exactly.

        A figure is free when some solution consistent with everything published gives it another
        value than the true one. A few solutions pushed in all directions at once free most
        figures; each one left is then pushed up and down on its own.
        """
        open_ = set(self.vars if only is None else only)
        rng = np.random.default_rng(len(self.vars))
        directions = [np.ones(len(self.vars)), -np.ones(len(self.vars)),
                      *(rng.choice([-1.0, 1.0], len(self.vars)) for _ in range(2))]
        for direction in directions:
            if not open_:
                return []
            found = self._other(direction)
            if found is not None:
                open_ -= {var for var in open_ if found[self.index[var]] != self.truth[self.index[var]]}
        for var in sorted(open_, key=repr):
            for sense in (1.0, -1.0):
                objective = np.zeros(len(self.vars))
                objective[self.index[var]] = -sense  # milp minimises: push the figure up, then down
                found = self._other(objective)
                if found is not None and found[self.index[var]] != self.truth[self.index[var]]:
                    open_.discard(var)
                    break
        return sorted(open_, key=repr)


def exposed(grids: Mapping[str, Grid], outcomes: Mapping[str, Outcome], rule: Rule) -> Exposure | None:
    """Find a hidden figure that linked tables pin down together, if any."""
    status = {table: outcome.status for table, outcome in outcomes.items()}
    for tables in _groups(grids, outcomes):
        if pinned := _Programme(grids, status, rule, tables).pinned():
            return Exposure(pinned[0], frozenset(tables))
    return None


def complement(grids: Mapping[str, Grid], outcomes: Mapping[str, Outcome], rule: Rule,
               exposure: Exposure) -> Term | None:
    """Choose a cell to hide that frees the exposed figure: an inner cell of a line through it,
    not shared with other tables, small first; else the cheapest such cell, to make progress."""
    candidates: list[tuple[tuple[bool, int], Term]] = []
    for table in sorted(exposure.tables):
        grid, status = grids[table], outcomes[table].status
        places = [pos for pos in status if status[pos] is not Status.SHOWN and _var(table, grid, pos) == exposure.var]
        for pos, cell in grid.cells.items():
            beside = any(pos[0] == p[0] or pos[1] == p[1] for p in places)
            if beside and status[pos] is Status.SHOWN and cell.value > 0 and pos not in grid.keys:
                total = pos[0] == grid.last_row or pos[1] == grid.last_col
                candidates.append(((total, cell.value), (table, pos)))
    candidates.sort()
    for _, (table, pos) in candidates:
        trial = {name: dict(outcome.status) for name, outcome in outcomes.items()}
        trial[table][pos] = Status.HIDDEN
        if not _Programme(grids, trial, rule, set(exposure.tables)).pinned([exposure.var]):
            return table, pos
    return candidates[0][1] if candidates else None
