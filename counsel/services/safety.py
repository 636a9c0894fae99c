"""Risk assessments, the safety plan, emergency access, views of a case, and in-app notifications."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update

from counsel import audit, codes
from counsel.access import Permission, allows, require, visible_cases
from counsel.clock import today, utcnow
from counsel.errors import Conflict, CounselError
from counsel.extensions import db
from counsel.models.case import Case
from counsel.models.change_request import ChangeRequest
from counsel.models.safety import EmergencyAccess, Notification, Perpetrator, RiskAssessment
from counsel.models.user import Role, SupervisionScope, User, UserRole

EMERGENCY_HOURS = 12
EMERGENCY_WINDOW = timedelta(days=30)
EMERGENCIES_WITHOUT_APPROVAL = 3
EMERGENCY_MARK = "emergency"
MIN_JUSTIFICATION = 20
LEVEL_ORDER = ("standard", "elevated", "high")


class SafetyError(CounselError):
    """A safety rule refused the action; the message says why."""


def level_for(indicators: set[str]) -> str:
    """The level the checklist gives: any red flag is high, three or more indicators elevated."""
    if indicators & codes.RED_FLAGS:
        return "high"
    return "elevated" if len(indicators) >= 3 else "standard"


def assess(actor: User, case: Case, indicators: set[str], level: str | None, reasoning: str,
           review_on: date) -> RiskAssessment:
    """Record an assessment; the adviser may raise the checklist's level, never lower it."""
    require(actor, case, Permission.RECORD)
    if unknown := indicators - set(codes.RISK_INDICATORS):
        raise SafetyError(_l("Unknown value %(value)s.", value=", ".join(sorted(unknown))))
    computed = level_for(indicators)
    chosen = level or computed
    if chosen not in LEVEL_ORDER:
        raise SafetyError(_l("Unknown value %(value)s.", value=chosen))
    if LEVEL_ORDER.index(chosen) < LEVEL_ORDER.index(computed):
        raise SafetyError(_l("The checklist gives level %(level)s; it can be raised, not lowered.",
                             level=codes.label(codes.RISK_LEVELS, computed)))
    if chosen != computed and not reasoning.strip():
        raise SafetyError(_l("Say why you raise the level."))
    if review_on <= today():
        raise SafetyError(_l("The next review lies in the future."))
    assessment = RiskAssessment(id=uuid.uuid4(), case=case, case_id=case.id, assessed_on=today(), level=chosen,
                                review_on=review_on, assessed_by_id=actor.id)
    assessment.indicators = ",".join(sorted(indicators))
    assessment.reasoning = reasoning.strip() or None
    db.session.add(assessment)
    audit.record("risk_assessed", actor=actor, case=case, detail=f"level={chosen}")
    return assessment


def assessments_of(case: Case) -> list[RiskAssessment]:
    return list(db.session.scalars(select(RiskAssessment).where(RiskAssessment.case_id == case.id)
                                   .order_by(RiskAssessment.assessed_on.desc(), RiskAssessment.created_at.desc())))


def save_safety_plan(actor: User, case: Case, plan: str, expected_version: int) -> None:
    require(actor, case, Permission.RECORD)
    if case.version != expected_version:
        raise Conflict(_l("A colleague saved this case while you were editing. Your input is still in the form; "
                          "compare it with the current case and save again."))
    case.safety_plan = plan.strip() or None
    case.updated_at = utcnow()
    audit.record("safety_plan_saved", actor=actor, case=case)


@dataclass(frozen=True)
class DueReview:
    case: Case
    level: str
    review_on: date


def due_reviews(actor: User, until: date) -> list[DueReview]:
    """Open visible cases whose latest risk assessment is due for review by a day (overdue included)."""
    latest = (select(RiskAssessment.case_id, func.max(RiskAssessment.created_at).label("latest"))
              .group_by(RiskAssessment.case_id).subquery())
    rows = db.session.execute(
        select(RiskAssessment.case_id, RiskAssessment.level, RiskAssessment.review_on)
        .join(latest, (latest.c.case_id == RiskAssessment.case_id) & (latest.c.latest == RiskAssessment.created_at))
        .where(RiskAssessment.review_on <= until,
               RiskAssessment.case_id.in_(visible_cases(actor).where(Case.status == "open")
                                          .with_only_columns(Case.id)))
    ).all()
    cases = {c.id: c for c in db.session.scalars(select(Case).where(Case.id.in_([r[0] for r in rows])))}
    return sorted((DueReview(cases[cid], level, due) for cid, level, due in rows), key=lambda d: d.review_on)


