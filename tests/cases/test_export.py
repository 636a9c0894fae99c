"""The subject access copy (Art. 15 GDPR): her holder or a shared colleague only, after a fresh password, audited."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import select, text

from counsel.clock import today, utcnow
from counsel.extensions import db
from counsel.models.audit import AuditEvent
from counsel.models.safety import Perpetrator
from counsel.models.user import Role
from counsel.services import cases, consent, consultations, safety, two_person
from counsel.services.consent import ConsentInput
from counsel.services.consultations import ConsultationInput

SECRETS = ("Fatma", "Yılmaz", "5550123", "Mallinckrodt", "voicemail", "reads her phone", "Beratungsnotiz", "Amal")


@pytest.fixture
def case(adviser, open_case):
    """A case with a consultation whose notes and interpreter are encrypted too."""
    opened = open_case(adviser)
    consultations.add(adviser, opened, ConsultationInput(
        held_on=today() - timedelta(days=2), minutes=75, channel="in_person", language="tr",
        interpreting="professional", interpreter="Dolmetscherin Amal", topics={"residence"},
        notes="Geheime Beratungsnotiz", follow_up_on=today() + timedelta(days=3)))
    db.session.commit()
    return opened


def exports():
    return db.session.scalars(select(AuditEvent).where(AuditEvent.action == "case_exported")
                              .order_by(AuditEvent.seq)).all()


def test_the_holder_gets_a_printable_copy_of_everything_decrypted(case, adviser, signed_in):
    response = signed_in(adviser).get(f"/cases/{case.id}/export")
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    for shown in ("Fatma Yılmaz", "+49 231 5550123", "Mallinckrodtstraße 12", "no voicemail, only Tuesdays",
                  "He reads her phone.", "Geheime Beratungsnotiz", "Dolmetscherin Amal", case.number, "Türkei"):
        assert shown in body, shown
    assert f'href="/cases/{case.id}/export.json"' in body


def test_the_json_copy_holds_every_personal_and_coded_field_and_each_consultation(case, adviser, signed_in):
    response = signed_in(adviser).get(f"/cases/{case.id}/export.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Content-Disposition"] == f'attachment; filename="{case.number}.json"'
    copy = json.loads(response.get_data(as_text=True))
    assert copy["case_number"] == case.number and copy["site"] == "Dortmund"
    assert (copy["name"], copy["pseudonym"], copy["date_of_birth"]) == ("Fatma Yılmaz", "Rose", "1990-05-17")
    assert (copy["phone"], copy["address"]) == ("+49 231 5550123", "Mallinckrodtstraße 12, 44145 Dortmund")
    assert (copy["safe_contact"], copy["notes"]) == ("no voicemail, only Tuesdays", "He reads her phone.")
    assert (copy["country"], copy["residence_status"], copy["age_band"]) == ("TR", "residence_permit", case.age_band)
    assert copy["violence_forms"] == ["physical", "psychological"]
    assert copy["languages"] == [{"tag": "tr", "mode": "native", "preferred": True},
                                 {"tag": "de", "mode": "basic", "preferred": False}]
    [consultation] = copy["consultations"]
    assert consultation["notes"] == "Geheime Beratungsnotiz" and consultation["interpreter"] == "Dolmetscherin Amal"
    assert (consultation["minutes"], consultation["topics"], consultation["language"]) == (75, ["residence"], "tr")


@pytest.fixture
def protected(case, adviser):
    """Her release for a shelter, what was passed on under it, a risk assessment, and the alleged perpetrator."""
    consent.record(adviser, case, ConsentInput(
        purpose="sharing", given_on=today() - timedelta(days=1), given_how="written", form_version="SE-2026",
        expires_on=today() + timedelta(days=90), recipient_kind="shelter", recipient="Frauenhaus Nord"))
    db.session.flush()
    consent.disclose(adviser, case, "shelter", "Frauenhaus Nord", "Name und sichere Telefonzeiten")
    safety.assess(adviser, case, {"strangulation"}, None, "Würgen im Oktober", today() + timedelta(days=14))
    db.session.add(Perpetrator(id=uuid.uuid4(), case=case, case_id=case.id, name="Kemal Arslan", phone="0176 9988776"))
    db.session.commit()
    return case


def test_the_copy_holds_her_consents_what_was_passed_on_and_her_risk_assessments(protected, adviser, signed_in):
    client = signed_in(adviser)
    copy = json.loads(client.get(f"/cases/{protected.id}/export.json").get_data(as_text=True))
    assert copy["consents"] == [{
        "purpose": "sharing", "recipient_kind": "shelter", "recipient": "Frauenhaus Nord",
        "given_on": (today() - timedelta(days=1)).isoformat(), "given_how": "written", "form_version": "SE-2026",
        "expires_on": (today() + timedelta(days=90)).isoformat(), "withdrawn_on": None}]
    [passed] = copy["data_passed_on"]
    assert (passed["recipient"], passed["content"], passed["disclosed_on"]) == (
        "Frauenhaus Nord", "Name und sichere Telefonzeiten", today().isoformat())
    [assessed] = copy["risk_assessments"]
    assert (assessed["level"], assessed["indicators"], assessed["reasoning"]) == (
        "high", ["strangulation"], "Würgen im Oktober")
    page = client.get(f"/cases/{protected.id}/export").get_data(as_text=True)
    for shown in ("Frauenhaus Nord", "SE-2026", "Name und sichere Telefonzeiten", "Würgen im Oktober"):
        assert shown in page, shown


def test_the_copy_leaves_out_the_alleged_perpetrator(protected, adviser, signed_in):
    """What she told about him is about another person: her copy must not carry it out of the office."""
    client = signed_in(adviser)
    for url in (f"/cases/{protected.id}/export", f"/cases/{protected.id}/export.json"):
        body = client.get(url).get_data(as_text=True)
        assert "Kemal" not in body and "Arslan" not in body and "9988776" not in body


def test_each_copy_is_audited_with_its_case_and_format_and_no_content(case, adviser, signed_in):
    client = signed_in(adviser)
    client.get(f"/cases/{case.id}/export")
    client.get(f"/cases/{case.id}/export.json")
    events = exports()
    assert [(e.actor_id, e.case_id, e.case_number, e.detail) for e in events] == [
        (adviser.id, case.id, case.number, "format=html"), (adviser.id, case.id, case.number, "format=json")]
    assert all(e.ip == "127.0.0.1" for e in events)
    assert not any(secret in e.detail for e in events for secret in SECRETS)


def test_a_colleague_it_is_shared_with_may_export_until_the_share_ends(case, adviser, colleague, signed_in):
    grant = cases.share(adviser, case, colleague, "Urlaubsvertretung", None)
    db.session.commit()
    client = signed_in(colleague)
    assert client.get(f"/cases/{case.id}/export.json").status_code == 200
    cases.revoke_share(adviser, case, grant)
    db.session.commit()
    assert client.get(f"/cases/{case.id}/export.json").status_code == 404
    assert [e.actor_id for e in exports()] == [colleague.id]


@pytest.mark.parametrize("suffix", ["export", "export.json"])
def test_everyone_else_is_refused_and_nothing_is_exported(case, colleague, make_user, other_site, signed_in, suffix):
    url = f"/cases/{case.id}/{suffix}"
    for intruder in (colleague, make_user("otto", Role.ADVISER, at=other_site)):
        response = signed_in(intruder).get(url)
        body = response.get_data(as_text=True)
        assert response.status_code == 404 and not any(secret in body for secret in SECRETS)
    for roles in ((Role.SUPERVISOR,), (Role.ADMIN,), (Role.ADMIN, Role.SUPERVISOR)):
        response = signed_in(make_user(None, *roles)).get(url)
        assert response.status_code == 403 and "Fatma" not in response.get_data(as_text=True)
    assert exports() == []
    denied = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "case_access_denied")).all()
    assert {e.actor_name for e in denied} == {"carla", "otto"} and {e.case_number for e in denied} == {case.number}


def test_emergency_access_reads_the_case_but_cannot_copy_it_out(case, colleague, signed_in):
    two_person.emergency_access(colleague, case.number, "Sie ist in akuter Gefahr, Berta nicht erreichbar.")
    db.session.commit()
    client = signed_in(colleague)
    assert client.get(f"/cases/{case.id}").status_code == 200
    assert client.get(f"/cases/{case.id}/export").status_code == 404
    assert exports() == []
    denied = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "case_access_denied")).one()
    assert (denied.actor_id, denied.case_number, denied.detail) == (colleague.id, case.number, "export")


def test_a_copy_needs_the_password_again_after_a_while(case, adviser, signed_in, settings):
    client = signed_in(adviser)
    url = f"/cases/{case.id}/export"
    with time_machine.travel(utcnow() + timedelta(minutes=settings.reauth_minutes + 1), tick=False):
        for target in (url, url + ".json"):
            response = client.get(target)
            assert response.status_code == 302 and response.location == f"/reauth?next={target}"
        assert exports() == []
        again = client.submit("/reauth", {"password": "correct horse battery staple 42", "next": url})
        assert again.location == url
        assert client.get(url).status_code == 200
    assert [e.detail for e in exports()] == ["format=html"]


def test_an_unreadable_field_stops_the_copy_and_is_not_recorded_as_exported(case, adviser, signed_in):
    blob = bytearray(db.session.execute(text("SELECT address FROM cases")).scalar_one())
    blob[-3] ^= 0x01
    db.session.execute(text("UPDATE cases SET address = :b"), {"b": bytes(blob)})
    db.session.commit()
    response = signed_in(adviser).get(f"/cases/{case.id}/export.json")
    assert response.status_code == 500 and "Mallinckrodt" not in response.get_data(as_text=True)
    assert exports() == []
