"""Consultations beside the case: logging one is no edit of the case, and the dashboard reads them right."""

from __future__ import annotations

import re
from datetime import timedelta

import time_machine
from sqlalchemy import select

from counsel.clock import today, utcnow
from counsel.extensions import db
from counsel.models.case import Case
from counsel.services import cases, consultations
from counsel.services.cases import LanguageEntry
from counsel.services.consultations import ConsultationInput
from tests.cases.conftest import case_data
from tests.cases.test_cases import case_form, consultation_form


def version_in(html: str) -> str:
    return re.search(r'name="version" type="hidden" value="(\d+)"', html).group(1)  # type: ignore[union-attr]


def test_a_consultation_or_closing_while_the_edit_form_is_open_is_no_conflict(adviser, colleague, open_case,
                                                                              signed_in):
    case = open_case(adviser)
    cases.share(adviser, case, colleague, "Vertretung", None)
    db.session.commit()
    berta, carla = signed_in(adviser), signed_in(colleague)
    opened_at = version_in(berta.get(f"/cases/{case.id}/edit").get_data(as_text=True))
    assert carla.submit(f"/cases/{case.id}/consultations/new", consultation_form()).status_code == 302
    other_tab = signed_in(adviser)  # closing is hers alone (it starts the retention period)
    assert other_tab.submit(f"/cases/{case.id}/close").status_code == 302
    assert other_tab.submit(f"/cases/{case.id}/reopen").status_code == 302
    saved = berta.submit(f"/cases/{case.id}/edit", case_form(notes="from Berta", version=opened_at))
    assert saved.status_code == 302, saved.get_data(as_text=True)
    db.session.refresh(case)
    assert case.notes == "from Berta" and case.status == "open"


def test_two_edits_of_her_fields_still_conflict_and_keep_the_input(adviser, colleague, open_case, signed_in):
    case = open_case(adviser)
    cases.share(adviser, case, colleague, "Vertretung", None)
    db.session.commit()
    berta, carla = signed_in(adviser), signed_in(colleague)
    opened_at = version_in(berta.get(f"/cases/{case.id}/edit").get_data(as_text=True))
    assert carla.submit(f"/cases/{case.id}/edit", case_form(notes="from Carla", version=opened_at)).status_code == 302
    assert carla.submit(f"/cases/{case.id}/consultations/new", consultation_form()).status_code == 302
    clash = berta.submit(f"/cases/{case.id}/edit", case_form(notes="from Berta", version=opened_at))
    assert clash.status_code == 409 and "from Berta" in clash.get_data(as_text=True)
    db.session.refresh(case)
    assert case.notes == "from Carla"


def test_only_edits_of_her_fields_move_the_version_on(adviser, colleague, admin, open_case):
    case = open_case(adviser)
    start = case.version
    consultations.add(adviser, case, ConsultationInput(held_on=today(), minutes=30, channel="phone"))
    cases.set_status(adviser, case, "closed")
    cases.transfer(admin, [case], colleague)
    db.session.commit()
    assert db.session.scalar(select(Case.version).where(Case.id == case.id)) == start
    # an edit of her languages alone (rows of another table) is an edit of the case too
    assert cases.update_case(colleague, case, case_data(languages=[LanguageEntry("ar", "native", True)]),
                             start) == ["languages"]
    db.session.commit()
    assert db.session.scalar(select(Case.version).where(Case.id == case.id)) == start + 1


def test_the_dashboard_lists_the_case_with_the_latest_consultation_first(adviser, open_case, signed_in):
    start = utcnow() - timedelta(hours=3)
    with time_machine.travel(start, tick=False):
        older = open_case(adviser, pseudonym="Older")
    with time_machine.travel(start + timedelta(hours=1), tick=False):
        newer = open_case(adviser, pseudonym="Newer")
    with time_machine.travel(start + timedelta(hours=2), tick=False):
        consultations.add(adviser, older, ConsultationInput(held_on=today(), minutes=30, channel="phone"))
        db.session.commit()
    caseload = signed_in(adviser).get("/").get_data(as_text=True).split('class="caseload"')[1]
    assert caseload.index(older.number) < caseload.index(newer.number)


def follow_ups(client) -> str:
    body = client.get("/").get_data(as_text=True)
    return body.split('class="follow-ups"')[1].split("</table>")[0] if 'class="follow-ups"' in body else ""


def log(adviser, case, days_ago: int, follow_up_in: int | None = None):
    held_on = today() - timedelta(days=days_ago)
    follow_up = None if follow_up_in is None else today() + timedelta(days=follow_up_in)
    consultation = consultations.add(adviser, case, ConsultationInput(held_on=held_on, minutes=30, channel="phone",
                                                                      follow_up_on=follow_up))
    db.session.commit()
    return consultation


def test_an_older_consultation_entered_later_does_not_hide_a_pending_follow_up(adviser, open_case, signed_in):
    case = open_case(adviser)
    log(adviser, case, days_ago=3, follow_up_in=0)
    log(adviser, case, days_ago=10)  # entered afterwards, but held a week before
    client = signed_in(adviser)
    assert follow_ups(client).count(case.number) == 1
    log(adviser, case, days_ago=0)  # the newest consultation plans no follow-up: nothing is due any more
    assert case.number not in follow_ups(client)


def test_consultations_entered_at_the_same_moment_list_their_case_once(adviser, open_case, signed_in):
    case = open_case(adviser)
    with time_machine.travel(utcnow(), tick=False):
        first = log(adviser, case, days_ago=1, follow_up_in=0)
        second = log(adviser, case, days_ago=1, follow_up_in=-1)
    assert first.created_at == second.created_at and first.held_on == second.held_on
    board = consultations.dashboard(adviser)
    winner = max(first, second, key=lambda c: c.id)  # the same day and moment: the larger id decides, every time
    assert board.follow_ups == [(case, winner.follow_up_on)]
    assert follow_ups(signed_in(adviser)).count(case.number) == 1
