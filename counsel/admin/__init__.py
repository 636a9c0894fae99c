"""Administration: accounts, roles, sites, handing over cases. Admins never read case content."""

from flask import Blueprint

from counsel.models.user import Role
from counsel.security import require_role

bp = Blueprint("admin", __name__, url_prefix="/admin")
bp.before_request(require_role(Role.ADMIN))
