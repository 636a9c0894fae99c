"""Case work through the pages: open, find, edit without overwriting, consult, share, transfer."""

from __future__ import annotations

import re
import uuid
from datetime import date, timedelta

import pytest
from sqlalchemy import select, text

from counsel.clock import today
from counsel.extensions import db
from counsel.models.audit import AuditEvent
from counsel.models.case import Case, CaseNameIndex
from counsel.models.consultation import Consultation
from counsel.models.user import Role
from counsel.services import cases, consultations
from counsel.services.cases import CaseInputError
from counsel.services.consultations import ConsultationInput
from tests.cases.conftest import ARABIC_NAME
from tests.conftest import ON_POSTGRES


def case_form(**fields):
    data = {
        "name": ARABIC_NAME, "pseudonym": "Nour", "other_spellings": "Fatima al-Zahra", "date_of_birth": "1988-03-02",
        "age_band": "unknown", "phone": "0231 5550199", "email": "", "address": "Nordstraße 3, Dortmund",
        "safe_contact": "nur dienstags", "children": "2 (4, 7)", "country": "SY",
        "residence_status": "asylum_procedure", "violence_forms": ["physical", "digital"],
        "perpetrator_relation": "partner", "referral_source": "community", "notes": "ملاحظة سرية",
        "languages-0-tag": "Arabisch (ar)", "languages-0-mode": "native", "languages-0-preferred": "y",
        "languages-1-tag": "ku", "languages-1-mode": "basic",
        "languages-2-tag": "", "languages-2-mode": "native", "languages-3-tag": "", "languages-3-mode": "native",
    }
    data.update(fields)
    return data


def opened_case(client):
    response = client.submit("/cases/new", case_form())
    assert response.status_code == 302, response.get_data(as_text=True)
    return db.session.get(Case, uuid.UUID(response.location.rsplit("/", 1)[-1]))


def test_an_adviser_opens_a_case_with_everything_encrypted(adviser, signed_in):
    client = signed_in(adviser)
    case = opened_case(client)
    assert re.fullmatch(rf"DO-{today().year}-0001", case.number)
    assert case.name == ARABIC_NAME and case.owner_id == adviser.id and case.site_id == adviser.site_id
    assert case.age_band == "36_45" and case.opened_month == today().replace(day=1)
    assert case.violence_forms == {"physical", "digital"} and case.preferred_language == "ar"
    raw = db.session.execute(text("SELECT name, phone, address, notes FROM cases")).one()
    for blob, secret in zip(raw, (ARABIC_NAME, "5550199", "Nordstraße", "ملاحظة"), strict=True):
        assert secret.encode() not in bytes(blob)
    assert db.session.scalar(select(CaseNameIndex.id).where(CaseNameIndex.case_id == case.id)) is not None
    page = client.get(f"/cases/{case.id}").get_data(as_text=True)
    assert ARABIC_NAME in page and 'dir="auto"' in page and "Syrien" in page and "Arabisch" in page


def test_case_numbers_count_per_site_and_year(adviser, make_user, other_site, open_case):
    first, second = open_case(adviser), open_case(adviser)
    elsewhere = open_case(make_user("sara", Role.ADVISER, at=other_site))
    year = today().year
    assert [first.number, second.number, elsewhere.number] == [f"DO-{year}-0001", f"DO-{year}-0002",
                                                              f"SB-{year}-0001"]


def test_bad_input_is_explained_and_nothing_typed_is_lost(adviser, signed_in):
    client = signed_in(adviser)
    future = (today() + timedelta(days=3)).isoformat()
    response = client.submit("/cases/new", case_form(date_of_birth=future, notes="keep me"))
    body = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "keep me" in body and ARABIC_NAME in body
    assert db.session.scalars(select(Case)).all() == []
    response = client.submit("/cases/new", case_form(**{"languages-1-preferred": "y"}))
    assert response.status_code == 400 and db.session.scalars(select(Case)).all() == []
    response = client.submit("/cases/new", case_form(**{"languages-1-tag": "not a language"}))
    assert response.status_code == 400 and "not a language" in response.get_data(as_text=True)


