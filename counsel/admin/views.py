"""Administration: accounts, roles, sites. Admins manage people, never case content."""

from __future__ import annotations

import uuid

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select
from wtforms import SelectChoice

from counsel.access import roles_needing_confirmation
from counsel.admin import bp
from counsel.admin.forms import NewUserForm, SiteEditForm, SiteForm, UserFilterForm, UserForm
from counsel.errors import CounselError
from counsel.extensions import db
from counsel.models.site import Site
from counsel.models.user import Role, User, UserRole
from counsel.security import fresh_required, settings
from counsel.services import accounts, two_person


def _site_choices(active_only: bool = True) -> list[SelectChoice]:
    query = select(Site).order_by(Site.name)
    if active_only:
        query = query.where(Site.active.is_(True))
    return [SelectChoice(site.id, str(site)) for site in db.session.scalars(query)]


def _user_or_404(user_id: uuid.UUID) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    return user


def _site(site_id: int | None) -> Site:
    site = db.session.get(Site, site_id) if site_id else None
    if site is None:
        abort(400)
    return site


def _roles(values: list[str] | None) -> set[Role]:
    return {Role(value) for value in values or [] if value in Role._value2member_map_}


@bp.get("/")
def index() -> ResponseReturnValue:
    return redirect(url_for("admin.users"))


@bp.get("/users")
def users() -> ResponseReturnValue:
    filters = UserFilterForm(request.args)
    filters.site.choices = [SelectChoice(0, _("all sites")), *_site_choices(active_only=False)]
    query = select(User).order_by(User.display_name)
    if filters.site.data:
        query = query.where(User.site_id == filters.site.data)
    if filters.role.data:
        query = query.where(User.id.in_(select(UserRole.user_id).where(UserRole.role == filters.role.data)))
    status = filters.status.data or "active"
    if status != "all":
        query = query.where(User.active.is_(status == "active"))
    return render_template("admin/users.html", users=db.session.scalars(query).all(), filters=filters)


@bp.route("/users/new", methods=["GET", "POST"])
@fresh_required
def new_user() -> ResponseReturnValue:
    form = NewUserForm(locale="de")
    form.site_id.choices = _site_choices()
    form.supervised_sites.choices = _site_choices(active_only=False)
    error = None
    if form.validate_on_submit():
        wanted = _roles(form.roles.data)
        # Roles that decide requests or open cases beside another role are asked for; the account
        # starts with the others (or none: it can sign in but reaches nothing until a second person confirms).
        asked = roles_needing_confirmation(set(), wanted)
        try:
            created = accounts.create_user(
                settings(),
                username=form.username.data or "",
                display_name=form.display_name.data or "",
                site=_site(form.site_id.data),
                roles=wanted - asked,
                awaiting=asked,
                supervised=set(form.supervised_sites.data or []),
                locale=form.locale.data or "de",
                actor=current_user,
            )
            pending = two_person.request_roles(current_user, created.user, asked) if asked else None
        except CounselError as exc:
            db.session.rollback()
            error = exc.message
        else:
            db.session.commit()
            return render_template("admin/one_time_password.html", user=created.user,
                                   password=created.one_time_password, new=True, pending=pending)
    return render_template("admin/user_form.html", form=form, error=error, user=None)


@bp.get("/users/<uuid:user_id>")
def edit_user(user_id: uuid.UUID) -> ResponseReturnValue:
    user = _user_or_404(user_id)
    form = UserForm(obj=user, site_id=user.site_id, roles=[r.value for r in user.roles],
                    supervised_sites=sorted(user.supervised_site_ids - {user.site_id}))
    form.site_id.choices = _site_choices(active_only=False)
    form.supervised_sites.choices = _site_choices(active_only=False)
    return render_template("admin/user_form.html", form=form, user=user)


@bp.post("/users/<uuid:user_id>")
@fresh_required
def save_user(user_id: uuid.UUID) -> ResponseReturnValue:
    user = _user_or_404(user_id)
    form = UserForm()
    form.site_id.choices = _site_choices(active_only=False)
    form.supervised_sites.choices = _site_choices(active_only=False)
    error = None
    if form.validate_on_submit():
        site, wanted = _site(form.site_id.data), _roles(form.roles.data)
        pending = None
        try:
            asked = roles_needing_confirmation(user.roles, wanted)
            accounts.update_user(user, display_name=form.display_name.data or "", site=site, roles=wanted - asked,
                                 supervised=set(form.supervised_sites.data or []), locale=form.locale.data or "de",
                                 actor=current_user, awaiting=asked)
            if asked:
                pending = two_person.request_roles(current_user, user, asked)
        except CounselError as exc:
            db.session.rollback()
            error = exc.message
        else:
            db.session.commit()
            flash(_("Saved."), "success")
            if pending is not None:
                flash(_("The new role waits for a second person: another administrator or a coordinator of "
                        "the site confirms it under Requests."), "warning")
            return redirect(url_for("admin.edit_user", user_id=user.id))
    return render_template("admin/user_form.html", form=form, error=error, user=user), 400


