"""Safety and consent, enforced by the software: denials first."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import func, select

from counsel.access import today
from counsel.clock import utcnow
from counsel.extensions import db
from counsel.models.audit import AuditEvent
from counsel.models.safety import Disclosure, EmergencyAccess, Notification, RiskAssessment
from counsel.models.user import Role
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


def test_a_consent_that_expired_yesterday_no_longer_allows_it(adviser, open_case, signed_in):
    case = open_case(adviser)
    give(adviser, case, expires_on=today() - timedelta(days=1))
    assert disclose(signed_in(adviser), case).status_code == 400
    assert db.session.scalar(select(func.count()).select_from(Disclosure)) == 0


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
    counted = set(db.session.scalars(consent.statistics_case_ids(today())))
    assert counted == {case.id, other.id}
    consent.withdraw(adviser, case, given)
    db.session.commit()
    assert set(db.session.scalars(consent.statistics_case_ids(today()))) == {other.id}


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


# --- conflict check ------------------------------------------------------------------------

@pytest.fixture
def perpetrator_case(adviser, open_case, signed_in):
    case = open_case(adviser, name="Ayşe Yılmaz")
    response = signed_in(adviser).submit(f"/cases/{case.id}/perpetrators/new", {
        "name": "Mehmet Yılmaz", "phone": "+49 231 1234567", "address": "Mallinckrodtstraße 12, 44145 Dortmund",
        "notes": "Geheimnotiz Falke"})
    assert response.status_code == 302
    return case


def new_case(client, **fields):
    data = {"name": "Leyla Demir", "pseudonym": "", "other_spellings": "", "date_of_birth": "", "age_band": "unknown",
            "phone": "", "email": "", "address": "", "safe_contact": "", "children": "", "country": "",
            "residence_status": "unknown", "perpetrator_relation": "unknown", "referral_source": "", "notes": "",
            "languages-0-tag": "", "languages-0-mode": "native"}
    data.update(fields)
    return client.submit("/cases/new", data)


@pytest.mark.parametrize("fields, what", [
    ({"name": "MEHMET YILMAZ"}, "Der Name"),
    ({"name": "mehmet yilmaz"}, "Der Name"),
    ({"phone": "0231 123 45 67"}, "Die Telefonnummer"),
    ({"phone": "0231-1234567"}, "Die Telefonnummer"),
    ({"phone": "+49 (0)231 1234567"}, "Die Telefonnummer"),
    ({"address": "Mallinckrodtstr. 12, 44145 Dortmund"}, "Die Adresse"),
])
def test_a_colleague_is_warned_before_saving_and_learns_nothing_more(perpetrator_case, colleague, signed_in,
                                                                     fields, what):
    client = signed_in(colleague)
    response = new_case(client, **fields)
    body = response.get_data(as_text=True)
    assert response.status_code == 409
    assert what in body and "mutmaßlich gewaltausübenden Person" in body and "Berta Beraterin" in body
    assert perpetrator_case.number not in body and "Geheimnotiz" not in body and "Ayşe" not in body
    if "phone" in fields:
        assert "+49 231 1234567" not in body
    assert db.session.scalar(select(func.count()).where(AuditEvent.action == "case_created")) == 1
    assert "conflict_warning" in actions()
    saved = new_case(client, acknowledge="y", shown_matches=shown_matches(body), **fields)
    assert saved.status_code == 302
    acknowledged = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "conflict_acknowledged")).one()
    assert acknowledged.case_number is not None and acknowledged.case_number != perpetrator_case.number


def shown_matches(body):
    return re.search(r'name="shown_matches" type="hidden" value="([0-9a-f]+)"', body).group(1)


def test_a_tick_counts_only_for_the_warnings_that_were_shown(perpetrator_case, colleague, signed_in):
    client = signed_in(colleague)
    first = new_case(client, phone="0231 1234567").get_data(as_text=True)
    assert new_case(client, acknowledge="y", shown_matches="0" * 24, phone="0231 1234567").status_code == 409
    changed = new_case(client, acknowledge="y", shown_matches=shown_matches(first), phone="0231 1234567",
                       address="Mallinckrodtstraße 12, 44145 Dortmund")  # a further match since the warning
    assert changed.status_code == 409 and "Die Adresse" in changed.get_data(as_text=True)
    assert new_case(client, acknowledge="y", shown_matches=shown_matches(changed.get_data(as_text=True)),
                    phone="0231 1234567", address="Mallinckrodtstraße 12, 44145 Dortmund").status_code == 302


def test_the_owner_is_told_the_case_number(perpetrator_case, adviser, signed_in):
    body = new_case(signed_in(adviser), phone="0231 1234567").get_data(as_text=True)
    assert perpetrator_case.number in body


def test_no_warning_for_other_people(perpetrator_case, colleague, signed_in):
    assert new_case(signed_in(colleague), name="Mehmet Kaya", phone="0231 7654321").status_code == 302


def test_a_name_shared_with_a_staff_member_warns(adviser, colleague, signed_in):
    body = new_case(signed_in(adviser), name="carla kollegin").get_data(as_text=True)
    assert "Mitarbeiterin" in body or "Mitarbeiter" in body
    assert "Carla Kollegin" in body


def test_a_new_perpetrator_matching_a_client_warns(adviser, colleague, open_case, signed_in):
    open_case(colleague, phone="0171 5550000")
    mine = open_case(adviser)
    client = signed_in(adviser)
    response = client.submit(f"/cases/{mine.id}/perpetrators/new",
                             {"name": "X", "phone": "+49 171 5550000", "address": "", "notes": ""})
    assert response.status_code == 409 and "Klientin" in response.get_data(as_text=True)
    assert client.submit(f"/cases/{mine.id}/perpetrators/new", {
        "name": "X", "phone": "+49 171 5550000", "address": "", "notes": "", "acknowledge": "y",
        "shown_matches": shown_matches(response.get_data(as_text=True))}).status_code == 302
    assert db.session.scalars(select(AuditEvent.case_number).where(AuditEvent.action == "conflict_acknowledged")
                              ).one() == mine.number


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
    assert "carla" in page and "case_access_denied" in page and "berta" in page
