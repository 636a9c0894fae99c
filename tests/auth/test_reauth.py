"""Sensitive actions ask for the password again once the sign-in is older than the reauth window.

Someone who finds a colleague's unlocked screen must not be able to hand out roles, reset
passwords or second factors, or take the recovery codes, without knowing her password.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import pyotp
import pytest
import time_machine
from sqlalchemy import select

from counsel.clock import utcnow
from counsel.extensions import db
from counsel.models.user import Role
from counsel.services.totp import new_recovery_codes
from tests.conftest import totp_now

ADMIN_SECRET = pyotp.random_base32(length=32)
ADVISER_SECRET = pyotp.random_base32(length=32)

ACTIONS = [
    pytest.param("/admin/users/{berta}", {"display_name": "Berta B.", "roles": ["adviser", "admin"], "locale": "en"},
                 id="role change"),
    pytest.param("/admin/users/{berta}/reset-password", {}, id="reset password"),
    pytest.param("/admin/users/{berta}/reset-totp", {}, id="reset 2FA"),
    pytest.param("/admin/users/{berta}/deactivate", {}, id="deactivate"),
    pytest.param("/admin/users/{gone}/reactivate", {}, id="reactivate"),
    pytest.param("/admin/users/new", {"username": "neu", "display_name": "Nora Neu", "roles": ["adviser"],
                                      "locale": "de"}, id="create user"),
    pytest.param("/account/recovery-codes", {}, id="renew recovery codes"),
]


@pytest.fixture
def people(make_user, site):
    """An admin and an adviser, both with a second factor and recovery codes, and a deactivated adviser."""
    admin = make_user("admin", Role.ADMIN, totp_secret=ADMIN_SECRET)
    berta = make_user("berta", Role.ADVISER, totp_secret=ADVISER_SECRET)
    gone = make_user("gone", Role.ADVISER)
    gone.active, gone.deactivated_at = False, utcnow()
    new_recovery_codes(admin)
    new_recovery_codes(berta)
    db.session.commit()
    return {"admin": admin.id, "berta": berta.id, "gone": gone.id, "site": site.id}


def database_rows() -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table but the sessions (each request touches its own)."""
    db.session.expire_all()
    return {table.name: sorted(map(tuple, db.session.execute(select(table)).all()), key=repr)
            for table in db.metadata.sorted_tables if table.name != "web_sessions"}


@pytest.mark.parametrize(("path", "fields"), ACTIONS)
def test_a_sensitive_action_after_the_window_asks_for_the_password_and_changes_nothing(
        people, new_client, settings, path, fields):
    browser = new_client()
    assert browser.sign_in("admin").location == "/login/totp"
    assert browser.submit("/login/totp", {"code": totp_now(ADMIN_SECRET)}).location == "/"
    url = path.format(**people)
    before = database_rows()
    with time_machine.travel(utcnow() + timedelta(minutes=settings.reauth_minutes, seconds=30), tick=False):
        response = browser.submit(url, {**fields, "site_id": people["site"], "next": url})
    assert response.status_code == 302 and response.location.startswith("/reauth?next=")
    assert database_rows() == before


def test_every_account_action_of_the_admin_pages_is_among_them(app):
    """A new action on an account must join the list above (and so ask for the password)."""
    adapter = app.url_map.bind("localhost")
    some_id = uuid.uuid4()
    covered = {adapter.match(param.values[0].format(berta=some_id, gone=some_id), method="POST")[0]
               for param in ACTIONS}
    on_accounts = {rule.endpoint for rule in app.url_map.iter_rules()
                   if rule.endpoint.startswith("admin.") and "POST" in rule.methods
                   and ("user_id" in rule.arguments or rule.endpoint == "admin.new_user")}
    assert on_accounts <= covered
