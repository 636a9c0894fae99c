"""Keep the statistics' copy of each case (counsel.models.statistics) current, in the same transaction.

Whenever a flush writes a case, its languages or forms of violence, a consent, a risk
assessment or a consultation, the copy of that case is made again from its rows before the
transaction commits: a report never counts a case differently from how it stands. Writers that
bypass the ORM (bulk inserts of the demo seeder, tests) call `refresh`; `rebuild` makes the
whole copy anew (`counsel statistics rebuild`, after a restore or an edit by hand).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Collection, Iterator, Sequence
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, case, delete, func, insert, select
from sqlalchemy.event import listens_for
from sqlalchemy.orm import Session, UOWTransaction

from counsel import codes
from counsel.models.case import Case, CaseLanguage, CaseViolenceForm
from counsel.models.consultation import Consultation, ConsultationReferral, ConsultationTopic
from counsel.models.safety import Consent, RiskAssessment, consent_valid_clause
from counsel.models.statistics import (
    ACTIVITY_CODES,
    CaseFacts,
    ConsentSpan,
    FactLanguage,
    FactRisk,
    activity,
    code_column,
)

BATCH = 500
PENDING = "counsel.statistics.cases"  # Session.info key: cases whose copy a flush must renew
CASE_CHILDREN = (CaseLanguage, CaseViolenceForm, Consent, RiskAssessment, Consultation)


def violence_bit(form: str) -> int:
    """The bit of a form of violence in CaseFacts.violence."""
    return 1 << list(codes.VIOLENCE_FORMS).index(form)


@listens_for(Session, "after_flush")
def _note_changed_cases(session: Session, _context: UOWTransaction) -> None:
    """Note the cases a flush changed (its lists still hold what it wrote, now with their ids).

    Topics and referrals change only with their consultation, and a case's languages and forms
    of violence with the case, which is then changed too.
    """
    pending: set[uuid.UUID] = session.info.setdefault(PENDING, set())
    for row in [*session.new, *session.dirty, *session.deleted]:
        if isinstance(row, Case):
            pending.add(row.id)
        elif isinstance(row, CASE_CHILDREN) and row.case_id is not None:
            pending.add(row.case_id)


@listens_for(Session, "after_flush_postexec")
def _renew_changed_cases(session: Session, _context: UOWTransaction) -> None:
    pending: set[uuid.UUID] = session.info.pop(PENDING, set())
    if pending:
        refresh(session.connection(), pending)


def refresh(connection: Connection, case_ids: Collection[uuid.UUID]) -> None:
    """Make the copy of these cases anew from their rows (a case no longer there leaves none)."""
    ids = sorted(set(case_ids))
    for start in range(0, len(ids), BATCH):
        chunk = ids[start:start + BATCH]
        _forget(connection, chunk)
        _copy_cases(connection, chunk)
        _copy_children(connection, chunk)
        _sum_activity(connection, chunk)


def rebuild(connection: Connection) -> int:
    """Make the copy of every case anew; return how many cases it holds.

    The facts of erased cases (no case_id) stay as they are: there is nothing left to make them
    from, and published figures of past periods must not change.
    """
    linked = select(CaseFacts.id).where(CaseFacts.case_id.is_not(None)).scalar_subquery()
    connection.execute(delete(activity).where(activity.c.fact_id.in_(linked)))
    for model in (ConsentSpan, FactLanguage, FactRisk):
        connection.execute(delete(model).where(model.fact_id.in_(linked)))
    connection.execute(delete(CaseFacts).where(CaseFacts.case_id.is_not(None)))
    ids = list(connection.scalars(select(Case.id).order_by(Case.id)))
    refresh(connection, ids)
    return len(ids)


def _forget(connection: Connection, case_ids: list[uuid.UUID]) -> None:
    facts = select(CaseFacts.id).where(CaseFacts.case_id.in_(case_ids)).scalar_subquery()
    connection.execute(delete(activity).where(activity.c.fact_id.in_(facts)))
    for model in (ConsentSpan, FactLanguage, FactRisk):
        connection.execute(delete(model).where(model.fact_id.in_(facts)))
    connection.execute(delete(CaseFacts).where(CaseFacts.case_id.in_(case_ids)))


def _copy_cases(connection: Connection, case_ids: list[uuid.UUID]) -> None:
    preferred = (select(CaseLanguage.tag).where(CaseLanguage.case_id == Case.id, CaseLanguage.preferred)
                 .order_by(CaseLanguage.position).limit(1).scalar_subquery())
    bits = case(*((CaseViolenceForm.form == form, violence_bit(form)) for form in codes.VIOLENCE_FORMS), else_=0)
    violence = select(func.coalesce(func.sum(bits), 0)).where(CaseViolenceForm.case_id == Case.id).scalar_subquery()
    closed = case((Case.closed_month < Case.opened_month, Case.opened_month), else_=Case.closed_month)
    columns = {"case_id": Case.id, "site_id": Case.site_id, "opened_month": Case.opened_month,
               "closed_month": closed, "age_band": Case.age_band, "country": Case.country,
               "residence_status": Case.residence_status, "perpetrator_relation": Case.perpetrator_relation,
               "referral_source": Case.referral_source, "preferred_language": preferred, "violence": violence}
    connection.execute(insert(CaseFacts).from_select(
        list(columns), select(*(value.label(name) for name, value in columns.items())).where(Case.id.in_(case_ids))))


def _copy_children(connection: Connection, case_ids: list[uuid.UUID]) -> None:
    facts = select(CaseFacts.id, CaseFacts.case_id).where(CaseFacts.case_id.in_(case_ids)).subquery()
    connection.execute(insert(ConsentSpan).from_select(
        ["fact_id", "given_on", "expires_on", "withdrawn_on"],
        select(facts.c.id, Consent.given_on, Consent.expires_on, Consent.withdrawn_on)
        .join(facts, facts.c.case_id == Consent.case_id).where(Consent.purpose == "statistics")))
    connection.execute(insert(FactLanguage).from_select(
        ["fact_id", "tag"], select(facts.c.id, CaseLanguage.tag).join(facts, facts.c.case_id == CaseLanguage.case_id)))
    assessments = connection.execute(
        select(facts.c.id, RiskAssessment.assessed_on, RiskAssessment.level)
        .join(facts, facts.c.case_id == RiskAssessment.case_id)
        .order_by(facts.c.id, RiskAssessment.assessed_on, RiskAssessment.created_at, RiskAssessment.id)).all()
    if rows := risk_spans(assessments):
        connection.execute(insert(FactRisk), rows)


def risk_spans(assessments: Sequence[Any]) -> list[dict[str, Any]]:
    """Give each assessment (fact, day, level; in order) the day of the next one of its case."""
    rows: list[dict[str, Any]] = []
    for n, (fact_id, assessed_on, level) in enumerate(assessments):
        following = assessments[n + 1] if n + 1 < len(assessments) else None
        next_on = following[1] if following is not None and following[0] == fact_id else None
        rows.append({"fact_id": fact_id, "assessed_on": assessed_on, "next_on": next_on, "level": level})
    return rows


def period_starts(day: date) -> Iterator[tuple[str, date]]:
    """The month, quarter and year a day falls in, each as (grain, first day)."""
    yield "month", day.replace(day=1)
    yield "quarter", date(day.year, (day.month - 1) // 3 * 3 + 1, 1)
    yield "year", date(day.year, 1, 1)


def _sum_activity(connection: Connection, case_ids: list[uuid.UUID]) -> None:
    """Sum each case's consultations per month, quarter and year, with a count per code."""
    facts = {row.case_id: (row.id, row.site_id) for row in connection.execute(
        select(CaseFacts.id, CaseFacts.case_id, CaseFacts.site_id).where(CaseFacts.case_id.in_(case_ids)))}
    visits = connection.execute(
        select(Consultation.id, Consultation.case_id, Consultation.held_on, Consultation.minutes,
               Consultation.channel, Consultation.interpreting).where(Consultation.case_id.in_(case_ids))).all()
    if not visits:
        return
    extra: dict[uuid.UUID, list[str]] = defaultdict(list)
    for kind, model, code in (("topic", ConsultationTopic, ConsultationTopic.topic),
                              ("referral", ConsultationReferral, ConsultationReferral.referral)):
        rows = connection.execute(select(model.consultation_id, code).join(
            Consultation, Consultation.id == model.consultation_id).where(Consultation.case_id.in_(case_ids)))
        for consultation_id, value in rows:
            extra[consultation_id].append(code_column(kind, value))
    sums: dict[tuple[str, date, int], dict[str, Any]] = {}
    for visit in visits:
        fact_id, site_id = facts[visit.case_id]
        marks = [code_column("channel", visit.channel), code_column("interpreting", visit.interpreting),
                 *extra[visit.id]]
        for grain, start in period_starts(visit.held_on):
            row = sums.setdefault((grain, start, fact_id), _empty(grain, start, fact_id, site_id))
            row["consultations"] += 1
            row["minutes"] += visit.minutes
            for mark in marks:
                if mark in row:  # a code no longer in the code tables is not counted
                    row[mark] = (row[mark] or 0) + 1
    connection.execute(insert(activity), list(sums.values()))


def _empty(grain: str, start: date, fact_id: int, site_id: int) -> dict[str, Any]:
    row: dict[str, Any] = {"grain": grain, "start": start, "fact_id": fact_id, "site_id": site_id,
                           "consultations": 0, "minutes": 0}
    row.update({code_column(kind, code): None for kind, values in ACTIVITY_CODES.items() for code in values})
    return row


def counted_on(day: date) -> ColumnElement[bool]:
    """SQL condition of a case whose consent to be counted in statistics is valid on the day."""
    return CaseFacts.id.in_(select(ConsentSpan.fact_id).where(consent_valid_clause(day, ConsentSpan)))


def counted_cases(day: date) -> Select[tuple[uuid.UUID | None]]:
    """The cases the statistics count on a day: those whose consent to be counted is valid then (None: erased)."""
    return select(CaseFacts.case_id).where(counted_on(day))
