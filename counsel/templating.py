"""Helpers every template may call: navigation by role, language names, session timing."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from babel import Locale
from flask import Flask, current_app, request, url_for
from flask_babel import format_date, get_locale
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from counsel import codes
from counsel.access import may_decide, may_decide_erasure
from counsel.audit_actions import action_label
from counsel.clock import today
from counsel.crypto import UnreadableField
from counsel.i18n import ROLE_LABELS, language_name
from counsel.languages import picker_options
from counsel.models.change_request import RequestKind
from counsel.models.user import Role
from counsel.security import settings
from counsel.services import safety


@dataclass(frozen=True)
class NavItem:
    label: Any
    url: str
    current: bool


# (endpoint, label, role that sees it); a user sees the items of all her roles.
NAVIGATION: list[tuple[str, Any, Role | None]] = [
    ("main.index", _l("Start"), None),
    ("cases.index", _l("Cases"), Role.ADVISER),
    ("reports.index", _l("Statistics"), Role.SUPERVISOR),
    ("admin.users", _l("Accounts"), Role.ADMIN),
    ("admin.sites", _l("Sites"), Role.ADMIN),
    ("admin.transfers", _l("Hand over cases"), Role.ADMIN),
    ("admin_audit.index", _l("Audit trail"), Role.ADMIN),
    ("confirmations.index", _l("Requests"), Role.ADMIN),
    ("confirmations.index", _l("Requests"), Role.SUPERVISOR),
    ("erasures.index", _l("Erasures"), Role.ADMIN),
    ("erasures.index", _l("Erasures"), Role.SUPERVISOR),
    ("admin.retention_overview", _l("Retention"), Role.ADMIN),
]


def main_navigation() -> list[NavItem]:
    items: dict[str, NavItem] = {}
    for endpoint, label, role in NAVIGATION:
        if endpoint not in items and (role is None or current_user.has_role(role)):
            url = url_for(endpoint)
            items[endpoint] = NavItem(label, url, request.path == url)
    return list(items.values())


def role_names(roles: Iterable[Role]) -> str:
    return ", ".join(str(ROLE_LABELS[role]) for role in sorted(roles))


def readable(record: Any, field: str) -> str | None:
    """Show a decrypted field in a list; an unreadable one says so for that record instead of failing the page."""
    try:
        value: str | None = getattr(record, field)
    except UnreadableField as exc:
        current_app.logger.error("unreadable record in a list: %s", exc)
        return str(_l("⚠ unreadable (%(record)s)", record=getattr(record, "number", exc.row_id)))
    return value


def code_label(table: str, code: str | None) -> str:
    return codes.label(getattr(codes, table), code)


def code_labels(table: str, values: Iterable[str]) -> str:
    mapping = getattr(codes, table)
    return ", ".join(codes.label(mapping, code) for code in mapping if code in set(values))


def country_name(code: str | None) -> str:
    if not code:
        return "–"
    return str(Locale.parse(str(get_locale() or "de")).territories.get(code, code))


def month(value: date | None) -> str:
    return "" if value is None else str(format_date(value, "MMMM yyyy"))


def isodate(value: date | str | None) -> str:
    if not value:
        return ""
    day = date.fromisoformat(value) if isinstance(value, str) else value
    return str(format_date(day, "medium"))


def init_app(app: Flask) -> None:
    app.jinja_env.filters["month"] = month
    app.jinja_env.filters["isodate"] = isodate
    app.jinja_env.filters["action_label"] = action_label

    @app.context_processor
    def helpers() -> dict[str, Any]:
        return {
            "readable": readable,
            "unread_notifications": lambda: safety.unread_count(current_user),
            "code_label": code_label,
            "code_labels": code_labels,
            "country_name": country_name,
            "risky_interpreting": codes.RISKY_INTERPRETING,
            "today": today,
            "language_options": lambda: picker_options(str(get_locale() or "de")),
            "current_locale": lambda: str(get_locale() or "de"),
            "idle_seconds": lambda: settings().session_idle_minutes * 60,
            "main_navigation": main_navigation,
            "may_decide": lambda change: (may_decide_erasure if change.kind == RequestKind.ERASURE.value
                                          else may_decide)(current_user, change),
            "role_names": role_names,
            "language_name": language_name,
        }