def test_the_duplicate_check_finds_folded_names_and_names_only_the_holder(
        adviser, colleague, make_user, other_site, open_case, signed_in):
    mine = open_case(adviser, name="Fatma Yılmaz")
    open_case(colleague, name="Şêrîn Müller", pseudonym="Sonne")
    open_case(make_user("sara", Role.ADVISER, at=other_site), name="Ayşe Demir")
    client = signed_in(adviser)

    def search(name):
        return client.submit("/cases/check", {"name": name, "language": ""}).get_data(as_text=True)

    for variant in ("FATMA YILMAZ", "fatma yilmaz", "Yılmaz", "yilmaz fatma"):
        assert mine.number in search(variant), variant
    held = search("serin muller")
    assert "Carla Kollegin" in held and "Sonne" not in held and "Şêrîn" not in held
    assert "Ayşe" not in search("Ayse Demir") and "sara" not in search("Ayse Demir").lower()
    assert mine.number not in search("Fatima Yilmaz")
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "case_search")).first()
    assert "fatma" not in event.detail.lower()


def test_opening_suggests_colleagues_who_speak_her_language(adviser, make_user, signed_in):
    speaker = make_user("tesfay", Role.ADVISER, name="Tesfay Tigrinya")
    speaker.set_languages(["ti", "am"])
    make_user("noone", Role.ADVISER, name="Nina Nurdeutsch").set_languages(["de"])
    db.session.commit()
    body = signed_in(adviser).submit("/cases/check", {"name": "Selam", "language": "Tigrinya (ti)"}
                                     ).get_data(as_text=True)
    assert "Tesfay Tigrinya" in body and "Nina" not in body


def test_two_advisers_saving_the_same_case_never_overwrite_each_other(adviser, colleague, open_case, signed_in):
    case = open_case(adviser)
    cases.share(adviser, case, colleague, "Vertretung", None)
    db.session.commit()
    first, second = signed_in(adviser), signed_in(colleague)
    form_a = first.get(f"/cases/{case.id}/edit").get_data(as_text=True)
    second.get(f"/cases/{case.id}/edit")
    version = re.search(r'name="version" type="hidden" value="(\d+)"', form_a).group(1)
    edit = case_form(name="Fatma Yılmaz", version=version)
    assert first.submit(f"/cases/{case.id}/edit", {**edit, "notes": "from Berta"}).status_code == 302
    clash = second.submit(f"/cases/{case.id}/edit", {**edit, "notes": "from Carla"})
    assert clash.status_code == 409
    assert "from Carla" in clash.get_data(as_text=True)  # her input is kept
    db.session.refresh(case)
    assert case.notes == "from Berta"
    newer = re.search(r'name="version" type="hidden" value="(\d+)"', clash.get_data(as_text=True)).group(1)
    assert second.submit(f"/cases/{case.id}/edit", {**edit, "notes": "from Carla", "version": newer}
                         ).status_code == 302


def test_an_edit_is_audited_with_field_names_only(adviser, open_case, signed_in):
    case = open_case(adviser)
    client = signed_in(adviser)
    client.submit(f"/cases/{case.id}/edit", case_form(name="Fatma Yılmaz", phone="0171 000", version=case.version))
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "case_edited")).one()
    assert "phone" in event.detail and "0171" not in event.detail


def consultation_form(**fields):
    data = {"held_on": today().isoformat(), "minutes": "50", "channel": "in_person", "language": "ar",
            "interpreting": "professional", "interpreter": "Dolmetschdienst Nord", "pledge_on_file": "y",
            "topics": ["protection", "residence"], "referrals": ["lawyer"], "notes": "تحدثنا عن الأمان",
            "follow_up_on": (today() + timedelta(days=1)).isoformat()}
    data.update(fields)
    return data


def test_consultations_are_logged_and_shown(adviser, open_case, signed_in):
    case = open_case(adviser)
    client = signed_in(adviser)
    assert client.submit(f"/cases/{case.id}/consultations/new", consultation_form()).status_code == 302
    assert client.submit(f"/cases/{case.id}/consultations/new",
                         consultation_form(interpreting="family", interpreter="Bruder", notes="kurz",
                                           follow_up_on="")).status_code == 302
    stored = db.session.scalars(select(Consultation).order_by(Consultation.created_at)).all()
    assert [c.minutes for c in stored] == [50, 50] and stored[0].topics == {"protection", "residence"}
    assert stored[0].referrals == {"lawyer"} and stored[0].interpreter == "Dolmetschdienst Nord"
    raw = db.session.execute(text("SELECT notes, interpreter FROM consultations")).all()
    assert all(b"Dolmetsch" not in bytes(r[1]) for r in raw if r[1])
    page = client.get(f"/cases/{case.id}").get_data(as_text=True)
    assert "تحدثنا عن الأمان" in page
    assert page.count('class="warning"') == 1  # the family-interpreter risk is flagged, once


