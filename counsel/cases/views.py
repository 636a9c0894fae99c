"""The adviser's case work: find, open, read, edit, close, share, and log consultations.

Every route loads its case through counsel.access.load_case, so a colleague without access
gets 404 and the attempt is recorded; supervisors and admins are turned away at the door.
"""

from __future__ import annotations

import json
import uuid

from flask import Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func
from wtforms import SelectChoice

from counsel import audit, codes
from counsel.access import Permission, allows, load_case, record_of, visible_cases
from counsel.cases import bp
from counsel.cases.common import CONFLICT, conflict_gate, failed, form_version, save_locked
from counsel.cases.convert import (
    Dossier,
    case_export,
    case_input,
    consultation_input,
    fill_case_form,
    fill_consultation_form,
    picker_label,
)
from counsel.cases.forms import CaseFilterForm, CaseForm, ConsultationForm, NameSearchForm, ShareForm
from counsel.clock import today, utcnow
from counsel.crypto import UnreadableField
from counsel.errors import CounselError
from counsel.extensions import db
from counsel.languages import parse_picker_value
from counsel.models.case import Case, CaseShare
from counsel.models.consultation import Consultation
from counsel.models.user import User
from counsel.security import is_fresh
from counsel.services import cases, consent, consultations, safety, search_limit


@bp.errorhandler(UnreadableField)
def unreadable(exc: UnreadableField) -> ResponseReturnValue:
    """Name the case whose field cannot be decrypted, log the incident, show nothing of it."""
    db.session.rollback()
    number = cases.number_of_record(exc.table, exc.row_id)
    current_app.logger.error("unreadable record on %s %s (case %s): %s", request.method, request.path, number, exc)
    label = _("Case %(number)s", number=number) if number else f"{exc.table} {exc.row_id}"
    return render_template("errors/unreadable.html", record_label=label, column=exc.column), 500


PAGE_SIZE = 50


