"""No insider reads a case alone (issue 11, points 1 and 2), tried as the attacker would, over HTTP.

The admin who alone gave herself the adviser role, handed a case to herself and read it; who
reset an adviser's password and second factor and signed in as her; the adviser who opened case
after case "in an emergency": each path now needs a second person, or ends where it began.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from click.testing import Result
from flask import Flask
from sqlalchemy import select

from counsel.cli import cli
from counsel.clock import utcnow
from counsel.errors import NotPermitted
from counsel.extensions import db
from counsel.models.case import Case
from counsel.models.change_request import ChangeRequest
from counsel.models.safety import EmergencyAccess, Notification
from counsel.models.user import Role, User
from counsel.services import cases, two_person

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
JUSTIFICATION = "Sie hat angerufen, er steht vor der Tür; die Kollegin ist nicht erreichbar."


@pytest.fixture
def admin_adviser(make_user: Any) -> User:
    """The insider with two roles: an admin who also counsels."""
    user: User = make_user("doris", Role.ADMIN, Role.ADVISER, name="Doris Doppelrolle")
    return user


def waiting() -> list[ChangeRequest]:
    db.session.expire_all()
    return list(db.session.scalars(select(ChangeRequest).where(ChangeRequest.status == "pending")))


def notices_of(user: User) -> list[str]:
    return list(db.session.scalars(select(Notification.kind).where(Notification.user_id == user.id)))


def roles_form(user: User, *roles: str) -> dict[str, Any]:
    return {"display_name": user.display_name, "site_id": user.site_id, "roles": list(roles), "locale": "de"}


def one_time_password(response: Any) -> str:
    match = re.search(r'id="one-time-password">([^<]+)<', response.get_data(as_text=True))
    assert match, response.get_data(as_text=True)
    return match.group(1)


# --- roles -----------------------------------------------------------------------------------

def test_an_admin_cannot_give_herself_the_adviser_role(admin, signed_in):
    client = signed_in(admin)
    response = client.submit(f"/admin/users/{admin.id}", roles_form(admin, "admin", "adviser"))
    assert response.status_code == 400
    db.session.refresh(admin)
    assert admin.roles == {Role.ADMIN} and waiting() == []


def test_an_admin_cannot_move_herself_to_another_site_or_reset_her_own_second_factor(admin, signed_in, other_site):
    client = signed_in(admin)
    moved = client.submit(f"/admin/users/{admin.id}", {**roles_form(admin, "admin"), "site_id": other_site.id})
    assert moved.status_code == 400
    client.submit(f"/admin/users/{admin.id}/reset-totp")
    client.submit(f"/admin/users/{admin.id}/reset-password")
    db.session.refresh(admin)
    assert admin.site_id != other_site.id and waiting() == []
    # her name and language she may still change
    assert client.submit(f"/admin/users/{admin.id}", {**roles_form(admin, "admin"), "display_name": "Ada A."}
                         ).status_code == 302


def test_the_adviser_role_for_a_second_admin_waits_for_a_third_person(admin, make_user, signed_in, supervisor):
    friend = make_user("freya", Role.ADMIN, name="Freya Freundin")
    response = signed_in(admin).submit(f"/admin/users/{friend.id}", roles_form(friend, "admin", "adviser"))
    assert response.status_code == 302
    db.session.refresh(friend)
    assert friend.roles == {Role.ADMIN}
    (request,) = waiting()
    assert "request_opened" in notices_of(friend) and "request_opened" in notices_of(supervisor)
    assert request.role_set == {Role.ADVISER}
    # neither the requester nor the one who gains by it decides
    for insider in (admin, friend):
        signed_in(insider).submit(f"/requests/{request.id}/confirm")
        assert waiting() == [request]
    # the site's coordinator does
    assert signed_in(supervisor).submit(f"/requests/{request.id}/confirm").status_code == 302
    db.session.refresh(friend)
    assert friend.roles == {Role.ADMIN, Role.ADVISER} and waiting() == []
    assert "request_confirmed" in notices_of(friend)


@pytest.mark.parametrize("roles", [["admin"], ["supervisor"], ["adviser", "admin"]])
def test_an_admin_alone_cannot_make_herself_a_second_person(admin, adviser, colleague, site, open_case, signed_in,
                                                            new_client, roles):
    """The probe's puppet: a new admin or coordinator account, whose one-time password she holds, as decider."""
    case = open_case(adviser)
    created = signed_in(admin).submit("/admin/users/new", {"username": "puppet", "display_name": "Pia Puppe",
                                                           "site_id": site.id, "roles": roles, "locale": "de"})
    puppet = db.session.scalars(select(User).where(User.username == "puppet")).one()
    assert puppet.roles == set() and [r.kind for r in waiting()] == ["roles"]  # nothing until a second person
    signed_in(admin).submit("/admin/transfers", {"source": str(adviser.id), "case_ids": [str(case.id)],
                                                 "target": str(colleague.id)})
    puppet_client = new_client()
    assert puppet_client.sign_in("puppet", one_time_password(created)).status_code == 302
    changed = puppet_client.submit("/account/password", {"current": one_time_password(created),
                                                         "new": "violet lanterns over the harbour 93", "confirm":
                                                         "violet lanterns over the harbour 93"})
    assert changed.location == "/login?m=changed"
    assert puppet_client.sign_in("puppet", "violet lanterns over the harbour 93").status_code == 302
    assert puppet_client.get("/requests/").status_code == 403
    transfer = next(r for r in waiting() if r.kind == "transfer")
    assert puppet_client.submit(f"/requests/{transfer.id}/confirm").status_code == 403
    db.session.refresh(case)
    assert case.owner_id == adviser.id


