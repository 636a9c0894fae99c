"""End to end in Chromium (issue 4): an adviser opens a case with Arabic and Tigrinya names and notes,
logs two consultations, finds the case again by an accent-folded name, and a colleague at the same
site cannot open it.

Right-to-left text is checked as the browser lays it out, not only by its dir attribute: the
computed direction, the side of its box the text sits on, and the order of the letters of its first line.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Locator, Page, expect
from sqlalchemy import func, select

from counsel.clock import today
from counsel.extensions import db
from counsel.languages import language_name
from counsel.models.audit import AuditEvent
from counsel.models.case import Case
from counsel.models.consultation import Consultation
from counsel.models.user import Role, User
from tests.browser.conftest import TIMEOUT_MS
from tests.browser.helpers import PageLog, heading, notice, path_of, sign_in, ui_text
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser

NAME = "Şêrîn Yılmaz"
FOLDED_NAME = "SERIN YILMAZ"  # no accents, no dotless ı, capitals: what a colleague types on a German keyboard
ARABIC_NAME = "شيرين يلماز"
TIGRINYA_NAME = "ሸሪን ይልማዝ"
NOTES = "تخاف من زوجها السابق. لا تتصلوا بها مساءً."
FIRST_NOTES = "جاءت مع ابنتها. تحدثنا عن الإقامة."
SECOND_NOTES = "تريد الذهاب إلى دار الإيواء للنساء."
CASE_URL = re.compile(r"/cases/([0-9a-f-]{36})$")  # also a JavaScript pattern: no named groups

# How the browser shows an element: computed direction, :dir(), which side of its content box the
# text sits on, and whether the first letter of its first line is drawn right of that line's last one.
LAYOUT = r"""(element) => {
  const style = getComputedStyle(element);
  const box = element.getBoundingClientRect();
  const start = box.left + parseFloat(style.borderLeftWidth) + parseFloat(style.paddingLeft);
  const end = box.right - parseFloat(style.borderRightWidth) - parseFloat(style.paddingRight);
  const whole = document.createRange();
  whole.selectNodeContents(element);
  const text = whole.getBoundingClientRect();
  const node = [...element.childNodes].find((child) => child.nodeType === Node.TEXT_NODE && child.data.trim());
  const letter = (offset) => {
    const range = document.createRange();
    range.setStart(node, offset);
    range.setEnd(node, offset + 1);
    return range.getBoundingClientRect();
  };
  const start_at = node.data.length - node.data.trimStart().length;
  const first_line = node.data.slice(start_at).split("\n")[0].trimEnd();
  const first = letter(start_at);
  const last = letter(start_at + first_line.length - 1);
  return {
    direction: style.direction,
    dir_rtl: element.matches(":dir(rtl)"),
    side: Math.abs(text.right - end) < 2 ? "right" : Math.abs(text.left - start) < 2 ? "left" : "neither",
    order: first.left > last.left ? "rtl" : "ltr",
  };
}"""


def picker_label(page: Page, tag: str) -> str:
    """The label the language picker offers for a tag in the page's language, e.g. "Arabisch (ar)"."""
    return f"{language_name(tag, page.locator('html').get_attribute('lang') or 'de')} ({tag})"


def choose_language(page: Page, field: Locator, tag: str) -> None:
    """Type a language as the picker (a datalist) offers it, after checking the picker does offer it."""
    label = picker_label(page, tag)
    assert field.get_attribute("list") == "language-options"
    expect(page.locator(f"datalist#language-options option[value='{label}']")).to_have_count(1)
    field.fill(label)


def assert_shown(element: Locator, direction: str) -> None:
    """The element is marked dir=auto, and the browser resolved and laid it out in this direction."""
    expect(element).to_have_attribute("dir", "auto")
    layout = element.evaluate(LAYOUT)
    side = "right" if direction == "rtl" else "left"
    assert layout == {"direction": direction, "dir_rtl": direction == "rtl", "side": side, "order": direction}, layout


def fact(page: Page, label: str) -> Locator:
    """The <dd> after the <dt> that reads the label (in the page's language) on the case page."""
    term = page.locator("main dl.facts dt").filter(has_text=re.compile(f"^{re.escape(ui_text(page, label))}$"))
    return term.locator("xpath=following-sibling::dd[1]")


def log_consultation(page: Page, case_id: str, notes: str, held_on: str | None = None, minutes: str = "60") -> None:
    page.locator(f"main a[href='/cases/{case_id}/consultations/new']").click()
    expect(page).to_have_url(re.compile(f"/cases/{case_id}/consultations/new$"))
    form = page.locator(f"form[action='/cases/{case_id}/consultations/new']")
    # her preferred language, prefilled as the picker offers it
    expect(form.locator("input[name=language]")).to_have_value(picker_label(page, "ar"))
    if held_on:
        form.locator("input[name=held_on]").fill(held_on)
    form.locator("input[name=minutes]").fill(minutes)
    notes_field = form.locator("textarea[name=notes]")
    notes_field.fill(notes)
    expect(notes_field).to_have_attribute("dir", "auto")
    assert notes_field.evaluate("(element) => element.matches(':dir(rtl)')"), "Arabic is typed right to left"
    form.locator("button[type=submit]").click()
    expect(page).to_have_url(re.compile(f"/cases/{case_id}$"))
    notice(page, "Consultation saved.")


