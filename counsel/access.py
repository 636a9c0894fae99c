"""Who may do what to which case: the one place that answers it.

Deny by default. An adviser reads and edits the cases she owns and those a colleague shared
with her (until the share ends); a case she opened in an emergency (for a few hours, with a
justification; see counsel.services.safety) she reads and records in, nothing more. Only the
owner shares; supervisors and admins never see case content (their role gives them nothing here).
Every route that touches a case goes through `load_case` (and a record of a case through
`record_of`), which refuse with CaseDenied: a 404, so that nothing, not even the existence of a
case, leaks to someone who may not see it, and an entry on that case's trail.
"""

from __future__ import annotations

import enum
import uuid
from datetime import date
from typing import Any, Protocol, TypeVar

from sqlalchemy import Select, false, or_, select
from werkzeug.exceptions import NotFound

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
    KEEP = "keep"  # closing, reopening, a legal hold, asking for erasure: how long the case is kept


# What only the adviser who holds the case does: whom she trusts with it, and how long it is kept
# (closing starts the retention period; a colleague closing or reopening would decide it for her).
OWNER_PERMISSIONS = frozenset({Permission.SHARE, Permission.KEEP})

# What emergency access allows: reading, and recording what the emergency calls for. It never
# shares, exports, withdraws consent, deletes or changes her personal fields.
EMERGENCY_PERMISSIONS = frozenset({Permission.READ, Permission.RECORD})


def acts_as(user: Any, role: Role) -> bool:
    """A signed-in, active account that holds the role: the start of every rule below."""
    return bool(getattr(user, "is_authenticated", False)) and user.active and user.has_role(role)


def is_adviser(user: Any) -> bool:
    """Case work: her own cases, those shared with her, an emergency."""
    return acts_as(user, Role.ADVISER)


def manages_accounts(user: Any) -> bool:
    """Accounts, sites, hand-overs and the audit trail: never case content."""
    return acts_as(user, Role.ADMIN)


def reads_statistics(user: Any) -> bool:
    """Anonymised statistics of the sites she coordinates (report_site_ids)."""
    return acts_as(user, Role.SUPERVISOR)


def decides_requests(user: Any) -> bool:
    """The requests page: admins and coordinators decide what one person may not do alone (may_decide)."""
    return any(acts_as(user, role) for role in DECIDING_ROLES)


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
    if permission in OWNER_PERMISSIONS:
        return False
    if any(share.user_id == user.id and share.active_on(today()) for share in case.shares):
        return True
    if permission not in EMERGENCY_PERMISSIONS:
        return False
    return db.session.scalar(emergency_case_ids(user.id).where(EmergencyAccess.case_id == case.id)) is not None


def permission_for_method(method: str, writing: Permission = Permission.WRITE) -> Permission:
    """A page that shows part of a case on GET and changes it on POST needs to read, or to write."""
    return writing if method == "POST" else Permission.READ


class CaseDenied(NotFound):
    """A user asked for a case, or a record of one, that she may not reach.

    It answers 404 like an unknown address, so nothing (not even that the case exists) leaks.
    The error handler rolls back whatever the request had begun and then writes the attempt on
    the trail of the case concerned (`write_denial`), so a caller's half-done work is never
    committed along with it; outside a request (a service, the CLI) it is simply an error.
    """

    def __init__(self, user: Any, case_id: uuid.UUID | None, detail: str) -> None:
        super().__init__()
        self.user = user
        self.case_id = case_id
        self.detail = detail


def write_denial(denied: CaseDenied) -> None:
    """Put a refused attempt on the trail of its case, in a transaction of its own."""
    db.session.rollback()
    case = db.session.get(Case, denied.case_id) if denied.case_id else None
    audit.record("case_access_denied", actor=denied.user, case=case, detail=denied.detail)
    db.session.commit()


def load_case(user: User, case_id: uuid.UUID, permission: Permission = Permission.READ) -> Case:
    """Return the case if the user may do this to it; otherwise raise CaseDenied."""
    case = db.session.get(Case, case_id)
    if case is not None and allows(user, case, permission):
        return case
    raise CaseDenied(user, case.id if case else None, permission.value)


def require(user: Any, case: Case, permission: Permission) -> None:
    """For the services: refuse an actor who may not do this to this case, whichever view or script calls."""
    if not allows(user, case, permission):
        raise CaseDenied(user, case.id, permission.value)


def require_adviser(user: Any) -> None:
    """Only an active adviser opens a case (it is hers from then on)."""
    if not is_adviser(user):
        raise CaseDenied(user, None, "open")


class CaseRecord(Protocol):
    @property
    def case_id(self) -> uuid.UUID: ...


R = TypeVar("R", bound=CaseRecord)


def record_of(user: User, case: Case, model: type[R], record_id: uuid.UUID) -> R:
    """Return a record (consultation, consent, share, …) if it belongs to this case; else CaseDenied.

    Access to the case in the address says nothing about another case's record: the denial is
    written on the case the record belongs to, so its holder sees the attempt.
    """
    found = db.session.get(model, record_id)
    if found is not None and found.case_id == case.id:
        return found
    raise CaseDenied(user, found.case_id if found is not None else case.id, getattr(model, "__tablename__", "record"))


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


def needs_second_person(account: User, change: AccountChange) -> bool:
    """Changes that open a way past her own sign-in wait for a second person, whoever asks.

    Removing her second factor lets whoever knows her password in; a new password lets the one
    who set it in unless her second factor still guards her.
    """
    return change is AccountChange.SECOND_FACTOR or (
        change is AccountChange.PASSWORD and not (account.totp_enabled and account.totp_secret))


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


# --- erasure: legal holds, erasure on request (Art. 17) and who confirms it ------------------------

def may_keep_or_erase(user: Any, case: Case) -> bool:
    """Only the adviser who holds the case sets or ends its legal hold and asks for its erasure.

    A colleague it is shared with, or who opened it in an emergency, never does: both reach the
    case for her work, not to decide how long it is kept.
    """
    return allows(user, case, Permission.KEEP)


def may_decide_erasure(decider: Any, request: ChangeRequest) -> bool:
    """An admin, or a supervisor of the case's site, confirms or refuses an erasure: never whoever asked for it.

    Neither the requester nor the case's holder decides, even if she also holds a deciding role.
    """
    case = request.case
    if decider is None or request.kind != RequestKind.ERASURE.value or case is None:
        return False
    if decider.id in (request.requested_by_id, case.owner_id):
        return False
    return acts_as(decider, Role.ADMIN) or case.site_id in report_site_ids(decider)