def write_emergency_access(actor: User, number: str, justification: str) -> EmergencyAccess:
    """Write down a justified emergency access to a colleague's case, not yet effective.

    The grant starts and ends at the same moment until `open_grant` gives it its hours, at once
    or after a supervisor's approval (counsel.services.two_person.emergency_access decides which).
    """
    if len(justification.strip()) < MIN_JUSTIFICATION:
        raise SafetyError(_l("Write down why the client is in danger and the owner cannot be reached "
                             "(at least %(n)d characters).", n=MIN_JUSTIFICATION))
    case = db.session.scalars(select(Case).where(Case.number == number.strip().upper())).first()
    if case is None or case.site_id != actor.site_id or not actor.has_role(Role.ADVISER):
        raise SafetyError(_l("There is no case with this number at your site."))
    if case.owner_id == actor.id:
        raise SafetyError(_l("You hold this case yourself."))
    now = utcnow()
    grant = EmergencyAccess(id=uuid.uuid4(), case=case, case_id=case.id, user_id=actor.id, user=actor,
                            granted_at=now, expires_at=now)
    grant.justification = justification.strip()
    db.session.add(grant)
    return grant


def emergency_needs_approval(actor: User) -> bool:
    """A second open emergency access, a fourth in 30 days, or any by an account younger than 30 days waits.

    The limit counts per account, so a new account (an admin can make one alone) must not start
    with a fresh allowance: its emergencies wait for a coordinator's approval.
    """
    now = utcnow()
    if actor.created_at > now - EMERGENCY_WINDOW:
        return True
    effective = EmergencyAccess.expires_at > EmergencyAccess.granted_at
    mine = select(func.count()).select_from(EmergencyAccess).where(EmergencyAccess.user_id == actor.id, effective)
    open_grants = db.session.scalar(mine.where(EmergencyAccess.expires_at > now)) or 0
    recent = db.session.scalar(mine.where(EmergencyAccess.granted_at > now - EMERGENCY_WINDOW)) or 0
    return open_grants >= 1 or recent >= EMERGENCIES_WITHOUT_APPROVAL


def open_grant(grant: EmergencyAccess, approved_by: str = "") -> None:
    """Give a written grant its hours from now, audit it and tell the owner and the site's supervisors."""
    now = utcnow()
    grant.granted_at = now
    grant.expires_at = now + timedelta(hours=EMERGENCY_HOURS)
    detail = f"hours={EMERGENCY_HOURS}" + (f" approved_by={approved_by}" if approved_by else "")
    audit.record("emergency_access", actor=grant.user, case=grant.case, detail=detail)
    for recipient in _emergency_recipients(grant.case, grant.user):
        # created_at = granted_at ties the message to its grant (see notifications_for).
        db.session.add(Notification(user_id=recipient.id, kind="emergency_access", case_number=grant.case.number,
                                    case_id=grant.case_id, actor_name=grant.user.display_name, created_at=now))


def end_emergency_access(user: User) -> None:
    """End her running emergency accesses now (she left the site or the adviser role, or was deactivated)."""
    now = utcnow()
    db.session.execute(update(EmergencyAccess).where(EmergencyAccess.user_id == user.id,
                                                     EmergencyAccess.expires_at > now,
                                                     EmergencyAccess.expires_at > EmergencyAccess.granted_at)
                       .values(expires_at=now).execution_options(synchronize_session=False))


def supervisors_of(site_id: int) -> list[User]:
    """Every active supervisor of a site: by home site or by supervision scope."""
    scoped = select(SupervisionScope.user_id).where(SupervisionScope.site_id == site_id)
    return list(db.session.scalars(
        select(User).join(UserRole, UserRole.user_id == User.id)
        .where(UserRole.role == Role.SUPERVISOR.value, User.active.is_(True),
               (User.site_id == site_id) | User.id.in_(scoped))
    ))


def _emergency_recipients(case: Case, actor: User) -> list[User]:
    """The owner, and every active supervisor of the case's site."""
    people = {case.owner_id: case.owner, **{u.id: u for u in supervisors_of(case.site_id)}}
    people.pop(actor.id, None)
    return list(people.values())


