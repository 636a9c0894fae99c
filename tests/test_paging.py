"""Page numbers are clamped: whatever `?page=` says, the list shows its first or last page, never an error.

Issue 11 found that a huge page number on the case list gave a 500: the offset overflowed the
database's integers (SQLite and PostgreSQL alike).
"""

from __future__ import annotations

import re

import pytest

from counsel.admin_audit import views as audit_views
from counsel.cases import views as case_views
from counsel.extensions import db
from counsel.models.user import Role
from counsel.services import cases
from tests.cases.conftest import case_data

HUGE = "99999999999999999999"


@pytest.fixture
def three_cases(adviser, monkeypatch):
    """Three cases on pages of two: page 1 holds the newest two, page 2 the oldest."""
    monkeypatch.setattr(case_views, "PAGE_SIZE", 2)
    numbers = [cases.open_case(adviser, case_data()).number for _ in range(3)]
    db.session.commit()
    return numbers


def shown_numbers(page: str) -> list[str]:
    return re.findall(r">([A-Z]{2}-\d{4}-\d{4})</a>", page)


@pytest.mark.parametrize(("value", "expected"), [(HUGE, "last"), ("-3", "first"), ("abc", "first"), ("0", "first")])
def test_the_case_list_clamps_the_page_number(adviser, signed_in, three_cases, value, expected):
    response = signed_in(adviser).get(f"/cases/?page={value}")
    assert response.status_code == 200
    first, second, third = three_cases
    assert shown_numbers(response.get_data(as_text=True)) == ([first] if expected == "last" else [third, second])


@pytest.mark.parametrize("value", [HUGE, "-3", "abc"])
def test_the_audit_list_clamps_the_page_number(make_user, signed_in, monkeypatch, value):
    monkeypatch.setattr(audit_views, "PER_PAGE", 2)
    admin = make_user("ada", Role.ADMIN)
    client = signed_in(admin)
    for _ in range(2):
        client.get("/admin/audit/")  # each look is itself an event: there are several pages now
    response = client.get(f"/admin/audit/?page={value}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert 'aria-current="page">' in page
    # The last page links back only, the first page onward only.
    assert ('rel="next"' in page, 'rel="prev"' in page) == ((False, True) if value == HUGE else (True, False))
