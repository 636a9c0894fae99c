"""The key store: case secrets outside the database, given to older cases, surviving a key rotation."""

from __future__ import annotations

import os
import stat
import uuid
from pathlib import Path

from flask import current_app
from sqlalchemy import delete, event, select, update

from counsel.cli import cli
from counsel.crypto import mask
from counsel.extensions import db
from counsel.keystore import KeyStore, case_secrets
from counsel.models.case import Case
from counsel.models.data_key import DataKey
from counsel.services import cases, erasure, keys
from tests.cases.conftest import case_data
from tests.conftest import running
from tests.test_cli import empty_database


def vault():
    return current_app.extensions["counsel.vault"]


def make_legacy(case_id: uuid.UUID) -> None:
    """Turn a case back into one from before the key store: its data key wrapped plain, no secret anywhere."""
    key = db.session.scalars(select(DataKey).join(Case, Case.data_key_id == DataKey.id)
                             .where(Case.id == case_id)).one()
    raw = mask(vault().keyring.unwrap(key.master_version, key.wrapped, str(key.id)),
               vault().keystore.secret(case_id), str(key.id))
    version, wrapped = vault().keyring.wrap(raw, str(key.id))
    db.session.execute(update(DataKey).where(DataKey.id == key.id).values(wrapped=wrapped, secret_id=None,
                                                                         master_version=version))
    db.session.commit()
    with vault().keystore.engine.begin() as conn:
        conn.execute(delete(case_secrets).where(case_secrets.c.case_id == case_id))


def test_the_store_is_a_private_file_in_the_instance_folder(app, settings, adviser):
    cases.open_case(adviser, case_data())
    db.session.commit()
    path = Path(settings.instance_dir) / "keystore.sqlite3"
    assert path.exists() and stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_a_new_case_key_is_masked_with_its_secret_and_the_master_key_alone_opens_nothing(app, adviser):
    case = cases.open_case(adviser, case_data())
    db.session.commit()
    key = db.session.get(DataKey, case.data_key_id)
    assert key.secret_id == case.id and vault().keystore.secret(case.id) is not None
    unwrapped = vault().keyring.unwrap(key.master_version, key.wrapped, str(key.id))
    assert unwrapped != mask(unwrapped, vault().keystore.secret(case.id), str(key.id))  # the secret is needed
    assert adviser.data_key is None or db.session.get(DataKey, adviser.data_key_id).secret_id is None


def test_setup_gives_older_cases_their_secret_and_everything_stays_readable(app, settings, make_user):
    empty_database()
    assert app.test_cli_runner().invoke(cli, ["setup"], catch_exceptions=False).exit_code == 0
    adviser = make_user("berta")
    first, second = (cases.open_case(adviser, case_data(name=name)) for name in ("Amina Haddad", "Olena Shevchenko"))
    db.session.commit()
    ids = [first.id, second.id]
    for case_id in ids:
        make_legacy(case_id)
    assert db.session.scalar(select(DataKey.secret_id).where(DataKey.id == first.data_key_id)) is None
    result = app.test_cli_runner().invoke(cli, ["setup"], catch_exceptions=False)
    assert "2 cases given their secret" in result.output
    assert all(vault().keystore.secret(case_id) for case_id in ids)
    with running(settings):  # a fresh process: nothing cached
        assert sorted(db.session.get(Case, case_id).name for case_id in ids) == ["Amina Haddad", "Olena Shevchenko"]
    again = app.test_cli_runner().invoke(cli, ["keys", "case-secrets"], catch_exceptions=False)
    assert "0 cases given" in again.output
    assert "given their secret" not in app.test_cli_runner().invoke(cli, ["setup"], catch_exceptions=False).output


def test_a_rotation_rewraps_masked_keys_and_an_erased_case_stays_shut(app, settings, adviser):
    kept = cases.open_case(adviser, case_data(name="Amina Haddad"))
    gone = cases.open_case(adviser, case_data(name="Olena Shevchenko"))
    db.session.commit()
    kept_id, gone_id, gone_key = kept.id, gone.id, gone.data_key_id
    erasure.erase(gone, cause=erasure.RETENTION)
    db.session.commit()
    version, done = keys.rotate(vault().keyring)
    assert version == 2 and done >= 1
    assert db.session.scalar(select(DataKey.master_version).where(DataKey.id == kept.data_key_id)) == 2
    with running(settings):
        assert db.session.get(Case, kept_id).name == "Amina Haddad"
    assert vault().keystore.secret(gone_id) is None and db.session.get(DataKey, gone_key) is None


def test_issuing_is_idempotent_and_shredding_leaves_only_a_tombstone(tmp_path):
    store = KeyStore(f"sqlite:///{tmp_path / 'store.sqlite3'}")
    case_id = uuid.uuid4()
    secret = store.issue(case_id)
    assert store.issue(case_id) == secret and store.issue_many([case_id]) == {case_id: secret}
    assert store.mark() == 0
    store.shred(case_id)
    store.shred(case_id)
    assert store.secret(case_id) is None and store.erased_ids() == [case_id] and store.mark() == 1
    assert secret not in (tmp_path / "store.sqlite3").read_bytes()
    store.dispose()


def test_a_key_store_copy_is_private_consistent_and_never_overwrites(app, adviser, tmp_path):
    made = [cases.open_case(adviser, case_data(name=f"Kopie {n}")) for n in range(3)]
    db.session.commit()
    erasure.erase(made[0], cause=erasure.RETENTION)
    db.session.commit()
    target = tmp_path / "keystore-copy.sqlite3"
    result = app.test_cli_runner().invoke(cli, ["backup", "key-store", str(target)])
    assert result.exit_code == 0, result.output
    assert "2 case secrets, 1 erasures recorded" in result.output
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    copy = KeyStore(f"sqlite:///{target}")
    assert copy.secret(made[1].id) == vault().keystore.secret(made[1].id) is not None
    assert copy.is_erased(made[0].id) and copy.secret(made[0].id) is None
    copy.dispose()
    again = app.test_cli_runner().invoke(cli, ["backup", "key-store", str(target)])
    assert again.exit_code == 1 and "never overwrites" in again.output


def test_a_shredded_secret_leaves_no_bytes_even_where_sqlite_keeps_free_pages(tmp_path):
    """Upstream SQLite leaves deleted bytes in free pages unless secure_delete is on: emulate that build."""
    path = tmp_path / "store.sqlite3"
    store = KeyStore(f"sqlite:///{path}")
    # runs before the store's own settings on each new connection, as a compiled default would
    event.listen(store.engine, "connect", lambda connection, _: connection.execute("PRAGMA secure_delete=OFF"),
                 insert=True)
    ids = [uuid.uuid4() for _ in range(50)]
    secrets = store.issue_many(ids)
    store.shred(ids[7])
    store.dispose()
    stored = b"".join(p.read_bytes() for p in (path, path.with_name(f"{path.name}-wal")) if p.exists())
    assert secrets[ids[8]] in stored  # the check sees a secret that is still there
    assert secrets[ids[7]] not in stored
