"""`counsel demo seed` makes cases that read exactly like real ones, and never in production."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from counsel.cli import cli
from counsel.clock import today
from counsel.extensions import db
from counsel.models.case import Case
from counsel.models.consultation import Consultation
from counsel.models.safety import Perpetrator
from counsel.models.user import User
from counsel.reporting import facts
from counsel.services import cases, conflicts
from counsel.services.cases import CaseInput


def test_seeded_cases_open_search_and_number_like_real_ones(app, new_client):
    result = app.test_cli_runner().invoke(cli, ["demo", "seed", "--cases", "40"], catch_exceptions=False)
    assert result.exit_code == 0 and "40 cases" in result.output
    assert db.session.scalar(select(func.count()).select_from(Consultation)) > 40
    assert db.session.scalar(select(func.count(func.distinct(Case.site_id)))) >= 4
    case = db.session.scalars(select(Case).order_by(Case.number)).first()
    owner = db.session.get(User, case.owner_id)
    browser = new_client()
    assert browser.sign_in(owner.username, "demo-passwort-2026").status_code == 302
    assert browser.get(f"/cases/{case.id}").location.startswith("/account/pledge")  # her first case asks for it
    browser.submit("/account/pledge", {"version": app.config["COUNSEL"].pledge_in_force})
    page = browser.get(f"/cases/{case.id}").get_data(as_text=True)
    assert case.name in page and case.notes in page
    assert case in cases.find_by_name(owner, case.name.upper()).visible
    fresh = cases.open_case(owner, CaseInput(name="Neue Klientin"))
    assert db.session.scalar(select(func.count()).where(Case.number == fresh.number)) == 1
    assert db.session.scalar(select(func.count()).select_from(facts.counted_cases(today()).subquery())) > 20
    perpetrator = db.session.scalars(select(Perpetrator)).first()
    found = conflicts.check(owner, conflicts.Contact(phone=perpetrator.phone), "perpetrator")
    assert [m.field for m in found] == ["phone"]


@pytest.mark.settings(env="production", secret_key="p" * 40, session_cookie_secure=True)
def test_seeding_is_refused_in_production(app):
    result = app.test_cli_runner().invoke(cli, ["demo", "seed", "--cases", "5"])
    assert result.exit_code == 1 and "production" in result.output
    assert db.session.scalar(select(func.count()).select_from(Case)) == 0
