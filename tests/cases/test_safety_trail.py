"""Who has seen a case, and emergency access as its owner and the coordination learn of it (issue 5).

Every page that shows a case leaves a `case_viewed` event naming the page, marked "emergency"
while the viewer holds emergency access; the owner alone reads the justification; every
supervisor of the site, by home site or by supervision scope, is told number, who, when and
until when, nothing more.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
import time_machine
from sqlalchemy import select

from counsel.extensions import db
from counsel.models.audit import AuditEvent
from counsel.models.safety import Notification, Perpetrator
from counsel.models.user import Role

JUSTIFICATION = "Sie hat angerufen, er steht vor der Tür; Berta ist im Urlaub nicht erreichbar."
PAGES = [
    ("consents", "consents"),
    ("disclosures", "disclosures"),
    ("perpetrators/{perpetrator}", "perpetrator"),
    ("perpetrators/new", "new perpetrator"),
    ("risk", "risk"),
    ("safety-plan", "safety plan"),
    ("access-log", "access log"),
]
CASE_PAGES = [("", ""), ("edit", "edit form")]  # the case page itself, and its form


@pytest.fixture
def case(adviser, open_case):
    opened = open_case(adviser)
    db.session.add(Perpetrator(id=uuid.uuid4(), case=opened, case_id=opened.id, name="Mehmet Yılmaz"))
    db.session.commit()
    return opened


def page_url(case, path):
    perpetrator = db.session.scalars(select(Perpetrator.id).where(Perpetrator.case_id == case.id)).one()
    return f"/cases/{case.id}/{path.format(perpetrator=perpetrator)}".rstrip("/")


def views_of(case):
    return list(db.session.scalars(select(AuditEvent.detail).where(AuditEvent.case_id == case.id,
                                                                   AuditEvent.action == "case_viewed")
                                   .order_by(AuditEvent.seq)))


def open_in_emergency(client, case, justification=JUSTIFICATION):
    return client.submit("/cases/emergency", {"number": case.number, "justification": justification})


# --- who has seen this case ----------------------------------------------------------------

@pytest.mark.parametrize("path, page", PAGES + CASE_PAGES)
def test_each_page_that_shows_the_case_is_on_its_trail(case, adviser, colleague, signed_in, path, page):
    assert signed_in(colleague).get(page_url(case, path)).status_code == 404
    assert views_of(case) == []  # a refused look is recorded as refused, not as seen
    assert signed_in(adviser).get(page_url(case, path)).status_code == 200
    assert views_of(case) == [page]


@pytest.mark.parametrize("path, page", [*PAGES, ("", "")])  # the edit form is closed to it (test_two_person)
def test_a_view_under_emergency_access_is_marked(case, adviser, colleague, signed_in, path, page):
    assert signed_in(adviser).get(page_url(case, path)).status_code == 200
    carla = signed_in(colleague)
    assert open_in_emergency(carla, case).status_code == 302
    assert carla.get(page_url(case, path)).status_code == 200
    marked = ", ".join(part for part in (page, "emergency") if part)
    assert views_of(case) == [page, marked]  # the owner can tell what was read in the emergency


def test_a_view_in_an_emergency_stands_out_in_the_access_log(case, adviser, colleague, signed_in):
    carla = signed_in(colleague)
    open_in_emergency(carla, case)
    carla.get(f"/cases/{case.id}/risk")
    log = signed_in(adviser).get(f"/cases/{case.id}/access-log").get_data(as_text=True)
    row = next(r for r in log.split("<tr") if "risk, emergency" in r)
    assert 'class="notable"' in row and "carla" in row


# --- the justification, for the owner only -------------------------------------------------

def test_the_owner_reads_the_justification_on_the_access_log(case, adviser, colleague, signed_in):
    open_in_emergency(signed_in(colleague), case)
    berta = signed_in(adviser)
    messages = berta.get("/notifications").get_data(as_text=True)
    assert f'href="/cases/{case.id}/access-log"' in messages and JUSTIFICATION not in messages
    log = berta.get(f"/cases/{case.id}/access-log").get_data(as_text=True)
    grants = log.split('class="emergency-accesses"')[1].split("</section>")[0]
    assert JUSTIFICATION in grants and "Carla Kollegin" in grants


def test_nobody_but_the_owner_reads_the_justification(case, colleague, supervisor, admin, signed_in):
    carla = signed_in(colleague)
    open_in_emergency(carla, case)
    own_look = carla.get(f"/cases/{case.id}/access-log").get_data(as_text=True)  # the one who opened it
    assert "emergency-accesses" not in own_look and JUSTIFICATION not in own_look
    coordination = signed_in(supervisor)
    message = coordination.get("/notifications").get_data(as_text=True)
    assert case.number in message and "Carla Kollegin" in message
    assert JUSTIFICATION not in message and "/access-log" not in message
    for outsider in (coordination, signed_in(admin)):
        response = outsider.get(f"/cases/{case.id}/access-log")
        assert response.status_code in (403, 404) and JUSTIFICATION not in response.get_data(as_text=True)


# --- who is told ---------------------------------------------------------------------------

def test_supervisors_of_the_site_by_scope_are_told_too(case, colleague, make_user, other_site, site, signed_in):
    at_home = make_user("koord", Role.SUPERVISOR)
    by_scope = make_user("netz", Role.SUPERVISOR, at=other_site)
    by_scope.set_supervised_sites({other_site.id, site.id})
    elsewhere = make_user("fern", Role.SUPERVISOR, at=other_site)
    gone = make_user("alt", Role.SUPERVISOR)
    gone.active = False
    make_user("dora", Role.ADVISER)  # an adviser of the site is not the coordination
    db.session.commit()

    assert open_in_emergency(signed_in(colleague), case).status_code == 302
    told = set(db.session.scalars(select(Notification.user_id)))
    assert told == {case.owner_id, at_home.id, by_scope.id}
    assert elsewhere.id not in told and gone.id not in told

    page = signed_in(by_scope).get("/notifications").get_data(as_text=True)
    assert case.number in page and "Carla Kollegin" in page and "Fatma" not in page


# --- times in the app's time zone ----------------------------------------------------------

def test_emergency_times_are_shown_in_the_configured_time_zone(app, case, colleague, supervisor, signed_in):
    assert app.config["BABEL_DEFAULT_TIMEZONE"] == "Europe/Berlin"  # the default setting
    with time_machine.travel(datetime(2026, 1, 15, 10, 0, tzinfo=UTC), tick=False):
        carla = signed_in(colleague)
        assert open_in_emergency(carla, case).status_code == 302
        shown = carla.get(f"/cases/{case.id}").get_data(as_text=True)
        message = signed_in(supervisor).get("/notifications").get_data(as_text=True)
    assert "23:00" in shown and "22:00" not in shown  # 22:00 UTC is 23:00 in Berlin in winter
    assert "11:00" in message and "23:00" in message and "22:00" not in message
