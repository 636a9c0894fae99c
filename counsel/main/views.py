"""Start page by role, and the health check for monitoring."""

from __future__ import annotations

from flask import Blueprint, jsonify, render_template
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import text

from counsel.access import is_adviser, today
from counsel.extensions import db
from counsel.services import consultations, safety

bp = Blueprint("main", __name__)


@bp.get("/")
def index() -> ResponseReturnValue:
    """The start page: an adviser's caseload and due follow-ups, or the tiles of her other roles."""
    board = consultations.dashboard(current_user) if is_adviser(current_user) else None
    reviews = safety.due_reviews(current_user, board.week_end) if board else []
    return render_template("main/index.html", board=board, reviews=reviews, today=today())


@bp.get("/notifications")
def notifications() -> ResponseReturnValue:
    """Her in-app messages (emergency access to her cases, ...); opening the page marks them read."""
    items = safety.notifications_for(current_user)
    unread = {item.id for item in items if item.read_at is None}
    safety.mark_read(current_user)
    db.session.commit()
    return render_template("main/notifications.html", items=items, unread=unread)


@bp.get("/health")
def health() -> ResponseReturnValue:
    """Answer whether the app and its database respond; says nothing else."""
    db.session.execute(text("SELECT 1"))
    return jsonify(status="ok")
