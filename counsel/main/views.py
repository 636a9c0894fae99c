"""Start page by role, and the health check for monitoring."""

from __future__ import annotations

from flask import Blueprint, abort, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import text

from counsel.access import is_adviser
from counsel.clock import today
from counsel.extensions import db
from counsel.security import owes_pledge
from counsel.services import consultations, safety

bp = Blueprint("main", __name__)


@bp.get("/")
def index() -> ResponseReturnValue:
    """The start page: an adviser's caseload and due follow-ups, or the tiles of her other roles.

    An adviser who owes the confidentiality pledge sees no case here either, only the way to it.
    """
    pledge_owed = owes_pledge(current_user)
    board = consultations.dashboard(current_user) if is_adviser(current_user) and not pledge_owed else None
    reviews = safety.due_reviews(current_user, board.week_end) if board else []
    return render_template("main/index.html", board=board, reviews=reviews, today=today(), pledge_owed=pledge_owed)


@bp.get("/notifications")
def notifications() -> ResponseReturnValue:
    """Her in-app messages (emergency access to her cases, ...); looking changes nothing."""
    items = safety.notifications_for(current_user)
    unread = {item.id for item in items if item.read_at is None}
    return render_template("main/notifications.html", items=items, unread=unread, newest=max(unread, default=None))


@bp.post("/notifications/read")
def mark_read() -> ResponseReturnValue:
    """Mark the messages read that the page showed her, by her own click (a GET never does)."""
    newest = request.form.get("newest", type=int)
    if newest is None:
        abort(400)
    safety.mark_read(current_user, newest)
    db.session.commit()
    return redirect(url_for("main.notifications"))


@bp.get("/health")
def health() -> ResponseReturnValue:
    """Answer whether the app and its database respond; says nothing else."""
    db.session.execute(text("SELECT 1"))
    return jsonify(status="ok")
