"""Master-key rotation: status, rotate, resume after an interruption, retire, online safety."""

from __future__ import annotations

import json
import re
import uuid
from types import SimpleNamespace

import pyotp
import pytest
from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from counsel import vault as vault_module
from counsel.cli import cli
from counsel.crypto import KeyRing, KeyRingError
from counsel.extensions import db
from counsel.models.data_key import DataKey
from counsel.models.user import User
from counsel.services import keys
from counsel.vault import Vault
from tests.conftest import make_settings, running

NEW_SECRET = pyotp.random_base32(length=32)
# Sorts before every random data key id, so the first pass of a rotation is already past it.
FIRST_KEY_ID = uuid.UUID("00000000-0000-4000-8000-000000000001")


@pytest.fixture
def people(make_user):
    """Five users, each with an encrypted field and so a data key of her own."""
    secrets = {f"user{i}": pyotp.random_base32(length=32) for i in range(5)}
    for name, secret in secrets.items():
        make_user(name, totp_secret=secret)
    return secrets


@pytest.fixture
def worker(app):
    """Open sessions of another app worker whose key ring is the one given (loaded earlier, not reloaded)."""
    sessions: list[Session] = []

    def open_session(ring: KeyRing) -> Session:
        session: Session = db.session.session_factory()
        session.info["vault"] = Vault(ring, current_app.extensions["counsel.vault"].keystore)
        sessions.append(session)
        return session

    yield open_session
    for session in sessions:
        session.close()


def keyring() -> KeyRing:
    ring: KeyRing = current_app.extensions["counsel.vault"].keyring
    return ring


def versions_in_use() -> dict[int, int]:
    rows = db.session.scalars(select(DataKey.master_version)).all()
    return {v: rows.count(v) for v in set(rows)}


def read_all_with_a_fresh_process(settings, expected):
    """Open every record with a new app that loads the key file from disk."""
    with running(settings):
        found = {u.username: u.totp_secret for u in db.session.scalars(select(User))}
    assert found == expected


def run(app, *args, env=None):
    return app.test_cli_runner().invoke(cli, list(args), env=env, catch_exceptions=False)


def test_status_counts_data_keys_per_version(app, people):
    output = run(app, "keys", "status").output
    assert "version 1: 5 data keys current" in output


def test_rotate_rewraps_every_data_key_and_everything_stays_readable(app, people, settings):
    wrapped_before = {k.id: k.wrapped for k in db.session.scalars(select(DataKey))}
    result = run(app, "keys", "rotate", "--batch-size", "2")
    assert result.exit_code == 0 and "5 data keys re-wrapped" in result.output
    assert versions_in_use() == {2: 5}
    after = {k.id: k.wrapped for k in db.session.scalars(select(DataKey))}
    assert after.keys() == wrapped_before.keys() and all(after[k] != wrapped_before[k] for k in after)
    assert json.loads(settings.key_path.read_text())["master_keys"].keys() == {"1", "2"}
    read_all_with_a_fresh_process(settings, people)


def test_interrupted_rotation_resumes_and_loses_nothing(app, people, settings):
    def crash_after_first_batch(done):
        raise KeyboardInterrupt("power cut")

    with pytest.raises(KeyboardInterrupt):
        keys.rotate(keyring(), batch_size=2, after_batch=crash_after_first_batch)
    assert versions_in_use() == {1: 3, 2: 2}
    read_all_with_a_fresh_process(settings, people)  # half-rotated data is fully readable
    with pytest.raises(KeyRingError, match="unfinished"):
        keys.rotate(keyring())
    result = run(app, "keys", "rotate", "--resume")
    assert result.exit_code == 0 and "3 data keys re-wrapped" in result.output
    assert versions_in_use() == {2: 5}
    read_all_with_a_fresh_process(settings, people)


def test_the_running_app_picks_up_a_new_version_from_another_process(app, people, settings, admin, signed_in):
    other_process = KeyRing.from_file(settings.key_path)
    other_process.add_version()
    browser = signed_in(admin)  # the app reloads the key file on its next request
    site_id = admin.site_id
    browser.submit("/admin/users/new", {"username": "neu", "display_name": "Neu", "site_id": site_id,
                                        "roles": ["adviser"], "locale": "de"})
    newcomer = db.session.scalars(select(User).where(User.username == "neu")).one()
    newcomer.totp_secret = "JBSWY3DPEHPK3PXP"
    db.session.commit()
    assert db.session.get(DataKey, newcomer.data_key_id).master_version == 2


