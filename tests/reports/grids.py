"""Random tables made from random people, so every table is one a real selection could give."""

from __future__ import annotations

import random

from counsel.reporting.suppression import Cell, Grid, Pos


def people_grid(rng: random.Random, rows: int, cols: int, *, additive: bool, total_col: bool,
                scale: int) -> Grid:
    """Count people per row and column: one row each (additive) or any set of rows (several answers)."""
    values: dict[Pos, int] = {}
    totals = []
    for j in range(cols):
        people = rng.choice([0, rng.randint(1, 4), rng.randint(1, scale), rng.randint(scale, 3 * scale)])
        totals.append(people)
        weights = [rng.random() ** 3 for _ in range(rows)]
        for _ in range(people):
            if additive:
                chosen = {rng.choices(range(rows), weights)[0]}
            else:
                chosen = {i for i in range(rows) if rng.random() < weights[i]}
            for i in chosen:
                values[(i, j)] = values.get((i, j), 0) + 1
    cells = {(i, j): values.get((i, j), 0) for i in range(rows) for j in range(cols)}
    for j in range(cols):
        cells[(rows, j)] = totals[j]
    if total_col:
        for i in range(rows + 1):
            cells[(i, cols)] = sum(cells[(i, j)] for j in range(cols))
    return Grid(rows, cols, {pos: Cell(v, v) for pos, v in cells.items()}, total_row=True, total_col=total_col,
                additive=additive, counts_people=True)


def activity_grid(rng: random.Random, rows: int, cols: int, *, additive: bool, total_col: bool,
                  scale: int) -> Grid:
    """Count consultations per row and column, with the people behind them."""
    count: dict[Pos, int] = {}
    who: dict[Pos, set[int]] = {}
    person = 0
    for j in range(cols):
        people = rng.choice([0, rng.randint(1, 4), rng.randint(1, scale), rng.randint(scale, 3 * scale)])
        weights = [rng.random() ** 3 for _ in range(rows)]
        for _ in range(people):
            person += 1
            for _ in range(rng.randint(1, 4)):
                who.setdefault((rows, j), set()).add(person)
                count[(rows, j)] = count.get((rows, j), 0) + 1
                if additive:
                    chosen = {rng.choices(range(rows), weights)[0]}
                else:
                    chosen = {i for i in range(rows) if rng.random() < weights[i]}
                for i in chosen:
                    count[(i, j)] = count.get((i, j), 0) + 1
                    who.setdefault((i, j), set()).add(person)
    positions = [(i, j) for i in range(rows + 1) for j in range(cols)]
    cells = {pos: Cell(count.get(pos, 0), len(who.get(pos, set()))) for pos in positions}
    if total_col:
        for i in range(rows + 1):
            cells[(i, cols)] = Cell(sum(cells[(i, j)].value for j in range(cols)),
                                    sum(cells[(i, j)].people for j in range(cols)))
    return Grid(rows, cols, cells, total_row=True, total_col=total_col, additive=additive, counts_people=False)
