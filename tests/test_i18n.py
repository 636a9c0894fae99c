"""German by default, English on request, every string translated, language tags named by CLDR."""

from __future__ import annotations

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from counsel.extensions import db
from counsel.i18n import language_name
from counsel.settings import PROJECT_ROOT

CATALOGUE = PROJECT_ROOT / "counsel" / "translations" / "de" / "LC_MESSAGES" / "messages.po"


def test_interface_speaks_german_by_default(client):
    html = client.get("/login").get_data(as_text=True)
    assert '<html lang="de">' in html and "Anmelden" in html and "Benutzername" in html


def test_sign_in_page_switches_to_english(client):
    client.submit("/language", {"locale": "en", "next": "/login"})
    html = client.get("/login").get_data(as_text=True)
    assert '<html lang="en">' in html and "Sign in" in html and "User name" in html


def test_language_is_chosen_per_user(adviser, signed_in):
    client = signed_in(adviser)
    assert "Jetzt sperren" in client.get("/").get_data(as_text=True)
    client.submit("/account/", {"locale": "en"})
    db.session.refresh(adviser)
    assert adviser.locale == "en"
    assert "Lock now" in client.get("/").get_data(as_text=True)


def test_unknown_interface_language_is_refused(client):
    assert client.submit("/language", {"locale": "xx"}).status_code == 400


def test_every_user_facing_string_has_a_german_translation():
    method_map = [("counsel/**.py", "python"), ("templates/**.html", "jinja2")]
    found = {
        message if isinstance(message, str) else message[0]
        for _, _, message, _, _ in extract_from_dir(str(PROJECT_ROOT), method_map, keywords={"_": None,
                                                                                          "_l": None,
                                                                                          "gettext": None,
                                                                                          "ngettext": (1, 2)})
        if message
    }
    with CATALOGUE.open("rb") as handle:
        catalogue = read_po(handle, locale="de")
    translated = {m.id if isinstance(m.id, str) else m.id[0] for m in catalogue if m.id and m.string
                  and "fuzzy" not in m.flags}
    assert found - translated == set()


def test_language_tags_are_named_in_the_interface_language():
    assert language_name("ckb", "de") == "Zentralkurdisch"
    assert language_name("ckb", "en") == "Central Kurdish"
    assert language_name("ti", "de") == "Tigrinya"
    assert language_name("fa-AF", "en").startswith("Dari") or "Persian" in language_name("fa-AF", "en")
    assert language_name("not a tag", "de") == "not a tag"


def test_switching_language_keeps_where_she_was_going(client):
    page = client.get("/login?next=/admin/users").get_data(as_text=True)
    assert 'name="next" value="/login?next=/admin/users"' in page
    response = client.submit("/language", {"locale": "en", "next": "/login?next=/admin/users"})
    assert response.location == "/login?next=/admin/users"
