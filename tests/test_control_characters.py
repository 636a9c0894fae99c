"""Control characters are refused by every form, with a message, before anything is stored.

PostgreSQL cannot store NUL in text and answered with an error page; the other control
characters are invisible and can hide or change what a colleague reads. Tabs and line breaks
are text and stay allowed.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from counsel.extensions import db
from counsel.models.case import Case
from counsel.models.consultation import Consultation
from counsel.models.user import User
from counsel.services import cases
from tests.cases.conftest import case_data
from tests.cases.test_cases import case_form, consultation_form

MESSAGE = "contains characters that cannot be stored"
CONTROL = ["\x00", "\x01", "\x08", "\x0b", "\x1b[2J", "\x7f"]


def in_english(user: User) -> User:
    user.locale = "en"
    db.session.commit()
    return user


def her_case(owner: User) -> Case:
    case = cases.open_case(owner, case_data())
    db.session.commit()
    return case


def count(model: type) -> int:
    return db.session.scalar(select(func.count()).select_from(model)) or 0


@pytest.mark.parametrize("control", CONTROL)
def test_a_case_note_with_a_control_character_is_refused_and_kept_for_correction(control, adviser, signed_in):
    case = her_case(adviser)
    client = signed_in(in_english(adviser))
    response = client.submit(f"/cases/{case.id}/consultations/new",
                             consultation_form(notes=f"before{control}after", interpreter="Dolmetschdienst Nord"))
    html = response.get_data(as_text=True)
    assert response.status_code in (200, 400)
    assert MESSAGE in html and "Dolmetschdienst Nord" in html  # the form is shown again with what she typed
    assert count(Consultation) == 0


def test_a_new_case_with_a_nul_in_its_notes_is_not_opened(adviser, signed_in):
    client = signed_in(in_english(adviser))
    response = client.submit("/cases/new", case_form(notes="a\x00b"))
    assert response.status_code in (200, 400) and MESSAGE in response.get_data(as_text=True)
    assert count(Case) == 0


def test_tabs_and_line_breaks_are_text(adviser, signed_in):
    case = her_case(adviser)
    client = signed_in(adviser)
    response = client.submit(f"/cases/{case.id}/consultations/new", consultation_form(notes="a\tb\r\nc\nd"))
    assert response.status_code == 302
    assert db.session.scalars(select(Consultation)).one().notes == "a\tb\r\nc\nd"


def test_a_display_name_with_a_nul_is_refused_for_a_new_account(admin, signed_in, site):
    client = signed_in(in_english(admin))
    response = client.submit("/admin/users/new", {"username": "nadia", "display_name": "Nadia\x00 Admin",
                                                  "site_id": site.id, "roles": ["supervisor"], "locale": "de"})
    assert response.status_code in (200, 400) and MESSAGE in response.get_data(as_text=True)
    assert db.session.scalars(select(User).where(User.username == "nadia")).first() is None


def test_a_display_name_with_a_nul_is_refused_on_change(admin, adviser, signed_in):
    client = signed_in(in_english(admin))
    response = client.submit(f"/admin/users/{adviser.id}", {
        "display_name": "Berta\x00", "site_id": adviser.site_id, "roles": ["adviser"], "locale": "de"})
    assert response.status_code in (200, 400) and MESSAGE in response.get_data(as_text=True)
    assert db.session.get(User, adviser.id).display_name == "Berta Beraterin"


def test_a_nul_in_the_user_name_at_sign_in_is_refused_not_an_error(adviser, client):
    response = client.submit("/login", {"username": "berta\x00", "password": "whatever it is"})
    assert response.status_code in (200, 400, 401)