def test_retire_is_refused_while_a_version_is_in_use(app, people, settings):
    with pytest.raises(KeyRingError, match="current"):
        keys.retire(keyring(), 1)
    other = KeyRing.from_file(settings.key_path)
    other.add_version()
    keyring().refresh()
    result = app.test_cli_runner().invoke(cli, ["keys", "retire", "1"])
    assert result.exit_code == 1 and "still wraps 5 data keys" in result.output
    assert 1 in keyring().versions


def test_retire_after_rotation_removes_the_old_key(app, people, settings):
    run(app, "keys", "rotate")
    assert run(app, "keys", "retire", "1").exit_code == 0
    assert json.loads(settings.key_path.read_text())["master_keys"].keys() == {"2"}
    read_all_with_a_fresh_process(settings, people)


def test_rotation_needs_a_key_file_when_keys_come_from_the_environment(tmp_path, people, settings):
    ring_json = settings.key_path.read_text()
    env_settings = make_settings(tmp_path, key_file="", master_keys=ring_json,
                                 database_url=settings.database_url)
    with running(env_settings) as env_app:
        result = env_app.test_cli_runner().invoke(cli, ["keys", "rotate"])
        assert result.exit_code == 1 and "COUNSEL_MASTER_KEYS" in result.output
        assert re.search(r"version 1: 5 data keys", run(env_app, "keys", "status").output)


def test_rotation_catches_data_keys_a_worker_makes_meanwhile_under_the_old_version(
        people, settings, make_user, worker, monkeypatch):
    newcomer_id = make_user("newcomer").id
    stale = worker(KeyRing.from_file(settings.key_path))  # started before the rotation, not yet reloaded
    made_under = []

    def newcomer_enrols_during_the_first_pass(done: int) -> None:
        if made_under:
            return
        with monkeypatch.context() as patch:
            patch.setattr(vault_module, "uuid", SimpleNamespace(uuid4=lambda: FIRST_KEY_ID))
            stale.get(User, newcomer_id).totp_secret = NEW_SECRET
            stale.commit()
        made_under.append(stale.get(DataKey, FIRST_KEY_ID).master_version)
        stale.rollback()

    version, done = keys.rotate(keyring(), batch_size=2, after_batch=newcomer_enrols_during_the_first_pass)
    assert made_under == [1]  # under the old version, and behind where the first pass already was
    assert (version, done) == (2, 6) and versions_in_use() == {2: 6}
    read_all_with_a_fresh_process(settings, {**people, "newcomer": NEW_SECRET})
    user0 = stale.scalars(select(User).where(User.username == "user0")).one()
    assert user0.totp_secret == people["user0"]  # the stale worker reloads the key file for version 2


def test_rotation_leaves_a_data_key_another_process_rewrapped_between_read_and_write(
        people, settings, monkeypatch):
    ring = keyring()
    own_wrap = ring.wrap
    theirs: dict[str, tuple[int, bytes]] = {}

    def another_resume_gets_there_first(data_key: bytes, key_id: str) -> tuple[int, bytes]:
        if not theirs:  # the first key, after this rotation read it and before it writes it
            theirs[key_id] = KeyRing.from_file(settings.key_path).wrap(data_key, key_id)
            version, wrapped = theirs[key_id]
            with db.engine.begin() as other_connection:
                other_connection.execute(update(DataKey).where(DataKey.id == uuid.UUID(key_id))
                                         .values(master_version=version, wrapped=wrapped))
        return own_wrap(data_key, key_id)

    monkeypatch.setattr(ring, "wrap", another_resume_gets_there_first)
    version, done = keys.rotate(ring, batch_size=2)
    assert (version, done) == (2, 4) and versions_in_use() == {2: 5}
    [(key_id, (their_version, their_wrapped))] = theirs.items()
    kept = db.session.get(DataKey, uuid.UUID(key_id))
    assert (kept.master_version, kept.wrapped) == (their_version, their_wrapped)  # not overwritten
    read_all_with_a_fresh_process(settings, people)


def test_a_version_added_while_a_rotation_runs_does_not_keep_it_running(people, settings, make_user, worker):
    newcomer_id = make_user("newcomer").id
    batches: list[int] = []

    def someone_adds_a_version_and_a_worker_uses_it(done: int) -> None:
        batches.append(done)
        assert len(batches) <= 10, "the rotation does not end"
        if len(batches) == 1:
            newer = KeyRing.from_file(settings.key_path)
            newer.add_version()
            ahead = worker(newer)
            ahead.get(User, newcomer_id).totp_secret = NEW_SECRET
            ahead.commit()

    assert keys.rotate(keyring(), batch_size=2, after_batch=someone_adds_a_version_and_a_worker_uses_it) == (2, 5)
    assert versions_in_use() == {2: 5, 3: 1}  # the newer key is left as it is; `--resume` moves the rest to 3
    read_all_with_a_fresh_process(settings, {**people, "newcomer": NEW_SECRET})