def test_a_consultation_in_the_future_or_a_follow_up_before_it_is_refused(adviser, open_case, signed_in):
    case = open_case(adviser)
    client = signed_in(adviser)
    tomorrow = (today() + timedelta(days=1)).isoformat()
    yesterday = (today() - timedelta(days=1)).isoformat()
    assert client.submit(f"/cases/{case.id}/consultations/new",
                         consultation_form(held_on=tomorrow)).status_code == 400
    assert client.submit(f"/cases/{case.id}/consultations/new",
                         consultation_form(follow_up_on=yesterday)).status_code == 400
    assert db.session.scalars(select(Consultation)).all() == []


def test_consultation_edits_use_optimistic_locking(adviser, open_case, signed_in):
    case = open_case(adviser)
    consultation = consultations.add(adviser, case, ConsultationInput(held_on=today(), minutes=30,
                                                                      channel="phone"))
    db.session.commit()
    client = signed_in(adviser)
    url = f"/cases/{case.id}/consultations/{consultation.id}"
    assert client.submit(url, consultation_form(version="1", notes="first")).status_code == 302
    stale = client.submit(url, consultation_form(version="1", notes="stale"))
    assert stale.status_code == 409 and "stale" in stale.get_data(as_text=True)
    db.session.refresh(consultation)
    assert consultation.notes == "first"


def test_dashboard_shows_open_cases_and_follow_ups_due_this_week(adviser, open_case, signed_in):
    due, later, closed = open_case(adviser, pseudonym="Due"), open_case(adviser, pseudonym="Later"), \
        open_case(adviser, pseudonym="Closed")
    week_end = today() + timedelta(days=6 - today().weekday())
    for case, follow_up in ((due, today() - timedelta(days=2)), (later, week_end + timedelta(days=1))):
        consultations.add(adviser, case, ConsultationInput(held_on=today() - timedelta(days=3), minutes=30,
                                                           channel="phone", follow_up_on=follow_up))
    cases.set_status(adviser, closed, "closed")
    db.session.commit()
    body = signed_in(adviser).get("/").get_data(as_text=True)
    follow_ups = body.split('class="follow-ups"')[1].split("</table>")[0]
    assert "Due" in follow_ups and "Later" not in follow_ups
    caseload = body.split('class="caseload"')[1]
    assert "Due" in caseload and "Later" in caseload and "Closed" not in caseload


def test_closing_records_the_month_only(adviser, open_case, signed_in):
    case = open_case(adviser)
    signed_in(adviser).submit(f"/cases/{case.id}/close")
    db.session.refresh(case)
    assert case.status == "closed" and case.closed_month == today().replace(day=1)


def test_sharing_needs_a_reason_and_a_colleague_at_the_same_site(adviser, colleague, make_user, other_site,
                                                                 open_case, signed_in):
    case = open_case(adviser)
    far = make_user("fern", Role.ADVISER, at=other_site)
    client = signed_in(adviser)
    assert client.submit(f"/cases/{case.id}/sharing", {"colleague": str(colleague.id), "reason": ""}
                         ).status_code == 400
    assert client.submit(f"/cases/{case.id}/sharing", {"colleague": str(far.id), "reason": "x"}
                         ).status_code == 400
    assert client.submit(f"/cases/{case.id}/sharing", {"colleague": str(colleague.id), "reason": "Urlaub",
                                                       "until": (today() + timedelta(days=14)).isoformat()}
                         ).status_code == 302
    assert signed_in(colleague).get(f"/cases/{case.id}").status_code == 200
    assert signed_in(far).get(f"/cases/{case.id}").status_code == 404
    with pytest.raises(CaseInputError):
        cases.share(adviser, case, colleague, "x", date(2000, 1, 1))


