"""Access ends with its reason: a share ends when either adviser leaves the site, the adviser role or the service.

Each attack is what happened in the probe of issue 11: a colleague moved to another site kept
reading the case, in her old session and in new ones.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from counsel.extensions import db
from counsel.models.audit import AuditEvent
from counsel.models.case import CaseShare
from counsel.models.user import Role
from counsel.services import cases


@pytest.fixture
def shared(adviser, colleague, open_case):
    """Berta's case, shared with Carla."""
    case = open_case(adviser)
    cases.share(adviser, case, colleague, "Urlaubsvertretung", None)
    db.session.commit()
    return case


def save_account(admin_client, user, **changes):
    """Save an account on the admin page, as an admin would, changing only the given fields."""
    data = {"display_name": user.display_name, "site_id": user.site_id, "roles": [r.value for r in user.roles],
            "locale": user.locale, **changes}
    response = admin_client.submit(f"/admin/users/{user.id}", data)
    assert response.status_code == 302, response.get_data(as_text=True)


def ended(response) -> bool:
    """The session was ended: the case page sends her to sign in again."""
    return response.status_code == 302 and response.location.startswith("/login")


def share_row(owner_client, case, name) -> str:
    page = owner_client.get(f"/cases/{case.id}/sharing").get_data(as_text=True)
    return next(row for row in page.split("<tr") if name in row)


def assert_share_ended(owner_client, case, colleague, reason):
    """The owner sees the share as ended on her sharing page, and why on "who has seen this case"."""
    row = share_row(owner_client, case, colleague.display_name)
    assert "/revoke" not in row and "beendet" in row  # no "End access" button: it is over
    assert db.session.scalars(select(CaseShare)).one().revoked_at is not None
    log = owner_client.get(f"/cases/{case.id}/access-log").get_data(as_text=True)
    assert re.search(rf"Freigabe durch eine Änderung des Kontos beendet</td><td>reason={reason} ", log)


def test_a_colleague_moved_to_another_site_loses_her_session_and_the_case(adviser, colleague, admin, other_site,
                                                                          shared, signed_in):
    old_session = signed_in(colleague)
    assert old_session.get(f"/cases/{shared.id}").status_code == 200
    save_account(signed_in(admin), colleague, site_id=other_site.id)
    assert ended(old_session.get(f"/cases/{shared.id}"))
    new_session = signed_in(colleague)
    assert new_session.get(f"/cases/{shared.id}").status_code == 404
    assert shared.number not in new_session.get("/cases/?status=all").get_data(as_text=True)
    assert_share_ended(signed_in(adviser), shared, colleague, "site_changed")


def test_the_owner_moved_ends_the_shares_she_gave(adviser, colleague, admin, other_site, shared, signed_in):
    owner_session = signed_in(adviser)
    colleague_session = signed_in(colleague)
    save_account(signed_in(admin), adviser, site_id=other_site.id)
    assert ended(owner_session.get(f"/cases/{shared.id}"))
    assert colleague_session.get(f"/cases/{shared.id}").status_code == 404
    assert_share_ended(signed_in(adviser), shared, colleague, "site_changed")


def test_losing_the_adviser_role_ends_her_sessions_and_shares(adviser, colleague, admin, shared, signed_in):
    old_session = signed_in(colleague)
    save_account(signed_in(admin), colleague, roles=[Role.SUPERVISOR.value])
    assert ended(old_session.get(f"/cases/{shared.id}"))
    assert signed_in(colleague).get(f"/cases/{shared.id}").status_code == 403  # a supervisor reads no case
    assert_share_ended(signed_in(adviser), shared, colleague, "adviser_role_removed")


def test_a_deactivated_colleague_reactivated_later_finds_the_share_ended(adviser, colleague, admin, shared,
                                                                        signed_in):
    admin_client = signed_in(admin)
    assert admin_client.submit(f"/admin/users/{colleague.id}/deactivate").status_code == 302
    assert admin_client.submit(f"/admin/users/{colleague.id}/reactivate").status_code == 302
    assert signed_in(colleague).get(f"/cases/{shared.id}").status_code == 404
    assert_share_ended(signed_in(adviser), shared, colleague, "deactivated")


def test_a_deactivated_owner_ends_the_shares_she_gave(adviser, colleague, admin, shared, signed_in):
    colleague_session = signed_in(colleague)
    assert signed_in(admin).submit(f"/admin/users/{adviser.id}/deactivate").status_code == 302
    assert colleague_session.get(f"/cases/{shared.id}").status_code == 404
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "share_ended")).one()
    assert event.case_id == shared.id and event.target_user_id == colleague.id
    assert event.detail == "reason=deactivated person=berta"


def test_a_new_name_or_language_ends_neither_sessions_nor_shares(adviser, colleague, admin, shared, signed_in):
    colleague_session = signed_in(colleague)
    owner_session = signed_in(adviser)
    admin_client = signed_in(admin)
    save_account(admin_client, colleague, display_name="Carla K.", locale="en")
    save_account(admin_client, adviser, display_name="Berta B.")
    assert colleague_session.get(f"/cases/{shared.id}").status_code == 200
    assert owner_session.get(f"/cases/{shared.id}/sharing").status_code == 200
    assert db.session.scalars(select(CaseShare)).one().revoked_at is None
    assert not db.session.scalars(select(AuditEvent).where(AuditEvent.action == "share_ended")).all()


def test_a_share_that_ran_out_keeps_its_end_date(adviser, colleague, admin, other_site, open_case, signed_in):
    """Only running shares are ended; one that expired keeps showing when it ran out, not a revocation."""
    case = open_case(adviser)
    grant = cases.share(adviser, case, colleague, "Urlaubsvertretung", None)
    grant.expires_on = cases.today().replace(year=2020)
    db.session.commit()
    save_account(signed_in(admin), colleague, site_id=other_site.id)
    assert db.session.scalars(select(CaseShare)).one().revoked_at is None


@pytest.mark.parametrize("change", ["moved", "deactivated and reactivated"])
def test_her_running_emergency_access_ends_with_its_reason_too(adviser, colleague, admin, other_site, open_case,
                                                               signed_in, change):
    case = open_case(adviser)
    carla = signed_in(colleague)
    justification = "Sie ist in akuter Gefahr, Berta ist nicht erreichbar."
    opened = carla.submit("/cases/emergency", {"number": case.number, "justification": justification})
    assert opened.location == f"/cases/{case.id}"
    admin_client = signed_in(admin)
    if change == "moved":
        save_account(admin_client, colleague, site_id=other_site.id)
    else:
        admin_client.submit(f"/admin/users/{colleague.id}/deactivate")
        admin_client.submit(f"/admin/users/{colleague.id}/reactivate")
    assert signed_in(colleague).get(f"/cases/{case.id}").status_code == 404  # the grant ended with its reason
