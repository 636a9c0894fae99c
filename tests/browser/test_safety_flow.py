"""End to end in Chromium (issue 5): an adviser records consent, tries a referral to a recipient
without sharing consent and is stopped, records an alleged perpetrator, and a colleague opening a
new case with that perpetrator's phone number (written another way) is warned before anything is
saved, learning whom to ask but nothing of the other case.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import func, select

from counsel.clock import today
from counsel.extensions import db
from counsel.models.audit import AuditEvent
from counsel.models.case import Case
from counsel.models.safety import Consent, Disclosure
from counsel.models.user import Role, User
from counsel.services import cases
from tests.browser.conftest import TIMEOUT_MS
from tests.browser.helpers import PageLog, heading, notice, sign_in, ui_text
from tests.cases.conftest import case_data
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser

CLIENT_NAME = "Ayşe Yılmaz"
SHELTER = "Frauenhaus Dortmund"
PERPETRATOR = "Mehmet Yılmaz"
PERPETRATOR_PHONE = "+49 231 1234567"
PERPETRATOR_NOTES = "Geheimnotiz Falke"
SAME_PHONE = "0231 123 45 67"  # the perpetrator's number, as a caller gives it
NEW_CLIENT = "Leyla Demir"
CASE_URL = re.compile(r"/cases/([0-9a-f-]{36})$")  # also a JavaScript pattern: no named groups


def count(model: Any) -> int:
    """Rows of a table as the server left them; ends this thread's transaction so it holds nothing."""
    number = db.session.scalar(select(func.count()).select_from(model))
    db.session.commit()
    return int(number or 0)


def actions() -> list[str]:
    found = list(db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.seq)))
    db.session.commit()
    return found


