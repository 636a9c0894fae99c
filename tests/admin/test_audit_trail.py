"""The audit trail page: admins browse, filter and verify it; nobody else reaches it."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
import time_machine
from sqlalchemy import select, text

from counsel import audit
from counsel.extensions import db
from counsel.models.audit import AuditEvent
from counsel.models.user import Role
from tests.test_security import concrete_urls

HEADERS = ["No.", "Time", "Who", "Action", "Case number", "Affected account", "From (address)", "Detail"]


def audit_urls(app):
    return [(e, m, u) for e, m, u in concrete_urls(app) if e.startswith("admin_audit.")]


def shown_seqs(response):
    """The event numbers of the rows on a page, in the order shown."""
    return [int(n) for n in re.findall(r'<tr id="event-(\d+)">', response.get_data(as_text=True))]


def case(number):
    return SimpleNamespace(id=uuid.uuid4(), number=number)


def at(day, hour=12):
    return time_machine.travel(datetime(2026, 1, day, hour, 0, 0, tzinfo=UTC), tick=False)


@pytest.fixture
def english_admin(admin):
    admin.locale = "en"
    db.session.commit()
    return admin


@pytest.fixture
def trail(english_admin, adviser, supervisor):
    """A small trail over three days: case work by the adviser, account work by the admin."""
    with at(10):
        audit.record("case_created", actor=adviser, case=case("DO-2026-0042"))
        audit.record("case_viewed", actor=adviser, case=case("DO-2026-0042"))
    with at(11):
        audit.record("case_viewed", actor=adviser, case=case("DO-2026-0043"))
        audit.record("user_changed", actor=english_admin, target_user=supervisor, detail="roles=adviser->supervisor")
    with at(12):
        audit.record("sign_in_failed", actor_name="(unknown name)", detail="password")
        audit.record("mystery_action", actor_name="(command line)")
    db.session.commit()
    return {"before": db.session.scalars(select(AuditEvent.seq).order_by(AuditEvent.seq)).all()}


@pytest.fixture
def browser(english_admin, signed_in):
    return signed_in(english_admin)


@pytest.mark.parametrize("roles", [(Role.ADVISER,), (Role.SUPERVISOR,), (Role.ADVISER, Role.SUPERVISOR)],
                         ids=["adviser", "supervisor", "coordinator"])
def test_non_admins_are_refused_on_every_audit_page(app, make_user, signed_in, roles):
    client = signed_in(make_user("nonadmin", *roles))
    urls = audit_urls(app)
    assert {e for e, _, _ in urls} == {"admin_audit.index", "admin_audit.verify"}
    for endpoint, method, url in urls:
        assert client.open(url, method=method).status_code == 403, (endpoint, method)
        assert client.open(url + "?action=sign_in&page=2", method=method).status_code == 403
    assert db.session.scalars(select(AuditEvent).where(AuditEvent.action.like("audit_%"))).all() == []


def test_anonymous_visitors_are_sent_to_sign_in(app, client):
    for _, method, url in audit_urls(app):
        response = client.open(url, method=method)
        assert response.status_code == 302 and response.location.startswith("/login"), url


def test_the_navigation_offers_the_trail_to_admins_only(english_admin, adviser, signed_in):
    assert 'href="/admin/audit/"' in signed_in(english_admin).get("/").get_data(as_text=True)
    assert 'href="/admin/audit/"' not in signed_in(adviser).get("/").get_data(as_text=True)


def test_admin_sees_the_trail_newest_first_with_people_and_labels(trail, browser, english_admin, supervisor):
    response = browser.get("/admin/audit/")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    seqs = shown_seqs(response)
    assert seqs == sorted(seqs, reverse=True) and set(trail["before"]) <= set(seqs)
    assert "Case opened" in html and "Account changed" in html and "Sign-in failed" in html
    assert "mystery_action" in html  # an unknown code is shown as it is
    assert "Berta Beraterin" in html and "Sven Koordination" in html  # display names, not ids
    assert "(unknown name)" in html and "(command line)" in html  # stored names of non-users
    assert "DO-2026-0042" in html and "roles=adviser-&gt;supervisor" in html
    assert "127.0.0.1" in html  # the admin's own sign-in came from the test client
    assert "Jan 11, 2026" in html


def test_times_are_shown_in_the_interface_language(trail, admin, signed_in):
    """Recorded at noon UTC, shown in the service's time zone (Europe/Berlin, winter time)."""
    admin.locale = "de"
    db.session.commit()
    html = signed_in(admin).get("/admin/audit/").get_data(as_text=True)
    assert "10.01.2026, 13:00:00" in html and '<html lang="de">' in html


