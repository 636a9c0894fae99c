"""Two people for every path to case content that the owner did not open.

An admin asks, another person confirms: the admin or coordinator role (each decides requests),
the adviser role for an account that holds another role, handing cases over, removing another
person's second factor, a new password for a person without one, and an emergency access beyond
the first open one or the third in 30 days, or by an account younger than 30 days, and erasing a
case on her request (decided at /admin/erasures, see `access.may_decide_erasure`). Each
request and each decision is on the audit trail, and the adviser concerned and the supervisors
of her site are told either way. Who may decide is answered by `access.may_decide`; the server's
command line decides as the operator, who holds the keys anyway (docs/security.md).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from counsel import audit
from counsel.access import AccountChange, may_decide, may_decide_erasure, may_keep_or_erase, needs_second_person
from counsel.clock import utcnow
from counsel.errors import NotPermitted
from counsel.extensions import db
from counsel.models.audit import AuditEvent
from counsel.models.case import Case
from counsel.models.change_request import ChangeRequest, RequestKind, RequestStatus
from counsel.models.safety import EmergencyAccess, Notification
from counsel.models.user import Role, User
from counsel.services import accounts, cases, erasure, safety
from counsel.settings import Settings


class RequestError(NotPermitted):
    """The request or the decision was refused; the message says why."""


@dataclass(frozen=True)
class Decision:
    """What a confirmation produced: for a password reset, the one-time password to hand over."""

    request: ChangeRequest
    one_time_password: str | None = None


def _open(actor: User, kind: RequestKind, account: User, **fields: object) -> ChangeRequest:
    request = ChangeRequest(id=uuid.uuid4(), kind=kind.value, status=RequestStatus.PENDING.value,
                            requested_by_id=actor.id, requested_by=actor, account_id=account.id, account=account,
                            requested_at=utcnow(), **fields)
    db.session.add(request)
    db.session.flush()
    audit.record("request_opened", actor=actor, target_user=account, detail=f"{kind.value} {request.id}")
    _tell(request, "request_opened", actor)
    return request


def request_roles(actor: User, account: User, roles: set[Role]) -> ChangeRequest:
    """Ask for the roles that wait for a second person (see access.roles_needing_confirmation)."""
    accounts.authorise(actor, account, AccountChange.ACCESS, asking=True)
    if not roles:
        raise RequestError(_l("This change needs no second person."))
    return _open(actor, RequestKind.ROLES, account, roles=",".join(sorted(r.value for r in roles)))


def request_transfer(actor: User, source: User, moving: list[Case], receiver: User) -> ChangeRequest:
    """Ask to hand cases over; the one who asks can never be the one who receives them."""
    accounts.authorise(actor, None, AccountChange.ACCESS)
    if receiver.id == actor.id:
        raise RequestError(_l("You cannot hand cases over to yourself."))
    if not moving or any(case.owner_id != source.id for case in moving):
        raise RequestError(_l("Choose cases that this adviser holds."))
    return _open(actor, RequestKind.TRANSFER, source, receiver_id=receiver.id, receiver=receiver,
                 case_ids=" ".join(str(case.id) for case in moving))


def request_totp_reset(actor: User, account: User) -> ChangeRequest:
    accounts.authorise(actor, account, AccountChange.SECOND_FACTOR, asking=True)
    return _open(actor, RequestKind.RESET_TOTP, account)


def reset_password(actor: User, account: User, settings: Settings) -> str | ChangeRequest:
    """A new one-time password now if her second factor still guards the account, else a request.

    Knowing her password gets nobody past her second factor. Without one (not yet enrolled, or
    an installation without TOTP) the password alone opens her cases, so a second person decides.
    """
    accounts.authorise(actor, account, AccountChange.PASSWORD, asking=True)
    if not needs_second_person(account, AccountChange.PASSWORD):
        return accounts.reset_password(account, settings, actor=actor)
    return _open(actor, RequestKind.RESET_PASSWORD, account)


def emergency_access(actor: User, number: str, justification: str) -> EmergencyAccess | ChangeRequest:
    """Open a colleague's case in an emergency at once, or, beyond the limits, ask a supervisor first."""
    # Her own row locked first: emergencies asked for at the same moment are counted one after the other.
    db.session.execute(select(User.id).where(User.id == actor.id).with_for_update())
    grant = safety.write_emergency_access(actor, number, justification)
    if not safety.emergency_needs_approval(actor):
        safety.open_grant(grant)
        return grant
    db.session.flush()
    return _open(actor, RequestKind.EMERGENCY, actor, emergency_id=grant.id, emergency=grant)


