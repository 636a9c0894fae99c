"""The audit trail for admins: browse, filter and verify who did what, when and from where.

The trail holds metadata only (never case content), yet it reveals who worked on which case
number, so reading it is itself recorded in the trail.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from flask import Blueprint, current_app, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import format_datetime, get_timezone, to_utc
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.exc import IntegrityError
from wtforms import SelectChoice

from counsel import audit
from counsel.access import manages_accounts
from counsel.admin_audit.forms import AuditFilterForm
from counsel.audit_actions import action_label
from counsel.clock import utcnow
from counsel.extensions import db
from counsel.models.audit import AuditEvent
from counsel.models.user import User
from counsel.security import admit, settings

bp = Blueprint("admin_audit", __name__, url_prefix="/admin/audit")
bp.before_request(admit(manages_accounts))

PER_PAGE = 50
FILTERS = ("action", "actor", "case_number", "date_from", "date_to", "ip")

# Human labels of the action codes the code base records; an unknown code is shown as it is.
PROBLEMS: dict[str, Any] = {
    "missing": _l("Event %(seq)s is missing: it was deleted or its number was changed."),
    "changed": _l("Event %(seq)s does not match its seal: it was changed, inserted or moved."),
    "head": _l("The chain head does not match the last event: events at the end were deleted or added, or the "
               "head was changed, outside the application."),
    "head_missing": _l("The chain head is missing: it was deleted outside the application."),
    "checkpoint": _l("Event %(seq)s differs from the checkpoint written outside the database: the trail was "
                     "rewritten after that checkpoint."),
    "cut": _l("Events %(seq)s to %(last)s are missing: a checkpoint saw event %(last)s, the database ends at "
              "event %(checked)s. The end of the trail was cut off."),
    "checkpoint_file": _l("The checkpoint file cannot be read, so a cut-off end cannot be ruled out."),
}


@dataclass(frozen=True)
class EventRow:
    seq: int
    when: str
    iso: str
    actor: str
    action: str
    case_number: str
    target: str
    ip: str
    detail: str


@dataclass(frozen=True)
class PageLink:
    number: int | None  # None marks a gap between page numbers
    url: str
    current: bool


@dataclass(frozen=True)
class Pager:
    links: list[PageLink]
    previous: str | None
    next: str | None


def _accounts() -> dict[uuid.UUID, tuple[str, str]]:
    rows = db.session.execute(select(User.id, User.display_name, User.username).order_by(User.display_name))
    return {row.id: (row.display_name, row.username) for row in rows}


def _prepare(filters: AuditFilterForm, accounts: dict[uuid.UUID, tuple[str, str]]) -> None:
    actions = db.session.scalars(select(AuditEvent.action).distinct()).all()
    filters.action.choices = [SelectChoice("", _("all actions"))] + sorted(
        (SelectChoice(code, action_label(code)) for code in actions), key=lambda choice: str(choice.label).casefold())
    filters.actor.choices = [SelectChoice("", _("all accounts"))] + [
        SelectChoice(str(user_id), f"{name} ({username})") for user_id, (name, username) in accounts.items()]


def _start_of(day: date) -> datetime:
    """Turn a day in the interface's time zone into the naive UTC instant the trail stores."""
    start: datetime = to_utc(datetime.combine(day, time.min))
    return start


def _conditions(filters: AuditFilterForm) -> list[ColumnElement[bool]]:
    """Turn the filter fields into WHERE clauses; a field with an error is left out."""
    def value(name: str) -> Any:
        field = filters[name]
        return None if field.errors or not field.data else field.data

    conditions: list[ColumnElement[bool]] = []
    if value("action"):
        conditions.append(AuditEvent.action == value("action"))
    if value("actor"):
        conditions.append(AuditEvent.actor_id == uuid.UUID(value("actor")))
    if value("case_number"):
        conditions.append(func.upper(AuditEvent.case_number) == value("case_number").upper())
    if value("date_from"):
        conditions.append(AuditEvent.at >= _start_of(value("date_from")))
    if value("date_to"):
        conditions.append(AuditEvent.at < _start_of(value("date_to") + timedelta(days=1)))
    if value("ip"):
        conditions.append(AuditEvent.ip.startswith(value("ip").lower(), autoescape=True))
    return conditions


