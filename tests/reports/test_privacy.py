"""No path a supervisor can reach shows a person: no case number, name, day or encrypted field."""

from __future__ import annotations

import io
import re
import zipfile
from datetime import date

import pytest

from counsel.clock import today
from counsel.extensions import db
from counsel.services import cases, consent, consultations
from counsel.services.consent import ConsentInput
from counsel.services.consultations import ConsultationInput
from tests.cases.conftest import case_data

NAMES = ["Fatma Yılmaz", "فاطمة الزهراء", "ሰላም ተስፋይ", "Олена Шевченко", "Şêrîn Rahimi", "Zahra Karimi",
         "Mebrat Haile", "Ayşe Doğan"]
FULL_DATES = [
    re.compile(r"\b\d{4}-\d{2}-\d{2}"),  # ISO, also inside timestamps
    re.compile(r"\b\d{1,2}\.\s?\d{1,2}\.\s?\d{2,4}\b"),  # 17.05.1990
    re.compile(r"\b\d{1,2}/\d{1,2}/\d{2,4}\b"),  # 5/17/90
    re.compile(r"\b\d{1,2}\.\s(Jan|Feb|Mär|Apr|Mai|Jun|Jul|Aug|Sep|Okt|Nov|Dez)"),  # 17. Mai 1990
    re.compile(r"\b(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*\.? \d{1,2}, \d{4}"),  # May 17, 1990
]


@pytest.fixture
def recorded(owner):
    """Eight cases opened through the service, with consent, consultations and every personal field."""
    made = []
    for n, name in enumerate(NAMES):
        case = cases.open_case(owner, case_data(
            name=name, pseudonym=f"Blume{n}", other_spellings=f"{name} alt", date_of_birth=date(1980 + n, 5, 17),
            phone=f"+49 231 55501{n:02d}", email=f"person{n}@example.org", address=f"Mallinckrodtstraße {n + 1}",
            safe_contact=f"nur dienstags {n}", children=f"Kind {n}", notes=f"Geheime Notiz {n}"))
        db.session.flush()
        consent.record(owner, case, ConsentInput("statistics", today(), "written", "Formular 2026"))
        consultations.add(owner, case, ConsultationInput(
            held_on=today(), minutes=45, channel="in_person", interpreting="professional",
            interpreter=f"Dolmetscherin {n}", topics={"residence"}, referrals={"lawyer"}, notes=f"Gesprächsnotiz {n}"))
        made.append(case)
    db.session.commit()
    return made


def secrets_of(made, owner) -> list[str]:
    found = [owner.display_name, owner.username]
    for case in made:
        found += [case.number, case.name, case.pseudonym, case.other_spellings, case.phone, case.email, case.address,
                  case.safe_contact, case.children, case.notes, str(case.id), case.id.hex]
        for visit in consultations.of_case(case):
            found += [visit.notes, visit.interpreter, str(visit.id), visit.id.hex]
    return [value for value in found if value]


def everything_a_supervisor_can_fetch(browser) -> dict[str, str]:
    month = f"{today():%Y-%m}"
    pages = {}
    for path in ("/reports/", f"/reports/?period={month}", f"/reports/print?period={month}",
                 f"/reports/print?period={month}&audience=team", f"/reports/export.csv?period={month}",
                 f"/reports/export.csv?period={month}&audience=funder",
                 "/reports/?period=1999-13", "/reports/?period=run&start=2026-05&end=2026-01",
                 "/reports/?sites=abc", "/reports/export.pdf", "/reports/?audience=x", "/reports/?period=2026-02-14",
                 "/reports/nothing-here"):
        response = browser.get(path)
        assert response.status_code in (200, 400, 403, 404), (path, response.status_code)
        pages[path] = response.get_data(as_text=True)
    for audience in ("team", "funder"):
        data = browser.get(f"/reports/export.xlsx?period={month}&audience={audience}").get_data()
        with zipfile.ZipFile(io.BytesIO(data)) as book:
            pages[f"xlsx {audience}"] = " ".join(book.read(name).decode() for name in book.namelist())
            assert {entry.date_time for entry in book.infolist()} == {(1980, 1, 1, 0, 0, 0)}  # not the day of export
    return pages


def test_no_path_export_or_error_shows_a_person(recorded, owner, supervisor, signed_in):
    browser = signed_in(supervisor)
    pages = everything_a_supervisor_can_fetch(browser)
    assert ">8<" in pages[f"/reports/?period={today():%Y-%m}"]  # the report did count them
    forbidden = secrets_of(recorded, owner)
    for path, text in pages.items():
        for secret in forbidden:
            assert secret not in text, (path, secret)
        for pattern in FULL_DATES:
            assert not pattern.search(text), (path, pattern.search(text))


@pytest.mark.parametrize("query", ["period=2026-02-14", "period=run&start=2026-02-14&end=2026-03",
                                   "period=run&start=2026-01&end=2026-03-31"])
def test_the_error_for_a_bad_period_does_not_repeat_the_input(supervisor, signed_in, query):
    browser = signed_in(supervisor)
    response = browser.get(f"/reports/?{query}")
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "2026-02-14" not in html and "2026-03-31" not in html