def test_the_page_shows_metadata_only(trail, browser, english_admin):
    html = browser.get("/admin/audit/").get_data(as_text=True)
    table = html[html.index("<table"):html.index("</table>")]
    assert re.findall(r'<th scope="col"[^>]*>([^<]+)</th>', table) == HEADERS
    assert "<caption" in table
    assert english_admin.password_hash not in html
    assert "style=" not in html and "<script" not in html  # strict CSP: nothing inline
    forms = re.findall(r'<form method="(\w+)" action="([^"]+)"', html)
    assert [(m, a) for m, a in forms if a.startswith("/admin/audit")] == [("get", "/admin/audit/")]


def test_every_filter_field_has_a_label(browser):
    html = browser.get("/admin/audit/").get_data(as_text=True)
    for name in ("action", "actor", "case_number", "date_from", "date_to", "ip"):
        assert f'<label for="{name}">' in html and f'id="{name}"' in html, name
    assert 'type="date"' in html


def test_filter_by_action(trail, browser):
    response = browser.get("/admin/audit/?action=case_viewed")
    html = response.get_data(as_text=True)
    assert len(shown_seqs(response)) == 2 and "Case opened" not in html.split("<table")[1]
    assert '<option selected value="case_viewed">Case viewed</option>' in html


def test_the_action_filter_offers_the_actions_present(trail, browser):
    html = browser.get("/admin/audit/").get_data(as_text=True)
    select_html = re.search(r'<select[^>]* id="action"[^>]*>(.*?)</select>', html, re.S).group(1)
    values = re.findall(r'value="([^"]*)"', select_html)
    # the fixtures' site and accounts were made through the services, which write their own events
    assert set(values) == {"", "case_created", "case_viewed", "user_changed", "sign_in_failed", "mystery_action",
                           "sign_in", "site_created", "user_created"}
    assert "password_reset" not in values


def test_filter_by_actor(trail, browser, adviser):
    response = browser.get(f"/admin/audit/?actor={adviser.id}")
    assert len(shown_seqs(response)) == 3
    assert "Berta Beraterin (berta)" in response.get_data(as_text=True)


def test_filter_by_case_number_is_exact_and_ignores_case(trail, browser):
    assert len(shown_seqs(browser.get("/admin/audit/?case_number=do-2026-0042"))) == 2
    assert len(shown_seqs(browser.get("/admin/audit/?case_number=DO-2026-0043"))) == 1
    assert shown_seqs(browser.get("/admin/audit/?case_number=DO-2026-004")) == []


def test_filter_by_date_range(trail, browser):
    assert len(shown_seqs(browser.get("/admin/audit/?date_from=2026-01-11&date_to=2026-01-11"))) == 2
    assert len(shown_seqs(browser.get("/admin/audit/?date_to=2026-01-10"))) == 2
    assert len(shown_seqs(browser.get("/admin/audit/?date_from=2026-01-11&action=case_viewed"))) == 1


def test_a_range_that_ends_before_it_starts_is_explained(trail, browser):
    response = browser.get("/admin/audit/?date_from=2026-01-12&date_to=2026-01-10")
    assert response.status_code == 200
    assert "The end date is before the start date." in response.get_data(as_text=True)


def test_filter_by_address_prefix(trail, browser, new_client, english_admin):
    other = new_client()
    other.environ_base["REMOTE_ADDR"] = "10.20.30.40"
    other.sign_in(english_admin.username)
    response = browser.get("/admin/audit/?ip=10.20.")
    assert len(shown_seqs(response)) == 1 and "10.20.30.40" in response.get_data(as_text=True)
    refused = browser.get("/admin/audit/?ip=10.2_")  # not a wildcard: refused with a reason, nothing shown
    assert shown_seqs(refused) == [] and "dots and colons only" in refused.get_data(as_text=True)


def latest():
    return db.session.scalar(select(AuditEvent.seq).order_by(AuditEvent.seq.desc()).limit(1))


