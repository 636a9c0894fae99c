"""The adviser's case work. Supervisors and admins are turned away at the door (403)."""

from flask import Blueprint

from counsel.models.user import Role
from counsel.security import require_role

bp = Blueprint("cases", __name__, url_prefix="/cases")
bp.before_request(require_role(Role.ADVISER))
