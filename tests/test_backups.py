"""`counsel backup`: a consistent, encrypted copy taken while others write, verified, restored.

Each test runs on the test database of the run (SQLite, or PostgreSQL in CI), made by create_all
and stamped with the migrations' head (tests/test_migrations.py proves the two agree).
"""

from __future__ import annotations

import io
import os
import re
import shutil
import stat
import threading
import time
import uuid
from datetime import date

import pytest
from flask_migrate import stamp
from sqlalchemy import Uuid, bindparam, select, text

from counsel import backup_checks, backup_format, backup_postgres
from counsel.backup_format import HEADER_BYTES, BackupError, seal, unseal
from counsel.cli import cli
from counsel.crypto import KeyRing
from counsel.extensions import db
from counsel.models.audit import AuditEvent
from counsel.models.case import Case
from counsel.models.consultation import Consultation
from counsel.models.site import Site
from counsel.models.user import Role, User
from counsel.services import cases, consultations, erasure, two_person
from counsel.services.consultations import ConsultationInput
from tests import services
from tests.cases.conftest import case_data
from tests.conftest import ON_POSTGRES, PROJECT_ROOT, make_settings, running
from tests.test_raw_database import fill_everything, leaks, stored_bytes

NAME = "Zuleykha Quixotebaum"


def run(app, *args, input=None):
    return app.test_cli_runner().invoke(cli, list(args), input=input, catch_exceptions=False)


@pytest.fixture
def migrated(app):
    """The app, its schema named as the migrations' head, as `counsel setup` leaves it."""
    if ON_POSTGRES:
        services.require([] if all(map(shutil.which, ("pg_dump", "pg_restore", "psql")))
                         else ["the PostgreSQL client programs are not on PATH"])
    stamp()
    yield app
    if ON_POSTGRES:  # the next test's database is made by create_all, without Alembic's bookmark
        db.session.remove()
        with db.engine.begin() as conn:
            conn.execute(text("DROP TABLE IF EXISTS alembic_version"))


@pytest.fixture
def filled(migrated, adviser, make_user):
    """Cases with consultations and an account with a second factor: fields in several tables."""
    make_user("tina", Role.ADVISER, totp_secret="JBSWY3DPEHPK3PXP")
    made = [cases.open_case(adviser, case_data(name=f"{NAME} {n}")) for n in range(3)]
    for case in made:
        consultations.add(adviser, case, ConsultationInput(held_on=date(2026, 11, 2), minutes=30, channel="phone",
                                                           notes=f"Notiz zu {case.number}"))
    db.session.commit()
    return made


def every_row():
    """Every row of every table, by primary key: what a restore must bring back as it was."""
    return {table.name: db.session.execute(select(table).order_by(*table.primary_key.columns)).all()
            for table in db.metadata.sorted_tables}


def last_event():
    return db.session.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc())).first()


def test_create_writes_a_private_file_and_never_overwrites_one(migrated, filled, tmp_path):
    path = tmp_path / "counsel.backup"
    previous = os.umask(0o022)
    try:
        result = run(migrated, "backup", "create", str(path))
    finally:
        os.umask(previous)
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert re.search(r"audit trail up to event \d+; 4 data keys under master key version\(s\) 1", result.output)
    assert last_event().action == "backup_created"
    again = run(migrated, "backup", "create", str(path))
    assert again.exit_code == 1 and "exists already" in again.output
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".partial")] == []


def test_the_backup_file_holds_no_plaintext(migrated, adviser, make_user, signed_in, settings, tmp_path):
    markers = fill_everything(adviser, make_user("carla", Role.ADVISER), signed_in)
    db.session.add(Site(code="XB", name="Xanthippeburg", active=True))  # a plaintext column, to guard the guard
    db.session.commit()
    path = tmp_path / "counsel.backup"
    assert run(migrated, "backup", "create", str(path)).exit_code == 0
    blob = path.read_bytes()
    assert leaks(blob, markers) == []
    assert leaks(stored_bytes(settings), ["Xanthippeburg"]) != []  # the database holds it in clear ...
    assert leaks(blob, ["Xanthippeburg", "alembic_version", "audit_events", "SQLite format"]) == []  # ... not the file