def search(page: Page, name: str, language: str | None = None) -> None:
    page.goto("/cases/check")
    heading(page, "Open a case")
    form = page.locator("form[action='/cases/check']")
    expect(form.locator("input[name=name]")).to_be_focused()  # autofocus: she can type at once
    form.locator("input[name=name]").fill(name)
    if language:
        choose_language(page, form.locator("input[name=language]"), language)
    form.locator("button[type=submit]").click()
    expect(page.locator("main section[aria-live=polite] h2")).to_have_text(ui_text(page, "Result"))


def export_copy(page: Page, case_id: str, number: str) -> None:
    """Open the subject access copy, check what paper and the JSON download hold."""
    page.locator(f"main a[href='/cases/{case_id}/export']").click()
    expect(page).to_have_url(re.compile(f"/cases/{case_id}/export$"))
    copy = page.locator("main article.export")
    expect(copy.locator("dd.client-name")).to_have_text(NAME)
    expect(copy.locator("article.consultation div.notes")).to_have_text([SECOND_NOTES, FIRST_NOTES])
    assert_shown(copy.locator("section > div.notes"), "rtl")
    controls = page.locator("main .no-print")
    expect(controls).to_be_visible()
    page.emulate_media(media="print")
    for hidden in (controls, page.locator("header.top")):
        expect(hidden).to_be_hidden()
    expect(copy).to_be_visible()
    page.emulate_media(media="screen")
    with page.expect_download() as download:
        controls.locator(f"a[href='/cases/{case_id}/export.json']").click()
    assert download.value.suggested_filename == f"{number}.json"
    data = json.loads(Path(download.value.path()).read_text(encoding="utf-8"))
    assert (data["name"], data["notes"]) == (NAME, NOTES)
    assert data["other_spellings"].splitlines() == [ARABIC_NAME, TIGRINYA_NAME]  # as the form sent them (CRLF)
    assert [c["notes"] for c in data["consultations"]] == [SECOND_NOTES, FIRST_NOTES]
    page.go_back()