def _refused(user: User, exc: CounselError) -> ResponseReturnValue:
    """Back to the account's page with the reason an action on it was refused; nothing was changed."""
    db.session.rollback()
    flash(str(exc.message), "error")
    return redirect(url_for("admin.edit_user", user_id=user.id))


ACCOUNT_ACTIONS = {
    "deactivate": (accounts.deactivate, _l("The account is deactivated and all its sessions have ended.")),
    "reactivate": (accounts.reactivate, _l("The account is active again.")),
}


@bp.post("/users/<uuid:user_id>/<any(deactivate, reactivate):action>")
@fresh_required
def account_action(user_id: uuid.UUID, action: str) -> ResponseReturnValue:
    user = _user_or_404(user_id)
    change, message = ACCOUNT_ACTIONS[action]
    try:
        change(user, actor=current_user)
    except CounselError as exc:
        return _refused(user, exc)
    db.session.commit()
    flash(str(message), "success")
    return redirect(url_for("admin.edit_user", user_id=user.id))


@bp.post("/users/<uuid:user_id>/reset-totp")
@fresh_required
def reset_totp(user_id: uuid.UUID) -> ResponseReturnValue:
    """Removing a second factor lets whoever knows the password in: a second person confirms it."""
    user = _user_or_404(user_id)
    try:
        two_person.request_totp_reset(current_user, user)
    except CounselError as exc:
        return _refused(user, exc)
    db.session.commit()
    flash(_("Requested: the second factor is removed once another administrator or a coordinator of the site "
            "confirms it. %(name)s has been told.", name=user.display_name), "warning")
    return redirect(url_for("admin.edit_user", user_id=user.id))


@bp.post("/users/<uuid:user_id>/reset-password")
@fresh_required
def reset_password(user_id: uuid.UUID) -> ResponseReturnValue:
    """A new password at once where her second factor still guards her; otherwise a request."""
    user = _user_or_404(user_id)
    try:
        outcome = two_person.reset_password(current_user, user, settings())
    except CounselError as exc:
        return _refused(user, exc)
    db.session.commit()
    if isinstance(outcome, str):
        return render_template("admin/one_time_password.html", user=user, password=outcome, new=False)
    flash(_("Requested: without a second factor a new password alone opens her account, so another administrator "
            "or a coordinator of the site confirms it and hands her the one-time password."), "warning")
    return redirect(url_for("admin.edit_user", user_id=user.id))


@bp.get("/sites")
def sites() -> ResponseReturnValue:
    return render_template("admin/sites.html", sites=db.session.scalars(select(Site).order_by(Site.name)).all(),
                           form=SiteForm())


@bp.post("/sites")
@fresh_required
def create_site() -> ResponseReturnValue:
    form = SiteForm()
    error = None
    if form.validate_on_submit():
        try:
            site = accounts.create_site(form.code.data or "", form.name.data or "", actor=current_user)
        except CounselError as exc:
            db.session.rollback()
            error = exc.message
        else:
            db.session.commit()
            flash(_("Site %(code)s created.", code=site.code), "success")
            return redirect(url_for("admin.sites"))
    all_sites = db.session.scalars(select(Site).order_by(Site.name)).all()
    return render_template("admin/sites.html", sites=all_sites, form=form, error=error), 400


@bp.route("/sites/<int:site_id>", methods=["GET", "POST"])
@fresh_required
def edit_site(site_id: int) -> ResponseReturnValue:
    site = db.session.get(Site, site_id)
    if site is None:
        abort(404)
    form = SiteEditForm(obj=site)
    error = None
    if form.validate_on_submit():
        try:
            accounts.update_site(site, name=form.name.data or "", active=bool(form.active.data), actor=current_user)
        except CounselError as exc:
            db.session.rollback()
            error = exc.message
        else:
            db.session.commit()
            flash(_("Saved."), "success")
            return redirect(url_for("admin.sites"))
    status = 400 if form.is_submitted() else 200
    return render_template("admin/site_form.html", form=form, site=site, error=error), status
