"""The adviser's case work. Supervisors and admins are turned away at the door (403); an adviser who
has not accepted the current confidentiality pledge is sent to it first."""

from flask import Blueprint

from counsel.access import is_adviser
from counsel.security import admit, pledge_first

bp = Blueprint("cases", __name__, url_prefix="/cases")
bp.before_request(admit(is_adviser))
bp.before_request(pledge_first)  # after the door: only advisers owe it
