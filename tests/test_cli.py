"""The `counsel` command line, run through Flask's CLI runner."""

from __future__ import annotations

import re

from sqlalchemy import select, text

from counsel.cli import cli
from counsel.clock import utcnow
from counsel.crypto import KeyRing
from counsel.extensions import db
from counsel.models.audit import AuditEvent
from counsel.models.user import Role, User
from tests.conftest import make_settings, running


def run(app, *args, input=None):
    return app.test_cli_runner().invoke(cli, list(args), input=input, catch_exceptions=False)


def test_sites_create_and_list(app):
    assert run(app, "sites", "create", "DO", "Dortmund").exit_code == 0
    assert run(app, "sites", "create", "SB", "Saarbrücken").exit_code == 0
    listing = run(app, "sites", "list").output
    assert "DO" in listing and "Saarbrücken" in listing
    duplicate = run(app, "sites", "create", "DO", "Again")
    assert duplicate.exit_code == 1


def test_users_create_prints_a_one_time_password(app, site, new_client):
    result = run(app, "users", "create", "amira", "--role", "adviser", "--role", "supervisor", "--site", "DO")
    assert result.exit_code == 0
    password = re.search(r"must be changed\): (\S+)", result.output).group(1)
    user = db.session.scalars(select(User).where(User.username == "amira")).one()
    assert user.roles == {Role.ADVISER, Role.SUPERVISOR} and user.must_change_password
    assert new_client().sign_in("amira", password).status_code == 302


def test_users_create_with_password_from_stdin(app, site, new_client):
    result = run(app, "users", "create", "lina", "--role", "adviser", "--site", "do", "--password-stdin",
                 input="a long enough passphrase here\n")
    assert result.exit_code == 0 and "One-time" not in result.output
    assert new_client().sign_in("lina", "a long enough passphrase here").status_code == 302


def test_users_create_refuses_a_weak_password_and_an_unknown_site(app, site):
    weak = run(app, "users", "create", "weak", "--role", "adviser", "--site", "DO", "--password-stdin",
               input="password1234\n")
    assert weak.exit_code == 1
    nowhere = run(app, "users", "create", "lost", "--role", "adviser", "--site", "XX")
    assert nowhere.exit_code == 1 and "XX" in nowhere.output
    assert db.session.scalars(select(User)).all() == []


def test_users_list_shows_roles_and_status(app, adviser):
    output = run(app, "users", "list").output
    assert "berta" in output and "adviser" in output and "active" in output


def empty_database() -> None:
    """Drop every table and Alembic's bookmark, so `setup` migrates from nothing as on a new machine."""
    db.drop_all()
    with db.engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))


def test_setup_creates_one_admin_and_is_safe_to_repeat(app, new_client):
    empty_database()
    first = run(app, "setup")
    assert first.exit_code == 0
    password = re.search(r"one-time password:\s+(\S+)", first.output).group(1)
    second = run(app, "setup")
    assert second.exit_code == 0 and "one-time password:" not in second.output
    admins = db.session.scalars(select(User)).all()
    assert [u.username for u in admins] == ["admin"] and admins[0].has_role(Role.ADMIN)
    browser = new_client()
    assert browser.sign_in("admin", password).status_code == 302


def test_reset_password_rescues_a_lost_admin_password(app, admin, new_client):
    result = run(app, "users", "reset-password", "admin")
    password = re.search(r"\): (\S+)", result.output).group(1)
    assert new_client().sign_in("admin", password).status_code == 302


def test_keys_init_never_overwrites_a_key_file(app, settings):
    before = settings.key_path.read_bytes()
    result = app.test_cli_runner().invoke(cli, ["keys", "init"], env={"COUNSEL_ENV": "test",
                                                                       "COUNSEL_KEY_FILE": str(settings.key_path),
                                                                       "COUNSEL_SECRET_KEY": "x" * 40})
    assert result.exit_code == 1 and "exists" in result.output
    assert settings.key_path.read_bytes() == before


def test_setup_brings_back_a_deactivated_first_admin_as_active(app, new_client):
    empty_database()
    run(app, "setup")
    admin = db.session.scalars(select(User).where(User.username == "admin")).one()
    admin.active, admin.deactivated_at = False, utcnow()  # e.g. switched off by mistake in the database
    db.session.commit()
    result = run(app, "setup")
    assert result.exit_code == 0
    db.session.refresh(admin)
    assert admin.active and admin.deactivated_at is None  # not listed as deactivated any more
    password = re.search(r"one-time password:\s+(\S+)", result.output).group(1)
    assert new_client().sign_in("admin", password).status_code == 302


def test_keys_retire_refuses_keys_from_the_environment(tmp_path, app, settings):
    KeyRing.from_file(settings.key_path).add_version()  # versions 1 and 2, version 1 wraps nothing
    env_settings = make_settings(tmp_path, key_file="", master_keys=settings.key_path.read_text(),
                                 database_url=settings.database_url)
    with running(env_settings) as env_app:
        result = env_app.test_cli_runner().invoke(cli, ["keys", "retire", "1"])
        assert result.exit_code == 1
        assert "COUNSEL_MASTER_KEYS" in result.output and "remove version 1" in result.output
        assert env_app.extensions["counsel.vault"].keyring.versions == [1, 2]
        assert db.session.scalars(select(AuditEvent).where(AuditEvent.action == "key_retired")).all() == []
