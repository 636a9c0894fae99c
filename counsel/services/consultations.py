"""Consultations: log and edit each contact with a client; the adviser's dashboard."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from counsel import audit, codes
from counsel.access import today, visible_cases
from counsel.clock import utcnow
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
    """Log a consultation of a case the adviser may write to."""
    validate(data)
    consultation = Consultation(id=uuid.uuid4(), case=case, case_id=case.id, author_id=actor.id)
    db.session.add(consultation)
    _apply(consultation, data)
    case.updated_at = utcnow()
    audit.record("consultation_added", actor=actor, case=case)
    return consultation


def update(actor: User, consultation: Consultation, data: ConsultationInput, expected_version: int) -> None:
    """Save an edit unless someone saved the consultation since the form was opened."""
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
    """Her open cases, and the follow-ups due by the end of this week (overdue ones included)."""
    day = today()
    week_end = day + timedelta(days=6 - day.weekday())
    open_cases = visible_cases(actor).where(Case.status == "open")
    total = db.session.scalar(open_cases.with_only_columns(func.count())) or 0
    cases = list(db.session.scalars(open_cases.order_by(Case.updated_at.desc()).limit(DASHBOARD_CASES)))
    latest = (
        select(Consultation.case_id, func.max(Consultation.created_at).label("latest"))
        .where(Consultation.case_id.in_(open_cases.with_only_columns(Case.id)))
        .group_by(Consultation.case_id)
        .subquery()
    )
    rows = db.session.execute(
        select(Consultation.case_id, Consultation.follow_up_on)
        .join(latest, (latest.c.case_id == Consultation.case_id) & (latest.c.latest == Consultation.created_at))
        .where(Consultation.follow_up_on.is_not(None), Consultation.follow_up_on <= week_end)
    ).all()
    due_cases = {c.id: c for c in db.session.scalars(select(Case).where(Case.id.in_([r[0] for r in rows])))}
    follow_ups = sorted(((due_cases[case_id], due) for case_id, due in rows), key=lambda pair: pair[1])
    return Dashboard(cases, total, follow_ups, week_end)
