"""docs/data-inventory.md lists every column of every table, and the encrypted ones match the models."""

from __future__ import annotations

import re

import counsel.models  # noqa: F401 - registers every table
from counsel.extensions import Base
from counsel.models.encrypted import Encrypted
from counsel.settings import PROJECT_ROOT

INVENTORY = PROJECT_ROOT / "docs" / "data-inventory.md"
KINDS = {"encrypted", "plaintext", "hashed", "keyed hash", "wrapped key"}


def inventory() -> dict[str, dict[str, str]]:
    tables: dict[str, dict[str, str]] = {}
    current = None
    for line in INVENTORY.read_text(encoding="utf-8").splitlines():
        if heading := re.match(r"^###\s+(\w+)\s*$", line):
            current = tables.setdefault(heading.group(1), {})
        elif current is not None and (row := re.match(r"^\|\s*(\w+)\s*\|\s*([^|]+?)\s*\|\s*(.+?)\s*\|$", line)):
            if row.group(1) not in ("column",):
                assert row.group(2) in KINDS, line
                assert len(row.group(3)) > 3, f"no reason given: {line}"
                current[row.group(1)] = row.group(2)
    return tables


def encrypted_columns() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for mapper in Base.registry.mappers:
        cls = mapper.class_
        names = {attr.column for attr in vars(cls).values() if isinstance(attr, Encrypted)}
        if names:
            found[cls.__tablename__] = names
    return found


def test_every_column_is_listed_and_nothing_stale():
    listed = inventory()
    for table in Base.metadata.sorted_tables:
        assert table.name in listed, f"table {table.name} is missing from docs/data-inventory.md"
        columns = {c.name for c in table.columns}
        assert columns - listed[table.name].keys() == set(), (table.name, "unlisted")
        assert listed[table.name].keys() - columns == set(), (table.name, "stale")
    assert listed.keys() - {t.name for t in Base.metadata.sorted_tables} == set()


def test_encrypted_marks_agree_with_the_models():
    listed = inventory()
    models = encrypted_columns()
    for table, columns in listed.items():
        marked = {name for name, kind in columns.items() if kind == "encrypted"}
        assert marked == models.get(table, set()), table
