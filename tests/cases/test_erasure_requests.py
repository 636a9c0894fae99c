"""Erasure on request (Art. 17): the holder asks, a second person decides at /admin/erasures, over HTTP.

Tried as an insider would: confirming her own request, deciding with the wrong role or for
another site, a forged or replayed form, and an admin looking for the case's content on the way.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from counsel.cli import cli
from counsel.extensions import db
from counsel.models.audit import AuditEvent
from counsel.models.case import Case
from counsel.models.change_request import ChangeRequest
from counsel.models.safety import Notification
from counsel.models.user import Role, User
from counsel.services import erasure, retention, two_person
from counsel.services.erasure import ErasureRefused

REASON = "Sie hat am 3. März schriftlich um Löschung gebeten."


def ask(browser: Any, case: Case, reason: str = REASON) -> Any:
    return browser.submit(f"/cases/{case.id}/erasure", {"reason": reason})


def pending() -> list[ChangeRequest]:
    db.session.expire_all()
    return list(db.session.scalars(select(ChangeRequest).where(ChangeRequest.kind == "erasure",
                                                              ChangeRequest.status == "pending")))


def exists(case_id: Any) -> bool:
    db.session.expire_all()
    return db.session.get(Case, case_id) is not None


@pytest.fixture
def asked(adviser: User, open_case: Any, signed_in: Any) -> tuple[Case, ChangeRequest]:
    case = open_case(adviser)
    assert ask(signed_in(adviser), case).status_code == 302
    (request,) = pending()
    return case, request


def test_the_holder_asks_and_a_coordinator_of_the_site_confirms(supervisor, asked, signed_in):
    case, request = asked
    number, case_id = case.number, case.id
    browser = signed_in(supervisor)
    assert f'href="/admin/erasures/#erasure-{request.id}"' in browser.get("/notifications").get_data(as_text=True)
    page = browser.get("/admin/erasures/").get_data(as_text=True)
    assert number in page and REASON in page and "Berta" in page
    assert browser.submit(f"/admin/erasures/{request.id}/confirm").status_code == 302
    assert not exists(case_id)
    actions = db.session.execute(select(AuditEvent.action, AuditEvent.actor_name, AuditEvent.detail)
                                 .where(AuditEvent.case_number == number).order_by(AuditEvent.seq)).all()
    assert ("erasure_requested", "berta") == actions[-2][:2]
    assert actions[-1] == ("case_erased", "sven", "cause=request requested_by=berta confirmed_by=sven")


def test_an_admin_confirms_too_and_the_holder_is_told(asked, admin, adviser, signed_in):
    case, request = asked
    case_id = case.id
    assert signed_in(admin).submit(f"/admin/erasures/{request.id}/confirm").status_code == 302
    assert not exists(case_id)
    kinds = db.session.scalars(select(Notification.kind).where(Notification.user_id == adviser.id)).all()
    assert "request_confirmed" in kinds
    assert "Ada" in signed_in(adviser).get("/notifications").get_data(as_text=True)


def test_the_deciders_see_no_content(asked, admin, supervisor, signed_in):
    case, request = asked
    for person in (admin, supervisor):
        browser = signed_in(person)
        for page in ("/admin/erasures/", "/notifications", "/admin/retention", "/requests/"):
            body = browser.get(page).get_data(as_text=True)
            if '<main id="main">' in body:
                shown = body.split('<main id="main">')[1]
                assert "Fatma" not in shown and "He reads her phone" not in shown and "Rose" not in shown, page
        assert browser.get(f"/cases/{case.id}").status_code == 403


def test_the_requester_never_confirms_her_own_even_as_an_admin(make_user, open_case, signed_in):
    doris = make_user("doris", Role.ADMIN, Role.ADVISER, name="Doris Doppelrolle")
    case = open_case(doris)
    browser = signed_in(doris)
    ask(browser, case)
    (request,) = pending()
    assert request.id.hex not in browser.get("/admin/erasures/").get_data(as_text=True).replace("-", "")
    response = browser.submit(f"/admin/erasures/{request.id}/confirm", follow_redirects=True)
    assert 'class="flash error"' in response.get_data(as_text=True)
    assert exists(case.id) and pending() == [request]
    assert browser.submit(f"/requests/{request.id}/confirm").status_code == 302  # the other door: same rule
    assert exists(case.id) and pending() == [request]


def test_advisers_and_other_sites_cannot_decide(asked, adviser, colleague, make_user, other_site, signed_in):
    case, request = asked
    assert signed_in(adviser).submit(f"/admin/erasures/{request.id}/confirm").status_code == 403
    assert signed_in(colleague).submit(f"/admin/erasures/{request.id}/confirm").status_code == 403
    elsewhere = make_user("saskia", Role.SUPERVISOR, at=other_site)
    browser = signed_in(elsewhere)
    assert case.number not in browser.get("/admin/erasures/").get_data(as_text=True)
    browser.submit(f"/admin/erasures/{request.id}/confirm")
    assert exists(case.id) and pending() == [request]


def test_a_forged_or_replayed_form_changes_nothing(asked, admin, signed_in):
    case, request = asked
    browser = signed_in(admin)
    assert browser.post(f"/admin/erasures/{request.id}/confirm").status_code == 400  # no form token
    assert exists(case.id)
    assert browser.submit(f"/admin/erasures/{request.id}/refuse").status_code == 302
    replay = browser.submit(f"/admin/erasures/{request.id}/confirm", follow_redirects=True)
    assert 'class="flash error"' in replay.get_data(as_text=True)
    assert exists(case.id)
    db.session.expire_all()
    assert db.session.get(ChangeRequest, request.id).status == "refused"


def test_a_request_of_another_kind_is_not_decided_here(admin, adviser, make_user, signed_in):
    rita = make_user("rita", Role.ADMIN)
    other = two_person.request_totp_reset(rita, adviser)
    db.session.commit()
    assert signed_in(admin).submit(f"/admin/erasures/{other.id}/confirm").status_code == 404
    db.session.expire_all()
    assert db.session.get(ChangeRequest, other.id).status == "pending"


def test_only_the_holder_asks(adviser, colleague, open_case, signed_in, admin):
    case = open_case(adviser)
    signed_in(adviser).submit(f"/cases/{case.id}/sharing", {"colleague": str(colleague.id), "reason": "Urlaub"})
    assert ask(signed_in(colleague), case).status_code == 404
    assert ask(signed_in(admin), case).status_code == 403
    with pytest.raises(two_person.RequestError):
        two_person.request_erasure(colleague, case, REASON)
    db.session.rollback()
    assert pending() == []


def test_no_reason_no_request_and_one_request_at_a_time(adviser, open_case, signed_in):
    case = open_case(adviser)
    browser = signed_in(adviser)
    ask(browser, case, reason=" ")
    assert pending() == []
    ask(browser, case)
    ask(browser, case)
    assert len(pending()) == 1


def test_a_legal_hold_stops_the_request_and_the_confirmation(asked, adviser, admin, signed_in):
    case, request = asked
    retention.set_hold(adviser, db.session.get(Case, case.id), "Strafverfahren läuft")
    db.session.commit()
    signed_in(admin).submit(f"/admin/erasures/{request.id}/confirm")
    assert exists(case.id) and pending() == [request]
    assert not current_keystore().is_erased(case.id)  # refused before anything was shredded


def current_keystore() -> Any:
    from flask import current_app

    return current_app.extensions["counsel.vault"].keystore


def test_the_operator_confirms_on_the_command_line(app, asked):
    case, request = asked
    case_id = case.id
    result = app.test_cli_runner().invoke(cli, ["requests", "confirm", str(request.id)], catch_exceptions=False)
    assert result.exit_code == 0 and "Confirmed: erasure" in result.output
    assert not exists(case_id)


def test_the_erasure_service_refuses_a_request_nobody_confirmed(asked, open_case, adviser):
    """Called directly, as a new page might: an erasure on request needs that case's confirmed request."""
    case, request = asked
    other = open_case(adviser, pseudonym="Andere")
    for given in (None, request):  # none at all, and the one still waiting
        with pytest.raises(ErasureRefused):
            erasure.erase(case, cause=erasure.REQUEST, request=given)
        db.session.rollback()
    request.status = "confirmed"
    with pytest.raises(ErasureRefused):
        erasure.erase(other, cause=erasure.REQUEST, request=request)  # confirmed, but for another case
    db.session.rollback()
    assert exists(case.id) and exists(other.id)


