"""Requests that need a second person: the one place where admins and coordinators decide them."""

from flask import Blueprint, abort
from flask_login import current_user

from counsel.models.user import Role

bp = Blueprint("confirmations", __name__, url_prefix="/requests")


@bp.before_request
def deciders_only() -> None:
    """Admins decide account changes and hand-overs; coordinators those of their sites and emergencies."""
    if not (current_user.is_authenticated and (current_user.has_role(Role.ADMIN)
                                               or current_user.has_role(Role.SUPERVISOR))):
        abort(403)
