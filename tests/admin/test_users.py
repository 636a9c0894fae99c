"""Administration of accounts and sites: who may, what it does, what it refuses."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import select, text, update
from sqlalchemy.exc import OperationalError

from counsel.audit import OPERATOR
from counsel.clock import utcnow
from counsel.errors import NotPermitted
from counsel.extensions import db
from counsel.models.audit import AuditEvent
from counsel.models.change_request import ChangeRequest
from counsel.models.site import Site
from counsel.models.user import Role, User
from counsel.services import accounts
from tests.conftest import ON_POSTGRES
from tests.test_security import concrete_urls


def admin_urls(app):
    return [(e, m, u) for e, m, u in concrete_urls(app) if e.startswith("admin.")]


@pytest.mark.parametrize("role", [Role.ADVISER, Role.SUPERVISOR])
def test_non_admins_are_refused_on_every_admin_page(app, make_user, signed_in, role):
    client = signed_in(make_user("nonadmin", role))
    token = client.csrf_token()
    urls = admin_urls(app)
    assert len(urls) >= 10
    for endpoint, method, url in urls:
        response = client.open(url, method=method, data={"csrf_token": token, "roles": ["admin"]})
        assert response.status_code == 403, (endpoint, method, response.status_code)
    db.session.refresh(db.session.scalars(select(User).where(User.username == "nonadmin")).one())
    assert db.session.scalars(select(User).where(User.username == "nonadmin")).one().roles == {role}


def create_account(client, **fields):
    site = db.session.scalars(select(Site)).first()
    data = {"username": "neu", "display_name": "Nora Neu", "site_id": site.id, "roles": ["adviser"], "locale": "de"}
    data.update(fields)
    return client.submit("/admin/users/new", data)


def test_admin_creates_an_account_with_a_one_time_password(admin, signed_in, new_client):
    client = signed_in(admin)
    response = create_account(client)
    assert response.status_code == 200
    password = re.search(r'id="one-time-password">([^<]+)<', response.get_data(as_text=True)).group(1)
    user = db.session.scalars(select(User).where(User.username == "neu")).one()
    assert user.roles == {Role.ADVISER} and user.must_change_password
    newcomer = new_client()
    assert newcomer.sign_in("neu", password).status_code == 302
    response = newcomer.get("/")
    assert response.status_code == 302 and response.location == "/account/password"


def test_account_creation_reports_bad_input_and_keeps_it(admin, signed_in):
    client = signed_in(admin)
    response = create_account(client, username="Bad Name!")
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert 'value="Nora Neu"' in body  # nothing typed is lost
    assert db.session.scalars(select(User).where(User.display_name == "Nora Neu")).first() is None


def test_duplicate_user_name_is_refused(admin, adviser, signed_in):
    response = create_account(signed_in(admin), username="berta")
    assert response.status_code == 200 and "one-time-password" not in response.get_data(as_text=True)


def test_role_change_asks_for_the_password_again_after_a_while(admin, adviser, signed_in, settings):
    client = signed_in(admin)
    later = utcnow() + timedelta(minutes=settings.reauth_minutes + 1)
    data = {"display_name": "Berta", "site_id": adviser.site_id, "roles": ["adviser", "supervisor"], "locale": "de",
            "next": f"/admin/users/{adviser.id}"}
    with time_machine.travel(later, tick=False):
        response = client.submit(f"/admin/users/{adviser.id}", data)
        assert response.status_code == 302 and response.location.startswith("/reauth")
        db.session.refresh(adviser)
        assert adviser.roles == {Role.ADVISER}
        wrong = client.submit("/reauth", {"password": "not my password", "next": f"/admin/users/{adviser.id}"})
        assert wrong.status_code == 200
        ok = client.submit("/reauth", {"password": "correct horse battery staple 42",
                                       "next": f"/admin/users/{adviser.id}"})
        assert ok.location == f"/admin/users/{adviser.id}"
        assert client.submit(f"/admin/users/{adviser.id}", data).status_code == 302
        db.session.refresh(adviser)
        assert adviser.roles == {Role.ADVISER}  # the coordinator role waits for a second person
        asked = db.session.scalars(select(ChangeRequest)).one()
        assert asked.role_set == {Role.SUPERVISOR} and asked.requested_by_id == admin.id


def test_role_change_is_audited(admin, adviser, signed_in):
    client = signed_in(admin)
    client.submit(f"/admin/users/{adviser.id}", {"display_name": "Berta", "site_id": adviser.site_id,
                                                 "roles": ["supervisor"], "locale": "de"})
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "user_changed")).one()
    assert event.actor_id == admin.id and event.target_user_id == adviser.id
    assert event.detail == "roles=adviser->"  # the adviser role ends now; the coordinator role is asked for
    asked = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "request_opened")).one()
    assert asked.actor_id == admin.id and asked.target_user_id == adviser.id and asked.detail.startswith("roles ")


def test_an_admin_moves_an_account_to_another_site(admin, adviser, signed_in):
    other_site = Site(code="DU", name="Düsseldorf", active=True)
    db.session.add(other_site)
    db.session.commit()
    response = signed_in(admin).submit(f"/admin/users/{adviser.id}", {
        "display_name": adviser.display_name, "site_id": other_site.id, "roles": ["adviser"], "locale": "de"})
    assert response.status_code == 302
    db.session.refresh(adviser)
    assert adviser.site.code == "DU" and adviser.roles == {Role.ADVISER}
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "user_changed")).one()
    assert event.actor_id == admin.id and event.target_user_id == adviser.id
    assert event.detail == "site=DO->DU"


def test_fields_a_form_does_not_offer_change_nothing(admin, adviser, signed_in, make_user):
    other_site = Site(code="DU", name="Düsseldorf")
    db.session.add(other_site)
    db.session.commit()
    client = signed_in(adviser)
    client.submit("/account/", {"locale": "en", "role": "admin", "roles": ["admin"], "site": "DU",
                                "site_id": other_site.id, "owner": str(admin.id), "username": "hacked"})
    db.session.refresh(adviser)
    assert adviser.locale == "en"
    assert adviser.roles == {Role.ADVISER} and adviser.site.code == "DO" and adviser.username == "berta"
    admin_client = signed_in(admin)
    admin_client.submit(f"/admin/users/{adviser.id}", {"display_name": "Berta", "site_id": adviser.site_id,
                                                       "roles": ["adviser"], "locale": "de", "username": "renamed",
                                                       "active": "0", "password_hash": "x"})
    db.session.refresh(adviser)
    assert adviser.username == "berta" and adviser.active and adviser.password_hash != "x"


def test_the_last_active_admin_cannot_be_removed(admin, signed_in):
    client = signed_in(admin)
    response = client.submit(f"/admin/users/{admin.id}/deactivate", {"next": f"/admin/users/{admin.id}"})
    assert response.status_code == 302
    db.session.refresh(admin)
    assert admin.active
    client.submit(f"/admin/users/{admin.id}", {"display_name": "Ada", "site_id": admin.site_id,
                                               "roles": ["adviser"], "locale": "de"})
    db.session.refresh(admin)
    assert Role.ADMIN in admin.roles


def test_a_second_admin_makes_removal_possible(admin, make_user, signed_in):
    second = make_user("zweite", Role.ADMIN)
    client = signed_in(admin)
    client.submit(f"/admin/users/{second.id}/deactivate", {"next": "/"})
    db.session.refresh(second)
    assert not second.active and second.deactivated_at is not None


def test_two_admins_removed_at_the_same_moment_leave_one(admin, make_user, monkeypatch):
    """The rule holds against a concurrent request that deactivates the other admin mid-way."""
    second = make_user("zweite", Role.ADMIN)
    first_id = admin.id  # read now: loading it mid-change would flush this request's change early
    end_sessions = accounts.end_user_sessions
    other_committed = []

    def meanwhile_the_other_admin_is_deactivated(user_id):
        with db.engine.connect() as other_request:
            if ON_POSTGRES:  # the admin rows are locked: the other request has to wait
                other_request.execute(text("SET lock_timeout = '300ms'"))
            try:
                other_request.execute(update(User.__table__).where(User.__table__.c.id == first_id)
                                      .values(active=False))
                other_request.commit()
                other_committed.append(True)
            except OperationalError:
                other_request.rollback()
        end_sessions(user_id)

    monkeypatch.setattr(accounts, "end_user_sessions", meanwhile_the_other_admin_is_deactivated)
    if ON_POSTGRES:
        accounts.deactivate(second, actor=OPERATOR)  # the other request waited for this one and gave up
        db.session.commit()
        assert other_committed == []
    else:
        with pytest.raises(NotPermitted):  # the other request committed first, and the rule counts after it
            accounts.deactivate(second, actor=OPERATOR)
        assert other_committed == [True]
    assert accounts.active_admin_count() == 1


def test_deactivated_accounts_are_kept_and_can_be_listed(admin, adviser, signed_in):
    client = signed_in(admin)
    client.submit(f"/admin/users/{adviser.id}/deactivate")
    assert db.session.get(User, adviser.id) is not None
    assert "berta" not in client.get("/admin/users").get_data(as_text=True)
    assert "berta" in client.get("/admin/users?status=inactive").get_data(as_text=True)
    client.submit(f"/admin/users/{adviser.id}/reactivate")
    db.session.refresh(adviser)
    assert adviser.active


def test_password_reset_forces_a_change_and_ends_sessions(admin, adviser, signed_in, new_client, second_person):
    victim_session = signed_in(adviser)
    client = signed_in(admin)
    assert client.submit(f"/admin/users/{adviser.id}/reset-password").status_code == 302  # no second factor: asked
    assert victim_session.get("/").status_code == 200
    response = second_person()
    password = re.search(r'id="one-time-password">([^<]+)<', response.get_data(as_text=True)).group(1)
    assert victim_session.get("/").status_code == 302
    fresh = new_client()
    assert fresh.sign_in("berta").status_code == 401  # the old password is gone
    assert fresh.sign_in("berta", password).status_code == 302
    assert fresh.get("/").location == "/account/password"


def test_totp_reset_removes_the_second_factor_once_confirmed(admin, make_user, signed_in, second_person):
    user = make_user("mitcode", totp_secret="JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")
    client = signed_in(admin)
    client.submit(f"/admin/users/{user.id}/reset-totp")
    db.session.refresh(user)
    assert user.totp_enabled  # asked for, not done
    assert second_person().status_code == 302
    db.session.refresh(user)
    assert not user.totp_enabled and user.totp_secret is None


def test_user_list_filters_by_site_and_role(admin, adviser, supervisor, signed_in):
    client = signed_in(admin)
    body = client.get("/admin/users?role=supervisor&status=all").get_data(as_text=True)
    assert "sven" in body and "berta" not in body


def test_sites_are_created_and_renamed(admin, signed_in):
    client = signed_in(admin)
    assert client.submit("/admin/sites", {"code": "ms", "name": "Mönchengladbach"}).status_code == 302
    site = db.session.scalars(select(Site).where(Site.code == "MS")).one()
    bad = client.submit("/admin/sites", {"code": "M1", "name": "x"})
    assert bad.status_code == 400
    duplicate = client.submit("/admin/sites", {"code": "MS", "name": "again"})
    assert duplicate.status_code == 400
    client.submit(f"/admin/sites/{site.id}", {"name": "Mönchengladbach-Rheydt", "active": "y"})
    db.session.refresh(site)
    assert site.name == "Mönchengladbach-Rheydt" and site.active
