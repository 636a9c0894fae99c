"""The signed-in user's own account: language, password, second factor and recovery codes."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, logout_user

from counsel import audit
from counsel.account.forms import CounselLanguagesForm, LanguageForm, PasswordForm, PledgeForm, TotpConfirmForm
from counsel.errors import CounselError
from counsel.extensions import db
from counsel.i18n import UI_LOCALES, language_name
from counsel.languages import parse_picker_value
from counsel.security import fresh_required, safe_next, settings
from counsel.services import accounts, pledge, totp

bp = Blueprint("account", __name__, url_prefix="/account")


@bp.route("/", methods=["GET", "POST"])
def overview() -> ResponseReturnValue:
    form = LanguageForm(locale=current_user.locale)
    if form.validate_on_submit():
        current_user.locale = form.locale.data
        db.session.commit()
        flash(_("Saved."), "success")
        return redirect(url_for("account.overview"))
    return render_template("account/overview.html", form=form, languages=_languages_form(),
                           recovery_left=totp.remaining_recovery_codes(current_user),
                           pledged=pledge.latest(current_user), pledge_version=settings().pledge_in_force)


def _languages_form() -> CounselLanguagesForm:
    form = CounselLanguagesForm()
    if request.method == "GET" or not form.is_submitted():
        form = CounselLanguagesForm(formdata=None, tags=[f"{language_name(tag)} ({tag})"
                                                        for tag in current_user.languages])
    return form


def _refusal(unknown: list[str]) -> str:
    """Say which typed languages counsel does not know, so she can correct just those."""
    if not unknown:
        return str(_("Please pick the languages from the list, or type tags such as ar or ckb."))
    return str(_("Not a language we know: %(values)s. Pick languages from the list, or type a name (Arabisch, "
                 "Arabic) or a tag such as ar or ckb.", values=", ".join(f"“{value}”" for value in unknown)))


@bp.post("/languages")
def languages() -> ResponseReturnValue:
    """Record the languages she counsels in, so clients can be matched with her."""
    form = CounselLanguagesForm()
    typed = [(entry.data or "").strip() for entry in form.tags]
    tags = {value: parse_picker_value(value) for value in typed if value}
    unknown = [value for value, tag in tags.items() if tag is None]
    if unknown or not form.validate_on_submit():
        flash(_refusal(unknown), "error")
        return render_template("account/overview.html", form=LanguageForm(locale=current_user.locale),
                               languages=form, recovery_left=totp.remaining_recovery_codes(current_user),
                               pledged=pledge.latest(current_user), pledge_version=settings().pledge_in_force), 400
    current_user.set_languages([tag for tag in tags.values() if tag])
    audit.record("languages_changed", actor=current_user, target_user=current_user)
    db.session.commit()
    flash(_("Saved."), "success")
    return redirect(url_for("account.overview"))


@bp.route("/password", methods=["GET", "POST"])
def password() -> ResponseReturnValue:
    form = PasswordForm()
    error = None
    if form.validate_on_submit():
        try:
            accounts.change_own_password(current_user, form.current.data or "", form.new.data or "", settings())
        except accounts.LockedOut:
            db.session.commit()  # the lock-out, its event and the ended sessions
            logout_user()
            session.clear()
            return redirect(url_for("auth.login", m="throttled"))
        except CounselError as exc:
            db.session.commit()  # a wrong current password stays counted and on the trail
            error = exc.message
        else:
            audit.record("password_changed", actor=current_user, target_user=current_user)
            db.session.commit()
            logout_user()
            session.clear()
            return redirect(url_for("auth.login", m="changed"))
    return render_template("account/password.html", form=form, error=error,
                           forced=current_user.must_change_password)


@bp.route("/totp", methods=["GET", "POST"])
def totp_setup() -> ResponseReturnValue:
    """Set up the second factor: a POST makes the key, the app's first code switches it on.

    No GET changes state, so the key is made only by the "start" button; it is kept encrypted on
    the account (not enabled yet), so the scanned code stays valid on reload.
    """
    if current_user.totp_enabled:
        return redirect(url_for("account.overview"))
    if request.method == "POST" and request.form.get("start"):
        current_user.totp_secret = current_user.totp_secret or totp.new_secret()
        db.session.commit()
        return redirect(url_for("account.totp_setup"))
    secret = current_user.totp_secret
    if not secret:
        return render_template("account/totp_setup.html", secret=None, required=settings().require_totp)
    form = TotpConfirmForm()
    error = None
    if form.validate_on_submit():
        step = totp.verify_code(secret, form.code.data or "", None)
        if step is not None:
            current_user.totp_enabled = True
            current_user.totp_last_counter = step
            codes = totp.new_recovery_codes(current_user)
            audit.record("totp_enabled", actor=current_user, target_user=current_user)
            db.session.commit()
            return render_template("account/recovery_codes.html", codes=codes)
        error = _("The code is not valid. Check the time on your phone and try the next code.")
    uri = totp.provisioning_uri(secret, current_user.username)
    return render_template("account/totp_setup.html", form=form, error=error, secret=secret,
                           qr=totp.qr_svg(uri), required=settings().require_totp)


@bp.post("/recovery-codes")
@fresh_required
def recovery_codes() -> ResponseReturnValue:
    if not current_user.totp_enabled:
        return redirect(url_for("account.totp_setup"))
    codes = totp.new_recovery_codes(current_user)
    audit.record("recovery_codes_renewed", actor=current_user, target_user=current_user)
    db.session.commit()
    return render_template("account/recovery_codes.html", codes=codes)


@bp.route("/pledge", methods=["GET", "POST"], endpoint="pledge")
def pledge_page() -> ResponseReturnValue:
    """Show the confidentiality pledge in her language (the other on request); her click accepts the version shown.

    Advisers accept it before they first reach a case (security.pledge_first sends them here).
    Admins and supervisors without the adviser role never reach a case and are never sent here,
    but may read it, and accept it, all the same.
    """
    in_force = settings().pledge_in_force
    if request.method == "GET":
        form = PledgeForm(formdata=None, version=in_force, next=safe_next(request.args.get("next")) or "")
    else:
        form = PledgeForm()
    error = None
    if form.validate_on_submit():
        if form.version.data == in_force:
            pledge.accept(current_user, in_force)
            db.session.commit()
            flash(_("You accepted the confidentiality pledge (version %(version)s).", version=in_force), "success")
            return redirect(safe_next(form.next.data) or url_for("main.index"))
        error = _("The pledge was changed after the page was loaded. Please read the current version and accept "
                  "it again.")
        form = PledgeForm(formdata=None, version=in_force, next=form.next.data or "")
    elif form.is_submitted():
        error = _("The form was incomplete. Please accept the pledge again.")
    shown = request.args.get("lang")
    language = shown if shown in UI_LOCALES else str(get_locale() or settings().default_locale)
    page = render_template("account/pledge.html", form=form, error=error, version=in_force, language=language,
                           blocks=pledge.text(settings(), language), accepted=pledge.latest(current_user),
                           other_languages=[tag for tag in UI_LOCALES if tag != language])
    return page, 400 if error else 200
