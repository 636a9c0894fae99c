"""Cell suppression for published tables: primary, complementary, and rounding for funders.

Pure (no Flask, no database), so hypothesis can drive it directly. docs/statistics.md explains
the method; in short: a cell counting fewer than k people shows as "<k" (primary), and further
cells are hidden as "×" (complementary) until, for every hidden cell, the published cells and
totals leave room for at least two values. That is checked exactly: the changes a reader could
make to the hidden cells without contradicting what is published form a flow network, and a
hidden cell can take another value if and only if it lies on a cycle of that network.
"""

from __future__ import annotations

import enum
from collections import defaultdict
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field

Pos = tuple[int, int]
Node = tuple[str, int]
GROUND: Node = ("ground", 0)
UNBOUNDED = float("inf")


class Status(enum.Enum):
    SHOWN = "shown"
    SMALL = "small"  # fewer than k people: shown as "<k"
    HIDDEN = "hidden"  # hidden so that no small figure can be worked out: shown as "×"
    # Never made here: a sum over some of the protected columns (the sites chosen from more),
    # left out because one of its parts is suppressed; shown as "…".
    UNSUMMED = "unsummed"


@dataclass(frozen=True)
class Rule:
    """The installation's rule: the smallest count of people shown, and the rounding base.

    `band` is the funders' stricter k when the same reader also gets the funders' report: there
    a count this rule hides as "×" shows as "<band" or "×" again, which tells whether it lies
    below the band, so the protection here must allow for that as well.
    """

    min_cell: int
    rounding: int = 1
    band: int | None = None

    def publish(self, value: int) -> int:
        """Round a shown count half up to the base; a count above zero never becomes zero."""
        base = self.rounding
        if base <= 1:
            return value
        rounded = (value + base // 2) // base * base
        return base if value > 0 and rounded == 0 else rounded


@dataclass(frozen=True)
class Cell:
    value: int  # what is published: people, consultations or minutes
    people: int  # distinct people behind the value; primary suppression looks at this


@dataclass(frozen=True)
class Grid:
    """A table of `rows` x `cols` cells; the row below and the column after them hold totals.

    The total column (present with `total_col`) is always the sum of its row. The total row is
    the sum of the rows when `additive`; otherwise (several answers per person) each cell is at
    most the total of its column. `counts_people` says the values are the people themselves, so
    "<k" bounds the value too. `keys` name cells that other tables publish as well.
    """

    rows: int
    cols: int
    cells: Mapping[Pos, Cell]
    total_row: bool = True
    total_col: bool = False
    additive: bool = True
    counts_people: bool = True
    keys: Mapping[Pos, Hashable] = field(default_factory=dict)

    @property
    def last_row(self) -> int:
        """Index of the total row (or -1 when there is none)."""
        return self.rows if self.total_row else -1

    @property
    def last_col(self) -> int:
        return self.cols if self.total_col else -1

    def lines(self, pos: Pos) -> list[Pos]:
        """The totals of the lines through a cell (its row's and its column's), other than itself."""
        i, j = pos
        totals = []
        if self.total_col and j != self.cols:
            totals.append((i, self.cols))
        if self.total_row and i != self.rows:
            totals.append((self.rows, j))
        return totals


@dataclass(frozen=True)
class Outcome:
    status: dict[Pos, Status]
    complete: bool  # False: no pattern protected every cell; the table must be withheld

    def suppressed(self) -> set[Pos]:
        return {pos for pos, status in self.status.items() if status is not Status.SHOWN}


def primary(grid: Grid, rule: Rule) -> dict[Pos, Status]:
    """Mark counts of fewer than k people; in a line whose total is small, zeros too.

    Zeros are published, except where the line's total shows "<k": there a zero shows "<k" as
    well, or a reader could count the small cells and pin each of them. A zero total, and a zero
    in a line whose total is zero, stay zeros: the total tells them anyway.
    """
    status = {pos: Status.SMALL if 0 < cell.people < rule.min_cell else Status.SHOWN
              for pos, cell in grid.cells.items()}
    changed = True
    while changed:
        changed = False
        for pos, cell in grid.cells.items():
            if (status[pos] is Status.SHOWN and cell.value == 0 and not _is_total(grid, pos)
                    and _beside_small_total(grid, status, pos)
                    and all(grid.cells[total].value for total in grid.lines(pos))):
                status[pos] = Status.SMALL
                changed = True
    return status


def _is_total(grid: Grid, pos: Pos) -> bool:
    return pos[0] == grid.last_row or pos[1] == grid.last_col


def _beside_small_total(grid: Grid, status: Mapping[Pos, Status], pos: Pos) -> bool:
    return any(status.get(total) is Status.SMALL for total in grid.lines(pos))


def mark_bounds(grid: Grid, status: Mapping[Pos, Status], rule: Rule, pos: Pos) -> tuple[float, float]:
    """What a suppressed cell's mark tells: "×" is at least k; "<k" is below k (for people) and
    above zero, unless a line through it has a total shown as "<k", where zeros show as "<k" too."""
    if status[pos] is Status.HIDDEN:
        if rule.band and grid.counts_people:  # the funders' report shows "<band" or "×" here
            below = grid.cells[pos].value < rule.band
            return (rule.min_cell, rule.band - 1) if below else (rule.band, UNBOUNDED)
        return rule.min_cell, UNBOUNDED
    low = 0 if _beside_small_total(grid, status, pos) else 1
    return low, rule.min_cell - 1 if grid.counts_people else UNBOUNDED


def bounds(grid: Grid, status: Mapping[Pos, Status], rule: Rule, pos: Pos) -> tuple[float, float]:
    """The least and greatest value a reader can allow a suppressed cell, taken on its own."""
    i, j = pos
    low, high = mark_bounds(grid, status, rule, pos)
    if grid.total_row and not grid.additive:
        last = grid.rows
        if i < last:
            high = min(high, grid.cells[(last, j)].value)
        else:
            low = max(low, max((grid.cells[(r, j)].value for r in range(last)), default=0))
    return low, high


def _endpoints(grid: Grid, pos: Pos) -> tuple[Node, Node]:
    i, j = pos
    row: Node = ("row", i) if grid.total_col else GROUND
    col: Node = ("col", j) if grid.total_row and grid.additive else GROUND
    return row, col


def _sign(grid: Grid, pos: Pos) -> int:
    """Orient each cell so every line's changes sum to zero (totals enter their line negated)."""
    i, j = pos
    return -1 if (i == grid.last_row) != (j == grid.last_col) else 1


Arcs = dict[Node, list[tuple[Node, Pos]]]


def _network(grid: Grid, status: Mapping[Pos, Status], rule: Rule) -> tuple[Arcs, dict[Pos, tuple[bool, bool]]]:
    """Arcs along which a reader could move one unit, and which way each suppressed cell may move."""
    arcs: Arcs = defaultdict(list)
    moves: dict[Pos, tuple[bool, bool]] = {}
    for pos in grid.cells:
        if status[pos] is Status.SHOWN:
            continue
        value = grid.cells[pos].value
        low, high = bounds(grid, status, rule, pos)
        up, down = high - value >= 1, value - low >= 1
        forward, backward = (up, down) if _sign(grid, pos) > 0 else (down, up)
        moves[pos] = (forward, backward)
        tail, head = _endpoints(grid, pos)
        if forward:
            arcs[tail].append((head, pos))
        if backward:
            arcs[head].append((tail, pos))
    return arcs, moves


def _reaches(arcs: Arcs, start: Node, goal: Node, without: Pos) -> bool:
    seen, todo = {start}, [start]
    while todo:
        node = todo.pop()
        if node == goal:
            return True
        for nxt, pos in arcs.get(node, ()):
            if pos != without and nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return False


def can_vary(grid: Grid, status: Mapping[Pos, Status], rule: Rule, pos: Pos,
             network: tuple[Arcs, dict[Pos, tuple[bool, bool]]] | None = None) -> bool:
    """Tell whether a suppressed cell can take two values given everything published."""
    arcs, moves = network or _network(grid, status, rule)
    forward, backward = moves[pos]
    tail, head = _endpoints(grid, pos)
    if tail == head:
        return forward or backward
    return (forward and _reaches(arcs, head, tail, pos)) or (backward and _reaches(arcs, tail, head, pos))


def exposed(grid: Grid, status: Mapping[Pos, Status], rule: Rule) -> list[Pos]:
    """The suppressed cells a reader could work out exactly."""
    network = _network(grid, status, rule)
    return [pos for pos in sorted(network[1]) if not can_vary(grid, status, rule, pos, network)]


def protect(grid: Grid, rule: Rule, forced: Iterable[Hashable] = (), hidden: Iterable[Pos] = ()) -> Outcome:
    """Suppress small counts, then hide further cells until no suppressed cell can be worked out.

    `forced` names linked cells hidden in another table, which must be hidden here too;
    `hidden` are cells suppressed under a milder rule, which a stricter rule must not reveal.
    """
    status = primary(grid, rule)
    forced = set(forced)
    for pos, key in grid.keys.items():
        if key in forced and status[pos] is Status.SHOWN and grid.cells[pos].value > 0:
            status[pos] = Status.HIDDEN
    for pos in hidden:  # a zero is only ever suppressed beside a small total, which is small here too
        if status[pos] is Status.SHOWN and grid.cells[pos].value > 0:
            status[pos] = Status.HIDDEN
    while weak := exposed(grid, status, rule):
        choice = _complement(grid, status, rule, weak[0])
        if choice is None:
            return Outcome(status, complete=False)
        status[choice] = Status.HIDDEN
    return Outcome(status, complete=True)


def _complement(grid: Grid, status: dict[Pos, Status], rule: Rule, weak: Pos) -> Pos | None:
    """Choose the cell to hide next: one that frees `weak` if possible, cheap ones first.

    Cheapest is a small inner cell in a line through the weak cell; totals cost more, and
    figures other tables show too cost most (hiding one hides it there as well). Zeros are
    never hidden, so a reader knows that a hidden cell holds at least k.
    """

    def cost(pos: Pos) -> tuple[bool, bool, bool, int]:
        near = (pos[0] == weak[0] and grid.total_col) or (pos[1] == weak[1] and grid.total_row)
        return (pos in grid.keys, not near, _is_total(grid, pos), grid.cells[pos].value)

    candidates = sorted((pos for pos, cell in grid.cells.items()
                         if status[pos] is Status.SHOWN and cell.value > 0), key=cost)
    if not candidates:
        return None
    for pos in candidates:
        status[pos] = Status.HIDDEN
        freed = can_vary(grid, status, rule, weak)
        status[pos] = Status.SHOWN
        if freed:
            return pos
    return candidates[0]