def _summary(filters: AuditFilterForm, accounts: dict[uuid.UUID, tuple[str, str]], page: int) -> str:
    """Describe what was looked at, for the trail's own record (the filters, never any content)."""
    parts = []
    for name in FILTERS:
        field = filters[name]
        if field.data and not field.errors:
            shown = field.data.isoformat() if isinstance(field.data, date) else str(field.data)
            if name == "actor":
                shown = accounts.get(uuid.UUID(shown), ("", shown))[1]
            parts.append(f"{name}={shown}")
    parts.append(f"page={page}")
    return " ".join(parts)


def _rows(events: list[AuditEvent], accounts: dict[uuid.UUID, tuple[str, str]]) -> list[EventRow]:
    def person(user_id: uuid.UUID | None, fallback: str) -> str:
        if user_id is None:
            return fallback
        return accounts[user_id][0] if user_id in accounts else fallback or _("unknown account")

    return [
        EventRow(seq=event.seq, when=format_datetime(event.at), iso=event.at.isoformat() + "Z",
                 actor=person(event.actor_id, event.actor_name), action=action_label(event.action),
                 case_number=event.case_number or "", target=person(event.target_user_id, ""),
                 ip=event.ip or "", detail=event.detail or "")
        for event in events
    ]


def _record(action: str, detail: str) -> bool:
    """Record the admin's look at the trail; a chain whose head was tampered with may refuse it.

    The pages stay usable then, because they are how the damage is examined; they say that this
    look went unrecorded.
    """
    try:
        audit.record(action, actor=current_user, detail=detail)
        db.session.commit()
    except IntegrityError as exc:
        db.session.rollback()
        current_app.logger.error("audit event %s could not be written: %s", action, type(exc).__name__)
        return False
    return True


def _pager(page: int, pages: int, args: dict[str, Any]) -> Pager | None:
    """Link the first, the last and the pages near the current one, with gaps between."""
    if pages < 2:
        return None

    def url(number: int) -> str:
        return url_for("admin_audit.index", **args, page=number)

    links: list[PageLink] = []
    for number in sorted({1, pages, *range(max(1, page - 2), min(pages, page + 2) + 1)}):
        if links and links[-1].number is not None and number - links[-1].number > 1:
            links.append(PageLink(None, "", False))
        links.append(PageLink(number, url(number), number == page))
    return Pager(links, url(page - 1) if page > 1 else None, url(page + 1) if page < pages else None)


@bp.get("/")
def index() -> ResponseReturnValue:
    accounts = _accounts()
    filters = AuditFilterForm(request.args)
    _prepare(filters, accounts)
    filtered = any(request.args.get(name) for name in FILTERS)
    # A filter that is not valid shows nothing rather than everything: the field says why.
    valid = filters.validate() if filtered else True
    conditions = _conditions(filters)
    total = (db.session.scalar(select(func.count()).select_from(AuditEvent).where(*conditions)) or 0) if valid else 0
    pages = max(1, -(-total // PER_PAGE))
    page = min(max(request.args.get("page", 1, type=int) or 1, 1), pages)
    events = db.session.scalars(select(AuditEvent).where(*conditions).order_by(AuditEvent.seq.desc())
                                .limit(PER_PAGE).offset((page - 1) * PER_PAGE)).all() if total else []
    args: dict[str, Any] = {name: request.args[name] for name in FILTERS if request.args.get(name)}
    rows = _rows(list(events), accounts)
    recorded = _record("audit_viewed", _summary(filters, accounts, page))
    return render_template("admin_audit/list.html", filters=filters, rows=rows, total=total, page=page,
                           pages=pages, pager=_pager(page, pages, args), filtered=filtered,
                           zone=str(get_timezone()), recorded=recorded)


@bp.get("/verify")
def verify() -> ResponseReturnValue:
    path = settings().checkpoint_path
    result = audit.verify_chain(path)
    explanation = ""
    if not result.ok:
        template = PROBLEMS.get(result.kind)
        explanation = str(template) % {"seq": result.first_broken, "checked": result.checked,
                                       "last": result.last_checkpoint} if template is not None else ""
    stored = db.session.get(AuditEvent, result.first_broken) if result.first_broken else None
    broken_rows = _rows([stored], _accounts()) if stored is not None else []
    recorded = _record("audit_verified", f"intact events={result.checked}" if result.ok
                       else f"broken at={result.first_broken} {result.kind}")
    return render_template("admin_audit/verify.html", result=result, explanation=explanation,
                           broken_rows=broken_rows, has_checkpoints=path.exists(),
                           checked_at=format_datetime(utcnow()), zone=str(get_timezone()), recorded=recorded)
