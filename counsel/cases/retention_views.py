"""The holder's part in erasure, on the case page: a legal hold, and asking that her case be erased.

Only the adviser who holds the case: anyone else is answered 404 by `load_case`, as for sharing.
Both ask for the password again after a while, like every step that cannot be undone by her alone.
"""

from __future__ import annotations

import uuid

from flask import flash, redirect, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user

from counsel.access import Permission, load_case
from counsel.cases import bp
from counsel.erasures.forms import ReasonForm
from counsel.errors import CounselError
from counsel.extensions import db
from counsel.security import fresh_required
from counsel.services import retention, two_person


@bp.post("/<uuid:case_id>/legal-hold")
@fresh_required
def legal_hold(case_id: uuid.UUID) -> ResponseReturnValue:
    case = load_case(current_user, case_id, Permission.SHARE)
    form = ReasonForm()
    if not form.validate_on_submit():
        return _back(case.id, _("Say why the case must be kept."))
    try:
        retention.set_hold(current_user, case, form.reason.data or "")
    except CounselError as exc:
        db.session.rollback()
        return _back(case.id, str(exc.message))
    db.session.commit()
    flash(_("The case is under a legal hold: it is kept until you end the hold."), "success")
    return redirect(url_for("cases.show", case_id=case.id))


@bp.post("/<uuid:case_id>/legal-hold/end")
@fresh_required
def end_legal_hold(case_id: uuid.UUID) -> ResponseReturnValue:
    case = load_case(current_user, case_id, Permission.SHARE)
    try:
        retention.end_hold(current_user, case)
    except CounselError as exc:
        db.session.rollback()
        return _back(case.id, str(exc.message))
    db.session.commit()
    flash(_("The legal hold has ended: the case is kept for its retention period only."), "success")
    return redirect(url_for("cases.show", case_id=case.id))


@bp.post("/<uuid:case_id>/erasure")
@fresh_required
def request_erasure(case_id: uuid.UUID) -> ResponseReturnValue:
    case = load_case(current_user, case_id, Permission.SHARE)
    form = ReasonForm()
    if not form.validate_on_submit():
        return _back(case.id, _("Say why the case is to be erased."))
    try:
        two_person.request_erasure(current_user, case, form.reason.data or "")
    except CounselError as exc:
        db.session.rollback()
        return _back(case.id, str(exc.message))
    db.session.commit()
    flash(_("Asked: the case is erased once an administrator or a coordinator of the site confirms it."), "warning")
    return redirect(url_for("cases.show", case_id=case.id))


def _back(case_id: uuid.UUID, message: str) -> ResponseReturnValue:
    """Back to the case page, where the forms are, with what was wrong."""
    flash(message, "error")
    return redirect(url_for("cases.show", case_id=case_id))