def test_an_admin_hands_over_cases_seeing_numbers_only(adviser, colleague, admin, open_case, signed_in,
                                                       make_user, other_site, second_person):
    first = open_case(adviser, name="Zeynep Kaya")
    consultations.add(adviser, first, ConsultationInput(held_on=today(), minutes=30, channel="phone"))
    db.session.commit()
    client = signed_in(admin)
    page = client.get(f"/admin/transfers?source={adviser.id}").get_data(as_text=True)
    assert first.number in page and "Zeynep" not in page and "Rose" not in page
    far = make_user("fern", Role.ADVISER, at=other_site)
    refused = client.submit("/admin/transfers", {"source": str(adviser.id), "case_ids": [str(first.id)],
                                                 "target": str(far.id)})
    assert refused.status_code == 400
    response = client.submit("/admin/transfers", {"source": str(adviser.id), "case_ids": [str(first.id)],
                                                  "target": str(colleague.id)})
    assert response.status_code == 302
    db.session.refresh(first)
    assert first.owner_id == adviser.id  # until a second person confirms
    assert second_person().status_code == 302
    db.session.refresh(first)
    assert first.owner_id == colleague.id
    assert signed_in(colleague).get(f"/cases/{first.id}").status_code == 200
    assert signed_in(adviser).get(f"/cases/{first.id}").status_code == 404
    history = db.session.scalars(select(AuditEvent).where(AuditEvent.case_id == first.id)
                                 .order_by(AuditEvent.seq)).all()
    assert [e.action for e in history][:2] == ["case_created", "consultation_added"]
    assert any(e.action == "case_transferred" and e.detail == "from=berta to=carla" for e in history)
    assert db.session.scalars(select(Consultation)).one().author_id == adviser.id  # authorship kept


def test_a_damaged_case_field_names_the_case_and_shows_nothing(adviser, open_case, signed_in, caplog):
    case = open_case(adviser)
    blob = bytearray(db.session.execute(text("SELECT notes FROM cases")).scalar_one())
    blob[20] ^= 0x04
    db.session.execute(text("UPDATE cases SET notes = :b"), {"b": bytes(blob)})
    db.session.commit()
    response = signed_in(adviser).get(f"/cases/{case.id}")
    body = response.get_data(as_text=True)
    assert response.status_code == 500
    assert case.number in body and "notes" in body and "He reads her phone" not in body
    assert any(case.number in r.getMessage() for r in caplog.records)
    listing = signed_in(adviser).get("/cases/")
    assert listing.status_code == 200  # a list still works; the pseudonym is readable


def test_a_list_marks_a_damaged_pseudonym_for_that_case_only(adviser, open_case, signed_in):
    damaged, fine = open_case(adviser, pseudonym="Damaged"), open_case(adviser, pseudonym="Fine")
    other_blob = db.session.execute(text("SELECT pseudonym FROM cases WHERE id = :i"),
                                    {"i": fine.id.hex if not ON_POSTGRES else fine.id}).scalar_one()
    db.session.execute(text("UPDATE cases SET pseudonym = :b WHERE number = :n"),
                       {"b": other_blob, "n": damaged.number})  # moved from another row: must not decrypt
    db.session.commit()
    body = signed_in(adviser).get("/cases/").get_data(as_text=True)
    assert re.search(rf"<td dir=\"auto\">⚠[^<]*\({damaged.number}\)</td>", body)
    assert "Fine" in body.split(fine.number)[1].split("</tr>")[0]


def test_advisers_record_the_languages_they_counsel_in(adviser, signed_in):
    client = signed_in(adviser)
    response = client.submit("/account/languages", {"tags-0": "Tigrinya (ti)", "tags-1": "ckb", "tags-2": "",
                                                     "tags-3": "", "tags-4": "", "tags-5": ""})
    assert response.status_code == 302
    db.session.refresh(adviser)
    assert adviser.languages == ["ckb", "ti"]
    page = client.get("/account/").get_data(as_text=True)
    assert "Zentralkurdisch (ckb)" in page
    refused = client.submit("/account/languages", {"tags-0": "Klingonisch!!"})
    assert refused.status_code == 400
    db.session.refresh(adviser)
    assert adviser.languages == ["ckb", "ti"]


def test_the_case_list_is_paged(adviser, open_case, signed_in):
    numbers = [open_case(adviser, pseudonym=f"P{i}").number for i in range(53)]
    client = signed_in(adviser)
    first, second = client.get("/cases/").get_data(as_text=True), client.get("/cases/?page=2").get_data(as_text=True)
    assert sum(n in first for n in numbers) == 50 and sum(n in second for n in numbers) == 3
    assert "53" in first and re.search(r'href="/cases/\?[^"]*page=2"', first)
