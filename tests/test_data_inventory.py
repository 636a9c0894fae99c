"""docs/data-inventory.md lists every column of every table, and the encrypted ones match the models."""

from __future__ import annotations

import counsel.models  # noqa: F401 - registers every table
from counsel import inventory as data_inventory
from counsel.extensions import Base
from counsel.models.encrypted import Encrypted


def inventory() -> dict[str, dict[str, str]]:
    """Each table of docs/data-inventory.md with its columns' kinds (the parser refuses unknown kinds and no reason)."""
    found = data_inventory.tables(data_inventory.read())
    return {name: {column.name: column.kind for column in table.columns} for name, table in found.items()}


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
