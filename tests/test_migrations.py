"""The migrations are the schema: upgrade from empty to head equals the models, and each step reverses."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import date, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Flask
from flask_migrate import downgrade, upgrade
from sqlalchemy import create_engine, inspect, make_url, select, text
from sqlalchemy.pool import NullPool

from counsel.extensions import db
from counsel.models.statistics import activity
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


def test_the_statistics_copy_is_made_of_the_cases_already_there(empty_app, owner_rows):
    """Upgrading a database with cases in it copies them as the app itself would (through every
    later change to the copy: risk spans, empty counts)."""
    from counsel.reporting import facts
    from tests.reports.test_facts import snapshot

    upgrade(revision="fdaef5682f98")
    owner_rows()
    upgrade()
    migrated = snapshot()
    assert len(migrated["facts"]) == 1 and migrated["spans"]
    assert [row[1:] for row in migrated["risks"]] == [  # each assessment counts until the next one's day
        (date(2026, 1, 5), date(2026, 1, 5), "high"), (date(2026, 1, 5), date(2026, 3, 2), "elevated"),
        (date(2026, 3, 2), None, "standard")]
    assert {(row[1], row[2]) for row in migrated["activity"]} == {
        ("month", date(2026, 2, 1)), ("quarter", date(2026, 1, 1)), ("year", date(2026, 1, 1))}
    counts = db.session.execute(select(activity.c.channel_phone, activity.c.channel_video)).all()
    assert set(counts) == {(1, None)}  # a code nobody had is empty, not 0
    if not ON_POSTGRES:  # SQLite keeps the rows in key order, also after the columns changed
        ddl = db.session.scalar(text("SELECT sql FROM sqlite_master WHERE name = 'activity'"))
        assert "WITHOUT ROWID" in ddl.upper()
    facts.rebuild(db.session.connection())
    assert snapshot() == migrated
    db.session.rollback()


def test_going_back_before_the_risk_spans_keeps_the_copy_whole(empty_app, owner_rows):
    """Downgrading restores each assessment's recording time and the zero counts the older schema wants."""
    upgrade(revision="fdaef5682f98")
    owner_rows()
    upgrade()
    downgrade(revision="4a6b43a5b701")
    with db.engine.connect() as conn:
        risks = conn.execute(text("SELECT assessed_on, created_at, level FROM fact_risks ORDER BY created_at")).all()
        counts = conn.execute(text("SELECT channel_phone, channel_video FROM activity")).all()
    assert [(str(day)[:10], str(at)[:16], level) for day, at, level in risks] == [
        (day, f"{at:%Y-%m-%d %H:%M}", level) for day, level, at in RISKS]
    assert set(counts) == {(1, 0)}  # not NULL: the older columns hold 0 where nobody had a code
    upgrade()
    assert schema_diff() == []


# Two assessments on one day (the later one recorded later counts), then a third.
RISKS = [("2026-01-05", "high", datetime(2026, 1, 5, 9)), ("2026-01-05", "elevated", datetime(2026, 1, 5, 15)),
         ("2026-03-02", "standard", datetime(2026, 3, 2, 10))]


@pytest.fixture
def owner_rows():
    """Rows of one case as the schema before the copy holds them, written in plain SQL."""

    def write() -> None:
        ids = {name: uuid.uuid4() for name in ("user", "case", "visit", "consent")}
        hexes = {name: value if ON_POSTGRES else value.hex for name, value in ids.items()}
        statements = [
            ("INSERT INTO sites (code, name, active) VALUES ('DO', 'Dortmund', :yes)", {}),
            ("INSERT INTO users (id, username, display_name, password_hash, site_id, active, must_change_password, "
             "password_changed_at, totp_enabled, created_at, locale) "
             "SELECT :user, 'berta', 'Berta', 'x', id, :yes, :no, :now, :no, :now, 'de' FROM sites", {}),
            ("INSERT INTO cases (id, number, site_id, owner_id, status, opened_month, age_band, country, "
             "residence_status, perpetrator_relation, created_at, updated_at, version) SELECT :case, 'DO-2026-0001', "
             "id, :user, 'open', '2026-01-01', '27_35', 'SY', 'asylum_procedure', 'partner', :now, :now, 1 "
             "FROM sites", {}),
            ("INSERT INTO case_languages (case_id, tag, mode, preferred, position) "
             "VALUES (:case, 'ar', 'native', :yes, 0)", {}),
            ("INSERT INTO case_violence_forms (case_id, form) VALUES (:case, 'fgm')", {}),
            ("INSERT INTO consultations (id, case_id, author_id, held_on, minutes, channel, interpreting, "
             "pledge_on_file, created_at, updated_at, version) VALUES (:visit, :case, :user, '2026-02-10', 45, "
             "'phone', 'family', :no, :now, :now, 1)", {}),
            ("INSERT INTO consultation_topics (consultation_id, topic, case_id, held_on) "
             "VALUES (:visit, 'housing', :case, '2026-02-10')", {}),
            ("INSERT INTO consents (id, case_id, purpose, given_on, given_how, form_version, recorded_by_id, "
             "created_at) VALUES (:consent, :case, 'statistics', '2026-01-05', 'written', 'v1', :user, :now)", {}),
            *(("INSERT INTO risk_assessments (id, case_id, assessed_on, level, review_on, assessed_by_id, created_at) "
               "VALUES (:risk, :case, :day, :level, '2026-04-01', :user, :at)",
               {"risk": uuid.uuid4() if ON_POSTGRES else uuid.uuid4().hex, "day": day, "level": level, "at": at})
              for day, level, at in RISKS),
        ]
        with db.engine.begin() as conn:
            for sql, extra in statements:
                conn.execute(text(sql), {**hexes, "yes": True, "no": False, "now": datetime(2026, 2, 10, 12), **extra})

    return write
