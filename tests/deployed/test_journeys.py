"""Each role's main journey in Chromium, through nginx over HTTPS, in production mode.

Every form here (sign-in, second step, password, language, case, consultation, lock, account)
is a POST that Flask-WTF checks for a same-origin Referer on HTTPS: with the referrer policy the
app sent before (no-referrer) the first sign-in already failed with "form expired".

Accounts are made as a service would make them: the first admin by `counsel setup`, the others
by the admin in the browser or by the operator with `counsel users create`. Everybody enrols a
second factor (production requires it) and signs in with codes of an authenticator app.
Texts are compared with the app's own catalogues (`app` fixture: a local app, used only for them).
"""

from __future__ import annotations

import csv
import io
import re
import time

import openpyxl
import pytest
from flask import Flask
from playwright.sync_api import BrowserContext, Page, expect

from counsel.languages import language_name
from tests.browser.helpers import (
    Authenticator,
    PageLog,
    accept_pledge,
    change_password,
    enrol_second_factor,
    heading,
    notice,
    second_step,
    sign_in,
    sign_out,
    ui_text,
)
from tests.deployed.stack import Stack

pytestmark = pytest.mark.browser

NEW_PASSWORD = "lanterns over the phoenix lake at night 9"
CASE_URL = re.compile(r"/cases/([0-9a-f-]{36})$")


def take_over_account(page: Page, username: str, one_time_password: str) -> Authenticator:
    """First sign-in: her own password, then her own second factor; she ends on the start page."""
    sign_in(page, username, one_time_password)
    change_password(page, one_time_password, NEW_PASSWORD)
    sign_in(page, username, NEW_PASSWORD)
    app = Authenticator()
    enrol_second_factor(page, app)
    expect(page).to_have_url(re.compile(r"/$"))
    return app


def newcomer(stack: Stack, context: BrowserContext, username: str, role: str, start: str) -> tuple[Page, Authenticator]:
    """An account the operator made, taken over in the browser from the page she first opens."""
    one_time_password = stack.create_account(username, role)
    page = context.new_page()
    page.goto(start)
    return page, take_over_account(page, username, one_time_password)


def posts_served(stack: Stack) -> list[int]:
    return [sum('"POST ' in line for line in instance.requests_served()) for instance in stack.instances]


def test_admin_switches_language_takes_over_the_first_account_creates_one_and_reads_the_audit_trail(
    app: Flask, stack: Stack, deployed_context: BrowserContext, deployed_log: PageLog
):
    page = deployed_context.new_page()
    page.goto("/")
    expect(page).to_have_url(f"{stack.url}/login?next=/")
    expect(page.locator("html")).to_have_attribute("lang", "de")
    page.locator("header form[action='/language'] button[name=locale][value=en]").click()  # a form, too
    expect(page.locator("html")).to_have_attribute("lang", "en")
    heading(page, "Sign in")

    take_over_account(page, "admin", stack.admin_password)
    heading(page, "Welcome, %(name)s", name="Administration")

    page.locator("header nav a[href='/admin/users']").click()
    page.locator("main a[href='/admin/users/new']").click()
    heading(page, "New account")
    form = page.locator("form[action='/admin/users/new']")
    form.locator("input[name=username]").fill("n.haddad")
    form.locator("input[name=display_name]").fill("Nour Haddad")
    form.locator("select[name=site_id]").select_option(label="Zentrale (HQ)")
    form.locator("input[name=roles][value=adviser]").check()
    form.locator("button[type=submit]").click()
    heading(page, "Account created")
    assert len(page.locator("#one-time-password").inner_text().strip()) >= 12

    page.goto("/admin/audit")
    created = page.locator("main table tbody tr").filter(has_text="Nour Haddad")
    expect(created).to_have_count(1)
    # who, what, whom: columns 3, 4 and 6 of the trail
    expect(created.locator("td:nth-child(3)")).to_have_text("Administration")
    expect(created.locator("td:nth-child(4)")).to_have_text(ui_text(page, "Account created"))
    expect(created.locator("td:nth-child(6)")).to_have_text("Nour Haddad")
    sign_out(page)
    deployed_log.assert_clean()