def test_an_adviser_opens_a_right_to_left_case_logs_consultations_finds_it_and_a_colleague_cannot_open_it(
    adviser: User, make_user: Any, live_server: str, browser: Browser, page: Page, page_log: PageLog
) -> None:
    colleague = make_user("carla", Role.ADVISER, name="Carla Kollegin")  # same site as Berta
    db.session.commit()  # end this thread's read transaction: the server's threads do the work from here

    # Berta signs in and first checks whether the woman is known; she names her preferred language.
    page.goto("/cases/check")
    expect(page).to_have_url(f"{live_server}/login?next=/cases/check")
    sign_in(page, "berta", PASSWORD)
    expect(page).to_have_url(f"{live_server}/cases/check")
    search(page, NAME, language="ar")
    result = page.locator("main section[aria-live=polite]")
    expect(result).to_contain_text(ui_text(page, "No case with this name at your site."))
    expect(result).to_contain_text(ui_text(page, "No colleague at your site has %(language)s among her or his "
                                                 "languages.", language=language_name("ar", "de")))

    # "Open a new case" carries the name and the language into the case form.
    with page.expect_response(lambda r: r.url == f"{live_server}/cases/new" and r.request.method == "POST") as sent:
        result.locator("form[action='/cases/new'] button[type=submit]").click()
    assert sent.value.status == 200  # the prefilled form, not a refusal
    heading(page, "New case")
    form = page.locator("form[action='/cases/new']")
    expect(form.locator("input[name=name]")).to_have_value(NAME)
    expect(form.locator("input[name='languages-0-tag']")).to_have_value(picker_label(page, "ar"))
    expect(form.locator("input[name='languages-0-preferred']")).to_be_checked()
    expect(form.locator("input[name=acknowledge]")).to_have_count(0)  # no warning, so nothing to acknowledge

    form.locator("input[name=pseudonym]").fill("Granatapfel")
    spellings = form.locator("textarea[name=other_spellings]")
    spellings.fill(f"{ARABIC_NAME}\n{TIGRINYA_NAME}")
    assert spellings.evaluate("(element) => element.matches(':dir(rtl)')"), "the Arabic spelling is typed RTL"
    form.locator("select[name='languages-0-mode']").select_option("native")
    form.locator("input[name='languages-0-preferred']").check()
    choose_language(page, form.locator("input[name='languages-1-tag']"), "ti")
    form.locator("select[name='languages-1-mode']").select_option("basic")
    form.locator("select[name=country]").select_option("SY")
    form.locator("input[name=violence_forms][value=psychological]").check()
    notes_field = form.locator("textarea[name=notes]")
    notes_field.fill(NOTES)
    assert notes_field.evaluate("(element) => element.matches(':dir(rtl)')"), "Arabic notes are typed RTL"
    form.locator("button[type=submit]").click()

    expect(page).to_have_url(CASE_URL)
    case_id = CASE_URL.search(page.url)[1]  # type: ignore[index]
    number = db.session.get(Case, uuid.UUID(case_id)).number  # type: ignore[union-attr]
    db.session.commit()
    expect(page.locator("main [role=status]").first).to_have_text(ui_text(page, "Case %(number)s opened.",
                                                                          number=number))
    expect(page.locator("main h1")).to_contain_text(number)

    # The case page: names and notes as entered, each resolving its own direction.
    client_name = page.locator("main dd.client-name")
    expect(client_name).to_have_text(NAME)
    assert_shown(client_name, "ltr")
    other_spellings = fact(page, "Other spellings")
    expect(other_spellings).to_have_text(f"{ARABIC_NAME}\n{TIGRINYA_NAME}")
    assert_shown(other_spellings, "rtl")  # the first strong letter is Arabic
    case_notes = page.locator("main section > div.notes")
    expect(case_notes).to_have_text(NOTES)
    assert_shown(case_notes, "rtl")
    languages = fact(page, "Languages")
    expect(languages).to_contain_text(f"{language_name('ar', 'de')} ({ui_text(page, 'Native language')}) – "
                                      f"{ui_text(page, 'preferred')}")
    expect(languages).to_contain_text(f"{language_name('ti', 'de')} ({ui_text(page, 'Basic')})")
    expect(page.locator("main article.consultation")).to_have_count(0)

    # Two consultations, the first a week ago; the newest is listed first.
    week_ago = today() - timedelta(days=7)
    log_consultation(page, case_id, FIRST_NOTES, held_on=week_ago.isoformat(), minutes="90")
    log_consultation(page, case_id, SECOND_NOTES, minutes="45")
    consultations = page.locator("main article.consultation")
    expect(consultations).to_have_count(2)
    expect(consultations.locator("div.notes")).to_have_text([SECOND_NOTES, FIRST_NOTES])
    expect(consultations.nth(0).locator("h3")).to_contain_text(ui_text(page, "%(n)d min", n=45))
    expect(consultations.nth(1).locator("h3")).to_contain_text(ui_text(page, "%(n)d min", n=90))
    for index in range(2):
        expect(consultations.nth(index).locator("h3")).to_contain_text(language_name("ar", "de"))
        assert_shown(consultations.nth(index).locator("div.notes"), "rtl")
    assert_shown(client_name, "ltr")  # still, with right-to-left text all around it
    assert db.session.scalar(select(func.count()).select_from(Consultation)) == 2
    db.session.commit()

    # Later she finds the case by the name typed without accents, and by its Arabic spelling.
    search(page, FOLDED_NAME)
    link = page.locator(f"main section[aria-live=polite] a[href='/cases/{case_id}']")
    expect(link).to_have_text(number)
    search(page, ARABIC_NAME)
    expect(link).to_have_text(number)
    link.click()
    expect(page).to_have_url(f"{live_server}/cases/{case_id}")
    expect(client_name).to_have_text(NAME)

    # For her access request (Art. 15 GDPR) Berta makes a copy: on paper only the document, and as JSON.
    export_copy(page, case_id, number)

    # Carla, at the same site, follows a link to the case in her own browser: she gets "not found".
    carla_context = browser.new_context(base_url=live_server, service_workers="block")
    carla_context.set_default_timeout(TIMEOUT_MS)
    carla_log = PageLog(origin=live_server)
    carla_log.attach(carla_context)
    try:
        carla = carla_context.new_page()
        carla.goto(f"/cases/{case_id}")
        expect(carla).to_have_url(f"{live_server}/login?next=/cases/{case_id}")
        with carla.expect_response(f"{live_server}/cases/{case_id}") as answer:
            sign_in(carla, "carla", PASSWORD)
        assert answer.value.status == 404
        assert path_of(carla) == f"/cases/{case_id}"
        heading(carla, "Not found")
        response = carla.goto(f"/cases/{case_id}")
        assert response is not None and response.status == 404
        html = carla.content()
        for secret in (NAME, ARABIC_NAME, TIGRINYA_NAME, NOTES, FIRST_NOTES, SECOND_NOTES, "Granatapfel", number):
            assert secret not in html, f"the 404 page shows {secret!r}"
        # The name search tells her only who holds it, so she asks before opening a second case.
        search(carla, FOLDED_NAME)
        carla_result = carla.locator("main section[aria-live=polite]")
        expect(carla_result.locator("a[href^='/cases/']")).to_have_count(0)
        expect(carla_result.locator("[role=status]")).to_have_text(ui_text(
            carla, "A case with this name exists, held by %(name)s. Please ask her or him before you open a new one.",
            name="Berta Beraterin"))
        carla_log.accept_refusals(404, f"{live_server}/cases/{case_id}", times=2)
        carla_log.assert_clean()
    finally:
        carla_context.close()

    denied = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "case_access_denied")).all()
    assert [(event.actor_id, event.case_id) for event in denied] == [(colleague.id, uuid.UUID(case_id))] * 2
    db.session.commit()
    page_log.assert_clean()
