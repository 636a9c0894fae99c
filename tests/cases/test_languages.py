"""Languages: only languages counsel can name are stored, typed names count, and advisers are suggested by language."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from counsel.extensions import db
from counsel.languages import parse_picker_value, related_languages
from counsel.models.case import Case
from counsel.models.consultation import Consultation
from counsel.models.user import Role
from counsel.services import cases
from counsel.services.cases import LanguageEntry
from tests.cases.test_cases import case_form, consultation_form


@pytest.mark.parametrize(("typed", "tag"), [
    ("Arabisch", "ar"), ("Arabic", "ar"), ("arabisch", "ar"), ("  ARABIC ", "ar"), ("Arabisch (ar)", "ar"),
    ("ckb", "ckb"), ("Zentralkurdisch", "ckb"), ("central kurdish", "ckb"), ("ti", "ti"), ("Tigrinya (ti)", "ti"),
    ("uk", "uk"), ("Ukrainisch", "uk"), ("ar-SY", "ar-SY"), ("AR_sy", "ar-SY"), ("Arabisch (Syrien) (ar-SY)", "ar-SY"),
    ("turkisch", "tr"), ("Türkisch", "tr"), ("Dari", "prs"), ("kmr", "kmr"), ("Nordkurdisch (Kurmandschi)", "kmr"),
    ("ara", "ar"),  # ISO 639-2 code, by CLDR's alias
])
def test_tags_and_names_in_either_interface_language_are_accepted(typed, tag):
    assert parse_picker_value(typed) == tag


@pytest.mark.parametrize("typed", ["xx", "qqq", "Afghanisch", "Jugoslawisch", "Foo (xx)", "Arabisch (xx)", "ar-XY",
                                   "und", "zxx", "arabic!", ""])
def test_made_up_tags_and_unknown_names_are_refused(typed):
    assert parse_picker_value(typed) is None


def language_rows(*rows):
    """The case form's four language rows, filled from (typed, mode, preferred) triples."""
    data = {}
    for i in range(4):
        typed, mode, preferred = rows[i] if i < len(rows) else ("", "native", False)
        data |= {f"languages-{i}-tag": typed, f"languages-{i}-mode": mode}
        if preferred:
            data[f"languages-{i}-preferred"] = "y"
    return data


def test_a_case_stores_the_tag_of_a_typed_name_and_refuses_a_made_up_one(adviser, signed_in):
    client = signed_in(adviser)
    response = client.submit("/cases/new", case_form(**language_rows(("Arabisch", "native", True),
                                                                      ("qqq", "basic", False))))
    body = response.get_data(as_text=True)
    assert response.status_code == 400 and db.session.scalars(select(Case)).all() == []
    assert "„qqq“" in body  # the message names what she typed ...
    assert 'value="Arabisch"' in body and 'value="qqq"' in body  # ... and her input is still there
    response = client.submit("/cases/new", case_form(**language_rows(("Arabisch", "native", True),
                                                                      ("Tigrinya (ti)", "basic", False),
                                                                      ("ckb", "fluent", False))))
    assert response.status_code == 302
    case = db.session.get(Case, uuid.UUID(response.location.rsplit("/", 1)[-1]))
    assert [(lang.tag, lang.preferred) for lang in case.languages] == [("ar", True), ("ti", False), ("ckb", False)]


def test_a_consultation_refuses_a_made_up_language_and_keeps_the_input(adviser, open_case, signed_in):
    case = open_case(adviser)
    client = signed_in(adviser)
    refused = client.submit(f"/cases/{case.id}/consultations/new", consultation_form(language="xx", notes="bleibt"))
    body = refused.get_data(as_text=True)
    assert refused.status_code == 400 and "„xx“" in body and "bleibt" in body
    assert db.session.scalars(select(Consultation)).all() == []
    assert client.submit(f"/cases/{case.id}/consultations/new",
                         consultation_form(language="arabic")).status_code == 302
    assert db.session.scalars(select(Consultation)).one().language == "ar"


def test_the_duplicate_check_says_when_the_language_is_unknown(adviser, signed_in):
    response = signed_in(adviser).submit("/cases/check", {"name": "Selam", "language": "Tigrinisch"})
    body = response.get_data(as_text=True)
    assert response.status_code == 400 and "„Tigrinisch“" in body and 'value="Selam"' in body


