"""The name search is seen: a search that finds a case is on that case's "who has seen this case" page, and
name searches are limited per adviser.

The attack from issue 11: anyone at the site types a woman's name into the search, learns that she
is counselled here and by whom, and nothing of it reaches the case's holder.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from limits.storage import storage_from_string
from sqlalchemy import func, select

from counsel.extensions import db, limiter
from counsel.models.audit import AuditEvent
from counsel.models.user import Role

TYPED = "Fatma Yilmaz"  # typed without the dotless ı, as a colleague would


def search(client, name, token=None):
    return client.post("/cases/check", data={"name": name, "language": "", "csrf_token": token or client.csrf_token()})


def matches_recorded() -> int:
    return db.session.scalar(select(func.count()).select_from(AuditEvent)
                             .where(AuditEvent.action == "name_search_match")) or 0


def test_a_colleagues_search_is_on_the_case_page_of_its_holder(adviser, colleague, open_case, signed_in):
    case = open_case(adviser)
    searched_at = datetime(2026, 3, 10, 9, 41, tzinfo=UTC)  # 10:41 in Dortmund
    with time_machine.travel(searched_at, tick=False):
        page = search(signed_in(colleague), TYPED).get_data(as_text=True)
    assert "Berta Beraterin" in page  # she learns who holds it ...
    assert case.number not in page and "Rose" not in page  # ... and nothing more
    log = signed_in(adviser).get(f"/cases/{case.id}/access-log").get_data(as_text=True)
    row = next(r for r in log.split("<tr") if "Namenssuche hat diesen Fall gefunden" in r)
    assert "carla" in row and "10:41" in row and 'class="notable"' in row
    assert "Fatma" not in log and "Yilmaz" not in log  # never what she typed


def test_a_search_that_finds_nothing_writes_on_no_case(adviser, colleague, open_case, signed_in):
    open_case(adviser)
    search(signed_in(colleague), "Maria Schmidt")
    assert matches_recorded() == 0


def test_a_case_at_another_site_is_neither_named_nor_written_on(adviser, make_user, other_site, open_case,
                                                                 signed_in):
    case = open_case(adviser)
    page = search(signed_in(make_user("otto", Role.ADVISER, at=other_site)), TYPED).get_data(as_text=True)
    assert "Berta" not in page and case.number not in page
    assert matches_recorded() == 0


def test_the_61st_search_in_an_hour_is_refused_keeping_what_she_typed(adviser, colleague, make_user, open_case,
                                                                      signed_in):
    open_case(adviser)
    client = signed_in(colleague)
    token = client.csrf_token()
    start = datetime.now(UTC)
    with time_machine.travel(start, tick=False):
        for number in range(60):
            assert search(client, TYPED, token).status_code == 200, number
        refused = search(client, "Amina Haddad", token)
        page = refused.get_data(as_text=True)
        assert refused.status_code == 429
        alert = re.search(r'<p class="flash error" role="alert">([^<]+)</p>', page).group(1)
        assert "60" in alert
        assert re.search(r'<input[^>]+name="name"[^>]+value="Amina Haddad"', page)  # her input is still there
        assert "Berta Beraterin" not in page  # no result: the search did not run
        assert matches_recorded() == 60
        other = signed_in(make_user("dora", Role.ADVISER))
        assert search(other, TYPED).status_code == 200  # another adviser searches on
    with time_machine.travel(start + timedelta(hours=1, minutes=1), tick=False):
        assert search(signed_in(colleague), TYPED).status_code == 200  # an hour later she may again


@pytest.mark.settings(name_search_per_hour=2)
def test_the_limit_is_a_setting(adviser, colleague, signed_in):
    client = signed_in(colleague)
    token = client.csrf_token()
    assert [search(client, TYPED, token).status_code for _ in range(3)] == [200, 200, 429]


def refusals() -> list[tuple[object, str]]:
    return [(e.actor_id, e.detail) for e in db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "name_search_refused").order_by(AuditEvent.seq))]


@pytest.mark.settings(name_search_per_hour=1)
def test_a_refused_search_is_on_the_trail_without_the_name(colleague, signed_in):
    client = signed_in(colleague)
    token = client.csrf_token()
    assert [search(client, TYPED, token).status_code for _ in range(3)] == [200, 429, 429]
    assert refusals() == [(colleague.id, "limit=1")] * 2
    assert not db.session.scalar(select(func.count()).select_from(AuditEvent)
                                 .where(AuditEvent.detail.contains("Fatma")))


def test_without_its_count_the_search_is_paused_not_unlimited(adviser, colleague, open_case, signed_in,
                                                              monkeypatch):
    """The count's storage goes down after she signed in (a Redis where nothing listens): no search runs."""
    open_case(adviser)
    client = signed_in(colleague)
    token = client.csrf_token()
    monkeypatch.setattr(limiter.limiter, "storage", storage_from_string("redis://127.0.0.1:1/0", wrap_exceptions=True))
    response = search(client, TYPED, token)
    page = response.get_data(as_text=True)
    assert response.status_code == 503
    assert "Die Namenssuche ist angehalten" in page
    assert re.search(r'<input[^>]+name="name"[^>]+value="Fatma Yilmaz"', page)  # what she typed is kept
    assert "Berta Beraterin" not in page and matches_recorded() == 0
    assert refusals() == [(colleague.id, "count_unavailable")]
