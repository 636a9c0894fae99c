"""End to end in Chromium, with the second factor required: the first admin enrols, creates an
adviser, and the adviser takes over her account (own password, own second factor).

Each enrolment spends the current TOTP code of its own account; no account uses a code twice,
so the test never waits for the next 30-second step.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from counsel.extensions import db
from counsel.models.site import Site
from counsel.models.user import Role, User
from counsel.services import totp
from tests.browser.helpers import (
    PageLog,
    accept_pledge,
    change_password,
    enrol_second_factor,
    heading,
    notice,
    sign_in,
    sign_out,
)
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser

NEW_USERNAME = "a.yilmaz"
NEW_NAME = "Aylın Yılmaz"
NEW_PASSWORD = "violet clouds drift over the ruhr at dawn 7"


@pytest.mark.settings(require_totp=True)
def test_first_admin_creates_an_adviser_who_takes_over_her_account(
    make_user, site: Site, live_server: str, page: Page, page_log: PageLog
):
    make_user("admin", Role.ADMIN, must_change=False, name="Ada Admin")
    site_label = str(site)  # "Dortmund (DO)", as the site select shows it
    db.session.commit()  # end this thread's read transaction: the server's threads do the work from here

    # The admin signs in and is sent to set up her second factor before anything else.
    page.goto("/")
    expect(page).to_have_url(f"{live_server}/login?next=/")
    sign_in(page, "admin", PASSWORD)
    enrol_second_factor(page)
    expect(page).to_have_url(f"{live_server}/")
    heading(page, "Welcome, %(name)s", name="Ada Admin")

    # Accounts page, then the form for a new account.
    page.locator("header nav a[href='/admin/users']").click()
    expect(page).to_have_url(f"{live_server}/admin/users")
    heading(page, "Accounts")
    expect(page.locator("main table tbody tr")).to_have_count(1)  # only the admin so far
    page.locator("main a[href='/admin/users/new']").click()
    expect(page).to_have_url(f"{live_server}/admin/users/new")
    heading(page, "New account")
    form = page.locator("form[action='/admin/users/new']")
    form.locator("input[name=username]").fill(NEW_USERNAME)
    form.locator("input[name=display_name]").fill(NEW_NAME)
    form.locator("select[name=site_id]").select_option(label=site_label)
    form.locator("input[name=roles][value=adviser]").check()
    form.locator("select[name=locale]").select_option("en")
    form.locator("button[type=submit]").click()
    heading(page, "Account created")
    one_time_password = page.locator("#one-time-password").inner_text().strip()
    assert len(one_time_password) >= 12, one_time_password
    sign_out(page)

    # The adviser signs in with the one-time password and must choose her own first.
    sign_in(page, NEW_USERNAME, one_time_password)
    expect(page).to_have_url(f"{live_server}/account/password")
    expect(page.locator("html")).to_have_attribute("lang", "en")  # the language the admin chose for her
    heading(page, "Change password")
    notice(page, "Please choose your own password before you continue.")
    page.goto("/")  # nothing else is reachable until she has
    expect(page).to_have_url(f"{live_server}/account/password")
    change_password(page, one_time_password, NEW_PASSWORD)

    # With the new password, she must enrol her own second factor; then she reaches the start page.
    sign_in(page, NEW_USERNAME, NEW_PASSWORD)
    recovery_codes = enrol_second_factor(page)
    expect(page).to_have_url(f"{live_server}/")
    heading(page, "Welcome, %(name)s", name=NEW_NAME)
    expect(page.locator("header nav a[href='/admin/users']")).to_have_count(0)  # an adviser, not an admin

    # Before her first case she accepts the confidentiality pledge (in English, her language); then the cases open.
    page.goto("/cases/")
    accept_pledge(page)
    expect(page).to_have_url(f"{live_server}/cases/")

    # Next time she passes the second step; a recovery code stands in for the app, whose current
    # code was just spent on the enrolment (a code counts once per 30-second step).
    sign_out(page)
    sign_in(page, NEW_USERNAME, NEW_PASSWORD)
    expect(page).to_have_url(f"{live_server}/login/totp")
    heading(page, "Second step")
    expect(page.locator("input[name=code]")).to_be_focused()
    page.keyboard.type(recovery_codes[0])
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{live_server}/")
    heading(page, "Welcome, %(name)s", name=NEW_NAME)

    db.session.expire_all()
    adviser = db.session.scalars(select(User).where(User.username == NEW_USERNAME)).one()
    assert adviser.roles == {Role.ADVISER} and adviser.site.code == "DO" and adviser.locale == "en"
    assert adviser.totp_enabled and not adviser.must_change_password
    assert totp.remaining_recovery_codes(adviser) == 9
    page_log.assert_clean()
