"""List the requests a person may decide, and confirm or refuse one after a fresh sign-in."""

from __future__ import annotations

import uuid

from flask import abort, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user

from counsel.confirmations import bp
from counsel.errors import CounselError
from counsel.extensions import db
from counsel.models.change_request import ChangeRequest
from counsel.security import fresh_required, settings
from counsel.services import two_person


def _request_or_404(request_id: uuid.UUID) -> ChangeRequest:
    found = db.session.get(ChangeRequest, request_id)
    if found is None:
        abort(404)
    return found


@bp.get("/")
def index() -> ResponseReturnValue:
    return render_template("confirmations/list.html", waiting=two_person.pending_for(current_user),
                           mine=two_person.opened_by(current_user))


@bp.post("/<uuid:request_id>/<any(confirm, refuse):decision>")
@fresh_required
def decide(request_id: uuid.UUID, decision: str) -> ResponseReturnValue:
    change = _request_or_404(request_id)
    try:
        if decision == "confirm":
            outcome = two_person.confirm(current_user, change, settings())
        else:
            outcome = two_person.refuse(current_user, change)
    except CounselError as exc:
        db.session.rollback()
        flash(str(exc.message), "error")
        return redirect(url_for("confirmations.index"))
    db.session.commit()
    if outcome.one_time_password:
        return render_template("confirmations/one_time_password.html", change=change,
                               password=outcome.one_time_password)
    flash(_("Confirmed: the change has taken effect.") if decision == "confirm" else _("Refused: nothing changed."),
          "success")
    return redirect(url_for("confirmations.index"))
