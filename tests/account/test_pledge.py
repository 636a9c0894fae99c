"""The confidentiality pledge (issue 12): every adviser accepts the current version before she reaches any case.

Over HTTP, as the adviser and as someone who tries to get past it: the case pages send her to the
pledge, a form sent to them without it is refused and changes nothing, her acceptance is on the
trail once, a new version asks again, and the text is the installation's, in her language.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from flask import Flask
from flask_babel import force_locale, format_datetime
from sqlalchemy import func, select

from counsel.extensions import db
from counsel.models.audit import AuditEvent
from counsel.models.case import Case
from counsel.models.pledge import PledgeAcceptance
from counsel.models.safety import EmergencyAccess
from counsel.models.user import Role, User
from counsel.services import cases
from counsel.services.cases import CaseInput
from counsel.settings import SHIPPED_PLEDGE_DIR, SettingsError
from tests.conftest import make_settings

GERMAN = "Ich bewahre Stillschweigen"  # from the shipped de.txt
ENGLISH = "I keep silent"  # from the shipped en.txt
NEW_CASE = {"name": "Amal Nasser", "pseudonym": "Tulpe", "age_band": "unknown", "country": "SY",
            "residence_status": "asylum_procedure", "perpetrator_relation": "partner", "referral_source": "community",
            **{f"languages-{n}-{key}": value for n in range(4) for key, value in (("tag", ""), ("mode", "native"))}}
JUSTIFICATION = "Sie ist akut in Gefahr und ihre Beraterin ist heute nicht erreichbar."


def version(app: Flask) -> str:
    value: str = app.config["COUNSEL"].pledge_in_force
    return value


def events(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)))


def case_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Case)) or 0


def accept(browser: Any, app: Flask, next_url: str = "") -> Any:
    return browser.submit("/account/pledge", {"version": version(app), "next": next_url})


@pytest.fixture
def newcomer(make_user: Any) -> User:
    """An adviser who has not accepted the pledge yet."""
    user: User = make_user("nora", Role.ADVISER, name="Nora Neu", pledged=False)
    return user


def test_a_new_adviser_is_sent_to_the_pledge_before_the_case_list_the_name_search_and_emergency_access(
        app, newcomer, signed_in):
    browser = signed_in(newcomer)
    for path in ("/cases/", "/cases/check", "/cases/emergency", "/cases/new"):
        response = browser.get(path)
        assert response.status_code == 302, path
        assert response.location == f"/account/pledge?next={quote(path, safe='/')}", path
    page = browser.get("/account/pledge?next=/cases/check").get_data(as_text=True)
    assert GERMAN in page and 'name="version"' in page and f'value="{version(app)}"' in page
    assert 'value="/cases/check"' in page  # where she goes once she has accepted


def test_forms_sent_to_case_pages_without_the_pledge_change_nothing(app, newcomer, make_user, signed_in):
    holder = make_user("berta", Role.ADVISER)
    case = cases.open_case(holder, CaseInput(name="Selam Gebremedhin"))
    db.session.commit()
    browser = signed_in(newcomer)
    searches = len(events("case_search"))

    assert browser.submit("/cases/new", NEW_CASE).status_code == 403
    assert browser.submit("/cases/check", {"name": "Selam Gebremedhin", "language": ""}).status_code == 403
    refused = browser.submit("/cases/emergency", {"number": case.number, "justification": JUSTIFICATION})
    assert refused.status_code == 403
    assert case_count() == 1 and len(events("case_search")) == searches
    assert db.session.scalar(select(func.count()).select_from(EmergencyAccess)) == 0
    assert events("emergency_access") == [] and [e.actor_id for e in events("case_created")] == [holder.id]

    # The same forms go through once she has accepted: it was the pledge that stopped them.
    assert accept(browser, app).status_code == 302
    assert browser.submit("/cases/new", NEW_CASE).status_code == 302
    assert case_count() == 2
    opened = browser.submit("/cases/emergency", {"number": case.number, "justification": JUSTIFICATION})
    assert opened.status_code == 302 and opened.location == f"/cases/{case.id}"


def test_acceptance_is_on_the_trail_once_and_on_her_account_page(app, newcomer, signed_in):
    browser = signed_in(newcomer)
    done = accept(browser, app, next_url="/cases/check")
    assert done.status_code == 302 and done.location == "/cases/check"
    assert browser.get("/cases/check").status_code == 200
    again = accept(browser, app)  # a second tab, a reload: nothing new
    assert again.status_code == 302

    accepted = events("pledge_accepted")
    assert [(e.actor_id, e.target_user_id, e.detail) for e in accepted] == [(newcomer.id, newcomer.id, version(app))]
    rows = db.session.scalars(select(PledgeAcceptance).where(PledgeAcceptance.user_id == newcomer.id)).all()
    assert [row.version for row in rows] == [version(app)]
    account = browser.get("/account/").get_data(as_text=True)
    state = account.split('id="pledge-state">')[1].split("</p>")[0]
    with app.test_request_context(), force_locale("de"):
        when = format_datetime(rows[0].accepted_at, "short")
    assert version(app) in state and when in state
    assert 'name="version"' not in browser.get("/account/pledge").get_data(as_text=True)  # nothing left to accept


def test_a_new_version_asks_again(app, newcomer, signed_in):
    browser = signed_in(newcomer)
    accept(browser, app)
    assert browser.get("/cases/").status_code == 200
    first = version(app)

    app.config["COUNSEL"] = app.config["COUNSEL"].replace(pledge_version="2027-01")  # the installation's new text
    response = browser.get("/cases/")
    assert response.status_code == 302 and response.location.startswith("/account/pledge")
    page = browser.get("/account/pledge").get_data(as_text=True)
    assert 'value="2027-01"' in page and first in page  # the new version, and the one she accepted
    assert browser.submit("/account/pledge", {"version": first}).status_code == 400  # not the text in force
    assert browser.get("/cases/").status_code == 302
    accept(browser, app)
    assert browser.get("/cases/").status_code == 200
    assert [e.detail for e in events("pledge_accepted")] == [first, "2027-01"]


def test_the_start_page_shows_no_case_while_she_owes_the_pledge(app, newcomer, make_user, signed_in):
    holder = make_user("berta", Role.ADVISER)
    case = cases.open_case(holder, CaseInput(name="Selam Gebremedhin", pseudonym="Kornblume"))
    cases.share(holder, case, newcomer, "Urlaubsvertretung", None)
    db.session.commit()
    browser = signed_in(newcomer)
    start = browser.get("/").get_data(as_text=True)
    assert "Kornblume" not in start and case.number not in start and 'id="pledge-owed"' in start
    accept(browser, app)
    assert "Kornblume" in browser.get("/").get_data(as_text=True)


def test_the_text_is_shown_in_her_language_and_the_other_on_request(app, newcomer, make_user, signed_in):
    german = signed_in(newcomer)
    page = german.get("/account/pledge").get_data(as_text=True)
    assert GERMAN in page and ENGLISH not in page and 'lang="de" id="pledge-text"' in page
    english_text = german.get("/account/pledge?lang=en").get_data(as_text=True)
    assert ENGLISH in english_text and GERMAN not in english_text
    assert GERMAN in german.get("/account/pledge?lang=xx").get_data(as_text=True)  # an unknown language: hers

    english_user = make_user("emily", Role.ADVISER, pledged=False)
    english_user.locale = "en"
    db.session.commit()
    english = signed_in(english_user).get("/account/pledge").get_data(as_text=True)
    assert ENGLISH in english and GERMAN not in english


def test_accounts_without_case_work_are_not_sent_but_may_read_it(make_user, signed_in):
    admin = signed_in(make_user("ada", Role.ADMIN, pledged=False))
    supervisor = signed_in(make_user("sven", Role.SUPERVISOR, pledged=False))
    for browser in (admin, supervisor):
        assert browser.get("/").status_code == 200
        assert browser.get("/cases/").status_code == 403  # turned away at the door, not sent to a pledge
        assert GERMAN in browser.get("/account/pledge").get_data(as_text=True)
    assert admin.get("/admin/users").status_code == 200
    assert events("pledge_accepted") == []


def test_an_attacker_cannot_accept_for_her_or_accept_another_text(app, newcomer, new_client, signed_in):
    refused = new_client().submit("/account/pledge", {"version": version(app)})  # nobody signed in
    assert refused.status_code == 401
    browser = signed_in(newcomer)
    assert browser.post("/account/pledge", data={"version": version(app)}).status_code == 400  # no CSRF token
    assert browser.submit("/account/pledge", {"version": "1999-01"}).status_code == 400  # a version not in force
    assert browser.submit("/account/pledge", {}).status_code == 400
    away = accept(browser, app, next_url="https://evil.example/")
    assert away.status_code == 302 and away.location == "/"  # never sent on to another site
    assert [e.detail for e in events("pledge_accepted")] == [version(app)]


def test_the_installation_sets_its_own_texts_and_version(tmp_path: Path):
    own = tmp_path / "pledge"
    own.mkdir()
    (own / "de.txt").write_text("Eigene Verpflichtung.\n\n- erstens\n- zweitens,\n  fortgesetzt\n", encoding="utf-8")
    with pytest.raises(SettingsError, match="en.txt"):
        make_settings(tmp_path, pledge_dir=str(own), pledge_version="2027-01")
    (own / "en.txt").write_text("Our own pledge.\n", encoding="utf-8")
    with pytest.raises(SettingsError, match="pledge_version"):
        make_settings(tmp_path, pledge_dir=str(own))
    with pytest.raises(SettingsError, match="pledge_version"):
        make_settings(tmp_path, pledge_version=" x" * 40)
    settings = make_settings(tmp_path, pledge_dir=str(own), pledge_version="2027-01")
    assert settings.pledge_in_force == "2027-01" and settings.pledge_path == own
    shipped = make_settings(tmp_path)
    assert shipped.pledge_path == SHIPPED_PLEDGE_DIR and shipped.pledge_in_force


@pytest.mark.settings(pledge_version="2027-01")
def test_the_page_shows_the_installations_text_as_paragraphs_and_lists(app, settings, newcomer, signed_in, tmp_path):
    own = tmp_path / "own"
    own.mkdir()
    (own / "de.txt").write_text("Eigene Verpflichtung <b>ernst</b>.\n\n- erstens\n- zweitens,\n  fortgesetzt\n",
                                encoding="utf-8")
    (own / "en.txt").write_text("Our own pledge.\n", encoding="utf-8")
    app.config["COUNSEL"] = settings.replace(pledge_dir=str(own))
    page = signed_in(newcomer).get("/account/pledge").get_data(as_text=True)
    assert "<p>Eigene Verpflichtung &lt;b&gt;ernst&lt;/b&gt;.</p>" in page  # text, never markup
    assert "<li>erstens</li><li>zweitens, fortgesetzt</li>" in page and GERMAN not in page

