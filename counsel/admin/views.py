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

from counsel import audit
from counsel.admin import bp
from counsel.admin.forms import NewUserForm, SiteEditForm, SiteForm, UserFilterForm, UserForm
from counsel.errors import CounselError
from counsel.extensions import db
from counsel.models.site import Site
from counsel.models.user import Role, User, UserRole
from counsel.security import fresh_required, settings
from counsel.services import accounts


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
        try:
            created = accounts.create_user(
                settings(),
                username=form.username.data or "",
                display_name=form.display_name.data or "",
                site=_site(form.site_id.data),
                roles=_roles(form.roles.data),
                locale=form.locale.data or "de",
            )
            created.user.set_supervised_sites(set(form.supervised_sites.data or []))
        except CounselError as exc:
            db.session.rollback()
            error = exc.message
        else:
            audit.record("user_created", actor=current_user, target_user=created.user,
                         detail="roles=" + ",".join(sorted(r.value for r in created.user.roles)))
            db.session.commit()
            return render_template("admin/one_time_password.html", user=created.user,
                                   password=created.one_time_password, new=True)
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
        before = _audited_facts(user)
        try:
            accounts.update_user(
                user,
                display_name=form.display_name.data or "",
                site=_site(form.site_id.data),
                roles=_roles(form.roles.data),
                locale=form.locale.data or "de",
            )
            user.set_supervised_sites(set(form.supervised_sites.data or []))
        except CounselError as exc:
            db.session.rollback()
            error = exc.message
        else:
            audit.record("user_changed", actor=current_user, target_user=user,
                         detail=_changes(before, _audited_facts(user)))
            db.session.commit()
            flash(_("Saved."), "success")
            return redirect(url_for("admin.edit_user", user_id=user.id))
    return render_template("admin/user_form.html", form=form, error=error, user=user), 400


def _audited_facts(user: User) -> dict[str, str]:
    """The facts of an account whose change the audit trail names: what access she has, and where."""
    return {"roles": ",".join(sorted(r.value for r in user.roles)), "site": user.site.code}


def _changes(before: dict[str, str], after: dict[str, str]) -> str:
    return "; ".join(f"{name}={before[name]}->{after[name]}" for name in before if before[name] != after[name])


ACCOUNT_ACTIONS = {
    "deactivate": (accounts.deactivate, _l("The account is deactivated and all its sessions have ended.")),
    "reactivate": (accounts.reactivate, _l("The account is active again.")),
    "reset-totp": (accounts.reset_totp,
                   _l("The second factor was removed; the user sets it up again at the next sign-in.")),
}


@bp.post("/users/<uuid:user_id>/<any(deactivate, reactivate, 'reset-totp'):action>")
@fresh_required
def account_action(user_id: uuid.UUID, action: str) -> ResponseReturnValue:
    user = _user_or_404(user_id)
    change, message = ACCOUNT_ACTIONS[action]
    try:
        change(user)
    except CounselError as exc:
        db.session.rollback()
        flash(str(exc.message), "error")
        return redirect(url_for("admin.edit_user", user_id=user.id))
    audit.record(action.replace("-", "_"), actor=current_user, target_user=user)
    db.session.commit()
    flash(str(message), "success")
    return redirect(url_for("admin.edit_user", user_id=user.id))


@bp.post("/users/<uuid:user_id>/reset-password")
@fresh_required
def reset_password(user_id: uuid.UUID) -> ResponseReturnValue:
    user = _user_or_404(user_id)
    one_time = accounts.reset_password(user, settings())
    audit.record("password_reset", actor=current_user, target_user=user)
    db.session.commit()
    return render_template("admin/one_time_password.html", user=user, password=one_time, new=False)


@bp.get("/sites")
def sites() -> ResponseReturnValue:
    return render_template("admin/sites.html", sites=db.session.scalars(select(Site).order_by(Site.name)).all(),
                           form=SiteForm())


@bp.post("/sites")
def create_site() -> ResponseReturnValue:
    form = SiteForm()
    error = None
    if form.validate_on_submit():
        try:
            site = accounts.create_site(form.code.data or "", form.name.data or "")
        except CounselError as exc:
            db.session.rollback()
            error = exc.message
        else:
            audit.record("site_created", actor=current_user, detail=site.code)
            db.session.commit()
            flash(_("Site %(code)s created.", code=site.code), "success")
            return redirect(url_for("admin.sites"))
    all_sites = db.session.scalars(select(Site).order_by(Site.name)).all()
    return render_template("admin/sites.html", sites=all_sites, form=form, error=error), 400


@bp.route("/sites/<int:site_id>", methods=["GET", "POST"])
def edit_site(site_id: int) -> ResponseReturnValue:
    site = db.session.get(Site, site_id)
    if site is None:
        abort(404)
    form = SiteEditForm(obj=site)
    if form.validate_on_submit():
        site.name = (form.name.data or "").strip()
        site.active = bool(form.active.data)
        audit.record("site_changed", actor=current_user, detail=site.code)
        db.session.commit()
        flash(_("Saved."), "success")
        return redirect(url_for("admin.sites"))
    return render_template("admin/site_form.html", form=form, site=site)
