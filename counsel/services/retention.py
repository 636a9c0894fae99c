"""Retention: which closed cases are due for erasure, legal holds that keep one, and the purge.

A closed case is kept `retention_months` after the day it was closed (the installation's
setting, or a site's longer period), then erased by `counsel retention purge`, unless a legal
hold keeps it. 0 months means a case is erased once it is closed. The period runs from the day,
not the month: a case closed one day too recently for the purge stays until its day comes.
"""

from __future__ import annotations

import calendar
import uuid
from dataclasses import dataclass
from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from counsel import audit
from counsel.access import may_keep_or_erase
from counsel.clock import utcnow
from counsel.errors import CounselError, NotPermitted
from counsel.extensions import db
from counsel.models.case import Case
from counsel.models.retention import LegalHold
from counsel.models.site import Site
from counsel.models.user import User
from counsel.services import erasure
from counsel.settings import Settings

REASON_LENGTH = 500


class HoldError(CounselError):
    """The legal hold cannot be set or ended so; the message says why."""


@dataclass(frozen=True)
class Due:
    """A case the purge would erase, and why: closed on a day, kept so many months, due since."""

    case_id: uuid.UUID
    number: str
    site: str
    closed_on: date
    months: int
    due_since: date


@dataclass(frozen=True)
class Held:
    """A closed case a legal hold keeps: who set the hold and when (never why: that is case content)."""

    number: str
    site: str
    closed_on: date | None
    set_by: str
    set_at: datetime


def add_months(day: date, months: int) -> date:
    """The same day so many months later; the month's last day where it has no such day (31 Jan + 1 = 28/29 Feb)."""
    year, month = divmod(day.year * 12 + day.month - 1 + months, 12)
    month += 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def months_for(settings: Settings, site: Site) -> int:
    """The site's period where it is longer than the installation's; never shorter."""
    return max(settings.retention_months, site.retention_months or 0)


def due(settings: Settings, on: date) -> list[Due]:
    """Every closed case without a legal hold whose retention period has ended by the day, by number."""
    held = select(LegalHold.case_id)
    query = (select(Case.id, Case.number, Case.closed_on, Site).join(Site, Site.id == Case.site_id)
             .where(Case.status == "closed", Case.closed_on.is_not(None), Case.id.not_in(held))
             .order_by(Case.number))
    found = []
    for case_id, number, closed_on, site in db.session.execute(query).tuples():
        if closed_on is None:
            continue
        months = months_for(settings, site)
        since = add_months(closed_on, months)
        if since <= on:
            found.append(Due(case_id, number, site.code, closed_on, months, since))
    return found


def held_cases() -> list[Held]:
    """Closed cases kept by a legal hold, by number."""
    query = (select(Case.number, Site.code, Case.closed_on, User.display_name, LegalHold.set_at)
             .join(LegalHold, LegalHold.case_id == Case.id).join(Site, Site.id == Case.site_id)
             .join(User, User.id == LegalHold.set_by_id).where(Case.status == "closed").order_by(Case.number))
    return [Held(*row) for row in db.session.execute(query).tuples()]


def purge(settings: Settings, on: date) -> list[str]:
    """Erase every case due on the day, each in its own transaction; return their numbers. It commits.

    Each case is checked again under its row lock: one reopened or put on hold meanwhile stays.
    """
    erased = []
    for item in due(settings, on):
        db.session.execute(select(Case.id).where(Case.id == item.case_id).with_for_update())
        case = db.session.get(Case, item.case_id, populate_existing=True)
        if (case is None or case.status != "closed" or case.closed_on != item.closed_on
                or case.legal_hold is not None):
            db.session.rollback()
            continue
        erased.append(erasure.erase(case, cause=erasure.RETENTION, detail=f"months={item.months}"))
        db.session.commit()
    return erased


def set_hold(actor: User, case: Case, reason: str) -> LegalHold:
    """Keep the case past its retention period, for a stated reason (encrypted with the case)."""
    if not may_keep_or_erase(actor, case):
        raise NotPermitted(_l("Only the adviser who holds the case sets or ends a legal hold."))
    if not reason.strip():
        raise HoldError(_l("Say why the case must be kept (for example the court proceedings)."))
    if case.legal_hold is not None:
        raise HoldError(_l("The case is under a legal hold already."))
    hold = LegalHold(id=uuid.uuid4(), case=case, case_id=case.id, set_by_id=actor.id, set_at=utcnow())
    hold.reason = reason.strip()[:REASON_LENGTH]
    db.session.add(hold)
    audit.record("legal_hold_set", actor=actor, case=case)
    return hold


def end_hold(actor: User, case: Case) -> None:
    """End the legal hold: from now on the case is kept only for its retention period."""
    if not may_keep_or_erase(actor, case):
        raise NotPermitted(_l("Only the adviser who holds the case sets or ends a legal hold."))
    hold = case.legal_hold
    if hold is None:
        raise HoldError(_l("The case is not under a legal hold."))
    case.legal_hold = None
    audit.record("legal_hold_ended", actor=actor, case=case, detail=f"set_by={hold.set_by.username}")


def set_site_months(site: Site, months: int | None, actor_name: str = audit.OPERATOR) -> None:
    """Keep a site's closed cases longer than the installation does; None keeps them as long as it does."""
    if months is not None and months < 0:
        raise HoldError(_l("A retention period is 0 months or more."))
    site.retention_months = months
    audit.record("site_retention_changed", actor_name=actor_name,
                 detail=f"{site.code} months={'default' if months is None else months}")
