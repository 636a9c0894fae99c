"""Only supervisors reach the statistics, and only for the sites they supervise."""

from __future__ import annotations

import pytest

from counsel.models.user import Role


@pytest.mark.parametrize("path", ["/reports/", "/reports/print", "/reports/export.csv", "/reports/export.xlsx"])
def test_advisers_and_admins_are_refused(make_user, signed_in, path):
    for role in (Role.ADVISER, Role.ADMIN):
        browser = signed_in(make_user(None, role))
        assert browser.get(path).status_code == 403


@pytest.mark.parametrize("path", ["/reports/", "/reports/export.csv"])
def test_anonymous_visitors_are_sent_to_sign_in(client, path):
    response = client.get(path)
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_a_supervisor_sees_the_statistics_and_the_menu_entry(supervisor, signed_in):
    browser = signed_in(supervisor)
    page = browser.get("/reports/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'href="/reports/"' in html and "reports.css" in html


def test_a_coordinator_who_is_also_adviser_gets_in(make_user, signed_in):
    browser = signed_in(make_user(None, Role.ADVISER, Role.SUPERVISOR))
    assert browser.get("/reports/").status_code == 200


def test_sites_outside_her_scope_are_refused(supervisor, signed_in, second_site):
    browser = signed_in(supervisor)
    assert browser.get(f"/reports/?sites={second_site.id}").status_code == 403
    assert browser.get(f"/reports/export.csv?sites={second_site.id}").status_code == 403
    assert browser.get(f"/reports/?sites={supervisor.site_id}").status_code == 200


def test_a_network_supervisor_sees_all_her_sites_side_by_side(network_supervisor, signed_in, second_site):
    html = signed_in(network_supervisor).get("/reports/").get_data(as_text=True)
    assert "Dortmund" in html and "Düsseldorf" in html


def test_links_to_a_run_or_an_older_month_show_it_chosen(supervisor, signed_in):
    browser = signed_in(supervisor)
    html = browser.get("/reports/?period=2025-01..2025-05").get_data(as_text=True)
    assert 'value="2025-01"' in html and 'value="2025-05"' in html and '<option selected value="run">' in html
    html = browser.get("/reports/?period=2019-03").get_data(as_text=True)
    assert '<option selected value="2019-03">' in html
