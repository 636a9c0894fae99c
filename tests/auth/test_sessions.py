"""Server-held sessions: sign-out, lock, timeouts, and ending every session of a user."""

from __future__ import annotations

import secrets
from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import select

from counsel.audit import OPERATOR
from counsel.clock import utcnow
from counsel.extensions import db
from counsel.models.web_session import WebSession
from counsel.services import accounts
from counsel.sessions import ServerSessionInterface
from tests.conftest import PASSWORD, make_settings, running


def signed_in_now(client) -> bool:
    return client.get("/").status_code == 200


def test_cookie_is_http_only_strict_and_has_no_expiry(adviser, client):
    response = client.sign_in("berta")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert "Expires" not in cookie and "Max-Age" not in cookie  # no remember-me
    assert "remember" not in response.headers.get("Set-Cookie", "")


def test_cookie_is_secure_in_production(adviser, tmp_path):
    """Production as an operator configures it (a strong secret, a key file), with no cookie setting of its own."""
    production = make_settings(tmp_path, env="production", secret_key=secrets.token_hex(32))
    assert production.is_production
    with running(production) as app:
        response = app.test_client().sign_in("berta")
    assert response.status_code == 302
    assert "; Secure" in response.headers["Set-Cookie"]


def test_cookie_is_not_secure_in_development_where_there_is_no_https(adviser, tmp_path):
    with running(make_settings(tmp_path, env="development")) as app:
        response = app.test_client().sign_in("berta")
    assert response.status_code == 302 and "Secure" not in response.headers["Set-Cookie"]


def test_server_stores_only_a_hash_of_the_session_id(adviser, client):
    client.sign_in("berta")
    sid = client.get_cookie("counsel_session").value
    hashes = db.session.scalars(select(WebSession.id_hash)).all()
    assert sid not in hashes and len(hashes) == 1


def test_sign_out_is_a_post(adviser, signed_in):
    client = signed_in(adviser)
    assert client.get("/logout").status_code == 405
    assert signed_in_now(client)


@pytest.mark.parametrize("path", ["/logout", "/lock"])
def test_a_cookie_replayed_after_sign_out_or_lock_is_worthless(adviser, signed_in, new_client, path):
    client = signed_in(adviser)
    captured = client.get_cookie("counsel_session").value
    response = client.submit(path)
    assert response.status_code == 302
    assert not signed_in_now(client)
    thief = new_client()
    thief.set_cookie("counsel_session", captured)
    assert not signed_in_now(thief)
    assert db.session.scalars(select(WebSession).where(WebSession.user_id == adviser.id)).all() == []


def test_lock_now_button_is_on_every_signed_in_page(adviser, signed_in):
    client = signed_in(adviser)
    for page in ("/", "/account/"):
        html = client.get(page).get_data(as_text=True)
        assert 'action="/lock"' in html


def test_idle_timeout_ends_the_session(adviser, signed_in, settings):
    client = signed_in(adviser)
    idle = timedelta(minutes=settings.session_idle_minutes)
    with time_machine.travel(utcnow() + idle - timedelta(minutes=1), tick=False):
        assert signed_in_now(client)  # activity just before the limit keeps it alive
    with time_machine.travel(utcnow() + 2 * idle - timedelta(minutes=2), tick=False):
        assert signed_in_now(client)
    with time_machine.travel(utcnow() + 3 * idle, tick=False):
        response = client.get("/")
        assert response.status_code == 302 and response.location.startswith("/login")


def test_absolute_lifetime_ends_even_an_active_session(adviser, signed_in, settings):
    client = signed_in(adviser)
    start = utcnow()
    step = timedelta(minutes=settings.session_idle_minutes - 1)
    moment = start
    while moment + step < start + timedelta(hours=settings.session_absolute_hours):
        moment += step
        with time_machine.travel(moment, tick=False):
            assert signed_in_now(client)
    with time_machine.travel(start + timedelta(hours=settings.session_absolute_hours, minutes=1), tick=False):
        assert not signed_in_now(client)