def test_the_admin_role_for_an_existing_adviser_waits_too(admin, adviser, signed_in):
    signed_in(admin).submit(f"/admin/users/{adviser.id}", roles_form(adviser, "adviser", "admin"))
    db.session.refresh(adviser)
    assert adviser.roles == {Role.ADVISER} and [r.role_set for r in waiting()] == [{Role.ADMIN}]


def test_a_refused_request_changes_nothing_and_the_adviser_hears_of_it(admin, make_user, signed_in, second_person):
    friend = make_user("freya", Role.SUPERVISOR, name="Freya Freundin")
    signed_in(admin).submit(f"/admin/users/{friend.id}", roles_form(friend, "supervisor", "adviser"))
    assert second_person(decision="refuse").status_code == 302
    db.session.refresh(friend)
    assert friend.roles == {Role.SUPERVISOR} and waiting() == []
    assert "request_refused" in notices_of(friend)


# --- transfers -------------------------------------------------------------------------------

def test_an_admin_who_advises_cannot_hand_a_case_to_herself(admin_adviser, adviser, open_case, signed_in):
    case = open_case(adviser)
    client = signed_in(admin_adviser)
    response = client.submit("/admin/transfers", {"source": str(adviser.id), "case_ids": [str(case.id)],
                                                  "target": str(admin_adviser.id)})
    assert response.status_code == 400
    db.session.refresh(case)
    assert case.owner_id == adviser.id and waiting() == []
    assert client.get(f"/cases/{case.id}").status_code == 404


def test_a_handover_waits_for_a_second_person_and_both_advisers_are_told(admin, adviser, colleague, open_case,
                                                                          signed_in, supervisor):
    case = open_case(adviser)
    signed_in(admin).submit("/admin/transfers", {"source": str(adviser.id), "case_ids": [str(case.id)],
                                                 "target": str(colleague.id)})
    db.session.refresh(case)
    assert case.owner_id == adviser.id
    assert signed_in(colleague).get(f"/cases/{case.id}").status_code == 404
    assert "request_opened" in notices_of(adviser) and "request_opened" in notices_of(colleague)
    (request,) = waiting()
    # the receiving adviser may not confirm what she receives
    assert signed_in(colleague).get("/requests/").status_code == 403  # she is no admin or coordinator
    assert signed_in(colleague).submit(f"/requests/{request.id}/confirm").status_code == 403
    page = signed_in(supervisor).get("/requests/").get_data(as_text=True)
    assert case.number not in page and "Fatma" not in page  # counts and names of staff, never content
    assert signed_in(supervisor).submit(f"/requests/{request.id}/confirm").status_code == 302
    db.session.refresh(case)
    assert case.owner_id == colleague.id
    assert signed_in(colleague).get(f"/cases/{case.id}").status_code == 200


