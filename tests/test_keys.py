"""Master-key rotation: status, rotate, resume after an interruption, retire, online safety."""

from __future__ import annotations

import json
import re

import pyotp
import pytest
from flask import current_app
from sqlalchemy import select

from counsel.cli import cli
from counsel.crypto import KeyRing, KeyRingError
from counsel.extensions import db
from counsel.models.data_key import DataKey
from counsel.models.user import User
from counsel.services import keys
from tests.conftest import make_settings, running


@pytest.fixture
def people(make_user):
    """Five users, each with an encrypted field and so a data key of her own."""
    secrets = {f"user{i}": pyotp.random_base32(length=32) for i in range(5)}
    for name, secret in secrets.items():
        make_user(name, totp_secret=secret)
    return secrets


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
