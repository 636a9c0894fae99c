"""A consultation's date has a floor: a slip of the keyboard (0025, 1889) is refused, not counted."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from counsel.extensions import db
from counsel.models.consultation import Consultation
from tests.cases.test_cases import consultation_form


@pytest.mark.parametrize("held_on", ["1989-12-31", "0025-05-06", "0001-01-01"])
def test_a_consultation_before_1990_is_refused_with_a_message(held_on, adviser, open_case, signed_in):
    case = open_case(adviser)
    adviser.locale = "en"
    db.session.commit()
    response = signed_in(adviser).submit(f"/cases/{case.id}/consultations/new",
                                         consultation_form(held_on=held_on, follow_up_on=""))
    assert response.status_code in (200, 400)
    assert "A consultation cannot lie before 1990." in response.get_data(as_text=True)
    assert db.session.scalars(select(Consultation)).all() == []


def test_the_first_day_of_1990_is_accepted_and_the_field_says_so(adviser, open_case, signed_in):
    case = open_case(adviser)
    client = signed_in(adviser)
    page = client.get(f"/cases/{case.id}/consultations/new").get_data(as_text=True)
    assert 'min="1990-01-01"' in page  # the browser's date picker starts there too
    response = client.submit(f"/cases/{case.id}/consultations/new",
                             consultation_form(held_on="1990-01-01", follow_up_on=""))
    assert response.status_code == 302
    assert [c.held_on.isoformat() for c in db.session.scalars(select(Consultation))] == ["1990-01-01"]
