"""The audit trail through the pages: every step on a case leaves one event, with who and from where, never content."""

from __future__ import annotations

import re
import uuid

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm.exc import StaleDataError

from counsel import audit
from counsel.clock import today
from counsel.extensions import db
from counsel.models.audit import AuditEvent
from counsel.models.case import Case
from counsel.models.consultation import Consultation
from counsel.services import cases, consultations
from counsel.services.consultations import ConsultationInput
from tests.cases.conftest import ARABIC_NAME, case_data
from tests.cases.test_cases import case_form, consultation_form

# Everything personal the walk below types in: none of it may reach an event.
MARKERS = (ARABIC_NAME, "Fatima", "5550199", "0171 444", "Nordstraße", "dienstags", "ملاحظة", "تحدثنا",
           "Dolmetschdienst", "Urlaubsvertretung", "Zweite Notiz", "Nour")


def version_in(html: str) -> str:
    found = re.search(r'name="version" type="hidden" value="(\d+)"', html)
    assert found, "no version in the form"
    return found.group(1)


def trail(case_id: uuid.UUID) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.case_id == case_id).order_by(AuditEvent.seq)))


def test_every_step_on_a_case_is_audited_in_order_with_its_number_and_address(adviser, colleague, admin,
                                                                               signed_in, second_person):
    owner = signed_in(adviser)
    opened = owner.submit("/cases/new", case_form())
    case_id = opened.location.rsplit("/", 1)[-1]
    url = f"/cases/{case_id}"
    owner.get(url)
    form = owner.get(f"{url}/edit").get_data(as_text=True)
    assert owner.submit(f"{url}/edit", case_form(phone="0171 444", version=version_in(form))).status_code == 302
    assert owner.submit(f"{url}/sharing", {"colleague": str(colleague.id), "reason": "Urlaubsvertretung"}
                        ).status_code == 302
    sharing = owner.get(f"{url}/sharing").get_data(as_text=True)
    revoke = re.search(rf'action="({url}/sharing/[0-9a-f-]+/revoke)"', sharing).group(1)
    assert owner.submit(revoke).status_code == 302
    assert owner.submit(f"{url}/consultations/new", consultation_form()).status_code == 302
    consultation = db.session.scalars(select(Consultation)).one()
    edit_url = f"{url}/consultations/{consultation.id}"
    form = owner.get(edit_url).get_data(as_text=True)
    assert owner.submit(edit_url, consultation_form(notes="Zweite Notiz", version=version_in(form))
                        ).status_code == 302
    assert owner.submit(f"{url}/close").status_code == 302
    assert owner.get(f"{url}/export").status_code == 200
    handover = signed_in(admin).submit("/admin/transfers", {"source": str(adviser.id), "case_ids": [case_id],
                                                             "target": str(colleague.id)})
    assert handover.status_code == 302
    assert second_person().status_code == 302

    case = db.session.get(Case, uuid.UUID(case_id))
    events = trail(case.id)
    assert [(e.action, e.detail.split("=")[0]) for e in events] == [
        ("case_created", ""), ("case_viewed", ""), ("case_viewed", "edit form"), ("case_edited", "fields"),
        ("case_shared", "until"), ("case_viewed", "sharing"), ("share_revoked", ""), ("consultation_added", ""),
        ("case_viewed", "consultation"), ("consultation_edited", ""), ("case_closed", ""), ("case_exported", "format"),
        ("case_transferred", "from"),
    ]
    assert [e.actor_id for e in events][-1] == admin.id and {e.actor_id for e in events[:-1]} == {adviser.id}
    assert all(e.case_number == case.number and e.ip == "127.0.0.1" for e in events)
    assert events[3].detail == "fields=phone"
    details = " ".join(e.detail for e in events)
    for marker in MARKERS:
        assert marker not in details, marker
    assert audit.verify_chain().ok


def test_a_save_refused_for_a_stale_version_writes_no_edit_event(adviser, open_case, signed_in):
    case = open_case(adviser)
    client = signed_in(adviser)
    stale = version_in(client.get(f"/cases/{case.id}/edit").get_data(as_text=True))
    assert client.submit(f"/cases/{case.id}/edit", case_form(notes="first", version=stale)).status_code == 302
    assert client.submit(f"/cases/{case.id}/edit", case_form(notes="second", version=stale)).status_code == 409
    assert [e.action for e in trail(case.id)].count("case_edited") == 1


def test_an_edit_lost_to_a_concurrent_save_leaves_no_event_behind(adviser, open_case):
    """The version check passes, but another writer saved first: the UPDATE matches nothing, all is rolled back."""
    case = open_case(adviser)
    loaded = case.version
    with db.engine.begin() as other:  # a colleague's save, committed in between
        other.execute(text("UPDATE cases SET version = version + 1"))
    with pytest.raises(StaleDataError):
        cases.update_case(adviser, case, case_data(notes="lost"), loaded)
        db.session.commit()
    db.session.rollback()
    assert [e.action for e in trail(case.id)] == ["case_created"]
    assert audit.verify_chain().ok


def test_the_sharing_page_is_audited_as_a_view(adviser, colleague, open_case, signed_in):
    case = open_case(adviser)
    cases.share(adviser, case, colleague, "Urlaubsvertretung", None)
    db.session.commit()
    assert "Urlaubsvertretung" in signed_in(adviser).get(f"/cases/{case.id}/sharing").get_data(as_text=True)
    event = trail(case.id)[-1]
    assert (event.action, event.detail, event.actor_id) == ("case_viewed", "sharing", adviser.id)


def test_a_consultation_of_another_case_is_not_found_and_the_attempt_recorded(adviser, colleague, open_case,
                                                                               signed_in):
    mine = open_case(adviser)
    theirs = open_case(colleague, name="Hanna Haddad")
    foreign = consultations.add(colleague, theirs, ConsultationInput(held_on=today(), minutes=30, channel="phone",
                                                                     notes="Fremde Notiz"))
    db.session.commit()
    client = signed_in(adviser)
    for method in ("GET", "POST"):
        response = client.open(f"/cases/{mine.id}/consultations/{foreign.id}", method=method,
                               data={"csrf_token": client.csrf_token(), **consultation_form(version="1")})
        assert response.status_code == 404 and "Fremde Notiz" not in response.get_data(as_text=True)
    db.session.refresh(foreign)
    assert foreign.notes == "Fremde Notiz" and foreign.version == 1
    denied = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "case_access_denied")).all()
    assert [(e.actor_id, e.case_number, e.detail) for e in denied] == [(adviser.id, theirs.number, "consultations")] * 2
    missing = client.get(f"/cases/{mine.id}/consultations/{uuid.uuid4()}")
    assert missing.status_code == 404
    last = db.session.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc())).first()
    assert (last.action, last.case_number) == ("case_access_denied", mine.number)
