"""Second factor: enrolment, the second sign-in step, replay, recovery codes, requirement."""

from __future__ import annotations

import re
from datetime import timedelta

import pyotp
import pytest
import time_machine
from sqlalchemy import select, text, update

from counsel.clock import utcnow
from counsel.extensions import db
from counsel.models.user import RecoveryCode, User
from counsel.services.totp import check_totp, verify_code
from tests.conftest import PASSWORD, totp_now

SECRET = pyotp.random_base32(length=32)


def start(client) -> str:
    """Press "Start setup", which makes the key (a GET makes nothing), and return the page."""
    return client.submit("/account/totp", {"start": "1"}, follow_redirects=True).get_data(as_text=True)


def enrol(client) -> tuple[str, list[str]]:
    page = start(client)
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', page).group(1)
    done = client.submit("/account/totp", {"code": pyotp.TOTP(secret).now()})
    codes = re.findall(r"<li><code>([a-z2-7-]+)</code></li>", done.get_data(as_text=True))
    return secret, codes


def test_enrolment_shows_qr_as_inline_svg_and_the_secret_as_text(adviser, signed_in):
    client = signed_in(adviser)
    page = start(client)
    assert "<svg" in page and "<img" not in page
    assert re.search(r'id="totp-secret">[A-Z2-7]{32}<', page)


def test_enrolment_needs_a_valid_code_before_it_is_switched_on(adviser, signed_in):
    client = signed_in(adviser)
    start(client)
    response = client.submit("/account/totp", {"code": "000000"})
    assert response.status_code == 200
    db.session.refresh(adviser)
    assert adviser.totp_enabled is False


def test_enrolment_switches_on_and_gives_ten_recovery_codes_stored_hashed(adviser, signed_in):
    client = signed_in(adviser)
    secret, codes = enrol(client)
    db.session.refresh(adviser)
    assert adviser.totp_enabled and adviser.totp_secret == secret
    assert len(codes) == 10 and len(set(codes)) == 10
    stored = db.session.scalars(select(RecoveryCode.code_hash).where(RecoveryCode.user_id == adviser.id)).all()
    assert len(stored) == 10 and not set(codes) & set(stored)


def test_totp_secret_is_encrypted_at_rest(adviser, signed_in):
    secret, _ = enrol(signed_in(adviser))
    raw = db.session.execute(text("SELECT totp_secret FROM users WHERE username = 'berta'")).scalar_one()
    assert secret.encode() not in bytes(raw)


def test_second_step_is_required_when_enrolled(make_user, client):
    make_user("totpuser", totp_secret=SECRET)
    response = client.sign_in("totpuser")
    assert response.location == "/login/totp"
    assert client.get("/").status_code == 302  # not signed in after the password alone
    response = client.submit("/login/totp", {"code": totp_now(SECRET)})
    assert response.status_code == 302 and response.location == "/"
    assert client.get("/").status_code == 200


def test_wrong_code_is_refused(make_user, client):
    make_user("totpuser", totp_secret=SECRET)
    client.sign_in("totpuser")
    response = client.submit("/login/totp", {"code": "123456" if totp_now(SECRET) != "123456" else "654321"})
    assert response.status_code == 401
    assert client.get("/").status_code == 302


def test_the_same_code_cannot_be_replayed(make_user, client, new_client):
    make_user("totpuser", totp_secret=SECRET)
    with time_machine.travel(utcnow().replace(second=5), tick=False):
        code = totp_now(SECRET)
        client.sign_in("totpuser")
        assert client.submit("/login/totp", {"code": code}).status_code == 302
        thief = new_client()
        thief.sign_in("totpuser")
        assert thief.submit("/login/totp", {"code": code}).status_code == 401


def test_a_code_accepted_by_another_request_is_refused_even_to_a_stale_account_object(make_user):
    user = make_user("totpuser", totp_secret=SECRET)
    with time_machine.travel(utcnow().replace(second=5), tick=False):
        code = totp_now(SECRET)
        assert user.totp_last_counter is None  # this request read the account before the other one finished
        with db.engine.begin() as other_request:  # ... which accepted the same code and recorded its step
            other_request.execute(update(User.__table__).where(User.__table__.c.id == user.id)
                                  .values(totp_last_counter=verify_code(SECRET, code, None)))
        assert user.totp_last_counter is None
        assert check_totp(user, code) is False


