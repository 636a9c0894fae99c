"""Who may see a case: denials first, for every case URL, then the permissions."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import select

from counsel.access import CaseDenied, load_case, write_denial
from counsel.clock import today, utcnow
from counsel.extensions import db
from counsel.models.audit import AuditEvent
from counsel.models.consultation import Consultation
from counsel.models.safety import Perpetrator
from counsel.models.user import Role, User
from counsel.services import cases, consent, consultations
from counsel.services.consultations import ConsultationInput


def case_urls(app, case, records):
    """Every URL that names a case, filled with the ids of real records of that case."""
    urls = []
    for rule in app.url_map.iter_rules():
        if "case_id" not in rule.arguments:
            continue
        values = {"case_id": case.id, "action": "close", **{name: records[name] for name in records
                                                             if name in rule.arguments}}
        with app.test_request_context():
            url = app.url_for(rule.endpoint, **{k: v for k, v in values.items() if k in rule.arguments})
        urls.extend((rule.endpoint, method, url) for method in sorted(rule.methods - {"HEAD", "OPTIONS"}))
    return urls


@pytest.fixture
def owned(adviser, open_case, make_user):
    """A case with one record of every kind a URL can name."""
    case = open_case(adviser)
    consultation = consultations.add(adviser, case, ConsultationInput(held_on=today(), minutes=45,
                                                                      channel="phone", notes="Geheime Notiz"))
    helper = make_user("helga", Role.ADVISER)
    grant = cases.share(adviser, case, helper, "Urlaubsvertretung", None)
    given = consent.record(adviser, case, consent.ConsentInput("statistics", today(), "written", "2026"))
    perpetrator = Perpetrator(id=uuid.uuid4(), case=case, case_id=case.id)
    perpetrator.name = "Geheimer Name"
    db.session.add(perpetrator)
    db.session.commit()
    return case, {"consultation_id": consultation.id, "share_id": grant.id, "consent_id": given.id,
                  "perpetrator_id": perpetrator.id}


@pytest.mark.parametrize("who", ["colleague", "other_site_adviser"])
def test_other_advisers_get_404_on_every_case_url(app, owned, who, colleague, make_user, other_site, signed_in):
    case, records = owned
    intruder = colleague if who == "colleague" else make_user("otto", Role.ADVISER, at=other_site)
    client = signed_in(intruder)
    token = client.csrf_token()
    urls = case_urls(app, case, records)
    assert len(urls) >= 20
    for endpoint, method, url in urls:
        response = client.open(url, method=method, data={"csrf_token": token, "reason": "x", "colleague": "x"})
        body = response.get_data(as_text=True)
        assert response.status_code == 404, (endpoint, method, response.status_code)
        assert "Fatma" not in body and "Rose" not in body and case.number not in body
        assert "Geheim" not in body
    db.session.refresh(case)
    assert case.status == "open"  # the close attempt changed nothing


@pytest.mark.parametrize("roles", [(Role.SUPERVISOR,), (Role.ADMIN,), (Role.ADMIN, Role.SUPERVISOR)],
                         ids=["supervisor", "admin", "admin and supervisor"])
def test_supervisors_and_admins_get_403_on_every_case_url(app, owned, make_user, signed_in, roles):
    case, records = owned
    client = signed_in(make_user("nonadviser", *roles))
    token = client.csrf_token()
    for endpoint, method, url in case_urls(app, case, records):
        response = client.open(url, method=method, data={"csrf_token": token})
        assert response.status_code == 403, (endpoint, method)
        assert "Fatma" not in response.get_data(as_text=True)
    for url in ("/cases/", "/cases/check", "/cases/new", "/cases/emergency"):
        assert client.get(url).status_code == 403


def test_a_failed_access_is_audited(owned, colleague, signed_in):
    case, _ = owned
    signed_in(colleague).get(f"/cases/{case.id}")
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "case_access_denied")).one()
    assert event.actor_id == colleague.id and event.case_number == case.number


def test_a_record_of_another_case_is_refused_and_written_on_its_own_case(owned, adviser, open_case, signed_in):
    """Her own case in the address does not open a colleague's consultation, consent or share."""
    case, records = owned
    mine = open_case(adviser, pseudonym="Mine")
    client = signed_in(adviser)
    token = client.csrf_token()
    probes = [("get", f"/cases/{mine.id}/consultations/{records['consultation_id']}", "consultations"),
              ("post", f"/cases/{mine.id}/consents/{records['consent_id']}/withdraw", "consents"),
              ("post", f"/cases/{mine.id}/sharing/{records['share_id']}/revoke", "case_shares"),
              ("get", f"/cases/{mine.id}/perpetrators/{records['perpetrator_id']}", "perpetrators")]
    for method, url, table in probes:
        response = getattr(client, method)(url, data={"csrf_token": token})
        assert response.status_code == 404, url
        event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "case_access_denied")
                                   .order_by(AuditEvent.seq.desc())).first()
        assert (event.case_number, event.detail) == (case.number, table)
    assert consent.of_case(case)[0].withdrawn_on is None


