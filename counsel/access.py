"""Who may do what to which case: the one place that answers it.

Deny by default. An adviser reads and edits the cases she owns and those a colleague shared
with her (until the share ends); a case she opened in an emergency (for a few hours, with a
justification; see counsel.services.safety) she reads and records in, nothing more. Only the
owner shares; supervisors and admins never see case content (their role gives them nothing here).
Every route that touches a case goes through `load_case`, which records a failed access and
answers 404 so that nothing, not even the existence of a case, leaks to someone who may not see it.
"""

from __future__ import annotations

import enum
import uuid
from datetime import date
from typing import Any

from flask import abort
from sqlalchemy import Select, false, or_, select

from counsel import audit
from counsel.clock import today, utcnow
from counsel.extensions import db
from counsel.models.case import Case, CaseShare
from counsel.models.change_request import ChangeRequest, RequestKind
from counsel.models.safety import EmergencyAccess
from counsel.models.user import Role, User


class Permission(enum.Enum):
    READ = "read"
    RECORD = "record"  # add a consultation, a risk assessment, the safety plan
    WRITE = "write"  # her personal fields, consent, passing data on, closing, deleting
    EXPORT = "export"  # the subject access copy
    SHARE = "share"


# What emergency access allows: reading, and recording what the emergency calls for. It never
# shares, exports, withdraws consent, deletes or changes her personal fields.
EMERGENCY_PERMISSIONS = frozenset({Permission.READ, Permission.RECORD})


def acts_as(user: Any, role: Role) -> bool:
    """A signed-in, active account that holds the role: the start of every rule below."""
    return bool(getattr(user, "is_authenticated", False)) and user.active and user.has_role(role)


def is_adviser(user: Any) -> bool:
    return acts_as(user, Role.ADVISER)


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
    if permission not in EMERGENCY_PERMISSIONS:
        return False
    return db.session.scalar(emergency_case_ids(user.id).where(EmergencyAccess.case_id == case.id)) is not None


def permission_for_method(method: str, writing: Permission = Permission.WRITE) -> Permission:
    """A page that shows part of a case on GET and changes it on POST needs to read, or to write."""
    return writing if method == "POST" else Permission.READ


def load_case(user: User, case_id: uuid.UUID, permission: Permission = Permission.READ) -> Case:
    """Return the case if the user may do this to it; otherwise record the attempt and answer 404."""
    case = db.session.get(Case, case_id)
    if case is not None and allows(user, case, permission):
        return case
    audit.record("case_access_denied", actor=user, case=case, detail=permission.value)
    db.session.commit()
    abort(404)


# --- accounts: no insider makes herself a reader of a case alone ------------------------------

class AccountChange(enum.Enum):
    PROFILE = "profile"  # name and language
    ACCESS = "access"  # roles, site, supervised sites
    SECOND_FACTOR = "second_factor"
    PASSWORD = "password"  # noqa: S105 - the name of a change, not a password
    ACTIVE = "active"


def may_change_account(actor: Any, account: User, change: AccountChange) -> bool:
    """Admins manage accounts; nobody changes her own access, second factor or password here.

    An admin who could give herself the adviser role, or reset her own factor through the
    admin pages, would need nobody else to become a reader of cases.
    """
    return acts_as(actor, Role.ADMIN) and (change is AccountChange.PROFILE or actor.id != account.id)


# The roles that decide requests: an account given one of them could confirm its maker's requests.
DECIDING_ROLES = frozenset({Role.ADMIN, Role.SUPERVISOR})


def roles_needing_confirmation(current: set[Role], wanted: set[Role]) -> set[Role]:
    """The roles an account would gain that wait for a second person.

    Admin and coordinator decide requests: made alone, a second account would be a second person
    that one admin controls. The adviser role opens cases: for an account that holds, or is given,
    another role it waits too. A new account made as an adviser only starts with no case at all.
    """
    added = wanted - current
    needing = set(added & DECIDING_ROLES)
    if Role.ADVISER in added and (current | wanted) - {Role.ADVISER}:
        needing.add(Role.ADVISER)
    return needing


def may_decide(decider: Any, request: ChangeRequest) -> bool:
    """Whether this person may confirm or refuse the request: never its requester or beneficiary.

    Account changes and transfers are decided by another admin or by a supervisor of the
    account's site; a further emergency access by a supervisor of the case's site.
    """
    if decider is None or decider.id in (request.requested_by_id, request.receiver_id, request.account_id):
        return False
    if request.kind == RequestKind.EMERGENCY.value:
        case_site = request.emergency.case.site_id if request.emergency else None
        return case_site in report_site_ids(decider)
    return acts_as(decider, Role.ADMIN) or request.account.site_id in report_site_ids(decider)


# --- anonymised statistics -------------------------------------------------------------------

def report_site_ids(user: Any) -> set[int]:
    """The sites whose anonymised statistics she may see: her own and those assigned, if she supervises."""
    if not acts_as(user, Role.SUPERVISOR):
        return set()
    ids: set[int] = user.supervised_site_ids
    return ids
