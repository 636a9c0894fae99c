"""Read docs/data-inventory.md: every table under its category, every column with how it is stored and why.

The inventory is the one list of what counsel stores. `tests/test_data_inventory.py` holds it
against the models, and `counsel privacy record` prints it as the installation's categories of
data; both read it here, so the page has one grammar: a `## ` heading is a category, a `### `
heading a table (prose under either is its note), and each `| column | stored | why |` row below a
table heading is a column. No Flask, no database.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from counsel.settings import PROJECT_ROOT

INVENTORY = PROJECT_ROOT / "docs" / "data-inventory.md"
KINDS = ("encrypted", "plaintext", "hashed", "keyed hash", "wrapped key")

_CATEGORY = re.compile(r"^##\s+(\S.*?)\s*$")
_TABLE = re.compile(r"^###\s+(\w+)\s*$")
_ROW = re.compile(r"^\|\s*(\w+)\s*\|\s*([^|]+?)\s*\|\s*(.+?)\s*\|$")
_HEADER_CELLS = ("column", "---")


class InventoryError(Exception):
    """The inventory page breaks its own grammar; the message names the line."""


@dataclass(frozen=True)
class Column:
    """One column: how it is stored (one of KINDS) and why."""

    name: str
    kind: str
    why: str


@dataclass(frozen=True)
class Table:
    """One table of the database with its columns, in the page's order."""

    name: str
    note: str
    columns: tuple[Column, ...]

    @property
    def encrypted(self) -> tuple[Column, ...]:
        return tuple(column for column in self.columns if column.kind == "encrypted")


@dataclass(frozen=True)
class Category:
    """A `## ` section of the page: a category of data such as "Client data", with its tables."""

    heading: str
    note: str
    tables: tuple[Table, ...]


def read(path: Path = INVENTORY) -> tuple[Category, ...]:
    """Parse the inventory page at PATH."""
    return parse(path.read_text(encoding="utf-8"), str(path))


def parse(text: str, source: str = "data inventory") -> tuple[Category, ...]:
    """Parse inventory text, refusing a column without a known kind or a reason, or one listed twice."""
    categories: list[Category] = []
    for heading, body, table_blocks in _sections(text, source):
        tables = tuple(_table(name, lines, source) for name, lines in table_blocks)
        categories.append(Category(heading, _prose(body), tables))
    names = [table.name for category in categories for table in category.tables]
    if twice := sorted({name for name in names if names.count(name) > 1}):
        raise InventoryError(f"{source}: table(s) listed twice: {', '.join(twice)}.")
    return tuple(categories)


Block = tuple[str, list[tuple[int, str]]]


def _sections(text: str, source: str) -> list[tuple[str, list[tuple[int, str]], list[Block]]]:
    """Split the page into categories, each with its own lines and its tables' lines (numbered)."""
    sections: list[tuple[str, list[tuple[int, str]], list[Block]]] = []
    lines: list[tuple[int, str]] = []  # where the lines being read go: before any heading, nowhere
    for number, line in enumerate(text.splitlines(), start=1):
        if found := _CATEGORY.match(line):
            sections.append((found.group(1), [], []))
            lines = sections[-1][1]
        elif found := _TABLE.match(line):
            if not sections:
                raise InventoryError(f"{source}, line {number}: table {found.group(1)} comes before any category.")
            sections[-1][2].append((found.group(1), []))
            lines = sections[-1][2][-1][1]
        else:
            lines.append((number, line))
    return sections


def _table(name: str, lines: list[tuple[int, str]], source: str) -> Table:
    """Read one table's note and its column rows."""
    columns: list[Column] = []
    for number, line in lines:
        row = _ROW.match(line)
        if row is None or row.group(1) in _HEADER_CELLS:
            continue
        column, kind, why = row.groups()
        if kind not in KINDS:
            raise InventoryError(f"{source}, line {number}: {name}.{column} is stored as {kind!r}, "
                                 f"which is none of {', '.join(KINDS)}.")
        if len(why) <= 3:
            raise InventoryError(f"{source}, line {number}: {name}.{column} gives no reason.")
        if any(known.name == column for known in columns):
            raise InventoryError(f"{source}, line {number}: {name}.{column} is listed twice.")
        columns.append(Column(column, kind, why))
    if not columns:
        raise InventoryError(f"{source}: table {name} lists no column.")
    return Table(name, _prose(lines), tuple(columns))


def tables(categories: tuple[Category, ...]) -> dict[str, Table]:
    """Every table of the inventory by name."""
    return {table.name: table for category in categories for table in category.tables}


def _prose(lines: list[tuple[int, str]]) -> str:
    """The text under a heading that is not a table row, joined into one line."""
    return " ".join(line.strip() for _, line in lines if line.strip() and not line.lstrip().startswith("|"))
