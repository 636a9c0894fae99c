"""Deny by default, and the security headers every response carries."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import Flask, Response, abort, current_app, redirect, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf.csrf import CSRFError

from counsel.access import is_adviser
from counsel.clock import utcnow
from counsel.errors import CounselError, NotPermitted
from counsel.services import pledge
from counsel.settings import Settings

# The whole list of endpoints that answer without a signed-in user. Everything else is closed.
PUBLIC_ENDPOINTS = frozenset(
    {"static", "main.health", "auth.login", "auth.login_totp", "auth.set_language"}
)
# What a signed-in user with an open obligation (new password, second factor) may still reach.
OBLIGATION_ENDPOINTS = frozenset({"auth.logout", "auth.lock", "account.password", "account.totp_setup"})

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ]
)

# Sent with every request: the full address to pages of counsel itself (so Flask-WTF's HTTPS
# check finds a same-origin Referer), nothing at all to any other site (case addresses stay home).
REFERRER_POLICY = "same-origin"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
QUERY_CONTROLS = re.compile(r"[\x00-\x1f\x7f]")

F = TypeVar("F", bound=Callable[..., Any])


def settings() -> Settings:
    value: Settings = current_app.config["COUNSEL"]
    return value


def safe_next(target: str | None) -> str | None:
    """Accept only a local path as a redirect target, never another site."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


def obligation_endpoint(user: Any) -> str | None:
    """Return where a signed-in user must go first, if anywhere."""
    if user.must_change_password:
        return "account.password"
    if settings().require_totp and not user.totp_enabled:
        return "account.totp_setup"
    return None


def owes_pledge(user: Any) -> bool:
    """Whether an adviser has yet to accept the current version of the installation's confidentiality pledge.

    Case work waits for it: every case page (`pledge_first`) and the caseload on the start page.
    Accounts that never reach a case (admins, supervisors without the adviser role) owe nothing
    here; they may still read the pledge, and accept it, on their account page.
    """
    return is_adviser(user) and not pledge.has_accepted(user, settings().pledge_in_force)


def pledge_first() -> ResponseReturnValue | None:
    """Before any case page: a GET is sent to the pledge while she owes it; a form sent is refused, not done."""
    if not owes_pledge(current_user):
        return None
    if request.method not in UNSAFE_METHODS:
        return redirect(url_for("account.pledge", next=request.full_path.rstrip("?")))
    raise NotPermitted(_l("Nothing was saved: please accept the confidentiality pledge before you work on cases "
                          "(My account, Confidentiality pledge)."))


def guard() -> ResponseReturnValue | None:
    """Before every request: anonymous users reach only the public list; obligations come first."""
    endpoint = request.endpoint
    if endpoint is None or endpoint in PUBLIC_ENDPOINTS:
        return None
    if not current_user.is_authenticated:
        if request.method == "GET":
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        abort(401)
    duty = obligation_endpoint(current_user)
    if duty and endpoint not in OBLIGATION_ENDPOINTS:
        return redirect(url_for(duty))
    return None


def same_origin_only() -> None:
    """Refuse a state-changing request that a browser says came from another origin.

    Browsers send `Origin` with every POST; a page of another site (another host, port or
    scheme, or an opaque origin such as a sandboxed frame, sent as "null") cannot make it name
    ours. Requests without it (scripts, old clients) still need the form token and, over HTTPS,
    Flask-WTF's same-origin Referer. docs/security.md says why both.
    """
    if request.method not in UNSAFE_METHODS:
        return
    origin = request.headers.get("Origin")
    if origin is not None and origin != request.host_url.rstrip("/"):
        raise CSRFError("The request came from another origin.")


def plain_address() -> None:
    """Refuse an address whose query holds control characters: no filter or page number has any.

    Forms check their fields (forms_common.CounselForm); the list pages read their filters from
    the address, and PostgreSQL would fail on a NUL there with an error page instead of a message.
    """
    if any(QUERY_CONTROLS.search(key) or QUERY_CONTROLS.search(value)
           for key, values in request.args.lists() for value in values):
        raise CounselError(_l("The address contains characters that cannot be used. Please use the links and "
                              "forms of the page."))


def admit(rule: Callable[[Any], bool]) -> Callable[[], None]:
    """Return a blueprint guard that lets in only the people a rule of counsel.access admits.

    The rule itself lives in access.py with every other answer to "may she"; this only turns
    its "no" into a 403 before any view of the blueprint runs.
    """

    def check() -> None:
        if not rule(current_user):
            abort(403)

    return check


def is_fresh() -> bool:
    """Tell whether the password was confirmed recently enough for a sensitive action."""
    confirmed = session.get("auth_at")
    if not confirmed:
        return False
    age = utcnow().timestamp() - float(confirmed)
    return age < settings().reauth_minutes * 60


def fresh_required(view: F) -> F:
    """Ask for the password again before a sensitive action when the sign-in is not recent."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not is_fresh():
            # The page a POST came from is carried in the form's `next`, not taken from the Referer.
            back = request.full_path.rstrip("?") if request.method == "GET" else request.form.get("next")
            return redirect(url_for("auth.reauth", next=safe_next(back)))
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def add_security_headers(response: Response) -> Response:
    """Set CSP and friends on every response, error pages included."""
    headers = response.headers
    headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    headers["X-Content-Type-Options"] = "nosniff"
    headers["Referrer-Policy"] = REFERRER_POLICY
    headers["Cross-Origin-Opener-Policy"] = "same-origin"
    headers["Cross-Origin-Resource-Policy"] = "same-origin"
    headers["X-Frame-Options"] = "DENY"
    headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=(), interest-cohort=()"
    if settings().env != "development":
        headers["Strict-Transport-Security"] = "max-age=63072000; includeSubDomains"
    if request.endpoint != "static":
        headers["Cache-Control"] = "no-store"
        headers["Pragma"] = "no-cache"
    return response


def init_app(app: Flask) -> None:
    app.before_request(same_origin_only)
    app.before_request(plain_address)
    app.before_request(guard)
    app.after_request(add_security_headers)

