"""No GET changes state: opening the second-factor page makes no key; the "start" button (a POST) does.

Issue 11 found that a GET of /account/totp stored a new secret on the account: any link or
prefetch that reached the page changed the account.
"""

from __future__ import annotations

import re

from counsel.extensions import db

SECRET = re.compile(r'id="totp-secret">([A-Z2-7]{32})<')


def test_opening_the_page_stores_nothing(adviser, signed_in):
    client = signed_in(adviser)
    for _ in range(2):
        page = client.get("/account/totp").get_data(as_text=True)
        assert SECRET.search(page) is None and 'name="start"' in page
    db.session.refresh(adviser)
    assert adviser.totp_secret is None


def test_starting_makes_one_key_that_stays_on_reload(adviser, signed_in):
    client = signed_in(adviser)
    started = client.submit("/account/totp", {"start": "1"})
    assert started.status_code == 302 and started.location == "/account/totp"
    shown = SECRET.search(client.get("/account/totp").get_data(as_text=True)).group(1)
    again = client.submit("/account/totp", {"start": "1"}, follow_redirects=True).get_data(as_text=True)
    assert SECRET.search(again).group(1) == shown  # a second press does not invalidate the scanned code
    db.session.refresh(adviser)
    assert adviser.totp_secret == shown and adviser.totp_enabled is False


def test_a_start_without_the_form_token_is_refused(adviser, signed_in):
    client = signed_in(adviser)
    assert client.post("/account/totp", data={"start": "1"}).status_code == 400
    db.session.refresh(adviser)
    assert adviser.totp_secret is None