def test_verify_restores_into_a_scratch_place_and_counts_what_it_checked(migrated, filled, tmp_path, monkeypatch):
    monkeypatch.setattr(backup_checks, "BATCH", 2)  # tables of several batches
    path = tmp_path / "counsel.backup"
    run(migrated, "backup", "create", str(path))
    before = every_row()
    result = run(migrated, "backup", "verify", str(path))
    assert result.exit_code == 0, result.output
    assert "ok      schema: revision" in result.output and "(head)" in result.output
    assert "ok      keys: 4 data keys unwrap under master key version(s) 1" in result.output
    assert re.search(r"ok      audit chain: (\d+) events intact, head at event \1 as the manifest says", result.output)
    fields = re.search(r"ok      encrypted fields: (\d+) fields open \((.*)\)", result.output)
    assert int(fields.group(1)) > 0 and "consultations 3" in fields.group(2) and "users 1" in fields.group(2)
    assert every_row() == before  # the live database was not touched
    if ON_POSTGRES:
        names = db.session.scalars(text("SELECT datname FROM pg_database WHERE datname LIKE '%verify%'")).all()
        assert names == []  # the scratch database is gone


def test_restore_round_trip_keeps_every_record_and_the_audit_chain(migrated, filled, adviser, settings, tmp_path):
    path = tmp_path / "counsel.backup"
    created = run(migrated, "backup", "create", str(path))
    backup_head = int(re.search(r"audit trail up to event (\d+)", created.output).group(1))
    kept = every_row()  # and the event of the backup, which came after its snapshot
    # After the backup: a new case, a changed name, and a checkpoint that sees the longer trail.
    later = cases.open_case(adviser, case_data(name="Nach der Sicherung"))
    filled[0].name = "Geändert"
    db.session.commit()
    later_id = later.id
    assert run(migrated, "audit", "checkpoint").exit_code == 0

    result = run(migrated, "backup", "restore", str(path), "--yes")
    assert result.exit_code == 0, result.output
    assert "Erased again since the backup: none." in result.output
    restored = every_row()
    for table, rows in kept.items():
        if table in ("audit_events", "audit_head"):
            continue
        assert restored[table] == rows, table
    assert restored["audit_events"][:backup_head] == kept["audit_events"][:backup_head]
    event = last_event()
    assert event.seq == backup_head + 1 and event.action == "backup_restored"
    assert f"events={backup_head} replaced_events={backup_head + 2}" in event.detail
    assert db.session.get(Case, later_id) is None
    assert sorted(c.name for c in db.session.scalars(select(Case))) == [f"{NAME} {n}" for n in range(3)]
    assert db.session.scalars(select(User).where(User.username == "tina")).one().totp_secret == "JBSWY3DPEHPK3PXP"
    # The checkpoints of the replaced trail are kept aside, and the restored trail verifies.
    moved = [p for p in settings.checkpoint_path.parent.iterdir() if ".before-restore-" in p.name]
    assert len(moved) == 1 and "were moved to" in result.output
    verified = run(migrated, "audit", "verify")
    assert verified.exit_code == 0, verified.output


