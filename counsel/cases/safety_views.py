"""Consent, disclosures, alleged perpetrators, risk, safety plan, emergency access, who has seen a case."""

from __future__ import annotations

import uuid

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import format_time
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from counsel import audit
from counsel.access import Permission, load_case, permission_for_method, record_of
from counsel.cases import bp
from counsel.cases.common import CONFLICT, conflict_gate, failed, form_version, save_locked
from counsel.cases.safety_forms import (
    ConsentForm,
    DisclosureForm,
    EmergencyForm,
    PerpetratorForm,
    RiskForm,
    SafetyPlanForm,
)
from counsel.clock import today
from counsel.errors import CounselError
from counsel.extensions import db
from counsel.models.audit import AuditEvent
from counsel.models.case import Case
from counsel.models.change_request import ChangeRequest
from counsel.models.safety import Consent, Perpetrator
from counsel.services import conflicts, consent, safety, two_person


def _viewed(case: Case, page: str) -> None:
    """Put the opening of a page that shows the case on its trail; a POST records what it does instead."""
    if request.method == "GET":
        safety.record_view(current_user, case, page)
        db.session.commit()


@bp.route("/<uuid:case_id>/consents", methods=["GET", "POST"])
def consents(case_id: uuid.UUID) -> ResponseReturnValue:
    case = load_case(current_user, case_id, permission_for_method(request.method))
    form = ConsentForm() if request.method == "POST" else ConsentForm(given_on=today(), form_version="")
    _viewed(case, "consents")
    error = None
    if form.validate_on_submit():
        try:
            consent.record(current_user, case, consent.ConsentInput(
                purpose=form.purpose.data or "", given_on=form.given_on.data or today(),
                given_how=form.given_how.data or "", form_version=form.form_version.data or "",
                expires_on=form.expires_on.data, recipient_kind=form.recipient_kind.data or None,
                recipient=form.recipient.data or ""))
        except CounselError as exc:
            db.session.rollback()
            error = exc.message
        else:
            db.session.commit()
            flash(_("Consent recorded."), "success")
            return redirect(url_for("cases.consents", case_id=case.id))
    return render_template("cases/consents.html", case=case, form=form, error=error, consents=consent.of_case(case),
                           today=today()), failed()


@bp.post("/<uuid:case_id>/consents/<uuid:consent_id>/withdraw")
def withdraw_consent(case_id: uuid.UUID, consent_id: uuid.UUID) -> ResponseReturnValue:
    case = load_case(current_user, case_id, Permission.WRITE)
    given = record_of(current_user, case, Consent, consent_id)
    try:
        consent.withdraw(current_user, case, given)
    except CounselError as exc:
        db.session.rollback()
        flash(str(exc.message), "error")
    else:
        db.session.commit()
        flash(_("The consent is withdrawn; what it allowed stops today."), "success")
    return redirect(url_for("cases.consents", case_id=case.id))


@bp.route("/<uuid:case_id>/disclosures", methods=["GET", "POST"])
def disclosures(case_id: uuid.UUID) -> ResponseReturnValue:
    """A referral that passes data on: only under a valid release for that very recipient."""
    case = load_case(current_user, case_id, permission_for_method(request.method))
    form = DisclosureForm()
    _viewed(case, "disclosures")
    error = None
    if form.validate_on_submit():
        try:
            consent.disclose(current_user, case, form.recipient_kind.data or "", form.recipient.data or "",
                             form.content.data or "")
        except CounselError as exc:
            db.session.rollback()  # nothing was passed on or recorded as shared ...
            audit.record("disclosure_refused", actor=current_user, case=case,
                         detail=f"recipient_kind={form.recipient_kind.data}")
            db.session.commit()  # ... but the refused attempt is on record
            error = exc.message
        else:
            db.session.commit()
            flash(_("Recorded as passed on."), "success")
            return redirect(url_for("cases.disclosures", case_id=case.id))
    return render_template("cases/disclosures.html", case=case, form=form, error=error,
                           disclosures=consent.disclosures_of(case)), failed()


def _perpetrator(case_id: uuid.UUID, perpetrator_id: uuid.UUID | None) -> tuple[Case, Perpetrator | None]:
    case = load_case(current_user, case_id, permission_for_method(request.method))
    if perpetrator_id is None:
        return case, None
    return case, record_of(current_user, case, Perpetrator, perpetrator_id)


