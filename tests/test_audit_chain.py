"""The audit chain: intact verifies, every kind of tampering is found at the right event.

Events are written with counsel.audit.record and tampered with in plain SQL, as someone with
write access to the database (but without the key ring) could.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import uuid
from datetime import datetime
from types import SimpleNamespace

import pytest
from sqlalchemy import DateTime, bindparam, func, select, text

from counsel import audit
from counsel.cli import cli
from counsel.extensions import db
from counsel.models.audit import AuditEvent, AuditHead

ACTIONS = ("sign_in", "case_viewed", "case_edited", "password_changed", "sign_out")
COLUMNS = "at, actor_id, actor_name, action, case_id, case_number, target_user_id, ip, detail"


def write_events(count, start=0):
    """Record `count` events with varied metadata and commit them."""
    for i in range(start, start + count):
        case = SimpleNamespace(id=uuid.uuid4(), number=f"DO-2026-{i:04d}")
        audit.record(ACTIONS[i % len(ACTIONS)], actor_name=f"adviser{i}", case=case, detail=f"n={i}")
    db.session.commit()


def sql(statement, **params):
    """Tamper with the table directly, bypassing the application, and commit."""
    db.session.execute(text(statement), params)
    db.session.commit()


def run(app, *args):
    return app.test_cli_runner().invoke(cli, list(args), catch_exceptions=False)


def stored(seq):
    row = db.session.execute(select(AuditEvent.__table__).where(AuditEvent.seq == seq)).one()
    return row._asdict()


def broken_at(seq, kind=None):
    result = audit.verify_chain()
    assert not result.ok, result
    assert result.first_broken == seq, result
    assert result.checked == seq - 1
    if kind:
        assert result.kind == kind, result
    return result


@pytest.fixture
def chain(app):
    write_events(10)
    return app


def test_an_intact_chain_verifies_on_the_command_line(chain):
    result = audit.verify_chain()
    assert result.ok and result.checked == 10
    outcome = run(chain, "audit", "verify")
    assert outcome.exit_code == 0
    assert "intact: 10 events" in outcome.output


def test_an_empty_trail_verifies(app):
    assert audit.verify_chain() == audit.Verification(True, 0)
    assert run(app, "audit", "verify").exit_code == 0


@pytest.mark.parametrize(("column", "value"), [
    ("actor_name", "'someone else'"),
    ("action", "'sign_out'"),
    ("case_number", "'DO-2026-9999'"),
    ("case_number", "NULL"),
    ("ip", "'10.9.8.7'"),
    ("detail", "''"),
    ("case_id", "NULL"),
    ("mac", "'" + "f" * 64 + "'"),
])
def test_a_changed_row_is_reported_at_its_event(chain, column, value):
    sql(f"UPDATE audit_events SET {column} = {value} WHERE seq = 4")  # noqa: S608 - fixed test values
    broken_at(4, "changed")


def test_a_changed_time_is_reported_at_its_event(chain):
    statement = text("UPDATE audit_events SET at = :at WHERE seq = 6").bindparams(bindparam("at", type_=DateTime()))
    db.session.execute(statement, {"at": datetime(2020, 1, 1, 8, 0, 0)})
    db.session.commit()
    broken_at(6, "changed")


def test_the_command_line_exits_1_naming_the_first_broken_event(chain):
    sql("UPDATE audit_events SET detail = 'nothing to see' WHERE seq = 7")
    sql("UPDATE audit_events SET detail = 'nor here' WHERE seq = 9")
    outcome = run(chain, "audit", "verify")
    assert outcome.exit_code == 1
    assert "BROKEN at event 7" in outcome.output and "6 events verified" in outcome.output


def test_a_row_deleted_in_the_middle_is_reported_at_its_seq(chain):
    sql("DELETE FROM audit_events WHERE seq = 5")
    result = broken_at(5, "missing")
    assert "event 5 is missing" in result.problem
    outcome = run(chain, "audit", "verify")
    assert outcome.exit_code == 1 and "event 5" in outcome.output


def test_the_first_row_deleted_is_reported(chain):
    sql("DELETE FROM audit_events WHERE seq = 1")
    broken_at(1, "missing")


def test_rows_with_swapped_seq_values_are_reported_at_the_first(chain):
    sql("UPDATE audit_events SET seq = -1 WHERE seq = 3")
    sql("UPDATE audit_events SET seq = 3 WHERE seq = 8")
    sql("UPDATE audit_events SET seq = 8 WHERE seq = -1")
    broken_at(3, "changed")


def test_rows_with_swapped_contents_are_reported_at_the_first(chain):
    third, eighth = stored(3), stored(8)
    statement = text(
        "UPDATE audit_events SET at = :at, actor_id = :actor_id, actor_name = :actor_name, action = :action, "
        "case_id = :case_id, case_number = :case_number, target_user_id = :target_user_id, ip = :ip, "
        "detail = :detail, mac = :mac WHERE seq = :seq"
    ).bindparams(bindparam("at", type_=DateTime()), bindparam("case_id", type_=AuditEvent.case_id.type),
                 bindparam("actor_id", type_=AuditEvent.actor_id.type),
                 bindparam("target_user_id", type_=AuditEvent.target_user_id.type))
    db.session.execute(statement, {**eighth, "seq": 3})
    db.session.execute(statement, {**third, "seq": 8})
    db.session.commit()
    broken_at(3, "changed")


def forge(seq, key):
    """Copy event 10 to `seq` as a forger would, sealing it with plain SHA-256 or a wrong key."""
    sql(f"INSERT INTO audit_events (seq, {COLUMNS}, mac) "  # noqa: S608 - fixed test values
        f"SELECT :seq, {COLUMNS}, :mac FROM audit_events WHERE seq = 10", seq=seq, mac="0" * 64)
    sql("UPDATE audit_events SET actor_name = 'forger', action = 'case_viewed' WHERE seq = :seq", seq=seq)
    event = stored(seq)
    previous = stored(seq - 1)["mac"]
    message = previous.encode() + b"|" + audit._canonical(event)
    mac = hashlib.sha256(message).hexdigest() if key is None else hmac.new(key, message, hashlib.sha256).hexdigest()
    sql("UPDATE audit_events SET mac = :mac WHERE seq = :seq", mac=mac, seq=seq)
    return mac


@pytest.mark.parametrize("key", [None, b"a wrong key of thirty-two bytes!"], ids=["sha256", "wrong-hmac-key"])
def test_a_forged_row_appended_with_the_head_moved_is_reported(chain, key):
    mac = forge(11, key)
    sql("UPDATE audit_head SET seq = 11, mac = :mac WHERE id = 1", mac=mac)
    broken_at(11, "changed")


@pytest.mark.parametrize("key", [None, b"a wrong key of thirty-two bytes!"], ids=["sha256", "wrong-hmac-key"])
def test_a_forged_row_inserted_in_the_middle_is_reported(chain, key):
    sql("UPDATE audit_events SET seq = seq + 100 WHERE seq >= 6")
    sql("UPDATE audit_events SET seq = seq - 99 WHERE seq >= 106")  # events 6..10 are now 7..11
    sql(f"INSERT INTO audit_events (seq, {COLUMNS}, mac) "  # noqa: S608 - fixed test values
        f"SELECT 6, {COLUMNS}, :mac FROM audit_events WHERE seq = 5", mac="0" * 64)
    event = stored(6)
    message = stored(5)["mac"].encode() + b"|" + audit._canonical(event)
    mac = hashlib.sha256(message).hexdigest() if key is None else hmac.new(key, message, hashlib.sha256).hexdigest()
    sql("UPDATE audit_events SET mac = :mac WHERE seq = 6", mac=mac)
    sql("UPDATE audit_head SET seq = 11 WHERE id = 1")
    broken_at(6, "changed")


def cut_tail(keep):
    """Delete the events after `keep` and move the head back, so the database looks whole."""
    mac = stored(keep)["mac"]
    sql("DELETE FROM audit_events WHERE seq > :keep", keep=keep)
    sql("UPDATE audit_head SET seq = :keep, mac = :mac WHERE id = 1", keep=keep, mac=mac)


def test_a_cut_off_tail_is_not_detectable_from_the_database_alone(chain):
    cut_tail(8)
    result = audit.verify_chain()
    assert result.ok and result.checked == 8  # the known limit: checkpoints are the remedy


def test_a_cut_off_tail_is_detected_with_a_checkpoint_written_before(chain, settings):
    outcome = run(chain, "audit", "checkpoint")
    assert outcome.exit_code == 0 and "event 10" in outcome.output
    assert audit.verify_chain(settings.checkpoint_path).ok
    cut_tail(8)
    result = audit.verify_chain(settings.checkpoint_path)
    assert not result.ok and result.kind == "cut" and result.first_broken == 9 and result.last_checkpoint == 10
    assert "events 9 to 10 are missing" in result.problem
    verify = run(chain, "audit", "verify")
    assert verify.exit_code == 1
    assert "BROKEN at event 9" in verify.output and "events 9 to 10 are missing" in verify.output


def test_events_after_a_checkpoint_keep_verifying(chain, settings):
    run(chain, "audit", "checkpoint")
    write_events(5, start=10)
    run(chain, "audit", "checkpoint")
    result = audit.verify_chain(settings.checkpoint_path)
    assert result.ok and result.checked == 15 and result.checkpoints == 2 and result.last_checkpoint == 15


def test_a_chain_rewritten_with_the_key_differs_from_the_checkpoint(chain, settings):
    audit.write_checkpoint(settings.checkpoint_path)
    key = audit.chain_key()  # someone who also stole the key ring re-seals a changed history
    sql("UPDATE audit_events SET actor_name = 'nobody' WHERE seq = 4")
    previous = stored(3)["mac"]
    for seq in range(4, 11):
        mac = audit.compute_mac(key, previous, stored(seq))
        sql("UPDATE audit_events SET mac = :mac WHERE seq = :seq", mac=mac, seq=seq)
        previous = mac
    sql("UPDATE audit_head SET mac = :mac WHERE id = 1", mac=previous)
    assert audit.verify_chain().ok  # the database alone cannot tell
    result = audit.verify_chain(settings.checkpoint_path)
    assert not result.ok and result.kind == "checkpoint" and result.first_broken == 10 and result.checked == 9


def test_a_deleted_last_row_with_the_head_left_alone_is_reported(chain):
    sql("DELETE FROM audit_events WHERE seq = 10")
    result = broken_at(10, "head")
    assert "head" in result.problem


def test_a_head_moved_back_is_reported_after_its_position(chain):
    mac = stored(7)["mac"]
    sql("UPDATE audit_head SET seq = 7, mac = :mac WHERE id = 1", mac=mac)
    result = broken_at(8, "head")
    assert "chain head (event 7)" in result.problem


def test_a_deleted_head_row_is_reported(chain):
    sql("DELETE FROM audit_head")
    broken_at(11, "head_missing")


def test_an_unreadable_checkpoint_file_fails_verification(chain, settings):
    audit.write_checkpoint(settings.checkpoint_path)
    with settings.checkpoint_path.open("a", encoding="utf-8") as handle:
        handle.write("{not json\n")
    result = audit.verify_chain(settings.checkpoint_path)
    assert not result.ok and result.kind == "checkpoint_file" and "line 2" in result.problem


def test_verification_reads_the_table_not_objects_the_session_already_holds(chain):
    held = db.session.scalars(select(AuditEvent).order_by(AuditEvent.seq)).all()
    assert len(held) == 10
    db.session.execute(text("UPDATE audit_events SET detail = 'changed meanwhile' WHERE seq = 2"))
    broken_at(2, "changed")  # same transaction, objects not expired: still found
    db.session.rollback()


def test_an_event_is_written_in_the_transaction_of_the_change(chain):
    audit.record("user_changed", actor_name="admin", detail="roles=adviser->admin")
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == 11
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == 10
    assert db.session.execute(select(AuditHead.seq)).scalar_one() == 10
    assert audit.verify_chain().ok
    write_events(1, start=10)
    result = audit.verify_chain()
    assert result.ok and result.checked == 11


def test_a_rolled_back_first_event_leaves_no_trace(app):
    audit.record("sign_in", actor_name="first")
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(AuditHead)) == 0
    write_events(2)
    assert audit.verify_chain() == audit.Verification(True, 2)


def test_concurrent_writers_do_not_fork_the_chain(app):
    """Writers start together on an empty trail, so they also race to create the head row.

    On PostgreSQL they queue on the head's row lock; on SQLite on the file's write lock (the
    busy timeout makes them wait), so the same test holds on both.
    """
    threads, per_thread = 8, 25
    start = threading.Barrier(threads)
    errors: list[BaseException] = []

    def writer(number):
        try:
            with app.app_context():
                start.wait()
                for i in range(per_thread):
                    audit.record("case_viewed", actor_name=f"writer{number}", detail=f"i={i}")
                    db.session.commit()
        except BaseException as exc:  # reported in the test's thread
            errors.append(exc)

    workers = [threading.Thread(target=writer, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert errors == []
    total = threads * per_thread
    result = audit.verify_chain()
    assert result.ok and result.checked == total
    assert db.session.scalars(select(AuditEvent.seq).order_by(AuditEvent.seq)).all() == list(range(1, total + 1))
    per_writer = db.session.execute(select(AuditEvent.actor_name, func.count()).group_by(AuditEvent.actor_name)).all()
    assert sorted(count for _, count in per_writer) == [per_thread] * threads