@bp.get("/")
def index() -> ResponseReturnValue:
    filters = CaseFilterForm(request.args)
    query = visible_cases(current_user).order_by(Case.number.desc())
    status = filters.status.data or "open"
    if status != "all":
        query = query.where(Case.status == status)
    if filters.number.data:
        query = query.where(Case.number == filters.number.data.strip().upper())
    total = db.session.scalar(query.with_only_columns(func.count()).order_by(None)) or 0
    pages = max(1, -(-total // PAGE_SIZE))
    # Clamped before it reaches the database: an offset beyond its integers would fail the page.
    page = min(max(1, request.args.get("page", 1, type=int) or 1), pages)
    shown = db.session.scalars(query.limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)).all()
    return render_template("cases/index.html", cases=shown, filters=filters, page=page, pages=pages, total=total)


@bp.route("/check", methods=["GET", "POST"])
def check() -> ResponseReturnValue:
    """Before opening a case: look for her by name, and see who speaks her language."""
    form = NameSearchForm()
    matches = None
    speakers: list[cases.Speaker] = []
    language = None
    error, status = None, 200
    if form.validate_on_submit():
        try:
            matches = cases.find_by_name(current_user, form.name.data or "")
        except search_limit.SearchRefused as exc:  # the form is shown again with what she typed
            error, status = exc.message, exc.status
            db.session.commit()  # the refusal is on the trail
        else:
            language = parse_picker_value(form.language.data or "")
            speakers = cases.advisers_speaking(current_user.site_id, language)
            db.session.commit()
    status = 400 if form.errors else status
    return (render_template("cases/check.html", form=form, matches=matches, speakers=speakers, language=language,
                            error=error), status)


@bp.route("/new", methods=["GET", "POST"])
def new() -> ResponseReturnValue:
    form = CaseForm()
    error = None
    if request.form.get("stage") == "prefill":
        form = CaseForm(formdata=None, name=request.form.get("name", ""))
        if tag := parse_picker_value(request.form.get("language", "")):
            form.languages[0].form.tag.data = picker_label(tag)
            form.languages[0].form.preferred.data = True
    elif form.validate_on_submit():
        try:
            data = case_input(form)
            gate = conflict_gate(form, cases.contact_of(data), "perpetrator")
            if gate.warnings:
                return render_template("cases/form.html", form=form, case=None, warnings=gate.warnings), CONFLICT
            case = cases.open_case(current_user, data)
            gate.acknowledge(case)
        except CounselError as exc:
            db.session.rollback()
            error = exc.message
        else:
            db.session.commit()
            flash(_("Case %(number)s opened.", number=case.number), "success")
            return redirect(url_for("cases.show", case_id=case.id))
    return render_template("cases/form.html", form=form, case=None, error=error), failed()


@bp.get("/<uuid:case_id>")
def show(case_id: uuid.UUID) -> ResponseReturnValue:
    case = load_case(current_user, case_id)
    safety.record_view(current_user, case, "")
    db.session.commit()
    speakers = cases.advisers_speaking(case.site_id, case.preferred_language, exclude=case.owner_id)
    given = [c for c in consent.of_case(case) if c.valid_on(today())]
    summary = ", ".join(sorted({codes.label(codes.CONSENT_PURPOSES, c.purpose) for c in given})) or "–"
    assessments = safety.assessments_of(case)
    return render_template(
        "cases/show.html", case=case, consultations=consultations.of_case(case), speakers=speakers,
        may_share=allows(current_user, case, Permission.SHARE), may_keep=allows(current_user, case, Permission.KEEP),
        may_export=allows(current_user, case, Permission.EXPORT), may_edit=allows(current_user, case, Permission.WRITE),
        processing_consent=any(c.purpose == "processing" for c in given),
        consent_summary=summary, risk=assessments[0] if assessments else None,
        perpetrators=safety.perpetrators_of(case), emergency=safety.emergency_grant(current_user, case))


@bp.route("/<uuid:case_id>/edit", methods=["GET", "POST"])
def edit(case_id: uuid.UUID) -> ResponseReturnValue:
    case = load_case(current_user, case_id, Permission.WRITE)
    form = CaseForm()
    status = 200
    error = None
    if request.method == "GET":
        form = fill_case_form(case)
        safety.record_view(current_user, case, "edit form")
        db.session.commit()
    elif form.validate_on_submit():
        try:
            data = case_input(form)
        except CounselError as exc:
            return render_template("cases/form.html", form=form, case=case, error=exc.message), 400
        gate = conflict_gate(form, cases.contact_of(data), "perpetrator", case, exclude=case.id)
        if gate.warnings:
            return render_template("cases/form.html", form=form, case=case, warnings=gate.warnings), CONFLICT
        gate.acknowledge(case)
        refused = save_locked(lambda: cases.update_case(current_user, case, data, form_version(form.version.data)),
                              form.version, lambda: case.version)
        if refused is None:
            flash(_("Saved."), "success")
            return redirect(url_for("cases.show", case_id=case.id))
        error, status = refused
    else:
        status = 400
    return render_template("cases/form.html", form=form, case=case, error=error), status


@bp.post("/<uuid:case_id>/<any(close, reopen):action>")
def set_status(case_id: uuid.UUID, action: str) -> ResponseReturnValue:
    case = load_case(current_user, case_id, Permission.KEEP)
    cases.set_status(current_user, case, "closed" if action == "close" else "open")
    db.session.commit()
    flash(_("The case is closed.") if action == "close" else _("The case is open again."), "success")
    return redirect(url_for("cases.show", case_id=case.id))


@bp.route("/<uuid:case_id>/consultations/new", methods=["GET", "POST"])
def new_consultation(case_id: uuid.UUID) -> ResponseReturnValue:
    case = load_case(current_user, case_id, Permission.RECORD)
    form = ConsultationForm()
    error = None
    if request.method == "GET":
        form = fill_consultation_form(None, case)
    elif form.validate_on_submit():
        try:
            consultations.add(current_user, case, consultation_input(form))
        except CounselError as exc:
            db.session.rollback()
            error = exc.message
        else:
            db.session.commit()
            flash(_("Consultation saved."), "success")
            return redirect(url_for("cases.show", case_id=case.id))
    return (render_template("cases/consultation_form.html", form=form, case=case, consultation=None, error=error),
            failed())


@bp.route("/<uuid:case_id>/consultations/<uuid:consultation_id>", methods=["GET", "POST"])
def edit_consultation(case_id: uuid.UUID, consultation_id: uuid.UUID) -> ResponseReturnValue:
    case = load_case(current_user, case_id, Permission.RECORD)
    consultation = record_of(current_user, case, Consultation, consultation_id)
    form = ConsultationForm()
    error = None
    status = 200
    if request.method == "GET":
        form = fill_consultation_form(consultation, case)
        safety.record_view(current_user, case, "consultation")
        db.session.commit()
    elif form.validate_on_submit():
        refused = save_locked(lambda: consultations.update(current_user, consultation, consultation_input(form),
                                                           form_version(form.version.data)),
                              form.version, lambda: consultation.version)
        if refused is None:
            flash(_("Consultation saved."), "success")
            return redirect(url_for("cases.show", case_id=case.id))
        error, status = refused
    else:
        status = 400
    return render_template("cases/consultation_form.html", form=form, case=case, consultation=consultation,
                           error=error), status


@bp.route("/<uuid:case_id>/sharing", methods=["GET", "POST"])
def sharing(case_id: uuid.UUID) -> ResponseReturnValue:
    case = load_case(current_user, case_id, Permission.SHARE)
    form = ShareForm()
    form.colleague.choices = [SelectChoice("", "–")] + [
        SelectChoice(str(u.id), f"{u.display_name} ({u.username})") for u in cases.colleagues(current_user)]
    error = None
    if form.validate_on_submit():
        colleague = db.session.get(User, uuid.UUID(form.colleague.data))
        if colleague is None:
            abort(400)
        try:
            cases.share(current_user, case, colleague, form.reason.data or "", form.until.data)
        except CounselError as exc:
            db.session.rollback()
            error = exc.message
        else:
            db.session.commit()
            flash(_("The case is shared with %(name)s.", name=colleague.display_name), "success")
            return redirect(url_for("cases.sharing", case_id=case.id))
    safety.record_view(current_user, case, "sharing")  # the page shows the reasons
    db.session.commit()
    return render_template("cases/sharing.html", case=case, form=form, error=error), failed()


@bp.post("/<uuid:case_id>/sharing/<uuid:share_id>/revoke")
def revoke(case_id: uuid.UUID, share_id: uuid.UUID) -> ResponseReturnValue:
    case = load_case(current_user, case_id, Permission.SHARE)
    grant = record_of(current_user, case, CaseShare, share_id)
    cases.revoke_share(current_user, case, grant)
    db.session.commit()
    flash(_("Access of %(name)s ended.", name=grant.user.display_name), "success")
    return redirect(url_for("cases.sharing", case_id=case.id))


def _exportable(case_id: uuid.UUID) -> Case:
    """Her holder or a colleague it is shared with may copy a case out; emergency access may not."""
    return load_case(current_user, case_id, Permission.EXPORT)


def _dossier(case: Case) -> Dossier:
    return Dossier(case, consultations.of_case(case), consent.of_case(case), consent.disclosures_of(case),
                   safety.assessments_of(case))


def _exported(case: Case, fmt: str) -> None:
    """Record the copy once it is made (an unreadable field stops it before): who, which case, never content."""
    audit.record("case_exported", actor=current_user, case=case, detail=f"format={fmt}")
    db.session.commit()


@bp.get("/<uuid:case_id>/export")
def export(case_id: uuid.UUID) -> ResponseReturnValue:
    """A printable copy of everything stored about her in this case, for her access request (Art. 15 GDPR).

    Access is checked before the password is asked again, so a colleague learns nothing and her
    attempt is on record at once.
    """
    case = _exportable(case_id)
    if not is_fresh():
        return redirect(url_for("auth.reauth", next=request.full_path.rstrip("?")))
    page = render_template("cases/export.html", case=case, dossier=_dossier(case), exported_at=utcnow())
    _exported(case, "html")
    return page


@bp.get("/<uuid:case_id>/export.json")
def export_json(case_id: uuid.UUID) -> ResponseReturnValue:
    """The same copy as a JSON download, for her or a body acting for her to read by machine."""
    case = _exportable(case_id)
    if not is_fresh():
        return redirect(url_for("auth.reauth", next=request.full_path.rstrip("?")))
    body = json.dumps(case_export(_dossier(case), utcnow()), ensure_ascii=False, indent=2)
    _exported(case, "json")
    return Response(body, mimetype="application/json",
                    headers={"Content-Disposition": f'attachment; filename="{case.number}.json"'})
