"""Encrypted fields through the app: per-record data keys, binding to the row, clear errors."""

from __future__ import annotations

import logging

import pyotp
import pytest
from flask import current_app
from sqlalchemy import select, text, update

from counsel.crypto import UnreadableField
from counsel.extensions import db
from counsel.models.data_key import DataKey
from counsel.models.user import User
from tests.conftest import make_settings, running

SECRET = pyotp.random_base32(length=32)


def raw_secret(username: str) -> bytes:
    return bytes(db.session.execute(text("SELECT totp_secret FROM users WHERE username = :u"),
                                    {"u": username}).scalar_one())


def reload(user: User) -> User:
    """Load the user afresh from the database, as a new request would."""
    user_id = user.id
    db.session.expunge_all()
    current_app.extensions["counsel.vault"]._ciphers.clear()
    return db.session.scalars(select(User).where(User.id == user_id)).one()


def test_field_round_trips_and_is_ciphertext_in_the_table(make_user):
    user = make_user("anna", totp_secret=SECRET)
    assert reload(user).totp_secret == SECRET
    assert SECRET.encode() not in raw_secret("anna")


def test_each_record_has_its_own_data_key_wrapped_by_the_current_master_key(make_user):
    first, second = make_user("anna", totp_secret=SECRET), make_user("bea", totp_secret=SECRET)
    assert first.data_key_id != second.data_key_id
    keys = db.session.scalars(select(DataKey)).all()
    assert {k.master_version for k in keys} == {1}
    assert all(SECRET.encode() not in k.wrapped for k in keys)
    assert raw_secret("anna") != raw_secret("bea")  # fresh nonces and keys


def test_ciphertext_moved_to_another_row_fails(make_user):
    make_user("anna", totp_secret=SECRET)
    victim = make_user("bea", totp_secret=pyotp.random_base32(length=32))
    stolen = raw_secret("anna")
    db.session.execute(update(User).where(User.username == "bea").values(_totp_secret=stolen))
    db.session.commit()
    victim_id = str(victim.id)
    with pytest.raises(UnreadableField) as caught:
        _ = reload(victim).totp_secret
    assert caught.value.table == "users" and caught.value.column == "totp_secret"
    assert caught.value.row_id == victim_id


def test_a_flipped_bit_fails(make_user):
    user = make_user("anna", totp_secret=SECRET)
    blob = bytearray(raw_secret("anna"))
    blob[len(blob) // 2] ^= 0x01
    db.session.execute(update(User).where(User.id == user.id).values(_totp_secret=bytes(blob)))
    db.session.commit()
    with pytest.raises(UnreadableField):
        _ = reload(user).totp_secret


def test_a_missing_master_key_version_fails_with_the_record_named(make_user):
    user = make_user("anna", totp_secret=SECRET)
    db.session.execute(update(DataKey).where(DataKey.id == user.data_key_id).values(master_version=99))
    db.session.commit()
    user_id = str(user.id)
    with pytest.raises(UnreadableField) as caught:
        _ = reload(user).totp_secret
    assert "99" in str(caught.value) and user_id in str(caught.value)


def test_a_wrong_key_ring_fails(tmp_path, make_user, settings):
    user_id = make_user("anna", totp_secret=SECRET).id  # read before the second app takes over
    other_keys = tmp_path / "other"
    other_keys.mkdir()
    with running(make_settings(other_keys, database_url=settings.database_url)):
        with pytest.raises(UnreadableField):
            _ = db.session.get(User, user_id).totp_secret


def test_an_unreadable_record_gets_a_clear_page_and_a_log_entry(make_user, client, caplog):
    user = make_user("anna", totp_secret=SECRET)
    blob = bytearray(raw_secret("anna"))
    blob[-1] ^= 0x80
    db.session.execute(update(User).where(User.id == user.id).values(_totp_secret=bytes(blob)))
    db.session.commit()
    client.sign_in("anna")
    with caplog.at_level(logging.ERROR):
        response = client.submit("/login/totp", {"code": pyotp.TOTP(SECRET).now()})
    body = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "Datensatz nicht lesbar" in body and "totp_secret" in body and str(user.id) in body
    assert SECRET not in body
    assert any("unreadable record" in r.getMessage() and "totp_secret" in r.getMessage() for r in caplog.records)
    assert client.get("/").status_code == 302  # and no one was signed in


def test_empty_string_and_none_are_distinct(make_user):
    user = make_user("anna")
    user.totp_secret = ""
    db.session.commit()
    assert reload(user).totp_secret == ""
    user = reload(user)
    user.totp_secret = None  # the object stays attached to the session from here
    db.session.commit()
    assert reload(user).totp_secret is None
    assert db.session.execute(text("SELECT totp_secret FROM users WHERE username='anna'")).scalar_one() is None
