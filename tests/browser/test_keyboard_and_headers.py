"""In Chromium: sign-in with the keyboard alone, pages that load nothing from elsewhere and break
no CSP rule, and "Lock now" ending the session for good."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import func, select

from counsel.extensions import db
from counsel.models.user import Role
from counsel.models.web_session import WebSession
from counsel.security import CONTENT_SECURITY_POLICY
from tests.browser.helpers import PageLog, heading, notice, path_of, sign_in, ui_text
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser

# Describes the focused element as tag#id.class, e.g. "a.skip" or "input#username".
FOCUSED = """() => {
  const element = document.activeElement;
  if (!element || element === document.body) return "body";
  return element.tagName.toLowerCase() + (element.id ? "#" + element.id : "")
    + [...element.classList].map((name) => "." + name).join("");
}"""
# Pages outside the main menu, besides every page the menu links to.
MORE_PAGES = ["/account/", "/account/password", "/account/totp", "/admin/users/new"]


def focused(page: Page) -> str:
    return str(page.evaluate(FOCUSED))


def session_cookie(page: Page) -> str | None:
    values = [cookie.get("value") for cookie in page.context.cookies() if cookie.get("name") == "counsel_session"]
    return values[0] if values else None


def test_sign_in_with_the_keyboard_only(adviser, live_server: str, page: Page, page_log: PageLog):
    page.goto("/login")
    stops = []
    while "input#username" not in stops:
        assert len(stops) < 10, f"Tab never reaches the user name field; it stops at {stops}"
        page.keyboard.press("Tab")
        stops.append(focused(page))
    assert stops[0] == "a.skip", f"the skip link must be the first stop, not {stops[0]}"
    page.keyboard.type("berta")
    page.keyboard.press("Tab")
    assert focused(page) == "input#password"
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{live_server}/")
    heading(page, "Welcome, %(name)s", name="Berta Beraterin")
    page_log.assert_clean()


def test_the_skip_link_comes_first_shows_on_focus_and_leads_to_the_form(live_server: str, page: Page,
                                                                        page_log: PageLog):
    page.goto("/login")
    skip = page.locator("a.skip")
    expect(skip).not_to_be_in_viewport()  # out of sight until it has the focus
    page.keyboard.press("Tab")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    expect(skip).to_have_text(ui_text(page, "Skip to content"))
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{live_server}/login#main")
    page.keyboard.press("Tab")
    expect(page.locator("input#username")).to_be_focused()
    page_log.assert_clean()


def test_an_untouched_form_marks_no_field_invalid(page: Page):
    """aria-invalid="None" (a None passed to WTForms) made screen readers call every field invalid."""
    page.goto("/login")
    for name in ("username", "password"):
        field = page.locator(f"input[name={name}]")
        assert field.get_attribute("aria-invalid") in (None, "false"), name
        described_by = field.get_attribute("aria-describedby")
        assert described_by is None or page.locator(f"[id='{described_by}']").count() == 1, name


def test_pages_load_nothing_from_elsewhere_and_break_no_csp_rule(make_user, live_server: str, page: Page,
                                                                  page_log: PageLog):
    make_user("ada", Role.ADMIN, Role.ADVISER, Role.SUPERVISOR, name="Ada Allrounder")  # sees every menu item
    response = page.goto("/login")
    assert response is not None and response.header_value("content-security-policy") == CONTENT_SECURITY_POLICY
    sign_in(page, "ada", PASSWORD)
    expect(page).to_have_url(f"{live_server}/")
    menu = page.locator("header nav a").evaluate_all("links => links.map((link) => link.getAttribute('href'))")
    assert "/admin/users" in menu, menu
    for path in dict.fromkeys([*menu, *MORE_PAGES]):
        response = page.goto(path)
        assert response is not None and response.status == 200, path
        assert path_of(page) == path, f"{path} sent the browser on to {path_of(page)}"
        assert response.header_value("content-security-policy") == CONTENT_SECURITY_POLICY, path
        assert response.header_value("cache-control") == "no-store", path
        # The one stylesheet is allowed by the policy and applied.
        expect(page.locator("header.top")).to_have_css("display", "flex")
        if path == "/account/totp":  # the QR code is inline SVG, no image request; the key is made by a POST
            page.locator("form[action='/account/totp'] button[name=start]").click()
            expect(page.locator("figure.qr svg")).to_be_visible()
    assert f"{live_server}/static/counsel.css" in page_log.requests
    assert page_log.foreign_requests() == []
    page_log.assert_clean()


def test_the_page_log_notices_csp_violations_script_errors_and_foreign_requests(page: Page, page_log: PageLog):
    """The checks above would pass vacuously if the log heard nothing; show that it hears each kind."""
    page.goto("/login")
    page_log.assert_clean()
    page.evaluate("document.querySelector('h1').setAttribute('style', 'color: red')")
    # Another origin on the loopback address: the policy blocks it before any connection is made.
    page.evaluate("""() => {
      const image = document.createElement("img");
      image.src = "http://127.0.0.2:9/tracker.png";
      document.body.append(image);
    }""")
    page.evaluate("setTimeout(() => { throw new Error('planted error'); }, 0)")

    def heard(directive: str) -> bool:
        return any(directive in text for text in page_log.csp_violations)

    page_log.wait_for(page, lambda: bool(page_log.page_errors) and heard("style-src") and heard("img-src"))
    assert page_log.foreign_requests() == ["http://127.0.0.2:9/tracker.png"]
    assert any("planted error" in text for text in page_log.page_errors)
    with pytest.raises(AssertionError, match="CSP violation"):
        page_log.assert_clean()


def test_lock_now_ends_the_session(adviser, live_server: str, page: Page, page_log: PageLog):
    page.goto("/login")
    sign_in(page, "berta", PASSWORD)
    expect(page).to_have_url(f"{live_server}/")
    heading(page, "Welcome, %(name)s", name="Berta Beraterin")
    signed_in_cookie = session_cookie(page)
    assert signed_in_cookie is not None
    lock = page.locator("header form[action='/lock'] button[type=submit]")
    expect(lock).to_have_text(ui_text(page, "Lock now"))  # "Jetzt sperren" in German
    lock.click()
    expect(page).to_have_url(f"{live_server}/login?m=locked")
    notice(page, "The screen was locked and the session ended.")

    # Back to the start page, by the browser's Back button and by address: only the sign-in page shows.
    page.go_back()
    expect(page).to_have_url(f"{live_server}/login?next=/")
    heading(page, "Sign in")
    page.goto("/")
    expect(page).to_have_url(f"{live_server}/login?next=/")
    heading(page, "Sign in")
    expect(page.locator("body")).not_to_contain_text("Berta Beraterin")
    expect(page.locator("header form[action='/lock']")).to_have_count(0)

    assert session_cookie(page) != signed_in_cookie  # the sign-in page started a new, anonymous session
    assert db.session.scalar(select(func.count()).select_from(WebSession).where(WebSession.user_id == adviser.id)) == 0
    page_log.assert_clean()
