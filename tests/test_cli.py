"""The `counsel` command line, run through Flask's CLI runner."""

from __future__ import annotations

import re

from sqlalchemy import select

from counsel.cli import cli
from counsel.extensions import db
from counsel.models.user import Role, User


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


def test_setup_creates_one_admin_and_is_safe_to_repeat(app, new_client):
    db.drop_all()  # setup starts from an empty database and migrates it
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