@bp.route("/<uuid:case_id>/perpetrators/new", methods=["GET", "POST"], defaults={"perpetrator_id": None})
@bp.route("/<uuid:case_id>/perpetrators/<uuid:perpetrator_id>", methods=["GET", "POST"])
def perpetrator(case_id: uuid.UUID, perpetrator_id: uuid.UUID | None) -> ResponseReturnValue:
    """Record an alleged perpetrator; his data are checked against clients and staff before saving."""
    case, existing = _perpetrator(case_id, perpetrator_id)
    form = PerpetratorForm(obj=existing) if request.method == "GET" else PerpetratorForm()
    _viewed(case, "perpetrator" if existing else "new perpetrator")
    if form.validate_on_submit():
        contact = conflicts.Contact(tuple(filter(None, [(form.name.data or "").strip()])), form.phone.data or "",
                                    form.address.data or "")
        if not (contact.names or contact.phone.strip() or contact.address.strip()):
            flash(_("Enter at least a name, a phone number or an address."), "error")
        elif (gate := conflict_gate(form, contact, "client", case, exclude=case.id)).warnings:
            return render_template("cases/perpetrator.html", case=case, form=form, perpetrator=existing,
                                   warnings=gate.warnings), CONFLICT
        else:
            gate.acknowledge(case)
            record = existing or Perpetrator(id=uuid.uuid4(), case=case, case_id=case.id)
            for name in ("name", "phone", "address", "notes"):
                setattr(record, name, (getattr(form, name).data or "").strip() or None)
            db.session.add(record)
            db.session.flush()
            conflicts.reindex("perpetrator", record.id, record.case_id, conflicts.perpetrator_contact(record))
            audit.record("perpetrator_saved", actor=current_user, case=case)
            db.session.commit()
            flash(_("Saved."), "success")
            return redirect(url_for("cases.show", case_id=case_id))
    return render_template("cases/perpetrator.html", case=case, form=form, perpetrator=existing), failed()


@bp.post("/<uuid:case_id>/perpetrators/<uuid:perpetrator_id>/delete")
def delete_perpetrator(case_id: uuid.UUID, perpetrator_id: uuid.UUID) -> ResponseReturnValue:
    case, record = _perpetrator(case_id, perpetrator_id)
    conflicts.reindex("perpetrator", perpetrator_id, case_id, conflicts.Contact())
    db.session.delete(record)
    audit.record("perpetrator_deleted", actor=current_user, case=case)
    db.session.commit()
    flash(_("Deleted."), "success")
    return redirect(url_for("cases.show", case_id=case_id))


@bp.route("/<uuid:case_id>/risk", methods=["GET", "POST"])
def risk(case_id: uuid.UUID) -> ResponseReturnValue:
    case = load_case(current_user, case_id, permission_for_method(request.method, Permission.RECORD))
    form = RiskForm()
    _viewed(case, "risk")
    error = None
    if form.validate_on_submit():
        try:
            safety.assess(current_user, case, set(form.indicators.data or []), form.level.data or None,
                          form.reasoning.data or "", form.review_on.data or today())
        except CounselError as exc:
            db.session.rollback()
            error = exc.message
        else:
            db.session.commit()
            flash(_("Risk assessment saved."), "success")
            return redirect(url_for("cases.show", case_id=case.id))
    return render_template("cases/risk.html", case=case, form=form, error=error,
                           assessments=safety.assessments_of(case)), failed()


@bp.route("/<uuid:case_id>/safety-plan", methods=["GET", "POST"])
def safety_plan(case_id: uuid.UUID) -> ResponseReturnValue:
    case = load_case(current_user, case_id, permission_for_method(request.method, Permission.RECORD))
    form = SafetyPlanForm() if request.method == "POST" else SafetyPlanForm(plan=case.safety_plan,
                                                                           version=str(case.version))
    _viewed(case, "safety plan")
    error, status = None, 200
    if form.validate_on_submit():
        refused = save_locked(lambda: safety.save_safety_plan(current_user, case, form.plan.data or "",
                                                              form_version(form.version.data)),
                              form.version, lambda: case.version)
        if refused is None:
            flash(_("Safety plan saved."), "success")
            return redirect(url_for("cases.show", case_id=case.id))
        error, status = refused
    elif request.method == "POST":
        status = 400
    return render_template("cases/safety_plan.html", case=case, form=form, error=error), status


@bp.get("/<uuid:case_id>/access-log")
def access_log(case_id: uuid.UUID) -> ResponseReturnValue:
    """Who has seen or changed this case: the trail's events for it, without content.

    Its owner also reads here why each emergency access was made (see safety.emergency_accesses_shown_to).
    """
    case = load_case(current_user, case_id)
    _viewed(case, "access log")  # first: the commit would expire the events loaded before it
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.case_id == case.id)
                                .order_by(AuditEvent.seq.desc()).limit(500)).all()
    return render_template("cases/access_log.html", case=case, events=events,
                           emergency_view=safety.is_emergency_view,
                           grants=safety.emergency_accesses_shown_to(current_user, case))


@bp.route("/emergency", methods=["GET", "POST"])
def emergency() -> ResponseReturnValue:
    """Open a colleague's case when she cannot be reached and the client is in danger."""
    form = EmergencyForm()
    error = None
    if form.validate_on_submit():
        try:
            outcome = two_person.emergency_access(current_user, form.number.data or "", form.justification.data or "")
        except CounselError as exc:
            db.session.rollback()
            audit.record("emergency_access_refused", actor=current_user,
                         detail=f"number={(form.number.data or '').strip().upper()[:24]}")
            db.session.commit()
            error = exc.message
        else:
            db.session.commit()
            if isinstance(outcome, ChangeRequest):
                flash(_("You have an open emergency access already, or three in 30 days: this one waits for the "
                        "approval of a coordinator of your site, who has been told."), "warning")
                return redirect(url_for("main.index"))
            flash(_("Emergency access granted until %(time)s. The holder of the case and the coordination were "
                    "informed.", time=format_time(outcome.expires_at, "short")), "warning")
            return redirect(url_for("cases.show", case_id=outcome.case_id))
    return render_template("cases/emergency.html", form=form, error=error), failed()