def record_view(actor: User, case: Case, page: str) -> None:
    """Record that she saw a page of the case, marked while she holds emergency access to it.

    The mark goes on every view during a running grant, so the owner can tell what was read
    under the emergency; the page is named, its content never.
    """
    marks = [page] if page else []
    if emergency_grant(actor, case) is not None:
        marks.append(EMERGENCY_MARK)
    audit.record("case_viewed", actor=actor, case=case, detail=", ".join(marks))


def is_emergency_view(action: str, detail: str | None) -> bool:
    """Tell whether an audit event is a view made under emergency access (for the access log)."""
    return action == "case_viewed" and EMERGENCY_MARK in (detail or "").split(", ")


def emergency_accesses_shown_to(actor: User, case: Case) -> list[EmergencyAccess]:
    """The emergency accesses to a case with their justifications, for its owner only.

    She answers for her client and must be able to judge each intrusion; a colleague the case
    is shared with, or the one who opened it, gets nothing here, and supervisors and admins
    never reach a case page at all.
    """
    if not _owns(actor, case):
        return []
    return list(db.session.scalars(select(EmergencyAccess).where(EmergencyAccess.case_id == case.id)
                                   .order_by(EmergencyAccess.granted_at.desc())))


def _owns(user: User, case: Case) -> bool:
    return case.owner_id == user.id and allows(user, case, Permission.READ)


@dataclass(frozen=True)
class Message:
    """A notification as its reader may see it.

    Everyone told of an emergency access learns the case number, who, when and until when;
    only the case's owner also gets `case_id`, the way to the justification on the case's
    access log. Supervisors see no case content, so they never get it.
    """

    id: int
    kind: str
    case_number: str | None
    actor_name: str
    created_at: datetime
    read_at: datetime | None
    until: datetime | None = None
    case_id: uuid.UUID | None = None
    request: ChangeRequest | None = None


def notifications_for(user: User) -> list[Message]:
    """Her latest messages, each with what she may learn of it."""
    items = list(db.session.scalars(select(Notification).where(Notification.user_id == user.id)
                                    .order_by(Notification.created_at.desc()).limit(100)))
    case_ids = {item.case_id for item in items if item.kind == "emergency_access"}
    grants = {(g.case_id, g.granted_at): g for g in db.session.scalars(
        select(EmergencyAccess).where(EmergencyAccess.case_id.in_(case_ids)))} if case_ids else {}
    request_ids = {item.request_id for item in items if item.request_id}
    changes = {change.id: change for change in db.session.scalars(
        select(ChangeRequest).where(ChangeRequest.id.in_(request_ids)))} if request_ids else {}
    messages = []
    for item in items:
        grant = grants.get((item.case_id, item.created_at)) if item.case_id else None
        way = grant.case_id if grant and _owns(user, grant.case) else None
        messages.append(Message(item.id, item.kind, item.case_number, item.actor_name, item.created_at,
                                item.read_at, grant.expires_at if grant else None, way,
                                changes.get(item.request_id) if item.request_id else None))
    return messages


def unread_count(user: User) -> int:
    return int(db.session.scalar(select(func.count()).select_from(Notification)
                                 .where(Notification.user_id == user.id, Notification.read_at.is_(None))) or 0)


def mark_read(user: User, newest: int) -> None:
    """Mark her messages read up to the newest she was shown; one that came in since stays unread."""
    db.session.execute(update(Notification).where(Notification.user_id == user.id, Notification.id <= newest,
                                                  Notification.read_at.is_(None))
                       .values(read_at=utcnow()))


def perpetrators_of(case: Case) -> list[Perpetrator]:
    return list(db.session.scalars(select(Perpetrator).where(Perpetrator.case_id == case.id)
                                   .order_by(Perpetrator.created_at)))


def emergency_grant(user: User, case: Case) -> EmergencyAccess | None:
    """Her running emergency access to a case she does not hold, if any (shown as a banner)."""
    return db.session.scalars(select(EmergencyAccess).where(
        EmergencyAccess.user_id == user.id, EmergencyAccess.case_id == case.id,
        EmergencyAccess.expires_at > utcnow()).order_by(EmergencyAccess.expires_at.desc())).first()