def test_a_refusal_commits_nothing_the_request_had_begun(app, owned, colleague):
    """load_case leaves the transaction to its caller; the error handler rolls back, then writes the attempt."""
    case, _ = owned
    with app.test_request_context():
        colleague.display_name = "Nicht gespeichert"
        with pytest.raises(CaseDenied) as refused:
            load_case(colleague, case.id)
        write_denial(refused.value)
    db.session.expire_all()
    assert db.session.get(User, colleague.id).display_name == "Carla Kollegin"
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "case_access_denied")).one()
    assert (event.actor_id, event.case_number) == (colleague.id, case.number)


def test_lists_and_dashboard_show_only_her_cases(adviser, colleague, open_case, signed_in):
    mine = open_case(adviser, pseudonym="Mine")
    theirs = open_case(colleague, pseudonym="Theirs")
    for page in ("/cases/", "/"):
        body = signed_in(adviser).get(page).get_data(as_text=True)
        assert mine.number in body and theirs.number not in body and "Theirs" not in body


def test_the_owner_and_a_shared_colleague_may_work_on_the_case(owned, adviser, signed_in):
    case, records = owned
    helper = case.shares[0].user
    for user in (adviser, helper):
        client = signed_in(user)
        assert client.get(f"/cases/{case.id}").status_code == 200
        assert client.get(f"/cases/{case.id}/edit").status_code == 200
        assert client.get(f"/cases/{case.id}/consultations/{records['consultation_id']}").status_code == 200
    assert signed_in(helper).get(f"/cases/{case.id}/sharing").status_code == 404  # only the owner shares


def assert_shut_out(client, case, consultation):
    """Every page of the case answers 404: reading, editing, consultations and the copy for her."""
    token = client.csrf_token()
    base = f"/cases/{case.id}"
    for url in (base, f"{base}/edit", f"{base}/consultations/new", f"{base}/consultations/{consultation.id}",
                f"{base}/export", f"{base}/export.json"):
        assert client.get(url).status_code == 404, url
    for url in (f"{base}/edit", f"{base}/consultations/new", f"{base}/consultations/{consultation.id}"):
        response = client.post(url, data={"csrf_token": token, "name": "Überschrieben", "held_on": "2026-01-05",
                                          "minutes": "30", "channel": "phone", "notes": "Überschrieben",
                                          "version": "1"})
        assert response.status_code == 404, url
    assert case.number not in client.get("/cases/").get_data(as_text=True)


@pytest.fixture
def shared(adviser, colleague, open_case):
    """A case with one consultation, shared with the colleague; returns the case, its consultation and the share."""
    case = open_case(adviser)
    consultation = consultations.add(adviser, case, ConsultationInput(held_on=today(), minutes=45,
                                                                      channel="phone", notes="Geheime Notiz"))
    grant = cases.share(adviser, case, colleague, "Vertretung bis heute", today())
    db.session.commit()
    return case, consultation, grant


def test_a_share_ends_on_its_date(shared, colleague, signed_in):
    case, consultation, _ = shared
    client = signed_in(colleague)
    assert client.get(f"/cases/{case.id}").status_code == 200
    assert client.get(f"/cases/{case.id}/consultations/{consultation.id}").status_code == 200
    with time_machine.travel(utcnow() + timedelta(days=1), tick=False):
        assert_shut_out(signed_in(colleague), case, consultation)
    db.session.refresh(case)
    db.session.refresh(consultation)
    assert (case.name, consultation.notes, consultation.version) == ("Fatma Yılmaz", "Geheime Notiz", 1)


def test_a_revoked_share_ends_at_once(shared, adviser, colleague, signed_in):
    case, consultation, grant = shared
    client = signed_in(colleague)
    assert client.get(f"/cases/{case.id}/edit").status_code == 200
    signed_in(adviser).submit(f"/cases/{case.id}/sharing/{grant.id}/revoke")
    assert_shut_out(client, case, consultation)
    assert db.session.scalars(select(Consultation)).one().notes == "Geheime Notiz"


def test_the_full_name_appears_only_on_the_case_page(adviser, open_case, signed_in):
    case = open_case(adviser, name="Amina Haddad", pseudonym="Lilie")
    client = signed_in(adviser)
    for page in ("/", "/cases/"):
        body = client.get(page).get_data(as_text=True)
        assert "Lilie" in body and "Amina" not in body
    assert "Amina Haddad" in client.get(f"/cases/{case.id}").get_data(as_text=True)
