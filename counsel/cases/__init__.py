"""The adviser's case work. Supervisors and admins are turned away at the door (403)."""

from flask import Blueprint

from counsel.access import is_adviser
from counsel.security import admit

bp = Blueprint("cases", __name__, url_prefix="/cases")
bp.before_request(admit(is_adviser))