def test_a_case_handed_over_is_not_erased_on_its_former_holders_request(asked, adviser, colleague, admin, make_user,
                                                                       signed_in):
    """Attack: ask for erasure, have the case handed over, then have the old request confirmed."""
    case, request = asked
    second_admin = make_user("zora", Role.ADMIN)
    handover = two_person.request_transfer(admin, adviser, [case], colleague)
    db.session.commit()
    assert signed_in(second_admin).submit(f"/requests/{handover.id}/confirm").status_code == 302
    response = signed_in(second_admin).submit(f"/admin/erasures/{request.id}/confirm")
    assert response.status_code in (302, 400, 403, 409)
    assert exists(case.id) and db.session.get(Case, case.id).owner_id == colleague.id  # type: ignore[union-attr]
    assert [r.id for r in pending()] == [request.id]  # it waits to be refused


def test_an_erasure_request_is_told_to_the_coordinators_of_the_cases_site(adviser, make_user, other_site,
                                                                         open_case, signed_in, supervisor):
    """Her old site's case, asked for after she moved: its own site's coordinator hears of it, no one else."""
    case = open_case(adviser)
    adviser.site = other_site
    db.session.commit()
    far = make_user("sonja", Role.SUPERVISOR, at=other_site)
    assert ask(signed_in(adviser), case).status_code == 302
    told = set(db.session.scalars(select(Notification.user_id).where(Notification.kind == "request_opened")))
    assert supervisor.id in told and far.id not in told
    assert case.number not in signed_in(far).get("/notifications").get_data(as_text=True)