def test_adviser_signs_in_with_her_second_factor_opens_a_case_logs_a_consultation_locks_and_comes_back(
    app: Flask, stack: Stack, deployed_context: BrowserContext, deployed_log: PageLog
):
    page, authenticator = newcomer(stack, deployed_context, "m.tesfaye", "adviser", "/")
    sign_out(page)
    before = posts_served(stack)

    # A normal morning: password and code.
    sign_in(page, "m.tesfaye", NEW_PASSWORD)
    second_step(page, authenticator)
    expect(page).to_have_url(f"{stack.url}/")

    # Her first case page: the confidentiality pledge comes first; then she checks the name and opens
    # the case from the result.
    page.goto("/cases/check")
    accept_pledge(page)
    expect(page).to_have_url(f"{stack.url}/cases/check")
    form = page.locator("form[action='/cases/check']")
    form.locator("input[name=name]").fill("Selam Gebremedhin")
    form.locator("input[name=language]").fill(f"{language_name('ti', 'de')} (ti)")
    form.locator("button[type=submit]").click()
    page.locator("main section[aria-live=polite] form[action='/cases/new'] button[type=submit]").click()
    heading(page, "New case")
    page.locator("form[action='/cases/new'] textarea[name=notes]").fill("Kam mit ihrer Schwester.")
    page.locator("form[action='/cases/new'] button[type=submit]").click()
    expect(page).to_have_url(CASE_URL)
    case_url = page.url
    case_id = CASE_URL.search(case_url)[1]  # type: ignore[index]
    expect(page.locator("main dd.client-name")).to_have_text("Selam Gebremedhin")

    page.locator(f"main a[href='/cases/{case_id}/consultations/new']").click()
    consultation = page.locator(f"form[action='/cases/{case_id}/consultations/new']")
    consultation.locator("input[name=minutes]").fill("50")
    consultation.locator("textarea[name=notes]").fill("Beratung zum Aufenthaltsrecht.")
    consultation.locator("button[type=submit]").click()
    expect(page).to_have_url(case_url)
    notice(page, "Consultation saved.")
    expect(page.locator("main article.consultation div.notes")).to_have_text(["Beratung zum Aufenthaltsrecht."])

    # She leaves the desk: "Lock now" ends the session; the case is closed to this browser.
    page.locator("header form[action='/lock'] button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/login\?m=locked$"))
    notice(page, "The screen was locked and the session ended.")
    page.goto(case_url)
    expect(page).to_have_url(f"{stack.url}/login?next=/cases/{case_id}")

    # Back at her desk: password and a new code bring her straight back to the case.
    sign_in(page, "m.tesfaye", NEW_PASSWORD)
    second_step(page, authenticator)
    expect(page).to_have_url(case_url)
    expect(page.locator("main article.consultation div.notes")).to_have_text(["Beratung zum Aufenthaltsrecht."])

    # Her forms went to both instances: the session, her codes and the case hold on either.
    deadline = time.monotonic() + 10  # gunicorn logs a request after answering it
    while not all(now > then for now, then in zip(posts_served(stack), before, strict=True)):
        assert time.monotonic() < deadline, (before, posts_served(stack))
        time.sleep(0.05)
    deployed_log.assert_clean()


def test_supervisor_reads_the_report_and_downloads_csv_and_xlsx(
    app: Flask, stack: Stack, deployed_context: BrowserContext, deployed_log: PageLog
):
    page, _ = newcomer(stack, deployed_context, "k.weber", "supervisor", "/reports/")

    page.locator("header nav a[href^='/reports']").click()
    heading(page, "Anonymised statistics")
    actions = page.locator("main p.report-actions")

    title, sites = ui_text(page, "Anonymised statistics"), [ui_text(page, "Sites"), "Zentrale"]
    with page.expect_download() as csv_download:
        actions.locator("a[href*='export.csv'][href*='audience=team']").click()
    assert csv_download.value.suggested_filename.endswith("-team.csv")
    deployed_log.accept_download(csv_download.value.url)
    rows = list(csv.reader(io.StringIO(csv_download.value.path().read_text(encoding="utf-8-sig"))))
    assert rows[0] == [title] and sites in rows, rows[:5]

    with page.expect_download() as xlsx_download:
        actions.locator("a[href*='export.xlsx'][href*='audience=team']").click()
    assert xlsx_download.value.suggested_filename.endswith("-team.xlsx")
    deployed_log.accept_download(xlsx_download.value.url)
    workbook = openpyxl.load_workbook(io.BytesIO(xlsx_download.value.path().read_bytes()), read_only=True)
    try:
        about = [list(row) for row in workbook.worksheets[0].iter_rows(values_only=True)]
    finally:
        workbook.close()
    assert about[0][0] == title and sites in [row[:2] for row in about], about[:5]
    deployed_log.assert_clean()
