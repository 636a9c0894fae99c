"""Every date an adviser types has sane bounds: a slip of the keyboard is refused with a message, not stored.

0025 for 2025 or 20255 for 2025 would otherwise land in a case, in a share that never ends or in
the statistics. Each form keeps what she typed and says which date to check.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from wtforms import DateField

from counsel.clock import today
from counsel.extensions import db
from counsel.forms_common import DateBounds
from counsel.models.case import CaseShare
from counsel.models.safety import Consent, RiskAssessment
from tests.cases.test_cases import case_form

TYPO_PAST = "0025-05-06"
TYPO_AHEAD = (today() + timedelta(days=366 * 11)).isoformat()


def every_form_class() -> list[type[FlaskForm]]:
    found, waiting = [], list(FlaskForm.__subclasses__())
    while waiting:
        form = waiting.pop()
        waiting.extend(form.__subclasses__())
        if form.__module__.startswith("counsel."):
            found.append(form)
    return found


def test_every_date_field_of_counsel_has_bounds(app):
    """Checked on the form classes themselves: a new date field without bounds fails here."""
    fields = {(form.__name__, name): unbound for form in every_form_class() for name, unbound in vars(form).items()
              if getattr(unbound, "field_class", None) is DateField}
    assert len(fields) >= 9
    unbounded = [key for key, unbound in fields.items()
                 if not any(isinstance(check, DateBounds) for check in unbound.kwargs.get("validators", []))]
    assert unbounded == []


def english(client, adviser):
    adviser.locale = "en"
    db.session.commit()
    return client


@pytest.mark.parametrize(("typed", "message"), [
    (TYPO_PAST, "Please check the date: it lies before 1900."),
    ((today() + timedelta(days=2)).isoformat(), "Please check the date: it lies in the future."),
])
def test_a_date_of_birth_out_of_bounds_keeps_the_form(typed, message, adviser, signed_in):
    client = english(signed_in(adviser), adviser)
    response = client.submit("/cases/new", case_form(date_of_birth=typed, acknowledge="y"))
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and message in page
    assert "Fatima al-Zahra" in page  # what she typed is still there
    assert 'min="1900-01-01"' in page


@pytest.mark.parametrize("typed", [TYPO_PAST, TYPO_AHEAD])
def test_a_share_until_a_slip_is_refused(typed, adviser, colleague, open_case, signed_in):
    case = open_case(adviser)
    client = english(signed_in(adviser), adviser)
    response = client.submit(f"/cases/{case.id}/sharing", {"colleague": str(colleague.id),
                                                            "reason": "Urlaubsvertretung", "until": typed})
    assert response.status_code == 400 and "Please check the date" in response.get_data(as_text=True)
    assert not db.session.scalar(select(func.count()).select_from(CaseShare))


def test_a_consent_given_in_0025_or_valid_until_a_slip_is_refused(adviser, open_case, signed_in):
    case = open_case(adviser)
    client = english(signed_in(adviser), adviser)
    base = {"purpose": "statistics", "given_on": today().isoformat(), "given_how": "written", "form_version": "1",
            "recipient_kind": "", "recipient": ""}
    for wrong in ({"given_on": TYPO_PAST}, {"expires_on": TYPO_AHEAD}):
        response = client.submit(f"/cases/{case.id}/consents", {**base, **wrong})
        assert response.status_code == 400 and "Please check the date" in response.get_data(as_text=True), wrong
    assert not db.session.scalar(select(func.count()).select_from(Consent))
    assert client.submit(f"/cases/{case.id}/consents", base).status_code == 302


def test_a_risk_review_decades_ahead_is_refused(adviser, open_case, signed_in):
    case = open_case(adviser)
    client = english(signed_in(adviser), adviser)
    response = client.submit(f"/cases/{case.id}/risk", {"indicators": ["isolation"], "level": "", "reasoning": "",
                                                        "review_on": TYPO_AHEAD})
    assert response.status_code == 400 and "more than 10 years ahead" in response.get_data(as_text=True)
    assert not db.session.scalar(select(func.count()).select_from(RiskAssessment))
