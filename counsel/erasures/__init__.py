"""Erasures on request waiting for a second person, at /admin/erasures: admins and coordinators decide them.

A blueprint of its own, not the admin one: coordinators of the case's site decide too, and the
admin blueprint turns everyone but admins away. Whoever decides sees the case number, site,
requester, reason and date, never the case.
"""

from flask import Blueprint, abort
from flask_login import current_user

from counsel.access import acts_as
from counsel.models.user import Role

bp = Blueprint("erasures", __name__, url_prefix="/admin/erasures")


@bp.before_request
def deciders_only() -> None:
    """Only an active admin or coordinator comes in; which request she may decide is asked per request."""
    if not (acts_as(current_user, Role.ADMIN) or acts_as(current_user, Role.SUPERVISOR)):
        abort(403)
