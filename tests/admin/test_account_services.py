"""The account and site services check the actor and write their own trail, whoever calls them.

Called directly, as a new page or script would, each refuses what access.py refuses, leaves the
account as it was, and writes each event once (the views and the CLI no longer write them).
"""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import Result
from sqlalchemy import select

from counsel.audit import OPERATOR
from counsel.cli import cli
from counsel.errors import NotPermitted
from counsel.extensions import db
from counsel.models.audit import AuditEvent
from counsel.models.change_request import ChangeRequest
from counsel.models.user import Role, User
from counsel.services import accounts, two_person
from tests.conftest import totp_now

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def events(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)))


def keep(user: User) -> None:
    user.display_name = user.display_name  # the profile itself, unchanged
    db.session.flush()


@pytest.fixture
def people(make_user: Any, admin: User) -> dict[str, User]:
    return {"admin": admin, "adviser": make_user("berta", Role.ADVISER),
            "coordinator": make_user("sina", Role.SUPERVISOR),
            "guarded": make_user("gabi", Role.ADVISER, totp_secret=SECRET)}


def test_only_admins_create_accounts_and_sites(app, people, site):
    for who in ("adviser", "coordinator"):
        with pytest.raises(NotPermitted):
            accounts.create_user(app.config["COUNSEL"], username="neu", display_name="Neu", site=site,
                                 roles={Role.ADVISER}, actor=people[who])
        with pytest.raises(NotPermitted):
            accounts.create_site("XY", "Irgendwo", actor=people[who])
        db.session.rollback()
    assert db.session.scalars(select(User).where(User.username == "neu")).first() is None


def test_an_admin_changes_nothing_of_her_own_access_but_her_name(people, site):
    admin = people["admin"]
    with pytest.raises(NotPermitted):
        accounts.update_user(admin, display_name=admin.display_name, site=site, roles={Role.ADMIN, Role.ADVISER},
                             locale="de", actor=admin)
    db.session.rollback()
    with pytest.raises(NotPermitted):
        accounts.deactivate(admin, actor=admin)
    db.session.rollback()
    accounts.update_user(admin, display_name="Anna Admin", site=site, roles={Role.ADMIN}, locale="en", actor=admin)
    db.session.commit()
    assert (admin.roles, admin.display_name, admin.active) == ({Role.ADMIN}, "Anna Admin", True)


def test_roles_that_wait_for_a_second_person_are_never_given_alone(app, people, site):
    coordinator = people["coordinator"]
    for roles in ({Role.SUPERVISOR, Role.ADVISER}, {Role.SUPERVISOR, Role.ADMIN}):
        with pytest.raises(NotPermitted):
            accounts.update_user(coordinator, display_name="Sina", site=site, roles=roles, locale="de",
                                 actor=people["admin"])
        db.session.rollback()
    with pytest.raises(NotPermitted):
        accounts.create_user(app.config["COUNSEL"], username="zweite", display_name="Zweite", site=site,
                             roles={Role.ADMIN}, actor=people["admin"])
    db.session.rollback()
    assert db.session.get(User, coordinator.id).roles == {Role.SUPERVISOR}  # type: ignore[union-attr]


def test_a_second_factor_or_an_unguarded_password_is_never_reset_alone(app, people):
    settings = app.config["COUNSEL"]
    with pytest.raises(NotPermitted):
        accounts.reset_totp(people["guarded"], actor=people["admin"])
    db.session.rollback()
    with pytest.raises(NotPermitted):
        accounts.reset_password(people["adviser"], settings, actor=people["admin"])  # no second factor guards her
    db.session.rollback()
    assert db.session.get(User, people["guarded"].id).totp_enabled  # type: ignore[union-attr]
    assert not db.session.get(User, people["adviser"].id).must_change_password  # type: ignore[union-attr]
    accounts.reset_password(people["guarded"], settings, actor=people["admin"])  # her factor still guards her
    db.session.commit()
    assert [e.actor_id for e in events("password_reset")] == [people["admin"].id]


def test_a_pending_request_carries_no_authority(app, people, site):
    asked = two_person.request_roles(people["admin"], people["coordinator"], {Role.ADVISER})
    db.session.commit()
    with pytest.raises(NotPermitted):
        accounts.update_user(people["coordinator"], display_name="Sina", site=site,
                             roles={Role.SUPERVISOR, Role.ADVISER}, locale="de", actor=people["admin"], confirmed=asked)
    db.session.rollback()
    assert db.session.get(ChangeRequest, asked.id).pending  # type: ignore[union-attr]


def test_the_services_ask_for_requests_only_from_admins(people):
    for who in ("adviser", "coordinator"):
        with pytest.raises(NotPermitted):
            two_person.request_totp_reset(people[who], people["guarded"])
        with pytest.raises(NotPermitted):
            two_person.request_roles(people[who], people["adviser"], {Role.ADMIN})
        db.session.rollback()
    assert not db.session.scalars(select(ChangeRequest)).all()