def test_a_case_erased_after_the_backup_stays_erased_when_it_is_restored(migrated, filled, adviser, tmp_path):
    """Erasure reaches the backups: restoring a copy taken before it brings nothing of the case back."""
    path = tmp_path / "counsel.backup"
    assert run(migrated, "backup", "create", str(path)).exit_code == 0
    gone, kept_id = filled[0], filled[1].id
    gone_id, gone_number = gone.id, gone.number
    erasure.erase(gone, cause=erasure.RETENTION)
    db.session.commit()
    result = run(migrated, "backup", "restore", str(path), "--yes")
    assert result.exit_code == 0, result.output
    assert f"Erased again since the backup: {gone_number}." in result.output
    db.session.expire_all()
    assert db.session.get(Case, gone_id) is None
    assert not db.session.scalars(select(Consultation).where(Consultation.case_id == gone_id)).all()
    assert db.session.get(Case, kept_id).name == f"{NAME} 1"  # type: ignore[union-attr] - the rest is back
    erased = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "case_erased")
                                .order_by(AuditEvent.seq)).all()
    assert [e.case_number for e in erased] == [gone_number] and "cause=restore" in erased[-1].detail
    assert run(migrated, "audit", "verify").exit_code == 0


def test_restore_asks_and_a_no_changes_nothing(migrated, filled, adviser, tmp_path):
    path = tmp_path / "counsel.backup"
    run(migrated, "backup", "create", str(path))
    cases.open_case(adviser, case_data(name="Nach der Sicherung"))
    db.session.commit()
    before = every_row()
    result = run(migrated, "backup", "restore", str(path), input="n\n")
    assert "Replace every record in" in result.output and "[y/N]" in result.output
    assert result.exit_code == 1 and "Nothing was restored." in result.output
    assert every_row() == before


def test_restore_refuses_a_damaged_file_before_asking(migrated, filled, tmp_path):
    path = tmp_path / "counsel.backup"
    run(migrated, "backup", "create", str(path))
    path.write_bytes(path.read_bytes()[:-10])
    before = every_row()
    result = run(migrated, "backup", "restore", str(path), input="y\n")
    assert result.exit_code == 1 and "Nothing was restored: the file is truncated" in result.output
    assert "Replace every record" not in result.output
    assert every_row() == before


def record_spans(blob):
    """Where each record of a backup file starts and ends (read from the layout, not by the code under test)."""
    spans, offset = [], HEADER_BYTES
    while offset < len(blob):
        end = offset + 4 + int.from_bytes(blob[offset:offset + 4], "big")
        spans.append((offset, end))
        offset = end
    return spans


def flip(blob, at):
    return blob[:at] + bytes([blob[at] ^ 0x01]) + blob[at + 1:]


DAMAGE = {
    "cut inside a record": (lambda b, s: b[:s[2][0] + 100], "the file is truncated inside record 2"),
    "cut between records": (lambda b, s: b[:s[3][0]], "the file is truncated: it ends before record 3"),
    "final record dropped": (lambda b, s: b[:s[-1][0]], "ends before record "),
    "flipped byte": (lambda b, s: flip(b, s[2][0] + 50), "record 2 was altered: it fails authentication"),
    "records swapped": (lambda b, s: b[:s[1][0]] + b[s[2][0]:s[2][1]] + b[s[1][0]:s[1][1]] + b[s[2][1]:],
                        "record 1 was altered"),
    "manifest edited": (lambda b, s: flip(b, s[0][0] + 20), "the manifest was altered"),
    "bytes appended": (lambda b, s: b + b"\x00", "bytes after the final record"),
    "header damaged": (lambda b, s: flip(b, 20), "the file's header is damaged"),
    "not a backup": (lambda b, s: b"SQLite format 3\x00" + b[16:], "not a counsel backup file"),
}


@pytest.mark.parametrize("damage", DAMAGE)
def test_verify_names_the_damage_of_a_truncated_or_tampered_file(migrated, filled, tmp_path, monkeypatch, damage):
    monkeypatch.setattr(backup_format, "CHUNK_BYTES", 8192)  # many records, so one can be cut or changed
    path = tmp_path / "counsel.backup"
    assert run(migrated, "backup", "create", str(path)).exit_code == 0
    blob = path.read_bytes()
    spans = record_spans(blob)
    assert len(spans) > 5 and spans[-1][1] == len(blob)
    change, message = DAMAGE[damage]
    path.write_bytes(change(blob, spans))
    result = run(migrated, "backup", "verify", str(path))
    assert result.exit_code == 1
    assert "Backup verification FAILED: " in result.output and message in result.output


