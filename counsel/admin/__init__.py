"""Administration: accounts, roles, sites, handing over cases. Admins never read case content."""

from flask import Blueprint

from counsel.access import manages_accounts
from counsel.security import admit

bp = Blueprint("admin", __name__, url_prefix="/admin")
bp.before_request(admit(manages_accounts))