def test_an_adviser_may_type_the_names_of_her_languages_but_not_made_up_tags(adviser, signed_in):
    client = signed_in(adviser)
    refused = client.submit("/account/languages", {"tags-0": "Arabisch", "tags-1": "xx", "tags-2": "qqq"})
    body = refused.get_data(as_text=True)
    assert refused.status_code == 400 and "“xx”" in body and "“qqq”" in body and "“Arabisch”" not in body
    assert 'value="Arabisch"' in body  # what she typed stays in the form
    db.session.refresh(adviser)
    assert adviser.languages == []
    assert client.submit("/account/languages", {"tags-0": "Arabisch", "tags-1": "ukrainian",
                                                 "tags-2": "ar-SY"}).status_code == 302
    db.session.refresh(adviser)
    assert adviser.languages == ["ar", "ar-SY", "uk"]


def test_macrolanguages_relate_to_their_members_but_sister_languages_do_not():
    assert related_languages("ku") == {"ku", "kmr", "ckb", "sdh"}
    assert related_languages("ckb") == {"ckb", "ku"}  # not kmr: Sorani and Kurmanji are not mutually intelligible
    assert related_languages("prs") == {"prs", "fa"}
    assert {"arb", "apc", "acm", "arz", "ary"} <= related_languages("ar") and related_languages("apc") == {"apc", "ar"}
    assert related_languages("de") == {"de"}


@pytest.fixture
def speakers(make_user, other_site):
    """Advisers and others at two sites, each with the languages they counsel in."""
    people = {
        "kurdish": (Role.ADVISER, ["ku"], None, True), "kurmanji": (Role.ADVISER, ["kmr"], None, True),
        "persian": (Role.ADVISER, ["fa"], None, True), "arabic": (Role.ADVISER, ["ar-LB"], None, True),
        "elsewhere": (Role.ADVISER, ["ku", "fa"], other_site, True), "gone": (Role.ADVISER, ["ku", "fa"], None, False),
        "statistics": (Role.SUPERVISOR, ["ku", "fa"], None, True),
    }
    users = {}
    for name, (role, tags, site, active) in people.items():
        user = make_user(name, role, at=site, name=f"{name.title()} Person")
        user.set_languages(tags)
        user.active = active
        users[name] = user
    db.session.commit()
    return users


def suggested(site_id, tag):
    return [speaker.user.username for speaker in cases.advisers_speaking(site_id, tag)]


def test_suggestions_follow_macrolanguages_at_her_site_only(adviser, speakers):
    site = adviser.site_id
    assert suggested(site, "ckb") == ["kurdish"]  # a Sorani speaker's Kurdish colleague, not the Kurmanji one
    assert suggested(site, "sdh") == ["kurdish"]
    assert suggested(site, "kmr") == ["kurmanji", "kurdish"]  # who speaks her very language comes first
    assert suggested(site, "ku") == ["kurdish", "kurmanji"]
    assert suggested(site, "prs") == ["persian"]
    assert suggested(site, "apc") == ["arabic"] and suggested(site, "ar-SY") == ["arabic"]
    assert suggested(site, "tr") == []
    # never another site's adviser, a deactivated one, or someone who does not counsel
    for tag in ("ku", "ckb", "fa", "prs"):
        assert not {"elsewhere", "gone", "statistics"} & set(suggested(site, tag))


def test_the_check_and_the_new_case_page_suggest_colleagues_who_speak_her_language(adviser, speakers, signed_in):
    client = signed_in(adviser)
    check = client.submit("/cases/check", {"name": "Dilan", "language": "Zentralkurdisch"}).get_data(as_text=True)
    assert "Kurdish Person" in check and "Kurmanji Person" not in check and "Elsewhere" not in check
    opened = client.submit("/cases/new", case_form(name="Dilan Aziz", **language_rows(("ckb", "native", True))))
    page = client.get(opened.location).get_data(as_text=True)
    suggestions = page.split('<ul class="speakers">')[1].split("</ul>")[0]
    assert "<bdi>Kurdish Person</bdi> (Kurdisch)" in suggestions
    for absent in ("Kurmanji", "Persian", "Elsewhere", "Gone", "Statistics"):
        assert absent not in suggestions


def test_the_case_page_does_not_suggest_her_holder(adviser, make_user, open_case, signed_in):
    adviser.set_languages(["ar"])
    colleague = make_user("amal", Role.ADVISER, name="Amal Arabisch")
    colleague.set_languages(["ar"])
    db.session.commit()
    case = open_case(adviser, languages=[LanguageEntry("ar", "native", True)])
    page = signed_in(adviser).get(f"/cases/{case.id}").get_data(as_text=True)
    suggestions = page.split('<ul class="speakers">')[1].split("</ul>")[0]
    assert "Amal Arabisch" in suggestions and adviser.display_name not in suggestions
