"""Erase a case: its secret first, so that no copy of the database opens it again, then every row of it.

What goes: every personal field, consultation, consent, disclosure, alleged perpetrator, risk
assessment, the safety plan, shares, emergency accesses, the name and contact indexes, the
notifications and requests that point at it, and its data key. What stays:

- the audit trail, untouched: its events name the case by random id and number only (never
  content), and changing them would break the chain that proves nobody else did; one more
  event says that, why and on whose confirmation the case was erased;
- the statistics' coded facts, unlinked from the case (case_facts.case_id NULL), so published
  figures of past periods do not change; a statistics consent she withdrew stays withdrawn there.

The secret is deleted in the key store, which commits at once, before the database's rows go: if
the rest fails, the case is already unreadable and its tombstone makes `reapply_recorded_erasures`
finish it, as a restore of a database backup does for every erasure recorded since the backup.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from typing import cast

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, event, or_, select, update
from sqlalchemy.orm import Session

from counsel import audit
from counsel.errors import NotPermitted
from counsel.extensions import db
from counsel.models.case import Case, CaseNameIndex
from counsel.models.change_request import ChangeRequest, RequestKind, RequestStatus
from counsel.models.consultation import Consultation, ConsultationReferral, ConsultationTopic
from counsel.models.data_key import DataKey
from counsel.models.safety import (
    Consent,
    ContactIndex,
    Disclosure,
    EmergencyAccess,
    Notification,
    Perpetrator,
    RiskAssessment,
)
from counsel.models.statistics import CaseFacts
from counsel.models.user import User
from counsel.vault import Vault

log = logging.getLogger(__name__)
# Set while an erasure's checkpoint of SQLite's write-ahead log has not yet succeeded.
_log_to_empty = threading.Event()
CHECKPOINT_TRIES = 20
CHECKPOINT_PAUSE = 0.05

RETENTION = "retention"
REQUEST = "request"
RESTORE = "restore"
BATCH = 500


class ErasureRefused(NotPermitted):
    """The case may not be erased now (a legal hold); the message says why."""


def vault() -> Vault:
    found: Vault = current_app.extensions["counsel.vault"]
    return found


def erase(case: Case, *, cause: str, actor: User | None = None, actor_name: str = audit.OPERATOR, detail: str = "",
          request: ChangeRequest | None = None) -> str:
    """Erase one case, its secret and data key first; return its number. The caller commits.

    `request` is the confirmed request that asked for it: it stays, as the record of who asked and
    who decided, but no longer names the case nor says why. An erasure on request without one
    confirmed for this very case is refused, whoever calls.
    """
    if cause == REQUEST and (request is None or request.status != RequestStatus.CONFIRMED.value
                             or request.case_id != case.id):
        raise ErasureRefused(_l("An erasure on request needs a request for this case that a second person "
                                "confirmed."))
    if cause == REQUEST and request is not None and request.requested_by_id != case.owner_id:
        # Handed over since: the one who asked no longer holds the case, and its holder did not ask.
        raise ErasureRefused(_l("Case %(number)s was handed over after its erasure was asked for: only the adviser "
                                "who holds it now can ask again. Refuse this request.", number=case.number))
    if case.legal_hold is not None and cause != RESTORE:
        raise ErasureRefused(_l("Case %(number)s is under a legal hold: it is kept until the hold ends.",
                                number=case.number))
    number, case_id, key_id = case.number, case.id, case.data_key_id
    vault().keystore.shred(case_id)  # first: from here on no copy of the database opens her data
    if key_id is not None:
        vault().forget(key_id)
    audit.record("case_erased", actor=actor, actor_name=actor_name, case=case,
                 detail=f"cause={cause} {detail}".strip())
    db.session.execute(update(CaseFacts).where(CaseFacts.case_id == case_id).values(case_id=None))
    _forget_requests(case, request)
    _delete_records(case_id, number)
    db.session.delete(case)  # with its languages, forms of violence, shares and legal hold
    db.session.flush()
    if key_id is not None:
        db.session.execute(delete(DataKey).where(DataKey.id == key_id))
    if db.engine.dialect.name == "sqlite":
        event.listen(db.session(), "after_commit", _empty_the_log, once=True)
    return number


def _empty_the_log(_session: Session | None = None) -> None:
    """Once the erasure is committed, move SQLite's write-ahead log into the file and empty it.

    The log still holds the pages as they were before (her rows among them) until it is written
    back and truncated; secure_delete has zeroed the freed space of the file itself. A reader in
    another request keeps the log busy: the checkpoint is tried for a while, and while it has
    not succeeded every later commit of this process tries again (`_retry_after_commit`).
    """
    for _attempt in range(CHECKPOINT_TRIES):
        with db.engine.connect() as connection:
            busy = connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").scalar()
        if not busy:
            _log_to_empty.clear()
            return
        time.sleep(CHECKPOINT_PAUSE)
    if not _log_to_empty.is_set():
        log.warning("an erased case's old pages stay in the write-ahead log until a reader ends; retrying")
    _log_to_empty.set()


@event.listens_for(Session, "after_commit")
def _retry_after_commit(_session: Session) -> None:
    if _log_to_empty.is_set():
        _empty_the_log()


def _forget_requests(case: Case, keep: ChangeRequest | None) -> None:
    """Requests about the case go; the confirmed one stays without its case and reason; transfers drop it."""
    if keep is not None:
        keep.case = None
        keep._reason = None
    others = select(ChangeRequest.id).where(ChangeRequest.case_id == case.id)
    if keep is not None:
        others = others.where(ChangeRequest.id != keep.id)
    emergencies = select(EmergencyAccess.id).where(EmergencyAccess.case_id == case.id)
    doomed = select(ChangeRequest.id).where(or_(ChangeRequest.id.in_(others),
                                                ChangeRequest.emergency_id.in_(emergencies)))
    doomed_ids = list(db.session.scalars(doomed))
    db.session.execute(delete(Notification).where(Notification.request_id.in_(doomed_ids)))
    db.session.execute(delete(ChangeRequest).where(ChangeRequest.id.in_(doomed_ids))
                       .execution_options(synchronize_session=False))
    for change in db.session.scalars(select(ChangeRequest).where(
            ChangeRequest.kind == RequestKind.TRANSFER.value, ChangeRequest.case_ids.contains(str(case.id)))):
        change.case_ids = " ".join(value for value in (change.case_ids or "").split() if value != str(case.id))


def _delete_records(case_id: uuid.UUID, number: str) -> None:
    """Delete every record of the case that the case object does not hold itself, children first."""
    visits = select(Consultation.id).where(Consultation.case_id == case_id)
    for model in (ConsultationTopic, ConsultationReferral):
        db.session.execute(delete(model).where(model.consultation_id.in_(visits)))
    for child in (Consultation, Disclosure, Consent, ContactIndex, Perpetrator, RiskAssessment, EmergencyAccess,
                  CaseNameIndex):
        db.session.execute(delete(child).where(child.case_id == case_id).execution_options(synchronize_session=False))
    db.session.execute(delete(Notification).where(or_(Notification.case_id == case_id,
                                                      Notification.case_number == number)))


def reapply_recorded_erasures() -> list[str]:
    """Erase every case still in the database whose erasure the key store records; return their numbers.

    After a database backup is restored, the cases erased since it was taken are back in the
    database, but not their secrets: nothing of them can be read. This removes their rows too,
    each in its own transaction, with an audit event naming the restore. It commits.
    """
    erased: list[uuid.UUID] = vault().keystore.erased_ids()
    numbers = []
    for start in range(0, len(erased), BATCH):
        chunk = erased[start:start + BATCH]
        for case_id in db.session.scalars(select(Case.id).where(Case.id.in_(chunk)).order_by(Case.number)).all():
            case = cast(Case, db.session.get(Case, case_id))
            numbers.append(erase(case, cause=RESTORE, detail="re-applied after a restore"))
            db.session.commit()
    return numbers
