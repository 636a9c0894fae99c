"""The statistics' copy of the cases follows every change made through the pages, in the same transaction."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select

from counsel.cli import cli
from counsel.clock import today
from counsel.extensions import db
from counsel.models.audit import AuditEvent
from counsel.models.case import Case
from counsel.models.consultation import Consultation
from counsel.models.safety import Consent
from counsel.models.statistics import CaseFacts, ConsentSpan, FactLanguage, FactRisk, activity
from counsel.reporting import facts
from tests.cases.test_cases import case_form, consultation_form
from tests.reports.conftest import Fake, Visit, lay_down


def snapshot() -> dict[str, Any]:
    """Every row of the copy, keyed by case rather than by the copy's own numbers."""
    case_of = dict(db.session.execute(select(CaseFacts.id, CaseFacts.case_id)).tuples().all())
    rows: dict[str, Any] = {"facts": sorted(
        (str(row.case_id), row.site_id, row.opened_month, row.closed_month, row.age_band, row.country,
         row.residence_status, row.perpetrator_relation, row.referral_source, row.preferred_language, row.violence)
        for row in db.session.scalars(select(CaseFacts)))}
    for name, model, columns in (("spans", ConsentSpan, ("given_on", "expires_on", "withdrawn_on")),
                                 ("languages", FactLanguage, ("tag",)),
                                 ("risks", FactRisk, ("assessed_on", "next_on", "level"))):
        rows[name] = sorted((str(case_of[row.fact_id]), *(getattr(row, c) for c in columns))
                            for row in db.session.scalars(select(model)))
    rows["activity"] = sorted((str(case_of[row.fact_id]), *(v for k, v in row._mapping.items() if k != "fact_id"))
                              for row in db.session.execute(select(activity)))
    return rows


def assert_copy_is_current() -> dict[str, Any]:
    kept = snapshot()
    facts.rebuild(db.session.connection())
    assert snapshot() == kept
    db.session.rollback()
    return kept


def test_the_copy_follows_every_change(adviser, signed_in):
    client = signed_in(adviser)
    assert client.submit("/cases/new", case_form()).status_code == 302
    case = db.session.scalars(select(Case)).one()
    copy = assert_copy_is_current()
    assert copy["facts"][0][4:] == ("36_45", "SY", "asylum_procedure", "partner", "community", "ar",
                                    facts.violence_bit("physical") | facts.violence_bit("digital"))
    assert sorted(tag for _, tag in copy["languages"]) == ["ar", "ku"]

    edited = case_form(version=str(case.version), country="ER", violence_forms=["fgm"], **{"languages-0-tag": "ti"})
    assert client.submit(f"/cases/{case.id}/edit", edited).status_code == 302
    copy = assert_copy_is_current()
    assert copy["facts"][0][5] == "ER" and copy["facts"][0][-2:] == ("ti", facts.violence_bit("fgm"))

    assert client.submit(f"/cases/{case.id}/consultations/new", consultation_form()).status_code == 302
    copy = assert_copy_is_current()
    assert {row[1] for row in copy["activity"]} == {"month", "quarter", "year"}

    consultation = db.session.scalars(select(Consultation)).one()
    earlier = today() - timedelta(days=400)
    assert client.submit(f"/cases/{case.id}/consultations/{consultation.id}", consultation_form(
        held_on=earlier.isoformat(), follow_up_on="", version=str(consultation.version),
        topics=["health"])).status_code == 302
    copy = assert_copy_is_current()
    assert {row[2] for row in copy["activity"] if row[1] == "month"} == {earlier.replace(day=1)}

    assert client.submit(f"/cases/{case.id}/consents", {
        "purpose": "statistics", "given_on": today().isoformat(), "given_how": "written",
        "form_version": "2026", "expires_on": "", "recipient_kind": "", "recipient": ""}).status_code == 302
    assert case.id in set(db.session.scalars(facts.counted_cases(today())))
    given = db.session.scalars(select(Consent)).one()
    assert client.submit(f"/cases/{case.id}/consents/{given.id}/withdraw").status_code == 302
    copy = assert_copy_is_current()
    assert copy["spans"][0][3] == today() and case.id not in set(db.session.scalars(facts.counted_cases(today())))

    assert client.submit(f"/cases/{case.id}/risk", {
        "indicators": ["weapon", "separation"], "level": "", "reasoning": "",
        "review_on": (today() + timedelta(days=14)).isoformat()}).status_code == 302
    copy = assert_copy_is_current()
    assert [row[2:] for row in copy["risks"]] == [(None, "high")]


def test_a_rebuild_makes_the_copy_of_every_case(owner, second_site):
    ids = lay_down(owner, [Fake(site_id=owner.site_id, opened=today().replace(day=1),
                                visits=[Visit(today(), topics={"health"})]) for _ in range(3)])
    kept = snapshot()
    facts.rebuild(db.session.connection())
    assert snapshot() == kept and len(kept["facts"]) == 3
    assert {row[0] for row in kept["activity"]} == {str(i) for i in ids}


def test_the_command_line_rebuilds_a_copy_edited_by_hand(app, owner):
    lay_down(owner, [Fake(site_id=owner.site_id, opened=today().replace(day=1), visits=[Visit(today())])])
    kept = snapshot()
    db.session.execute(delete(activity))
    db.session.commit()
    result = app.test_cli_runner().invoke(cli, ["statistics", "rebuild"], catch_exceptions=False)
    assert result.exit_code == 0 and "1 cases" in result.output
    assert snapshot() == kept
    assert db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.seq)).all()[-1] == "statistics_rebuilt"