def test_a_coordinator_of_another_site_cannot_decide(admin, adviser, colleague, open_case, signed_in, make_user,
                                                     other_site):
    far = make_user("fiona", Role.SUPERVISOR, at=other_site)
    case = open_case(adviser)
    signed_in(admin).submit("/admin/transfers", {"source": str(adviser.id), "case_ids": [str(case.id)],
                                                 "target": str(colleague.id)})
    (request,) = waiting()
    assert str(request.id) not in signed_in(far).get("/requests/").get_data(as_text=True)
    signed_in(far).submit(f"/requests/{request.id}/confirm")
    assert waiting() == [request]


# --- second factor and password --------------------------------------------------------------

def test_the_admin_who_resets_a_password_never_gets_past_her_second_factor(admin, make_user, signed_in,
                                                                            new_client):
    victim = make_user("vera", Role.ADVISER, totp_secret=SECRET)
    response = signed_in(admin).submit(f"/admin/users/{victim.id}/reset-password")
    password = one_time_password(response)  # at once: her second factor still guards her
    attacker = new_client()
    assert attacker.sign_in("vera", password).location == "/login/totp"
    assert attacker.get("/cases/").status_code == 302  # nothing without her code
    # removing the factor is a request that the same admin cannot complete alone
    signed_in(admin).submit(f"/admin/users/{victim.id}/reset-totp")
    (request,) = waiting()
    signed_in(admin).submit(f"/requests/{request.id}/confirm")
    db.session.refresh(victim)
    assert victim.totp_enabled


def test_a_password_reset_of_someone_without_a_second_factor_is_a_request_and_she_is_told(
        admin, adviser, signed_in, new_client, second_person):
    before = adviser.password_hash
    response = signed_in(admin).submit(f"/admin/users/{adviser.id}/reset-password")
    assert response.status_code == 302 and "one-time-password" not in response.get_data(as_text=True)
    db.session.refresh(adviser)
    assert adviser.password_hash == before
    password = one_time_password(second_person())
    berta = new_client()
    assert berta.sign_in("berta", password).status_code == 302
    page = berta.get("/account/password").get_data(as_text=True)
    assert "Ada Admin" in page  # who reset it, shown at her next sign-in


def test_the_operator_confirms_on_the_server_where_there_is_no_second_admin(app: Flask, admin, adviser,
                                                                             signed_in, open_case, colleague):
    case = open_case(adviser)
    signed_in(admin).submit("/admin/transfers", {"source": str(adviser.id), "case_ids": [str(case.id)],
                                                 "target": str(colleague.id)})
    (request,) = waiting()
    listed: Result = app.test_cli_runner().invoke(cli, ["requests", "list"], catch_exceptions=False)
    assert str(request.id) in listed.output and "transfer" in listed.output
    done = app.test_cli_runner().invoke(cli, ["requests", "confirm", str(request.id)], catch_exceptions=False)
    assert done.exit_code == 0, done.output
    db.session.expire_all()
    assert db.session.get(Case, case.id).owner_id == colleague.id  # type: ignore[union-attr]
    assert db.session.get(ChangeRequest, request.id).decided_by_name == "(command line)"  # type: ignore[union-attr]


# --- emergency access ------------------------------------------------------------------------

def emergency(client: Any, case: Case) -> Any:
    return client.submit("/cases/emergency", {"number": case.number, "justification": JUSTIFICATION})


