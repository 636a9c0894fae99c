"""What browser tests share: the log of what a page did, and steps a person takes in counsel.

Elements are found by id, name, form action or URL, never by interface wording; where a test checks
a text, it asks the app's own catalogue for the message in the page's language (`ui_text`), so
it holds in German (the default) and English, with or without compiled German catalogues.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pyotp
from flask import current_app
from flask_babel import force_locale, gettext
from playwright.sync_api import expect

if TYPE_CHECKING:
    from collections.abc import Callable

    from playwright.sync_api import BrowserContext, ConsoleMessage, Page, Request, WebError

# Reports every CSP violation of every document in the context to Python, whatever the console says.
CSP_REPORTER = """
window.addEventListener("securitypolicyviolation", (event) => {
  window.counselCspViolation(`${event.effectiveDirective} blocked ${event.blockedURI || "inline"}`
    + ` in ${event.documentURI}`);
}, true);
"""
RECOVERY_CODE = re.compile(r"^[a-z2-7]{4}(-[a-z2-7]{4}){3}$")
TOTP_STEP_SECONDS = 30
CSP_CONSOLE_WORDS = ("Content Security Policy", "Content-Security-Policy")
ABORTED_ICON = re.compile(r"^GET \S+/static/favicon\.svg: net::ERR_ABORTED$")


@dataclass
class PageLog:
    """What the pages of one browser context did: requests, console, script errors, CSP violations."""

    origin: str
    requests: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    csp_violations: list[str] = field(default_factory=list)

    def attach(self, context: BrowserContext) -> None:
        """Listen to every page of the context; call before the first page opens."""
        context.on("request", self._on_request)
        context.on("requestfailed", self._on_request_failed)
        context.on("console", self._on_console)
        context.on("weberror", self._on_web_error)
        context.expose_binding("counselCspViolation", lambda _source, text: self.csp_violations.append(str(text)))
        context.add_init_script(CSP_REPORTER)

    def _on_request(self, request: Request) -> None:
        self.requests.append(request.url)

    def _on_request_failed(self, request: Request) -> None:
        self.failed_requests.append(f"{request.method} {request.url}: {request.failure}")

    def _on_console(self, message: ConsoleMessage) -> None:
        source = message.location.get("url", "")
        self.console.append(f"{message.type}: {message.text} ({source or 'no source'})")
        if any(word in message.text for word in CSP_CONSOLE_WORDS):
            self.csp_violations.append(message.text)

    def _on_web_error(self, error: WebError) -> None:
        self.page_errors.append(str(error.error))

    def foreign_requests(self) -> list[str]:
        """Requests to anything but the live server (another host, port or scheme)."""
        return [url for url in self.requests if origin_of(url) != self.origin]

    def accept_refusals(self, status: int, url: str, times: int) -> None:
        """Accept exactly the console errors Chromium logs for pages the test expects to be refused.

        Chromium reports every document answered with 4xx as "Failed to load resource"; where the
        refusal is what the test expects, these entries (and no others) are taken out of the log.
        """
        expected = re.compile(rf"^error: Failed to load resource: the server responded with a status of {status} "
                              rf"\(.*\) \({re.escape(url)}\)$")
        found = [entry for entry in self.console if expected.match(entry)]
        assert len(found) == times, (found, self.console)
        self.console = [entry for entry in self.console if not expected.match(entry)]

    def accept_download(self, url: str) -> None:
        """Take out the one entry Chromium logs when a navigation turns into a download: it is aborted."""
        entry = f"GET {url}: net::ERR_ABORTED"
        assert self.failed_requests.count(entry) == 1, (entry, self.failed_requests)
        self.failed_requests.remove(entry)

    def problems(self) -> list[str]:
        """What a clean page never causes: script errors, CSP violations, console errors, failed or foreign requests."""
        found = [f"page error: {text}" for text in self.page_errors]
        found += [f"CSP violation: {text}" for text in self.csp_violations]
        found += [f"console {text}" for text in self.console if text.startswith(("error:", "warning:"))]
        # Chromium cancels a favicon fetch when the test has already moved on to the next page.
        found += [f"failed request: {text}" for text in self.failed_requests if not ABORTED_ICON.match(text)]
        found += [f"request to another host: {url}" for url in self.foreign_requests()]
        return found

    def assert_clean(self) -> None:
        problems = self.problems()
        assert not problems, "the browser reported:\n" + "\n".join(problems)

    def wait_for(self, page: Page, condition: Callable[[], bool], timeout: float = 5.0) -> None:
        """Let Playwright deliver events until the condition holds (events arrive during Playwright calls)."""
        deadline = time.monotonic() + timeout
        while not condition():
            assert time.monotonic() < deadline, "the browser did not report it in time"
            page.wait_for_timeout(50)


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def path_of(page: Page) -> str:
    """The path and query of the page's URL, e.g. /login?m=locked."""
    parts = urlsplit(page.url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def ui_text(page: Page, message: str, **variables: Any) -> str:
    """Return a message as the app shows it in the page's language (from <html lang>).

    Uses the app's own catalogues, so the expectation holds whether or not the German
    translations are compiled yet (an untranslated message is shown in English).
    """
    language = page.locator("html").get_attribute("lang") or "de"
    with current_app.test_request_context(), force_locale(language):
        return str(gettext(message, **variables))


def heading(page: Page, message: str, **variables: Any) -> None:
    """Wait until the main heading reads the message, in the page's language."""
    expect(page.locator("main h1")).to_have_text(ui_text(page, message, **variables))


def notice(page: Page, message: str) -> None:
    """Wait until the first status message on the page reads the message."""
    expect(page.locator("main [role=status]").first).to_have_text(ui_text(page, message))


def sign_in(page: Page, username: str, password: str) -> None:
    """Fill in and send the sign-in form the page shows."""
    expect(page).to_have_url(re.compile(r"/login(\?|$)"))
    heading(page, "Sign in")
    form = page.locator("form[action='/login']")
    form.locator("input[name=username]").fill(username)
    form.locator("input[name=password]").fill(password)
    form.locator("button[type=submit]").click()


@dataclass
class Authenticator:
    """Her authenticator app: each code it gives belongs to a time step the server has not seen.

    counsel accepts the codes of the previous, current and next 30-second step, each step once
    per account. A test that signs in several times in a row asks for the next unused step and
    waits only when that step is still more than one step ahead.
    """

    secret: str = ""
    last_step: int | None = None

    def code(self) -> str:
        current = int(time.time()) // TOTP_STEP_SECONDS
        step = current if self.last_step is None else max(current, self.last_step + 1)
        while step > int(time.time()) // TOTP_STEP_SECONDS + 1:
            time.sleep(0.5)
        self.last_step = step
        return pyotp.TOTP(self.secret).at(step * TOTP_STEP_SECONDS)


def enrol_second_factor(page: Page, app: Authenticator | None = None) -> list[str]:
    """On the enrolment page: type the shown key into an "app", confirm its code; return the recovery codes."""
    app = app or Authenticator()
    expect(page).to_have_url(re.compile(r"/account/totp$"))
    heading(page, "Set up two-factor sign-in")
    notice(page, "Two-factor sign-in is required for every account of this service.")
    page.locator("form[action='/account/totp'] button[name=start]").click()  # the key is made by a POST
    expect(page).to_have_url(re.compile(r"/account/totp$"))
    expect(page.locator("figure.qr svg")).to_be_visible()
    app.secret = page.locator("#totp-secret").inner_text().strip()
    assert re.fullmatch(r"[A-Z2-7]{32}", app.secret), app.secret
    page.locator("input[name=code]").fill(app.code())
    page.locator("form[action='/account/totp'] button[type=submit]").click()
    heading(page, "Recovery codes")
    codes = page.locator("#recovery-codes li").all_inner_texts()
    assert len(codes) == 10 and len(set(codes)) == 10, codes
    assert all(RECOVERY_CODE.match(code.strip()) for code in codes), codes
    page.locator("main a[href='/']").click()  # "Continue"
    return codes


def second_step(page: Page, app: Authenticator) -> None:
    """Answer the second step of signing in with the app's next code."""
    expect(page).to_have_url(re.compile(r"/login/totp$"))
    heading(page, "Second step")
    page.locator("input[name=code]").fill(app.code())
    page.locator("form[action='/login/totp'] button[type=submit]").click()


def accept_pledge(page: Page) -> None:
    """On the confidentiality pledge she was sent to: its text in her language, and her "I accept"."""
    expect(page).to_have_url(re.compile(r"/account/pledge(\?|$)"))
    heading(page, "Confidentiality pledge")
    expect(page.locator("#pledge-text")).to_have_attribute("lang", page.locator("html").get_attribute("lang") or "de")
    expect(page.locator("#pledge-text p").first).not_to_be_empty()
    page.locator("form[action='/account/pledge'] button[type=submit]").click()
    expect(page).not_to_have_url(re.compile(r"/account/pledge(\?|$)"))


def change_password(page: Page, current: str, new: str) -> None:
    """On the password page: replace the current password; counsel then asks her to sign in again."""
    expect(page).to_have_url(re.compile(r"/account/password$"))
    heading(page, "Change password")
    form = page.locator("form[action='/account/password']")
    form.locator("input[name=current]").fill(current)
    form.locator("input[name=new]").fill(new)
    form.locator("input[name=confirm]").fill(new)
    form.locator("button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/login\?m=changed$"))
    notice(page, "Your password was changed. Please sign in with the new password.")


def sign_out(page: Page) -> None:
    button = page.locator("header form[action='/logout'] button[type=submit]")
    expect(button).to_have_text(ui_text(page, "Sign out"))
    button.click()
    expect(page).to_have_url(re.compile(r"/login\?m=signedout$"))
    notice(page, "You are signed out.")
