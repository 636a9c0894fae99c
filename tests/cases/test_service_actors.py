"""Each case service refuses the wrong actor itself, whichever view, script or future page calls it.

The views check first (access.load_case); these tests call the services directly, as a new view
that forgot the check would, and assert that nothing was written.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from counsel.access import CaseDenied
from counsel.clock import today
from counsel.extensions import db
from counsel.models.audit import AuditEvent
from counsel.models.case import Case
from counsel.models.consultation import Consultation
from counsel.models.safety import Consent, Disclosure, RiskAssessment
from counsel.models.user import Role, User
from counsel.services import cases, consent, consultations, safety, two_person
from counsel.services.consent import ConsentInput
from counsel.services.consultations import ConsultationInput
from tests.cases.conftest import case_data

VISIT = ConsultationInput(held_on=today(), minutes=30, channel="phone", notes="Notiz")


@pytest.fixture
def case(adviser: User, open_case: Any) -> Case:
    made: Case = open_case(adviser)
    return made


@pytest.fixture
def outsiders(make_user: Any, colleague: User, other_site: Any) -> dict[str, User]:
    """Everyone who may not touch the case: a colleague, another site, a coordinator, an admin who advises."""
    return {"colleague": colleague,
            "other site": make_user("olga", Role.ADVISER, at=other_site),
            "coordinator": make_user("sina", Role.SUPERVISOR),
            "admin who advises": make_user("ada", Role.ADMIN, Role.ADVISER)}


def writes(case: Case, actor: User) -> dict[str, Any]:
    """Every case service that changes content, bound to one actor."""
    given = db.session.scalars(select(Consent).where(Consent.case_id == case.id)).first()
    return {
        "edit her details": lambda: cases.update_case(actor, case, case_data(notes="überschrieben"), case.version),
        "close the case": lambda: cases.set_status(actor, case, "closed"),
        "log a consultation": lambda: consultations.add(actor, case, VISIT),
        "record a consent": lambda: consent.record(actor, case, ConsentInput("sharing", today(), "written", "2026",
                                                                             recipient_kind="police",
                                                                             recipient="Polizei")),
        "withdraw a consent": lambda: consent.withdraw(actor, case, given),  # type: ignore[arg-type]
        "pass data on": lambda: consent.disclose(actor, case, "police", "Polizei", "Adresse"),
        "assess the risk": lambda: safety.assess(actor, case, {"fear_for_life"}, None, "", today() + timedelta(days=7)),
        "save the safety plan": lambda: safety.save_safety_plan(actor, case, "Plan", case.version),
    }


def content_rows(case: Case) -> tuple[int, ...]:
    return tuple(db.session.scalar(select(func.count()).select_from(model).where(model.case_id == case.id)) or 0
                 for model in (Consultation, Consent, Disclosure, RiskAssessment))


def test_every_content_service_refuses_anyone_but_who_may_write(case, adviser, outsiders):
    consent.record(adviser, case, ConsentInput("sharing", today(), "written", "2026", recipient_kind="police",
                                               recipient="Polizei"))
    db.session.commit()
    before = (content_rows(case), case.version, case.status)
    for who, actor in outsiders.items():
        for what, call in writes(case, actor).items():
            with pytest.raises(CaseDenied):
                call()
            db.session.rollback()
            assert (content_rows(case), case.version, case.status) == before, (who, what)
    assert not db.session.scalar(select(func.count()).select_from(AuditEvent)
                                 .where(AuditEvent.action.in_(("case_edited", "consultation_added", "risk_assessed"))))


def test_emergency_access_reaches_only_the_recording_services(app, case, colleague):
    two_person.emergency_access(colleague, case.number, "Akute Gefahr, die Beraterin ist nicht erreichbar.")
    db.session.commit()
    allowed = {"log a consultation", "assess the risk", "save the safety plan"}
    consent.record(case.owner, case, ConsentInput("sharing", today(), "written", "2026", recipient_kind="police",
                                                  recipient="Polizei"))
    db.session.commit()
    for what, call in writes(case, colleague).items():
        if what in allowed:
            call()
            db.session.commit()
        else:
            with pytest.raises(CaseDenied):
                call()
            db.session.rollback()
    db.session.refresh(case)
    assert case.status == "open" and case.notes == "He reads her phone."
    assert db.session.scalars(select(Consent).where(Consent.case_id == case.id)).one().withdrawn_on is None


def test_a_consultation_is_edited_only_through_its_own_case(case, adviser, colleague):
    visit = consultations.add(adviser, case, VISIT)
    db.session.commit()
    with pytest.raises(CaseDenied):
        consultations.update(colleague, visit, VISIT, visit.version)


def test_only_an_adviser_opens_a_case(make_user):
    for roles in ((Role.SUPERVISOR,), (Role.ADMIN,)):
        with pytest.raises(CaseDenied):
            cases.open_case(make_user(None, *roles), case_data())
    db.session.rollback()
    assert not db.session.scalar(select(func.count()).select_from(Case))


def test_a_consent_of_another_case_is_not_withdrawn_through_hers(adviser, open_case):
    mine, other = open_case(adviser), open_case(adviser, pseudonym="Zweite")
    given = consent.record(adviser, other, ConsentInput("statistics", today(), "written", "2026"))
    db.session.commit()
    with pytest.raises(CaseDenied):
        consent.withdraw(adviser, mine, given)
    db.session.rollback()
    assert db.session.get(Consent, given.id).withdrawn_on is None  # type: ignore[union-attr]