def test_a_second_open_emergency_access_waits_for_a_coordinator(adviser, colleague, open_case, signed_in,
                                                                 supervisor):
    first, second = open_case(adviser), open_case(adviser, name="Selam Tesfay")
    carla = signed_in(colleague)
    assert emergency(carla, first).location == f"/cases/{first.id}"
    assert emergency(carla, second).location == "/"
    assert carla.get(f"/cases/{second.id}").status_code == 404  # not yet
    (request,) = waiting()
    assert request.kind == "emergency"
    assert signed_in(supervisor).submit(f"/requests/{request.id}/confirm").status_code == 302
    assert carla.get(f"/cases/{second.id}").status_code == 200


def test_the_fourth_emergency_access_in_thirty_days_waits_too(adviser, colleague, open_case, signed_in):
    carla = signed_in(colleague)
    opened = [open_case(adviser, name=f"Klientin {n}") for n in range(4)]
    for case in opened[:3]:
        assert emergency(carla, case).location == f"/cases/{case.id}"
        grant = db.session.scalars(select(EmergencyAccess).where(EmergencyAccess.case_id == case.id)).one()
        began = grant.granted_at
        grant.granted_at, grant.expires_at = began - timedelta(hours=2), began - timedelta(hours=1)
        db.session.commit()  # over already: not open any more, but one of the three in 30 days
    assert emergency(carla, opened[3]).location == "/"
    assert carla.get(f"/cases/{opened[3].id}").status_code == 404


@pytest.mark.parametrize("method, path, data", [
    ("GET", "edit", None),
    ("POST", "close", {}),
    ("GET", "export", None),
    ("GET", "export.json", None),
    ("GET", "sharing", None),
    ("POST", "consents", {"purpose": "statistics", "given_on": "2026-12-01", "form": "oral", "form_version": ""}),
    ("POST", "disclosures", {"recipient": "Frauenhaus", "purpose": "referral"}),
    ("POST", "perpetrators/new", {"name": "Er"}),
])
def test_emergency_access_never_shares_exports_consents_passes_on_or_edits(adviser, colleague, open_case,
                                                                            signed_in, method, path, data):
    case = open_case(adviser)
    carla = signed_in(colleague)
    emergency(carla, case)
    url = f"/cases/{case.id}/{path}"
    response = carla.get(url) if method == "GET" else carla.submit(url, data)
    assert response.status_code == 404
    db.session.refresh(case)
    assert case.status == "open"


def test_emergency_access_reads_and_records(adviser, colleague, open_case, signed_in):
    case = open_case(adviser)
    carla = signed_in(colleague)
    emergency(carla, case)
    assert carla.get(f"/cases/{case.id}").status_code == 200
    for page in ("consultations/new", "risk", "safety-plan", "consents", "disclosures"):
        assert carla.get(f"/cases/{case.id}/{page}").status_code == 200, page


# --- the services refuse the wrong actor, whichever view calls them ---------------------------

def test_only_the_holder_shares_even_when_a_service_is_called_directly(adviser, colleague, admin, make_user,
                                                                        open_case):
    case = open_case(adviser)
    cases.share(adviser, case, colleague, "Urlaubsvertretung", None)
    db.session.commit()
    third = make_user("tara", Role.ADVISER, name="Tara Dritte")
    for wrong in (colleague, admin):  # the colleague it is shared with, and an admin
        with pytest.raises(NotPermitted):
            cases.share(wrong, case, third, "Weitergabe", None)
        with pytest.raises(NotPermitted):
            cases.revoke_share(wrong, case, case.shares[0])
    db.session.rollback()
    assert [share.user_id for share in db.session.get(Case, case.id).shares] == [colleague.id]  # type: ignore[union-attr]


def test_a_transfer_is_made_by_an_admin_and_never_to_herself(adviser, colleague, admin_adviser, open_case):
    case = open_case(adviser)
    with pytest.raises(NotPermitted):
        cases.transfer(colleague, [case], colleague)  # an adviser taking a case
    with pytest.raises(NotPermitted):
        cases.transfer(admin_adviser, [case], admin_adviser)  # an admin giving it to herself
    db.session.rollback()
    assert db.session.get(Case, case.id).owner_id == adviser.id  # type: ignore[union-attr]


