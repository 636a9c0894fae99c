"""Domain errors and the error pages: friendly, translated, and never a stack trace."""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app, render_template, request
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from counsel.access import CaseDenied, write_denial
from counsel.crypto import UnreadableField
from counsel.extensions import db


class CounselError(Exception):
    """A rule refused an action; the message is safe to show to the user who asked."""

    status = 400

    def __init__(self, message: Any) -> None:
        super().__init__(message)  # kept lazy: translated when shown, in the reader's language
        self.message = message


class NotPermitted(CounselError):
    status = 403


class Conflict(CounselError):
    status = 409


ERROR_TITLES = {
    400: _l("Bad request"),
    401: _l("Please sign in"),
    403: _l("Access denied"),
    404: _l("Not found"),
    405: _l("Method not allowed"),
    409: _l("Conflict"),
    413: _l("Request too large"),
    429: _l("Too many attempts"),
    500: _l("Something went wrong"),
}
ERROR_TEXTS = {
    400: _l("The request could not be understood. Please go back and try again."),
    401: _l("This page needs a signed-in user."),
    403: _l("You do not have access to this page."),
    404: _l("There is no page at this address, or you may not see it."),
    405: _l("This address does not accept that kind of request."),
    409: _l("Someone else changed this in the meantime."),
    413: _l("The upload is larger than allowed."),
    429: _l("Too many attempts in a short time. Please wait a few minutes and try again."),
    500: _l("The server could not complete the request. Nothing was shown that should not be. "
            "If it happens again, tell your administration the time it happened."),
}


def render_error(status: int, message: Any = None) -> tuple[str, int]:
    """Render the error page for a status with an optional specific message."""
    return (
        render_template(
            "errors/error.html",
            status=status,
            title=ERROR_TITLES.get(status, ERROR_TITLES[500]),
            message=message or ERROR_TEXTS.get(status, ERROR_TEXTS[500]),
        ),
        status,
    )


def register_error_pages(app: Flask) -> None:
    """Install the handlers; a failed CSRF check and an unreadable record get their own pages."""

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> tuple[str, int]:
        status = exc.code or 500
        if status >= 500:
            db.session.rollback()
        return render_error(status)

    @app.errorhandler(CaseDenied)
    def case_denied(exc: CaseDenied) -> tuple[str, int]:
        write_denial(exc)
        return render_error(404)

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError) -> tuple[str, int]:
        return render_template("errors/csrf.html"), 400

    @app.errorhandler(CounselError)
    def counsel_error(exc: CounselError) -> tuple[str, int]:
        db.session.rollback()
        return render_error(exc.status, exc.message)

    @app.errorhandler(UnreadableField)
    def unreadable(exc: UnreadableField) -> tuple[str, int]:
        db.session.rollback()
        current_app.logger.error("unreadable record on %s %s: %s", request.method, request.path, exc)
        label = f"{exc.table} {exc.row_id}"
        return render_template("errors/unreadable.html", record_label=label, column=exc.column), 500

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> tuple[str, int]:
        db.session.rollback()
        current_app.logger.exception("unhandled error on %s %s", request.method, request.path)
        return render_error(500)