def test_verify_fails_with_another_key_ring(migrated, filled, settings, tmp_path):
    path = tmp_path / "counsel.backup"
    run(migrated, "backup", "create", str(path))
    other = tmp_path / "other" / "keys.json"
    KeyRing.create_file(other)
    with running(make_settings(tmp_path, key_file=str(other), database_url=settings.database_url)) as stranger:
        result = run(stranger, "backup", "verify", str(path))
    assert result.exit_code == 1 and "the backup was made with another key ring" in result.output


def test_verify_and_restore_name_a_master_key_the_ring_no_longer_holds(migrated, filled, tmp_path):
    path = tmp_path / "counsel.backup"
    run(migrated, "backup", "create", str(path))
    assert run(migrated, "keys", "rotate").exit_code == 0
    assert run(migrated, "keys", "retire", "1").exit_code == 0  # no live data key needs it; the backup does
    result = run(migrated, "backup", "verify", str(path))
    assert result.exit_code == 1
    assert "FAILED  keys: master key version(s) 1 are not in the key ring (it holds 2)" in result.output
    assert "FAILED  encrypted fields:" in result.output
    assert "master key version 1 is not in the key ring" in result.output
    assert "Backup verification FAILED: keys, encrypted fields." in result.output
    refused = run(migrated, "backup", "restore", str(path), "--yes")
    assert refused.exit_code == 1 and "The key ring lacks master key version(s) 1" in refused.output


def test_verify_names_an_unreadable_field_and_a_broken_chain(migrated, filled, tmp_path):
    damaged = filled[1]
    update = text("UPDATE cases SET notes = :notes WHERE id = :id").bindparams(bindparam("id", type_=Uuid()))
    db.session.execute(update, {"id": damaged.id, "notes": b"\x01" * 40})
    db.session.execute(text("UPDATE audit_events SET detail = 'changed' WHERE seq = 2"))
    db.session.commit()
    path = tmp_path / "counsel.backup"
    run(migrated, "backup", "create", str(path))
    result = run(migrated, "backup", "verify", str(path))
    assert result.exit_code == 1
    assert "FAILED  audit chain: event 2 was changed, inserted or moved (1 events verified before it)" in result.output
    assert f"FAILED  encrypted fields: 1 fields do not open, e.g. cannot decrypt cases.notes of row {damaged.id}" \
        in result.output
    assert "ok      keys:" in result.output
    assert "Backup verification FAILED: audit chain, encrypted fields." in result.output


def test_verify_lets_cases_erased_since_the_backup_stay_shut(migrated, filled, tmp_path):
    path = tmp_path / "counsel.backup"
    run(migrated, "backup", "create", str(path))
    migrated.extensions["counsel.vault"].keystore.shred(filled[0].id)  # the case's secret is gone
    result = run(migrated, "backup", "verify", str(path))
    assert result.exit_code == 0, result.output
    assert re.search(r"ok      encrypted fields: \d+ fields open .*; \d+ fields of 1 cases erased since the backup "
                     r"stay shut", result.output)


def test_verify_notices_a_manifest_resealed_by_someone_with_the_keys(migrated, filled, tmp_path):
    """An insider holding the key ring can seal a new manifest; it must still agree with the data."""
    path = tmp_path / "counsel.backup"
    run(migrated, "backup", "create", str(path))
    key = migrated.extensions["counsel.vault"].keyring.purpose_key("backup")
    dump = io.BytesIO()
    with path.open("rb") as source:
        manifest = unseal(source, key, dump).manifest
    forged = backup_format.Manifest(**{**manifest.__dict__, "audit_seq": manifest.audit_seq - 1})
    dump.seek(0)
    with path.open("wb") as out:
        seal(dump, out, key, forged)
    result = run(migrated, "backup", "verify", str(path))
    assert result.exit_code == 1
    assert (f"FAILED  audit chain: the chain ends at event {manifest.audit_seq}, but the manifest names event "
            f"{manifest.audit_seq - 1}") in result.output