@pytest.mark.settings(session_idle_minutes=5)
def test_idle_timeout_is_configurable(adviser, signed_in):
    client = signed_in(adviser)
    with time_machine.travel(utcnow() + timedelta(minutes=6), tick=False):
        assert not signed_in_now(client)


def test_own_password_change_ends_every_session(adviser, signed_in):
    office, laptop = signed_in(adviser), signed_in(adviser)
    response = office.submit("/account/password", {"current": "correct horse battery staple 42",
                                                   "new": "a brand new passphrase 77",
                                                   "confirm": "a brand new passphrase 77"})
    assert response.status_code == 302 and "m=changed" in response.location
    assert not signed_in_now(office) and not signed_in_now(laptop)
    assert office.sign_in("berta", "a brand new passphrase 77").status_code == 302


@pytest.mark.parametrize("change", ["deactivate", "reset_totp", "reset_password"])
def test_admin_changes_end_every_session_of_the_user(adviser, admin, signed_in, settings, change):
    client = signed_in(adviser)
    if change == "reset_password":
        accounts.reset_password(adviser, settings, actor=OPERATOR)
    else:
        getattr(accounts, change)(adviser, actor=OPERATOR)
    db.session.commit()
    assert not signed_in_now(client)


def test_the_session_table_forgets_ended_sessions(adviser, make_user, signed_in, settings):
    colleague = make_user("clara")
    signed_in(adviser)
    with time_machine.travel(utcnow() + timedelta(hours=settings.session_absolute_hours + 1), tick=False):
        signed_in(colleague)  # a new session purges the expired ones
        rows = db.session.scalars(select(WebSession)).all()
        assert [row.user_id for row in rows] == [colleague.id]


def session_rows() -> int:
    return len(db.session.scalars(select(WebSession)).all())


def test_anonymous_visits_write_no_session_rows(client):
    """A sign-in form, a page that does not exist, a language chosen: nothing on the server to fill up."""
    assert client.get("/login").status_code == 200
    assert client.get("/no-such-page").status_code == 404
    assert client.submit("/language", {"locale": "en", "next": "/login"}).status_code == 302
    assert "Sign in" in client.get("/login").get_data(as_text=True)  # the choice is kept
    assert session_rows() == 0
    assert "." in client.get_cookie("counsel_session").value  # signed, not a server id


def test_the_password_moves_the_session_to_the_server_under_a_new_id(adviser, client):
    client.get("/login")
    anonymous = client.get_cookie("counsel_session").value
    assert client.sign_in("berta").status_code == 302
    held = client.get_cookie("counsel_session").value
    assert held != anonymous and "." not in held
    assert [row.user_id for row in db.session.scalars(select(WebSession))] == [adviser.id]


def test_an_altered_or_idle_anonymous_session_carries_no_form_token(adviser, client, settings):
    token = client.csrf_token()
    cookie = client.get_cookie("counsel_session").value
    client.set_cookie("counsel_session", cookie[:-2] + ("AA" if not cookie.endswith("AA") else "BB"))
    response = client.post("/login", data={"csrf_token": token, "username": "berta", "password": PASSWORD})
    assert response.status_code == 400 and not signed_in_now(client)
    token = client.csrf_token()
    with time_machine.travel(utcnow() + timedelta(minutes=settings.session_idle_minutes, seconds=5), tick=False):
        response = client.post("/login", data={"csrf_token": token, "username": "berta", "password": PASSWORD})
    assert response.status_code == 400 and not signed_in_now(client)


def test_a_signed_anonymous_cookie_can_never_carry_a_sign_in(adviser, client, app):
    """Even signed with the app's own secret, a cookie session holding a user is refused: users live on the server."""
    forged = ServerSessionInterface()._signer(app).dumps({"_user_id": str(adviser.id), "_fresh": True})
    client.set_cookie("counsel_session", forged)
    assert not signed_in_now(client)
