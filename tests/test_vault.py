"""Encrypted fields through the app: per-record data keys, binding to the row, clear errors."""

from __future__ import annotations

import logging
import uuid
from typing import Any

import pyotp
import pytest
from flask import current_app
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import Uuid, bindparam, select, text, update

from counsel.clock import today
from counsel.crypto import UnreadableField
from counsel.extensions import db
from counsel.models.case import Case
from counsel.models.consultation import Consultation
from counsel.models.data_key import DataKey
from counsel.models.user import User
from counsel.services import cases, consultations
from counsel.services.consultations import ConsultationInput
from tests.cases.conftest import case_data
from tests.conftest import make_settings, running
from tests.crypto.test_cipher import LONG_TEXT, long_texts

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


def fresh(model: type[Any], row_id: uuid.UUID) -> Any:
    """Load any record afresh, with no cached plaintext or data key, as a new request would."""
    db.session.expunge_all()
    current_app.extensions["counsel.vault"]._ciphers.clear()
    return db.session.get(model, row_id)


def raw_field(table: str, column: str, row_id: uuid.UUID) -> bytes:
    """Read a stored value with plain SQL, past the models and the vault, as an attacker would."""
    statement = text(f"SELECT {column} FROM {table} WHERE id = :id")  # noqa: S608 - our own names
    return bytes(db.session.execute(statement.bindparams(bindparam("id", type_=Uuid())), {"id": row_id}).scalar_one())


def raw_write(table: str, column: str, row_id: uuid.UUID, value: bytes | None) -> None:
    """Overwrite a stored value with a plain SQL UPDATE and commit, as an attacker with the database could."""
    statement = text(f"UPDATE {table} SET {column} = :value WHERE id = :id")  # noqa: S608 - our own names
    db.session.execute(statement.bindparams(bindparam("id", type_=Uuid())), {"id": row_id, "value": value})
    db.session.commit()


def assert_names(error: UnreadableField, table: str, row_id: uuid.UUID, column: str) -> None:
    """The error, and so the page and the log, says which record and field are damaged."""
    assert (error.table, error.row_id, error.column) == (table, str(row_id), column)
    assert f"{table}.{column} of row {row_id}" in str(error)


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


def test_a_wrong_key_ring_fails_naming_the_record_and_field(tmp_path, make_user, settings):
    user_id = make_user("anna", totp_secret=SECRET).id  # read before the second app takes over
    other_keys = tmp_path / "other"
    other_keys.mkdir()
    with running(make_settings(other_keys, database_url=settings.database_url)):
        with pytest.raises(UnreadableField) as caught:
            _ = db.session.get(User, user_id).totp_secret
    assert_names(caught.value, "users", user_id, "totp_secret")
    assert "authentication failed" in caught.value.reason and SECRET not in str(caught.value)


def test_a_record_that_lost_its_data_key_is_unreadable_and_reading_saves_nothing(adviser):
    case = cases.open_case(adviser, case_data())
    db.session.commit()
    case_id = case.id
    raw_write("cases", "data_key_id", case_id, None)
    before = [db.session.execute(text("SELECT * FROM data_keys ORDER BY id")).all(),
              db.session.execute(select(Case.__table__).where(Case.id == case_id)).one()]
    with pytest.raises(UnreadableField) as caught:
        _ = fresh(Case, case_id).name
    assert_names(caught.value, "cases", case_id, "name")
    assert caught.value.reason == "record has no data key"
    db.session.commit()  # whatever the read left in the session would be saved now
    after = [db.session.execute(text("SELECT * FROM data_keys ORDER BY id")).all(),
             db.session.execute(select(Case.__table__).where(Case.id == case_id)).one()]
    assert after == before  # no new data key, and the case still points to none


def test_notes_swapped_between_consultations_of_one_case_fail(adviser):
    """Both are sealed with the case's one data key: only the row id in the associated data tells them apart."""
    case = cases.open_case(adviser, case_data())
    first, second = (consultations.add(adviser, case, ConsultationInput(
        held_on=today(), minutes=30, channel="phone", notes=notes)) for notes in ("Erste Notiz", "Zweite Notiz"))
    db.session.commit()
    assert first.key_holder() is second.key_holder() and case.data_key_id is not None
    ids, case_id = (first.id, second.id), case.id
    one, two = raw_field("consultations", "notes", ids[0]), raw_field("consultations", "notes", ids[1])
    raw_write("consultations", "notes", ids[0], two)
    raw_write("consultations", "notes", ids[1], one)
    for row_id in ids:
        with pytest.raises(UnreadableField) as caught:
            _ = fresh(Consultation, row_id).notes
        assert_names(caught.value, "consultations", row_id, "notes")
    assert fresh(Consultation, ids[0]).interpreter is None and fresh(Case, case_id).notes == "He reads her phone."


def test_a_record_already_read_stays_bound_to_its_own_row(adviser):
    """A loaded record binds its data key to its row once; a neighbour's ciphertext, swapped in
    by SQL and refreshed into the same objects, still opens nowhere but in its own row."""
    case = cases.open_case(adviser, case_data())
    first, second = (consultations.add(adviser, case, ConsultationInput(
        held_on=today(), minutes=30, channel="phone", notes=notes)) for notes in ("Erste Notiz", "Zweite Notiz"))
    db.session.commit()
    ids = (first.id, second.id)
    first, second = fresh(Consultation, ids[0]), db.session.get(Consultation, ids[1])
    assert (first.notes, second.notes) == ("Erste Notiz", "Zweite Notiz")  # both bound now
    one, two = raw_field("consultations", "notes", ids[0]), raw_field("consultations", "notes", ids[1])
    raw_write("consultations", "notes", ids[0], two)
    raw_write("consultations", "notes", ids[1], one)
    for record, row_id in zip((first, second), ids, strict=True):
        db.session.refresh(record)
        with pytest.raises(UnreadableField) as caught:
            _ = record.notes
        assert_names(caught.value, "consultations", row_id, "notes")


def test_a_ciphertext_copied_into_another_column_of_its_own_row_fails(adviser):
    case = cases.open_case(adviser, case_data(name="Fatma Yılmaz", notes="Er liest ihr Telefon."))
    db.session.commit()
    case_id = case.id
    raw_write("cases", "notes", case_id, raw_field("cases", "name", case_id))
    with pytest.raises(UnreadableField) as caught:
        _ = fresh(Case, case_id).notes
    assert_names(caught.value, "cases", case_id, "notes")
    assert "Fatma" not in str(caught.value)
    assert fresh(Case, case_id).name == "Fatma Yılmaz"  # the source stays readable in its own place


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


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text() | long_texts)
@example("")
@example(LONG_TEXT)
def test_any_text_survives_the_database_in_an_encrypted_field(adviser, text):
    """Whatever an adviser types, NUL to emoji to megabytes, comes back exactly from a new session."""
    case_id = db.session.scalar(select(Case.id))
    if case_id is None:  # one case serves every example
        case_id = cases.open_case(adviser, case_data()).id
        db.session.commit()
    fresh(Case, case_id).notes = text
    db.session.commit()
    db.session.remove()  # a new request: a new session, nothing cached
    current_app.extensions["counsel.vault"]._ciphers.clear()
    assert db.session.get(Case, case_id).notes == text