def test_a_backup_taken_while_others_write_holds_every_write_acknowledged_before(migrated, filled, adviser, tmp_path):
    acknowledged: list[uuid.UUID] = []
    failures: list[BaseException] = []
    stop = threading.Event()
    author_id = adviser.id  # read here: the test's session is not for other threads

    def write(number):
        with migrated.app_context():
            try:
                author = db.session.get(User, author_id)
                count = 0
                while not stop.is_set():
                    case = cases.open_case(author, case_data(name=f"Schreiberin {number} Fall {count}"))
                    db.session.commit()
                    acknowledged.append(case.id)  # acknowledged: the commit has returned
                    count += 1
            except BaseException as exc:  # reported in the test's thread
                failures.append(exc)
            finally:
                db.session.remove()

    writers = [threading.Thread(target=write, args=(n,)) for n in range(3)]
    for writer in writers:
        writer.start()
    deadline = time.monotonic() + 60
    while len(acknowledged) < 10 and time.monotonic() < deadline and not failures:
        time.sleep(0.05)
    path = tmp_path / "counsel.backup"
    try:
        before = list(acknowledged)
        created = run(migrated, "backup", "create", str(path))
        time.sleep(0.2)  # and a little more writing after the backup
    finally:
        stop.set()
        for writer in writers:
            writer.join()
    assert failures == [] and created.exit_code == 0, created.output
    assert len(before) >= 10 and len(acknowledged) > len(before)  # writes went on during the backup

    verified = run(migrated, "backup", "verify", str(path))
    assert verified.exit_code == 0, verified.output
    restored = run(migrated, "backup", "restore", str(path), "--yes")
    assert restored.exit_code == 0, restored.output
    present = {case.id: case.name for case in db.session.scalars(select(Case))}
    assert set(before) <= present.keys()  # every write acknowledged before the backup began
    assert all(name for name in present.values())  # and every case opens
    events = db.session.scalars(select(AuditEvent.case_id).where(AuditEvent.action == "case_created")).all()
    assert set(events) == present.keys()  # each case with its audit event, none without: one moment
    assert run(migrated, "audit", "verify").exit_code == 0


def test_a_missing_postgres_client_is_named(monkeypatch):
    monkeypatch.setenv("PATH", "")
    with pytest.raises(BackupError, match="pg_dump is not on PATH: install the PostgreSQL client"):
        backup_postgres.tool("pg_dump")


def test_the_readme_commands_work_as_written(migrated, filled, tmp_path):
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Backups\n", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"^\.venv/bin/counsel (backup .+?)(?:\s+#.*)?$", section, flags=re.MULTILINE)
    assert [c.split()[1] for c in commands] == ["create", "verify", "restore", "restore", "key-store"]
    for command in commands:
        args = command.replace("/var/backups/counsel/", f"{tmp_path}/").split()
        result = run(migrated, *args, input="y\n")
        assert result.exit_code == 0, (command, result.output)


def test_a_restore_names_the_erasure_requests_waiting_in_the_restored_database(migrated, filled, adviser, admin,
                                                                               tmp_path):
    """A decision made after the backup is lost with the restore: the operator is told which requests to check."""
    number = filled[0].number
    asked = two_person.request_erasure(adviser, filled[0], "Sie hat schriftlich um Löschung gebeten.")
    db.session.commit()
    path = tmp_path / "counsel.backup"
    assert run(migrated, "backup", "create", str(path)).exit_code == 0
    two_person.refuse(admin, asked)
    db.session.commit()
    result = run(migrated, "backup", "restore", str(path), "--yes")
    assert result.exit_code == 0, result.output
    assert f"Erasure requests pending in the restored database: {number}." in result.output
