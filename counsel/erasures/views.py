"""Confirm or refuse an erasure on request, after a fresh sign-in; the page shows no case content."""

from __future__ import annotations

import uuid

from flask import abort, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user

from counsel.erasures import bp
from counsel.errors import CounselError
from counsel.extensions import db
from counsel.models.change_request import ChangeRequest, RequestKind
from counsel.security import fresh_required, settings
from counsel.services import two_person


@bp.get("/")
def index() -> ResponseReturnValue:
    return render_template("erasures/index.html", waiting=two_person.erasures_for(current_user))


@bp.post("/<uuid:request_id>/<any(confirm, refuse):decision>")
@fresh_required
def decide(request_id: uuid.UUID, decision: str) -> ResponseReturnValue:
    change = db.session.get(ChangeRequest, request_id)
    if change is None or change.kind != RequestKind.ERASURE.value:
        abort(404)
    number = change.case.number if change.case else None
    try:
        if decision == "confirm":
            two_person.confirm(current_user, change, settings())
        else:
            two_person.refuse(current_user, change)
    except CounselError as exc:
        db.session.rollback()
        flash(str(exc.message), "error")
        return redirect(url_for("erasures.index"))
    db.session.commit()
    if decision == "confirm":
        flash(_("Case %(number)s is erased.", number=number), "success")
    else:
        flash(_("Refused: case %(number)s is kept.", number=number), "success")
    return redirect(url_for("erasures.index"))
