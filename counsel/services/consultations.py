"""Consultations: log and edit each contact with a client; the adviser's dashboard."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, func, select
from sqlalchemy import case as sql_case

from counsel import audit, codes
from counsel.access import Permission, require, visible_cases
from counsel.clock import today, utcnow
from counsel.errors import Conflict
from counsel.extensions import db
from counsel.models.case import Case
from counsel.models.consultation import Consultation
from counsel.models.user import User
from counsel.services.cases import CaseInputError

MAX_MINUTES = 12 * 60


@dataclass
class ConsultationInput:
    held_on: date
    minutes: int
    channel: str
    language: str | None = None
    interpreting: str = "none"
    interpreter: str = ""
    pledge_on_file: bool = False
    topics: set[str] = field(default_factory=set)
    referrals: set[str] = field(default_factory=set)
    notes: str = ""
    follow_up_on: date | None = None


def validate(data: ConsultationInput) -> None:
    """Refuse impossible consultations; the message names the problem."""
    if data.held_on > today():
        raise CaseInputError(_l("A consultation cannot lie in the future; plan it as a follow-up instead."))
    if not 1 <= data.minutes <= MAX_MINUTES:
        raise CaseInputError(_l("The duration must be between 1 minute and 12 hours."))
    if data.channel not in codes.CHANNELS or data.interpreting not in codes.INTERPRETING:
        raise CaseInputError(_l("Choose how the consultation took place."))
    if unknown := (data.topics - set(codes.TOPICS)) | (data.referrals - set(codes.REFERRALS)):
        raise CaseInputError(_l("Unknown value %(value)s.", value=", ".join(sorted(unknown))))
    if data.follow_up_on is not None and data.follow_up_on < data.held_on:
        raise CaseInputError(_l("The follow-up cannot lie before the consultation."))


def _apply(consultation: Consultation, data: ConsultationInput) -> None:
    consultation.held_on = data.held_on
    consultation.minutes = data.minutes
    consultation.channel = data.channel
    consultation.language = data.language
    consultation.interpreting = data.interpreting
    consultation.interpreter = data.interpreter.strip() or None
    consultation.pledge_on_file = data.pledge_on_file
    consultation.notes = data.notes.strip() or None
    consultation.follow_up_on = data.follow_up_on
    consultation.set_topics(data.topics)
    consultation.set_referrals(data.referrals)
    consultation.updated_at = utcnow()  # the row always changes, so its version moves on (optimistic lock)


def add(actor: User, case: Case, data: ConsultationInput) -> Consultation:
    """Log a consultation of a case the adviser may record in."""
    require(actor, case, Permission.RECORD)
    validate(data)
    consultation = Consultation(id=uuid.uuid4(), case=case, case_id=case.id, author_id=actor.id)
    db.session.add(consultation)
    _apply(consultation, data)  # the case row stays untouched: a consultation is no edit of the case
    audit.record("consultation_added", actor=actor, case=case)
    return consultation


def update(actor: User, consultation: Consultation, data: ConsultationInput, expected_version: int) -> None:
    """Save an edit unless someone saved the consultation since the form was opened."""
    require(actor, consultation.case, Permission.RECORD)
    if consultation.version != expected_version:
        raise Conflict(_l("A colleague saved this consultation while you were editing. Your input is still in "
                          "the form; compare and save again."))
    validate(data)
    _apply(consultation, data)
    audit.record("consultation_edited", actor=actor, case=consultation.case)


def of_case(case: Case) -> list[Consultation]:
    return list(db.session.scalars(select(Consultation).where(Consultation.case_id == case.id)
                                   .order_by(Consultation.held_on.desc(), Consultation.created_at.desc())))


DASHBOARD_CASES = 100


@dataclass(frozen=True)
class Dashboard:
    open_cases: list[Case]
    open_total: int
    follow_ups: list[tuple[Case, date]]
    week_end: date


def dashboard(actor: User) -> Dashboard:
    """Her open cases, latest activity first, and the follow-ups due by the end of this week (overdue included)."""
    day = today()
    week_end = day + timedelta(days=6 - day.weekday())
    open_cases = visible_cases(actor).where(Case.status == "open")
    open_ids = open_cases.with_only_columns(Case.id)
    total = db.session.scalar(open_cases.with_only_columns(func.count())) or 0
    logged = (select(Consultation.case_id, func.max(Consultation.updated_at).label("at"))
              .where(Consultation.case_id.in_(open_ids)).group_by(Consultation.case_id).subquery())
    activity = sql_case((logged.c.at > Case.updated_at, logged.c.at), else_=Case.updated_at)
    cases = list(db.session.scalars(open_cases.outerjoin(logged, logged.c.case_id == Case.id)
                                    .order_by(activity.desc(), Case.number.desc()).limit(DASHBOARD_CASES)))
    return Dashboard(cases, total, _follow_ups(open_ids, week_end), week_end)


def _follow_ups(case_ids: Select[tuple[uuid.UUID]], until: date) -> list[tuple[Case, date]]:
    """The follow-up of each case's latest consultation (by the day it was held), if due by a day.

    An older consultation entered later does not hide a pending follow-up; consultations of the
    same day are ordered by entry time and id, so each case appears once and always the same way.
    """
    rank = func.row_number().over(
        partition_by=Consultation.case_id,
        order_by=(Consultation.held_on.desc(), Consultation.created_at.desc(), Consultation.id.desc()))
    latest = (select(Consultation.case_id, Consultation.follow_up_on, rank.label("rank"))
              .where(Consultation.case_id.in_(case_ids)).subquery())
    rows = db.session.execute(
        select(latest.c.case_id, latest.c.follow_up_on)
        .where(latest.c.rank == 1, latest.c.follow_up_on.is_not(None), latest.c.follow_up_on <= until)
    ).tuples().all()
    due_cases = {c.id: c for c in db.session.scalars(select(Case).where(Case.id.in_([r[0] for r in rows])))}
    return sorted(((due_cases[case_id], due) for case_id, due in rows), key=lambda pair: (pair[1], pair[0].number))
