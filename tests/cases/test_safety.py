"""Safety and consent, enforced by the software: denials first."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
import time_machine
from sqlalchemy import func, select

from counsel.clock import today, utcnow
from counsel.extensions import db
from counsel.models.audit import AuditEvent
from counsel.models.safety import Disclosure, EmergencyAccess, Notification, RiskAssessment
from counsel.models.user import Role
from counsel.reporting import facts
from counsel.services import consent, safety
from counsel.services.consent import ConsentInput

SHELTER = "Frauenhaus Dortmund"


def actions() -> list[str]:
    return list(db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.seq)))


def give(adviser, case, purpose="sharing", recipient=SHELTER, kind="shelter", **fields):
    values = {"given_on": today() - timedelta(days=10), "given_how": "written", "form_version": "2026-01"}
    values.update(fields)
    given = consent.record(adviser, case, ConsentInput(purpose, recipient_kind=kind, recipient=recipient, **values))
    db.session.commit()
    return given


def disclose(client, case, recipient=SHELTER, kind="shelter"):
    return client.submit(f"/cases/{case.id}/disclosures", {"recipient_kind": kind, "recipient": recipient,
                                                           "content": "Name, Kinder, Aufnahmewunsch"})


# --- consent -------------------------------------------------------------------------------

def test_a_disclosure_without_sharing_consent_is_refused_and_nothing_is_recorded(adviser, open_case, signed_in):
    case = open_case(adviser)
    response = disclose(signed_in(adviser), case)
    assert response.status_code == 400
    assert "Schweigepflichtentbindung" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Disclosure)) == 0
    assert "disclosure_refused" in actions() and "data_disclosed" not in actions()


def test_a_valid_release_for_that_recipient_allows_it(adviser, open_case, signed_in):
    case = open_case(adviser)
    give(adviser, case, recipient="frauenhaus dortmund")  # the same recipient, written differently
    assert disclose(signed_in(adviser), case).status_code == 302
    stored = db.session.scalars(select(Disclosure)).one()
    assert stored.recipient == SHELTER and "data_disclosed" in actions()


@pytest.mark.parametrize("other", [{"recipient": "Frauenhaus Bochum"}, {"kind": "police"}])
def test_a_release_for_another_recipient_does_not_count(adviser, open_case, signed_in, other):
    case = open_case(adviser)
    give(adviser, case, **{"recipient": other.get("recipient", SHELTER), "kind": other.get("kind", "shelter")})
    assert disclose(signed_in(adviser), case).status_code == 400
    assert db.session.scalar(select(func.count()).select_from(Disclosure)) == 0


def disclosures():
    return db.session.scalar(select(func.count()).select_from(Disclosure))


def counted(day):
    return set(db.session.scalars(facts.counted_cases(day)))


def test_a_consent_that_expired_yesterday_no_longer_allows_it(adviser, open_case, signed_in):
    """Valid through its last day; on the next day the clock alone ends it: no sharing, no counting."""
    with time_machine.travel(datetime.combine(today(), time(11, 0), tzinfo=UTC), tick=False) as clock:
        case = open_case(adviser)
        give(adviser, case, expires_on=today())
        give(adviser, case, purpose="statistics", recipient="", kind=None, expires_on=today())
        assert disclose(signed_in(adviser), case).status_code == 302
        assert disclosures() == 1 and case.id in counted(today())

        clock.shift(timedelta(days=1))
        assert disclose(signed_in(adviser), case).status_code == 400
        assert disclosures() == 1
        assert case.id not in counted(today())
        assert case.id in counted(today() - timedelta(days=1))  # the rule is the day, not the row


def test_a_withdrawn_consent_stops_what_it_allowed(adviser, open_case, signed_in):
    case = open_case(adviser)
    given = give(adviser, case)
    client = signed_in(adviser)
    assert disclose(client, case).status_code == 302
    assert client.submit(f"/cases/{case.id}/consents/{given.id}/withdraw").status_code == 302
    assert disclose(client, case).status_code == 400
    assert db.session.scalar(select(func.count()).select_from(Disclosure)) == 1


def test_a_withdrawn_statistics_consent_takes_the_case_out_of_the_statistics(adviser, open_case):
    case, other = open_case(adviser), open_case(adviser)
    given = give(adviser, case, purpose="statistics", recipient="", kind=None)
    give(adviser, other, purpose="statistics", recipient="", kind=None)
    counted = set(db.session.scalars(facts.counted_cases(today())))
    assert counted == {case.id, other.id}
    consent.withdraw(adviser, case, given)
    db.session.commit()
    assert set(db.session.scalars(facts.counted_cases(today()))) == {other.id}


def test_a_case_without_processing_consent_shows_a_warning(adviser, open_case, signed_in):
    case = open_case(adviser)
    client = signed_in(adviser)
    assert "Einwilligung in die Datenverarbeitung" in client.get(f"/cases/{case.id}").get_data(as_text=True)
    client.submit(f"/cases/{case.id}/consents", {"purpose": "processing", "given_on": today().isoformat(),
                                                "given_how": "interpreted", "form_version": "2026-01",
                                                "recipient_kind": "", "recipient": ""})
    assert "Einwilligung in die Datenverarbeitung" not in client.get(f"/cases/{case.id}").get_data(as_text=True)


def test_consent_input_is_checked(adviser, open_case, signed_in):
    case = open_case(adviser)
    client = signed_in(adviser)
    base = {"purpose": "sharing", "given_on": today().isoformat(), "given_how": "written", "form_version": "1",
            "recipient_kind": "shelter", "recipient": ""}
    assert client.submit(f"/cases/{case.id}/consents", base).status_code == 400  # a release names its recipient
    expired_first = {**base, "recipient": SHELTER, "expires_on": (today() - timedelta(days=1)).isoformat()}
    assert client.submit(f"/cases/{case.id}/consents", expired_first).status_code == 400
    assert consent.of_case(case) == []


# --- risk ----------------------------------------------------------------------------------

def assess(client, case, indicators, **fields):
    data = {"indicators": indicators, "level": "", "reasoning": "",
            "review_on": (today() + timedelta(days=14)).isoformat()}
    data.update(fields)
    return client.submit(f"/cases/{case.id}/risk", data)


def test_the_checklist_sets_the_level(adviser, open_case, signed_in):
    case = open_case(adviser)
    client = signed_in(adviser)
    assert assess(client, case, ["isolation"]).status_code == 302
    assert assess(client, case, ["isolation", "separation", "substance"]).status_code == 302
    assert assess(client, case, ["strangulation"]).status_code == 302
    levels = list(db.session.scalars(select(RiskAssessment.level).order_by(RiskAssessment.created_at)))
    assert levels == ["standard", "elevated", "high"]


def test_a_level_can_be_raised_with_a_reason_but_never_lowered(adviser, open_case, signed_in):
    case = open_case(adviser)
    client = signed_in(adviser)
    assert assess(client, case, ["weapon"], level="standard", reasoning="seems fine").status_code == 400
    assert assess(client, case, [], level="high").status_code == 400  # raising needs a reason
    assert assess(client, case, [], level="high", reasoning="Er hat ihren neuen Wohnort gefunden").status_code == 302
    assert db.session.scalars(select(RiskAssessment)).one().level == "high"


def test_overdue_reviews_appear_on_the_dashboard(adviser, open_case, signed_in):
    case = open_case(adviser, pseudonym="Kranich")
    safety.assess(adviser, case, {"weapon"}, None, "", today() + timedelta(days=1))
    db.session.commit()
    with time_machine.travel(utcnow() + timedelta(days=3), tick=False):
        body = signed_in(adviser).get("/").get_data(as_text=True)
        reviews = body.split('class="reviews"')[1].split("</ul>")[0]
        assert case.number in reviews and "überfällig" in reviews


def test_the_safety_plan_is_saved_encrypted(adviser, open_case, signed_in):
    case = open_case(adviser)
    client = signed_in(adviser)
    page = client.get(f"/cases/{case.id}/safety-plan").get_data(as_text=True)
    assert 'name="version"' in page
    assert client.submit(f"/cases/{case.id}/safety-plan", {"plan": "Codewort Sonnenblume", "version": case.version}
                         ).status_code == 302
    db.session.refresh(case)
    assert case.safety_plan == "Codewort Sonnenblume"
    assert b"Sonnenblume" not in bytes(case._safety_plan)


# --- emergency access ----------------------------------------------------------------------

def test_emergency_access_without_a_justification_is_refused(adviser, colleague, open_case, signed_in):
    case = open_case(adviser)
    client = signed_in(colleague)
    response = client.submit("/cases/emergency", {"number": case.number, "justification": "dringend"})
    assert response.status_code == 400
    assert client.get(f"/cases/{case.id}").status_code == 404
    assert db.session.scalar(select(func.count()).select_from(EmergencyAccess)) == 0
    assert db.session.scalar(select(func.count()).select_from(Notification)) == 0


def test_emergency_access_with_a_justification_is_audited_notified_and_ends(
        adviser, colleague, open_case, signed_in, make_user, other_site):
    case = open_case(adviser)
    site_supervisor = make_user("koord", Role.SUPERVISOR)
    far_supervisor = make_user("fern", Role.SUPERVISOR, at=other_site)
    client = signed_in(colleague)
    response = client.submit("/cases/emergency", {
        "number": case.number.lower(),
        "justification": "Sie hat angerufen, er steht vor der Tür; Berta ist im Urlaub nicht erreichbar."})
    assert response.status_code == 302
    assert client.get(f"/cases/{case.id}").status_code == 200
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "emergency_access")).one()
    assert event.actor_id == colleague.id and event.case_number == case.number
    told = set(db.session.scalars(select(Notification.user_id)))
    assert told == {adviser.id, site_supervisor.id} and far_supervisor.id not in told
    for who in (adviser, site_supervisor):
        page = signed_in(who).get("/notifications").get_data(as_text=True)
        assert case.number in page and "Carla Kollegin" in page and "Fatma" not in page
    with time_machine.travel(utcnow() + timedelta(hours=13), tick=False):
        assert signed_in(colleague).get(f"/cases/{case.id}").status_code == 404


def test_emergency_access_is_only_for_cases_at_her_site(adviser, make_user, other_site, open_case, signed_in):
    far = open_case(make_user("sara", Role.ADVISER, at=other_site))
    response = signed_in(adviser).submit("/cases/emergency", {
        "number": far.number, "justification": "Eine ausreichend lange Begründung für den Notfall."})
    assert response.status_code == 400
    assert "emergency_access_refused" in actions()


def test_who_has_seen_the_case(adviser, colleague, open_case, signed_in):
    case = open_case(adviser)
    signed_in(colleague).get(f"/cases/{case.id}")  # refused, and recorded
    page = signed_in(adviser).get(f"/cases/{case.id}/access-log").get_data(as_text=True)
    assert "carla" in page and "Zugriff auf einen Fall verweigert" in page and "berta" in page
    assert "case_access_denied" not in page  # the German page names the event, not its code
