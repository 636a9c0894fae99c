"""Requests that need a second person: the one place where admins and coordinators decide them."""

from flask import Blueprint

from counsel.access import decides_requests
from counsel.security import admit

bp = Blueprint("confirmations", __name__, url_prefix="/requests")
bp.before_request(admit(decides_requests))
