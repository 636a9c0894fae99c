"""The report page, the printable funder report and the exports: rules, consent, audit, CSP."""

from __future__ import annotations

import io
import re
from datetime import date

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from counsel.extensions import db
from counsel.models.audit import AuditEvent
from counsel.models.safety import Consent
from tests.reports.conftest import Fake, Visit, lay_down

QUARTER = "period=2025-Q2"


def fakes(site_id: int, count: int, **fields) -> list[Fake]:
    return [Fake(site_id=site_id, opened=date(2025, 4, 1), visits=[Visit(date(2025, 5, 6))], **fields)
            for _ in range(count)]


def numbers_in(html: str) -> list[str]:
    return re.findall(r'<td class="num shown">([^<]*)', html)


def test_a_report_over_fewer_than_k_people_shows_no_figure(owner, supervisor, signed_in):
    lay_down(owner, fakes(owner.site_id, 4))
    html = signed_in(supervisor).get(f"/reports/?{QUARTER}").get_data(as_text=True)
    assert 'id="too-few"' in html and "&lt;5" not in html
    assert numbers_in(html) == [] and "<table" not in html


def test_only_consenting_cases_count_and_the_rest_are_said_to_be_left_out(owner, supervisor, signed_in):
    lay_down(owner, fakes(owner.site_id, 12) + fakes(owner.site_id, 6, consent=False)
             + fakes(owner.site_id, 2, withdrawn=date(2025, 1, 1)))
    html = signed_in(supervisor).get(f"/reports/?{QUARTER}").get_data(as_text=True)
    assert re.search(r'<tfoot>\s*<tr>\s*<th scope="row">[^<]+</th>\s*<td class="num shown">12</td>', html)
    assert '<dd id="excluded">8</dd>' in html


def test_a_withdrawn_consent_takes_the_case_out_of_every_later_report(owner, supervisor, signed_in):
    ids = lay_down(owner, fakes(owner.site_id, 6))
    browser = signed_in(supervisor)
    assert '<dd id="excluded">0</dd>' in browser.get(f"/reports/?{QUARTER}").get_data(as_text=True)
    consent = db.session.scalars(select(Consent).where(Consent.case_id == ids[0])).one()
    consent.withdrawn_on = date(2025, 6, 1)  # long after the quarter's cases were counted
    db.session.commit()
    html = browser.get(f"/reports/?{QUARTER}").get_data(as_text=True)
    assert '<dd id="excluded">&lt;5</dd>' in html  # one left out: a count of people below k
    assert re.search(r'<tfoot>\s*<tr>\s*<th scope="row">[^<]+</th>\s*<td class="num shown">5</td>', html)


def test_every_look_and_export_is_in_the_audit_trail_without_figures(owner, supervisor, signed_in):
    lay_down(owner, fakes(owner.site_id, 9))
    browser = signed_in(supervisor)
    browser.get(f"/reports/?{QUARTER}")
    browser.get(f"/reports/export.csv?{QUARTER}")
    browser.get(f"/reports/export.xlsx?{QUARTER}&audience=funder")
    browser.get(f"/reports/print?{QUARTER}")
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.action.like("report_%"))
                                .order_by(AuditEvent.seq)).all()
    assert [(e.action, e.detail) for e in events] == [
        ("report_viewed", "period=2025-Q2 sites=DO audience=team"),
        ("report_exported", "period=2025-Q2 sites=DO audience=team format=csv"),
        ("report_exported", "period=2025-Q2 sites=DO audience=funder format=xlsx"),
        ("report_viewed", "period=2025-Q2 sites=DO audience=funder view=print"),
    ]
    assert all(e.actor_id == supervisor.id and e.case_id is None for e in events)


def test_exports_carry_the_same_suppressed_tables(owner, supervisor, signed_in):
    lay_down(owner, fakes(owner.site_id, 9) + fakes(owner.site_id, 2, age_band="over_60"))
    browser = signed_in(supervisor)
    csv = browser.get(f"/reports/export.csv?{QUARTER}")
    assert csv.mimetype == "text/csv" and "attachment" in csv.headers["Content-Disposition"]
    text = csv.get_data().decode("utf-8-sig")
    assert "<5" in text and ",11" in text
    xlsx = browser.get(f"/reports/export.xlsx?{QUARTER}")
    book = load_workbook(io.BytesIO(xlsx.get_data()), read_only=True)
    try:
        rows = list(book["age"].iter_rows(values_only=True))
    finally:
        book.close()
    assert any(row[1] == "<5" for row in rows) and any(row[1] == 11 for row in rows)


def test_the_funder_report_is_stricter_and_rounded(owner, supervisor, signed_in):
    lay_down(owner, fakes(owner.site_id, 13) + fakes(owner.site_id, 6, age_band="over_60"))
    browser = signed_in(supervisor)
    team = browser.get(f"/reports/?{QUARTER}").get_data(as_text=True)
    funder = browser.get(f"/reports/print?{QUARTER}").get_data(as_text=True)
    assert "19" in numbers_in(team) and "&lt;5" not in funder
    assert "&lt;10" in funder and "20" in numbers_in(funder)
    assert all(int(n) % 5 == 0 for n in numbers_in(funder) if n.isdigit())


@pytest.mark.settings(report_min_cell=3)
def test_k_is_set_per_installation(owner, supervisor, signed_in):
    lay_down(owner, fakes(owner.site_id, 6) + fakes(owner.site_id, 2, age_band="over_60"))
    html = signed_in(supervisor).get(f"/reports/?{QUARTER}").get_data(as_text=True)
    assert "&lt;3" in html and "&lt;5" not in html


def test_pages_are_csp_clean_and_charts_are_inline_svg(owner, supervisor, signed_in):
    lay_down(owner, fakes(owner.site_id, 12, violence={"physical", "fgm"}))
    browser = signed_in(supervisor)
    for path in (f"/reports/?{QUARTER}", f"/reports/print?{QUARTER}"):
        response = browser.get(path)
        html = response.get_data(as_text=True)
        assert "style-src 'self'" in response.headers["Content-Security-Policy"]
        assert "<svg" in html and "<script" not in html and "<style" not in html
        assert not re.search(r"\sstyle=", html)
        assert 'class="hint multi"' in html  # multi-answer tables say their rows do not add up


def test_advisers_never_appear(owner, supervisor, signed_in):
    lay_down(owner, fakes(owner.site_id, 12))
    html = signed_in(supervisor).get(f"/reports/?{QUARTER}").get_data(as_text=True)
    assert owner.display_name not in html and owner.username not in html
