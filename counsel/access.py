"""Who may do what to which case: the one place that answers it.

Deny by default. An adviser reads and edits the cases she owns, those a colleague shared
with her (until the share ends) and those she opened in an emergency (for a few hours, with
a justification; see counsel.services.safety); only the owner shares; supervisors and admins never see
case content (their role gives them nothing here). Every route that touches a case goes
through `load_case`, which records a failed access and answers 404 so that nothing, not
even the existence of a case, leaks to someone who may not see it.
"""

from __future__ import annotations

import enum
import uuid
from datetime import date
from typing import Any

from flask import abort, current_app, has_app_context
from sqlalchemy import Select, false, or_, select

from counsel import audit
from counsel.clock import local_today, utcnow
from counsel.extensions import db
from counsel.models.case import Case, CaseShare
from counsel.models.safety import EmergencyAccess
from counsel.models.user import Role, User


class Permission(enum.Enum):
    READ = "read"
    WRITE = "write"
    SHARE = "share"


def today() -> date:
    """The service's calendar day, on which consents, shares and follow-ups turn.

    In its own time zone: a consent that expired yesterday must stop at local midnight, not at
    one or two in the morning when Greenwich's day ends.
    """
    zone = current_app.config["COUNSEL"].timezone if has_app_context() else "UTC"
    return local_today(zone)


def is_adviser(user: Any) -> bool:
    return bool(getattr(user, "is_authenticated", False)) and user.active and user.has_role(Role.ADVISER)


def active_share_case_ids(user_id: uuid.UUID, day: date) -> Select[tuple[uuid.UUID]]:
    """Cases shared with a user that are still shared on a day."""
    return select(CaseShare.case_id).where(
        CaseShare.user_id == user_id,
        CaseShare.revoked_at.is_(None),
        or_(CaseShare.expires_on.is_(None), CaseShare.expires_on >= day),
    )


def emergency_case_ids(user_id: uuid.UUID) -> Select[tuple[uuid.UUID]]:
    """Cases opened by this user in an emergency whose access has not yet run out."""
    return select(EmergencyAccess.case_id).where(EmergencyAccess.user_id == user_id,
                                                 EmergencyAccess.expires_at > utcnow())


def visible_cases(user: Any) -> Select[tuple[Case]]:
    """Return a query of every case the user may read; empty for anyone but an adviser."""
    query = select(Case)
    if not is_adviser(user):
        return query.where(false())
    return query.where(or_(Case.owner_id == user.id, Case.id.in_(active_share_case_ids(user.id, today())),
                           Case.id.in_(emergency_case_ids(user.id))))


def allows(user: Any, case: Case, permission: Permission) -> bool:
    """Tell whether the user may do this to this case."""
    if not is_adviser(user):
        return False
    if case.owner_id == user.id:
        return True
    if permission is Permission.SHARE:
        return False
    if any(share.user_id == user.id and share.active_on(today()) for share in case.shares):
        return True
    return db.session.scalar(emergency_case_ids(user.id).where(EmergencyAccess.case_id == case.id)) is not None


def load_case(user: User, case_id: uuid.UUID, permission: Permission = Permission.READ) -> Case:
    """Return the case if the user may do this to it; otherwise record the attempt and answer 404."""
    case = db.session.get(Case, case_id)
    if case is not None and allows(user, case, permission):
        return case
    audit.record("case_access_denied", actor=user, case=case, detail=permission.value)
    db.session.commit()
    abort(404)
