"""The migrations are the schema: upgrade from empty to head equals the models, and each step reverses."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Flask
from flask_migrate import downgrade, upgrade
from sqlalchemy import create_engine, inspect, make_url, text
from sqlalchemy.pool import NullPool

from counsel.extensions import db
from counsel.settings import PROJECT_ROOT
from tests.conftest import ON_POSTGRES, POSTGRES_URL, SERVER_URL, make_settings, running


@pytest.fixture
def empty_app(tmp_path) -> Iterator[Flask]:
    """An app on a database of its own that starts empty (a second PostgreSQL database in CI)."""
    if not ON_POSTGRES:
        with running(make_settings(tmp_path, database_url=f"sqlite:///{tmp_path / 'migrations.sqlite3'}")) as app:
            yield app
        return
    url = make_url(POSTGRES_URL)
    name = f"{url.database}_migrations"
    server = create_engine(SERVER_URL, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with server.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        database_url = url.set(database=name).render_as_string(hide_password=False)
        with running(make_settings(tmp_path, database_url=database_url)) as app:
            yield app
    finally:
        with server.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        server.dispose()


def schema_diff() -> list:
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return compare_metadata(context, db.metadata)


def test_upgrade_from_empty_to_head_matches_the_models(empty_app):
    upgrade()
    assert schema_diff() == []


def test_every_revision_goes_down_and_up_again(empty_app):
    script = ScriptDirectory.from_config(empty_app.extensions["migrate"].migrate.get_config(
        str(PROJECT_ROOT / "migrations")))
    revisions = list(reversed(list(script.walk_revisions())))
    assert revisions, "no migrations"
    for revision in revisions:
        upgrade(revision=revision.revision)
    downgrade(revision="base")
    tables = set(inspect(db.engine).get_table_names()) - {"alembic_version"}
    assert tables == set()
    upgrade()
    assert schema_diff() == []


def test_revisions_have_descriptive_names():
    for path in (PROJECT_ROOT / "migrations" / "versions").glob("*.py"):
        slug = path.stem.split("_", 2)[-1]
        assert len(slug) > 10, path.name
