"""Report fixtures: two sites, a supervisor of both, and a fast way to lay down coded cases."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pytest
from sqlalchemy import delete, insert

from counsel.extensions import db
from counsel.models.case import Case, CaseLanguage, CaseViolenceForm
from counsel.models.consultation import Consultation, ConsultationReferral, ConsultationTopic
from counsel.models.safety import Consent, RiskAssessment
from counsel.models.site import Site
from counsel.models.user import Role, User
from counsel.reporting import facts


@pytest.fixture
def second_site(app: Any) -> Site:
    site = Site(code="DU", name="Düsseldorf", active=True)
    db.session.add(site)
    db.session.commit()
    return site


@pytest.fixture
def owner(make_user: Any) -> User:
    user: User = make_user("berta", Role.ADVISER, name="Berta Beraterin")
    return user


@pytest.fixture
def network_supervisor(make_user: Any, second_site: Site) -> User:
    """A supervisor at Dortmund to whom Düsseldorf was assigned as well."""
    user: User = make_user("sven", Role.SUPERVISOR, name="Sven Koordination")
    user.set_supervised_sites({user.site_id, second_site.id})
    db.session.commit()
    return user


@dataclass
class Visit:
    held_on: date
    minutes: int = 60
    channel: str = "in_person"
    interpreting: str = "none"
    topics: set[str] = field(default_factory=set)
    referrals: set[str] = field(default_factory=set)


@dataclass
class Fake:
    """A coded case as the statistics see it (no personal field)."""

    site_id: int
    opened: date
    closed: date | None = None
    consent: bool = True
    withdrawn: date | None = None
    age_band: str = "27_35"
    country: str | None = "SY"
    residence_status: str = "residence_permit"
    perpetrator_relation: str = "partner"
    referral_source: str | None = "self"
    violence: set[str] = field(default_factory=lambda: {"physical"})
    languages: list[tuple[str, bool]] = field(default_factory=lambda: [("ar", True)])
    risks: list[tuple[date, str]] = field(default_factory=list)
    visits: list[Visit] = field(default_factory=list)


def lay_down(owner: User, fakes: list[Fake]) -> list[uuid.UUID]:
    """Insert coded cases with their consents, languages, forms, risks and consultations."""
    tables: dict[Any, list[dict[str, Any]]] = {}

    def add(model: Any, **values: Any) -> None:
        tables.setdefault(model, []).append(values)

    ids = []
    for n, fake in enumerate(fakes):
        case_id = uuid.uuid4()
        ids.append(case_id)
        add(Case, id=case_id, number=f"ZZ-{fake.opened.year}-{n + 1:05d}-{case_id.hex[:4]}", site_id=fake.site_id,
            owner_id=owner.id, status="closed" if fake.closed else "open", opened_month=fake.opened,
            closed_month=fake.closed, age_band=fake.age_band, country=fake.country,
            residence_status=fake.residence_status, perpetrator_relation=fake.perpetrator_relation,
            referral_source=fake.referral_source, version=1)
        if fake.consent:
            add(Consent, id=uuid.uuid4(), case_id=case_id, purpose="statistics", given_on=fake.opened,
                given_how="written", form_version="v1", withdrawn_on=fake.withdrawn, recorded_by_id=owner.id)
        for position, (tag, preferred) in enumerate(fake.languages):
            add(CaseLanguage, case_id=case_id, tag=tag, mode="native", preferred=preferred, position=position)
        for form in fake.violence:
            add(CaseViolenceForm, case_id=case_id, form=form)
        for assessed_on, level in fake.risks:
            add(RiskAssessment, id=uuid.uuid4(), case_id=case_id, assessed_on=assessed_on, level=level,
                review_on=assessed_on, assessed_by_id=owner.id)
        for visit in fake.visits:
            visit_id = uuid.uuid4()
            add(Consultation, id=visit_id, case_id=case_id, author_id=owner.id, held_on=visit.held_on,
                minutes=visit.minutes, channel=visit.channel, interpreting=visit.interpreting, version=1)
            for topic in visit.topics:
                add(ConsultationTopic, consultation_id=visit_id, topic=topic)
            for referral in visit.referrals:
                add(ConsultationReferral, consultation_id=visit_id, referral=referral)
    for model in (Case, Consent, CaseLanguage, CaseViolenceForm, RiskAssessment, Consultation, ConsultationTopic,
                  ConsultationReferral):
        if rows := tables.get(model):
            db.session.execute(insert(model.__table__), rows)
    facts.refresh(db.session.connection(), ids)  # bulk inserts pass no ORM hook
    db.session.commit()
    return ids


def clear_cases() -> None:
    for model in (ConsultationReferral, ConsultationTopic, Consultation, RiskAssessment, CaseViolenceForm,
                  CaseLanguage, Consent, Case):
        db.session.execute(delete(model))
    facts.rebuild(db.session.connection())  # no case left: the statistics' copy empties too
    db.session.commit()