def test_each_change_over_http_is_on_the_trail_once(people, signed_in, site):
    client = signed_in(people["admin"])
    client.submit("/admin/users/new", {"username": "neue", "display_name": "Neue", "site_id": site.id,
                                       "roles": ["adviser"], "locale": "de"})
    new = db.session.scalars(select(User).where(User.username == "neue")).one()
    client.submit(f"/admin/users/{new.id}", {"display_name": "Neue", "site_id": site.id, "roles": ["adviser"],
                                             "supervised_sites": [], "locale": "en"})
    client.submit(f"/admin/users/{new.id}/deactivate")
    client.submit(f"/admin/users/{new.id}/reactivate")
    client.submit("/admin/sites", {"code": "BO", "name": "Bochum"})
    bochum = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "site_created")
                                .order_by(AuditEvent.seq.desc())).first()
    assert bochum is not None and bochum.detail == "BO" and bochum.actor_id == people["admin"].id
    for action in ("deactivate", "reactivate"):
        assert [(e.actor_id, e.target_user_id) for e in events(action)] == [(people["admin"].id, new.id)]
    assert [e.detail for e in events("user_created") if e.target_user_id == new.id] == ["roles=adviser"]
    assert not [e for e in events("user_changed") if e.target_user_id == new.id]  # a language is no access


def test_a_site_renamed_and_closed_is_on_the_trail_with_what_changed(people, signed_in, site):
    client = signed_in(people["admin"])
    assert client.submit(f"/admin/sites/{site.id}", {"name": "Dortmund Nord"}).status_code == 302
    assert [e.detail for e in events("site_changed")] == ["DO name=Dortmund->Dortmund Nord; active=True->False"]
    refused = client.submit(f"/admin/sites/{site.id}", {"name": "  ", "active": "y"})
    assert refused.status_code == 400 and len(events("site_changed")) == 1


def run(app: Any, *args: str, stdin: str | None = None) -> Result:
    return app.test_cli_runner().invoke(cli, list(args), input=stdin)


def test_the_command_line_writes_each_event_once_under_the_operator(app, people):
    assert run(app, "sites", "create", "HA", "Hamm").exit_code == 0
    assert run(app, "users", "create", "hanna", "--role", "adviser", "--site", "HA").exit_code == 0
    assert run(app, "users", "reset-password", "hanna").exit_code == 0
    hanna = db.session.scalars(select(User).where(User.username == "hanna")).one()
    assert [(e.actor_name, e.actor_id) for e in events("site_created") if e.detail == "HA"] == [(OPERATOR, None)]
    for action in ("user_created", "password_reset"):
        made = [e for e in events(action) if e.target_user_id == hanna.id]
        assert [(e.actor_name, e.actor_id) for e in made] == [(OPERATOR, None)], action
    # she is told at her next sign-in who reset her password
    assert [notice.by for notice in two_person.password_resets_since(hanna, None)] == [OPERATOR]


def test_a_guarded_reset_still_needs_her_factor(app, people, new_client):
    """An admin's immediate reset (her factor guards her) lets nobody in with the one-time password alone."""
    one_time = accounts.reset_password(people["guarded"], app.config["COUNSEL"], actor=people["admin"])
    db.session.commit()
    client = new_client()
    response = client.sign_in("gabi", one_time)
    assert response.status_code == 302 and "/login/totp" in response.location
    assert client.get("/cases/").status_code == 302  # not in without the code
    assert client.submit("/login/totp", {"code": totp_now(SECRET)}).status_code == 302
    assert client.get("/account/password").status_code == 200  # in, and her first duty is a password of her own


def test_a_confirmed_request_carries_out_only_what_it_asked_for(app, people, site, second_person):
    """A confirmed second-factor reset is no authority to give roles; a confirmed role request gives only its roles."""
    guarded, coordinator, admin = people["guarded"], people["coordinator"], people["admin"]
    reset = two_person.request_totp_reset(admin, guarded)
    db.session.commit()
    assert second_person().status_code == 302
    with pytest.raises(NotPermitted):
        accounts.update_user(guarded, display_name="Gabi", site=site, roles={Role.ADVISER, Role.ADMIN},
                             locale="de", actor=admin, confirmed=reset)
    db.session.rollback()
    asked = two_person.request_roles(admin, coordinator, {Role.ADVISER})
    db.session.commit()
    assert second_person().status_code == 302
    with pytest.raises(NotPermitted):
        accounts.update_user(coordinator, display_name="Sina", site=site,
                             roles={Role.SUPERVISOR, Role.ADVISER, Role.ADMIN}, locale="de", actor=admin,
                             confirmed=asked)
    db.session.rollback()
    assert db.session.get(User, coordinator.id).roles == {Role.SUPERVISOR, Role.ADVISER}  # type: ignore[union-attr]