def request_erasure(actor: User, case: Case, reason: str) -> ChangeRequest:
    """Ask for the erasure of her case (Art. 17 GDPR); the reason is encrypted with the case and goes with it."""
    if not may_keep_or_erase(actor, case):
        raise RequestError(_l("Only the adviser who holds the case asks for its erasure."))
    if not reason.strip():
        raise RequestError(_l("Say why the case is to be erased (for example: she asked for it in writing on ...)."))
    if case.legal_hold is not None:
        raise RequestError(_l("The case is under a legal hold: end the hold before asking for its erasure."))
    waiting = select(ChangeRequest.id).where(ChangeRequest.case_id == case.id,
                                             ChangeRequest.status == RequestStatus.PENDING.value)
    if db.session.scalar(waiting) is not None:
        raise RequestError(_l("Its erasure has been asked for already and waits for a second person."))
    request = _open(actor, RequestKind.ERASURE, actor, case_id=case.id, case=case)
    request.reason = reason.strip()[:500]
    audit.record("erasure_requested", actor=actor, case=case, detail=f"request {request.id}")
    return request


def pending_for(decider: User) -> list[ChangeRequest]:
    """The requests this person may decide at /requests, oldest first (erasures are decided at /admin/erasures)."""
    return [request for request in all_pending()
            if request.kind != RequestKind.ERASURE.value and may_decide(decider, request)]


def erasures_for(decider: User) -> list[ChangeRequest]:
    """The erasures this person may decide, oldest first."""
    return [request for request in all_pending()
            if request.kind == RequestKind.ERASURE.value and may_decide_erasure(decider, request)]


def pending_erasures() -> list[str]:
    """The case numbers whose erasure waits for a decision; a restore names them (later decisions are lost)."""
    return list(db.session.scalars(select(Case.number).join(ChangeRequest, ChangeRequest.case_id == Case.id)
                                   .where(ChangeRequest.kind == RequestKind.ERASURE.value,
                                          ChangeRequest.status == RequestStatus.PENDING.value)
                                   .order_by(Case.number)))


def opened_by(actor: User, limit: int = 50) -> list[ChangeRequest]:
    return list(db.session.scalars(select(ChangeRequest).where(ChangeRequest.requested_by_id == actor.id)
                                   .order_by(ChangeRequest.requested_at.desc()).limit(limit)))


def all_pending() -> list[ChangeRequest]:
    return list(db.session.scalars(select(ChangeRequest).where(ChangeRequest.status == RequestStatus.PENDING.value)
                                   .order_by(ChangeRequest.requested_at)))


def confirm(decider: User | None, request: ChangeRequest, settings: Settings) -> Decision:
    """Carry the request out; `decider` None is the server's command line."""
    _check_decider(decider, request)
    _close(request, decider, RequestStatus.CONFIRMED)  # the services check that what they carry out is confirmed
    return Decision(request, _carry_out(request, decider, settings))


def refuse(decider: User | None, request: ChangeRequest) -> Decision:
    _check_decider(decider, request)
    _close(request, decider, RequestStatus.REFUSED)
    return Decision(request)


def _check_decider(decider: User | None, request: ChangeRequest) -> None:
    # Two deciders at once: the second waits for the first one's row lock, then finds it decided. The lock
    # is taken on the bare row (PostgreSQL refuses FOR UPDATE on the outer joins of the eager relationships).
    db.session.execute(select(ChangeRequest.id).where(ChangeRequest.id == request.id).with_for_update())
    db.session.refresh(request)
    if not request.pending:
        raise RequestError(_l("This request has been decided already."))
    decides = may_decide_erasure if request.kind == RequestKind.ERASURE.value else may_decide
    if decider is not None and not decides(decider, request):
        raise RequestError(_l("You may not decide this request: it needs someone other than whoever asked "
                              "for it or gains by it."))


