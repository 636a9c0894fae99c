"""Sign-in with a password: success, every kind of refusal, lock-out and throttling."""

from __future__ import annotations

import secrets
import socket
from datetime import timedelta

import pytest
import redis
import time_machine
from argon2 import PasswordHasher
from limits.storage import RedisStorage
from sqlalchemy import select

from counsel.audit import OPERATOR
from counsel.clock import utcnow
from counsel.extensions import db, limiter
from counsel.models.user import LoginThrottle, Role, User
from counsel.services import accounts
from tests import services
from tests.conftest import PASSWORD, make_settings, running


def is_signed_in(client) -> bool:
    return client.get("/").status_code == 200


def test_login_form_has_the_documented_fields(client):
    html = client.get("/login").get_data(as_text=True)
    assert 'name="username"' in html and 'name="password"' in html and 'name="csrf_token"' in html
    assert 'for="username"' in html and 'for="password"' in html  # every field has a label


def test_correct_password_signs_in_with_a_new_session_id(adviser, client):
    client.get("/login")
    before = client.get_cookie("counsel_session").value
    assert client.sign_in("berta").status_code == 302
    after = client.get_cookie("counsel_session").value
    assert before != after
    assert is_signed_in(client)


def test_session_id_from_before_sign_in_is_worthless_after_it(adviser, client, new_client):
    client.get("/login")
    fixated = client.get_cookie("counsel_session").value
    client.sign_in("berta")
    attacker = new_client()
    attacker.set_cookie("counsel_session", fixated)
    assert not is_signed_in(attacker)


def test_wrong_password_is_refused(adviser, client):
    response = client.sign_in("berta", "not the right password")
    assert response.status_code == 401
    assert "User name or password is not correct" in response.get_data(as_text=True) or \
        "Benutzername oder Passwort" in response.get_data(as_text=True)
    assert not is_signed_in(client)


def test_unknown_user_gets_the_same_answer_and_the_same_hashing_work(adviser, client, monkeypatch):
    calls = []
    original = PasswordHasher.verify

    def spy(self, hash_, password):
        calls.append(hash_)
        return original(self, hash_, password)

    monkeypatch.setattr(PasswordHasher, "verify", spy)
    known = client.sign_in("berta", "wrong password here")
    unknown = client.sign_in("nobody-here", "wrong password here")
    assert known.status_code == unknown.status_code == 401
    strip = lambda r: r.get_data(as_text=True).split('name="csrf_token"')[0]  # noqa: E731
    assert strip(known) == strip(unknown)
    assert len(calls) == 2  # one full argon2 verification each, same parameters
    assert calls[0].split("$")[3] == calls[1].split("$")[3]


def test_deactivated_user_cannot_sign_in_and_gets_the_common_answer(adviser, client):
    accounts.deactivate(adviser, actor=OPERATOR)
    db.session.commit()
    response = client.sign_in("berta")
    assert response.status_code == 401
    assert not is_signed_in(client)


def test_overlong_password_is_refused_before_hashing(adviser, client, monkeypatch):
    def boom(*args, **kwargs):
        raise AssertionError("hashed an overlong password")

    monkeypatch.setattr(PasswordHasher, "verify", boom)
    response = client.sign_in("berta", "x" * 10_000)
    assert response.status_code == 401


def test_long_passwords_up_to_the_limit_are_accepted(make_user, client):
    long_password = "ein langer satz " * 16  # 256 characters
    make_user("longpw", password=long_password[:256])
    assert client.sign_in("longpw", long_password[:256]).status_code == 302


def test_hash_is_upgraded_on_login_when_parameters_change(tmp_path, adviser):
    old_hash = adviser.password_hash
    assert "t=1" in old_hash
    with running(make_settings(tmp_path, argon2_time_cost=3)) as stronger:
        assert stronger.test_client().sign_in("berta").status_code == 302
        new_hash = db.session.scalar(select(User.password_hash).where(User.username == "berta"))
    assert new_hash != old_hash and "t=3" in new_hash


def test_repeated_failures_lock_the_name_for_a_while(adviser, client, settings):
    for _ in range(settings.login_lockout_threshold):
        client.sign_in("berta", "wrong password again")
    locked = client.sign_in("berta")  # even the right password is refused now
    assert locked.status_code == 429
    assert not is_signed_in(client)
    with time_machine.travel(utcnow() + timedelta(minutes=settings.login_lockout_minutes + 1), tick=False):
        assert client.sign_in("berta").status_code == 302


def test_unknown_names_lock_exactly_like_real_ones(adviser, client, settings):
    answers = {}
    for name in ("berta", "ghost"):
        for _ in range(settings.login_lockout_threshold):
            client.sign_in(name, "wrong password again")
        response = client.sign_in(name, "wrong password again")
        answers[name] = (response.status_code, response.get_data(as_text=True).split('name="csrf_token"')[0])
    assert answers["berta"] == answers["ghost"]
    assert answers["berta"][0] == 429


