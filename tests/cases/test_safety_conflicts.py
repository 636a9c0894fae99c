"""The conflict check (issue 5): warnings before saving, address forms, staff names, and the oracle's trace.

Every warning tells only what matched and whom to ask; every confirmed match also lands, without
values, on the matched case's own trail, so its owner sees who checked against her client.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from counsel.extensions import db
from counsel.models.audit import AuditEvent
from counsel.models.safety import Perpetrator

PERPETRATOR_ADDRESS = "Mallinckrodtstraße 12, 44145 Dortmund"


def actions():
    return list(db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.seq)))


@pytest.fixture
def perpetrator_case(adviser, open_case, signed_in):
    case = open_case(adviser, name="Ayşe Yılmaz")
    response = signed_in(adviser).submit(f"/cases/{case.id}/perpetrators/new", {
        "name": "Mehmet Yılmaz", "phone": "+49 231 1234567", "address": PERPETRATOR_ADDRESS,
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


# --- addresses -----------------------------------------------------------------------------

@pytest.mark.parametrize("address", [
    "Mallinckrodtstraße 12",  # street and number, without postcode and city
    "Mallinckrodtstr. 12, 44145 Dortmund",
    "44145 Dortmund, Mallinckrodtstraße 12",  # the place first
    "44145 Dortmund Mallinckrodtstrasse 12",
    "Mallinckrodt-Str.12 ,44145   Dortmund",  # spacing, commas and hyphens of its own
    "Mallinckrodtstraße 12 44145 Dortmund",
    "mallinckrodtstr 12\nD-44145 Dortmund",
])
def test_every_way_of_writing_the_address_warns(perpetrator_case, colleague, signed_in, address):
    response = new_case(signed_in(colleague), address=address)
    body = response.get_data(as_text=True)
    assert response.status_code == 409 and "Die Adresse" in body
    assert "Geheimnotiz" not in body and perpetrator_case.number not in body


@pytest.mark.parametrize("address", [
    "Mallinckrodtstraße 14, 44145 Dortmund",  # another house
    "Mallinckrodtstraße 12, 44147 Dortmund",  # the same street name in another part of town
    "44145 Dortmund",  # a postcode and a city alone are shared by thousands
    "Dortmund",
    "Mallinckrodtstraße",
])
def test_another_address_does_not_warn(perpetrator_case, colleague, signed_in, address):
    assert new_case(signed_in(colleague), address=address).status_code == 302


# --- staff ---------------------------------------------------------------------------------

def test_a_perpetrator_with_a_staff_members_name_warns(adviser, colleague, open_case, signed_in):
    case = open_case(adviser)
    response = signed_in(adviser).submit(f"/cases/{case.id}/perpetrators/new", {
        "name": "KOLLEGIN Carla", "phone": "", "address": "", "notes": ""})  # order and case do not matter
    body = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "Carla Kollegin" in body and "Mitarbeiter" in body
    assert db.session.scalar(select(func.count()).select_from(Perpetrator)) == 0


# --- the oracle leaves a trace -------------------------------------------------------------

def test_a_match_is_on_the_matched_cases_trail_for_its_owner(adviser, colleague, open_case, signed_in):
    """Carla enters a number as a "perpetrator" in her own case; Berta's client has it. Berta sees who asked."""
    theirs = open_case(adviser, name="Ayşe Yılmaz", phone="0171 5550000", address=PERPETRATOR_ADDRESS)
    mine = open_case(colleague)
    carla = signed_in(colleague)
    response = carla.submit(f"/cases/{mine.id}/perpetrators/new", {
        "name": "Irgendwer", "phone": "+49 171 555 00 00", "address": "", "notes": ""})
    body = response.get_data(as_text=True)
    assert response.status_code == 409 and "Berta Beraterin" in body  # whom to ask, and nothing more
    for secret in (theirs.number, "Ayşe", "Yılmaz", "0171", "5550000", "Mallinckrodt"):
        assert secret not in body

    matched = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "conflict_match")).one()
    assert (matched.case_id, matched.actor_id, matched.detail) == (theirs.id, colleague.id, "client:phone")
    log = signed_in(adviser).get(f"/cases/{theirs.id}/access-log").get_data(as_text=True)
    row = next(r for r in log.split("<tr") if "Konfliktprüfung hat diesen Fall getroffen" in r)
    assert "carla" in row and "client:phone" in row and "5550000" not in log
    assert carla.get(f"/cases/{theirs.id}/access-log").status_code == 404  # she still cannot look


def test_a_new_case_matching_a_perpetrator_is_on_the_perpetrators_case_trail(perpetrator_case, colleague,
                                                                              signed_in, adviser):
    assert new_case(signed_in(colleague), phone="0231 1234567").status_code == 409
    matched = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "conflict_match")).one()
    assert (matched.case_id, matched.actor_id, matched.detail) == (perpetrator_case.id, colleague.id,
                                                                   "perpetrator:phone")
    log = signed_in(adviser).get(f"/cases/{perpetrator_case.id}/access-log").get_data(as_text=True)
    assert "Konfliktprüfung hat diesen Fall getroffen" in log and "1234567" not in log


def test_no_match_leaves_no_trace_on_other_cases(perpetrator_case, colleague, signed_in):
    assert new_case(signed_in(colleague), phone="0231 7654321").status_code == 302
    assert "conflict_match" not in actions()