def _carry_out(request: ChangeRequest, decider: User | None, settings: Settings) -> str | None:
    account = request.account
    if request.kind == RequestKind.ROLES.value:
        # The roles asked for, on top of what she holds now, whatever else changed since the asking.
        roles = account.roles | request.role_set
        accounts.update_user(account, display_name=account.display_name, site=account.site, roles=roles,
                             locale=account.locale, actor=decider or audit.OPERATOR, confirmed=request)
    elif request.kind == RequestKind.TRANSFER.value:
        receiver = request.receiver
        if receiver is None:
            raise RequestError(_l("The adviser who would receive the cases no longer exists."))
        moving = list(db.session.scalars(select(Case).where(Case.id.in_(request.case_id_list),
                                                            Case.owner_id == account.id)))
        cases.transfer(request.requested_by, moving, receiver)
    elif request.kind == RequestKind.RESET_TOTP.value:
        if account.must_change_password:
            # Her password is a one-time password someone else knows: without the factor, that one would be in.
            raise RequestError(_l("Her password was reset and she has not chosen her own yet: removing her second "
                                  "factor now would let whoever knows the one-time password in. Refuse this "
                                  "request, or wait until she has signed in."))
        accounts.reset_totp(account, actor=decider or audit.OPERATOR, confirmed=request)
    elif request.kind == RequestKind.RESET_PASSWORD.value:
        # The trail names who asked: she is told at her next sign-in who reset her password.
        return accounts.reset_password(account, settings, actor=request.requested_by, confirmed=request)
    elif request.kind == RequestKind.ERASURE.value:
        if request.case is None:
            raise RequestError(_l("The case no longer exists."))
        erasure.erase(request.case, cause=erasure.REQUEST, actor=decider, actor_name=_name(decider), request=request,
                      detail=f"requested_by={request.requested_by.username} confirmed_by={_name(decider)}")
    elif request.kind == RequestKind.EMERGENCY.value and request.emergency is not None:
        grant = request.emergency
        if not (account.active and account.has_role(Role.ADVISER) and account.site_id == grant.case.site_id):
            raise RequestError(_l("She is no longer an active adviser at the case's site."))
        safety.open_grant(grant, approved_by=_name(decider))
    return None


def _close(request: ChangeRequest, decider: User | None, status: RequestStatus) -> None:
    request.status = status.value
    request.decided_by_id = decider.id if decider else None
    request.decided_by_name = _name(decider)
    request.decided_at = utcnow()
    action = "request_confirmed" if status is RequestStatus.CONFIRMED else "request_refused"
    audit.record(action, actor=decider, actor_name=_name(decider), target_user=request.account,
                 detail=f"{request.kind} {request.id}")
    _tell(request, action, decider)


def _name(decider: User | None) -> str:
    return decider.username if decider else audit.OPERATOR


def _tell(request: ChangeRequest, kind: str, actor: User | None) -> None:
    """The account concerned, the receiver of a transfer, the requester and the site's supervisors hear of it."""
    people = {request.account_id: request.account, request.requested_by_id: request.requested_by}
    if request.receiver is not None:
        people[request.receiver.id] = request.receiver
    # An erasure concerns the case's site (its holder may have moved since); the rest, the account's.
    erasure_of = request.case if request.kind == RequestKind.ERASURE.value else None
    site_id = erasure_of.site_id if erasure_of is not None else request.account.site_id
    people.update({user.id: user for user in safety.supervisors_of(site_id)})
    if actor is not None:
        people.pop(actor.id, None)
    name = actor.display_name if actor else audit.OPERATOR
    for user in people.values():
        db.session.add(Notification(user_id=user.id, kind=kind, actor_name=name, request_id=request.id,
                                    created_at=utcnow()))


@dataclass(frozen=True)
class ResetNotice:
    by: str
    at: datetime


def password_resets_since(user: User, since: datetime | None) -> list[ResetNotice]:
    """Who reset her password, and when, since she last signed in: she is told at her next sign-in."""
    query = (select(AuditEvent.actor_name, User.display_name, AuditEvent.at)
             .outerjoin(User, User.id == AuditEvent.actor_id)
             .where(AuditEvent.action == "password_reset", AuditEvent.target_user_id == user.id)
             .order_by(AuditEvent.seq))
    if since is not None:
        query = query.where(AuditEvent.at >= since.replace(microsecond=0))
    return [ResetNotice(display or name, at) for name, display, at in db.session.execute(query)]