def test_consent_stops_a_referral_and_a_perpetrators_phone_warns_a_colleague(
    adviser: User, make_user: Any, live_server: str, browser: Browser, page: Page, page_log: PageLog
) -> None:
    make_user("carla", Role.ADVISER, name="Carla Kollegin")  # a colleague at the same site
    case = cases.open_case(adviser, case_data(name=CLIENT_NAME, phone="+49 231 5550123"))
    case_id, number = str(case.id), case.number
    db.session.commit()  # end this thread's transaction: the server's threads do the work from here
    case_page = f"{live_server}/cases/{case_id}"

    # Berta opens the case: no consent yet, and the page says so.
    page.goto(f"/cases/{case_id}")
    sign_in(page, "berta", PASSWORD)
    expect(page).to_have_url(case_page)
    missing = page.locator("main p.flash.warning[role=alert]")
    expect(missing).to_contain_text(ui_text(page, "No valid consent to counselling and data processing is "
                                                  "recorded for this case."))
    missing.locator(f"a[href='/cases/{case_id}/consents']").click()

    # She records the consent to counselling and data processing, given through an interpreter.
    expect(page).to_have_url(f"{case_page}/consents")
    heading(page, "Consent of %(number)s", number=number)
    expect(page.locator("table.consents tbody tr")).to_have_text([ui_text(page, "No consent recorded.")])
    form = page.locator(f"form[action='/cases/{case_id}/consents']")
    expect(form.locator("input[name=given_on]")).to_have_value(today().isoformat())
    form.locator("select[name=purpose]").select_option("processing")
    form.locator("select[name=given_how]").select_option("interpreted")
    form.locator("input[name=form_version]").fill("2026-01")
    form.locator("button[type=submit]").click()
    expect(page).to_have_url(f"{case_page}/consents")
    notice(page, "Consent recorded.")
    rows = page.locator("table.consents tbody tr.valid")
    expect(rows).to_have_count(1)
    expect(rows.locator("td").first).to_have_text(ui_text(page, "Counselling and data processing"))
    expect(rows.locator("td").nth(6)).to_have_text(ui_text(page, "valid"))
    page.locator(f"main a[href='/cases/{case_id}']").click()
    expect(page).to_have_url(case_page)
    expect(page.locator("main [role=alert]")).to_have_count(0)  # the warning is gone

    # She tries to pass data on to the women's shelter: without a release for it, she is stopped.
    page.locator(f"main a[href='/cases/{case_id}/disclosures']").click()
    expect(page).to_have_url(f"{case_page}/disclosures")
    heading(page, "Passing on data of %(number)s", number=number)
    form = page.locator(f"form[action='/cases/{case_id}/disclosures']")
    form.locator("select[name=recipient_kind]").select_option("shelter")
    form.locator("input[name=recipient]").fill(SHELTER)
    form.locator("textarea[name=content]").fill("Name, Kinder, Aufnahmewunsch")
    with page.expect_response(lambda r: r.url == f"{case_page}/disclosures" and r.request.method == "POST") as sent:
        form.locator("button[type=submit]").click()
    assert sent.value.status == 400
    expect(page).to_have_url(f"{case_page}/disclosures")
    expect(page.locator("main p.flash.error[role=alert]")).to_have_text(ui_text(
        page, "No valid release from confidentiality for this recipient: nothing was passed on or recorded. "
              "Record her consent for this recipient first."))
    expect(page.locator("main ul.disclosures li")).to_have_text([ui_text(page, "Nothing yet.")])
    page_log.accept_refusals(400, f"{case_page}/disclosures", times=1)
    assert count(Disclosure) == 0 and count(Consent) == 1
    assert "disclosure_refused" in actions() and "data_disclosed" not in actions()

    # She records the alleged perpetrator with his phone number.
    page.locator(f"main a[href='/cases/{case_id}']").click()
    page.locator(f"main a[href='/cases/{case_id}/perpetrators/new']").click()
    expect(page).to_have_url(f"{case_page}/perpetrators/new")
    expect(page.locator("main h1")).to_have_text(f"{ui_text(page, 'Alleged perpetrator')} – {number}")
    form = page.locator(f"form[action='/cases/{case_id}/perpetrators/new']")
    form.locator("input[name=name]").fill(PERPETRATOR)
    form.locator("input[name=phone]").fill(PERPETRATOR_PHONE)
    form.locator("textarea[name=notes]").fill(PERPETRATOR_NOTES)
    expect(form.locator("input[name=acknowledge]")).to_have_count(0)
    form.locator("button[type=submit]").click()
    expect(page).to_have_url(case_page)
    notice(page, "Saved.")
    recorded = page.locator("main section.safety ul.plain li").first
    expect(recorded.locator("a")).to_have_text(PERPETRATOR)
    expect(recorded.locator("span[dir=ltr]")).to_have_text(PERPETRATOR_PHONE)

    # Carla, in her own browser, opens a new case for a caller who gives the same number.
    carla_context = browser.new_context(base_url=live_server, service_workers="block")
    carla_context.set_default_timeout(TIMEOUT_MS)
    carla_log = PageLog(origin=live_server)
    carla_log.attach(carla_context)
    try:
        carla = carla_context.new_page()
        carla.goto("/cases/check")
        sign_in(carla, "carla", PASSWORD)
        expect(carla).to_have_url(f"{live_server}/cases/check")
        search = carla.locator("form[action='/cases/check']")
        search.locator("input[name=name]").fill(NEW_CLIENT)
        search.locator("button[type=submit]").click()
        result = carla.locator("main section[aria-live=polite]")
        expect(result).to_contain_text(ui_text(carla, "No case with this name at your site."))
        result.locator("form[action='/cases/new'] button[type=submit]").click()
        heading(carla, "New case")
        form = carla.locator("form[action='/cases/new']")
        expect(form.locator("input[name=name]")).to_have_value(NEW_CLIENT)
        form.locator("input[name=phone]").fill(SAME_PHONE)
        form.locator("textarea[name=safe_contact]").fill("nur vormittags")
        with carla.expect_response(lambda r: r.url == f"{live_server}/cases/new"
                                   and r.request.method == "POST") as sent:
            form.locator("button[type=submit]").click()
        assert sent.value.status == 409

        # Warned before saving: which datum matched, and whom to ask, nothing of the other case.
        expect(carla).to_have_url(f"{live_server}/cases/new")
        heading(carla, "New case")
        warning = carla.locator("main section.conflicts[role=alert]")
        expect(warning.locator("h2")).to_have_text(ui_text(carla, "Check before you save"))
        expect(warning.locator("li")).to_have_text([ui_text(
            carla, "%(what)s matches %(whom)s in a case held by %(holder)s. Ask her or him.",
            what=ui_text(carla, "The phone number"), whom=ui_text(carla, "an alleged perpetrator"),
            holder="Berta Beraterin")])
        expect(warning.locator("p")).to_have_text(ui_text(
            carla, "You may be speaking with the alleged perpetrator, someone close to him, or someone the client "
                   "must be protected from. Nothing was saved yet."))
        html = carla.content()
        for secret in (number, CLIENT_NAME, PERPETRATOR, PERPETRATOR_PHONE, PERPETRATOR_NOTES, "Mehmet"):
            assert secret not in html, f"the warning page shows {secret!r}"

        # Nothing was saved; her input is kept, and she may go on once she has read the warning.
        assert count(Case) == 1
        expect(form.locator("input[name=name]")).to_have_value(NEW_CLIENT)
        expect(form.locator("input[name=phone]")).to_have_value(SAME_PHONE)
        expect(form.locator("textarea[name=safe_contact]")).to_have_value("nur vormittags")
        acknowledge = form.locator("input[name=acknowledge]")
        expect(acknowledge).to_be_visible()
        expect(acknowledge).not_to_be_checked()
        acknowledge.check()
        form.locator("button[type=submit]").click()
        expect(carla).to_have_url(CASE_URL)
        new_id = uuid.UUID(CASE_URL.search(carla.url)[1])  # type: ignore[index]
        new_number = db.session.get(Case, new_id).number  # type: ignore[union-attr]
        db.session.commit()
        expect(carla.locator("main [role=status]").first).to_have_text(ui_text(
            carla, "Case %(number)s opened.", number=new_number))
        expect(carla.locator("main dd.client-name")).to_have_text(NEW_CLIENT)
        carla_log.accept_refusals(409, f"{live_server}/cases/new", times=1)
        carla_log.assert_clean()
    finally:
        carla_context.close()

    assert count(Case) == 2
    trail = actions()
    assert trail.count("conflict_warning") == 1 and trail.count("conflict_acknowledged") == 1
    assert trail.index("conflict_warning") < trail.index("conflict_acknowledged")
    page_log.assert_clean()