def test_a_lock_out_set_elsewhere_stops_a_sign_in_waiting_for_its_code(make_user, client, new_client, settings):
    make_user("totpuser", totp_secret=SECRET)
    assert client.sign_in("totpuser").location == "/login/totp"
    guesser = new_client()  # meanwhile someone guesses the password elsewhere until the name is locked
    for _ in range(settings.login_lockout_threshold):
        guesser.sign_in("totpuser", "wrong password again")
    assert guesser.sign_in("totpuser").status_code == 429
    response = client.submit("/login/totp", {"code": totp_now(SECRET)})
    assert response.status_code == 429
    assert "Zu viele Fehlversuche" in response.get_data(as_text=True)
    assert client.get("/").status_code == 302  # not signed in
    assert client.get("/login/totp").location.startswith("/login")  # and the half-finished sign-in is gone


def test_opening_the_second_step_while_signed_in_keeps_the_session(adviser, signed_in):
    client = signed_in(adviser)
    assert client.get("/login/totp").location == "/"
    assert client.get("/").status_code == 200


def test_a_recovery_code_works_exactly_once(make_user, client, new_client):
    user = make_user("totpuser", totp_secret=SECRET)
    from counsel.services.totp import new_recovery_codes

    codes = new_recovery_codes(user)
    db.session.commit()
    client.sign_in("totpuser")
    assert client.submit("/login/totp", {"code": codes[0].upper()}).status_code == 302
    again = new_client()
    again.sign_in("totpuser")
    assert again.submit("/login/totp", {"code": codes[0]}).status_code == 401


def test_the_second_step_expires(make_user, client):
    make_user("totpuser", totp_secret=SECRET)
    client.sign_in("totpuser")
    with time_machine.travel(utcnow() + timedelta(minutes=6), tick=False):
        response = client.submit("/login/totp", {"code": totp_now(SECRET)})
        assert response.status_code == 302 and response.location.startswith("/login")
        assert client.get("/").status_code == 302


def test_wrong_codes_lock_the_account_like_wrong_passwords(make_user, client, settings):
    make_user("totpuser", totp_secret=SECRET)
    client.sign_in("totpuser")
    wrong = "111111" if totp_now(SECRET) != "111111" else "222222"
    for _ in range(settings.login_lockout_threshold - 1):
        assert client.submit("/login/totp", {"code": wrong}).status_code == 401
    assert client.submit("/login/totp", {"code": wrong}).status_code == 429
    assert client.sign_in("totpuser").status_code == 429


@pytest.mark.settings(require_totp=True)
def test_totp_is_required_for_every_account_by_default(adviser, signed_in):
    client = signed_in(adviser)
    for page in ("/", "/account/", "/admin/users"):
        response = client.get(page)
        assert response.status_code == 302 and response.location == "/account/totp"
    enrol(client)
    assert client.get("/").status_code == 200


def test_default_settings_require_totp():
    from counsel.settings import Settings

    assert Settings().require_totp is True


def test_recovery_codes_can_be_renewed_and_old_ones_stop_working(adviser, signed_in):
    client = signed_in(adviser)
    _, old_codes = enrol(client)
    page = client.submit("/account/recovery-codes", {"next": "/account/"}).get_data(as_text=True)
    new_codes = re.findall(r"<li><code>([a-z2-7-]+)</code></li>", page)
    assert len(new_codes) == 10 and not set(new_codes) & set(old_codes)
    user = db.session.get(User, adviser.id)
    from counsel.services.totp import use_recovery_code

    assert not use_recovery_code(user, old_codes[0])
    assert use_recovery_code(user, new_codes[0])


def test_enrolled_user_signs_in_with_password_and_code(adviser, signed_in, new_client):
    secret, _ = enrol(signed_in(adviser))
    browser = new_client()
    with time_machine.travel(utcnow() + timedelta(seconds=61), tick=False):
        assert browser.sign_in("berta", PASSWORD).location == "/login/totp"
        assert browser.submit("/login/totp", {"code": pyotp.TOTP(secret).now()}).status_code == 302
        assert browser.get("/").status_code == 200
