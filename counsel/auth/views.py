"""Sign-in with password and second factor, sign-out, lock, and password re-confirmation."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from flask import Blueprint, abort, flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import format_datetime, format_time
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user

from counsel import audit
from counsel.auth.forms import LoginForm, ReauthForm, TotpForm
from counsel.clock import utcnow
from counsel.extensions import db, limiter, login_manager
from counsel.i18n import UI_LOCALES
from counsel.models.user import User
from counsel.security import safe_next, settings
from counsel.services import passwords, totp, two_person
from counsel.services.signin import (
    Outcome,
    check_password,
    clear_failures,
    locked_until,
    record_failure,
    record_refusal,
    throttle_key,
)

bp = Blueprint("auth", __name__)

PENDING_LIFETIME = timedelta(minutes=5)


def load_user(user_id: str) -> User | None:
    try:
        user = db.session.get(User, uuid.UUID(user_id))
    except ValueError:
        return None
    return user if user is not None and user.active else None


login_manager.user_loader(load_user)


def _address_limit() -> str:
    return str(settings().ratelimit_login_per_address)


def _account_limit() -> str:
    return str(settings().ratelimit_login_per_account)


def _account_key() -> str:
    """Throttle per typed user name (or pending account), independent of the address."""
    name = request.form.get("username") or session.get("pending_name") or ""
    return "account:" + throttle_key(name, settings())


def _locked_message(until: datetime) -> str:
    return str(_("Too many failed attempts. Sign-in for this name is paused until %(time)s.",
                 time=format_time(until, "short")))


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_address_limit, methods=["POST"])
@limiter.limit(_account_limit, key_func=_account_key, methods=["POST"])
def login() -> ResponseReturnValue:
    if current_user.is_authenticated:
        return redirect(url_for("main.index"))
    form = LoginForm(next=request.args.get("next", ""))
    notice = _notice(request.args.get("m", ""))
    error = None
    status = 200
    if form.validate_on_submit():
        attempt = check_password(form.username.data or "", form.password.data or "", settings())
        if attempt.outcome is Outcome.OK and attempt.user is not None:
            user = attempt.user
            if user.totp_enabled:
                return _start_second_step(user, form.username.data or "", form.next.data)
            return _complete_sign_in(user, form.username.data or "", form.next.data)
        record_refusal(form.username.data or "", locked=attempt.outcome is Outcome.LOCKED)
        db.session.commit()
        if attempt.locked_until is not None:
            error, status = _locked_message(attempt.locked_until), 429
        else:
            error, status = _("User name or password is not correct."), 401
    elif request.method == "POST":
        status = 400
    return render_template("auth/login.html", form=form, error=error, notice=notice), status


def _notice(reason: str) -> str | None:
    """Say why the sign-in page is shown again (after lock, timeout, password change, ...)."""
    notices = {
        "locked": _("The screen was locked and the session ended."),
        "expired": _("Your session has ended. Please sign in again."),
        "changed": _("Your password was changed. Please sign in with the new password."),
        "signedout": _("You are signed out."),
        "throttled": _("Too many failed attempts. The session was ended; please wait and sign in again."),
    }
    return notices.get(reason)


def _start_second_step(user: User, typed_name: str, next_url: str | None) -> ResponseReturnValue:
    session.clear()
    session["pending_user"] = str(user.id)
    session["pending_name"] = typed_name
    session["pending_at"] = utcnow().timestamp()
    session["pending_next"] = safe_next(next_url) or ""
    session.regenerate()  # type: ignore[attr-defined]
    db.session.commit()
    return redirect(url_for("auth.login_totp"))


def _complete_sign_in(user: User, typed_name: str, next_url: str | None) -> ResponseReturnValue:
    clear_failures(throttle_key(typed_name, settings()))
    session.clear()
    login_user(user)
    session["auth_at"] = utcnow().timestamp()
    session.regenerate()  # type: ignore[attr-defined]
    for reset in two_person.password_resets_since(user, user.last_login_at or user.created_at):
        flash(_("Your password was reset by %(name)s on %(time)s. If you did not ask for it, tell your "
                "coordination.", name=reset.by, time=format_datetime(reset.at, "short")), "warning")
    user.last_login_at = utcnow()
    audit.record_sign_in(user)
    db.session.commit()
    return redirect(safe_next(next_url) or url_for("main.index"))


@bp.route("/login/totp", methods=["GET", "POST"])
@limiter.limit(_address_limit, methods=["POST"])
@limiter.limit(_account_limit, key_func=_account_key, methods=["POST"])
def login_totp() -> ResponseReturnValue:
    if current_user.is_authenticated:  # clearing the session below would sign her out
        return redirect(url_for("main.index"))
    pending = session.get("pending_user")
    started = session.get("pending_at")
    if not pending or not started or utcnow().timestamp() - float(started) > PENDING_LIFETIME.total_seconds():
        session.clear()
        return redirect(url_for("auth.login", m="expired"))
    user = load_user(str(pending))
    if user is None:
        session.clear()
        return redirect(url_for("auth.login"))
    typed_name = session.get("pending_name", "")
    until = locked_until(throttle_key(typed_name, settings()))
    if until is not None:
        # A lock-out set from anywhere (wrong passwords in another browser) also stops a half-finished sign-in.
        if request.method == "POST":
            record_refusal(typed_name, locked=True, second_factor=True)
            db.session.commit()
        return _refuse_locked(until)
    form = TotpForm()
    error = None
    status = 200
    if form.validate_on_submit():
        code = form.code.data or ""
        if totp.check_totp(user, code) or totp.use_recovery_code(user, code):
            return _complete_sign_in(user, typed_name, session.get("pending_next"))
        attempt = record_failure(throttle_key(typed_name, settings()), settings())
        record_refusal(typed_name, locked=False, second_factor=True)
        db.session.commit()
        if attempt.locked_until is not None:
            return _refuse_locked(attempt.locked_until)
        error, status = _("The code is not valid. Codes can be used only once."), 401
    return render_template("auth/totp.html", form=form, error=error), status


def _refuse_locked(until: datetime) -> ResponseReturnValue:
    """End the pending second step and show the sign-in page with the lock-out message."""
    session.clear()
    return render_template("auth/login.html", form=LoginForm(), error=_locked_message(until), notice=None), 429


def _end_session(reason: str) -> ResponseReturnValue:
    if current_user.is_authenticated:
        audit.record_sign_out(current_user, locked=reason == "locked")
        db.session.commit()
    logout_user()
    session.clear()
    return redirect(url_for("auth.login", m=reason))


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    return _end_session("signedout")


@bp.post("/lock")
def lock() -> ResponseReturnValue:
    return _end_session("locked")


@bp.route("/reauth", methods=["GET", "POST"])
@limiter.limit(_address_limit, methods=["POST"])
def reauth() -> ResponseReturnValue:
    form = ReauthForm(next=request.args.get("next", ""))
    error = None
    if form.validate_on_submit():
        key = throttle_key(current_user.username, settings())
        if passwords.verify(current_user.password_hash, form.password.data or "", settings()):
            clear_failures(key)
            session["auth_at"] = utcnow().timestamp()
            session.regenerate()  # type: ignore[attr-defined]
            db.session.commit()
            return redirect(safe_next(form.next.data) or url_for("main.index"))
        attempt = record_failure(key, settings())
        db.session.commit()
        if attempt.locked_until is not None:
            return _end_session("throttled")
        error = _("The password is not correct.")
    return render_template("auth/reauth.html", form=form, error=error)


@bp.post("/language")
def set_language() -> ResponseReturnValue:
    locale = request.form.get("locale", "")
    if locale not in UI_LOCALES:
        abort(400)
    if current_user.is_authenticated:
        current_user.locale = locale
        db.session.commit()
    else:
        session["locale"] = locale
    return redirect(safe_next(request.form.get("next")) or url_for("main.index"))
