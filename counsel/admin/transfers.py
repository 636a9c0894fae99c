"""Ask to hand a departing adviser's cases to a colleague: admins see case numbers and dates only.

A second person confirms every hand-over (counsel.services.two_person); nobody asks for cases to go to herself.
"""

from __future__ import annotations

import uuid

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from wtforms import SelectChoice

from counsel.admin import bp
from counsel.admin.forms import TransferForm
from counsel.errors import CounselError
from counsel.extensions import db
from counsel.models.case import Case
from counsel.models.user import Role, User, UserRole
from counsel.security import fresh_required
from counsel.services import two_person


def _advisers(site_id: int | None = None) -> list[User]:
    query = (select(User).join(UserRole, UserRole.user_id == User.id)
             .where(UserRole.role == Role.ADVISER.value).order_by(User.display_name))
    if site_id is not None:
        query = query.where(User.site_id == site_id, User.active.is_(True))
    return list(db.session.scalars(query))


def _form(source: User | None) -> TransferForm:
    form = TransferForm(request.values)
    form.source.choices = [SelectChoice("", "–")] + [
        SelectChoice(str(u.id), f"{u.display_name} ({u.site.code}){'' if u.active else ' †'}") for u in _advisers()]
    if source is not None:
        owned = db.session.scalars(select(Case).where(Case.owner_id == source.id).order_by(Case.number))
        # Case numbers, months and status only: never a name, never content.
        form.case_ids.choices = [SelectChoice(str(c.id), f"{c.number} · {c.opened_month:%m/%Y} · {c.status}")
                                 for c in owned]
        form.target.choices = [SelectChoice(str(u.id), u.display_name) for u in _advisers(source.site_id)
                               if u.id != source.id]
    return form


def _source() -> User | None:
    raw = request.values.get("source")
    if not raw:
        return None
    try:
        return db.session.get(User, uuid.UUID(raw))
    except ValueError:
        abort(400)


@bp.get("/transfers")
def transfers() -> ResponseReturnValue:
    source = _source()
    return render_template("admin/transfers.html", form=_form(source), source=source)


@bp.post("/transfers")
@fresh_required
def transfer() -> ResponseReturnValue:
    source = _source()
    if source is None:
        abort(400)
    form = _form(source)
    if not form.validate():
        return render_template("admin/transfers.html", form=form, source=source), 400
    target = db.session.get(User, uuid.UUID(form.target.data))
    chosen = [uuid.UUID(value) for value in form.case_ids.data or []]
    moving = list(db.session.scalars(select(Case).where(Case.id.in_(chosen), Case.owner_id == source.id)))
    if target is None or not moving:
        abort(400)
    try:
        two_person.request_transfer(current_user, source, moving, target)
    except CounselError as exc:
        db.session.rollback()
        flash(str(exc.message), "error")
        return render_template("admin/transfers.html", form=form, source=source), 400
    db.session.commit()
    flash(_("Requested: %(n)d cases go to %(name)s once another administrator or a coordinator of the site "
            "confirms it. Both advisers have been told.", n=len(moving), name=target.display_name), "warning")
    return redirect(url_for("admin.transfers", source=source.id))
