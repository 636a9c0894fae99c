"""Deny by default, and the security headers every response carries."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import Flask, Response, abort, current_app, redirect, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from counsel.clock import utcnow
from counsel.models.user import Role
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


def require_role(role: Role) -> Callable[[], None]:
    """Return a blueprint guard that refuses users without the role."""

    def check() -> None:
        if not current_user.is_authenticated or not current_user.has_role(role):
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
            # Referer is never sent (no-referrer), so POST forms carry their page in `next`.
            back = request.full_path.rstrip("?") if request.method == "GET" else request.form.get("next")
            return redirect(url_for("auth.reauth", next=safe_next(back)))
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def add_security_headers(response: Response) -> Response:
    """Set CSP and friends on every response, error pages included."""
    headers = response.headers
    headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    headers["X-Content-Type-Options"] = "nosniff"
    headers["Referrer-Policy"] = "no-referrer"
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
    app.before_request(guard)
    app.after_request(add_security_headers)

