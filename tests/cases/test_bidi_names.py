"""Staff names in any script are isolated, so a right-to-left name cannot reorder the words around it.

"Fall gehalten von מרים (DO)" without isolation shows the site before the name and can swap
numbers beside it; a name with a RIGHT-TO-LEFT OVERRIDE could even turn the rest of the line
around. Every staff name a page shows sits in its own <bdi>; client names and pseudonyms carry
dir="auto" (which isolates as well).
"""

from __future__ import annotations

import re
from datetime import date

from counsel.extensions import db
from counsel.models.user import Role
from counsel.services import cases, consultations
from counsel.services.consultations import ConsultationInput

OWNER = "مريم حداد"
COLLEAGUE = "שרה כהן"
HELPER = "\u202eEva Notfall"  # a RIGHT-TO-LEFT OVERRIDE at its start
OPTIONS = re.compile(r"<option[^>]*>.*?</option>", re.S)  # each choice is a line of its own in the browser


def assert_isolated(html: str, name: str) -> None:
    shown = OPTIONS.sub("", html)
    assert name in shown
    assert shown.count(name) == shown.count(f"<bdi>{name}</bdi>"), name


def test_every_page_isolates_the_names_of_staff(make_user, open_case, signed_in):
    owner = make_user("mariam", Role.ADVISER, name=OWNER)
    colleague = make_user("sara", Role.ADVISER, name=COLLEAGUE)
    helper = make_user("eva", Role.ADVISER, name=HELPER)
    case = open_case(owner)
    consultations.add(owner, case, ConsultationInput(held_on=date(2025, 1, 15), minutes=30, channel="phone"))
    cases.share(owner, case, colleague, "Urlaubsvertretung", None)
    db.session.commit()
    emergency = signed_in(helper).submit("/cases/emergency", {
        "number": case.number, "justification": "Sie ist in Gefahr und Mariam ist heute nicht erreichbar."})
    assert emergency.status_code == 302

    her = signed_in(owner)
    for path in ("/", f"/cases/{case.id}", f"/cases/{case.id}/sharing", f"/cases/{case.id}/access-log",
                 f"/cases/{case.id}/export", "/notifications"):
        html = her.get(path).get_data(as_text=True)
        for name in (OWNER, COLLEAGUE, HELPER):
            if name in OPTIONS.sub("", html):
                assert_isolated(html, name)
    assert_isolated(her.get(f"/cases/{case.id}/access-log").get_data(as_text=True), HELPER)
    assert_isolated(her.get("/notifications").get_data(as_text=True), HELPER)
    assert_isolated(her.get(f"/cases/{case.id}/sharing").get_data(as_text=True), COLLEAGUE)

    substitute = signed_in(colleague)
    for path in ("/", "/cases/", f"/cases/{case.id}"):
        assert_isolated(substitute.get(path).get_data(as_text=True), OWNER)


def test_the_name_search_isolates_the_holder(make_user, open_case, signed_in, adviser):
    owner = make_user("mariam", Role.ADVISER, name=OWNER)
    open_case(owner, name="Amal Nasser")
    html = signed_in(adviser).submit("/cases/check", {"name": "Amal Nasser", "language": ""}).get_data(as_text=True)
    assert_isolated(html, OWNER)
