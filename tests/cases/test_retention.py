"""Retention: the purge erases exactly the closed cases whose period has ended and no hold keeps, nothing else."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from flask_migrate import upgrade
from sqlalchemy import select, text

from counsel.cli import cli
from counsel.clock import today
from counsel.errors import NotPermitted
from counsel.extensions import db
from counsel.models.audit import AuditEvent
from counsel.models.case import Case
from counsel.models.user import Role
from counsel.services import retention
from counsel.settings import SettingsError, load
from tests.conftest import ON_POSTGRES, make_settings
from tests.test_migrations import empty_app  # noqa: F401 - a fixture: a database of its own, empty


def run(app: Any, *args: str) -> Any:
    return app.test_cli_runner().invoke(cli, list(args), catch_exceptions=False)


def closed(case: Case, on: date) -> Case:
    case.status, case.closed_on, case.closed_month = "closed", on, on.replace(day=1)
    db.session.commit()
    return case


def numbers() -> set[str]:
    db.session.expire_all()
    return set(db.session.scalars(select(Case.number)))


@pytest.fixture
def cases_of_every_kind(adviser, open_case, other_site, make_user) -> dict[str, str]:
    """Closed exactly 36 months ago, a day too recently, long ago but held, open, and at a site that keeps 48 months."""
    day = today()
    due = closed(open_case(adviser), retention.add_months(day, -36))
    recent = closed(open_case(adviser), retention.add_months(day, -36) + timedelta(days=1))
    held = closed(open_case(adviser), retention.add_months(day, -60))
    retention.set_hold(adviser, held, "Sorgerechtsverfahren, AG Dortmund")
    still_open = open_case(adviser)
    other_site.retention_months = 48
    elsewhere = make_user("otto", Role.ADVISER, at=other_site)
    kept_longer = closed(open_case(elsewhere), retention.add_months(day, -40))
    due_longer = closed(open_case(elsewhere), retention.add_months(day, -48))
    db.session.commit()
    return {"due": due.number, "recent": recent.number, "held": held.number, "open": still_open.number,
            "kept_longer": kept_longer.number, "due_longer": due_longer.number}


def test_the_purge_erases_exactly_the_expired_closed_cases_without_a_hold(app, cases_of_every_kind):
    expected = {cases_of_every_kind["due"], cases_of_every_kind["due_longer"]}
    dry = run(app, "retention", "purge", "--dry-run")
    assert dry.exit_code == 0 and "2 cases would be erased" in dry.output
    assert {n for n in cases_of_every_kind.values() if n in dry.output} == expected
    assert numbers() == set(cases_of_every_kind.values())  # a dry run erases nothing

    result = run(app, "retention", "purge")
    assert result.exit_code == 0 and "2 cases erased" in result.output
    assert numbers() == set(cases_of_every_kind.values()) - expected
    erased = db.session.execute(select(AuditEvent.case_number, AuditEvent.detail)
                                .where(AuditEvent.action == "case_erased")).all()
    assert {number for number, _ in erased} == expected and all("cause=retention" in d for _, d in erased)
    assert "0 cases would be erased" in run(app, "retention", "purge", "--dry-run").output


def test_a_case_closed_one_day_too_recently_is_due_the_next_day(app, settings, adviser, open_case):
    case = closed(open_case(adviser), retention.add_months(today(), -36) + timedelta(days=1))
    assert retention.due(settings, today()) == []
    (item,) = retention.due(settings, today() + timedelta(days=1))
    assert (item.number, item.due_since) == (case.number, today() + timedelta(days=1))


@pytest.mark.settings(retention_months=0)
def test_with_no_retention_a_case_is_erased_once_closed(app, adviser, open_case, signed_in):
    case = open_case(adviser)
    number = case.number
    assert signed_in(adviser).submit(f"/cases/{case.id}/close").status_code == 302
    assert run(app, "retention", "purge").output.splitlines()[0] == f"erased {number}"
    assert number not in numbers()


def test_a_reopened_case_is_not_due(app, settings, adviser, open_case, signed_in):
    case = closed(open_case(adviser), date(2020, 1, 15))
    assert [item.number for item in retention.due(settings, today())] == [case.number]
    signed_in(adviser).submit(f"/cases/{case.id}/reopen")
    assert retention.due(settings, today()) == []


def test_a_site_keeps_longer_never_shorter(app, settings, site):
    assert "DO: closed cases are kept 48 months" in run(app, "retention", "site", "DO", "48").output
    assert retention.months_for(settings, site) == 48
    assert "kept 36 months" in run(app, "retention", "site", "DO", "12").output  # the installation's 36 hold
    assert "kept 36 months" in run(app, "retention", "site", "DO").output
    assert run(app, "retention", "site", "XX", "12").exit_code == 1


def test_the_setting_comes_from_the_environment_and_refuses_nonsense(tmp_path):
    assert make_settings(tmp_path).retention_months == 36
    assert load({"env": "test"}, environ={"COUNSEL_RETENTION_MONTHS": "120"}).retention_months == 120
    with pytest.raises(SettingsError, match="retention_months"):
        load({"env": "test"}, environ={"COUNSEL_RETENTION_MONTHS": "-1"})


def test_the_admin_page_lists_what_is_due_and_why_without_content(cases_of_every_kind, admin, signed_in):
    page = signed_in(admin).get("/admin/retention").get_data(as_text=True)
    main = page.split('<main id="main">')[1]
    for key in ("due", "due_longer", "held"):
        assert cases_of_every_kind[key] in main
    for key in ("recent", "open", "kept_longer"):
        assert cases_of_every_kind[key] not in main
    assert "Fatma" not in main and "He reads her phone" not in main and "Sorgerecht" not in main


def test_only_admins_reach_the_retention_page(adviser, supervisor, signed_in):
    assert signed_in(adviser).get("/admin/retention").status_code == 403
    assert signed_in(supervisor).get("/admin/retention").status_code == 403


# --- legal hold ------------------------------------------------------------------------------

def test_the_holder_sets_and_ends_a_legal_hold_on_the_case_page(adviser, open_case, signed_in):
    case = closed(open_case(adviser), date(2020, 1, 15))
    browser = signed_in(adviser)
    assert browser.submit(f"/cases/{case.id}/legal-hold", {"reason": "Gewaltschutzverfahren 12 F 34/26"}
                          ).status_code == 302
    page = browser.get(f"/cases/{case.id}").get_data(as_text=True)
    assert "12 F 34/26" in page and f"/cases/{case.id}/legal-hold/end" in page
    db.session.expire_all()
    assert db.session.get(Case, case.id).legal_hold.set_by_id == adviser.id
    assert browser.submit(f"/cases/{case.id}/legal-hold/end").status_code == 302
    actions = db.session.scalars(select(AuditEvent.action).where(AuditEvent.case_id == case.id)
                                 .order_by(AuditEvent.seq)).all()
    assert [a for a in actions if a.startswith("legal_hold")] == ["legal_hold_set", "legal_hold_ended"]
    db.session.expire_all()
    assert db.session.get(Case, case.id).legal_hold is None


def test_a_hold_without_a_reason_is_refused(adviser, open_case, signed_in):
    case = open_case(adviser)
    browser = signed_in(adviser)
    browser.submit(f"/cases/{case.id}/legal-hold", {"reason": "  "})
    db.session.expire_all()
    assert db.session.get(Case, case.id).legal_hold is None


def test_nobody_but_the_holder_sets_or_ends_a_hold(adviser, colleague, open_case, signed_in, admin, supervisor):
    case = open_case(adviser)
    signed_in(adviser).submit(f"/cases/{case.id}/sharing", {"colleague": str(colleague.id), "reason": "Urlaub"})
    assert signed_in(colleague).submit(f"/cases/{case.id}/legal-hold", {"reason": "x"}).status_code == 404
    assert signed_in(admin).submit(f"/cases/{case.id}/legal-hold", {"reason": "x"}).status_code == 403
    assert signed_in(supervisor).submit(f"/cases/{case.id}/legal-hold/end").status_code == 403
    with pytest.raises(NotPermitted):
        retention.set_hold(colleague, case, "direct call")
    db.session.rollback()
    assert db.session.get(Case, case.id).legal_hold is None


@pytest.mark.usefixtures("empty_app")
def test_the_migration_dates_cases_closed_before_it_from_the_trail():
    """A case closed before closed_on existed gets the day of its last closing event, else its month's last day."""
    upgrade(revision="b7e21f4c9a10")
    ids = [uuid.uuid4() for _ in range(3)]
    values = [value if ON_POSTGRES else value.hex for value in ids]
    with db.engine.begin() as conn:
        conn.execute(text("INSERT INTO sites (code, name, active) VALUES ('DO', 'Dortmund', :yes)"), {"yes": True})
        conn.execute(text("INSERT INTO users (id, username, display_name, password_hash, site_id, active, "
                          "must_change_password, password_changed_at, totp_enabled, created_at, locale) "
                          "SELECT :id, 'berta', 'Berta', 'x', id, :yes, :no, :now, :no, :now, 'de' FROM sites"),
                     {"id": values[0], "yes": True, "no": False, "now": datetime(2024, 1, 1)})
        for n, (value, status, month) in enumerate(zip(values, ("closed", "closed", "open"),
                                                       ("2024-03-01", "2024-02-01", None), strict=True)):
            conn.execute(text("INSERT INTO cases (id, number, site_id, owner_id, status, opened_month, closed_month, "
                              "age_band, residence_status, perpetrator_relation, created_at, updated_at, version) "
                              "SELECT :id, :number, sites.id, users.id, :status, '2024-01-01', :month, 'unknown', "
                              "'unknown', 'unknown', :now, :now, 1 FROM sites, users"),
                         {"id": value, "number": f"DO-2024-{n + 1:04d}", "status": status, "month": month,
                          "now": datetime(2024, 1, 1)})
        conn.execute(text("INSERT INTO audit_events (seq, at, actor_name, action, case_id, detail, mac) "
                          "VALUES (1, :at, 'berta', 'case_closed', :id, '', 'x')"),
                     {"at": datetime(2024, 3, 14, 9, 30), "id": values[0]})
    upgrade()
    found = dict(db.session.execute(select(Case.number, Case.closed_on)).tuples().all())
    assert found == {"DO-2024-0001": date(2024, 3, 14), "DO-2024-0002": date(2024, 2, 29), "DO-2024-0003": None}
    db.session.rollback()


def test_only_the_holder_closes_or_reopens_her_case(adviser, colleague, open_case, signed_in, settings):
    """Closing starts the retention period: a colleague it is shared with neither starts nor restarts it."""
    case = open_case(adviser)
    case.status, case.closed_on, case.closed_month = "closed", date(2020, 1, 15), date(2020, 1, 1)
    db.session.commit()
    assert signed_in(adviser).submit(f"/cases/{case.id}/sharing", {"colleague": str(colleague.id),
                                                                   "reason": "Urlaub"}).status_code == 302
    carla = signed_in(colleague)
    assert "Fall wieder öffnen" not in carla.get(f"/cases/{case.id}").get_data(as_text=True)
    assert carla.submit(f"/cases/{case.id}/reopen").status_code == 404
    db.session.expire_all()
    assert db.session.get(Case, case.id).closed_on == date(2020, 1, 15)  # type: ignore[union-attr]
    assert [due.number for due in retention.due(settings, today())] == [case.number]