def test_successful_sign_in_clears_the_failure_count(adviser, client, settings):
    for _ in range(settings.login_lockout_threshold - 1):
        client.sign_in("berta", "wrong password again")
    assert client.sign_in("berta").status_code == 302
    assert db.session.scalars(select(LoginThrottle)).all() == []


def test_throttle_table_holds_no_typed_names(adviser, client):
    client.sign_in("my secret password typed as name", "x" * 12)
    keys = db.session.scalars(select(LoginThrottle.key)).all()
    assert keys and all("secret" not in key for key in keys)


@pytest.mark.settings(ratelimit_login_per_account="3 per minute", login_lockout_threshold=50)
def test_throttling_one_account_leaves_others_able_to_sign_in(make_user, client):
    make_user("target")
    make_user("colleague")  # signs in from the same office address
    for _ in range(3):
        assert client.sign_in("target", "guess guess guess").status_code == 401
    assert client.sign_in("target", "guess guess guess").status_code == 429
    assert client.sign_in("target").status_code == 429  # throttled, whatever the password
    assert client.sign_in("colleague").status_code == 302


@pytest.mark.settings(ratelimit_login_per_address="4 per minute")
def test_per_address_throttle_stops_spraying_many_names(make_user, client, new_client):
    make_user("elsewhere")
    codes = [client.sign_in(f"name{i}", "spray spray spray").status_code for i in range(5)]
    assert codes == [401, 401, 401, 401, 429]
    other = new_client()
    other.environ_base["REMOTE_ADDR"] = "10.0.0.99"
    assert other.sign_in("elsewhere").status_code == 302


REDIS_URI = "redis://127.0.0.1:6379/15"


def redis_missing() -> list[str]:
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=0.5).close()
    except OSError:
        return ["no Redis on 127.0.0.1:6379"]
    return []


@pytest.mark.settings(ratelimit_storage_uri=REDIS_URI, ratelimit_login_per_address="2 per minute")
def test_throttling_counts_in_redis_when_configured(client):
    """Several app workers must share one count, or each worker would grant the full quota again."""
    assert isinstance(limiter.storage, RedisStorage)
    services.require(redis_missing())
    number = secrets.randbelow(2**24)  # an address and names of this run's own, so no other run's count meets them
    address = f"10.{number >> 16}.{number >> 8 & 255}.{number & 255}"
    client.environ_base["REMOTE_ADDR"] = address
    store = redis.Redis.from_url(REDIS_URI)
    before = set(store.keys())
    codes = [client.sign_in(f"name{number}-{i}", "spray spray spray").status_code for i in range(3)]
    counters = set(store.keys()) - before
    try:
        assert codes == [401, 401, 429]
        assert any(address.encode() in key for key in counters)  # counted in Redis, not in this process
    finally:
        if counters:
            store.delete(*counters)


def test_redirect_after_sign_in_stays_on_this_site(adviser, client):
    for target in ("https://evil.example/", "//evil.example/x", "javascript:alert(1)"):
        fresh = client.application.test_client()
        response = fresh.submit("/login", {"username": "berta", "password": PASSWORD, "next": target})
        assert response.status_code == 302
        assert response.location == "/"


def test_redirect_after_sign_in_returns_to_the_requested_page(adviser, client):
    response = client.get("/account/")
    assert response.status_code == 302 and "next=/account/" in response.location
    response = client.submit("/login", {"username": "berta", "password": PASSWORD, "next": "/account/"})
    assert response.location == "/account/"


def test_sign_in_is_audited_without_the_password(adviser, client):
    from counsel.models.audit import AuditEvent

    client.sign_in("berta", "wrong password here")
    client.sign_in("berta")
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.action.like("sign_in%"))
                                .order_by(AuditEvent.seq)).all()
    assert [e.action for e in events] == ["sign_in_failed", "sign_in"]
    assert all(e.actor_id == adviser.id for e in events)
    assert all("wrong" not in e.detail for e in db.session.scalars(select(AuditEvent)))


def test_failure_with_unknown_name_does_not_store_the_typed_name(client, app):
    from counsel.models.audit import AuditEvent

    client.sign_in("Hunter2-typed-in-the-wrong-field", "x" * 12)
    event = db.session.scalars(select(AuditEvent)).one()
    assert event.actor_id is None and "Hunter2" not in event.actor_name


def test_roles_are_several_per_person(make_user):
    user = make_user("koord", Role.ADVISER, Role.SUPERVISOR)
    assert user.roles == {Role.ADVISER, Role.SUPERVISOR}