def test_nobody_confirms_her_own_request_through_the_service(app, admin, adviser, colleague, open_case):
    case = open_case(adviser)
    request = two_person.request_transfer(admin, adviser, [case], colleague)
    db.session.commit()
    for insider in (admin, colleague, adviser):  # who asked, who would receive, whose cases
        with pytest.raises(two_person.RequestError):
            two_person.confirm(insider, request, app.config["COUNSEL"])
    assert request.pending


def test_a_new_account_asks_a_coordinator_before_any_emergency_access(adviser, colleague, open_case, signed_in):
    """The probe's second puppet: fresh adviser accounts, each with its own allowance of emergencies."""
    colleague.created_at = utcnow() - timedelta(days=2)
    db.session.commit()
    case = open_case(adviser)
    carla = signed_in(colleague)
    assert emergency(carla, case).location == "/"
    assert carla.get(f"/cases/{case.id}").status_code == 404
    assert [r.kind for r in waiting()] == ["emergency"]


def test_a_factor_reset_is_not_carried_out_while_her_password_is_a_one_time_password(admin, make_user, signed_in,
                                                                                      second_person):
    """The probe: reset her password (at once: her factor guards her), then have a colleague remove the factor."""
    victim = make_user("vera", Role.ADVISER, totp_secret=SECRET)
    signed_in(admin).submit(f"/admin/users/{victim.id}/reset-password")
    signed_in(admin).submit(f"/admin/users/{victim.id}/reset-totp")
    second_person()
    db.session.refresh(victim)
    assert victim.totp_enabled and [r.kind for r in waiting()] == ["reset_totp"]


def test_an_emergency_request_is_not_approved_once_she_has_left_the_site(adviser, colleague, admin, open_case,
                                                                         signed_in, supervisor, other_site):
    first, second = open_case(adviser), open_case(adviser, name="Selam Tesfay")
    carla = signed_in(colleague)
    emergency(carla, first)
    emergency(carla, second)
    signed_in(admin).submit(f"/admin/users/{colleague.id}", {**roles_form(colleague, "adviser"),
                                                             "site_id": other_site.id})
    (request,) = waiting()
    signed_in(supervisor).submit(f"/requests/{request.id}/confirm")
    assert waiting() == [request]
    assert signed_in(colleague).get(f"/cases/{second.id}").status_code == 404


@pytest.mark.parametrize("kind", ["roles", "transfer", "reset_totp", "reset_password", "emergency"])
def test_every_kind_of_request_reads_well_on_the_messages_and_requests_pages(kind, admin, adviser, colleague,
                                                                              supervisor, make_user, open_case,
                                                                              signed_in):
    case = open_case(adviser)
    if kind == "roles":
        signed_in(admin).submit(f"/admin/users/{adviser.id}", roles_form(adviser, "adviser", "supervisor"))
    elif kind == "transfer":
        signed_in(admin).submit("/admin/transfers", {"source": str(adviser.id), "case_ids": [str(case.id)],
                                                     "target": str(colleague.id)})
    elif kind == "reset_totp":
        signed_in(admin).submit(f"/admin/users/{adviser.id}/reset-totp")
    elif kind == "reset_password":
        signed_in(admin).submit(f"/admin/users/{adviser.id}/reset-password")
    else:
        other = open_case(adviser, name="Selam Tesfay")
        carla = signed_in(colleague)
        emergency(carla, case)
        emergency(carla, other)
    (request,) = waiting()
    readers = [(supervisor, "/notifications"), (supervisor, "/requests/")]
    if kind != "emergency":  # there she is the one who asked, and is not told of her own request
        readers.append((adviser, "/notifications"))
    for reader, page in readers:
        body = signed_in(reader).get(page).get_data(as_text=True)
        shown = body.split('<main id="main">')[1]
        assert "Fatma" not in shown and "He reads her phone" not in shown  # never content
        assert ("Berta" in shown or "Carla" in shown), (reader.username, page)
    assert f'id="request-{request.id}"' in signed_in(supervisor).get("/requests/").get_data(as_text=True)
