"""Case fixtures: advisers at two sites and a factory that opens cases through the service."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from counsel.extensions import db
from counsel.models.case import Case
from counsel.models.site import Site
from counsel.models.user import Role, User
from counsel.services import cases
from counsel.services.cases import CaseInput, LanguageEntry

ARABIC_NAME = "فاطمة الزهراء"
TIGRINYA_NAME = "ሰላም ተስፋይ"


@pytest.fixture
def colleague(make_user: Any) -> User:
    user: User = make_user("carla", Role.ADVISER, name="Carla Kollegin")
    return user


@pytest.fixture
def other_site(app: Any) -> Site:
    site = Site(code="SB", name="Saarbrücken", active=True)
    db.session.add(site)
    db.session.commit()
    return site


def case_data(**fields: Any) -> CaseInput:
    values: dict[str, Any] = {
        "name": "Fatma Yılmaz",
        "pseudonym": "Rose",
        "date_of_birth": date(1990, 5, 17),
        "phone": "+49 231 5550123",
        "address": "Mallinckrodtstraße 12, 44145 Dortmund",
        "safe_contact": "no voicemail, only Tuesdays",
        "notes": "He reads her phone.",
        "country": "TR",
        "residence_status": "residence_permit",
        "perpetrator_relation": "partner",
        "violence_forms": {"physical", "psychological"},
        "languages": [LanguageEntry("tr", "native", True), LanguageEntry("de", "basic")],
    }
    values.update(fields)
    return CaseInput(**values)


@pytest.fixture
def open_case() -> Any:
    """Open a case as an adviser through the service, committed."""

    def factory(owner: User, **fields: Any) -> Case:
        case = cases.open_case(owner, case_data(**fields))
        db.session.commit()
        return case

    return factory
