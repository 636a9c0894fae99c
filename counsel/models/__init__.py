"""Typed SQLAlchemy models, one module per aggregate; importing this registers them all."""

from counsel.models.audit import AuditEvent, AuditHead
from counsel.models.data_key import DataKey
from counsel.models.site import Site
from counsel.models.user import LoginThrottle, RecoveryCode, Role, User, UserRole
from counsel.models.web_session import WebSession

__all__ = [
    "AuditEvent",
    "AuditHead",
    "DataKey",
    "LoginThrottle",
    "RecoveryCode",
    "Role",
    "Site",
    "User",
    "UserRole",
    "WebSession",
]
