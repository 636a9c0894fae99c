"""Start page by role, and the health check for monitoring."""

from __future__ import annotations

from flask import Blueprint, jsonify, render_template
from flask.typing import ResponseReturnValue
from sqlalchemy import text

from counsel.extensions import db

bp = Blueprint("main", __name__)


@bp.get("/")
def index() -> ResponseReturnValue:
    return render_template("main/index.html")


@bp.get("/health")
def health() -> ResponseReturnValue:
    """Answer whether the app and its database respond; says nothing else."""
    db.session.execute(text("SELECT 1"))
    return jsonify(status="ok")