def test_pagination_by_fifty(english_admin, browser):
    for i in range(120):
        audit.record("case_viewed", actor_name="bulk", case=case(f"DO-2026-{i:04d}"))
    db.session.commit()
    newest = latest()  # each view adds its own audit_viewed event on top, after showing the page
    first = browser.get("/admin/audit/")
    assert shown_seqs(first) == list(range(newest, newest - 50, -1))
    html = first.get_data(as_text=True)
    assert 'href="/admin/audit/?page=2"' in html and 'href="/admin/audit/?page=3"' in html
    assert 'aria-current="page">1<' in html and 'rel="next"' in html and 'rel="prev"' not in html
    newest = latest()
    assert shown_seqs(browser.get("/admin/audit/?page=2")) == list(range(newest - 50, newest - 100, -1))
    newest = latest()
    last = browser.get("/admin/audit/?page=3")
    assert shown_seqs(last) == list(range(newest - 100, 0, -1))
    assert 'rel="next"' not in last.get_data(as_text=True) and 'rel="prev"' in last.get_data(as_text=True)
    newest = latest()
    assert shown_seqs(browser.get("/admin/audit/?page=99"))[0] == newest - 100  # past the end: the last page
    newest = latest()
    assert shown_seqs(browser.get("/admin/audit/?page=x"))[0] == newest  # nonsense: the first page


def test_page_links_keep_the_filters(english_admin, browser):
    for _ in range(60):
        audit.record("case_viewed", actor_name="bulk", case=case("DO-2026-0001"))
    db.session.commit()
    html = browser.get("/admin/audit/?case_number=do-2026-0001").get_data(as_text=True)
    assert 'href="/admin/audit/?case_number=do-2026-0001&amp;page=2"' in html
    assert len(shown_seqs(browser.get("/admin/audit/?case_number=do-2026-0001&page=2"))) == 10


def test_viewing_the_trail_is_itself_recorded(trail, browser, english_admin, adviser):
    browser.get(f"/admin/audit/?action=case_viewed&actor={adviser.id}&case_number=DO-2026-0042&date_from=2026-01-01")
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "audit_viewed")).one()
    assert event.actor_id == english_admin.id and event.ip == "127.0.0.1"
    assert event.detail == "action=case_viewed actor=berta case_number=DO-2026-0042 date_from=2026-01-01 page=1"
    assert audit.verify_chain().ok


def test_verify_page_reports_intact_then_broken(trail, browser, english_admin):
    response = browser.get("/admin/audit/verify")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    intact = re.search(r"Intact: (\d+) events verified", html)
    assert intact and int(intact.group(1)) == len(trail["before"]) + 1  # and the admin's sign-in
    assert "No checkpoint has been written yet" in html
    assert 'href="/admin/audit/verify"' in browser.get("/admin/audit/").get_data(as_text=True)
    db.session.execute(text("UPDATE audit_events SET case_number = 'DO-2026-0099' WHERE seq = 3"))
    db.session.commit()
    broken = browser.get("/admin/audit/verify").get_data(as_text=True)
    assert "Broken at event 3." in broken and "does not match its seal" in broken
    assert 'role="alert"' in broken and "DO-2026-0099" in broken  # the stored row is shown as evidence
    verified = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "audit_verified")
                                  .order_by(AuditEvent.seq)).all()
    assert [e.detail for e in verified][-1] == "broken at=3 changed" and verified[-1].actor_id == english_admin.id


def test_verify_page_names_a_cut_off_tail_found_by_a_checkpoint(trail, browser, settings):
    seq, mac = audit.write_checkpoint(settings.checkpoint_path)
    keep = seq - 2
    kept_mac = db.session.scalar(select(AuditEvent.mac).where(AuditEvent.seq == keep))
    db.session.execute(text("DELETE FROM audit_events WHERE seq > :keep"), {"keep": keep})
    db.session.execute(text("UPDATE audit_head SET seq = :keep, mac = :mac"), {"keep": keep, "mac": kept_mac})
    db.session.commit()
    html = browser.get("/admin/audit/verify").get_data(as_text=True)
    assert f"Broken at event {keep + 1}." in html
    assert f"Events {keep + 1} to {seq} are missing" in html and "cut off" in html


def test_the_pages_still_work_when_the_chain_head_is_gone(trail, browser):
    db.session.execute(text("DELETE FROM audit_head"))
    db.session.commit()
    before = db.session.scalars(select(AuditEvent.seq)).all()
    verify = browser.get("/admin/audit/verify")
    assert verify.status_code == 200
    html = verify.get_data(as_text=True)
    assert "chain head is missing" in html and "could not be recorded" in html
    listing = browser.get("/admin/audit/")
    assert listing.status_code == 200 and "could not be recorded" in listing.get_data(as_text=True)
    assert db.session.scalars(select(AuditEvent.seq)).all() == before
